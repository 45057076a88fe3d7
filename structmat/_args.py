"""Integer arguments (private): one check, one convention, one message shape.

Sizes, ranks, operator exponents and the projections' counts are checked
here (shape pairs and ``nblocks`` keep their own parsers, which also accept
pairs): a non-integer (``bool`` included: ``True`` is no size) raises
``TypeError``, an integer below the bound raises ``ValueError``, as NumPy and
Python do (``range(1.5)``, ``np.zeros(-1)``). The message names the function,
the argument, what was expected and what came.
"""

from __future__ import annotations

import numbers
from typing import Any


def integer(value: Any, name: str, what: str, low: int = 1) -> int:
    """``value`` as a Python ``int >= low``.

    >>> integer(3, "n", "DFT")
    3
    >>> integer(1.5, "rank", "Monarch.project")
    Traceback (most recent call last):
    ...
    TypeError: Monarch.project: rank must be an integer >= 1, got float 1.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f"{what}: {name} must be an integer >= {low}, got {type(value).__name__} {value!r}"
        raise TypeError(msg)
    if value < low:
        msg = f"{what}: {name} must be an integer >= {low}, got {value!r}"
        raise ValueError(msg)
    return int(value)


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for integers, exactly (no float division)."""
    return -(-a // b)

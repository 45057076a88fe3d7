"""Integer arguments (private): one check, one convention, one message shape.

Sizes, ranks, operator exponents, the projections' counts, shape pairs
and ``nblocks`` (an integer or a pair) are checked here: a non-integer
(``bool`` included: ``True`` is no size; ``2.0`` and ``'4'`` neither) raises
``TypeError``, an integer below the bound or a pair of the wrong length
raises ``ValueError``, as NumPy and Python do (``range(1.5)``,
``np.zeros(-1)``). The message names the function, the argument, what was
expected and what came. Integers are never truncated: ``3.7`` is refused,
not read as 3.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
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


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _pair(value: Any, name: str, what: str, expected: str) -> tuple[Any, Any]:
    """The two entries of a length-2 sequence (not a string); else TypeError/ValueError."""
    if type(value).__name__ == "ndarray" and getattr(value, "ndim", 0) == 1:
        value = value.tolist()  # a NumPy index pair: its entries as Python numbers
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        msg = f"{what}: {name} must be {expected}, got {type(value).__name__} {value!r}"
        raise TypeError(msg)
    if len(value) != 2:
        msg = f"{what}: {name} must be {expected}, got {len(value)} entries {tuple(value)!r}"
        raise ValueError(msg)
    return value[0], value[1]


def shape_pair(value: Any, name: str, what: str, low: int = 1) -> tuple[int, int]:
    """``value`` as a pair ``(m, n)`` of Python ints ``>= low``.

    >>> shape_pair((3, 4), "shape", "Monarch")
    (3, 4)
    >>> shape_pair((3.7, 4), "shape", "Monarch")
    Traceback (most recent call last):
    ...
    TypeError: Monarch: shape must be a pair of integers >= 1, got (3.7, 4) (float 3.7 is no integer)
    """
    expected = f"a pair of integers >= {low}"
    pair = _pair(value, name, what, expected)
    for v in pair:
        if not _is_integer(v):
            msg = f"{what}: {name} must be {expected}, got {tuple(value)!r} ({type(v).__name__} {v!r} is no integer)"
            raise TypeError(msg)
    if min(pair) < low:
        msg = f"{what}: {name} must be {expected}, got {tuple(value)!r}"
        raise ValueError(msg)
    return int(pair[0]), int(pair[1])


def int_or_pair(value: Any, name: str, what: str) -> tuple[int, int]:
    """``(K, J)`` from an integer (``K = J``) or a pair of integers; the range is the caller's.

    The callers check the range against their matrix (``nblocks`` must tile
    it), so that message can name the sizes.

    >>> int_or_pair(4, "nblocks", "Monarch.random"), int_or_pair((2, 3), "nblocks", "Monarch")
    ((4, 4), (2, 3))
    >>> int_or_pair("44", "nblocks", "Monarch")
    Traceback (most recent call last):
    ...
    TypeError: Monarch: nblocks must be an integer or a pair (K, J) of integers, got str '44'
    """
    expected = "an integer or a pair (K, J) of integers"
    if _is_integer(value):
        return int(value), int(value)
    if isinstance(value, bool) or isinstance(value, numbers.Number):
        msg = f"{what}: {name} must be {expected}, got {type(value).__name__} {value!r}"
        raise TypeError(msg)
    pair = _pair(value, name, what, expected)
    for v in pair:
        if not _is_integer(v):
            msg = f"{what}: {name} must be {expected}, got {tuple(value)!r} ({type(v).__name__} {v!r} is no integer)"
            raise TypeError(msg)
    return int(pair[0]), int(pair[1])


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for integers, exactly (no float division)."""
    return -(-a // b)

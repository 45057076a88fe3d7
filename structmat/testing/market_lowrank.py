"""Operator market entries for the low-rank family (see ``structmat.testing``).

``MARKET`` maps a name to a factory ``f(xp)`` returning a Hypothesis strategy
of small (sides <= 64) random :class:`~structmat.lowrank.LowRank` operators in
namespace ``xp``: with and without weights ``s``, their adjoints,
transposes, sums (concatenated factors) and scalar multiples, in float32,
float64, complex64 and complex128.

Examples
--------
>>> import numpy as np
>>> from hypothesis import given, settings
>>> from structmat.testing.market_lowrank import MARKET
>>> @settings(max_examples=5, database=None)
... @given(MARKET["lowrank"](np))
... def check(op):
...     assert op.rank <= min(op.shape)
>>> check()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from structmat import _array_api as aa
from structmat.linop import LinearOperator
from structmat.lowrank import LowRank

__all__ = ["MARKET", "lowranks"]

DTYPES = ("float32", "float64", "complex64", "complex128")


def _array(xp: Any, rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> Any:
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return xp.asarray(a.astype(dtype))


def lowranks(
    xp: Any, dtype: str | None = None, shape: tuple[int, int] | None = None
) -> st.SearchStrategy[LowRank]:
    """Random ``LowRank`` operators in ``xp`` (dtype and shape drawn unless given)."""
    xp = aa.default_namespace(xp)

    @st.composite
    def build(draw: Any) -> LowRank:
        m, n = shape or (draw(st.integers(1, 64)), draw(st.integers(1, 64)))
        r = draw(st.integers(1, min(m, n, 8)))
        name = dtype or draw(st.sampled_from(DTYPES))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        U, V = _array(xp, rng, (m, r), name), _array(xp, rng, (n, r), name)
        s = _array(xp, rng, (r,), name) if draw(st.booleans()) else None
        return LowRank(U, V, s)

    return build()


def _sums(xp: Any) -> st.SearchStrategy[LinearOperator]:
    @st.composite
    def build(draw: Any) -> LinearOperator:
        a = draw(lowranks(xp))
        name = aa.dtype_name(a.dtype)
        b = draw(lowranks(xp, dtype=name, shape=a.shape))
        c = draw(st.sampled_from([2.0, -0.5, 1.5j])) if name.startswith("complex") else -0.5
        return a + c * b - b

    return build()


MARKET: dict[str, Callable[[Any], st.SearchStrategy[LinearOperator]]] = {
    "lowrank": lowranks,
    "lowrank_adjoint": lambda xp: lowranks(xp).map(lambda A: A.H),
    "lowrank_transpose": lambda xp: lowranks(xp).map(lambda A: A.T),
    "lowrank_sum": _sums,
}

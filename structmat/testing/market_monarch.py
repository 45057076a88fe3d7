"""Operator market entries for the Monarch family (see ``structmat.testing``).

``MARKET`` maps a name to a factory ``f(xp)`` returning a Hypothesis strategy
of small (sides <= 64) random operators in namespace ``xp``: general Monarchs
over every factor layout (any ``K, J, p, s, r``, padded and truncated shapes),
their adjoints (class M*), transposes, and products (classes MM*, M*M).
Dtypes cover float32, float64, complex64 and complex128.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from structmat.linop import LinearOperator
from structmat.monarch import Monarch

__all__ = ["MARKET", "monarch_factors", "monarchs"]

DTYPES = ("float32", "float64", "complex64", "complex128")


@st.composite
def monarch_factors(
    draw: Any, *, max_blocks: int = 5, max_block: int = 5, max_rank: int = 3
) -> dict[str, Any]:
    """NumPy factors ``L, R`` (float64/complex128) and a valid ``shape``."""
    K = draw(st.integers(1, max_blocks))
    J = draw(st.integers(1, max_blocks))
    p = draw(st.integers(1, max_block))
    s = draw(st.integers(1, max_block))
    r = draw(st.integers(1, max_rank))
    # truncation / padding keep ceil(m / J) == s and ceil(n / K) == p
    m = draw(st.integers(J * (s - 1) + 1, s * J))
    n = draw(st.integers(K * (p - 1) + 1, K * p))
    complex_ = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    L = rng.standard_normal((J, s, K * r))
    R = rng.standard_normal((K, r * J, p))
    if complex_:
        L = L + 1j * rng.standard_normal(L.shape)
        R = R + 1j * rng.standard_normal(R.shape)
    return {"L": L, "R": R, "shape": (m, n)}


def monarchs(xp: Any, dtype: str | None = None) -> st.SearchStrategy[Monarch]:
    """Random ``Monarch`` operators in ``xp`` (dtype drawn unless given)."""

    @st.composite
    def build(draw: Any) -> Monarch:
        f = draw(monarch_factors())
        name = dtype or draw(st.sampled_from(DTYPES))
        L, R = f["L"], f["R"]
        if name.startswith("float"):
            L, R = L.real, R.real
        dt = getattr(xp, name)
        return Monarch(xp.asarray(L, dtype=dt), xp.asarray(R, dtype=dt), shape=f["shape"])

    return build()


def _adjoints(xp: Any) -> st.SearchStrategy[LinearOperator]:
    return monarchs(xp).map(lambda M: M.H)


def _transposes(xp: Any) -> st.SearchStrategy[LinearOperator]:
    return monarchs(xp).map(lambda M: M.T)


def _mm_star(xp: Any) -> st.SearchStrategy[LinearOperator]:
    """``M1 @ M2.H`` (class MM*): M2 shares M1's input length as its output length."""

    @st.composite
    def build(draw: Any) -> LinearOperator:
        M1 = draw(monarchs(xp))
        n = M1.shape[1]
        c = draw(st.integers(1, 20))
        K = draw(st.integers(1, min(5, n)))
        J = draw(st.integers(1, min(5, c)))
        # a rank up to 2, within the slice rank min(s, p)
        r = draw(st.integers(1, min(2, -(-c // J), -(-n // K))))
        seed = draw(st.integers(0, 2**32 - 1))
        M2 = Monarch.random((c, n), nblocks=(K, J), rank=r, seed=seed, dtype=M1.dtype, xp=xp)
        return M1 @ M2.H

    return build()


MARKET: dict[str, Callable[[Any], st.SearchStrategy[LinearOperator]]] = {
    "monarch": monarchs,
    "monarch_adjoint": _adjoints,
    "monarch_transpose": _transposes,
    "monarch_mm_star": _mm_star,
}

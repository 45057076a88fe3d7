"""Operator market for the inverses that are operators of their own: Butterfly, Dense, Toeplitz.

``MARKET`` maps a name to a factory that takes an array namespace ``xp`` and
returns a Hypothesis strategy of small, well-conditioned invertible
operators' inverses in ``xp``, in float32, float64, complex64 and
complex128:

- ``"butterfly_inverse"``: ``Butterfly(tw).inverse()`` of size 2 … 16,
  radix 2 or mixed radix, either stride order, blocks ``I + noise``;
- ``"dense_inverse"``: ``Dense(A).inverse()`` (lazy LU on NumPy) of side
  1 … 8, ``A = 2 I + G / sqrt(n)``;
- ``"toeplitz_inverse"``: ``Toeplitz(c, r).inverse()`` (Levinson on NumPy)
  of side 1 … 16, diagonally dominant.

Examples
--------
>>> import numpy as np
>>> from hypothesis import given, settings
>>> from structmat.testing.market_inverse import MARKET
>>> from structmat.testing import to_numpy
>>> @settings(max_examples=5, database=None)
... @given(MARKET["dense_inverse"](np))
... def check(op):
...     assert to_numpy(op.to_dense()).shape == op.shape
>>> check()
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from structmat import _array_api as aa
from structmat.basic import Dense
from structmat.butterfly import Butterfly
from structmat.convolution import Toeplitz
from structmat.linop import LinearOperator

__all__ = ["MARKET"]

_DTYPES = ["float32", "float64", "complex64", "complex128"]
_RADICES = [(2,), (2, 2), (3,), (2, 3), (3, 2), (2, 2, 2), (4, 2), (2, 2, 2, 2)]


def _noise(seed: int, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return a


def _butterfly(radices: tuple[int, ...], inc: bool, dtype: str, seed: int, xp: Any) -> Any:
    n = math.prod(radices)
    levels = [
        xp.asarray((np.eye(b) + 0.3 * _noise(seed + ell, (n // b, b, b), dtype)).astype(dtype))
        for ell, b in enumerate(radices)
    ]
    return Butterfly(levels, increasing_stride=inc).inverse()


def _butterflies(xp: Any) -> st.SearchStrategy[LinearOperator]:
    xp = aa.default_namespace(xp)
    return st.builds(
        lambda rad, inc, dtype, seed: _butterfly(rad, inc, dtype, seed, xp),
        st.sampled_from(_RADICES),
        st.booleans(),
        st.sampled_from(_DTYPES),
        st.integers(0, 2**32 - 1),
    )


def _dense(n: int, dtype: str, seed: int, xp: Any) -> LinearOperator:
    A = 2 * np.eye(n) + _noise(seed, (n, n), dtype) / math.sqrt(n)
    return Dense(xp.asarray(A.astype(dtype))).inverse()


def _denses(xp: Any) -> st.SearchStrategy[LinearOperator]:
    xp = aa.default_namespace(xp)
    return st.builds(
        lambda n, dtype, seed: _dense(n, dtype, seed, xp),
        st.integers(1, 8),
        st.sampled_from(_DTYPES),
        st.integers(0, 2**32 - 1),
    )


def _toeplitz(n: int, dtype: str, seed: int, xp: Any) -> LinearOperator:
    # off-diagonal sums below 1/2 of the unit diagonal: invertible, condition below 3
    c, r = (0.25 / n * _noise(seed + i, (n,), dtype) for i in (0, 1))
    c[0] = 1.0
    return Toeplitz(xp.asarray(c.astype(dtype)), xp.asarray(r.astype(dtype))).inverse()


def _toeplitzes(xp: Any) -> st.SearchStrategy[LinearOperator]:
    xp = aa.default_namespace(xp)
    return st.builds(
        lambda n, dtype, seed: _toeplitz(n, dtype, seed, xp),
        st.integers(1, 16),
        st.sampled_from(_DTYPES),
        st.integers(0, 2**32 - 1),
    )


MARKET: dict[str, Callable[[Any], Any]] = {
    "butterfly_inverse": _butterflies,
    "dense_inverse": _denses,
    "toeplitz_inverse": _toeplitzes,
}

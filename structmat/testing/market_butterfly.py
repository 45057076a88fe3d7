"""Operator market for butterflies and Kronecker-sparse factors.

``MARKET`` maps a name to a factory that takes an array namespace ``xp`` and
returns a Hypothesis strategy of small (at most 64 x 64) random operators in
``xp``, covering float32, float64, complex64 and complex128:

- ``"butterfly"``: ``Butterfly.random`` of size 2 … 64, increasing and
  decreasing stride, orthogonal and Gaussian twiddles;
- ``"kaleidoscope"``: ``B @ C.H`` of two butterflies (class ``BB*``);
- ``"ks_factor"``: ``KSFactor`` with patterns ``(a, b, c, d)`` of at most 64
  rows and columns;
- ``"ks_chain"``: ``KSChain.random`` of a mixed-radix or rectangular
  (``chainable``) chain of at most 36 rows and columns.

Examples
--------
>>> import numpy as np
>>> from hypothesis import given, settings
>>> from structmat.testing.market_butterfly import MARKET
>>> from structmat.testing import to_numpy
>>> @settings(max_examples=5, database=None)
... @given(MARKET["butterfly"](np))
... def check(op):
...     assert to_numpy(op.to_dense()).shape == op.shape
>>> check()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from structmat import _array_api as aa
from structmat.butterfly import Butterfly
from structmat.ks import KSChain, KSFactor, chainable, mixed_radix
from structmat.linop import LinearOperator

__all__ = ["MARKET"]

_DTYPES = ["float32", "float64", "complex64", "complex128"]


def _butterflies(xp: Any) -> st.SearchStrategy[LinearOperator]:
    xp = aa.default_namespace(xp)
    return st.builds(
        lambda L, inc, kind, dtype, seed: Butterfly.random(
            2**L, increasing_stride=inc, kind=kind, dtype=dtype, xp=xp, seed=seed
        ),
        st.integers(1, 6),
        st.booleans(),
        st.sampled_from(["orthogonal", "gaussian"]),
        st.sampled_from(_DTYPES),
        st.integers(0, 2**32 - 1),
    )


def _kaleidoscopes(xp: Any) -> st.SearchStrategy[LinearOperator]:
    xp = aa.default_namespace(xp)

    def build(L: int, dtype: str, seed: int) -> LinearOperator:
        B = Butterfly.random(2**L, kind="gaussian", dtype=dtype, xp=xp, seed=seed)
        C = Butterfly.random(2**L, kind="gaussian", dtype=dtype, xp=xp, seed=seed + 1)
        return B @ C.H

    return st.builds(build, st.integers(1, 5), st.sampled_from(_DTYPES), st.integers(0, 2**31 - 2))


@st.composite
def _ks_factor(draw: Any, xp: Any) -> LinearOperator:
    xp = aa.default_namespace(xp)
    a = draw(st.integers(1, 4))
    d = draw(st.integers(1, 4))
    b = draw(st.integers(1, max(64 // (a * d), 1)))
    c = draw(st.integers(1, max(64 // (a * d), 1)))
    dtype = draw(st.sampled_from(_DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    T = rng.standard_normal((a, b, c, d))
    if dtype.startswith("complex"):
        T = T + 1j * rng.standard_normal((a, b, c, d))
    return KSFactor(xp.asarray(T.astype(dtype)))


@st.composite
def _ks_chain(draw: Any, xp: Any) -> LinearOperator:
    xp = aa.default_namespace(xp)
    m = draw(st.integers(2, 36))
    n = draw(st.sampled_from([m, draw(st.integers(2, 36))]))
    patterns = mixed_radix(m) if m == n else chainable((m, n))
    dtype = draw(st.sampled_from(_DTYPES))
    seed = draw(st.integers(0, 2**32 - 1))
    return KSChain.random(patterns, dtype=dtype, xp=xp, seed=seed)


MARKET: dict[str, Callable[[Any], st.SearchStrategy[LinearOperator]]] = {
    "butterfly": _butterflies,
    "kaleidoscope": _kaleidoscopes,
    "ks_factor": lambda xp: _ks_factor(xp),
    "ks_chain": lambda xp: _ks_chain(xp),
}

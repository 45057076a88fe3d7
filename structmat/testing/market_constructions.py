"""Operator market for the exact constructions of :mod:`structmat.constructions`.

``MARKET`` maps a name to a factory that takes an array namespace ``xp`` and
returns a Hypothesis strategy of the composite operators the constructions
build (products of Monarch, Butterfly, Permutation and Diagonal factors), at
most 64 x 64, so that the operator laws run over them as over every other
family:

- ``"dft_as_monarch"``: ``dft_as_monarch`` and ``idft_as_monarch`` of any
  composite ``n``, every ``norm``, complex64 and complex128;
- ``"hadamard_as_monarch"``, ``"hadamard_as_butterfly"``: powers of two,
  both norms, float32 and float64;
- ``"dft_as_butterfly"``: ``dft_as_butterfly`` and ``idft_as_butterfly``;
- ``"dct_as_butterfly"``: powers of two, both norms;
- ``"circulant_as_monarch"``, ``"toeplitz_as_monarch"``,
  ``"convolution_as_monarch"``: random parameters of all four floating
  dtypes (the operators are complex), any Toeplitz shape, each convolution
  mode.

Examples
--------
>>> import numpy as np
>>> from hypothesis import given, settings
>>> from structmat.testing.market_constructions import MARKET
>>> from structmat.testing import to_numpy
>>> @settings(max_examples=5, database=None)
... @given(MARKET["dft_as_monarch"](np))
... def check(op):
...     assert to_numpy(op.to_dense()).shape == op.shape
>>> check()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from structmat import _array_api as aa
from structmat import constructions as C
from structmat.linop import LinearOperator
from structmat.testing.market_fourier import _array

__all__ = ["MARKET"]

_ALL = ["float32", "float64", "complex64", "complex128"]
_NORMS = ["backward", "ortho", "forward"]
_COMPOSITE = [n for n in range(4, 65) if any(n % d == 0 for d in range(2, int(n**0.5) + 1))]
_POWERS = [2, 4, 8, 16, 32, 64]


def _dft_pair(
    forward: Callable[..., LinearOperator], inverse: Callable[..., LinearOperator], sizes: list[int]
) -> Callable[[Any], Any]:
    """The DFT construction ``forward`` and its inverse, every norm, complex dtypes."""

    def factory(xp: Any) -> st.SearchStrategy[LinearOperator]:
        xp = aa.default_namespace(xp)
        return st.builds(
            lambda n, inv, norm, dtype: (inverse if inv else forward)(n, norm, dtype=dtype, xp=xp),
            st.sampled_from(sizes),
            st.booleans(),
            st.sampled_from(_NORMS),
            st.sampled_from(["complex64", "complex128"]),
        )

    return factory


def _real_transform(build: Callable[..., LinearOperator]) -> Callable[[Any], Any]:
    def factory(xp: Any) -> st.SearchStrategy[LinearOperator]:
        xp = aa.default_namespace(xp)
        return st.builds(
            lambda n, norm, dtype: build(n, norm, dtype=dtype, xp=xp),
            st.sampled_from(_POWERS),
            st.sampled_from(["backward", "ortho"]),
            st.sampled_from(["float32", "float64"]),
        )

    return factory


def _circulant(xp: Any) -> st.SearchStrategy[LinearOperator]:
    xp = aa.default_namespace(xp)
    return st.builds(
        lambda n, dtype, seed: C.circulant_as_monarch(_array(xp, seed, n, dtype)),
        st.integers(1, 32),
        st.sampled_from(_ALL),
        st.integers(0, 2**32 - 1),
    )


def _toeplitz(xp: Any) -> st.SearchStrategy[LinearOperator]:
    xp = aa.default_namespace(xp)
    return st.builds(
        lambda m, n, dtype, seed: C.toeplitz_as_monarch(
            _array(xp, seed, m, dtype), _array(xp, seed + 1, n, dtype)
        ),
        st.integers(1, 24),
        st.integers(1, 24),
        st.sampled_from(_ALL),
        st.integers(0, 2**31 - 2),
    )


def _convolution(xp: Any) -> st.SearchStrategy[LinearOperator]:
    xp = aa.default_namespace(xp)
    return st.builds(
        lambda nh, n, mode, dtype, seed: C.convolution_as_monarch(
            _array(xp, seed, nh, dtype), n, mode
        ),
        st.integers(1, 12),
        st.integers(1, 20),
        st.sampled_from(["full", "same", "valid"]),
        st.sampled_from(_ALL),
        st.integers(0, 2**32 - 1),
    )


MARKET: dict[str, Callable[[Any], st.SearchStrategy[LinearOperator]]] = {
    "dft_as_monarch": _dft_pair(C.dft_as_monarch, C.idft_as_monarch, _COMPOSITE),
    "hadamard_as_monarch": _real_transform(C.hadamard_as_monarch),
    "dft_as_butterfly": _dft_pair(C.dft_as_butterfly, C.idft_as_butterfly, _POWERS),
    "hadamard_as_butterfly": _real_transform(C.hadamard_as_butterfly),
    "dct_as_butterfly": _real_transform(C.dct_as_butterfly),
    "circulant_as_monarch": _circulant,
    "toeplitz_as_monarch": _toeplitz,
    "convolution_as_monarch": _convolution,
}

"""Operator market for the Fourier family: DFT, IDFT, DCT, DST, Hadamard, Circulant,
Toeplitz, Convolution, Correlation, Convolution2D, Correlation2D.

``MARKET`` maps a name to a factory that takes an array namespace ``xp`` and
returns a Hypothesis strategy of small (at most 64 x 64) operators of that
family in ``xp``: every size ``1 .. 64`` (primes included; powers of 2 for
Hadamard), every ``norm``, DCT/DST ``type`` (1-4) and ``orthogonalize``,
operator dtypes float32 and float64 (DCT, DST, Hadamard), complex64 and
complex128 (DFT, IDFT), and for
Circulant/Toeplitz/Convolution/Correlation random parameters of all four
floating dtypes, any Toeplitz shape ``m x n``, and each convolution and
correlation mode (``"circular"`` included) with filters shorter and longer
than the input; the 2-d ones with kernels and images up to 6 x 6 (even and
odd sizes, kernels larger than the image), each of their modes.

Examples
--------
>>> import numpy as np
>>> from hypothesis import given, settings
>>> from structmat.testing.market_fourier import MARKET
>>> from structmat.testing import to_numpy
>>> @settings(max_examples=5, database=None)
... @given(MARKET["convolution"](np))
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
from structmat.fourier import (
    DCT,
    DFT,
    DST,
    IDFT,
    Circulant,
    Convolution,
    Convolution2D,
    Correlation,
    Correlation2D,
    Hadamard,
    Toeplitz,
)
from structmat.linop import LinearOperator

__all__ = ["MARKET"]

_ALL = ["float32", "float64", "complex64", "complex128"]
_NORMS = ["backward", "ortho", "forward"]


def _array(xp: Any, seed: int, length: int, dtype: str) -> Any:
    xp = aa.default_namespace(xp)
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(length)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(length)
    return xp.asarray(a.astype(dtype))


def _sizes() -> Any:
    # small sizes and primes often, anything up to 64 sometimes
    return st.one_of(st.sampled_from([1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 31, 32]), st.integers(1, 64))


def _dft(cls: Any) -> Callable[[Any], Any]:
    def factory(xp: Any) -> Any:
        xp = aa.default_namespace(xp)
        return st.builds(
            lambda n, norm, dtype: cls(n, norm, dtype=dtype, xp=xp),
            _sizes(),
            st.sampled_from(_NORMS),
            st.sampled_from(["complex64", "complex128"]),
        )

    return factory


def _trig(cls: Any) -> Callable[[Any], Any]:
    def build(n: int, t: int, norm: Any, orth: Any, dtype: str, xp: Any) -> LinearOperator:
        if cls is DCT and t == 1:
            n = max(n, 2)  # DCT-I needs two points
        return cls(n, t, norm, orthogonalize=orth, dtype=dtype, xp=xp)

    def factory(xp: Any) -> Any:
        xp = aa.default_namespace(xp)
        return st.builds(
            lambda n, t, norm, orth, dtype: build(n, t, norm, orth, dtype, xp),
            _sizes(),
            st.sampled_from([1, 2, 3, 4]),
            st.sampled_from([None, "ortho", "forward"]),
            st.sampled_from([None, True, False]),
            st.sampled_from(["float32", "float64"]),
        )

    return factory


def _hadamard(xp: Any) -> Any:
    xp = aa.default_namespace(xp)
    return st.builds(
        lambda e, norm, dtype: Hadamard(2**e, norm, dtype=dtype, xp=xp),
        st.integers(0, 6),
        st.sampled_from([None, "ortho"]),
        st.sampled_from(["float32", "float64"]),
    )


def _circulant(xp: Any) -> Any:
    return st.builds(
        lambda n, dtype, seed: Circulant(_array(xp, seed, n, dtype)),
        _sizes(),
        st.sampled_from(_ALL),
        st.integers(0, 2**32 - 1),
    )


@st.composite
def _toeplitz_op(draw: Any, xp: Any) -> LinearOperator:
    m, n = draw(_sizes()), draw(_sizes())
    # c and r of one precision, each real or complex
    real, cplx = draw(st.sampled_from([("float32", "complex64"), ("float64", "complex128")]))
    dc, dr = draw(st.sampled_from([real, cplx])), draw(st.sampled_from([real, cplx]))
    seed = draw(st.integers(0, 2**32 - 1))
    c = _array(xp, seed, m, dc)
    if draw(st.booleans()):
        return Toeplitz(c)
    return Toeplitz(c, _array(xp, seed + 1, n, dr))


def _toeplitz(xp: Any) -> Any:
    return _toeplitz_op(xp)


def _filtering(cls: Any) -> Callable[[Any], Any]:
    def factory(xp: Any) -> Any:
        return st.builds(
            lambda L, n, mode, dtype, seed: cls(_array(xp, seed, L, dtype), n, mode),
            st.integers(1, 20),
            st.integers(1, 40),
            st.sampled_from(["full", "same", "valid", "circular"]),
            st.sampled_from(_ALL),
            st.integers(0, 2**32 - 1),
        )

    return factory


def _filtering2d(cls: Any) -> Callable[[Any], Any]:
    @st.composite
    def build(draw: Any, xp: Any) -> LinearOperator:
        K = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
        mode = draw(st.sampled_from(["full", "same", "valid"]))
        if mode == "valid" and draw(st.booleans()):  # kernel no larger than the image
            image = (draw(st.integers(K[0], 6)), draw(st.integers(K[1], 6)))
        elif mode == "valid":
            image = (draw(st.integers(1, K[0])), draw(st.integers(1, K[1])))
        else:
            image = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
        dtype = draw(st.sampled_from(_ALL))
        seed = draw(st.integers(0, 2**32 - 1))
        h = aa.default_namespace(xp).reshape(_array(xp, seed, K[0] * K[1], dtype), K)
        return cls(h, image, mode)

    def factory(xp: Any) -> Any:
        return build(xp)

    return factory


MARKET: dict[str, Callable[[Any], Any]] = {
    "dft": _dft(DFT),
    "idft": _dft(IDFT),
    "dct": _trig(DCT),
    "dst": _trig(DST),
    "hadamard": _hadamard,
    "circulant": _circulant,
    "toeplitz": _toeplitz,
    "convolution": _filtering(Convolution),
    "correlation": _filtering(Correlation),
    "convolution2d": _filtering2d(Convolution2D),
    "correlation2d": _filtering2d(Correlation2D),
}

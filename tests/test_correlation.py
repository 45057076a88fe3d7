"""Tests of ``Correlation`` and the ``"circular"`` mode against SciPy and NumPy.

Oracles: ``scipy.signal.correlate`` (column by column), ``numpy.convolve``,
``numpy.fft`` and ``scipy.linalg.circulant``, all on NumPy copies of the
inputs; the circular modes also against the full SciPy/NumPy result folded
modulo ``n`` by hand. The operator laws run over ``market_fourier.MARKET`` in
``tests/test_laws.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.signal
from _helpers import oracle_as, random_array
from hypothesis import given
from hypothesis import strategies as st

import structmat as sm
import structmat.fourier
from structmat import _array_api as aa
from structmat.convolution import Circulant, Convolution, Correlation, Toeplitz
from structmat.testing import assert_close, to_numpy, tolerance

ALL = ["float32", "float64", "complex64", "complex128"]
MODES = ["full", "same", "valid", "circular"]
LAYOUTS = st.sampled_from([None, (1,), (3,), (2, 2)])
# (L, n): filter shorter, longer, equal, one of them a single point
SIZE_PAIRS = [(3, 8), (8, 3), (4, 8), (8, 4), (4, 4), (1, 5), (5, 1), (6, 7), (7, 6), (17, 5)]


def rand(seed, shape, dtype):
    return random_array(np.random.default_rng(seed), shape, dtype)


def promoted(a: str, b: str) -> str:
    return str(np.result_type(np.dtype(a), np.dtype(b)))


def fold(z, n, shift):
    """``y[i] = sum of z[k]`` over ``k - shift = i (mod n)``: a full result folded."""
    y = np.zeros(n, dtype=np.complex128)
    np.add.at(y, (np.arange(z.shape[0]) - shift) % n, z)
    return y


def correlate_oracle(x, h, mode):
    """``scipy.signal.correlate(x, h, mode)``; circular: the full one folded by lag."""
    if mode == "circular":
        return fold(scipy.signal.correlate(x, h, "full"), x.shape[0], h.shape[0] - 1)
    return scipy.signal.correlate(x, h, mode)


def convolve_oracle(h, x, mode):
    if mode == "circular":
        return fold(np.convolve(h, x, "full"), x.shape[0], 0)
    return np.convolve(h, x, mode)


def along(fn, x, layout):
    """Apply the 1-d map ``fn`` to each column of ``x`` (the transform axis by layout)."""
    axis = -1 if layout is None else (0 if len(layout) == 1 else -2)
    return np.apply_along_axis(fn, axis, x)


def make_input(seed, n, layout, dtype):
    if layout is None:
        return rand(seed, (n,), dtype)
    if len(layout) == 1:
        return rand(seed, (n, layout[0]), dtype)
    return rand(seed, (layout[0], n, layout[1]), dtype)


def rtol(y, h, x, expected, size):
    """FFT rounding scales with ``||h|| ||x||`` (see ``conv_rtol`` in test_fourier.py)."""
    scale = np.linalg.norm(h) * np.linalg.norm(x) / max(np.linalg.norm(expected), 1e-300)
    return tolerance(to_numpy(y).dtype, size) * max(1.0, scale)


def dense_oracle(fn, n):
    eye = np.eye(n, dtype=np.complex128)
    return np.stack([fn(eye[:, j]) for j in range(n)], axis=1)


# ---------------------------------------------------------------------- against SciPy
@given(
    L=st.integers(1, 24),
    n=st.integers(1, 24),
    mode=st.sampled_from(MODES),
    h_dtype=st.sampled_from(ALL),
    x_dtype=st.sampled_from(ALL),
    layout=LAYOUTS,
    seed=st.integers(0, 2**32 - 1),
)
def test_correlation_matches_scipy_correlate(xp, L, n, mode, h_dtype, x_dtype, layout, seed):
    h = rand(seed + 1, (L,), h_dtype)
    x = make_input(seed, n, layout, x_dtype)
    op = Correlation(xp.asarray(h), n, mode)
    y = op @ xp.asarray(x)
    hw = h.astype(np.complex128)
    expected = along(lambda v: correlate_oracle(v, hw, mode), x.astype(np.complex128), layout)
    dtype = promoted(h_dtype, x_dtype)
    assert aa.dtype_name(y.dtype) == dtype
    assert_close(y, oracle_as(expected, xp, dtype), rtol=rtol(y, h, x, expected, L + n))
    dense = dense_oracle(lambda v: correlate_oracle(v, hw, mode), n)
    assert_close(op.to_dense(), oracle_as(dense, xp, h_dtype))
    assert_close(op.H.to_dense(), oracle_as(dense.conj().T, xp, h_dtype))
    assert_close(op.T.to_dense(), oracle_as(dense.T, xp, h_dtype))
    # the adjoint's product (on torch the generic Adjoint: it runs _rmatmat)
    u = rand(seed + 2, (op.shape[0], 2), h_dtype)
    assert_close(op.H @ xp.asarray(u), oracle_as(dense.conj().T @ u, xp, h_dtype), size=L + n)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("L", "n"), SIZE_PAIRS)
@pytest.mark.parametrize("dtype", ALL)
def test_correlation_both_orders_of_sizes(mode, L, n, dtype):
    # SciPy's "same" has the length of x (its first argument), "valid" either order
    h, x = rand(L * 100 + n, (L,), dtype), rand(n, (n,), dtype)
    y = Correlation(h, n, mode) @ x
    expected = correlate_oracle(x.astype(np.complex128), h.astype(np.complex128), mode)
    if mode != "circular":
        assert expected.shape == scipy.signal.correlate(x, h, mode).shape
    assert y.shape == expected.shape
    assert y.dtype == np.dtype(dtype)
    assert_close(y, oracle_as(expected, np, dtype), rtol=rtol(y, h, x, expected, L + n))


def test_correlation_conjugates_a_complex_filter():
    h = np.array([1.0 + 2.0j, -1.0j, 0.5])
    x = np.array([1.0, 2.0, -3.0, 4.0, 0.0])
    y = Correlation(h, 5, "full") @ x
    assert_close(y, scipy.signal.correlate(x, h, "full"))
    # not the correlation with h itself: the two differ for a complex h
    assert not np.allclose(y, scipy.signal.correlate(x, h.conj(), "full"))


def test_correlation_same_centres_even_filters_like_scipy():
    # "same" keeps entries (L - 1) // 2 .. of the full correlation (even L: one more right)
    h, x = np.array([1.0, 2.0, 3.0, 4.0]), np.arange(1.0, 7.0)
    full = scipy.signal.correlate(x, h, "full")
    assert_close(Correlation(h, 6, "same") @ x, full[1:7])
    assert_close(Correlation(h, 6, "same") @ x, scipy.signal.correlate(x, h, "same"))


# ---------------------------------------------------------------------- circular
@pytest.mark.parametrize(("L", "n"), SIZE_PAIRS)
@pytest.mark.parametrize("dtype", ALL)
def test_circular_convolution_is_the_circulant_of_the_folded_filter(L, n, dtype):
    h, x = rand(L, (L,), dtype), rand(n + 50, (n, 3), dtype)
    op = Convolution(h, n, "circular")
    wrapped = np.zeros(n, dtype=np.complex128)
    np.add.at(wrapped, np.arange(L) % n, h)
    C = scipy.linalg.circulant(wrapped)
    assert op.shape == (n, n)
    assert_close(op.to_dense(), oracle_as(C, np, dtype))
    assert_close(op @ x, oracle_as(C @ x, np, dtype), size=L + n)
    assert type(op.H) is Circulant
    assert_close(op.H.to_dense(), oracle_as(C.conj().T, np, dtype))
    assert type(Correlation(h, n, "circular").H) is Circulant


@pytest.mark.parametrize(("L", "n"), [(3, 8), (8, 8), (1, 4), (5, 16)])
def test_circular_modes_match_numpy_fft(L, n):
    # filter no longer than n: the textbook FFT formulas
    h = rand(L, (L,), "complex128")
    x = rand(n, (n,), "complex128")
    assert_close(Convolution(h, n, "circular") @ x, np.fft.ifft(np.fft.fft(h, n) * np.fft.fft(x)))
    assert_close(
        Correlation(h, n, "circular") @ x,
        np.fft.ifft(np.fft.fft(x) * np.conj(np.fft.fft(h, n))),
    )


@pytest.mark.parametrize(("L", "n"), SIZE_PAIRS)
def test_circular_convolution_is_the_folded_full_convolution(L, n):
    h, x = rand(L, (L,), "float64"), rand(n, (n,), "float64")
    y = Convolution(h, n, "circular") @ x
    assert_close(y, oracle_as(convolve_oracle(h, x, "circular"), np, "float64"))


def test_structural_adjoints_of_linear_modes_are_toeplitz():
    h = rand(0, (4,), "complex128")
    for mode in ("full", "same", "valid"):
        op = Correlation(h, 9, mode)
        assert type(op.H) is Toeplitz
        assert type(op.T) is Toeplitz
        assert op.H.H is op


# ---------------------------------------------------------------------- bookkeeping
def test_repr_parameters_flops():
    op = Correlation(np.ones(3), 5, "valid")
    assert repr(op) == "Correlation(3, 5, mode='valid', float64)"
    assert repr(Convolution(np.ones(7), 5, "circular")) == (
        "Convolution(7, 5, mode='circular', float64)"
    )
    assert op.parameter_count == 3
    assert Convolution(np.ones(7), 5, "circular").parameter_count == 7
    # circular: two real FFTs of length n and the spectrum product
    assert Convolution(np.ones(3), 1024, "circular").flops(1) == 1024 * 10 + 513
    assert Correlation(np.ones(300), 4000).flops(1) < 4300 * 4000 // 50


def test_to_moves_precision_and_backend():
    import array_api_strict

    h = rand(0, (4,), "float64")
    op = Correlation(h, 6, "circular").to(dtype=np.complex64)
    assert op.dtype == np.complex64
    assert op.mode == "circular"
    moved = Correlation(h, 6, "same").to(xp=array_api_strict)
    assert moved.xp is array_api_strict
    dense = dense_oracle(lambda v: scipy.signal.correlate(v, h, "same"), 6)
    assert_close(moved.to_dense(), oracle_as(dense, array_api_strict, "float64"))


def test_public_names():
    assert sm.Correlation is Correlation
    assert structmat.fourier.Correlation is Correlation
    assert "Correlation" in sm.__all__
    assert "Correlation" in structmat.fourier.__all__


def test_bad_input():
    with pytest.raises(ValueError, match="Correlation h expects a 1-d array, got shape \\(2, 2\\)"):
        Correlation(np.ones((2, 2)), 3)
    with pytest.raises(ValueError, match="Correlation h expects a non-empty array"):
        Correlation(np.ones(0), 3)
    with pytest.raises(
        ValueError,
        match="Correlation mode must be one of 'full', 'same', 'valid', 'circular'; got 'wrap'",
    ):
        Correlation(np.ones(2), 3, "wrap")
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        Correlation(np.ones(2), 0)
    with pytest.raises(ValueError, match="expects input with 5 rows"):
        Correlation(np.ones(3), 5) @ np.ones(4)
    with pytest.raises(ValueError, match="expects input with 7 rows"):
        Convolution(np.ones(3), 7, "circular") @ np.ones(8)

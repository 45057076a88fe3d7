"""Tests of ``Convolution2D`` and ``Correlation2D`` against ``scipy.signal``.

Oracles: ``scipy.signal.convolve2d`` and ``scipy.signal.correlate2d`` (image
by image), ``scipy.signal.correlate`` where ``correlate2d`` is not linear (see
the ``Correlation2D`` notes), and dense matrices built from them column by
column; never the code under test. The operator laws run over
``market_fourier.MARKET`` in ``tests/test_laws.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from _helpers import oracle_as, random_array
from hypothesis import given
from hypothesis import strategies as st

import structmat as sm
import structmat.fourier
from structmat import _array_api as aa
from structmat.convolution2d import Convolution2D, Correlation2D
from structmat.testing import assert_close, to_numpy, tolerance

ALL = ["float32", "float64", "complex64", "complex128"]
MODES = ["full", "same", "valid"]
# (image, kernel): odd and even kernels, kernel larger than the image, single rows
PAIRS = [
    ((5, 6), (3, 3)),
    ((5, 6), (2, 4)),
    ((6, 5), (4, 2)),
    ((4, 4), (2, 2)),
    ((6, 6), (6, 6)),
    ((5, 6), (5, 3)),
    ((3, 3), (5, 6)),
    ((2, 3), (4, 4)),
    ((2, 3), (5, 5)),
    ((1, 7), (1, 3)),
    ((1, 1), (1, 1)),
]


def rand(seed, shape, dtype):
    return random_array(np.random.default_rng(seed), shape, dtype)


def promoted(a: str, b: str) -> str:
    return str(np.result_type(np.dtype(a), np.dtype(b)))


def fits(image, kernel):
    """SciPy's condition for "valid": one at least as large as the other on both axes."""
    return all(n >= k for n, k in zip(image, kernel, strict=True)) or all(
        k >= n for n, k in zip(image, kernel, strict=True)
    )


def oracle(cls, X, h, mode):
    """SciPy's 2-d result; for a correlation with a larger kernel in "valid", the linear
    ``scipy.signal.correlate`` (``correlate2d`` conjugates ``X`` there; equal when real)."""
    if cls is Convolution2D:
        return scipy.signal.convolve2d(X, h, mode)
    kernel_larger = all(k >= n for n, k in zip(X.shape, h.shape, strict=True))
    if mode == "valid" and kernel_larger and X.shape != h.shape:
        return scipy.signal.correlate(X, h, "valid")
    return scipy.signal.correlate2d(X, h, mode)


def dense_oracle(cls, h, image, mode):
    n = image[0] * image[1]
    eye = np.eye(n, dtype=np.complex128)
    cols = [oracle(cls, eye[:, j].reshape(image), h, mode).reshape(-1) for j in range(n)]
    return np.stack(cols, axis=1)


def rtol(y, h, x, expected, size):
    """FFT rounding scales with ``||h|| ||x||`` (see ``conv_rtol`` in test_fourier.py)."""
    scale = np.linalg.norm(h) * np.linalg.norm(x) / max(np.linalg.norm(expected), 1e-300)
    return tolerance(to_numpy(y).dtype, size) * max(1.0, scale)


@st.composite
def geometry(draw):
    kernel = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    image = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    mode = draw(st.sampled_from(MODES))
    if mode == "valid" and not fits(image, kernel):
        mode = "same"
    return image, kernel, mode


# ---------------------------------------------------------------------- against SciPy
@given(
    geo=geometry(),
    cls=st.sampled_from([Convolution2D, Correlation2D]),
    h_dtype=st.sampled_from(ALL),
    x_dtype=st.sampled_from(ALL),
    k=st.sampled_from([None, 1, 3]),
    batch=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_scipy_signal(xp, geo, cls, h_dtype, x_dtype, k, batch, seed):
    image, kernel, mode = geo
    h = rand(seed + 1, kernel, h_dtype)
    n = image[0] * image[1]
    shape = (n,) if k is None else ((2, n, k) if batch else (n, k))
    x = rand(seed, shape, x_dtype)
    op = cls(xp.asarray(h), image, mode)
    y = op @ xp.asarray(x)
    hw = h.astype(np.complex128)
    # the oracle image by image: each column of (..., n, k) unflattened, filtered, flattened
    cols = np.moveaxis((x if x.ndim > 1 else x[:, None]).astype(np.complex128), -2, -1)
    outs = np.stack(
        [oracle(cls, v.reshape(image), hw, mode).reshape(-1) for v in cols.reshape(-1, n)]
    )
    m = outs.shape[-1]
    expected = np.moveaxis(outs.reshape((*cols.shape[:-1], m)), -1, -2)
    expected = expected if x.ndim > 1 else expected[:, 0]
    dtype = promoted(h_dtype, x_dtype)
    assert aa.dtype_name(y.dtype) == dtype
    assert tuple(y.shape) == expected.shape
    assert op.shape == (m, n)
    size = sum(image) + sum(kernel)
    assert_close(y, oracle_as(expected, xp, dtype), rtol=rtol(y, h, x, expected, size))


@pytest.mark.parametrize("cls", [Convolution2D, Correlation2D])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("image", "kernel"), PAIRS)
@pytest.mark.parametrize("dtype", ["float64", "complex128", "float32"])
def test_dense_and_adjoint(cls, mode, image, kernel, dtype):
    assert fits(image, kernel)  # every pair here has a "valid" mode (the others: test_bad_input)
    h = rand(sum(image) * 10 + sum(kernel), kernel, dtype)
    op = cls(h, image, mode)
    dense = dense_oracle(cls, h.astype(np.complex128), image, mode)
    assert op.output_shape == oracle(cls, np.ones(image), np.ones(kernel), mode).shape
    assert_close(op.to_dense(), oracle_as(dense, np, dtype))
    u = rand(1, (op.shape[0], 2), dtype)
    assert_close(op.H @ u, oracle_as(dense.conj().T @ u, np, dtype), size=op.shape[0])
    assert_close(op.H.to_dense(), oracle_as(dense.conj().T, np, dtype))
    assert_close(op.T.to_dense(), oracle_as(dense.T, np, dtype))
    assert op.H.H is op


def test_same_mode_centres_even_kernels_like_scipy():
    # convolve2d keeps the window at (L - 1) // 2, correlate2d at L // 2
    X = np.arange(30.0).reshape(5, 6)
    h = np.arange(1.0, 9.0).reshape(2, 4)
    full = scipy.signal.convolve2d(X, h, "full")
    y = (Convolution2D(h, (5, 6), "same") @ X.reshape(-1)).reshape(5, 6)
    assert_close(y, full[0:5, 1:7])
    assert_close(y, scipy.signal.convolve2d(X, h, "same"))
    cfull = scipy.signal.correlate2d(X, h, "full")
    z = (Correlation2D(h, (5, 6), "same") @ X.reshape(-1)).reshape(5, 6)
    assert_close(z, cfull[1:6, 2:8])
    assert_close(z, scipy.signal.correlate2d(X, h, "same"))


def test_correlation_conjugates_the_kernel():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 5)) + 1j * rng.standard_normal((4, 5))
    h = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    for mode in MODES:
        y = (Correlation2D(h, (4, 5), mode) @ X.reshape(-1)).reshape(-1)
        assert_close(y, scipy.signal.correlate2d(X, h, mode).reshape(-1))


def test_valid_with_a_larger_kernel_is_correlate2d_for_real_data():
    # the linear map; SciPy's correlate2d conjugates a complex image here
    rng = np.random.default_rng(4)
    X, h = rng.standard_normal((2, 3)), rng.standard_normal((4, 5))
    y = Correlation2D(h, (2, 3), "valid") @ X.reshape(-1)
    assert_close(y, scipy.signal.correlate2d(X, h, "valid").reshape(-1))
    Xc = X + 1j * rng.standard_normal((2, 3))
    yc = Correlation2D(h, (2, 3), "valid") @ Xc.reshape(-1)
    assert_close(yc, scipy.signal.correlate(Xc, h, "valid").reshape(-1))
    assert_close(np.conj(yc), scipy.signal.correlate2d(Xc, h, "valid").reshape(-1))


# ---------------------------------------------------------------------- bookkeeping
def test_repr_parameters_flops():
    op = Convolution2D(np.ones((3, 2)), (5, 6), "same")
    assert repr(op) == "Convolution2D((3, 2), (5, 6), mode='same', float64)"
    assert repr(Correlation2D(np.ones((2, 2), dtype=np.complex64), (4, 4))) == (
        "Correlation2D((2, 2), (4, 4), mode='full', complex64)"
    )
    assert op.shape == (30, 30)
    assert op.image_shape == (5, 6)
    assert op.output_shape == (5, 6)
    assert op.parameter_count == 6
    # full 5x6 with 3x2: frame 8 x 8 (7 x 7 rounded up to 5-smooth), real FFTs
    assert Convolution2D(np.ones((3, 2)), (5, 6)).flops(1) == 8 * 24 + 8 * 24 + 8 * 5
    big = Convolution2D(np.ones((9, 9)), (120, 120), "same")
    assert big.flops(1) < big.shape[0] * big.shape[1] / 100


def test_to_moves_precision_and_backend():
    import array_api_strict

    h = rand(0, (3, 2), "float64")
    op = Correlation2D(h, (4, 5), "same").to(dtype=np.complex64)
    assert op.dtype == np.complex64
    assert (op.mode, op.image_shape) == ("same", (4, 5))
    moved = Convolution2D(h, (4, 5), "valid").to(xp=array_api_strict)
    assert moved.xp is array_api_strict
    dense = dense_oracle(Convolution2D, h, (4, 5), "valid")
    assert_close(moved.to_dense(), oracle_as(dense, array_api_strict, "float64"))


def test_torch_kernel_stays_live():
    torch = pytest.importorskip("torch")
    h = torch.ones((2, 2), dtype=torch.float64)
    op = Convolution2D(h, (3, 3), "full")
    x = torch.arange(9.0, dtype=torch.float64)
    first = op @ x
    with torch.no_grad():
        h.mul_(2.0)  # an in-place update: the cached spectrum must not be reused
    X = np.arange(9.0).reshape(3, 3)
    expected = scipy.signal.convolve2d(X, 2.0 * np.ones((2, 2)), "full").reshape(-1)
    assert_close(op @ x, oracle_as(expected, op.xp))
    assert_close(2.0 * first, op @ x)


def test_public_names():
    for cls in (Convolution2D, Correlation2D):
        assert getattr(sm, cls.__name__) is cls
        assert getattr(structmat.fourier, cls.__name__) is cls
        assert cls.__name__ in sm.__all__
        assert cls.__name__ in structmat.fourier.__all__


@pytest.mark.parametrize("cls", [Convolution2D, Correlation2D])
def test_bad_input(cls):
    name = cls.__name__
    with pytest.raises(ValueError, match=f"{name} expects a 2-d kernel, got shape \\(3,\\)"):
        cls(np.ones(3), (4, 4))
    with pytest.raises(ValueError, match="non-empty kernel, got shape \\(0, 2\\)"):
        cls(np.ones((0, 2)), (4, 4))
    with pytest.raises(ValueError, match="shape must be a pair \\(n1, n2\\) of integers, got 16"):
        cls(np.ones((2, 2)), 16)
    with pytest.raises(ValueError, match="got \\(4, 4, 1\\)"):
        cls(np.ones((2, 2)), (4, 4, 1))
    with pytest.raises(ValueError, match="n2 must be an integer >= 1, got 0"):
        cls(np.ones((2, 2)), (4, 0))
    with pytest.raises(
        ValueError, match=f"{name} mode must be one of 'full', 'same', 'valid'; got 'circular'"
    ):
        cls(np.ones((2, 2)), (4, 4), "circular")
    with pytest.raises(ValueError, match="kernel \\(5, 2\\) and the image \\(3, 6\\) one at least"):
        cls(np.ones((5, 2)), (3, 6), "valid")
    with pytest.raises(ValueError, match="expects input with 16 rows"):
        cls(np.ones((2, 2)), (4, 4)) @ np.ones(15)
    with pytest.raises(ValueError, match="expects input with 25 rows"):
        cls(np.ones((2, 2)), (4, 4)).H @ np.ones(16)

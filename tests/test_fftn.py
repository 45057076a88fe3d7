"""Kronecker products of same-kind FFT-family operators: one n-d FFT call (structmat._fftn)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft

import structmat as sm
from structmat.testing import assert_close, to_numpy

RNG = np.random.default_rng(7)


def _image(shape, dtype):
    X = RNG.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        X = X + 1j * RNG.standard_normal(shape)
    return X.astype(dtype)


@pytest.mark.parametrize("cls", [sm.DFT, sm.IDFT])
@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
@pytest.mark.parametrize("dtype", ["float64", "complex64", "complex128"])
def test_dft_kronecker_is_fftn(cls, norm, dtype):
    shape = (4, 5, 3)
    cdt = "complex64" if dtype == "complex64" else "complex128"
    K = sm.Kronecker(*(cls(n, norm, dtype=cdt) for n in shape))
    assert K._nd is not None
    X = _image(shape, dtype)
    ref = (np.fft.ifftn if cls is sm.IDFT else np.fft.fftn)(X.astype(np.complex128), norm=norm)
    y = K @ X.reshape(-1)
    assert y.dtype == np.dtype(cdt)
    np.testing.assert_allclose(
        y,
        ref.reshape(-1),
        rtol=1e-4 if cdt == "complex64" else 1e-12,
        atol=1e-4 if cdt == "complex64" else 1e-12,
    )
    # columns and stacks (..., N, k): each column is one flattened image
    Xs = _image((2, 60, 3), dtype)
    Ys = K @ Xs
    for b in range(2):
        for j in range(3):
            col = (np.fft.ifftn if cls is sm.IDFT else np.fft.fftn)(
                Xs[b, :, j].reshape(shape).astype(np.complex128), norm=norm
            )
            np.testing.assert_allclose(Ys[b, :, j], col.reshape(-1), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cls", [sm.DCT, sm.DST])
@pytest.mark.parametrize("t", [1, 2, 3, 4])
@pytest.mark.parametrize(
    ("norm", "orth"), [(None, None), ("ortho", None), ("ortho", False), (None, True)]
)
def test_trig_kronecker_is_dctn(cls, t, norm, orth):
    shape = (5, 6)
    K = sm.Kronecker(*(cls(n, t, norm, orthogonalize=orth) for n in shape))
    assert K._nd is not None
    f = scipy.fft.dstn if cls is sm.DST else scipy.fft.dctn
    X = _image((*shape, 2), "float64")
    ref = f(X, t, axes=(0, 1), norm=norm, orthogonalize=orth).reshape(30, 2)
    np.testing.assert_allclose(K @ X.reshape(30, 2), ref, rtol=1e-12, atol=1e-12)
    # complex input by linearity (SciPy drops a non-default orthogonalize there)
    Z = _image(shape, "complex128")
    want = f(Z.real, t, norm=norm, orthogonalize=orth) + 1j * f(
        Z.imag, t, norm=norm, orthogonalize=orth
    )
    np.testing.assert_allclose(K @ Z.reshape(-1), want.reshape(-1), rtol=1e-12, atol=1e-12)
    # the adjoint is the transpose of the dense Kronecker product (np.kron oracle)
    g = scipy.fft.dst if cls is sm.DST else scipy.fft.dct
    D = np.kron(
        g(np.eye(5), t, axis=0, norm=norm, orthogonalize=orth),
        g(np.eye(6), t, axis=0, norm=norm, orthogonalize=orth),
    )
    np.testing.assert_allclose(
        K.H @ X.reshape(30, 2), D.T @ X.reshape(30, 2), rtol=1e-10, atol=1e-10
    )


def test_adjoint_of_dft_kronecker_dispatches():
    K = sm.Kronecker(sm.DFT(4), sm.DFT(6))
    assert K.H._nd is not None
    assert K.T._nd is not None
    X = _image((4, 6), "complex128")
    np.testing.assert_allclose(K.H @ X.reshape(-1), 24 * np.fft.ifft2(X).reshape(-1), atol=1e-12)


def test_mixed_kinds_take_the_generic_path():
    K = sm.Kronecker(sm.DCT(4, 2), sm.DCT(5, 3))
    assert K._nd is None
    X = _image((4, 5), "float64")
    ref = scipy.fft.dct(scipy.fft.dct(X, 2, axis=0), 3, axis=1)
    np.testing.assert_allclose(K @ X.reshape(-1), ref.reshape(-1), atol=1e-12)
    assert sm.Kronecker(sm.DFT(4), sm.DFT(5, "ortho"))._nd is None


def test_dft_kronecker_other_namespaces(xp):
    K = sm.Kronecker(sm.DFT(4, xp=xp), sm.DFT(3, xp=xp))
    X = _image((4, 3), "complex128")
    y = K @ xp.asarray(X.reshape(12, 1))
    assert_close(y, xp.asarray(np.fft.fft2(X).reshape(12, 1)), size=12)
    assert to_numpy(y).shape == (12, 1)


@pytest.mark.parametrize("shape", [(16,), (16, 3)])
def test_real_fast_path_keeps_the_operators_precision(shape):
    """float32 input to a (strong) complex128 Kronecker of DFTs: complex128, as the 1-d
    DFT and the generic path give (regression: the fast path returned complex64)."""
    F = sm.DFT(4, dtype="complex128")
    K = sm.Kronecker(F, F)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y = K @ x
    assert y.dtype == np.complex128 == (F @ x[:4]).dtype
    X = x.astype(np.float64).reshape(4, 4, -1)
    np.testing.assert_allclose(y.reshape(4, 4, -1), np.fft.fftn(X, axes=(0, 1)), atol=1e-12)


@pytest.mark.parametrize("shape", [(16,), (16, 3)])
def test_weak_kronecker_keeps_the_inputs_precision(shape):
    """A Kronecker of weak DFTs on float32 input: complex64, as scipy.fft.fftn gives."""
    K = sm.Kronecker(sm.DFT(4), sm.DFT(4))
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y = K @ x
    expected = scipy.fft.fftn(x.reshape(4, 4, -1), axes=(0, 1))
    assert y.dtype == expected.dtype == np.complex64
    np.testing.assert_allclose(y.reshape(4, 4, -1), expected, rtol=1e-5, atol=1e-5)


def test_fast_path_refuses_an_array_of_another_namespace():
    torch = pytest.importorskip("torch")
    K = sm.Kronecker(sm.DFT(4, xp=torch), sm.DFT(4, xp=torch))
    with pytest.raises(TypeError, match="cannot mix array namespaces"):
        K @ np.ones(16)

"""Weak dtypes: the FFT family built without ``dtype`` follows the input's precision.

Oracles: ``scipy.fft`` (whose outputs keep single precision), ``scipy.linalg``
and the dense matrices; the dtype expected is the one SciPy returns.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import scipy.linalg

import structmat as sm
from structmat.testing import tolerance

N = 12
FLOATS = ["float32", "float64", "complex64", "complex128"]


def _data(dtype: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


# operator, its scipy.fft oracle along axis 0
TRANSFORMS = {
    "dft": (lambda: sm.DFT(N), lambda x: scipy.fft.fft(x, axis=0)),
    "idft-ortho": (lambda: sm.IDFT(N, "ortho"), lambda x: scipy.fft.ifft(x, axis=0, norm="ortho")),
    **{
        f"dct{t}": (lambda t=t: sm.DCT(N, t), lambda x, t=t: scipy.fft.dct(x, t, axis=0))
        for t in (1, 2, 3, 4)
    },
    **{
        f"dst{t}": (
            lambda t=t: sm.DST(N, t, "ortho"),
            lambda x, t=t: scipy.fft.dst(x, t, axis=0, norm="ortho"),
        )
        for t in (1, 2, 3, 4)
    },
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
@pytest.mark.parametrize("x_dtype", FLOATS)
@pytest.mark.parametrize("shape", [(N,), (N, 3), (2, N, 3)])
def test_weak_transform_keeps_the_inputs_precision(name, x_dtype, shape):
    make, oracle = TRANSFORMS[name]
    op = make()
    assert op.weak_dtype
    x = _data(x_dtype, shape)
    # scipy.fft along the transformed axis (-2 for stacks, 0 for a vector)
    want = oracle(x) if len(shape) < 3 else np.stack([oracle(b) for b in x])
    y = op @ x
    assert y.dtype == want.dtype
    rtol = tolerance(str(want.dtype), N)
    np.testing.assert_allclose(y, want, rtol=rtol, atol=rtol * np.abs(want).max())


@pytest.mark.parametrize("x_dtype", FLOATS)
def test_weak_hadamard_follows_the_input(x_dtype):
    x = _data(x_dtype, (16, 2))
    y = sm.Hadamard(16) @ x
    assert y.dtype == np.dtype(x_dtype)
    np.testing.assert_allclose(y, scipy.linalg.hadamard(16) @ x.astype(np.complex128), rtol=1e-5)


def test_integer_input_takes_the_default_dtype():
    x = np.arange(N)
    assert (sm.DFT(N) @ x).dtype == np.complex128
    assert (sm.DCT(N) @ x).dtype == np.float64
    assert sm.DFT(N).to_dense().dtype == np.complex128


def test_a_given_dtype_is_strong():
    x = _data("float32", (N,))
    F = sm.DFT(N, dtype="complex128")
    assert not F.weak_dtype
    assert (F @ x).dtype == np.complex128
    assert (sm.DCT(N, dtype="float64") @ x).dtype == np.float64
    assert (sm.Hadamard(16, dtype="float64") @ np.ones(16, np.float32)).dtype == np.float64
    assert repr(F) == "DFT(12, norm='backward', dtype=complex128)"
    assert repr(sm.DFT(N)) == "DFT(12, norm='backward')"


def test_composites_promote_weak_parts_like_scalars():
    x = _data("float32", (N,))
    A32 = sm.Dense(_data("float32", (N, N), seed=1))
    F, C = sm.DFT(N), sm.DCT(N)
    # strong part float32 with a weak complex part: complex64, weak no more
    P = A32 @ F
    assert P.dtype == np.complex64
    assert not P.weak_dtype
    assert (P @ x).dtype == np.complex64
    # weak parts only: still weak, in the input's precision
    for op in (F @ C, F + F, 2 * F, F.H, F.T, F.conj(), C.H, F**2, sm.Kronecker(F, C)):
        assert op.weak_dtype, op
        xin = _data("float32", (op.shape[1],))
        y = op @ xin
        assert y.dtype == (np.complex64 if op.dtype.kind == "c" else np.float32), op
        D = op.to_dense()
        np.testing.assert_allclose(y, D @ xin.astype(np.float64), rtol=1e-4, atol=1e-4)
    # the scalar's type decides complexness, as for NumPy scalars
    assert (2j * C @ x).dtype == np.complex64
    # a strong float64 part makes it double
    assert ((sm.Dense(np.eye(N)) @ F) @ x).dtype == np.complex128


def test_weak_identity_and_permutation():
    x = np.ones(4, np.float32)
    assert (sm.Identity(4) @ x).dtype == np.float32
    assert (sm.Permutation(np.array([1, 0, 3, 2])) @ x).dtype == np.float32
    assert (sm.Identity(4, dtype="float64") @ x).dtype == np.float64
    # absorbing a weak Identity keeps the other factor as it is
    F = sm.DFT(4)
    assert sm.Identity(4) @ F is F


def test_dct_adjoint_weights_run_in_the_inputs_precision():
    x = _data("float32", (N,))
    for t in (1, 2, 3):
        op = sm.DCT(N, t).H
        y = op @ x
        want = sm.DCT(N, t, dtype="float64").to_dense().T @ x.astype(np.float64)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_kronecker_fftn_keeps_the_inputs_precision():
    X = _data("float32", (4, 6))
    K = sm.Kronecker(sm.DFT(4), sm.DFT(6))
    y = K @ X.reshape(-1)
    want = scipy.fft.fft2(X)
    assert y.dtype == want.dtype == np.complex64
    np.testing.assert_allclose(y.reshape(4, 6), want, rtol=1e-5, atol=1e-5)


def test_weakness_survives_save_and_load(tmp_path):
    for op in (sm.DFT(8), sm.DCT(8, 3), sm.Identity(8), sm.DFT(8) @ sm.Identity(8, weak=True)):
        path = tmp_path / "op.npz"
        sm.save(path, op)
        back = sm.load(path)
        assert back.weak_dtype == op.weak_dtype
        assert (back @ np.ones(8, np.float32)).dtype == (op @ np.ones(8, np.float32)).dtype
    strong = sm.DFT(8, dtype="complex128")
    sm.save(tmp_path / "s.npz", strong)
    assert not sm.load(tmp_path / "s.npz").weak_dtype


def test_to_keeps_weakness_unless_a_dtype_is_asked_for():
    F = sm.DFT(8)
    assert F.to().weak_dtype
    G = F.to(dtype="complex64")
    assert not G.weak_dtype
    assert G.dtype == np.complex64


def test_torch_weak_dtype_and_default_dtype():
    torch = pytest.importorskip("torch")
    x = torch.ones(8, dtype=torch.float32)
    assert (sm.DFT(8, xp=torch) @ x).dtype == torch.complex64
    assert (sm.DCT(8, xp=torch) @ x).dtype == torch.float32
    assert (sm.DFT(8, xp=torch) @ x.double()).dtype == torch.complex128
    # random constructors: the namespace's default dtype, torch.get_default_dtype()
    assert sm.Monarch.random((16, 16), 4, xp=torch, seed=0).dtype == torch.get_default_dtype()
    assert sm.Butterfly.random(8, xp=torch, seed=0).dtype == torch.get_default_dtype()
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert sm.Monarch.random((16, 16), 4, xp=torch, seed=0).dtype == torch.float64
    finally:
        torch.set_default_dtype(old)
    assert sm.Monarch.random((16, 16), 4, seed=0).dtype == np.float64  # NumPy: float64

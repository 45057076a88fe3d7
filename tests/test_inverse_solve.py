"""``inverse()`` of Butterfly, Dense, Toeplitz and square Convolution, against ``numpy.linalg.inv``."""

import pickle

import numpy as np
import pytest
import scipy.linalg

import structmat as sm
from structmat.butterfly import bit_reversal

RNG = np.random.default_rng(11)
DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


def _rtol(dtype):
    return 1e-10 if np.dtype(dtype) in (np.float64, np.complex128) else 2e-4


def _random(shape, dtype):
    a = RNG.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * RNG.standard_normal(shape)
    return a.astype(dtype)


def _check(op, inv, dtype):
    """inv, inv.H, inv.T and inv @ batch against numpy.linalg.inv of the dense op (complex128)."""
    rtol = _rtol(dtype)
    A = np.asarray(op.to_dense()).astype(np.complex128)
    want = np.linalg.inv(A)
    scale = np.abs(want).max()
    for got, ref in ((inv, want), (inv.H, want.conj().T), (inv.T, want.T)):
        np.testing.assert_allclose(got.to_dense(), ref, rtol=rtol, atol=rtol * scale)
    X = _random((2, op.shape[0], 3), dtype)
    np.testing.assert_allclose(inv @ X, want @ X, rtol=rtol, atol=rtol * scale * 10)
    assert inv.dtype == op.dtype


def _well_conditioned(lead, b, dtype):
    # blocks I + small noise: invertible and well conditioned
    return (np.eye(b) + 0.3 * _random((*lead, b, b), np.complex128).real).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("increasing", [True, False])
def test_butterfly(dtype, increasing):
    tw = _well_conditioned((4, 8), 2, dtype) + 0.2 * _random((4, 8, 2, 2), dtype)
    B = sm.Butterfly(tw, increasing_stride=increasing)
    inv = B.inverse()
    word = "B" if increasing else "B*"
    assert repr(inv) == (
        f"Butterfly(16x16, {'decreasing' if increasing else 'increasing'}, "
        f"{np.dtype(dtype).name}; inverse of a class-{word} butterfly)"
    )
    assert isinstance(inv, sm.Butterfly)
    assert inv.increasing_stride is not increasing
    _check(B, inv, dtype)
    assert inv.inverse() is B
    back = pickle.loads(pickle.dumps(inv))
    assert repr(back) == repr(inv)
    assert type(back) is type(inv)
    np.testing.assert_array_equal(back.to_dense(), inv.to_dense())


@pytest.mark.parametrize("dtype", [np.float64, np.complex64])
def test_butterfly_mixed_radix(dtype):
    radices = (3, 2, 4)
    tw = [_well_conditioned((24 // b,), b, dtype) for b in radices]
    B = sm.Butterfly(tw)
    inv = B.inverse()
    assert inv.radices == radices
    assert "radices (3, 2, 4)" in repr(inv)
    _check(B, inv, dtype)


def test_butterfly_dft_with_permutation():
    # F = B P_br: F^{-1} = P_br^T B^{-1}, the IDFT
    n = 16
    tw = np.empty((4, n // 2, 2, 2), dtype=complex)
    for ell in range(4):
        s = 2**ell
        w = np.exp(-2j * np.pi * (np.arange(n // 2) % s) / (2 * s))
        tw[ell] = np.stack(
            [np.stack([np.ones(n // 2), w], -1), np.stack([np.ones(n // 2), -w], -1)], -2
        )
    F = sm.Butterfly(tw) @ sm.Permutation(bit_reversal(n))
    np.testing.assert_allclose(F.inverse().to_dense(), np.fft.ifft(np.eye(n), axis=0), atol=1e-13)


def test_butterfly_singular():
    tw = _well_conditioned((3, 4), 2, np.float64)
    tw[1, 2] = [[1.0, 2.0], [2.0, 4.0]]
    with pytest.raises(
        np.linalg.LinAlgError,
        match=r"Butterfly.inverse\(\): singular operator, twiddle block 2 of level 1 \(radix 2\)",
    ):
        sm.Butterfly(tw).inverse()
    tw = [_well_conditioned((2,), 3, np.float64), _well_conditioned((3,), 2, np.float64)]
    tw[0][1] = 0
    with pytest.raises(np.linalg.LinAlgError, match=r"block 1 of level 0 \(radix 3\)"):
        sm.Butterfly(tw).inverse()


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense(dtype):
    A = (_random((6, 6), dtype) + 3 * np.eye(6)).astype(dtype)
    D = sm.Dense(A)
    inv = D.inverse()
    assert repr(inv) == f"Inverse(Dense(6x6, {np.dtype(dtype).name}))"
    _check(D, inv, dtype)
    np.testing.assert_allclose(inv.conj().to_dense(), np.linalg.inv(A).conj(), rtol=_rtol(dtype))
    assert inv.inverse() is D
    x = _random(6, dtype)
    np.testing.assert_allclose(D @ (inv @ x), x, rtol=_rtol(dtype), atol=_rtol(dtype))
    # a real operator on complex input
    z = _random(6, np.complex128)
    np.testing.assert_allclose(inv @ z, np.linalg.solve(A, z), rtol=_rtol(dtype), atol=_rtol(dtype))


def test_dense_factors_once():
    A = np.array([[4.0, 1.0], [2.0, 3.0]])
    inv = sm.Dense(A).inverse()
    y = inv @ np.ones(2)
    A[0, 0] = 8.0  # documented: the LU factors are of A at the first product
    np.testing.assert_array_equal(inv @ np.ones(2), y)
    np.testing.assert_allclose(sm.Dense(A).inverse() @ np.ones(2), np.linalg.solve(A, np.ones(2)))


def test_dense_singular():
    inv = sm.Dense(np.array([[1.0, 2.0], [2.0, 4.0]])).inverse()
    with pytest.raises(
        np.linalg.LinAlgError, match=r"Dense.inverse\(\): singular matrix, U\[1, 1\]"
    ):
        inv @ np.ones(2)


def test_dense_torch():
    torch = pytest.importorskip("torch")
    A = torch.tensor([[4.0, 1.0], [2.0, 3.0]], dtype=torch.float64, requires_grad=True)
    inv = sm.Dense(A).inverse()
    b = torch.ones(2, dtype=torch.float64)
    y = inv @ b
    want = np.linalg.solve(A.detach().numpy(), np.ones(2))
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-12)
    y.sum().backward()  # differentiable through xp.linalg.solve
    assert A.grad is not None
    np.testing.assert_allclose(
        (inv.H @ b).detach().numpy(), np.linalg.solve(A.detach().numpy().T, np.ones(2))
    )
    with pytest.raises(np.linalg.LinAlgError, match=r"Dense.inverse\(\): singular matrix"):
        sm.Dense(torch.zeros((2, 2), dtype=torch.float64)).inverse() @ b


@pytest.mark.parametrize("dtype", DTYPES)
def test_toeplitz(dtype):
    c, r = _random(7, dtype), _random(7, dtype)
    c[0] += 5
    T = sm.Toeplitz(c, r)
    inv = T.inverse()
    assert repr(inv) == f"Inverse(Toeplitz(7x7, {np.dtype(dtype).name}))"
    assert repr(inv.H) == f"Inverse(Toeplitz(7x7, {np.dtype(dtype).name}))"
    _check(T, inv, dtype)
    assert inv.inverse() is T


def test_toeplitz_levinson_fallback_and_singular():
    # invertible, but its leading 1x1 minor is 0: Levinson alone would fail
    T = sm.Toeplitz(np.array([0.0, 1.0, 2.0]), np.array([0.0, 3.0, 1.0]))
    A = scipy.linalg.toeplitz([0.0, 1.0, 2.0], [0.0, 3.0, 1.0])
    np.testing.assert_allclose(T.inverse().to_dense(), np.linalg.inv(A), rtol=1e-12)
    singular = sm.Toeplitz(np.array([1.0, 1.0]), np.array([1.0, 1.0]))
    with pytest.raises(np.linalg.LinAlgError, match=r"Toeplitz.inverse\(\): singular matrix"):
        singular.inverse() @ np.ones(2)


def test_toeplitz_torch():
    torch = pytest.importorskip("torch")
    c, r = np.array([4.0, 1.0, 0.5]), np.array([4.0, -1.0, 2.0])
    T = sm.Toeplitz(torch.asarray(c), torch.asarray(r))
    inv = T.inverse()
    want = np.linalg.inv(scipy.linalg.toeplitz(c, r))
    np.testing.assert_allclose(inv.to_dense().numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(inv.H.to_dense().numpy(), want.T, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.complex64])
def test_square_convolution(dtype):
    h = _random(3, dtype)
    h[1] += 4
    C = sm.Convolution(h, 8, "same")
    _check(C, C.inverse(), dtype)


def test_errors():
    with pytest.raises(ValueError, match=r"Convolution.inverse\(\): only a square.*\(10, 8\)"):
        sm.Convolution(np.ones(3), 8).inverse()
    with pytest.raises(ValueError, match=r"Toeplitz.inverse\(\): only a square.*\(3, 4\)"):
        sm.Toeplitz(np.ones(3), np.ones(4)).inverse()
    with pytest.raises(np.linalg.LinAlgError, match="no closed-form inverse is known for LowRank"):
        sm.LowRank(np.ones((3, 1)), np.ones((3, 1))).inverse()

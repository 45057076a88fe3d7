"""``op.inverse()``: closed forms checked against ``numpy.linalg.inv`` of the dense matrix."""

import numpy as np
import pytest
import scipy.fft
import scipy.linalg

import structmat as sm

RNG = np.random.default_rng(7)


def _check(op, rtol):
    inv = op.inverse()
    A = np.asarray(op.to_dense())
    np.testing.assert_allclose(inv.to_dense(), np.linalg.inv(A), rtol=rtol, atol=rtol)
    x = RNG.standard_normal(op.shape[0]).astype(A.dtype)
    np.testing.assert_allclose(inv @ (op @ x), x, rtol=rtol, atol=rtol)


def _diag(n, dtype):
    d = RNG.uniform(1, 2, n) * RNG.choice([-1, 1], n)
    if np.dtype(dtype).kind == "c":
        d = d * np.exp(1j * RNG.uniform(0, 6, n))
    return sm.Diagonal(d.astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_closed_forms(dtype):
    rtol = 2e-4 if np.dtype(dtype).itemsize <= 8 and dtype != np.float64 else 1e-10
    cplx = np.dtype(dtype).kind == "c"
    D, E = _diag(4, dtype), _diag(3, dtype)
    c = RNG.standard_normal(5) + (1j * RNG.standard_normal(5) if cplx else 0)
    ops = [
        D,
        sm.Permutation(np.array([3, 0, 2, 1]), dtype=dtype),
        sm.Circulant((c + np.eye(5)[0] * 4).astype(dtype)),
        sm.Hadamard(4, dtype=dtype),
        sm.Hadamard(8, "ortho", dtype=dtype),
        sm.Kronecker(D, E),
        sm.BlockDiagonal([D, E]),
        D @ sm.Permutation(np.array([1, 2, 3, 0]), dtype=dtype) @ D.H,
        3 * D,
        D**3,
        D.H,
        D.T,
        sm.Identity(3, dtype=dtype),
    ]
    if cplx:
        ops += [sm.DFT(6, norm, dtype=dtype) for norm in ("backward", "ortho", "forward")]
        ops += [sm.IDFT(6, norm, dtype=dtype) for norm in ("backward", "ortho", "forward")]
    for op in ops:
        _check(op, rtol)


@pytest.mark.parametrize("kind", [sm.DCT, sm.DST])
@pytest.mark.parametrize("type_", [1, 2, 3, 4])
def test_trig(kind, type_):
    for norm, orth in (("backward", None), ("forward", None), ("ortho", True), ("ortho", False)):
        for dtype, rtol in ((np.float64, 1e-10), (np.float32, 2e-4)):
            op = kind(6, type_, norm, orthogonalize=orth, dtype=dtype)
            _check(op, rtol)
            x = RNG.standard_normal(6)
            idct = scipy.fft.idct if kind is sm.DCT else scipy.fft.idst
            want = idct(x, type_, norm=norm, orthogonalize=orth)
            np.testing.assert_allclose(op.inverse().to_dense().astype(float) @ x, want, rtol=rtol)


def test_structural_results():
    assert repr(sm.DFT(8).inverse()) == "IDFT(8, norm='backward')"
    P = sm.Permutation(np.array([2, 0, 1]))
    assert np.array_equal(P.inverse().to_dense(), np.linalg.inv(P.to_dense()))
    assert isinstance(sm.Circulant(np.array([3.0, 1.0, 0.5])).inverse(), sm.Circulant)
    # P.inverse_idx is the index array that used to be P.inverse
    assert np.array_equal(P.inverse_idx, np.argsort([2, 0, 1]))


def test_diagonal_inverse_is_live():
    d = np.array([1.0, 2.0, 4.0])
    inv = sm.Diagonal(d).inverse()
    d[1] = 8.0
    np.testing.assert_allclose(inv @ np.ones(3), [1.0, 0.125, 0.25])


def test_errors():
    with pytest.raises(ValueError, match=r"Dense.inverse\(\): only a square operator.*\(2, 3\)"):
        sm.Dense(np.ones((2, 3))).inverse()
    with pytest.raises(np.linalg.LinAlgError, match="no closed-form inverse is known for Sum"):
        (sm.Dense(np.eye(2)) + sm.Identity(2)).inverse()
    with pytest.raises(np.linalg.LinAlgError, match=r"Diagonal.inverse.*zero entry"):
        sm.Diagonal(np.array([1.0, 0.0])).inverse()
    singular = scipy.linalg.circulant([1.0, 1.0])  # spectrum (2, 0)
    with pytest.raises(np.linalg.LinAlgError, match=r"Circulant.inverse.*spectrum"):
        sm.Circulant(singular[:, 0]).inverse()
    with pytest.raises(np.linalg.LinAlgError, match=r"Scaled.inverse.*scaled by 0"):
        sm.Scaled(0, sm.Identity(2)).inverse()


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
def test_toeplitz_solve(dtype):
    c = (RNG.standard_normal(5) + np.eye(5)[0] * 6).astype(dtype)
    r = (RNG.standard_normal(5)).astype(dtype)
    if np.dtype(dtype).kind == "c":
        c = c + 1j * RNG.standard_normal(5).astype(dtype)
    T, A = sm.Toeplitz(c, r), scipy.linalg.toeplitz(c, r)
    b = RNG.standard_normal((5, 2)).astype(dtype)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(T.solve(b), np.linalg.solve(A, b), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(T.solve(b[:, 0]), np.linalg.solve(A, b[:, 0]), rtol=rtol, atol=rtol)
    with pytest.raises(ValueError, match=r"Toeplitz.solve needs a square operator.*\(3, 5\)"):
        sm.Toeplitz(c[:3], r).solve(b)


def test_toeplitz_solve_torch():
    torch = pytest.importorskip("torch")
    c, r = np.array([4.0, 1.0, 0.5]), np.array([4.0, -1.0, 2.0])
    T = sm.Toeplitz(torch.asarray(c), torch.asarray(r))
    got = T.solve(torch.ones(3, dtype=torch.float64))
    want = np.linalg.solve(scipy.linalg.toeplitz(c, r), np.ones(3))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.complex64])
def test_monarch(dtype):
    M = sm.Monarch.square(16, nblocks=4, seed=1, dtype=dtype)
    inv = M.inverse()
    assert "class M*" in repr(inv)
    _check(M, 1e-9 if dtype == np.float64 else 2e-3)
    M.L[0] *= 2  # live: the inverse follows in-place changes of the blocks
    np.testing.assert_allclose(
        inv.to_dense(), np.linalg.inv(M.to_dense()), rtol=1e-3 if dtype == np.complex64 else 1e-9
    )
    with pytest.raises(np.linalg.LinAlgError, match=r"Monarch.inverse.*square and unpadded"):
        sm.Monarch(np.ones((2, 4, 2)), np.ones((1, 4, 8))).inverse()
    L = np.array(M.L)
    L[1] = 0
    with pytest.raises(np.linalg.LinAlgError, match=r"Monarch.inverse.*block of L is singular"):
        sm.Monarch(L, M.R).inverse()

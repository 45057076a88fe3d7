"""Mixed-radix butterflies: multiply, adjoint, projection, against dense oracles."""

import math

import numpy as np
import pytest

from structmat.butterfly import Butterfly, digit_reversal

CASES = [(6, (2, 3)), (12, (2, 2, 3)), (12, (3, 4)), (30, (5, 3, 2)), (7, (7,))]


def oracle(tw, radices):
    """Dense increasing butterfly from DESIGN §5: B_l[g b s + j s + o, g b s + k s + o] = tw[l][g s + o][j, k]."""
    n = math.prod(radices)
    D = np.eye(n, dtype=np.result_type(*tw))
    s = 1
    for ell, b in enumerate(radices):
        Bl = np.zeros((n, n), dtype=D.dtype)
        for g in range(n // (b * s)):
            for o in range(s):
                for j in range(b):
                    for k in range(b):
                        Bl[g * b * s + j * s + o, g * b * s + k * s + o] = tw[ell][g * s + o][j, k]
        D = Bl @ D
        s *= b
    return D


@pytest.mark.parametrize(("n", "radices"), CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_multiply_matches_element_formula(n, radices, dtype):
    B = Butterfly.random(n, radices=radices, kind="gaussian", dtype=dtype, seed=1)
    assert B.radices == radices
    assert B.dtype == np.dtype(dtype)
    tw = [np.asarray(t, dtype=np.complex128) for t in B.tw]
    D = oracle(tw, radices)
    X = np.random.default_rng(2).standard_normal((n, 5)).astype(dtype)
    rtol = 1e-5 if dtype in ("float32", "complex64") else 1e-12
    Y = B @ X
    assert Y.dtype == np.dtype(dtype)
    np.testing.assert_allclose(Y, D @ X, rtol=rtol, atol=rtol * np.abs(D @ X).max())
    np.testing.assert_allclose(B.to_dense(), D, rtol=rtol, atol=rtol * np.abs(D).max())
    # decreasing stride applies the levels in reverse: the adjoint of the increasing
    # butterfly with conjugate-transposed twiddles
    Bd = Butterfly(tuple(t.conj().swapaxes(-1, -2) for t in B.tw), increasing_stride=False)
    np.testing.assert_allclose(Bd.to_dense(), D.conj().T, rtol=rtol, atol=rtol * np.abs(D).max())
    np.testing.assert_allclose(B.H.to_dense(), D.conj().T, rtol=rtol, atol=rtol * np.abs(D).max())


@pytest.mark.parametrize(("n", "radices"), CASES)
def test_adjoint_dot(n, radices):
    B = Butterfly.random(n, radices=radices, kind="gaussian", dtype="complex128", seed=3)
    rng = np.random.default_rng(4)
    x = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    y = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    assert np.vdot(y, B @ x) == pytest.approx(np.vdot(B.H @ y, x), rel=1e-12)
    assert np.allclose(B.T.to_dense(), B.to_dense().T, atol=1e-13)


@pytest.mark.parametrize(("n", "radices"), CASES)
def test_orthogonal_and_monarch(n, radices):
    B = Butterfly.random(n, radices=radices, seed=5)
    D = B.to_dense()
    np.testing.assert_allclose(D.T @ D, np.eye(n), atol=1e-12)
    np.testing.assert_allclose(B.to_monarch().to_dense(), D, atol=1e-12)
    assert B.parameter_count == n * sum(radices)


def test_identity_and_digit_reversal():
    assert np.array_equal(Butterfly.identity(30, radices=(5, 3, 2)).to_dense(), np.eye(30))
    # oracle: idx[p] reads p's digits (radices b_0, b_1, ...) in the reversed system
    idx = digit_reversal(12, (2, 2, 3))
    expect = [((p % 2) * 6 + ((p // 2) % 2) * 3 + (p // 4)) for p in range(12)]
    assert idx.tolist() == expect


@pytest.mark.parametrize(("n", "radices"), CASES)
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_project_recovers_exact_butterfly(n, radices, dtype):
    B = Butterfly.random(n, radices=radices, kind="gaussian", dtype=dtype, seed=6)
    res = Butterfly.project(B.to_dense(), radices=radices)
    assert res.relative_error < 1e-12
    np.testing.assert_allclose(res.operator.to_dense(), B.to_dense(), atol=1e-12)


@pytest.mark.parametrize(("n", "radices"), [(12, (2, 2, 3)), (24, (3, 2, 4)), (36, (2, 3, 2, 3))])
def test_project_error_and_certificate(n, radices):
    """error equals ||A - Â||; lower <= max_t ε_t; error <= upper <= sqrt(Σ ε_t²) (SVD)."""
    A = np.random.default_rng(7).standard_normal((n, n))
    res = Butterfly.project(A, radices=radices)
    actual = np.linalg.norm(A - res.operator.to_dense())
    assert actual == pytest.approx(res.error, rel=1e-12)
    L = len(radices)
    eps = []
    for t in range(1, L):
        P = math.prod(radices[L - t :])
        s = n // P
        blocks = A.reshape(P, s, P, s).transpose(
            1, 2, 0, 3
        )  # block (l, i) = A[{j s + l}, i s:(i+1)s]
        sv = np.linalg.svd(blocks, compute_uv=False)
        eps.append(np.sqrt(np.sum(sv[..., 1:] ** 2)))
    eps = np.array(eps)
    tiny = 1e-12 * np.linalg.norm(A)
    assert res.lower_bound <= eps.max() + tiny
    assert actual <= res.upper_bound + tiny <= np.sqrt(np.sum(eps**2)) + 2 * tiny
    assert res.lower_bound <= res.error + tiny <= res.upper_bound + 2 * tiny


def test_project_digitrev_dft():
    n = 12
    F = np.fft.fft(np.eye(n), axis=0)
    res = Butterfly.project(F, radices=(2, 2, 3), permutation="digitrev")
    assert res.relative_error < 1e-12


def test_bad_levels():
    with pytest.raises(ValueError, match="shape \\(n/b, b, b\\)"):
        Butterfly([np.ones((3, 2, 2)), np.ones((2, 3, 2))])
    with pytest.raises(ValueError, match="multiply to 4, not n = 6"):
        Butterfly([np.ones((3, 2, 2)), np.ones((3, 2, 2))])
    with pytest.raises(TypeError, match="radices must be a sequence"):
        Butterfly.random(6, radices=6)


@pytest.mark.parametrize("n", [3, 6, 12, 15, 18, 96, 1000])
@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
def test_dft_as_butterfly_any_n(n, norm):
    from structmat.constructions import dft_as_butterfly, idft_as_butterfly

    X = np.random.default_rng(8).standard_normal((n, 3)) + 0j
    ref = np.fft.fft(X, axis=0, norm=norm)
    Y = dft_as_butterfly(n, norm) @ X
    assert np.linalg.norm(Y - ref) <= 1e-12 * np.linalg.norm(ref)
    ref = np.fft.ifft(X, axis=0, norm=norm)
    Y = idft_as_butterfly(n, norm) @ X
    assert np.linalg.norm(Y - ref) <= 1e-12 * np.linalg.norm(ref)

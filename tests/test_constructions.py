"""Constructions against independent references.

Oracles: ``numpy.fft.fft/ifft``, ``scipy.fft.dct``, ``scipy.linalg.hadamard /
circulant / toeplitz``, ``numpy.convolve`` (column by column), the Monarch
element formula of DESIGN §4 and the butterfly definition of DESIGN §5, both
written here as plain loops. Never the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import scipy.linalg
from _helpers import butterfly_oracle, monarch_oracle, oracle_as
from hypothesis import given
from hypothesis import strategies as st

import structmat as sm
from structmat import constructions as C
from structmat.constructions._common import _default_split
from structmat.constructions._convolution import _good_size
from structmat.constructions._monarch import _butterfly_monarch_factors
from structmat.testing import assert_close, to_numpy

NORMS = ["backward", "ortho", "forward"]


# ---------------------------------------------------------------------- oracles
def perm_oracle(idx):
    idx = to_numpy(idx)
    P = np.zeros((len(idx), len(idx)))
    P[np.arange(len(idx)), idx] = 1.0
    return P


def fft_matrix(n, norm="backward", inverse=False):
    f = np.fft.ifft if inverse else np.fft.fft
    return f(np.eye(n), axis=0, norm=norm)


def convolve_matrix(h, n, mode):
    return np.array([np.convolve(h, e, mode) for e in np.eye(n)]).T


def structured_dense(op):
    """Dense matrix of a composite from the oracles of its factors (not its own code)."""
    if isinstance(op, sm.Product):
        out = structured_dense(op.factors[0])
        for f in op.factors[1:]:
            out = out @ structured_dense(f)
        return out
    name = type(op).__name__
    if name == "Monarch":
        return monarch_oracle(op.L, op.R, op.shape)
    if name in ("MonarchAdjoint", "Adjoint"):
        return structured_dense(op.operator).conj().T
    if name == "Butterfly":
        return butterfly_oracle(op.tw, op.increasing_stride)
    if name == "Permutation":
        return perm_oracle(op.idx)
    msg = f"unexpected factor {name}"
    raise AssertionError(msg)


ALLOWED = {"Monarch", "MonarchAdjoint", "Adjoint", "Butterfly", "Permutation", "Diagonal"}


def assert_structured(op):
    factors = op.factors if isinstance(op, sm.Product) else (op,)
    for f in factors:
        assert type(f).__name__ in ALLOWED, repr(op)
        if type(f).__name__ in ("Adjoint", "MonarchAdjoint"):
            assert type(f.operator).__name__ == "Monarch"


# ---------------------------------------------------------------------- DFT as Monarch
@pytest.mark.parametrize("n", [1, 4, 6, 8, 9, 12, 15, 16, 20, 36, 64, 100, 256])
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("inverse", [False, True])
def test_dft_as_monarch_matches_numpy_fft(n, norm, inverse):
    build = C.idft_as_monarch if inverse else C.dft_as_monarch
    F = build(n, norm)
    assert_structured(F)
    ref = fft_matrix(n, norm, inverse)
    assert_close(F.to_dense(), ref, rtol=1e-12, what="to_dense")
    if n <= 64:  # the plain-loop oracle is slow beyond
        assert_close(structured_dense(F), ref, rtol=1e-12, what="element-formula oracle")
    x = np.random.default_rng(n).standard_normal((n, 3))
    assert_close(F @ x, ref @ x, rtol=1e-12)


def test_dft_as_monarch_layout_and_repr():
    F = C.dft_as_monarch(12)
    M, P = F.factors
    assert repr(F) == "Product(Monarch(12x12, nblocks=(3, 4), rank=1, complex128), Permutation(12))"
    assert M.nblocks == (3, 4)
    # P @ x == x[idx] with idx[a*J + t] = a + K*t, i.e. x.reshape(J, K).T.ravel()
    np.testing.assert_array_equal(to_numpy(P.idx), np.arange(12).reshape(4, 3).T.ravel())
    # L blocks are F_K (scaled), R blocks twiddled F_J
    np.testing.assert_allclose(to_numpy(M.L)[2], fft_matrix(3), atol=1e-14)
    np.testing.assert_allclose(to_numpy(M.R)[0], fft_matrix(4), atol=1e-14)


@pytest.mark.parametrize(
    ("n", "nblocks", "KJ"),
    [
        (12, (2, 6), (2, 6)),
        (12, (6, 2), (6, 2)),
        (12, (12, 1), (12, 1)),
        (7, (1, 7), (1, 7)),
        (16, (2, 8), (2, 8)),
        (16, 4, (4, 4)),
        (36, 6, (6, 6)),
    ],
)
def test_dft_as_monarch_nblocks(n, nblocks, KJ):
    """``nblocks=k`` means ``(k, k)``, as for ``Monarch.square`` and ``Monarch.project``."""
    F = C.dft_as_monarch(n, nblocks=nblocks)
    assert F.factors[0].nblocks == KJ
    assert_close(F.to_dense(), fft_matrix(n), rtol=1e-12)
    assert sm.Monarch.square(n, nblocks=nblocks).nblocks == KJ


def test_dft_as_monarch_int_nblocks_means_both():
    with pytest.raises(ValueError, match=r"an int k means \(k, k\).*nblocks=\(3, 4\)"):
        C.dft_as_monarch(12, nblocks=3)
    with pytest.raises(ValueError, match=r"pass nblocks=\(1, 7\) for the trivial"):
        C.dft_as_monarch(7)


@given(
    K=st.integers(1, 12),
    J=st.integers(1, 12),
    norm=st.sampled_from(NORMS),
    inverse=st.booleans(),
)
def test_dft_as_monarch_any_split(K, J, norm, inverse):
    build = C.idft_as_monarch if inverse else C.dft_as_monarch
    F = build(K * J, norm, nblocks=(K, J))
    assert_close(structured_dense(F), fft_matrix(K * J, norm, inverse), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["complex64", "float32"])
def test_dft_as_monarch_single_precision(dtype):
    F = C.dft_as_monarch(36, dtype=dtype)
    assert F.dtype == np.complex64
    x = np.random.default_rng(0).standard_normal(36).astype(np.float32)
    y = F @ x
    assert y.dtype == np.complex64
    assert_close(y, oracle_as(np.fft.fft(x.astype(np.float64)), np, "complex64"), size=36)


def test_dft_as_monarch_backends(xp):
    n = 12
    F = C.dft_as_monarch(n, xp=xp)
    assert F.xp is xp
    x = np.random.default_rng(0).standard_normal((n, 2)) + 0j
    y = F @ xp.asarray(x)
    assert_close(to_numpy(y), np.fft.fft(x, axis=0), size=n)
    Fi = C.idft_as_monarch(n, "ortho", dtype="complex64", xp=xp)
    assert_close(
        to_numpy(Fi.to_dense()),
        oracle_as(fft_matrix(n, "ortho", inverse=True), np, "complex64"),
        size=n,
    )


@pytest.mark.parametrize("n", [2, 3, 7, 13, 97])
def test_dft_as_monarch_prime_raises(n):
    with pytest.raises(ValueError, match="prime"):
        C.dft_as_monarch(n)
    F = C.dft_as_monarch(n, nblocks=(1, n))  # the trivial dense Monarch is allowed
    assert_close(F.to_dense(), fft_matrix(n), rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"n": 0}, ValueError, "n must be an integer >= 1, got 0"),
        ({"n": 4.0}, TypeError, r"n must be an integer >= 1, got float 4\.0"),
        ({"n": 12, "nblocks": 5}, ValueError, "K\\*J"),
        ({"n": 12, "nblocks": (3, 5)}, ValueError, "K\\*J"),
        ({"n": 12, "nblocks": (1, 2, 6)}, ValueError, "pair"),
        ({"n": 12, "norm": "unitary"}, ValueError, "norm must be one of"),
        ({"n": 12, "dtype": "int64"}, TypeError, "dtype"),
    ],
)
def test_dft_as_monarch_errors(kwargs, err, match):
    with pytest.raises(err, match=match):
        C.dft_as_monarch(**kwargs)


# ---------------------------------------------------------------------- Hadamard
@pytest.mark.parametrize("n", [1, 2, 4, 8, 32, 128])
def test_hadamard_as_monarch(n):
    H = C.hadamard_as_monarch(n)
    assert type(H).__name__ == "Monarch"
    np.testing.assert_array_equal(H.to_dense(), scipy.linalg.hadamard(n))
    np.testing.assert_array_equal(structured_dense(H), scipy.linalg.hadamard(n))
    Ho = C.hadamard_as_monarch(n, "ortho", nblocks=(1, 1) if n == 1 else (2, n // 2))
    assert_close(Ho.to_dense(), scipy.linalg.hadamard(n) / np.sqrt(n), rtol=1e-14)


def test_hadamard_as_monarch_backends(xp):
    H = C.hadamard_as_monarch(16, dtype="float32", xp=xp)
    assert H.dtype == xp.float32
    assert_close(
        to_numpy(H.to_dense()), oracle_as(scipy.linalg.hadamard(16), np, "float32"), size=16
    )


@pytest.mark.parametrize("n", [2, 4, 16, 64])
@pytest.mark.parametrize("norm", ["backward", "ortho"])
def test_hadamard_as_butterfly(n, norm):
    H = C.hadamard_as_butterfly(n, norm)
    assert type(H).__name__ == "Butterfly"
    ref = scipy.linalg.hadamard(n) / (np.sqrt(n) if norm == "ortho" else 1.0)
    assert_close(H.to_dense(), ref, rtol=1e-14)
    assert_close(structured_dense(H), ref, rtol=1e-14)


@pytest.mark.parametrize(
    ("fn", "n", "kwargs", "match"),
    [
        (C.hadamard_as_monarch, 12, {}, "power of 2"),
        (C.hadamard_as_monarch, 16, {"nblocks": (8, 2), "norm": "forward"}, "norm"),
        (C.hadamard_as_monarch, 24, {}, "power of 2"),
        (C.hadamard_as_butterfly, 1, {}, "power of 2"),
        (C.hadamard_as_butterfly, 6, {}, "power of 2"),
        (C.dft_as_butterfly, 12, {"radices": (2, 2)}, "n = 12"),
        (C.idft_as_butterfly, 0, {}, "n must be an integer >= 2"),
        (C.dct_as_butterfly, 10, {}, "power of 2"),
        (C.dct_as_butterfly, 8, {"norm": "forward"}, "norm"),
    ],
)
def test_power_of_two_errors(fn, n, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(n, **kwargs)


# ---------------------------------------------------------------------- butterflies
@pytest.mark.parametrize("n", [2, 4, 8, 16, 128])
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("inverse", [False, True])
def test_dft_as_butterfly(n, norm, inverse):
    build = C.idft_as_butterfly if inverse else C.dft_as_butterfly
    F = build(n, norm)
    assert_structured(F)
    B = F.factors[0]
    assert B.increasing_stride
    ref = fft_matrix(n, norm, inverse)
    assert_close(F.to_dense(), ref, rtol=1e-12)
    assert_close(structured_dense(F), ref, rtol=1e-12)


def test_dft_as_butterfly_twiddles_and_bitrev():
    n = 8
    B, P = C.dft_as_butterfly(n).factors
    tw = to_numpy(B.tw)
    for ell in range(3):
        s = 2**ell
        for g in range(n // (2 * s)):
            for o in range(s):
                w = np.exp(-2j * np.pi * o / (2 * s))
                np.testing.assert_allclose(tw[ell, g * s + o], [[1, w], [1, -w]], atol=1e-15)
    np.testing.assert_array_equal(to_numpy(P.idx), [0, 4, 2, 6, 1, 5, 3, 7])
    assert repr(C.dft_as_butterfly(n)).startswith("Product(Butterfly(8x8")


@pytest.mark.parametrize("n", [2, 4, 8, 16, 64])
@pytest.mark.parametrize("norm", [None, "ortho"])
def test_dct_as_butterfly(n, norm):
    D = C.dct_as_butterfly(n, norm)
    assert_structured(D)
    assert [type(f).__name__ for f in D.factors] == [
        "Permutation",
        "Butterfly",
        "Permutation",
        "Butterfly",
        "Permutation",
    ]
    ref = scipy.fft.dct(np.eye(n), type=2, norm=norm, axis=0)
    assert_close(D.to_dense(), oracle_as(ref, np, "complex128"), rtol=1e-12)
    assert_close(structured_dense(D), oracle_as(ref, np, "complex128"), rtol=1e-12)
    # linear over C: complex input matches scipy's (real and imaginary parts separately)
    rng = np.random.default_rng(n)
    z = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    assert_close(
        D @ z, oracle_as(scipy.fft.dct(z, type=2, norm=norm), np, "complex128"), rtol=1e-12
    )


def test_butterfly_constructions_backends(xp):
    n = 16
    for dtype in ("complex128", "complex64"):
        F = C.dft_as_butterfly(n, xp=xp, dtype=dtype)
        assert_close(to_numpy(F.to_dense()), oracle_as(fft_matrix(n), np, dtype), size=n)
        D = C.dct_as_butterfly(n, "ortho", xp=xp, dtype=dtype)
        assert_close(
            to_numpy(D.to_dense()),
            oracle_as(scipy.fft.dct(np.eye(n), norm="ortho", axis=0), np, dtype),
            size=n,
        )
    H = C.hadamard_as_butterfly(n, xp=xp)
    assert_close(to_numpy(H.to_dense()), oracle_as(scipy.linalg.hadamard(n), np, "float64"))


# ---------------------------------------------------------------------- butterfly -> Monarch
def _random_twiddles(n, seed, complex_=True):
    rng = np.random.default_rng(seed)
    shape = (n.bit_length() - 1, n // 2, 2, 2)
    tw = rng.standard_normal(shape)
    if complex_:
        tw = tw + 1j * rng.standard_normal(shape)
    return tw


@pytest.mark.parametrize("n", [2, 4, 8, 16, 32, 64])
def test_butterfly_monarch_factors_against_oracle(n):
    # the conversion from twiddles (used when a Butterfly has no to_monarch)
    tw = _random_twiddles(n, n)
    L, R = _butterfly_monarch_factors(tw)
    assert_close(monarch_oracle(L, R), butterfly_oracle(tw), rtol=1e-13)


@pytest.mark.parametrize("n", [2, 8, 32])
@pytest.mark.parametrize("increasing", [True, False])
def test_butterfly_to_monarch(n, increasing):
    B = sm.Butterfly(_random_twiddles(n, 1), increasing_stride=increasing)
    M = C.butterfly_to_monarch(B)
    kind = type(M.operator if not increasing else M).__name__
    assert kind == "Monarch"
    ref = butterfly_oracle(to_numpy(B.tw), increasing)
    assert_close(structured_dense(M), ref, rtol=1e-13)
    assert_close(M.to_dense(), ref, rtol=1e-13)


def test_butterfly_to_monarch_of_dft():
    B = C.dft_as_butterfly(64).factors[0]
    M = C.butterfly_to_monarch(B)
    assert M.nblocks == (8, 8)
    assert_close(M.to_dense(), butterfly_oracle(to_numpy(B.tw)), rtol=1e-13)


def test_butterfly_monarch_factors_backends(xp):
    tw = _random_twiddles(16, 3)
    L, R = _butterfly_monarch_factors(xp.asarray(tw))
    assert_close(monarch_oracle(L, R), butterfly_oracle(tw), size=16)


def test_butterfly_to_monarch_rejects_other_operators():
    with pytest.raises(TypeError, match="expects a Butterfly"):
        C.butterfly_to_monarch(sm.Dense(np.eye(4)))
    with pytest.raises(TypeError, match="expects a Butterfly"):
        C.butterfly_to_monarch(np.eye(4))


# ---------------------------------------------------------------------- circulant / Toeplitz / convolution
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 16, 30, 64])
def test_circulant_as_monarch(n):
    rng = np.random.default_rng(n)
    c = rng.standard_normal(n)
    Cop = C.circulant_as_monarch(c)
    assert_structured(Cop)
    assert [type(f).__name__ for f in Cop.factors] == ["Monarch", "MonarchAdjoint"]
    assert repr(Cop).startswith("Product(Monarch(")
    assert "Adjoint(Monarch(" in repr(Cop)
    ref = scipy.linalg.circulant(c)
    assert_close(Cop.to_dense(), oracle_as(ref, np, "complex128"), rtol=1e-11)
    assert_close(structured_dense(Cop), oracle_as(ref, np, "complex128"), rtol=1e-11)
    cz = c + 1j * rng.standard_normal(n)
    assert_close(
        C.circulant_as_monarch(cz).to_dense(),
        oracle_as(scipy.linalg.circulant(cz), np, "complex128"),
        rtol=1e-11,
    )


def test_circulant_as_monarch_is_mm_star_without_padding():
    Cop = C.circulant_as_monarch(np.arange(1.0, 13.0))
    left, right = Cop.factors
    assert left.shape == right.shape == (12, 12)
    assert right.operator.shape == (12, 12)


@given(m=st.integers(1, 12), n=st.integers(1, 12), cplx=st.booleans(), seed=st.integers(0, 99))
def test_toeplitz_as_monarch(m, n, cplx, seed):
    rng = np.random.default_rng(seed)
    c, r = rng.standard_normal(m), rng.standard_normal(n)
    if cplx:
        c = c + 1j * rng.standard_normal(m)
    T = C.toeplitz_as_monarch(c, r)
    assert T.shape == (m, n)
    assert_structured(T)
    assert_close(T.to_dense(), oracle_as(scipy.linalg.toeplitz(c, r), np, "complex128"), rtol=1e-11)
    assert_close(
        structured_dense(T), oracle_as(scipy.linalg.toeplitz(c, r), np, "complex128"), rtol=1e-11
    )


def test_toeplitz_default_row_is_conjugate():
    c = np.array([1.0 + 2j, 3.0 - 1j, 0.5j])
    assert_close(C.toeplitz_as_monarch(c).to_dense(), scipy.linalg.toeplitz(c), rtol=1e-12)


@given(nh=st.integers(1, 9), n=st.integers(1, 9), mode=st.sampled_from(["full", "same", "valid"]))
def test_convolution_as_monarch(nh, n, mode):
    h = np.random.default_rng(nh * 10 + n).standard_normal(nh)
    K = C.convolution_as_monarch(h, n, mode)
    assert_structured(K)
    ref = convolve_matrix(h, n, mode)
    assert_close(K.to_dense(), oracle_as(ref, np, "complex128"), rtol=1e-11)
    x = np.random.default_rng(1).standard_normal(n)
    assert_close(K @ x, oracle_as(np.convolve(h, x, mode), np, "complex128"), rtol=1e-11)


def test_fourier_family_backends(xp):
    rng = np.random.default_rng(0)
    c = rng.standard_normal(12)
    assert_close(
        to_numpy(C.circulant_as_monarch(xp.asarray(c)).to_dense()),
        oracle_as(scipy.linalg.circulant(c), np, "complex128"),
        size=12,
    )
    r = rng.standard_normal(5)
    T = C.toeplitz_as_monarch(xp.asarray(c[:7]), xp.asarray(r))
    assert T.xp is xp
    assert_close(
        to_numpy(T.to_dense()),
        oracle_as(scipy.linalg.toeplitz(c[:7], r), np, "complex128"),
        size=12,
    )
    h = xp.asarray(c[:4])
    Kop = C.convolution_as_monarch(h, 6, "same")
    assert_close(
        to_numpy(Kop.to_dense()),
        oracle_as(convolve_matrix(c[:4], 6, "same"), np, "complex128"),
        size=12,
    )
    c32 = xp.asarray(c.astype(np.float32))
    C32 = C.circulant_as_monarch(c32)
    assert C32.dtype == xp.complex64
    assert_close(
        to_numpy(C32.to_dense()), oracle_as(scipy.linalg.circulant(c), np, "complex64"), size=12
    )


@pytest.mark.parametrize(
    ("call", "err", "match"),
    [
        (lambda: C.circulant_as_monarch(np.ones((2, 2))), ValueError, "1-d"),
        (lambda: C.circulant_as_monarch(np.ones(0)), ValueError, "non-empty"),
        (lambda: C.circulant_as_monarch(np.arange(4)), TypeError, "dtype"),
        (lambda: C.toeplitz_as_monarch(np.ones(3), np.ones((2, 2))), ValueError, "1-d"),
        (lambda: C.convolution_as_monarch(np.ones(3), 4, "middle"), ValueError, "mode"),
        (lambda: C.convolution_as_monarch(np.ones(3), 0), ValueError, "n must be an integer >= 1"),
    ],
)
def test_fourier_family_errors(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_good_size_is_composite_smooth():
    for need in range(1, 200):
        N = _good_size(need)
        assert N >= need
        K = _default_split(N)[0]
        assert 1 < K < N

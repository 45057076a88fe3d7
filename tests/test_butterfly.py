"""Butterfly: pair-rule oracle, multiply on every backend, structure, Monarch form, projection.

Oracles: the dense matrix built level by level from the pair rule of
DESIGN.md §5 with plain loops, ``numpy.fft`` for the DFT, the Monarch element
formula of DESIGN.md §4 written as an einsum, and dense NumPy norms.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
from _helpers import butterfly_oracle, oracle_as
from hypothesis import given
from hypothesis import strategies as st

import structmat as sm
from structmat.butterfly import Butterfly, bit_reversal
from structmat.linop import Product
from structmat.testing import EXACT_RTOL, assert_close, to_numpy, tolerance

DTYPES = ["float32", "float64", "complex64", "complex128"]


def rand_tw(rng: np.random.Generator, L: int, dtype: str) -> np.ndarray:
    tw = rng.standard_normal((L, 2 ** (L - 1), 2, 2))
    if dtype.startswith("complex"):
        tw = tw + 1j * rng.standard_normal(tw.shape)
    return tw.astype(dtype)


def dft_twiddles(n: int) -> np.ndarray:
    """DESIGN.md §5: tw[l, g*s+o] = [[1, ω_k^o], [1, -ω_k^o]], k = 2s."""
    L = n.bit_length() - 1
    tw = np.empty((L, n // 2, 2, 2), dtype=np.complex128)
    for ell in range(L):
        s = 2**ell
        for g in range(n // (2 * s)):
            for o in range(s):
                w = np.exp(-2j * np.pi * o / (2 * s))
                tw[ell, g * s + o] = [[1, w], [1, -w]]
    return tw


# ---------------------------------------------------------------------- multiply
@given(
    L=st.integers(1, 5),
    inc=st.booleans(),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**31),
)
def test_multiply_matches_pair_rule(xp, L, inc, dtype, seed):
    rng = np.random.default_rng(seed)
    n = 2**L
    tw = rand_tw(rng, L, dtype)
    D = butterfly_oracle(tw, inc)
    B = Butterfly(xp.asarray(tw), increasing_stride=inc)
    X = rng.standard_normal((3, n, 2)).astype(dtype)
    size = n * L
    assert_close(B.to_dense(), oracle_as(D, xp, dtype), size=size)
    assert_close(B @ xp.asarray(X[0, :, 0]), oracle_as(D @ X[0, :, 0], xp, dtype), size=size)
    assert_close(B @ xp.asarray(X[0]), oracle_as(D @ X[0], xp, dtype), size=size)
    assert_close(B @ xp.asarray(X), oracle_as(D @ X, xp, dtype), size=size)
    assert_close(B.H @ xp.asarray(X[1]), oracle_as(D.conj().T @ X[1], xp, dtype), size=size)
    assert_close(B.T @ xp.asarray(X[1]), oracle_as(D.T @ X[1], xp, dtype), size=size)
    out = B @ xp.asarray(X[0])
    assert out.dtype == B.dtype


def test_dtype_promotion():
    B = Butterfly.random(8, dtype="float32", seed=0)
    assert (B @ np.ones(8, dtype=np.float32)).dtype == np.float32
    assert (B @ np.ones(8, dtype=np.complex64)).dtype == np.complex64
    assert (B @ np.ones(8, dtype=np.float64)).dtype == np.float64


def test_structure():
    rng = np.random.default_rng(0)
    tw = rand_tw(rng, 3, "complex128")
    B = Butterfly(tw)
    assert isinstance(B.H, Butterfly)
    assert not B.H.increasing_stride
    assert isinstance(B.T, Butterfly)
    assert not B.T.increasing_stride
    assert B.H.H is B
    assert B.T.T is B
    assert_close(B.conj().to_dense(), butterfly_oracle(tw, True).conj())
    assert B.parameter_count == 3 * 4 * 4
    assert B.flops(5) == 3 * 4 * 4 * 5
    assert repr(B) == "Butterfly(8x8, increasing, complex128)"
    assert repr(B.H) == "Butterfly(8x8, decreasing, complex128)"
    assert B.n == 8
    assert B.levels == 3


def test_level_values_are_ks_factors():
    from structmat.ks import ks_to_dense

    rng = np.random.default_rng(1)
    tw = rand_tw(rng, 4, "float64")
    B = Butterfly(tw)
    D = np.eye(16)
    for ell in range(4):
        D = ks_to_dense(B.level_values(ell)) @ D
    assert_close(D, butterfly_oracle(tw, True))
    with pytest.raises(ValueError, match="level must be in"):
        B.level_values(4)


def test_to_backends_and_dtypes(xp):
    B = Butterfly.random(16, dtype="complex128", kind="gaussian", seed=2)
    C = B.to(xp=xp)
    assert C.xp is xp
    assert isinstance(C, Butterfly)
    assert_close(C.to_dense(), oracle_as(B.to_dense(), xp))
    D = C.to(dtype=xp.complex64)
    assert D.dtype == xp.complex64
    assert_close(
        D.to_dense(), oracle_as(B.to_dense(), xp, "complex64"), rtol=tolerance(np.complex64, 64)
    )


# ---------------------------------------------------------------------- constructors
def test_random_and_identity(xp):
    for dtype in ("float64", "complex128"):
        B = Butterfly.random(32, dtype=dtype, xp=xp, seed=3)
        D = to_numpy(B.to_dense())
        assert np.allclose(D.conj().T @ D, np.eye(32), atol=1e-12)
    G = Butterfly.random(1024, kind="gaussian", seed=4)
    x = np.random.default_rng(0).standard_normal(1024)
    ratio = np.linalg.norm(G @ x) / np.linalg.norm(x)
    assert 0.3 < ratio < 3  # norm preserved in expectation
    identity = Butterfly.identity(16, increasing_stride=False, dtype="float32", xp=xp)
    assert identity.dtype == xp.float32
    assert_close(identity.to_dense(), oracle_as(np.eye(16), xp, "float32"))
    assert (
        Butterfly.random(8, seed=5).to_dense().tolist()
        == Butterfly.random(8, seed=5).to_dense().tolist()
    )


def test_dft_as_butterfly():
    for n in (2, 8, 64):
        F = Butterfly(dft_twiddles(n)) @ sm.Permutation(bit_reversal(n))
        assert_close(F.to_dense(), np.fft.fft(np.eye(n), axis=0), size=n)
    assert bit_reversal(8).tolist() == [0, 4, 2, 6, 1, 5, 3, 7]


def test_kaleidoscope_product():
    B = Butterfly.random(16, kind="gaussian", seed=6, dtype="complex128")
    C = Butterfly.random(16, kind="gaussian", seed=7, dtype="complex128")
    K = B @ C.H
    assert isinstance(K, Product)
    assert_close(K.to_dense(), to_numpy(B.to_dense()) @ to_numpy(C.to_dense()).conj().T)


# ---------------------------------------------------------------------- Monarch form
def monarch_element(L: np.ndarray, R: np.ndarray) -> np.ndarray:
    """DESIGN.md §4 with r = 1: M[sig*J + j, a*p + t] = L[j, sig, a] R[a, j, t]."""
    J, s, K = L.shape
    _, _, p = R.shape
    M = np.zeros((s * J, K * p), dtype=np.result_type(L, R))
    for sig in range(s):
        for j in range(J):
            for a in range(K):
                M[sig * J + j, a * p : (a + 1) * p] = L[j, sig, a] * R[a, j, :]
    return M


@pytest.mark.parametrize("L", [1, 2, 3, 4, 5])
def test_monarch_factors(L):
    rng = np.random.default_rng(L)
    tw = rand_tw(rng, L, "complex128")
    Lf, R = Butterfly(tw).monarch_factors()
    p = 2 ** ((L + 1) // 2)
    n = 2**L
    assert Lf.shape == (p, n // p, n // p)
    assert R.shape == (n // p, p, p)
    assert_close(monarch_element(Lf, R), butterfly_oracle(tw, True), size=n)
    with pytest.raises(ValueError, match="increasing-stride"):
        Butterfly(tw, increasing_stride=False).monarch_factors()


def test_to_monarch():
    rng = np.random.default_rng(8)
    tw = rand_tw(rng, 5, "float64")
    M = Butterfly(tw).to_monarch()
    assert type(M).__name__ == "Monarch"
    assert_close(M.to_dense(), butterfly_oracle(tw, True), size=32)
    Md = Butterfly(tw, increasing_stride=False).to_monarch()
    assert_close(Md.to_dense(), butterfly_oracle(tw, False), size=32)


# ---------------------------------------------------------------------- projection
@given(
    L=st.integers(1, 7),
    dtype=st.sampled_from(["float64", "complex128"]),
    seed=st.integers(0, 2**31),
)
def test_project_recovers_butterflies(L, dtype, seed):
    rng = np.random.default_rng(seed)
    tw = rand_tw(rng, L, dtype)
    A = butterfly_oracle(tw, True).astype(dtype)
    res = Butterfly.project(A)
    assert isinstance(res.operator, Butterfly)
    assert_close(res.operator.to_dense(), A, rtol=EXACT_RTOL)
    assert res.relative_error < 1e-10
    assert res.lower_bound <= res.error + 1e-12 * res.norm
    assert res.error <= res.upper_bound
    assert res.exact is False
    assert res.onto == "butterfly"


@given(
    L=st.integers(1, 6),
    dtype=st.sampled_from(["float64", "complex128"]),
    seed=st.integers(0, 2**31),
)
def test_project_with_permutation(L, dtype, seed):
    rng = np.random.default_rng(seed)
    n = 2**L
    Bd = butterfly_oracle(rand_tw(rng, L, dtype), True).astype(dtype)
    for perm in ("bitrev", rng.permutation(n)):
        idx = bit_reversal(n) if isinstance(perm, str) else perm
        P = np.eye(n)[idx]  # (P x)[i] = x[idx[i]]
        A = Bd @ P
        res = Butterfly.project(A, permutation=perm)
        assert isinstance(res.operator, Product)
        B, Pop = res.operator.factors
        assert isinstance(B, Butterfly)
        assert isinstance(Pop, sm.Permutation)
        assert_close(res.operator.to_dense(), A, rtol=EXACT_RTOL)
        assert res.relative_error < 1e-10


def test_project_dft_bitrev(xp):
    n = 256
    F = np.fft.fft(np.eye(n), axis=0)
    res = Butterfly.project(xp.asarray(F), permutation="bitrev")
    assert_close(res.operator.to_dense(), oracle_as(F, xp), rtol=EXACT_RTOL)
    assert res.relative_error < 1e-10
    x = np.random.default_rng(0).standard_normal((n, 3)) + 0j
    assert_close(
        res.operator @ xp.asarray(x), oracle_as(np.fft.fft(x, axis=0), xp), rtol=EXACT_RTOL
    )
    assert res.params == {"permutation": "bitrev"}
    # without the permutation the DFT is far from a butterfly
    plain = Butterfly.project(F)
    assert plain.lower_bound > 0.1 * plain.norm


@given(
    L=st.integers(2, 7),
    noise=st.sampled_from([0.0, 1e-6, 1e-2, 1.0, 1e3]),
    dtype=st.sampled_from(["float64", "complex128"]),
    seed=st.integers(0, 2**31),
)
def test_certificate_bounds(L, noise, dtype, seed):
    rng = np.random.default_rng(seed)
    n = 2**L
    A = butterfly_oracle(rand_tw(rng, L, dtype), True).astype(dtype)
    E = rng.standard_normal((n, n))
    if dtype == "complex128":
        E = E + 1j * rng.standard_normal((n, n))
    A = A + noise * E
    res = Butterfly.project(A)
    actual = np.linalg.norm(A - to_numpy(res.operator.to_dense()))
    slack = 1e-12 * np.linalg.norm(A)
    assert abs(res.error - actual) <= slack
    assert res.lower_bound <= res.error + slack
    assert res.error <= res.upper_bound + slack
    assert res.norm == pytest.approx(np.linalg.norm(A))
    fast = Butterfly.project(A, certificate=False)
    assert fast.error == pytest.approx(res.error)
    assert fast.lower_bound <= res.lower_bound + slack
    assert fast.upper_bound == fast.error


def test_certificate_lower_bound_against_members():
    """No butterfly is closer than lower_bound: random members and the result itself."""
    rng = np.random.default_rng(9)
    A = rng.standard_normal((32, 32))
    res = Butterfly.project(A)
    for seed in range(5):
        B = Butterfly.random(32, kind="gaussian", seed=seed).to_dense()
        # the best multiple of a random butterfly
        c = np.vdot(B, A) / np.vdot(B, B)
        assert np.linalg.norm(A - c * B) >= res.lower_bound
    assert res.error >= res.lower_bound
    assert "certificate" in res.summary()


def test_project_operator_input_and_float32(xp):
    B = Butterfly.random(16, kind="gaussian", seed=10, dtype="float32", xp=xp)
    res = Butterfly.project(B)  # an operator: densified
    assert res.operator.dtype == xp.float32
    assert res.relative_error < 1e-5
    assert_close(res.operator.to_dense(), B.to_dense(), rtol=1e-5)


def test_project_n2():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    res = Butterfly.project(A)
    assert res.error == 0.0
    assert_close(res.operator.to_dense(), A)


# ---------------------------------------------------------------------- bad input
def test_bad_twiddles():
    with pytest.raises(ValueError, match=r"shape \(L, n/2, 2, 2\)"):
        Butterfly(np.ones((3, 4, 2)))
    with pytest.raises(ValueError, match=r"must have shape \(3, 4, 2, 2\)"):
        Butterfly(np.ones((3, 3, 2, 2)))
    with pytest.raises(TypeError, match="float32, float64"):
        Butterfly(np.ones((2, 2, 2, 2), dtype=np.int64))
    with pytest.raises(TypeError, match="increasing_stride must be a bool"):
        Butterfly(np.ones((2, 2, 2, 2)), increasing_stride="yes")
    B = Butterfly.random(8, seed=0)
    with pytest.raises(ValueError, match="expects input with 8 rows"):
        B @ np.ones(7)
    with pytest.raises(ValueError, match="n = 12"):
        Butterfly.random(12, radices=(2, 2))
    with pytest.raises(ValueError, match="kind must be"):
        Butterfly.random(8, kind="uniform")


def test_project_bad_input():
    with pytest.raises(ValueError, match="n = 12"):
        Butterfly.project(np.ones((12, 12)), radices=(2, 3))
    with pytest.raises(ValueError, match="'bitrev' needs n a power of 2"):
        Butterfly.project(np.ones((12, 12)), permutation="bitrev")
    with pytest.raises(ValueError, match="square matrix"):
        Butterfly.project(np.ones((8, 4)))
    A = np.ones((8, 8))
    A[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        Butterfly.project(A)
    with pytest.raises(ValueError, match="'bitrev' or an index array"):
        Butterfly.project(np.ones((8, 8)), permutation="reverse")
    with pytest.raises(ValueError, match=r"shape \(8,\)"):
        Butterfly.project(np.ones((8, 8)), permutation=np.arange(4))
    with pytest.raises(ValueError, match="exactly once"):
        Butterfly.project(np.ones((8, 8)), permutation=np.zeros(8, dtype=np.int64))


# ---------------------------------------------------------------------- fused multiply
@given(
    L=st.integers(1, 7),
    inc=st.booleans(),
    q=st.integers(1, 7),
    dtype=st.sampled_from(DTYPES),
    k=st.integers(1, 3),
    seed=st.integers(0, 2**31),
)
def test_fused_factors_match_levels_and_pair_rule(xp, L, inc, q, dtype, k, seed):
    """Every fusion depth: chain of fused KS factors == level by level == pair-rule oracle."""
    from structmat.ks import ks_chain_matmat

    rng = np.random.default_rng(seed)
    n = 2**L
    tw = rand_tw(rng, L, dtype)
    D = butterfly_oracle(tw, inc)
    B = Butterfly(xp.asarray(tw), increasing_stride=inc)
    plan = B.fused_plan(q)
    starts = [r[0] for r in plan]
    assert starts == sorted(starts, reverse=not inc)  # runs in application order
    assert sorted(lv for r in plan for lv in range(*r)) == list(range(L))
    X = rng.standard_normal((2, n, k)).astype(dtype)
    size = n * L
    fused = ks_chain_matmat(B.fused_factors(q), xp.asarray(X))
    levels = B._run_levels(xp.asarray(X))
    assert_close(fused, oracle_as(D @ X, xp, dtype), size=size)
    assert_close(levels, oracle_as(D @ X, xp, dtype), size=size)
    assert_close(fused, oracle_as(levels, xp, dtype), size=size)


def test_fused_plan_and_cache():
    B = Butterfly.random(2**7, seed=0)
    assert B.fused_plan() == [(0, 2), (2, 4), (4, 7)]
    assert B.fused_plan(4) == [(0, 3), (3, 7)]
    assert B.fused_plan(1) == [(i, i + 1) for i in range(7)]
    assert B.H.fused_plan() == [(4, 7), (2, 4), (0, 2)]
    assert B.fused_factors() is B.fused_factors()  # cached
    M = B.fused_factors(3)
    assert [m.shape for m in M] == [(32, 1, 4, 4), (8, 4, 4, 4), (1, 16, 8, 8)]
    assert B.fused_factors(dtype=np.float32)[0].dtype == np.float32
    with pytest.raises(ValueError, match="levels_per_factor must be an integer >= 1, got 0"):
        B.fused_plan(0)


@pytest.mark.parametrize("inc", [True, False])
def test_real_butterfly_complex_input(xp, inc):
    """A real butterfly on complex data (NumPy: parts as 2k real columns) and mixed precisions."""
    rng = np.random.default_rng(11)
    tw = rand_tw(rng, 6, "float64")
    D = butterfly_oracle(tw, inc)
    B = Butterfly(xp.asarray(tw), increasing_stride=inc)
    X = rng.standard_normal((64, 5)) + 1j * rng.standard_normal((64, 5))
    Y = B @ xp.asarray(X)
    assert Y.dtype == xp.complex128
    assert_close(Y, oracle_as(D @ X, xp), size=64 * 6)
    X3 = np.stack([X, 2 * X])
    assert_close(B @ xp.asarray(X3), oracle_as(D @ X3, xp), size=64 * 6)
    B32 = B.to(dtype=xp.float32)
    Y32 = B32 @ xp.asarray(X.astype(np.complex64))
    assert Y32.dtype == xp.complex64
    assert_close(Y32, oracle_as(D @ X, xp, "complex64"), rtol=tolerance(np.complex64, 64 * 6))
    assert_close(B32 @ xp.asarray(X), oracle_as(D @ X, xp), rtol=tolerance(np.complex64, 64 * 6))


def test_dft_construction_multiply():
    """The DFT construction multiplies through the fused path and equals scipy.fft."""
    from structmat.constructions import dft_as_butterfly

    n = 1024
    F = dft_as_butterfly(n)
    X = np.random.default_rng(12).standard_normal((n, 4)) + 0j
    assert_close(F @ X, scipy.fft.fft(X, axis=0), size=n)
    assert_close(F @ X[:, 0], scipy.fft.fft(X[:, 0]), size=n)


# ---------------------------------------------------------------------- certificate vs SVD oracle
def support(a: int, b: int, c: int, d: int) -> np.ndarray:
    """Support of KS(a, b, c, d) from the element formula (DESIGN.md §4a)."""
    S = np.zeros((a * b * d, a * c * d), dtype=bool)
    for i in range(a):
        for j in range(b):
            for k in range(c):
                for o in range(d):
                    S[i * b * d + j * d + o, i * c * d + k * d + o] = True
    return S


def exact_split_errors(A: np.ndarray) -> np.ndarray:
    """ε_t(A), t = 1 … L-1: two-factor error at split KS(1, 2^t, 2^t, s)·KS(2^t, s, s, 1).

    Groups of intermediate indices by (row set, column set) of the supports; per
    group a truncated SVD (rank = group size) of A restricted to the block; the
    entries outside every block are lost. Trailing singular values are summed
    directly (no cancellation).
    """
    n = A.shape[0]
    L = n.bit_length() - 1
    out = []
    for t in range(1, L):
        s = n >> t
        left, right = support(1, 2**t, 2**t, s), support(2**t, s, s, 1)
        groups: dict[tuple[bytes, bytes], int] = {}
        for k in range(n):
            key = (left[:, k].tobytes(), right[k, :].tobytes())
            groups[key] = groups.get(key, 0) + 1
        covered = np.zeros((n, n), dtype=bool)
        err2 = 0.0
        for (rk, ck), size in groups.items():
            rows = np.frombuffer(rk, dtype=bool)
            cols = np.frombuffer(ck, dtype=bool)
            covered |= np.outer(rows, cols)
            sv = np.linalg.svd(A[np.ix_(rows, cols)], compute_uv=False)
            err2 += float(np.sum(sv[size:] ** 2))
        err2 += float(np.sum(np.abs(A[~covered]) ** 2))
        out.append(np.sqrt(err2))
    return np.array(out)


def cert_inputs(rng, L, dtype, kind):
    n = 2**L
    E = rng.standard_normal((n, n))
    if dtype == "complex128":
        E = E + 1j * rng.standard_normal((n, n))
    if kind == "gaussian":
        return E
    if kind == "noisy":
        return butterfly_oracle(rand_tw(rng, L, dtype), True) + 1e-3 * E
    if kind == "lowrank":  # nearly rank one: well separated top singular values
        return np.outer(E[:, 0], E[0]) + 0.05 * E
    return np.fft.fft(np.eye(n), axis=0) + 1e-2 * E  # DFT without bit reversal, noisy


@pytest.mark.parametrize("gram_all", [8, 2, 0])
@given(
    L=st.integers(2, 6),
    dtype=st.sampled_from(["float64", "complex128"]),
    kind=st.sampled_from(["gaussian", "noisy", "lowrank", "dft"]),
    seed=st.integers(0, 2**31),
)
def test_certificate_valid_against_svd_oracle(gram_all, L, dtype, kind, seed):
    """lower_bound <= max_t ε_t; error <= upper_bound <= min(sqrt(Σ ε_t²), ||A||), ε_t by SVD.

    gram_all = 8: Gram bounds at every split; 2: only at the two splits with a
    shorter side 2^min(3, ...) (the large-n path); 0 with no side splits: only the
    free bounds ε_t <= sqrt(Σ_{τ<=t} e_τ²).
    """
    import structmat._butterfly_project as bm

    rng = np.random.default_rng(seed)
    A = cert_inputs(rng, L, dtype, kind)
    eps = exact_split_errors(A)
    saved = bm._GRAM_ALL_LEVELS, bm._GRAM_SIDE_LEVELS
    try:
        bm._GRAM_ALL_LEVELS, bm._GRAM_SIDE_LEVELS = gram_all, (3 if gram_all else 99)
        res = Butterfly.project(A)
    finally:
        bm._GRAM_ALL_LEVELS, bm._GRAM_SIDE_LEVELS = saved
    nrm = np.linalg.norm(A)
    tiny = 1e-13 * nrm
    assert res.lower_bound <= eps.max() + tiny
    assert res.lower_bound <= res.error + tiny <= res.upper_bound + 2 * tiny
    actual = np.linalg.norm(A - to_numpy(res.operator.to_dense()))
    assert abs(actual - res.error) <= tiny
    assert actual <= res.upper_bound + tiny
    # the smallest guarantee known: never the a-priori bound where the error is below it
    assert res.upper_bound <= min(np.sqrt(np.sum(eps**2)), nrm) + tiny


@given(
    L=st.integers(2, 6),
    dtype=st.sampled_from(["float64", "complex128"]),
    kind=st.sampled_from(["gaussian", "noisy", "lowrank", "dft"]),
    seed=st.integers(0, 2**31),
)
def test_split_gram_bounds_bracket_exact(L, dtype, kind, seed):
    """lower <= Σ_B sigma_1(B)² <= upper at every split (exact: SVD oracle)."""
    from array_api_compat import numpy as cnp

    from structmat._butterfly_project import _split_gram_bounds

    rng = np.random.default_rng(seed)
    A = cert_inputs(rng, L, dtype, kind)
    eps = exact_split_errors(A)
    total = np.linalg.norm(A) ** 2
    for t in range(1, L):
        top = total - eps[t - 1] ** 2  # Σ sigma_1² (groups have size one)
        lo, up = _split_gram_bounds(cnp, A, t)
        slack = 1e-12 * total
        assert lo <= top + slack
        assert top <= up + slack


def test_certificate_tightness_gaussian():
    """Bounds stay useful on a matrix far from butterflies (not only valid)."""
    A = np.random.default_rng(13).standard_normal((64, 64))
    eps = exact_split_errors(A)
    res = Butterfly.project(A)
    assert res.lower_bound >= 0.9 * eps.max()
    assert res.upper_bound <= 1.2 * np.sqrt(np.sum(eps**2))


def test_certificate_interval_stays_below_the_zero_matrix():
    """Where sqrt(Σ ε_t²) passes ||A||_F, the interval on the distance stops at the error.

    The zero matrix is a butterfly, so ||A||_F bounds the distance; the returned
    error is known and below it. On this Gaussian the a-priori bound is 1.6 ||A||_F.
    """
    from structmat.cli import _certificate

    A = np.random.default_rng(0).standard_normal((64, 64))
    eps = exact_split_errors(A)
    nrm = np.linalg.norm(A)
    assert np.sqrt(np.sum(eps**2)) > 1.5 * nrm  # the case: the old upper_bound
    res = Butterfly.project(A)
    actual = np.linalg.norm(A - res.operator.to_dense())
    assert actual <= res.upper_bound <= actual + 1e-12 * nrm
    assert res.upper_bound <= nrm
    assert res.lower_bound >= 0.7 * nrm  # and the lower bound is still informative
    lo, hi = (float(v) for v in _certificate(res).strip("[]").split(","))
    assert lo <= hi <= 1.0
    guarantee = float(res.summary().split("error <= ")[1].split()[0])
    assert guarantee <= nrm * (1 + 1e-5)


def test_project_backends_agree(xp):
    """The hierarchy and the certificate on every backend equal the NumPy result."""

    rng = np.random.default_rng(14)
    for dtype in ("float64", "complex128"):
        A = cert_inputs(rng, 6, dtype, "noisy")
        ref = Butterfly.project(A)
        res = Butterfly.project(xp.asarray(A))
        assert res.error == pytest.approx(ref.error, rel=1e-10)
        assert res.lower_bound == pytest.approx(ref.lower_bound, rel=1e-6)  # cancellation
        assert res.upper_bound == pytest.approx(ref.upper_bound, rel=1e-6)
        assert_close(
            res.operator.to_dense(), oracle_as(ref.operator.to_dense(), xp), rtol=EXACT_RTOL
        )


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
def test_project_step_paths_agree(dtype):
    """NumPy steps: broadcast path, batched matmul in one chunk and in many chunks
    (over g and over l), and a Fortran-ordered input all give the same result."""
    import structmat._butterfly_project as bm

    rng = np.random.default_rng(15)
    A = cert_inputs(rng, 7, "complex128" if "complex" in dtype else "float64", "noisy")
    A = A.astype(dtype)
    saved = bm._STEP_MATMUL_MIN, bm._STEP_CHUNK_BYTES
    results = []
    try:
        for min_s, chunk in [(10**9, 1 << 21), (1, 1 << 21), (1, 64), (1, 3000)]:
            bm._STEP_MATMUL_MIN, bm._STEP_CHUNK_BYTES = min_s, chunk
            results.append(Butterfly.project(A))
        results.append(Butterfly.project(np.asfortranarray(A)))
    finally:
        bm._STEP_MATMUL_MIN, bm._STEP_CHUNK_BYTES = saved
    rtol = tolerance(np.dtype(dtype), 128)
    ref = results[0]
    D = ref.operator.to_dense()
    for other in results[1:]:
        assert other.error == pytest.approx(ref.error, rel=rtol)
        assert_close(other.operator.to_dense(), D, rtol=rtol)
    assert ref.relative_error < 1e-2


@pytest.mark.parametrize("n", [2, 8, 64, 256])
def test_permuted_projection_equals_projection_of_the_permuted_matrix(xp, n):
    """``project(A, permutation=idx)`` never forms ``A[:, idx]`` (the first step
    gathers per chunk); it must agree with projecting ``A[:, idx]`` outright."""
    rng = np.random.default_rng(n)
    idx = rng.permutation(n)
    tw = rng.standard_normal((n.bit_length() - 1, n // 2, 2, 2))
    B = butterfly_oracle(tw, True)
    A = B[:, np.argsort(idx)] + 0.1 * rng.standard_normal((n, n))  # near B P
    Ax = xp.asarray(A)
    res = Butterfly.project(Ax, permutation=xp.asarray(idx))
    ref = Butterfly.project(xp.asarray(A[:, idx]))
    assert res.error == pytest.approx(ref.error, rel=1e-12)
    assert res.lower_bound == pytest.approx(ref.lower_bound, rel=1e-12)
    assert res.upper_bound == pytest.approx(ref.upper_bound, rel=1e-12)
    dense = to_numpy(res.operator.to_dense())
    assert_close(dense[:, idx], to_numpy(ref.operator.to_dense()), size=n)
    # the reported error is the actual Frobenius error of the returned operator
    assert np.linalg.norm(A - dense) == pytest.approx(res.error, rel=1e-10)


def test_float32_projection_error_is_the_error_of_its_factors():
    """The reported error of a float32 projection is summed in double precision.

    Oracle: the residual of the returned float32 factors, in float64. A float32
    sum over chunks of the discarded energy was off by about 1e-7 relative at
    this size.
    """
    A = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    res = sm.project(A, "butterfly")
    assert res.operator.dtype == np.float32
    true = np.linalg.norm(A.astype(np.float64) - res.operator.to_dense().astype(np.float64))
    assert abs(res.error - true) <= 1e-8 * true

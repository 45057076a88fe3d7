"""Kronecker-sparse factors and chains: element formula, multiply, adjoint, projection, builders.

Oracles: the element formula of DESIGN.md §4a written as plain loops, NumPy
dense products, and a per-group SVD of the blocks found from the dense
supports (independent of the grouping code under test).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _helpers import ks_oracle, oracle_as, random_array
from hypothesis import given
from hypothesis import strategies as st

import structmat as sm
from structmat.ks import (
    KSChain,
    KSFactor,
    chain_shape,
    chainable,
    ks_blocked,
    ks_chain_matmat,
    ks_matmat,
    ks_project_two,
    ks_project_two_error,
    ks_rmatmat,
    ks_shape,
    ks_to_dense,
    mixed_radix,
    monarch,
    square_dyadic,
)
from structmat.ks._multiply import _chain_by_factor
from structmat.ks._tiled import chain_matmat_tiled, chain_matvec
from structmat.testing import assert_close, to_numpy, tolerance
from structmat.testing.checks import check_linear_operator

DTYPES = ["float32", "float64", "complex64", "complex128"]


patterns = st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 6), st.integers(1, 4))


# ---------------------------------------------------------------------- multiply
@given(pattern=patterns, dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**31))
def test_matmat_matches_element_formula(xp, pattern, dtype, seed):
    rng = np.random.default_rng(seed)
    T = random_array(rng, pattern, dtype)
    F = ks_oracle(T)
    X = random_array(rng, (3, F.shape[1], 2), dtype)
    Tx = xp.asarray(T)
    assert_close(
        ks_matmat(Tx, xp.asarray(X[0, :, 0])), oracle_as(F @ X[0, :, 0], xp), size=F.shape[1]
    )
    assert_close(ks_matmat(Tx, xp.asarray(X[0])), oracle_as(F @ X[0], xp), size=F.shape[1])
    assert_close(ks_matmat(Tx, xp.asarray(X)), oracle_as(F @ X, xp), size=F.shape[1])
    assert_close(ks_to_dense(Tx), oracle_as(F, xp))
    Y = random_array(rng, (F.shape[0], 2), dtype)
    assert_close(ks_rmatmat(Tx, xp.asarray(Y)), oracle_as(F.conj().T @ Y, xp), size=F.shape[0])


def test_matmat_paths_agree():
    """d == 1 (matmul), narrow c (broadcast) and wide c (transposed matmul) paths."""
    rng = np.random.default_rng(0)
    for pattern in [(3, 4, 5, 1), (2, 3, 2, 4), (2, 3, 4, 3), (2, 3, 7, 3), (1, 5, 9, 2)]:
        T = random_array(rng, pattern, "complex128")
        X = random_array(rng, (pattern[0] * pattern[2] * pattern[3], 3), "float64")
        assert_close(ks_matmat(T, X), ks_oracle(T) @ X, size=64)


def test_promotion_and_float32():
    T = np.ones((1, 2, 2, 1), dtype=np.float32)
    assert ks_matmat(T, np.ones(2, dtype=np.float32)).dtype == np.float32
    assert ks_matmat(T, np.ones(2, dtype=np.complex64)).dtype == np.complex64


def test_shape():
    assert ks_shape((2, 3, 4, 5)) == (30, 40)


def test_ksfactor_operator(xp):
    rng = np.random.default_rng(1)
    T = random_array(rng, (2, 3, 4, 2), "complex128")
    F = KSFactor(xp.asarray(T))
    D = ks_oracle(T)
    assert F.shape == D.shape
    assert_close(F.to_dense(), oracle_as(D, xp))
    assert_close(F.H.to_dense(), oracle_as(D.conj().T, xp))
    assert_close(F.T.to_dense(), oracle_as(D.T, xp))
    assert isinstance(F.H, KSFactor)
    assert F.H.H is F
    assert F.parameter_count == T.size
    assert F.flops(3) == T.size * 3
    x = random_array(rng, (5, D.shape[1], 2), "complex128")
    assert_close(F @ xp.asarray(x), oracle_as(D @ x, xp), size=16)
    assert repr(F) == "KSFactor(pattern=(2, 3, 4, 2), complex128)"
    G = F.to(dtype=xp.complex64)
    assert G.dtype == xp.complex64
    assert_close(G.to_dense(), oracle_as(D, xp, "complex64"), rtol=tolerance(np.complex64, 16))


def test_bad_values():
    with pytest.raises(ValueError, match="shape \\(a, b, c, d\\)"):
        ks_matmat(np.ones((2, 2, 2)), np.ones(8))
    with pytest.raises(ValueError, match="expects input with 4 rows"):
        ks_matmat(np.ones((1, 2, 2, 2)), np.ones(5))
    with pytest.raises(TypeError, match="float32, float64"):
        KSFactor(np.ones((1, 2, 2, 1), dtype=np.int64))
    with pytest.raises(ValueError, match="four positive ints"):
        ks_shape((1, 0, 2, 2))


# ---------------------------------------------------------------------- projection
def support(pattern: tuple[int, int, int, int]) -> np.ndarray:
    return ks_oracle(np.ones(pattern)) != 0


def projection_oracle(A: np.ndarray, left, right) -> float:
    """Optimal error found from the dense supports and per-group SVDs."""
    SL, SR = support(left), support(right)
    groups: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}
    for m in range(SL.shape[1]):
        key = (tuple(np.flatnonzero(SL[:, m])), tuple(np.flatnonzero(SR[m, :])))
        groups[key] = groups.get(key, 0) + 1
    covered = np.zeros(A.shape, dtype=bool)
    err2 = 0.0
    for (rows, cols), r in groups.items():
        blk = A[np.ix_(rows, cols)]
        covered[np.ix_(rows, cols)] = True
        s = np.linalg.svd(blk, compute_uv=False)
        err2 += float(np.sum(s[r:] ** 2))
    err2 += float(np.sum(np.abs(A[~covered]) ** 2))
    return float(np.sqrt(err2))


pattern_pairs = st.sampled_from(
    [
        ((1, 4, 4, 4), (4, 4, 4, 1)),  # Monarch-like
        ((1, 2, 2, 8), (2, 8, 8, 1)),  # butterfly first split
        ((2, 2, 2, 2), (4, 2, 2, 1)),
        ((2, 3, 2, 2), (4, 2, 3, 1)),
        ((1, 6, 3, 1), (1, 3, 5, 1)),  # low rank 3
        ((2, 2, 4, 3), (4, 3, 2, 2)),
        ((2, 2, 3, 3), (3, 2, 2, 3)),  # groups of unequal structure
        ((1, 2, 4, 2), (2, 2, 3, 2)),  # groups of size 2 on 2-row blocks
    ]
)


@given(
    pair=pattern_pairs, dtype=st.sampled_from(["float64", "complex128"]), seed=st.integers(0, 2**31)
)
def test_project_two_optimal(pair, dtype, seed):
    left, right = pair
    rng = np.random.default_rng(seed)
    A = random_array(rng, (ks_shape(left)[0], ks_shape(right)[1]), dtype)
    TL, TR, err = ks_project_two(A, left, right)
    assert TL.shape == left
    assert TR.shape == right
    actual = np.linalg.norm(A - ks_oracle(TL) @ ks_oracle(TR))
    best = projection_oracle(A, left, right)
    assert abs(err - actual) <= 1e-10 * np.linalg.norm(A)
    assert abs(err - best) <= 1e-10 * np.linalg.norm(A)
    e, lo, hi = ks_project_two_error(A, left, right)
    assert lo <= best + 1e-12
    assert best <= hi + 1e-12
    assert abs(e - best) <= 1e-9 * np.linalg.norm(A)


@given(pair=pattern_pairs, seed=st.integers(0, 2**31))
def test_project_two_recovers_products(pair, seed):
    left, right = pair
    rng = np.random.default_rng(seed)
    A = ks_oracle(random_array(rng, left, "complex128")) @ ks_oracle(
        random_array(rng, right, "complex128")
    )
    TL, TR, err = ks_project_two(A, left, right)
    assert_close(ks_oracle(TL) @ ks_oracle(TR), A, size=64)
    assert err <= 1e-12 * np.linalg.norm(A)


def test_project_two_left_factor_orthonormal_per_group():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((16, 16))
    TL, _, _ = ks_project_two(A, (1, 4, 4, 4), (4, 4, 4, 1))
    cols = np.linalg.norm(ks_oracle(TL), axis=0)
    assert np.allclose(cols, 1.0)


def test_project_two_batched_and_backends(xp):
    rng = np.random.default_rng(4)
    A = random_array(rng, (3, 8, 8), "complex128")
    TL, TR, err = ks_project_two(xp.asarray(A), (1, 2, 2, 4), (2, 4, 4, 1))
    assert tuple(TL.shape) == (3, 1, 2, 2, 4)
    assert tuple(TR.shape) == (3, 2, 4, 4, 1)
    for k in range(3):
        best = projection_oracle(A[k], (1, 2, 2, 4), (2, 4, 4, 1))
        assert abs(float(to_numpy(err)[k]) - best) < 1e-10 * np.linalg.norm(A[k])
        P = ks_oracle(to_numpy(TL)[k]) @ ks_oracle(to_numpy(TR)[k])
        assert abs(np.linalg.norm(A[k] - P) - best) < 1e-10 * np.linalg.norm(A[k])


def test_project_two_zero_and_rank_deficient():
    TL, TR, err = ks_project_two(np.zeros((8, 8)), (1, 2, 2, 4), (2, 4, 4, 1))
    assert err == 0.0
    assert np.all(np.isfinite(TL))
    assert np.all(TR == 0)
    A = np.zeros((8, 8))
    A[4:, :] = 1.0  # second rows only: a zero first row in every 2 x 4 block
    TL, TR, err = ks_project_two(A, (1, 2, 2, 4), (2, 4, 4, 1))
    assert err < 1e-14
    assert_close(ks_oracle(TL) @ ks_oracle(TR), A)


def test_error_bounds_inexact():
    rng = np.random.default_rng(5)
    B = ks_oracle(random_array(rng, (1, 8, 8, 8), "float64")) @ ks_oracle(
        random_array(rng, (8, 8, 8, 1), "float64")
    )
    for A in (rng.standard_normal((64, 64)), B + 1e-4 * rng.standard_normal((64, 64))):
        best = projection_oracle(A, (1, 8, 8, 8), (8, 8, 8, 1))
        _, lo, hi = ks_project_two_error(A, (1, 8, 8, 8), (8, 8, 8, 1), exact=False)
        assert lo <= best <= hi


def test_project_two_bad_input():
    A = np.ones((8, 8))
    with pytest.raises(ValueError, match="inner dimensions differ"):
        ks_project_two(A, (1, 2, 2, 4), (2, 2, 4, 1))
    with pytest.raises(ValueError, match=r"need A of shape \(\.\.\., 8, 8\)"):
        ks_project_two(np.ones((8, 4)), (1, 2, 2, 4), (2, 4, 4, 1))
    with pytest.raises(TypeError, match="floating"):
        ks_project_two(np.ones((8, 8), dtype=np.int64), (1, 2, 2, 4), (2, 4, 4, 1))
    with pytest.raises(ValueError, match="four positive ints"):
        ks_project_two(A, (1, 2, 2), (2, 4, 4, 1))
    with pytest.raises(ValueError, match="2-d A"):
        ks_project_two_error(np.ones((2, 8, 8)), (1, 2, 2, 4), (2, 4, 4, 1))


ENGINE_PAIRS = [
    ((1, 4, 4, 4), (4, 4, 4, 1)),  # Monarch-like, rank 1
    ((1, 2, 2, 8), (2, 8, 8, 1)),  # butterfly split: "auto" takes the closed form
    ((1, 3, 3, 64), (3, 64, 64, 1)),  # mixed-radix split: 3 x 64 blocks, rank 1
    ((2, 3, 3, 1), (3, 2, 4, 1)),  # groups of sizes 2 and 1 (two buckets) and dead blocks
    ((2, 40, 9, 1), (3, 6, 50, 1)),  # 40 x 50 blocks of ranks 6 and 3: the subspace iteration
    ((1, 64, 2, 1), (1, 2, 64, 1)),  # low rank 2 of one tall block
]


@pytest.mark.parametrize("pair", ENGINE_PAIRS, ids=str)
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_project_two_every_engine_same_product_and_error(pair, dtype):
    """``engine=`` changes the truncated SVD, not the result: every engine's product
    and error equal per-group numpy.linalg.svd's optimum to 1e-10, with the left
    factor orthonormal within each group."""
    left, right = pair
    rng = np.random.default_rng(21)
    A = random_array(rng, (ks_shape(left)[0], ks_shape(right)[1]), dtype)
    best = projection_oracle(A, left, right)
    SL, SR = (ks_oracle(np.ones(p)) != 0 for p in pair)
    # row sets partition the rows: columns m, m' share a row iff they have the same set
    same_rows = (SL.T.astype(int) @ SL.astype(int)) > 0
    same_group = same_rows & ((SR.astype(int) @ SR.T.astype(int)) > 0)
    for engine in ("auto", "svd", "eigh", "subspace"):
        TL, TR, err = ks_project_two(A, left, right, engine=engine)
        P = ks_oracle(TL) @ ks_oracle(TR)
        assert abs(np.linalg.norm(A - P) - best) <= 1e-10 * best, engine
        assert abs(err - best) <= 1e-10 * best, engine
        X = ks_oracle(TL)
        gram = X.conj().T @ X  # orthonormal columns within a group
        eye = np.eye(X.shape[1], dtype=X.dtype)
        assert_close(gram[same_group], eye[same_group], size=X.shape[0])
        assert np.all(gram[~same_rows] == 0)


def test_project_two_engines_exact_on_members_and_batched():
    """A member of the class is recovered to rounding by every engine (the error from
    the residual, not from ||A||² - captured), per problem of a batch."""
    rng = np.random.default_rng(22)
    left, right = (2, 40, 9, 1), (3, 6, 50, 1)
    member = ks_oracle(random_array(rng, left, "float64")) @ ks_oracle(
        random_array(rng, right, "float64")
    )
    A = np.stack([member, random_array(rng, (80, 150), "float64")])
    for engine in ("auto", "svd", "eigh", "subspace"):
        TL, TR, err = ks_project_two(A, left, right, engine=engine)
        assert err.shape == (2,)
        assert err[0] <= 1e-13 * np.linalg.norm(A[0]), engine
        best = projection_oracle(A[1], left, right)
        assert abs(err[1] - best) <= 1e-10 * best, engine
        assert_close(ks_oracle(TL[0]) @ ks_oracle(TR[0]), A[0], size=150)


# Steps of a chain projection: batched problems whose group axes do not merge (the batch
# axis) read through strided views, rank-one 24 x 30 blocks and rank-two 40 x 40 ones.
MIXED_PAIRS = [((1, 24, 3, 2), (3, 2, 30, 1)), ((1, 40, 4, 2), (2, 4, 40, 1))]


@pytest.mark.parametrize("pair", MIXED_PAIRS, ids=str)
@pytest.mark.parametrize("dtype", ["float64", "complex128", "float32"])
def test_project_two_mixed_route_on_chain_steps(pair, dtype, monkeypatch):
    """Large blocks take the mixed-precision route under "auto" (single precision cast to
    double): the same error as engine="svd" and as per-group numpy.linalg.svd, to 1e-10
    (single precision: to its own rounding), with the left factor orthonormal per group."""
    from structmat import _monarch_mixed

    calls = []
    top_vectors = _monarch_mixed.top_vectors

    def spy(V, *args):
        calls.append(V.shape)
        return top_vectors(V, *args)

    monkeypatch.setattr(_monarch_mixed, "top_vectors", spy)
    left, right = pair
    rng = np.random.default_rng(24)
    A = random_array(rng, (2, ks_shape(left)[0], ks_shape(right)[1]), dtype)
    TL, TR, err = ks_project_two(A, left, right)
    assert calls
    assert calls[0][:2] == (2, right[0])  # the block view (nb, a2, a1, d1, d2, b1, c2)
    assert TL.dtype == TR.dtype == A.dtype
    _, _, err_svd = ks_project_two(A, left, right, engine="svd")
    rtol = 1e-10 if dtype != "float32" else tolerance(np.float32, A[0].size)
    SL, SR = (ks_oracle(np.ones(p)) != 0 for p in pair)
    same_group = ((SL.T.astype(int) @ SL.astype(int)) > 0) & ((SR.astype(int) @ SR.T) > 0)
    for k in range(2):
        Ak = A[k].astype(np.complex128)
        best = projection_oracle(Ak, left, right)
        assert abs(float(err[k]) - best) <= rtol * best
        assert abs(float(err_svd[k]) - best) <= rtol * best
        X = ks_oracle(TL[k])
        P = X.astype(np.complex128) @ ks_oracle(TR[k]).astype(np.complex128)
        assert abs(np.linalg.norm(Ak - P) - float(err[k])) <= rtol * best
        gram = X.conj().T @ X  # orthonormal columns within a group, in the input's precision
        eye = np.eye(X.shape[1], dtype=X.dtype)
        assert_close(gram[same_group], eye[same_group], size=X.shape[0])


def test_project_two_bad_engine():
    with pytest.raises(ValueError, match=r"unknown engine='exact'; valid names: auto, subspace"):
        ks_project_two(np.ones((16, 16)), (1, 4, 4, 4), (4, 4, 4, 1), engine="exact")
    with pytest.raises(ValueError, match="ks_project_chain: unknown engine=3"):
        sm.project(np.ones((16, 16)), "ks", patterns=square_dyadic(16), engine=3)


# ---------------------------------------------------------------------- chains (blocked layout)
chain_patterns = st.lists(
    st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3)), min_size=1, max_size=4
)


@given(
    dims=chain_patterns,
    dtype=st.sampled_from(DTYPES),
    k=st.integers(1, 3),
    seed=st.integers(0, 2**31),
)
def test_chain_matches_dense_product(xp, dims, dtype, k, seed):
    """ks_chain_matmat(blocked) == the product of the element-formula matrices, on every backend.

    Factor f maps n_f -> n_{f+1}: it takes the drawn (a, d) (both reset to 1 when
    a*d does not divide n_f), c = n_f / (a*d) and a random b, so n_{f+1} = a*b*d.
    """
    rng = np.random.default_rng(seed)
    n0 = dims[0][0] * dims[0][1] * dims[0][2]
    n = n0
    Ts, D = [], np.eye(n0, dtype=dtype)
    for a, _, d in dims:
        if n % (a * d) != 0:
            a, d = 1, 1
        c = n // (a * d)
        b = int(rng.integers(1, 4))
        T = random_array(rng, (a, b, c, d), dtype)
        Ts.append(T)
        D = ks_oracle(T) @ D
        n = a * b * d
    X = random_array(rng, (2, n0, k), dtype)
    Xx = xp.asarray(X)
    Y = ks_chain_matmat([ks_blocked(xp.asarray(T)) for T in Ts], Xx)
    assert tuple(Y.shape) == (2, n, k)
    assert_close(Y, oracle_as(D @ X, xp), size=n0 * len(Ts))
    assert_close(Xx, oracle_as(X, xp), rtol=0)  # the input is not modified


def test_blocked_layout_and_buffer_reuse():
    """The blocked layout is (a, d, b, c); a NumPy chain of 5 factors reuses its own buffers only."""
    rng = np.random.default_rng(3)
    T = random_array(rng, (2, 3, 4, 5), "float64")
    M = ks_blocked(T)
    assert M.shape == (2, 5, 3, 4)
    assert M.flags.c_contiguous
    assert np.array_equal(M, T.transpose(0, 3, 1, 2))
    Ts = [random_array(rng, (4, 2, 2, 1), "complex128")] + [
        random_array(rng, (2, 2, 2, 2), "complex128") for _ in range(4)
    ]
    X = random_array(rng, (1, 8, 3), "complex128")
    X0 = X.copy()
    D = np.eye(8)
    for Tf in Ts:
        D = ks_oracle(Tf) @ D
    Y = ks_chain_matmat([ks_blocked(Tf) for Tf in Ts], X)
    assert np.array_equal(X, X0)
    assert not np.shares_memory(Y, X)
    assert_close(Y[0], D @ X[0], size=64)
    # a Fortran-ordered input is handled too
    Xf = np.asfortranarray(X[0])[None]
    assert_close(ks_chain_matmat([ks_blocked(Tf) for Tf in Ts], Xf)[0], D @ X[0], size=64)


def test_wide_matmat_numpy_path_matches_oracle():
    """c > 4 with d > 1 goes through the strided-view matmul on NumPy (no copies)."""
    rng = np.random.default_rng(4)
    for pattern in [(3, 5, 8, 4), (1, 16, 16, 2), (2, 8, 8, 1)]:
        T = random_array(rng, pattern, "complex64")
        X = random_array(rng, (2, pattern[0] * pattern[2] * pattern[3], 3), "complex64")
        assert_close(ks_matmat(T, X), ks_oracle(T) @ X, size=64)


# ---------------------------------------------------------------------- KSChain
def chain_oracle(Ts: list[np.ndarray]) -> np.ndarray:
    """The product of the element-formula matrices, leftmost first."""
    D = ks_oracle(Ts[0])
    for T in Ts[1:]:
        D = D @ ks_oracle(T)
    return D


CHAINS = [
    [(1, 2, 2, 4), (2, 2, 2, 2), (4, 2, 2, 1)],  # butterfly, n = 8
    [(1, 3, 6, 2), (2, 3, 2, 2)],  # rectangular 6 x 8 (c != b, d > 1)
    [(1, 5, 4, 3), (4, 3, 2, 1)],  # Monarch-like, 15 x 8
    [(2, 3, 1, 1)],  # a single factor
]


@pytest.mark.parametrize("patterns", CHAINS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_kschain_matches_dense_product(xp, patterns, dtype):
    rng = np.random.default_rng(7)
    Ts = [random_array(rng, p, dtype) for p in patterns]
    C = KSChain([xp.asarray(T) for T in Ts])
    D = chain_oracle(Ts)
    m, n = D.shape
    assert C.shape == (m, n) == chain_shape(patterns)
    assert C.patterns == tuple(patterns)
    assert all(isinstance(f, KSFactor) for f in C.factors)
    assert C.parameter_count == sum(T.size for T in Ts)
    assert C.flops(5) == 5 * sum(T.size for T in Ts)
    size = n * len(Ts)

    def want(d):
        return oracle_as(d, xp, dtype)

    assert_close(C.to_dense(), want(D), size=size)
    assert_close(C.H.to_dense(), want(D.conj().T), size=size)
    assert_close(C.T.to_dense(), want(D.T), size=size)
    x = random_array(rng, (n,), dtype)
    assert_close(C @ xp.asarray(x), want(D @ x), size=size)
    X = random_array(rng, (2, 3, n, 4), dtype)
    assert_close(C @ xp.asarray(X), want(D @ X), size=size)
    Y = random_array(rng, (m, 3), dtype)
    assert_close(C.H @ xp.asarray(Y), want(D.conj().T @ Y), size=size)
    assert isinstance(C.H, KSChain)
    assert C.H.patterns == tuple((a, c, b, d) for a, b, c, d in reversed(patterns))
    assert C.H.H is C


def test_kschain_repr_and_promotion():
    C = KSChain([np.ones((1, 2, 2, 1), dtype=np.float32), np.ones((1, 2, 3, 1))])
    assert repr(C) == "KSChain([(1, 2, 2, 1), (1, 2, 3, 1)], float64)"
    assert C.dtype == np.float64
    # a real chain on complex input: complex result, equal to the dense product
    rng = np.random.default_rng(0)
    x = random_array(rng, (3, 5), "complex128")
    assert_close(C @ x, C.to_dense() @ x)
    assert (C @ x).dtype == np.complex128
    C32 = KSChain([np.ones((1, 2, 2, 1), dtype=np.float32)])
    assert (C32 @ np.ones((2, 3), dtype=np.float32)).dtype == np.float32


def test_kschain_laws():
    rng = np.random.default_rng(2)
    check_linear_operator(KSChain([random_array(rng, p, "complex128") for p in CHAINS[1]]))


def test_kschain_follows_in_place_changes():
    """The factors keep the caller's arrays: products and adjoints see in-place changes."""
    rng = np.random.default_rng(3)
    Ts = [random_array(rng, p, "complex128") for p in CHAINS[0]]
    C = KSChain(Ts)
    H = C.H
    x = random_array(rng, (8, 3), "complex128")
    C @ x, H @ x  # fill any cache
    Ts[1][0, 1, 0, 1] += 2.0 - 1.0j
    Ts[2][3, 0, 1, 0] -= 1.5  # d = 1: multiplied through a view of the caller's array
    D = chain_oracle(Ts)
    assert_close(C @ x, D @ x, size=24)
    assert_close(H @ x, D.conj().T @ x, size=24)
    assert_close(C.to_dense(), D, size=24)


def test_kschain_torch_cache_tracks_versions():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    Ts = [torch.asarray(random_array(rng, p, "float64")) for p in CHAINS[0]]
    C = KSChain(Ts)
    x = torch.asarray(rng.standard_normal((8, 2)))
    C @ x  # caches the blocked values under the tensors' versions
    with torch.no_grad():
        Ts[2].mul_(3.0)
    D = chain_oracle([T.numpy() for T in Ts])
    assert_close((C @ x).numpy(), D @ x.numpy(), size=24)
    assert_close((C.H @ x).numpy(), D.T @ x.numpy(), size=24)


def test_kschain_bad_input():
    with pytest.raises(
        ValueError,
        match=r"patterns 0 and 1 do not chain: \(1, 2, 2, 2\) has 4 columns but \(1, 3, 2, 1\) has 3 rows",
    ):
        KSChain([np.ones((1, 2, 2, 2)), np.ones((1, 3, 2, 1))])
    with pytest.raises(ValueError, match="at least one pattern"):
        KSChain([])
    with pytest.raises(TypeError, match="sequence of KSFactor"):
        KSChain(KSFactor(np.ones((1, 2, 2, 1))))
    with pytest.raises(TypeError, match="factor 1 must be a KSFactor"):
        KSChain([np.ones((1, 2, 2, 1)), sm.Identity(2)])
    with pytest.raises(ValueError, match=r"shape \(a, b, c, d\)"):
        KSChain([np.ones((2, 2))])
    xps = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match="cannot mix array namespaces"):
        KSChain([np.ones((1, 2, 2, 1)), xps.ones((1, 2, 2, 1), dtype=xps.float64)])
    with pytest.raises(ValueError, match=r"expects input with 8 rows .* got shape \(7,\)"):
        KSChain.random(square_dyadic(8)) @ np.ones(7)


# ---------------------------------------------------------------------- the tiled NumPy driver
@pytest.mark.parametrize(
    "patterns",
    [
        square_dyadic(64),  # 2x2 blocks, d > 1
        monarch((64, 64), 8, 8),  # Monarch's patterns
        monarch((1024, 1024), 32, 32),  # enough work for the worker threads at k = 2061
        chainable((24, 60)),  # rectangular, unequal radices
        [(1, 70, 70, 1)],  # one wide block (BLAS-threaded range, no workers)
    ],
)
def test_tiled_driver_matches_oracle_and_untiled(patterns):
    rng = np.random.default_rng(5)
    Ts = [random_array(rng, p, "float64") for p in reversed(patterns)]  # application order
    blocked = [ks_blocked(T) for T in Ts]
    D = chain_oracle(Ts[::-1])
    for k in (1, 7, 130, 2048 + 13):
        X = rng.standard_normal((D.shape[1], k))
        X0 = X.copy()
        Y = chain_matmat_tiled(blocked, X)
        assert np.array_equal(X, X0)
        assert Y.shape == (D.shape[0], k)
        assert_close(Y, D @ X, size=D.shape[1] * len(Ts))
        assert_close(Y, _chain_by_factor(blocked, X[None])[0], size=D.shape[1] * len(Ts))
        # a column slice of a wider array (row stride != k) and a given output view
        W = rng.standard_normal((D.shape[1], k + 5))
        out = np.full((D.shape[0], k + 3), np.nan)
        chain_matmat_tiled(blocked, W[:, 2 : 2 + k], out[:, 1 : 1 + k])
        assert_close(out[:, 1 : 1 + k], D @ W[:, 2 : 2 + k], size=D.shape[1] * len(Ts))
        assert np.all(np.isnan(out[:, 0]))
        assert np.all(np.isnan(out[:, -2:]))


@pytest.mark.parametrize(
    "patterns",
    [square_dyadic(64), monarch((64, 64), 8, 8), chainable((24, 60)), mixed_radix(12)],
)
@pytest.mark.parametrize("dtype", ["float32", "complex128"])
def test_vector_driver_matches_oracle(patterns, dtype):
    """One column takes the batched-gemv path; short input is zero-padded."""
    rng = np.random.default_rng(7)
    Ts = [random_array(rng, p, dtype) for p in reversed(patterns)]
    D = chain_oracle(Ts[::-1])
    n = D.shape[1]
    for rows in (n, n - 3):
        x = random_array(rng, (rows,), dtype)
        x0 = x.copy()
        y = chain_matvec([ks_blocked(T) for T in Ts], x)
        assert np.array_equal(x, x0)
        assert y.shape == (D.shape[0],)
        assert y.dtype == np.dtype(dtype)
        assert y.flags.c_contiguous
        assert_close(y, (D[:, :rows] @ x).astype(dtype), size=n * len(Ts))
        # ks_chain_matmat sends a single (1, n, 1) stack down the same path
        Y = ks_chain_matmat([ks_blocked(T) for T in Ts], x[None, :, None])
        assert_close(Y[0, :, 0], y, size=n * len(Ts))


def test_chain_matmat_stacks_and_orders():
    """Stacks of wide inputs go tile by tile per item, narrow stacks factor by factor."""
    rng = np.random.default_rng(6)
    Ts = [random_array(rng, p, "complex128") for p in reversed(mixed_radix(12))]
    blocked = [ks_blocked(T) for T in Ts]
    D = chain_oracle(Ts[::-1])
    for k in (2, 40):
        X = random_array(rng, (3, 12, k), "complex128")
        assert_close(ks_chain_matmat(blocked, X), D @ X, size=36)
        Xf = np.asfortranarray(X[1])[None]
        assert_close(ks_chain_matmat(blocked, Xf)[0], D @ X[1], size=36)


def test_butterfly_multiply_runs_through_the_tiled_driver():
    B = sm.Butterfly.random(256, kind="gaussian", seed=0)
    X = np.random.default_rng(1).standard_normal((256, 1500))
    D = B.to_dense()
    assert_close(B @ X, D @ X, size=256 * 8)
    Z = X + 1j * X[::-1]
    assert_close(B @ Z, D @ Z, size=256 * 8)


# ---------------------------------------------------------------------- chain builders
def chains(patterns) -> bool:
    return all(ks_shape(p)[1] == ks_shape(q)[0] for p, q in itertools.pairwise(patterns))


def test_square_dyadic_patterns_and_support():
    for L in range(1, 8):
        n = 2**L
        P = square_dyadic(n)
        assert len(P) == L
        assert P == [(n // (2 * 2**ell), 2, 2, 2**ell) for ell in reversed(range(L))]
        assert chains(P)
        assert chain_shape(P) == (n, n)
        # all-ones factors: exactly one path from every input to every output
        assert np.array_equal(chain_oracle([np.ones(p) for p in P]), np.ones((n, n)))
    assert square_dyadic(8) == mixed_radix(8)


@pytest.mark.parametrize("n", [2, 12, 15, 96, 1000, 97])
def test_mixed_radix_patterns_support_and_multiply(n):
    P = mixed_radix(n)
    radices = [p[1] for p in reversed(P)]
    assert radices == sorted(radices)
    assert int(np.prod(radices)) == n
    assert chains(P)
    assert chain_shape(P) == (n, n)
    stride = 1
    for p, b in zip(reversed(P), radices, strict=True):
        assert p == (n // (b * stride), b, b, stride)
        stride *= b
    assert np.array_equal(chain_oracle([np.ones(p) for p in P]), np.ones((n, n)))
    rng = np.random.default_rng(n)
    C = KSChain.random(P, dtype="complex128", seed=n)
    D = chain_oracle([f.values for f in C.factors])
    X = random_array(rng, (n, 9), "complex128")
    assert_close(C @ X, D @ X, size=n * len(P))
    assert_close(C.to_dense(), D, size=n * len(P))


def test_mixed_radix_given_radices():
    P = mixed_radix(24, (4, 3, 2))
    assert P == [(1, 2, 2, 12), (2, 3, 3, 4), (6, 4, 4, 1)]
    assert np.array_equal(chain_oracle([np.ones(p) for p in P]), np.ones((24, 24)))


def test_monarch_builder_is_monarch_support():
    """KS(1, s, K r, J) · KS(K, r J, p, 1) with T_R[a,:,:,0] = R[a], T_L[0,sg,g,j] = L[j,sg,g]."""
    for shape, K, J, r in [((16, 16), 4, 4, 1), ((6, 10), 5, 2, 2), ((12, 20), 4, 3, 1)]:
        P = monarch(shape, K, J, rank=r)
        assert chains(P)
        assert chain_shape(P) == shape
        M = sm.Monarch.random(shape, nblocks=(K, J), rank=r, seed=0)
        TR = M.R[:, :, :, None]
        TL = np.transpose(M.L, (1, 2, 0))[None]
        assert (tuple(TL.shape), tuple(TR.shape)) == (P[0], P[1])
        assert_close(KSChain([TL, TR]).to_dense(), M.to_dense(), size=64)


def test_chainable():
    assert chainable((6, 4)) == [(1, 3, 2, 2), (2, 2, 2, 1)]
    assert chainable((12, 12)) == mixed_radix(12)
    assert chainable((5, 7)) == [(1, 5, 7, 1)]
    for shape in [(196, 384), (384, 196), (6, 4), (30, 8), (2, 1024)]:
        P = chainable(shape)
        assert chains(P)
        assert chain_shape(P) == shape
        assert all(b >= 2 and c >= 2 for _, b, c, _ in P)
        assert np.array_equal(chain_oracle([np.ones(p) for p in P]), np.ones(shape))
    C = KSChain.random(chainable((196, 384)), seed=0)
    X = np.random.default_rng(0).standard_normal((384, 3))
    assert_close(C @ X, chain_oracle([f.values for f in C.factors]) @ X, size=384 * 4)


def test_builders_bad_input():
    with pytest.raises(ValueError, match="power of 2"):
        square_dyadic(12)
    with pytest.raises(ValueError, match=r"multiply to 12, not n = 24"):
        mixed_radix(24, (3, 4))
    with pytest.raises(ValueError, match="each radix must be an integer >= 2"):
        mixed_radix(4, (1, 4))
    with pytest.raises(TypeError, match="radices must be a sequence"):
        mixed_radix(4, 2)
    with pytest.raises(ValueError, match="p = 3 must divide n = 16"):
        monarch((16, 16), 3, 4)
    with pytest.raises(ValueError, match=r"shape \(1, 5\) has no prime-factor chain"):
        chainable((1, 5))
    with pytest.raises(TypeError, match="integer"):
        mixed_radix(12.0)


def test_random_chain_seed_dtype_and_scale():
    P = mixed_radix(96)
    A, B = KSChain.random(P, seed=3), KSChain.random(P, seed=3)
    assert np.array_equal(A.to_dense(), B.to_dense())
    C = KSChain.random(P, dtype="float32", seed=3)
    assert C.dtype == np.float32
    # variance 1/c per factor: the product keeps E|y|^2 = E|x|^2 (loosely: a statistic)
    x = np.random.default_rng(0).standard_normal((96, 400))
    ratio = np.linalg.norm(A @ x) ** 2 / np.linalg.norm(x) ** 2
    assert 0.3 < ratio < 3.0


# ---------------------------------------------------------------------- projection onto a chain
@pytest.mark.parametrize(
    "patterns",
    [
        square_dyadic(16),
        mixed_radix(12),
        monarch((24, 24), 4, 6),
        chainable((24, 60)),
        [(1, 2, 2, 8), (2, 2, 2, 4), (4, 2, 3, 2)],  # the later steps' H has d = 2
    ],
    ids=["dyadic16", "mixed12", "monarch24", "chainable24x60", "d2"],
)
@pytest.mark.parametrize("dtype", ["float64", "complex64"])
def test_project_chain_recovers_members(patterns, dtype):
    rng = np.random.default_rng(11)
    Ts = [random_array(rng, p, dtype) for p in patterns]
    A = chain_oracle(Ts).astype(dtype)
    res = sm.project(A, "ks", patterns=patterns)
    assert isinstance(res.operator, KSChain)
    assert res.operator.patterns == tuple(patterns)
    assert res.operator.dtype == np.dtype(dtype)
    D = res.operator.to_dense()
    assert_close(D, A, size=A.shape[1] * len(patterns))
    assert res.exact
    assert res.error <= tolerance(dtype) * res.norm * len(patterns) * 10


def test_project_chain_matches_the_butterfly_hierarchy():
    """A dyadic / mixed-radix chain is the increasing butterfly: same error and lower bound."""
    rng = np.random.default_rng(12)
    for n, radices in ((16, None), (12, (2, 2, 3))):
        A = rng.standard_normal((n, n))
        res = sm.project(A, "ks", patterns=mixed_radix(n, radices) if radices else square_dyadic(n))
        ref = sm.Butterfly.project(A, radices=radices)
        assert np.isclose(res.error, ref.error, rtol=1e-10)
        assert np.isclose(res.lower_bound, ref.lower_bound, rtol=1e-8)
        assert res.lower_bound <= res.error
        assert not res.exact
        assert np.isclose(res.error, np.linalg.norm(A - res.operator.to_dense()), rtol=1e-12)


def test_project_chain_short_chains_are_exact():
    rng = np.random.default_rng(13)
    # one factor: the entries on its support (mask from the element formula)
    A = rng.standard_normal((30, 40))
    res = sm.project(A, "ks", patterns=[(2, 3, 4, 5)])
    mask = ks_oracle(np.ones((2, 3, 4, 5))) != 0
    assert_close(res.operator.to_dense(), np.where(mask, A, 0.0))
    assert np.isclose(res.error, np.linalg.norm(A[~mask]), rtol=1e-12)
    assert res.exact
    assert res.lower_bound == res.error
    # two factors in Monarch's patterns: the Monarch projection's optimum
    A = rng.standard_normal((24, 24))
    res = sm.project(A, "ks", patterns=monarch((24, 24), 4, 6))
    ref = sm.Monarch.project(A, nblocks=(4, 6), engine="exact")
    assert np.isclose(res.error, ref.error, rtol=1e-10)
    assert res.exact


def test_project_chain_bad_input():
    A = np.ones((16, 16))
    with pytest.raises(ValueError, match=r"needs patterns=\[\(a, b, c, d\), \.\.\.\]"):
        sm.project(A, "ks")
    with pytest.raises(ValueError, match=r"not chainable: .*needs a_0 = 2 to divide a_1 = 3"):
        sm.ks.ks_project_chain(np.ones((12, 12)), [(2, 3, 3, 2), (3, 2, 2, 2)])
    with pytest.raises(ValueError, match=r"need A of shape \(\.\.\., 16, 16\), got \(16, 8\)"):
        sm.project(np.ones((16, 8)), "ks", patterns=square_dyadic(16))
    with pytest.raises(ValueError, match="do not chain"):
        sm.project(A, "ks", patterns=[(1, 2, 2, 8), (4, 2, 2, 1)])
    with pytest.raises(ValueError, match="unknown parameter"):
        sm.project(A, "ks", patterns=square_dyadic(16), rank=2)


def merged_oracle(patterns) -> tuple[int, int, int, int]:
    """The single KS pattern ``(a_first, ·, ·, d_last)`` holding a chainable run's product."""
    a, d = patterns[0][0], patterns[-1][3]
    rows, cols = ks_shape(patterns[0])[0], ks_shape(patterns[-1])[1]
    return a, rows // (a * d), cols // (a * d), d


# the first split through each route of the two-factor step: the closed form (b = 2), the
# batched eigh (radix 3), the mixed-precision route (24 x 24 blocks), the engines by name
CHAIN_LOWER_CASES = [
    (mixed_radix(30), "auto"),
    (mixed_radix(45), "auto"),
    ([(1, 24, 24, 24), (24, 4, 4, 6), (96, 6, 6, 1)], "auto"),
    (chainable((24, 60)), "auto"),
    (mixed_radix(30), "eigh"),
    (mixed_radix(30), "svd"),
    ([(1, 24, 24, 24), (24, 4, 4, 6), (96, 6, 6, 1)], "subspace"),
]


@pytest.mark.parametrize(("patterns", "engine"), CHAIN_LOWER_CASES, ids=str)
def test_project_chain_lower_bound_is_the_best_split(patterns, engine):
    """``lower_bound`` is the largest exact two-factor error over the splits (per-group
    SVDs of the dense supports), whichever route the first step took."""
    A = np.random.default_rng(15).standard_normal(chain_shape(patterns))
    res = sm.project(A, "ks", patterns=patterns, engine=engine)
    best = max(
        projection_oracle(A, merged_oracle(patterns[:k]), merged_oracle(patterns[k:]))
        for k in range(1, len(patterns))
    )
    assert np.isclose(res.lower_bound, best, rtol=1e-10, atol=0)
    assert res.lower_bound <= best * (1 + 1e-13)
    assert res.lower_bound <= res.error


def test_project_chain_pruned_lower_bound_is_unchanged(monkeypatch):
    """Splits skipped after power steps never hold the largest bound: the lower bound is
    bitwise that of every split's eigenvalues, on Gaussian input (where splits are
    skipped), near two-factor products of each split (the largest bound elsewhere) and
    a member of the class."""
    import structmat.ks._chain_project as cp

    pats = mixed_radix(576)  # splits of 16 x 36 and 32 x 18 blocks are tried by power steps
    rng = np.random.default_rng(17)
    cases = [rng.standard_normal((576, 576)), KSChain.random(pats, seed=1).to_dense()]
    for k in (2, 4, 5, 6):
        left, right = merged_oracle(pats[:k]), merged_oracle(pats[k:])
        X = ks_oracle(rng.standard_normal(left)) @ ks_oracle(rng.standard_normal(right))
        cases.append(X / np.linalg.norm(X) + 1e-3 * rng.standard_normal((576, 576)) / 576)
    skipped = []
    below = cp._below
    monkeypatch.setattr(cp, "_below", lambda *a: skipped.append(below(*a)) or skipped[-1])
    for A in cases:
        total = float(np.sum(A * A))
        assert cp._lower2(np, A, pats, total, None) == cp._lower2(
            np, A, pats, total, None, prune=False
        )
    assert any(skipped)  # the test reaches the skipping


def test_two_error2_does_not_depend_on_threads(monkeypatch):
    """The worker threads' slices give bitwise the eigenvalue sum of one batched call."""
    from structmat import _pool
    from structmat.ks._project import _blocks, _groups, _two_error2

    monkeypatch.setattr(_pool, "WORKERS", 2)  # the threaded route, whatever the machine
    A = np.random.default_rng(16).standard_normal((576, 576))
    for left, right in (((1, 24, 24, 24), (24, 24, 24, 1)), ((1, 96, 96, 6), (96, 6, 6, 1))):
        view = _blocks(np, A[None], left, right)[0]
        size = _groups(left, right)[2]
        assert _two_error2(np, view, size) == _two_error2(np, view, size, threads=False)
        assert np.isclose(
            np.sqrt(_two_error2(np, view, size)), projection_oracle(A, left, right), rtol=1e-12
        )


@pytest.mark.parametrize(
    "patterns", [chainable((24, 60)), mixed_radix(12), square_dyadic(32)], ids=str
)
# lazylinop warns on import that its optional PyWavelets is missing
@pytest.mark.filterwarnings("ignore:PyWavelets is not installed:UserWarning")
def test_project_chain_equals_lazylinop_ksd(patterns):
    """The gate of the KS engine: lazylinop's ksd (orthonormalized, left to right), same error."""
    butterfly = pytest.importorskip("lazylinop.butterfly")
    A = np.random.default_rng(14).standard_normal(sm.ks.chain_shape(patterns))
    L = butterfly.ksd(A, butterfly.Chain(ks_patterns=[tuple(p) for p in patterns]))
    theirs = np.linalg.norm(A - L.toarray())
    res = sm.project(A, "ks", patterns=patterns)
    assert np.isclose(res.error, theirs, rtol=1e-10)

"""Kronecker-sparse factors: element formula, multiply, adjoint, two-factor projection.

Oracles: the element formula of DESIGN.md §4a written as plain loops, NumPy
dense products, and a per-group SVD of the blocks found from the dense
supports (independent of the grouping code under test).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _helpers import oracle_as
from hypothesis import given
from hypothesis import strategies as st

from structmat.ks import (
    KSFactor,
    ks_blocked,
    ks_chain_matmat,
    ks_matmat,
    ks_project_two,
    ks_project_two_error,
    ks_rmatmat,
    ks_shape,
    ks_to_dense,
)
from structmat.testing import assert_close, to_numpy, tolerance

DTYPES = ["float32", "float64", "complex64", "complex128"]


def dense_oracle(T: np.ndarray) -> np.ndarray:
    """``F[i*b*d + j*d + l, i*c*d + k*d + l] = T[i, j, k, l]`` as a loop."""
    a, b, c, d = T.shape
    F = np.zeros((a * b * d, a * c * d), dtype=T.dtype)
    for i, j, k, o in itertools.product(range(a), range(b), range(c), range(d)):
        F[i * b * d + j * d + o, i * c * d + k * d + o] = T[i, j, k, o]
    return F


def rand(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    x = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


patterns = st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 6), st.integers(1, 4))


# ---------------------------------------------------------------------- multiply
@given(pattern=patterns, dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**31))
def test_matmat_matches_element_formula(xp, pattern, dtype, seed):
    rng = np.random.default_rng(seed)
    T = rand(rng, pattern, dtype)
    F = dense_oracle(T)
    X = rand(rng, (3, F.shape[1], 2), dtype)
    Tx = xp.asarray(T)
    assert_close(
        ks_matmat(Tx, xp.asarray(X[0, :, 0])), oracle_as(F @ X[0, :, 0], xp), size=F.shape[1]
    )
    assert_close(ks_matmat(Tx, xp.asarray(X[0])), oracle_as(F @ X[0], xp), size=F.shape[1])
    assert_close(ks_matmat(Tx, xp.asarray(X)), oracle_as(F @ X, xp), size=F.shape[1])
    assert_close(ks_to_dense(Tx), oracle_as(F, xp))
    Y = rand(rng, (F.shape[0], 2), dtype)
    assert_close(ks_rmatmat(Tx, xp.asarray(Y)), oracle_as(F.conj().T @ Y, xp), size=F.shape[0])


def test_matmat_paths_agree():
    """d == 1 (matmul), narrow c (broadcast) and wide c (transposed matmul) paths."""
    rng = np.random.default_rng(0)
    for pattern in [(3, 4, 5, 1), (2, 3, 2, 4), (2, 3, 4, 3), (2, 3, 7, 3), (1, 5, 9, 2)]:
        T = rand(rng, pattern, "complex128")
        X = rand(rng, (pattern[0] * pattern[2] * pattern[3], 3), "float64")
        assert_close(ks_matmat(T, X), dense_oracle(T) @ X, size=64)


def test_promotion_and_float32():
    T = np.ones((1, 2, 2, 1), dtype=np.float32)
    assert ks_matmat(T, np.ones(2, dtype=np.float32)).dtype == np.float32
    assert ks_matmat(T, np.ones(2, dtype=np.complex64)).dtype == np.complex64


def test_shape():
    assert ks_shape((2, 3, 4, 5)) == (30, 40)


def test_ksfactor_operator(xp):
    rng = np.random.default_rng(1)
    T = rand(rng, (2, 3, 4, 2), "complex128")
    F = KSFactor(xp.asarray(T))
    D = dense_oracle(T)
    assert F.shape == D.shape
    assert_close(F.to_dense(), oracle_as(D, xp))
    assert_close(F.H.to_dense(), oracle_as(D.conj().T, xp))
    assert_close(F.T.to_dense(), oracle_as(D.T, xp))
    assert isinstance(F.H, KSFactor)
    assert F.H.H is F
    assert F.parameter_count == T.size
    assert F.flops(3) == T.size * 3
    x = rand(rng, (5, D.shape[1], 2), "complex128")
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
    return dense_oracle(np.ones(pattern)) != 0


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
    A = rand(rng, (ks_shape(left)[0], ks_shape(right)[1]), dtype)
    TL, TR, err = ks_project_two(A, left, right)
    assert TL.shape == left
    assert TR.shape == right
    actual = np.linalg.norm(A - dense_oracle(TL) @ dense_oracle(TR))
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
    A = dense_oracle(rand(rng, left, "complex128")) @ dense_oracle(rand(rng, right, "complex128"))
    TL, TR, err = ks_project_two(A, left, right)
    assert_close(dense_oracle(TL) @ dense_oracle(TR), A, size=64)
    assert err <= 1e-12 * np.linalg.norm(A)


def test_project_two_left_factor_orthonormal_per_group():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((16, 16))
    TL, _, _ = ks_project_two(A, (1, 4, 4, 4), (4, 4, 4, 1))
    cols = np.linalg.norm(dense_oracle(TL), axis=0)
    assert np.allclose(cols, 1.0)


def test_project_two_batched_and_backends(xp):
    rng = np.random.default_rng(4)
    A = rand(rng, (3, 8, 8), "complex128")
    TL, TR, err = ks_project_two(xp.asarray(A), (1, 2, 2, 4), (2, 4, 4, 1))
    assert tuple(TL.shape) == (3, 1, 2, 2, 4)
    assert tuple(TR.shape) == (3, 2, 4, 4, 1)
    for k in range(3):
        best = projection_oracle(A[k], (1, 2, 2, 4), (2, 4, 4, 1))
        assert abs(float(to_numpy(err)[k]) - best) < 1e-10 * np.linalg.norm(A[k])
        P = dense_oracle(to_numpy(TL)[k]) @ dense_oracle(to_numpy(TR)[k])
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
    assert_close(dense_oracle(TL) @ dense_oracle(TR), A)


def test_error_bounds_inexact():
    rng = np.random.default_rng(5)
    B = dense_oracle(rand(rng, (1, 8, 8, 8), "float64")) @ dense_oracle(
        rand(rng, (8, 8, 8, 1), "float64")
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
        T = rand(rng, (a, b, c, d), dtype)
        Ts.append(T)
        D = dense_oracle(T) @ D
        n = a * b * d
    X = rand(rng, (2, n0, k), dtype)
    Xx = xp.asarray(X)
    Y = ks_chain_matmat([ks_blocked(xp.asarray(T)) for T in Ts], Xx)
    assert tuple(Y.shape) == (2, n, k)
    assert_close(Y, oracle_as(D @ X, xp), size=n0 * len(Ts))
    assert_close(Xx, oracle_as(X, xp), rtol=0)  # the input is not modified


def test_blocked_layout_and_buffer_reuse():
    """The blocked layout is (a, d, b, c); a NumPy chain of 5 factors reuses its own buffers only."""
    rng = np.random.default_rng(3)
    T = rand(rng, (2, 3, 4, 5), "float64")
    M = ks_blocked(T)
    assert M.shape == (2, 5, 3, 4)
    assert M.flags.c_contiguous
    assert np.array_equal(M, T.transpose(0, 3, 1, 2))
    Ts = [rand(rng, (4, 2, 2, 1), "complex128")] + [
        rand(rng, (2, 2, 2, 2), "complex128") for _ in range(4)
    ]
    X = rand(rng, (1, 8, 3), "complex128")
    X0 = X.copy()
    D = np.eye(8)
    for Tf in Ts:
        D = dense_oracle(Tf) @ D
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
        T = rand(rng, pattern, "complex64")
        X = rand(rng, (2, pattern[0] * pattern[2] * pattern[3], 3), "complex64")
        assert_close(ks_matmat(T, X), dense_oracle(T) @ X, size=64)

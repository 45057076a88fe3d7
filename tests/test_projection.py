"""``structmat.project``: exact projections against independent oracles, dispatch, bad input.

Oracles, written here without the code under test: loops over (wrapped)
diagonals, ``scipy.linalg.circulant/toeplitz/block_diag``, the
Van Loan-Pitsianis rearrangement by explicit loops and ``numpy.linalg.svd``,
brute force over all permutations, and orthogonality of the residual to the
basis matrices of each subspace.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
from _helpers import oracle_as, random_array
from hypothesis import given
from hypothesis import strategies as st

import structmat as sm
from structmat.testing import assert_close, to_numpy, tolerance

DTYPES = ["float32", "float64", "complex64", "complex128"]


def _dense(res):
    return to_numpy(res.operator.to_dense())


def _check_error(res, A, dtype):
    """``error`` is ``||A - Â||_F`` of the returned operator; exact certificate."""
    A = to_numpy(A).astype(np.complex128)
    err = float(np.linalg.norm(A - _dense(res)))
    scale = tolerance(dtype, A.size) * max(float(np.linalg.norm(A)), 1e-300)
    assert abs(res.error - err) <= scale, (res.error, err)
    assert res.exact
    assert res.lower_bound == res.error == res.upper_bound
    assert math.isclose(res.norm, float(np.linalg.norm(A)), rel_tol=1e-5)


# ---------------------------------------------------------------------- oracles
def _circulant_oracle(A):
    n = A.shape[0]
    c = np.array([np.mean([A[i, (i - k) % n] for i in range(n)]) for k in range(n)])
    return scipy.linalg.circulant(c)


def _toeplitz_oracle(A):
    m, n = A.shape
    c = np.array([np.mean(np.diagonal(A, offset=-d)) for d in range(m)])
    r = np.array([np.mean(np.diagonal(A, offset=d)) for d in range(n)])
    return scipy.linalg.toeplitz(c, r)


def _diagonal_oracle(A):
    D = np.zeros_like(A)
    for i in range(min(A.shape)):
        D[i, i] = A[i, i]
    return D


def _block_oracle(A, sizes):
    blocks, r, c = [], 0, 0
    for mi, ni in sizes:
        blocks.append(A[r : r + mi, c : c + ni])
        r, c = r + mi, c + ni
    return scipy.linalg.block_diag(*blocks)


def _kron_oracle(A, shapes, rank):
    (m1, n1), (m2, n2) = shapes
    R = np.zeros((m1 * n1, m2 * n2), dtype=A.dtype)
    for i1, j1, i2, j2 in itertools.product(range(m1), range(n1), range(m2), range(n2)):
        R[i1 * n1 + j1, i2 * n2 + j2] = A[i1 * m2 + i2, j1 * n2 + j2]
    U, S, Vh = np.linalg.svd(R)
    out = np.zeros_like(A)
    for k in range(rank):
        out = out + S[k] * np.kron(U[:, k].reshape(m1, n1), Vh[k].reshape(m2, n2))
    return out, float(np.sqrt(np.sum(S[rank:] ** 2)))


def _basis_inner(residual, groups):
    """Sum of the residual over each group of entries (inner product with indicator bases)."""
    return max(abs(sum(residual[i, j] for i, j in g)) for g in groups)


# ---------------------------------------------------------------------- subspace classes
@given(n=st.integers(1, 12), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_circulant_against_oracle(n, dtype, seed):
    A = random_array(np.random.default_rng(seed), (n, n), dtype)
    res = sm.project(A, "circulant")
    P = _circulant_oracle(A.astype(np.complex128))
    assert_close(_dense(res), oracle_as(P, np, dtype), size=n)
    _check_error(res, A, dtype)
    assert type(res.operator).__name__ == "Circulant"
    groups = [[(i, (i - k) % n) for i in range(n)] for k in range(n)]
    R = A.astype(np.complex128) - _dense(res)
    assert _basis_inner(R, groups) <= tolerance(dtype, n * n) * np.linalg.norm(A) * n


@given(
    m=st.integers(1, 12),
    n=st.integers(1, 12),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**16),
)
def test_toeplitz_against_oracle(m, n, dtype, seed):
    A = random_array(np.random.default_rng(seed), (m, n), dtype)
    res = sm.project(A, "toeplitz")
    assert res.operator.shape == (m, n)
    assert_close(
        _dense(res), oracle_as(_toeplitz_oracle(A.astype(np.complex128)), np, dtype), size=m + n
    )
    _check_error(res, A, dtype)
    groups = [[(i, j) for i in range(m) for j in range(n) if i - j == d] for d in range(1 - n, m)]
    R = A.astype(np.complex128) - _dense(res)
    assert _basis_inner(R, groups) <= tolerance(dtype, m * n) * np.linalg.norm(A) * (m + n)


@given(
    m=st.integers(1, 10),
    n=st.integers(1, 10),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**16),
)
def test_diagonal_against_oracle(m, n, dtype, seed):
    A = random_array(np.random.default_rng(seed), (m, n), dtype)
    res = sm.project(A, "diagonal")
    assert res.operator.shape == (m, n)
    assert res.parameter_count == min(m, n)
    assert_close(_dense(res), _diagonal_oracle(A), size=1)
    _check_error(res, A, dtype)


@given(
    k=st.integers(1, 4),
    mb=st.integers(1, 4),
    nb=st.integers(1, 4),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**16),
)
def test_block_diagonal_equal_blocks(k, mb, nb, dtype, seed):
    A = random_array(np.random.default_rng(seed), (k * mb, k * nb), dtype)
    res = sm.project(A, "block_diagonal", nblocks=k)
    assert res.params == {"nblocks": k}
    assert res.parameter_count == k * mb * nb
    assert_close(_dense(res), _block_oracle(A, [(mb, nb)] * k), size=1)
    _check_error(res, A, dtype)


@given(data=st.data(), dtype=st.sampled_from(DTYPES))
def test_block_diagonal_sizes(data, dtype):
    sizes = data.draw(
        st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4)), min_size=1, max_size=4)
    )
    m, n = sum(s[0] for s in sizes), sum(s[1] for s in sizes)
    A = random_array(np.random.default_rng(data.draw(st.integers(0, 2**16))), (m, n), dtype)
    res = sm.project(A, sm.BlockDiagonal, sizes=sizes)
    assert_close(_dense(res), _block_oracle(A, sizes), size=1)
    _check_error(res, A, dtype)


@pytest.mark.parametrize("onto", ["circulant", "toeplitz", "diagonal", "block_diagonal"])
def test_subspace_projections_on_backends(xp, onto):
    rng = np.random.default_rng(0)
    oracle = {
        "circulant": _circulant_oracle,
        "toeplitz": _toeplitz_oracle,
        "diagonal": _diagonal_oracle,
        "block_diagonal": lambda A: _block_oracle(A, [(3, 3)] * 3),
    }[onto]
    params = {"nblocks": 3} if onto == "block_diagonal" else {}
    for dtype in DTYPES:
        A = random_array(rng, (9, 9), dtype)
        res = sm.project(xp.asarray(A, dtype=getattr(xp, dtype)), onto, **params)
        assert res.operator.xp is xp
        assert res.operator.dtype == getattr(xp, dtype)
        assert_close(res.operator.to_dense(), oracle_as(oracle(A), xp), size=9)
        _check_error(res, A, dtype)
        # idempotence: projecting the projection returns it, error ~0
        again = sm.project(res.operator.to_dense(), onto, **params)
        assert_close(again.operator.to_dense(), res.operator.to_dense(), size=9)
        assert again.error <= tolerance(dtype, 81) * float(np.linalg.norm(A))


def test_rectangular_on_backends(xp):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((5, 8))
    for onto, oracle in (("toeplitz", _toeplitz_oracle), ("diagonal", _diagonal_oracle)):
        for B in (A, A.T):
            res = sm.project(xp.asarray(B), onto)
            assert_close(res.operator.to_dense(), oracle_as(oracle(B), xp), size=8)
    res = sm.project(xp.asarray(A), "block_diagonal", sizes=[(2, 3), (3, 5)])
    assert_close(res.operator.to_dense(), oracle_as(_block_oracle(A, [(2, 3), (3, 5)]), xp))


def test_subspace_members_are_never_closer():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((7, 7))
    for onto in ("circulant", "toeplitz", "diagonal"):
        res = sm.project(A, onto)
        for _ in range(30):
            c = rng.standard_normal(7)
            member = {
                "circulant": scipy.linalg.circulant(c),
                "toeplitz": scipy.linalg.toeplitz(c, rng.standard_normal(7)),
                "diagonal": np.diag(c),
            }[onto]
            assert np.linalg.norm(A - member) >= res.error


# ---------------------------------------------------------------------- Kronecker
@given(
    m1=st.integers(1, 4),
    n1=st.integers(1, 4),
    m2=st.integers(1, 4),
    n2=st.integers(1, 4),
    dtype=st.sampled_from(DTYPES),
    data=st.data(),
)
def test_kronecker_against_rearranged_svd(m1, n1, m2, n2, dtype, data):
    rank = data.draw(st.integers(1, min(m1 * n1, m2 * n2)))
    A = random_array(
        np.random.default_rng(data.draw(st.integers(0, 2**16))), (m1 * m2, n1 * n2), dtype
    )
    shapes = ((m1, n1), (m2, n2))
    res = sm.project(A, "kronecker", shapes=shapes, rank=rank)
    best, err = _kron_oracle(A.astype(np.complex128), shapes, rank)
    tol = tolerance(dtype, A.size) * np.linalg.norm(A)
    assert abs(res.error - err) <= tol
    _check_error(res, A, dtype)
    assert res.params == {"shapes": shapes, "rank": rank}
    if rank == 1:
        assert type(res.operator).__name__ == "Kronecker"
    else:
        assert isinstance(res.operator, sm.Sum)
        assert len(res.operator.terms) == rank
    # The oracle's optimum is unique up to ties in the spectrum: compare errors, and
    # the projection itself where the gap is clear.
    assert abs(float(np.linalg.norm(A - best)) - res.error) <= tol


def test_kronecker_exact_recovery_and_random_products_never_closer(xp):
    rng = np.random.default_rng(3)
    B, C = rng.standard_normal((3, 2)), rng.standard_normal((4, 5))
    K = np.kron(B, C)
    res = sm.project(xp.asarray(K), "kronecker", shapes=((3, 2), (4, 5)))
    assert res.error <= tolerance(np.float64, K.size) * np.linalg.norm(K)
    assert_close(res.operator.to_dense(), oracle_as(K, xp), size=K.size)
    A = rng.standard_normal((12, 10))
    res = sm.project(xp.asarray(A), sm.Kronecker, shapes=((3, 2), (4, 5)))
    for _ in range(50):
        X = np.kron(rng.standard_normal((3, 2)), rng.standard_normal((4, 5)))
        assert np.linalg.norm(A - X) >= res.error
    Bh, Ch = (to_numpy(f.to_dense()) for f in res.operator.factors)
    for _ in range(20):  # members near the projection
        X = np.kron(
            Bh + 0.01 * rng.standard_normal((3, 2)), Ch + 0.01 * rng.standard_normal((4, 5))
        )
        assert np.linalg.norm(A - X) >= res.error


def test_kronecker_operator_input_is_densified():
    rng = np.random.default_rng(4)
    K = sm.Kronecker(rng.standard_normal((2, 2)), rng.standard_normal((3, 3)))
    res = sm.project(K, "kronecker", shapes=((2, 2), (3, 3)))
    assert res.relative_error < 1e-12


# ---------------------------------------------------------------------- permutation
@given(n=st.integers(1, 6), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_permutation_against_brute_force(n, dtype, seed):
    A = random_array(np.random.default_rng(seed), (n, n), dtype)
    res = sm.project(A, "permutation")
    Ac = A.astype(np.complex128)
    best = min(
        float(np.linalg.norm(Ac - np.eye(n)[list(p)])) for p in itertools.permutations(range(n))
    )
    assert abs(res.error - best) <= tolerance(dtype, n * n) * max(np.linalg.norm(A), 1)
    _check_error(res, A, dtype)
    P = _dense(res)
    assert set(np.unique(P)) <= {0, 1}
    assert np.all(P.sum(axis=0) == 1)
    assert np.all(P.sum(axis=1) == 1)


def test_permutation_recovers_and_backends(xp):
    idx = np.array([3, 0, 4, 1, 2])
    P = np.eye(5)[idx]
    res = sm.project(xp.asarray(P + 0.1), "permutation")
    assert res.operator.xp is xp
    assert_close(res.operator.to_dense(), oracle_as(P, xp))
    assert isinstance(res.operator, sm.Permutation)


# ---------------------------------------------------------------------- dispatch
def test_dispatch_lowrank_and_class_names():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((8, 6))
    a = sm.project(A, "lowrank", rank=2)
    b = sm.project(A, sm.LowRank, rank=2)
    assert a.error == b.error
    assert sm.project(A, sm.Diagonal).onto == "diagonal"
    assert sm.project(A, sm.Toeplitz).onto == "toeplitz"
    c = sm.project(A, "lowrank", rank=2, method="randomized", seed=0, oversample=4)
    assert not c.exact
    assert c.error >= a.error * (1 - 1e-12)


def test_dispatch_monarch():
    rng = np.random.default_rng(6)
    A = rng.standard_normal((12, 8))
    res = sm.project(A, "monarch", nblocks=(2, 3), rank=2)
    direct = sm.Monarch.project(A, nblocks=(2, 3), rank=2)
    assert res.onto == "monarch"
    assert res.error == pytest.approx(direct.error)
    assert sm.project(A, sm.Monarch, nblocks=(2, 3)).onto == "monarch"
    adj = sm.project(A, "monarch_adjoint", nblocks=(2, 3))
    assert adj.onto == "monarch_adjoint"
    assert math.isclose(adj.error, float(np.linalg.norm(A - _dense(adj))), rel_tol=1e-9)


def test_dispatch_butterfly():
    B = sm.Butterfly.random(16, seed=0)
    res = sm.project(B.to_dense(), "butterfly")
    assert res.onto == "butterfly"
    assert res.relative_error < 1e-10
    assert sm.project(B.to_dense(), sm.Butterfly, certificate=False).onto == "butterfly"


# ---------------------------------------------------------------------- bad input
def test_bad_input():
    A = np.ones((4, 4))
    with pytest.raises(ValueError, match="valid names: monarch, monarch_adjoint, butterfly"):
        sm.project(A, "sparse")
    with pytest.raises(ValueError, match="valid classes"):
        sm.project(A, sm.Dense)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) rank; accepted: none"):
        sm.project(A, "circulant", rank=2)
    with pytest.raises(ValueError, match="accepted: shapes, rank"):
        sm.project(A, "kronecker", shapes=((2, 2), (2, 2)), nblocks=2)
    for bad in (np.nan, np.inf, -np.inf):
        B = A.copy()
        B[0, 3] = bad
        for onto, params in (
            ("circulant", {}),
            ("toeplitz", {}),
            ("diagonal", {}),
            ("permutation", {}),
            ("block_diagonal", {"nblocks": 2}),
            ("kronecker", {"shapes": ((2, 2), (2, 2))}),
            ("lowrank", {"rank": 1}),
        ):
            with pytest.raises(ValueError, match="NaN or Inf"):
                sm.project(B, onto, **params)
    with pytest.raises(ValueError, match="rank must be an integer >= 1, got 0"):
        sm.project(A, "lowrank", rank=0)
    with pytest.raises(ValueError, match="rank=int"):
        sm.project(A, "lowrank")
    with pytest.raises(ValueError, match="rank must be an integer >= 1, got 0"):
        sm.project(A, "kronecker", shapes=((2, 2), (2, 2)), rank=0)
    with pytest.raises(TypeError, match=r"rank must be an integer >= 1, got float 2\.0"):
        sm.project(A, "kronecker", shapes=((2, 2), (2, 2)), rank=2.0)
    with pytest.raises(ValueError, match="rank must be <= min"):
        sm.project(A, "kronecker", shapes=((2, 2), (2, 2)), rank=5)
    with pytest.raises(ValueError, match="do not tile"):
        sm.project(A, "kronecker", shapes=((2, 2), (3, 2)))
    with pytest.raises(ValueError, match="needs shapes"):
        sm.project(A, "kronecker")
    with pytest.raises(ValueError, match=r"shapes must be \(\(m1, n1\)"):
        sm.project(A, "kronecker", shapes=(2, 2))
    with pytest.raises(ValueError, match="does not tile"):
        sm.project(A, "block_diagonal", nblocks=3)
    with pytest.raises(ValueError, match="do not tile"):
        sm.project(A, "block_diagonal", sizes=[(2, 2), (1, 2)])
    with pytest.raises(ValueError, match="exactly one"):
        sm.project(A, "block_diagonal")
    with pytest.raises(ValueError, match="exactly one"):
        sm.project(A, "block_diagonal", nblocks=2, sizes=[(4, 4)])
    with pytest.raises(
        ValueError, match=r"each block size must be a pair of integers >= 1, got \(4, 0\)"
    ):
        sm.project(A, "block_diagonal", sizes=[(4, 0)])
    with pytest.raises(
        TypeError, match=r"each block size must be a pair of integers >= 1, got \(2.5, 4\)"
    ):
        sm.project(A, "block_diagonal", sizes=[(2.5, 4), (1.5, 0)])
    with pytest.raises(ValueError, match="nblocks must be an integer >= 1, got 0"):
        sm.project(A, "block_diagonal", nblocks=0)
    with pytest.raises(TypeError, match="nblocks must be an integer >= 1, got str '2'"):
        sm.project(A, "block_diagonal", nblocks="2")
    with pytest.raises(ValueError, match="square"):
        sm.project(np.ones((3, 4)), "circulant")
    with pytest.raises(ValueError, match="square"):
        sm.project(np.ones((3, 4)), "permutation")
    with pytest.raises(ValueError, match="2-d"):
        sm.project(np.ones(4), "diagonal")
    with pytest.raises(ValueError, match="non-empty"):
        sm.project(np.ones((0, 3)), "toeplitz")


def test_operator_input_and_integer_input():
    rng = np.random.default_rng(7)
    A = rng.standard_normal((6, 6))
    res = sm.project(sm.Dense(A), "toeplitz")
    assert_close(res.operator.to_dense(), _toeplitz_oracle(A), size=6)
    res = sm.project(np.arange(9).reshape(3, 3), "diagonal")
    assert res.operator.dtype == np.float64
    assert "projection onto diagonal" in res.summary()


@pytest.mark.parametrize("onto", ["circulant", "toeplitz", "diagonal", "block_diagonal"])
def test_error_accurate_near_the_subspace(onto):
    """Tiny residuals are computed from the residual, not by subtracting norms."""
    rng = np.random.default_rng(8)
    oracle = {
        "circulant": _circulant_oracle,
        "toeplitz": _toeplitz_oracle,
        "diagonal": _diagonal_oracle,
        "block_diagonal": lambda A: _block_oracle(A, [(4, 4)] * 3),
    }[onto]
    params = {"nblocks": 3} if onto == "block_diagonal" else {}
    member = oracle(rng.standard_normal((12, 12)))
    for scale in (1e-9, 1e-2, 1.0):
        A = member + scale * rng.standard_normal((12, 12))
        res = sm.project(A, onto, **params)
        expect = float(np.linalg.norm(A - oracle(A)))
        assert math.isclose(res.error, expect, rel_tol=1e-6), (scale, res.error, expect)


_PARAMETER_CASES = {
    "monarch": {"nblocks": 4},
    "monarch_adjoint": {"nblocks": 4},
    "butterfly": {},
    "ks": {"patterns": [(1, 4, 4, 4), (4, 4, 4, 1)]},
    "lowrank": {"rank": 3},
    "kronecker": {"shapes": ((4, 4), (4, 4))},
    "circulant": {},
    "toeplitz": {},
    "diagonal": {},
    "block_diagonal": {"nblocks": 4},
    "permutation": {},
}


@pytest.mark.parametrize("complex_", [False, True])
@pytest.mark.parametrize("onto", sorted(_PARAMETER_CASES))
def test_projecting_a_torch_parameter_warns_nothing(onto, complex_):
    """An ``nn.Parameter`` projects silently, to the values of its detached tensor.

    torch warns once per process for ``float()`` of a tensor that requires
    grad; ``set_warn_always`` makes every occurrence warn, so the test sees each one.
    """
    torch = pytest.importorskip("torch")
    import warnings

    dtype = torch.complex128 if complex_ else torch.float64
    W = torch.nn.Parameter(
        torch.randn(16, 16, dtype=dtype, generator=torch.Generator().manual_seed(0))
    )
    before = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = sm.project(W, onto, **_PARAMETER_CASES[onto])
    finally:
        torch.set_warn_always(before)
    ref = sm.project(W.detach().numpy().copy(), onto, **_PARAMETER_CASES[onto])
    assert isinstance(got.error, float)
    assert got.error == pytest.approx(ref.error, rel=1e-12, abs=1e-12)
    dense = got.operator.to_dense()
    assert_close(dense.detach().numpy(), ref.operator.to_dense(), rtol=1e-10)

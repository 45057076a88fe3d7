"""LowRank: operator laws, algebra, and the SVD / randomized projections.

Oracles: dense NumPy (``U @ diag(s) @ V^H``), ``scipy.linalg.svd`` and known
spectra written in the test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from _helpers import oracle_as, random_array
from hypothesis import given
from hypothesis import strategies as st

import structmat as sm
from structmat.linop import LinearOperator, Sum
from structmat.lowrank import LowRank
from structmat.testing import assert_close, to_numpy, tolerance

DTYPES = ["float32", "float64", "complex64", "complex128"]


@given(
    m=st.integers(1, 40),
    n=st.integers(1, 40),
    r=st.integers(1, 6),
    dtype=st.sampled_from(DTYPES),
    weighted=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_dense_matches_formula(m, n, r, dtype, weighted, seed):
    rng = np.random.default_rng(seed)
    U, V, s = (
        random_array(rng, (m, r), dtype),
        random_array(rng, (n, r), dtype),
        random_array(rng, (r,), dtype),
    )
    op = LowRank(U, V, s) if weighted else LowRank(U, V)
    expect = U @ np.diag(s if weighted else np.ones(r)) @ V.conj().T
    assert op.dtype == np.dtype(dtype)
    assert_close(op.to_dense(), oracle_as(expect, np, dtype), size=r)
    x = random_array(rng, (n, 3), dtype)
    assert_close(op @ x, oracle_as(expect @ x, np, dtype), size=r * n)
    assert_close(op.H.to_dense(), oracle_as(expect.conj().T, np, dtype), size=r)
    assert_close(op.T.to_dense(), oracle_as(expect.T, np, dtype), size=r)
    assert isinstance(op.H, LowRank)
    assert isinstance(op.T, LowRank)
    assert op.H.H is op


def test_backends_against_numpy(xp):
    rng = np.random.default_rng(1)
    for dtype in DTYPES:
        U, V, s = (
            random_array(rng, (9, 3), dtype),
            random_array(rng, (7, 3), dtype),
            random_array(rng, (3,), dtype),
        )
        dt = getattr(xp, dtype)
        op = LowRank(xp.asarray(U, dtype=dt), xp.asarray(V, dtype=dt), xp.asarray(s, dtype=dt))
        X = random_array(rng, (2, 7, 4), dtype)
        expect = U @ np.diag(s) @ V.conj().T
        assert_close(op @ xp.asarray(X, dtype=dt), oracle_as(expect @ X, xp), size=21)
        assert_close(op.H.to_dense(), oracle_as(expect.conj().T, xp), size=3)


def test_parameter_count_flops_repr():
    rng = np.random.default_rng(0)
    U, V = rng.standard_normal((100, 5)), rng.standard_normal((80, 5))
    A = LowRank(U, V, np.ones(5))
    assert repr(A) == "LowRank(100x80, rank=5, float64)"
    assert A.parameter_count == 5 * 180 + 5
    assert LowRank(U, V).parameter_count == 5 * 180
    assert A.flops(3) == 5 * 180 * 3 + 5 * 3
    assert A.rank == 5
    assert A.H.shape == (80, 100)


# ---------------------------------------------------------------------- algebra
@pytest.mark.parametrize("dtype", DTYPES)
def test_sums_and_scalars_stay_lowrank(dtype):
    rng = np.random.default_rng(2)
    a = LowRank(random_array(rng, (6, 2), dtype), random_array(rng, (5, 2), dtype))
    b = LowRank(
        random_array(rng, (6, 3), dtype),
        random_array(rng, (5, 3), dtype),
        random_array(rng, (3,), dtype),
    )
    Da, Db = a.to_dense(), b.to_dense()
    cases = [
        (a + b, Da + Db),
        (a - b, Da - Db),
        (b - a, Db - Da),
        (2 * a, 2 * Da),
        (a * -0.5, -0.5 * Da),
        (-b, -Db),
        (b / 4, Db / 4),
        (a + 3 * b - a, Da + 3 * Db - Da),
    ]
    for op, expect in cases:
        assert isinstance(op, LowRank), repr(op)
        assert_close(op.to_dense(), expect, size=6)
    assert (a + b).rank == 5
    assert 1 * a is a


def test_complex_scalar_on_real_lowrank(xp):
    rng = np.random.default_rng(3)
    U, V = rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    a = LowRank(xp.asarray(U), xp.asarray(V))
    op = 2j * a
    assert isinstance(op, LowRank)
    assert op.dtype == xp.complex128
    assert_close(op.to_dense(), oracle_as(2j * (U @ V.T), xp))


def test_mixed_precision_sum_promotes():
    rng = np.random.default_rng(4)
    a = LowRank(rng.standard_normal((4, 1)).astype(np.float32), np.ones((3, 1), np.float32))
    b = LowRank(rng.standard_normal((4, 1)), np.ones((3, 1)))
    assert (a + b).dtype == np.float64
    assert (a + a).dtype == np.float32


def test_sum_with_other_operator_is_generic():
    a = LowRank(np.ones((3, 1)), np.ones((3, 1)))
    s = a + sm.Identity(3)
    assert isinstance(s, Sum)
    assert_close(s.to_dense(), np.ones((3, 3)) + np.eye(3))
    d = a - sm.Identity(3)
    assert_close(d.to_dense(), np.ones((3, 3)) - np.eye(3))
    assert_close((a @ a).to_dense(), 3 * np.ones((3, 3)))


def test_to_other_backend_and_dtype(xp):
    rng = np.random.default_rng(5)
    a = LowRank(rng.standard_normal((5, 2)), rng.standard_normal((4, 2)), np.arange(1.0, 3.0))
    b = a.to(xp=xp, dtype="complex64")
    assert isinstance(b, LowRank)
    assert b.dtype == xp.complex64
    assert_close(
        b.to_dense(), oracle_as(a.to_dense(), xp, "complex64"), rtol=tolerance(np.float32, 10)
    )


# ---------------------------------------------------------------------- validation
def test_bad_construction():
    with pytest.raises(ValueError, match="2-d"):
        LowRank(np.ones(3), np.ones((3, 1)))
    with pytest.raises(ValueError, match="one rank r"):
        LowRank(np.ones((3, 2)), np.ones((4, 3)))
    with pytest.raises(ValueError, match="one rank r"):
        LowRank(np.ones((3, 2)), np.ones((4, 2)), np.ones(3))
    with pytest.raises(ValueError, match="1-d"):
        LowRank(np.ones((3, 2)), np.ones((4, 2)), np.ones((2, 1)))
    with pytest.raises(ValueError, match="rank r >= 1"):
        LowRank(np.ones((3, 0)), np.ones((4, 0)))
    with pytest.raises(TypeError, match="floating"):
        LowRank(np.ones((3, 2), dtype=int), np.ones((4, 2)))
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="namespaces"):
        LowRank(np.ones((3, 2)), torch.ones((4, 2), dtype=torch.float64))


def test_bad_sum():
    a = LowRank(np.ones((3, 1)), np.ones((3, 1)))
    b = LowRank(np.ones((4, 1)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="shapes"):
        a + b
    with pytest.raises(ZeroDivisionError):
        a / 0


# ---------------------------------------------------------------------- SVD projection
@given(
    m=st.integers(1, 30),
    n=st.integers(1, 30),
    dtype=st.sampled_from(DTYPES),
    data=st.data(),
)
def test_svd_projection_is_eckart_young(m, n, dtype, data):
    r = data.draw(st.integers(1, min(m, n)))
    A = random_array(np.random.default_rng(data.draw(st.integers(0, 2**16))), (m, n), dtype)
    res = LowRank.project(A, rank=r)
    sv = scipy.linalg.svd(A.astype(np.complex128), compute_uv=False)
    opt = math.sqrt(float(np.sum(sv[r:] ** 2)))
    tol = tolerance(dtype, m * n) * float(np.linalg.norm(A))
    assert res.exact
    assert res.error == res.lower_bound == res.upper_bound
    assert abs(res.error - opt) <= tol
    assert abs(float(np.linalg.norm(A - to_numpy(res.operator.to_dense()))) - opt) <= tol
    assert res.operator.rank == r
    assert res.operator.dtype == np.dtype(dtype)
    assert math.isclose(res.norm, float(np.linalg.norm(A.astype(np.complex128))), rel_tol=1e-4)


def test_svd_projection_backends(xp):
    rng = np.random.default_rng(6)
    # a clear gap after rank 3, so the truncation is unique: compare dense results
    Q1, _ = np.linalg.qr(rng.standard_normal((20, 20)))
    Q2, _ = np.linalg.qr(rng.standard_normal((15, 15)))
    s = np.array([10.0, 7.0, 5.0, 1.0, 0.5] + [0.1] * 10)
    A = Q1[:, :15] @ np.diag(s) @ Q2.T
    U, S, Vh = scipy.linalg.svd(A)
    best = U[:, :3] @ np.diag(S[:3]) @ Vh[:3]
    phase = np.exp(1j * rng.uniform(0, 2 * np.pi, size=(20, 1)))  # unitary row scaling
    for dtype in DTYPES:
        M, top = (A, best) if dtype.startswith("float") else (phase * A, phase * best)
        res = sm.project(xp.asarray(M.astype(dtype)), "lowrank", rank=3)
        assert res.operator.xp is xp
        assert res.operator.dtype == getattr(xp, dtype)
        assert_close(res.operator.to_dense(), oracle_as(top, xp, dtype), size=300)
        assert math.isclose(res.error, float(np.linalg.norm(S[3:])), rel_tol=1e-5)


def test_svd_projection_idempotent():
    rng = np.random.default_rng(7)
    a = LowRank(rng.standard_normal((12, 3)), rng.standard_normal((10, 3)))
    res = LowRank.project(a, 3)  # an operator: densified
    assert res.error <= tolerance(np.float64, 120) * float(np.linalg.norm(a.to_dense()))
    assert_close(res.operator.to_dense(), a.to_dense(), size=120)


def test_random_lowrank_never_closer():
    rng = np.random.default_rng(8)
    A = rng.standard_normal((10, 8))
    res = LowRank.project(A, 2)
    for _ in range(50):
        op = res.operator
        U = op.U * op.s + 0.1 * rng.standard_normal((10, 2))
        B = U @ (op.V + 0.1 * rng.standard_normal((8, 2))).T  # a rank-2 neighbour
        assert np.linalg.norm(A - B) >= res.error


# ---------------------------------------------------------------------- randomized projection
def _decaying(rng, m, n, decay=0.7):
    Q1, _ = np.linalg.qr(rng.standard_normal((m, min(m, n))))
    Q2, _ = np.linalg.qr(rng.standard_normal((n, min(m, n))))
    s = decay ** np.arange(min(m, n))
    return Q1 @ np.diag(s) @ Q2.T, s


@pytest.mark.parametrize("dtype", DTYPES)
def test_randomized_accuracy_on_decaying_spectrum(dtype):
    rng = np.random.default_rng(9)
    A, s = _decaying(rng, 120, 90)
    if dtype.startswith("complex"):
        A = A * np.exp(1j * rng.uniform(0, 2 * np.pi, size=(1, 90)))  # same singular values
    A = A.astype(dtype)
    r = 10
    opt = float(np.sqrt(np.sum(s[r:] ** 2)))
    res = LowRank.project(A, r, method="randomized", seed=0)
    assert not res.exact
    assert res.operator.dtype == np.dtype(dtype)
    assert res.lower_bound <= opt * (1 + 1e-5)
    assert opt * (1 - 1e-5) <= res.error <= 1.01 * opt
    assert math.isclose(res.error, float(np.linalg.norm(A - res.operator.to_dense())), rel_tol=1e-3)
    assert res.upper_bound == res.error


def test_randomized_is_reproducible_and_works_on_backends(xp):
    rng = np.random.default_rng(10)
    A, s = _decaying(rng, 60, 40)
    Ax = xp.asarray(A)
    r1 = LowRank.project(Ax, 5, method="randomized", seed=3)
    r2 = LowRank.project(Ax, 5, method="randomized", seed=3)
    assert r1.operator.xp is xp
    assert_close(r1.operator.to_dense(), r2.operator.to_dense())
    assert r1.error == r2.error
    opt = float(np.sqrt(np.sum(s[5:] ** 2)))
    assert opt * (1 - 1e-8) <= r1.error <= 1.01 * opt


def test_randomized_without_power_iterations_still_bounded():
    rng = np.random.default_rng(11)
    A, s = _decaying(rng, 80, 80, decay=0.9)
    res = LowRank.project(A, 5, method="randomized", power_iterations=0, oversample=0, seed=1)
    opt = float(np.sqrt(np.sum(s[5:] ** 2)))
    assert res.lower_bound == 0.0  # l == rank: no tail in the sketch
    assert res.error >= opt * (1 - 1e-8)


class _NoDense(LinearOperator):
    """``Q diag(s) Qᴴ + delta * I`` known only through products; ``to_dense`` is forbidden."""

    def __init__(self, Q, s, delta):
        super().__init__(shape=(Q.shape[0],) * 2, dtype=Q.dtype, xp=None)
        self.Q, self.s, self.delta = Q, s, delta
        self.columns = 0

    def _matmat(self, X):
        self.columns += X.shape[1]
        return self.Q @ (self.s[:, None] * (self.Q.T @ X)) + self.delta * X

    def _adjoint(self):
        return self

    def to_dense(self):
        msg = "this operator must not be densified"
        raise AssertionError(msg)


def test_randomized_never_densifies_a_4096_operator():
    n, k, r = 4096, 40, 8
    rng = np.random.default_rng(12)
    Q, _ = np.linalg.qr(rng.standard_normal((n, k)))
    s = 0.6 ** np.arange(k)
    delta = 1e-4
    A = _NoDense(Q, s, delta)
    # eigenvalues: s_i + delta (k of them) and delta (n - k times)
    full = np.concatenate([s + delta, np.full(n - k, delta)])
    opt = float(np.sqrt(np.sum(full[r:] ** 2)))
    res = sm.project(A, "lowrank", rank=r, method="randomized", seed=0)
    q, ell, probes = 2, r + 10, 16
    assert A.columns == ell * (2 * q + 2) + probes  # Aᴴ = A here: every product counted
    assert "estimated" in res.notes
    assert res.upper_bound == math.inf
    assert res.lower_bound <= opt
    assert 0.7 * opt <= res.error <= 1.3 * opt
    true_err = float(np.linalg.norm(np.sqrt(np.sum((full[r:k]) ** 2) + (n - k) * delta**2)))
    assert math.isclose(true_err, opt, rel_tol=1e-12)
    # the factors span the top eigenvectors
    U = res.operator.U
    assert np.linalg.norm(Q[:, :r].T @ U, 2) == pytest.approx(1.0, rel=1e-6)


# ---------------------------------------------------------------------- bad input
def test_projection_bad_input():
    A = np.ones((4, 3))
    with pytest.raises(ValueError, match="rank must be an integer >= 1, got 0"):
        LowRank.project(A, 0)
    with pytest.raises(TypeError, match=r"rank must be an integer >= 1, got float 1\.0"):
        LowRank.project(A, 1.0)
    with pytest.raises(ValueError, match="rank must be <= min"):
        LowRank.project(A, 4)
    with pytest.raises(ValueError, match="method"):
        LowRank.project(A, 1, method="qr")
    with pytest.raises(ValueError, match="oversample"):
        LowRank.project(A, 1, method="randomized", oversample=-1)
    with pytest.raises(ValueError, match="power_iterations"):
        LowRank.project(A, 1, method="randomized", power_iterations=-2)
    with pytest.raises(ValueError, match="error_probes"):
        LowRank.project(A, 1, method="randomized", error_probes=0)
    with pytest.raises(TypeError, match="rank"):
        LowRank.project(A, "2")
    for bad in (np.nan, np.inf):
        B = A.copy()
        B[1, 1] = bad
        for method in ("svd", "randomized"):
            with pytest.raises(ValueError, match="NaN or Inf"):
                LowRank.project(B, 1, method=method)
    nan_op = sm.Diagonal(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match="NaN or Inf"):
        LowRank.project(nan_op, 1, method="randomized")
    with pytest.raises(ValueError, match="2-d"):
        LowRank.project(np.ones(3), 1)


def test_summary_of_an_estimated_error_claims_no_guarantee():
    # operator input: the randomized error is estimated, so the summary must not
    # print "distance <= error" as if it were certain
    rng = np.random.default_rng(8)
    A = rng.standard_normal((40, 30))
    res = sm.project(sm.Dense(A), "lowrank", rank=3, method="randomized", seed=1)
    text = res.summary()
    assert "<= distance <= error" not in text
    assert "guarantee      none (error is estimated)" in text
    exact = sm.project(A, "lowrank", rank=3)
    assert "exact          yes" in exact.summary()
    bfly = sm.project(rng.standard_normal((16, 16)), "butterfly")
    assert "<= distance <= error" in bfly.summary()

"""Matrix-free two-factor projection (``ks_project_two_sketched``, ``Monarch.project(method="randomized")``).

Every operator here is :class:`Opaque`: it knows only ``_matmat`` and
``_rmatmat`` and its ``to_dense`` raises, so a projection that densifies fails.
Oracles: DESIGN §4's element formula (``monarch_oracle``), per-slice and
per-block ``numpy.linalg.svd`` written in the test, and dense NumPy residuals.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _helpers import monarch_oracle, random_array

import structmat as sm
from structmat import _array_api as aa
from structmat.ks import KSChain, ks_project_two_sketched
from structmat.linop import LinearOperator
from structmat.monarch import MonarchAdjoint
from structmat.testing import to_numpy

DTYPES = ["float32", "float64", "complex64", "complex128"]
EPS = {"float32": 2.0**-23, "complex64": 2.0**-23, "float64": 2.0**-52, "complex128": 2.0**-52}


class Opaque(LinearOperator):
    """``D`` known only through products; counts the columns applied each way."""

    def __init__(self, D, xp=np):
        self._D = xp.asarray(D)
        self.counts = {"matmat": 0, "rmatmat": 0}
        super().__init__(shape=tuple(D.shape), dtype=self._D.dtype, xp=xp)

    def _matmat(self, X):
        self.counts["matmat"] += int(X.shape[-1])
        return self.xp.matmul(self._D, X)

    def _rmatmat(self, X):
        self.counts["rmatmat"] += int(X.shape[-1])
        D = self._D
        DH = self.xp.conj(self.xp.matrix_transpose(D)) if aa.is_complex(self.xp, D.dtype) else D.T
        return self.xp.matmul(DH, X)

    def to_dense(self):
        msg = "a matrix-free projection must not densify its operator"
        raise AssertionError(msg)


def _monarch_matrix(rng, shape, K, J, r, dtype):
    m, n = shape
    s, p = -(-m // J), -(-n // K)
    L = random_array(rng, (J, s, K * r), dtype)
    R = random_array(rng, (K, r * J, p), dtype)
    return monarch_oracle(L, R, shape)


def _slice_distance(A, K, J, r):
    """DESIGN §4: distance to Monarch from the SVD of every (j, a) slice of padded A."""
    m, n = A.shape
    s, p = -(-m // J), -(-n // K)
    P = np.zeros((s * J, K * p), dtype=A.dtype)
    P[:m, :n] = A
    S = P.reshape(s, J, K, p).transpose(1, 2, 0, 3)
    sv = np.linalg.svd(S.astype(np.complex128), compute_uv=False)
    return math.sqrt(float(np.sum(sv[..., r:] ** 2)))


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "K", "J", "r"), [((48, 48), 4, 4, 1), ((50, 61), 5, 3, 2)])
def test_recovers_a_monarch(dtype, shape, K, J, r):
    D = _monarch_matrix(np.random.default_rng(1), shape, K, J, r, dtype)
    op = Opaque(D)
    res = sm.Monarch.project(op, nblocks=(K, J), rank=r, method="randomized", seed=0)
    got = res.operator.to_dense()
    assert isinstance(res.operator, sm.Monarch)
    assert got.dtype == np.dtype(dtype)
    assert got.shape == shape
    assert _rel(got, D) < 2e3 * EPS[dtype]
    assert not res.exact
    assert res.upper_bound == math.inf
    assert res.lower_bound <= res.error < 2e3 * EPS[dtype] * np.linalg.norm(D)
    assert res.params["nblocks"] == (K, J)
    assert res.params["method"] == "randomized"
    assert "estimated" in res.notes


def test_estimate_and_bounds_against_the_true_distance():
    rng = np.random.default_rng(2)
    K, J, r = 4, 3, 1
    D = _monarch_matrix(rng, (120, 96), K, J, r, "float64")
    A = D + 0.05 * rng.standard_normal(D.shape)
    res = sm.Monarch.project(Opaque(A), nblocks=(K, J), rank=r, method="randomized", seed=3)
    distance = _slice_distance(A, K, J, r)
    true_error = float(np.linalg.norm(A - res.operator.to_dense()))
    # The slices are 40 x 24 and the co-range sketch has 21 < 40 columns, so the
    # lower bound is a genuine compression, not the exact tail.
    assert res.lower_bound <= distance <= true_error
    assert res.lower_bound > 0.5 * distance
    assert true_error < 1.2 * distance  # a signal far above the noise: near optimal
    assert 0.5 * true_error < res.error < 2.0 * true_error
    assert 0.5 < res.norm / np.linalg.norm(A) < 2.0


@pytest.mark.parametrize(("oversample", "probes"), [(0, 1), (4, 8), (10, 16)])
def test_products_are_the_documented_count(oversample, probes):
    K, J, r, shape = 6, 4, 2, (80, 90)
    s, p = 20, 15
    op = Opaque(_monarch_matrix(np.random.default_rng(4), shape, K, J, r, "float64"))
    res = sm.Monarch.project(
        op, nblocks=(K, J), rank=r, method="randomized", oversample=oversample, error_probes=probes
    )
    k = min(r + oversample, p)
    ell = min(k + oversample, s)
    assert op.counts == {"matmat": K * k + probes, "rmatmat": J * ell}
    assert res.params["products"] == K * k + J * ell + probes
    assert K * k + J * ell + probes < shape[1] or oversample == 10


def test_seeds_are_reproducible():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((32, 32))
    one, two = (
        sm.Monarch.project(Opaque(A), nblocks=4, rank=1, method="randomized", seed=7)
        for _ in range(2)
    )
    np.testing.assert_array_equal(one.operator.L, two.operator.L)
    np.testing.assert_array_equal(one.operator.R, two.operator.R)
    assert one.error == two.error
    assert one.lower_bound == two.lower_bound
    gen = sm.Monarch.project(
        Opaque(A), nblocks=4, rank=1, method="randomized", seed=np.random.default_rng(7)
    )
    np.testing.assert_array_equal(gen.operator.L, one.operator.L)
    other = sm.Monarch.project(Opaque(A), nblocks=4, rank=1, method="randomized", seed=8)
    assert other.error != one.error


def test_backends(xp):
    K, J, r = 4, 4, 1
    for dtype in ("float32", "complex128"):
        D = _monarch_matrix(np.random.default_rng(6), (32, 40), K, J, r, dtype)
        op = Opaque(D, xp)
        res = sm.Monarch.project(op, nblocks=(K, J), rank=r, method="randomized", seed=0)
        assert res.operator.xp is op.xp
        got = to_numpy(res.operator.to_dense())
        assert got.dtype == np.dtype(dtype)
        assert _rel(got, D) < 2e3 * EPS[dtype]


def test_array_input_and_adjoint():
    D = _monarch_matrix(np.random.default_rng(7), (36, 30), 3, 4, 1, "complex128")
    res = sm.Monarch.project(D, nblocks=(3, 4), method="randomized", seed=0)
    assert _rel(res.operator.to_dense(), D) < 1e-12
    # A = Mᴴ for a Monarch M of shape (30, 36): project_adjoint recovers it from products.
    A = D.conj().T
    op = Opaque(A)
    resH = sm.Monarch.project_adjoint(op, nblocks=(3, 4), method="randomized", seed=0)
    assert resH.onto == "monarch_adjoint"
    assert isinstance(resH.operator, MonarchAdjoint)
    assert _rel(resH.operator.to_dense(), A) < 1e-12
    front = sm.project(op, "monarch_adjoint", nblocks=(3, 4), method="randomized", seed=0)
    assert front.error == resH.error


def test_front_door():
    A = np.random.default_rng(8).standard_normal((24, 24))
    res = sm.project(Opaque(A), "monarch", nblocks=4, rank=2, method="randomized", seed=1)
    assert res.onto == "monarch"
    assert not res.exact
    assert (
        res.lower_bound
        <= _slice_distance(A, 4, 4, 2)
        <= np.linalg.norm(A - res.operator.to_dense())
    )


def _butterfly_split_distance(A, half):
    """First split of square_dyadic(2*half): blocks rows {l, half + l} x columns half i2 + [0, half)."""
    total = 0.0
    for i2 in range(2):
        for lo in range(half):
            block = A[[lo, half + lo], i2 * half : (i2 + 1) * half]
            total += np.linalg.svd(block, compute_uv=False)[1] ** 2
    return math.sqrt(total)


@pytest.mark.parametrize("dtype", ["float64", "complex64"])
def test_first_butterfly_split(dtype):
    n, half = 32, 16
    left, right = (1, 2, 2, half), (2, half, half, 1)
    assert sm.ks.square_dyadic(n)[0] == left  # the chain's first factor
    rng = np.random.default_rng(9)
    C = KSChain([random_array(rng, left, dtype), random_array(rng, right, dtype)])
    D = np.asarray(C.to_dense())
    op = Opaque(D)
    res = ks_project_two_sketched(op, left, right, oversample=3, seed=0, error_probes=4)
    assert _rel(np.asarray(res.operator.to_dense()), D) < 2e3 * EPS[dtype]
    # 2 column sets x min(1 + 3, 16) + 16 row sets x min(4 + 3, 2) + 4 probes
    assert op.counts == {"matmat": 2 * 4 + 4, "rmatmat": 16 * 2}
    assert res.params["products"] == 44
    A = D + 0.1 * random_array(rng, D.shape, dtype)
    res = ks_project_two_sketched(Opaque(A), left, right, seed=1)
    distance = _butterfly_split_distance(A.astype(np.complex128), half)
    true_error = float(np.linalg.norm(A - np.asarray(res.operator.to_dense())))
    assert res.lower_bound <= distance * (1 + 1e-5)
    assert distance <= true_error * (1 + 1e-5)
    assert 0.5 * true_error < res.error < 2.0 * true_error


def test_bad_input():
    op = Opaque(np.random.default_rng(10).standard_normal((16, 16)))
    with pytest.raises(ValueError, match="rank"):
        sm.Monarch.project(op, nblocks=4, rank=5, method="randomized")
    with pytest.raises(ValueError, match="oversample"):
        sm.Monarch.project(op, nblocks=4, method="randomized", oversample=-1)
    with pytest.raises(ValueError, match="error_probes"):
        sm.Monarch.project(op, nblocks=4, method="randomized", error_probes=0)
    with pytest.raises(TypeError, match="oversample"):
        sm.Monarch.project(op, nblocks=4, method="randomized", oversample=1.5)
    with pytest.raises(ValueError, match="method"):
        sm.Monarch.project(op, nblocks=4, method="sketch")
    with pytest.raises(ValueError, match=r"shape \(16, 32\)"):
        ks_project_two_sketched(op, (1, 4, 8, 4), (4, 8, 8, 1))
    with pytest.raises(ValueError, match="inner dimensions"):
        ks_project_two_sketched(op, (1, 4, 4, 4), (4, 2, 4, 1))
    with pytest.raises(ValueError, match="2-d"):
        ks_project_two_sketched(np.ones(16), (1, 4, 4, 4), (4, 4, 4, 1))
    bad = Opaque(np.full((16, 16), np.nan))
    with pytest.raises(ValueError, match="NaN"):
        sm.Monarch.project(bad, nblocks=4, method="randomized")

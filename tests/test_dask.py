"""structmat on Dask: lazy products and out-of-core projections against the NumPy path."""

import numpy as np
import pytest

import structmat as sm
import structmat.dask as smd

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def _rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_apply_keeps_chunks_and_matches_dense(dtype):
    rng = _rng()
    M = sm.Monarch.square(36, nblocks=6, seed=0, dtype=dtype)
    Xn = rng.standard_normal((36, 50)).astype(dtype)
    X = da.from_array(Xn, chunks=(12, 10))  # row chunks: rechunked to one
    D = M.to_dense()
    tol = 1e-5 if dtype in (np.float32, np.complex64) else 1e-12
    for op, ref in ((M, D), (M.H, D.conj().T), (M.H @ M + 2 * M, D.conj().T @ D + 2 * D)):
        Y = op @ X
        assert isinstance(Y, da.Array)
        assert Y.chunks == ((36,), (10,) * 5)
        assert Y.dtype == dtype
        np.testing.assert_allclose(Y.compute(), ref @ Xn, rtol=tol, atol=tol * 10)
    Z = X.T @ M
    assert Z.chunks == ((10,) * 5, (36,))
    np.testing.assert_allclose(Z.compute(), Xn.T @ D, rtol=tol, atol=tol * 10)


def test_apply_on_cluster(client):
    M = sm.Monarch.square(64, nblocks=8, seed=1)
    Xn = _rng().standard_normal((64, 40))
    Y = (M @ da.from_array(Xn, chunks=(64, 8))).compute()
    np.testing.assert_allclose(Y, M.to_dense() @ Xn, rtol=1e-12, atol=1e-12)


def test_apply_bad_input():
    M = sm.Monarch.square(16, nblocks=4, seed=0)
    with pytest.raises(ValueError, match="16 rows"):
        M @ da.zeros((15, 3), chunks=5)
    X = da.from_array(np.ones((16, 4)), chunks=(16, 2))
    unknown = X[X[:, 0] > 0]
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        M @ unknown


CASES = [
    ("monarch", {"nblocks": 4}),
    ("monarch", {"nblocks": (3, 5), "rank": 2}),
    ("monarch_adjoint", {"nblocks": (3, 5), "rank": 2}),
    ("diagonal", {}),
    ("block_diagonal", {"sizes": [(20, 18), (20, 18)]}),
    ("toeplitz", {}),
]


@pytest.mark.parametrize(("onto", "params"), CASES)
def test_project_threaded_equals_numpy(onto, params):
    W = _rng().standard_normal((40, 36))
    with dask.config.set(scheduler="threads"):
        res = sm.project(da.from_array(W, chunks=(16, 8)), onto, **params)
    ref = sm.project(W, onto, **params)
    assert res.exact
    np.testing.assert_allclose(res.error, ref.error, rtol=1e-10)
    np.testing.assert_allclose(res.norm, np.linalg.norm(W), rtol=1e-12)
    true = np.linalg.norm(W - res.operator.to_dense())
    np.testing.assert_allclose(res.error, true, rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_project_monarch_on_cluster(client, dtype):
    rng = _rng()
    W = (
        rng.standard_normal((64, 64))
        + (1j * rng.standard_normal((64, 64)) if dtype == np.complex128 else 0)
    ).astype(dtype)
    res = sm.project(da.from_array(W, chunks=(32, 16)), "monarch", nblocks=8, rank=2)
    ref = sm.project(W, "monarch", nblocks=8, rank=2)
    np.testing.assert_allclose(res.error, ref.error, rtol=1e-5 if dtype == np.float32 else 1e-10)
    assert res.operator.dtype == dtype


def test_project_circulant_and_lowrank(client):
    W = _rng().standard_normal((48, 48))
    A = da.from_array(W, chunks=(16, 24))
    res, ref = sm.project(A, "circulant"), sm.project(W, "circulant")
    np.testing.assert_allclose(res.error, ref.error, rtol=1e-10)
    np.testing.assert_allclose(res.operator.to_dense(), ref.operator.to_dense(), atol=1e-14)
    kw = {"rank": 4, "method": "randomized", "seed": 0}
    res, ref = sm.project(A, "lowrank", **kw), sm.project(W, "lowrank", **kw)
    np.testing.assert_allclose(res.error, ref.error, rtol=1e-10)
    assert res.upper_bound == res.error
    assert res.lower_bound <= res.error
    sv = np.linalg.svd(W, compute_uv=False)
    assert res.error >= np.sqrt(np.sum(sv[4:] ** 2)) * (1 - 1e-12)


def test_project_bad_input(monkeypatch):
    A = da.from_array(np.ones((8, 8)), chunks=4)
    with pytest.raises(ValueError, match="2-d"):
        sm.project(da.ones((2, 2, 2)), "monarch", nblocks=2)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        sm.project(A[A[:, 0] > 0], "monarch", nblocks=2)
    with pytest.raises(ValueError, match=r"not available on a Dask array.*monarch"):
        sm.project(A, "kronecker", shapes=((2, 2), (4, 4)))
    bad = da.from_array(np.full((8, 8), np.nan), chunks=4)
    with pytest.raises(ValueError, match="NaN"):
        sm.project(bad, "toeplitz")
    monkeypatch.setattr(smd, "SVD_MAX_BYTES", 100)
    with pytest.raises(ValueError, match="randomized"):
        sm.project(A, "lowrank", rank=1)

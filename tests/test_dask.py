"""structmat on Dask: lazy products and out-of-core projections against the NumPy path."""

import math

import numpy as np
import pytest

import structmat as sm
import structmat.dask as smd
import structmat.ks as smks

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # the scheduler's HTTP server binds 8787 otherwise, and warns when taken
            scheduler_kwargs={"dashboard_address": ":0"},
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


# ---------------------------------------------------------------------- butterfly / KS
def _matrix(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        W = W + 1j * rng.standard_normal(shape)
    return W.astype(dtype)


def _factors(op):
    """The value arrays of a butterfly (possibly times a permutation) or a KS chain."""
    if isinstance(op, sm.Butterfly):
        return list(op.tw)
    if isinstance(op, smks.KSChain):
        return [f.values for f in op.factors]
    return [*_factors(op.factors[0]), np.asarray(op.factors[1].idx)]


def _assert_same(res, ref, tol):
    """Same factors, error, norm, bounds and exact flag as the in-memory result."""
    assert type(res.operator) is type(ref.operator)
    got, want = _factors(res.operator), _factors(ref.operator)
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=0, atol=tol * np.abs(b).max())
    for field in ("error", "norm", "lower_bound", "upper_bound"):
        np.testing.assert_allclose(getattr(res, field), getattr(ref, field), rtol=tol)
    assert res.exact == ref.exact
    assert res.params == ref.params


@pytest.fixture
def small_tiles(monkeypatch):
    """Record the entries of A each tile task receives; tiles of at most 1/8 of A (set here)."""
    from structmat.dask import _butterfly as bf

    seen = []
    for name in ("_split_tile", "_gram_tile", "_two_error_tile", "_residual_tile"):
        fn = getattr(bf, name)

        def wrapped(*args, _fn=fn, **kw):
            seen.append(sum(a.size for a in args if isinstance(a, np.ndarray)))
            return _fn(*args, **kw)

        monkeypatch.setattr(bf, name, wrapped)
    return seen


BUTTERFLY_CASES = [
    (64, {}),
    (128, {"permutation": "bitrev"}),
    (96, {}),  # radices (2, 2, 2, 2, 2, 3)
    (96, {"radices": (12, 8), "permutation": "digitrev"}),
]


@pytest.mark.parametrize(("n", "params"), BUTTERFLY_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_project_butterfly_threaded_equals_numpy(monkeypatch, small_tiles, n, params, dtype):
    W = _matrix((n, n), dtype)
    monkeypatch.setattr(smd._butterfly, "_TILE_BYTES", W.size)  # at most W.size / 8 entries
    with dask.config.set(scheduler="threads"):
        res = sm.project(da.from_array(W, chunks=(n // 4, n // 3)), "butterfly", **params)
    ref = sm.project(W, "butterfly", **params)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    _assert_same(res, ref, tol)
    # the certificate holds for the operator returned, against the dense oracle
    true = np.linalg.norm(W.astype(np.complex128) - res.operator.to_dense())
    np.testing.assert_allclose(res.error, true, rtol=tol)
    assert res.lower_bound <= res.error <= res.upper_bound
    assert max(small_tiles) <= W.size // 8  # no task sees more than an eighth of A
    assert len(small_tiles) >= 8


def test_project_butterfly_of_a_butterfly_is_recovered():
    W = sm.Butterfly.random(64, seed=3).to_dense()
    res = sm.project(da.from_array(W, chunks=16), "butterfly")
    ref = sm.project(W, "butterfly")
    assert res.error <= 1e-12 * res.norm
    np.testing.assert_allclose(res.upper_bound, ref.upper_bound, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(res.operator.to_dense(), W, atol=1e-12)


KS_CASES = [
    ((96, 96), smks.mixed_radix(96)),
    ((24, 12), smks.chainable((24, 12))),  # rectangular
    ((12, 30), smks.chainable((12, 30))),
    ((48, 48), smks.monarch((48, 48), 4, 6, 1)),  # two factors: exact
]


@pytest.mark.parametrize(("shape", "patterns"), KS_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_project_ks_threaded_equals_numpy(monkeypatch, small_tiles, shape, patterns, dtype):
    W = _matrix(shape, dtype, seed=1)
    monkeypatch.setattr(smd._butterfly, "_TILE_BYTES", W.size)
    with dask.config.set(scheduler="threads"):
        res = sm.project(da.from_array(W, chunks=(6, 6)), "ks", patterns=patterns)
    ref = sm.project(W, "ks", patterns=patterns)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    _assert_same(res, ref, tol)
    true = np.linalg.norm(W.astype(np.complex128) - res.operator.to_dense())
    np.testing.assert_allclose(res.error, true, rtol=tol)
    assert max(small_tiles) <= W.size // 8
    assert len(small_tiles) >= 8


def test_project_ks_in_class_is_exact():
    C = smks.KSChain.random(smks.mixed_radix(96), seed=0)
    W = C.to_dense()
    res = sm.project(da.from_array(W, chunks=32), "ks", patterns=smks.mixed_radix(96))
    assert res.exact
    assert res.error <= 1e-12 * res.norm
    np.testing.assert_allclose(res.operator.to_dense(), W, atol=1e-12)


def test_project_butterfly_and_ks_on_cluster(client):
    W = _matrix((64, 64), np.float64, seed=2)
    A = da.from_array(W, chunks=(16, 32))
    res, ref = sm.project(A, "butterfly"), sm.project(W, "butterfly")
    _assert_same(res, ref, 1e-10)
    pats = smks.mixed_radix(64)
    res, ref = sm.project(A, "ks", patterns=pats), sm.project(W, "ks", patterns=pats)
    _assert_same(res, ref, 1e-10)


def _entries_returned(x):
    """Entries of the NumPy arrays in a computed result (nested tuples, lists, dicts)."""
    if isinstance(x, np.ndarray):
        return x.size
    if isinstance(x, (tuple, list)):
        return sum(_entries_returned(v) for v in x)
    if isinstance(x, dict):
        return sum(_entries_returned(v) for v in x.values())
    return 0


@pytest.mark.parametrize(
    ("n", "onto", "params"),
    [
        (128, "butterfly", {}),
        (128, "butterfly", {"permutation": "bitrev"}),
        (96, "butterfly", {}),  # first split radix 3
        (64, "butterfly", {"radices": (4, 16)}),  # 16 column groups: runs of two
        (96, "ks", {"patterns": smks.mixed_radix(96)}),
        (48, "ks", {"patterns": smks.monarch((48, 48), 4, 6, 1)}),
    ],
)
def test_project_butterfly_ks_later_splits_stay_on_workers(monkeypatch, n, onto, params):
    """Only the factors' values come back; the later splits run as tasks on parts of H_1.

    ``H_1``, the first split's right factor (``n²/b`` entries), is block
    diagonal over the first split's column groups; each later task gets the
    rows of one run of groups.
    """
    from structmat.dask import _butterfly as bf

    W = _matrix((n, n), np.float64, seed=4)
    monkeypatch.setattr(bf, "_TILE_BYTES", W.size)  # tiles of at most W.size / 8 entries
    returned, later = [], []
    real = dask.compute

    def spy(*args, **kw):
        out = real(*args, **kw)
        returned.append(_entries_returned(out))
        return out

    fn = bf._later_task

    def wrapped(SVs, ids, left, right, u, *rest):
        later.append((len(u), right, sum(a.size for a in SVs)))
        return fn(SVs, ids, left, right, u, *rest)

    monkeypatch.setattr(dask, "compute", spy)
    monkeypatch.setattr(bf, "_later_task", wrapped)
    with dask.config.set(scheduler="threads"):
        res = sm.project(da.from_array(W, chunks=(n // 4, n // 2)), onto, **params)
    ref = sm.project(W, onto, **params)
    _assert_same(res, ref, 1e-10)
    factors = _factors(res.operator)
    if "permutation" in params:
        factors = factors[:-1]  # the permutation's indices: not computed
    assert sum(returned) <= sum(f.size for f in factors)
    right = later[0][1]  # the first split's right factor: a2 column groups
    assert len(later) >= min(right[0], bf._LATER_RUNS) >= 2
    assert sum(u for u, _, _ in later) == right[0]
    for u, _, seen in later:
        assert seen <= math.prod(right) * u // right[0]


def _chunks_reached(dsk, key, chunks, memo):
    """The chunk keys of ``chunks`` that ``key`` depends on (not looking below a chunk)."""
    if key not in memo:
        memo[key] = set()
        for d in dask.core.get_dependencies(dsk, key):
            memo[key] |= {d} if d in chunks else _chunks_reached(dsk, d, chunks, memo)
    return memo[key]


@pytest.mark.parametrize(
    ("onto", "params"),
    [("butterfly", {}), ("butterfly", {"radices": (4, 4, 4)}), ("ks", {"patterns": None})],
)
def test_project_butterfly_ks_graph_has_no_task_on_all_of_a(monkeypatch, onto, params):
    """Every task of every graph we compute depends on part of A only (the sums add up here).

    (With a permutation a column panel of ``A Pᵀ`` gathers columns from every
    chunk, a slice of each: there the tile sizes are checked instead, in the
    tests above.)
    """
    from structmat.dask import _butterfly as bf

    if onto == "ks":
        params = {"patterns": smks.square_dyadic(64)}
    monkeypatch.setattr(bf, "_TILE_BYTES", 8 * 64 * 8)
    graphs = []
    real = dask.compute

    def spy(*args, **kw):
        collections = dask.base.unpack_collections(*args)[0]
        graphs.append(dask.base.collections_to_expr(collections, False).__dask_graph__())
        return real(*args, **kw)

    monkeypatch.setattr(dask, "compute", spy)
    W = _matrix((64, 64), np.float64)
    A = da.from_array(W, chunks=16)
    chunks = {key for row in A.__dask_keys__() for key in row}
    assert len(chunks) == 16
    res = sm.project(A, onto, **params)
    np.testing.assert_allclose(res.error, sm.project(W, onto, **params).error, rtol=1e-10)
    assert len(graphs) >= 2  # the scale pass, then the split (and the residual for ks)
    for dsk in graphs:
        memo = {}
        tasks = [k for k in dsk if k not in chunks]
        reached = [len(_chunks_reached(dsk, k, chunks, memo)) for k in tasks]
        assert max(reached) < len(chunks)
        assert sum(r > 0 for r in reached) > 4


def test_project_butterfly_ks_bad_input():
    A = da.from_array(_matrix((16, 16), np.float64), chunks=8)
    with pytest.raises(ValueError, match="2-d"):
        sm.project(da.ones((4, 4, 4)), "butterfly")
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        sm.project(A[A[:, 0] > 0], "butterfly")
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        sm.project(A[A[:, 0] > 0], "ks", patterns=smks.square_dyadic(16))
    with pytest.raises(ValueError, match=r"square matrix, got shape \(16, 8\)"):
        sm.project(A[:, :8], "butterfly")
    with pytest.raises(ValueError, match="must multiply to n = 16"):
        sm.project(A, "butterfly", radices=(2, 2, 2))
    with pytest.raises(ValueError, match="one dense level"):
        sm.project(da.ones((7, 7), chunks=3), "butterfly")
    with pytest.raises(ValueError, match=r"need A of shape \(\.\.\., 16, 16\), got \(16, 12\)"):
        sm.project(A[:, :12], "ks", patterns=smks.square_dyadic(16))
    with pytest.raises(ValueError, match="not chainable"):
        sm.project(A, "ks", patterns=[(2, 2, 2, 4), (1, 4, 4, 4)])
    with pytest.raises(ValueError, match="at least two patterns"):
        sm.project(A, "ks", patterns=[(1, 16, 16, 1)])
    with pytest.raises(ValueError, match="needs patterns"):
        sm.project(A, "ks")
    bad = da.from_array(np.full((16, 16), np.inf), chunks=8)
    with pytest.raises(ValueError, match="NaN or Inf"):
        sm.project(bad, "butterfly")

"""``structmat project`` on zarr stores and large .npy files, on Dask, against the in-memory path."""

from __future__ import annotations

import argparse
import io as stdio
import os
import pickle
import sys

import numpy as np
import pytest

import structmat as sm
from structmat import _cli_dask, cli
from structmat.io import load_result

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
zarr = pytest.importorskip("zarr")
distributed = pytest.importorskip("dask.distributed")
psutil = pytest.importorskip("psutil")

THREADS = ("--scheduler", "threads", "-q")


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_error(code, err, *fragments):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("structmat project: error:"), err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def _matrix(dtype=np.float32):
    return np.random.default_rng(3).standard_normal((64, 48)).astype(dtype)


@pytest.fixture
def store(tmp_path):
    A = _matrix()
    path = tmp_path / "A.zarr"
    z = zarr.open_array(str(path), mode="w", shape=A.shape, chunks=(64, 12), dtype=A.dtype)
    z[:] = A
    return path, A


@pytest.fixture
def npy(tmp_path):
    A = _matrix(np.float64)
    path = tmp_path / "A.npy"
    np.save(path, A)
    return path, A


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": ":0"},  # not port 8787, which others may hold
    ) as c:
        yield c


def assert_same_projection(out, A, nblocks):
    """The saved result against the in-memory projection and against dense NumPy."""
    got = load_result(out)
    ref = sm.project(A, "monarch", nblocks=nblocks)
    assert got.exact
    assert got.onto == "monarch"
    assert got.params == ref.params
    # float32 input: panels and the whole matrix round their sums differently (~1e-8)
    same = 1e-6 if A.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got.error, ref.error, rtol=same)
    np.testing.assert_allclose(got.norm, ref.norm, rtol=same)
    tol = 1e-5 if A.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got.norm, np.linalg.norm(A.astype(np.float64)), rtol=tol)
    D = got.operator.to_dense()
    np.testing.assert_allclose(D, ref.operator.to_dense(), rtol=tol, atol=tol)
    # the certified error is the distance of the saved operator to A
    dense_err = np.linalg.norm(A.astype(np.float64) - D.astype(np.float64))
    np.testing.assert_allclose(got.error, dense_err, rtol=tol)


# ---------------------------------------------------------------------- results
def test_zarr_equals_in_memory(capsys, store, tmp_path):
    path, A = store
    out = tmp_path / "out.npz"
    code, stdout, err = run(
        capsys, "project", path, "--onto", "monarch", "--nblocks", 4, "-o", out, *THREADS
    )
    assert code == 0, err
    assert err == ""
    assert "projection onto monarch(nblocks=(4, 4), rank=1)" in stdout
    assert "64x48" in stdout
    assert "exact" in stdout
    assert_same_projection(out, A, 4)


def test_npy_with_dask_flag_equals_in_memory(capsys, npy, tmp_path):
    path, A = npy
    out = tmp_path / "out.npz"
    code, _, err = run(
        capsys,
        "project",
        path,
        "--onto",
        "monarch",
        "--nblocks",
        "4,2",
        "--dask",
        "-o",
        out,
        *THREADS,
    )
    assert code == 0, err
    assert_same_projection(out, A, (4, 2))


def test_zarr_array_of_a_group_by_key(capsys, tmp_path):
    A = _matrix(np.float64)
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    g.create_array("w", shape=A.shape, chunks=(64, 24), dtype=A.dtype)[:] = A
    out = tmp_path / "w.npz"
    code, stdout, err = run(
        capsys,
        "project",
        tmp_path / "g.zarr",
        "--key",
        "w",
        "--onto",
        "monarch",
        "--nblocks",
        4,
        "-o",
        out,
        *THREADS,
    )
    assert code == 0, err
    assert "w       64x48" in stdout
    assert_same_projection(out, A, 4)


def test_existing_cluster_by_address(capsys, store, tmp_path, cluster):
    path, A = store
    out = tmp_path / "out.npz"
    argv = ("project", path, "--onto", "monarch", "--nblocks", 8, "-o", out, "-q")
    code, _, err = run(capsys, *argv, "--scheduler", cluster.scheduler_address)
    assert code == 0, err
    assert_same_projection(out, A, 8)


@pytest.mark.slow
def test_default_local_cluster_starts_and_closes(capsys, store, tmp_path):
    """The default path: a LocalCluster of worker processes, none left after the command."""
    path, A = store
    out = tmp_path / "out.npz"
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    argv = ("project", path, "--onto", "monarch", "--nblocks", 4, "-o", out, "-q")
    code, _, err = run(capsys, *argv, "--workers", 1, "--worker-memory", "512MiB")
    assert code == 0, err
    assert_same_projection(out, A, 4)
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    _gone, alive = psutil.wait_procs(left, timeout=10)
    assert not alive, alive


# ---------------------------------------------------------------------- when the Dask path runs
def _args(file, **kw):
    base = {"dask": False, "scheduler": None, "workers": None, "worker_memory": None}
    return argparse.Namespace(file=str(file), **{**base, **kw})


def test_small_npy_stays_in_memory_big_one_goes_lazy(capsys, npy, tmp_path, monkeypatch):
    path, A = npy
    size = path.stat().st_size
    assert not _cli_dask.wants_dask(_args(path))
    assert _cli_dask.wants_dask(_args(path, dask=True))
    assert _cli_dask.wants_dask(_args(path, scheduler="threads"))
    assert not _cli_dask.wants_dask(_args(tmp_path / "B.npz"))
    # a file over a quarter of the available memory
    monkeypatch.setattr(_cli_dask, "available_memory", lambda: 4 * size - 1)
    assert _cli_dask.wants_dask(_args(path))
    monkeypatch.setattr(_cli_dask, "available_memory", lambda: 4 * size)
    assert not _cli_dask.wants_dask(_args(path))

    opened = []
    real = _cli_dask.open_lazy
    monkeypatch.setattr(_cli_dask, "open_lazy", lambda *a: opened.append(a) or real(*a))
    monkeypatch.setattr(_cli_dask, "available_memory", lambda: 2 * size)
    out = tmp_path / "out.npz"
    code, _, err = run(
        capsys, "project", path, "--onto", "monarch", "--nblocks", 4, "-o", out, *THREADS
    )
    assert code == 0, err
    assert len(opened) == 1
    assert_same_projection(out, A, 4)


def test_npy_is_read_by_column_panels_through_a_memory_map(npy, monkeypatch):
    path, A = npy
    monkeypatch.setattr(_cli_dask, "NPY_CHUNK_BYTES", 64 * 8 * 10)  # ten columns a chunk
    ((name, X),) = _cli_dask.open_lazy(str(path), None).items()
    assert name == "A"
    assert X.chunks == ((64,), (10, 10, 10, 10, 8))
    np.testing.assert_array_equal(X.compute(scheduler="synchronous"), A)
    # what the graph holds is the path, not the data
    source = _cli_dask.NpyColumns(path)
    assert len(pickle.dumps(source)) < 1000 < A.nbytes
    assert isinstance(source[:, 3:5], np.ndarray)
    assert not isinstance(source[:, 3:5], np.memmap)


def test_float16_and_integers_as_in_memory(capsys, tmp_path):
    A = np.random.default_rng(0).integers(-5, 5, (32, 32)).astype(np.int16)
    np.save(tmp_path / "i.npy", A)
    out = tmp_path / "i.npz"
    code, _, err = run(
        capsys,
        "project",
        tmp_path / "i.npy",
        "--onto",
        "monarch",
        "--nblocks",
        4,
        "--dask",
        "-o",
        out,
        *THREADS,
    )
    assert code == 0, err
    assert_same_projection(out, A.astype(np.float64), 4)
    ((_, H),) = _cli_dask.open_lazy(
        str(_save(tmp_path / "h.npy", A.astype(np.float16))), None
    ).items()
    assert H.dtype == np.float32


def _save(path, A):
    np.save(path, A)
    return path


# ---------------------------------------------------------------------- progress
class _Terminal(stdio.StringIO):
    def isatty(self):
        return True


def test_progress_on_stderr_only_on_a_terminal(capsys, store, tmp_path, monkeypatch):
    path, _ = store
    monkeypatch.setattr(_cli_dask, "PROGRESS_DELAY", 0.0)
    argv = (
        "project",
        path,
        "--onto",
        "monarch",
        "-o",
        tmp_path / "o.npz",
        "--scheduler",
        "threads",
    )
    code, out, err = run(capsys, *argv)  # stderr is not a terminal here
    assert code == 0
    assert err == ""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "Completed" in terminal.getvalue()
    assert "Completed" not in out
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code, out, _ = run(capsys, *argv, "--quiet")
    assert code == 0
    assert terminal.getvalue() == ""


def test_distributed_progress_on_stderr(capsys, store, tmp_path, cluster, monkeypatch):
    path, _ = store
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    argv = ("project", path, "--onto", "monarch", "-o", tmp_path / "o.npz")
    code, out, _ = run(capsys, *argv, "--scheduler", cluster.scheduler_address)
    assert code == 0, terminal.getvalue()
    assert "Completed" in terminal.getvalue()
    assert "Completed" not in out


# ---------------------------------------------------------------------- -o, whole or not at all
def test_failed_projection_leaves_nothing_at_output(capsys, store, tmp_path):
    path, _ = store
    out = tmp_path / "out.npz"
    code, _, err = run(capsys, "project", path, "--onto", "kronecker", "-o", out, *THREADS)
    assert_error(code, err, "not available on a Dask array", "monarch")
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("lazy", [True, False])
def test_failed_write_keeps_the_old_file(capsys, store, npy, tmp_path, monkeypatch, lazy):
    path = store[0] if lazy else npy[0]
    out = tmp_path / "out.npz"
    out.write_bytes(b"old")

    def broken(target, result):
        target.write_bytes(b"half a file")
        msg = "disk full"
        raise OSError(msg)

    monkeypatch.setattr(cli, "_save", broken)
    code, _, err = run(capsys, "project", path, "--onto", "monarch", "-o", out, *THREADS)
    assert_error(code, err, "disk full")
    assert out.read_bytes() == b"old"
    assert {p.name for p in tmp_path.iterdir()} == {"A.zarr", "A.npy", "out.npz"}


def test_written_file_has_the_usual_mode(capsys, store, tmp_path):
    path, _ = store
    out = tmp_path / "out.npz"
    code, _, err = run(capsys, "project", path, "--onto", "monarch", "-o", out, *THREADS)
    assert code == 0, err
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


# ---------------------------------------------------------------------- bad input
def test_missing_zarr_store(capsys, tmp_path):
    code, _, err = run(
        capsys, "project", tmp_path / "nope.zarr", "--onto", "monarch", "-o", tmp_path / "o.npz"
    )
    assert_error(code, err, "no such zarr store", "nope.zarr")
    assert not (tmp_path / "o.npz").exists()


def test_zarr_group_instead_of_an_array(capsys, tmp_path):
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    g.create_array("w", shape=(4, 4), dtype="f8")
    g.create_array("cube", shape=(2, 2, 2), dtype="f8")
    o = tmp_path / "o.npz"
    code, _, err = run(capsys, "project", tmp_path / "g.zarr", "--onto", "monarch", "-o", o)
    assert_error(code, err, "is a zarr group, not an array", "--key", "'cube', 'w'")
    code, _, err = run(
        capsys, "project", tmp_path / "g.zarr", "--key", "x", "--onto", "monarch", "-o", o
    )
    assert_error(code, err, "has no array 'x'", "'cube', 'w'")
    code, _, err = run(
        capsys, "project", tmp_path / "g.zarr", "--key", "cube", "--onto", "monarch", "-o", o
    )
    assert_error(code, err, "shape (2, 2, 2)", "expected a 2-d matrix")


def test_non_matrix_npy(capsys, tmp_path):
    np.save(tmp_path / "v.npy", np.ones(5))
    np.save(tmp_path / "s.npy", np.array([["a", "b"]]))
    o = tmp_path / "o.npz"
    code, _, err = run(
        capsys, "project", tmp_path / "v.npy", "--dask", "--onto", "monarch", "-o", o
    )
    assert_error(code, err, "shape (5,)", "expected a 2-d matrix")
    code, _, err = run(
        capsys, "project", tmp_path / "s.npy", "--dask", "--onto", "monarch", "-o", o
    )
    assert_error(code, err, "dtype <U1", "expected numbers")
    np.save(tmp_path / "obj.npy", np.array([[None]], dtype=object), allow_pickle=True)
    code, _, err = run(
        capsys, "project", tmp_path / "obj.npy", "--dask", "--onto", "monarch", "-o", o
    )
    assert_error(code, err, "can be memory-mapped", "Python objects")
    code, _, err = run(
        capsys, "project", tmp_path / "none.npy", "--dask", "--onto", "monarch", "-o", o
    )
    assert_error(code, err, "no such file")
    assert not o.exists()


def test_dask_options_need_npy_or_zarr(capsys, tmp_path, store):
    np.savez(tmp_path / "w.npz", w=np.eye(4))
    o = tmp_path / "o.npz"
    code, _, err = run(
        capsys, "project", tmp_path / "w.npz", "--dask", "--onto", "monarch", "-o", o
    )
    assert_error(code, err, "zarr stores and .npy files", "w.npz")
    np.save(tmp_path / "w.npy", np.eye(4))
    code, _, err = run(
        capsys, "project", tmp_path / "w.npy", "--dask", "--key", "w", "--onto", "monarch", "-o", o
    )
    assert_error(code, err, "--key selects an array of a zarr group")


def test_unknown_chunks():
    X = da.from_array(np.ones((8, 4)), chunks=(4, 4))
    X = X[X[:, 0] > 0]
    with pytest.raises(
        ValueError, match=r"unknown chunk sizes \(NaN in .chunks\).*compute_chunk_sizes"
    ):
        _cli_dask.check_chunks(X, None)


def test_chunks_too_big_for_a_worker(capsys, tmp_path):
    z = zarr.open_array(
        str(tmp_path / "big.zarr"), mode="w", shape=(8192, 8192), chunks=(8192, 8192), dtype="f4"
    )
    o = tmp_path / "o.npz"
    argv = ("project", tmp_path / "big.zarr", "--onto", "monarch", "-o", o, "-q")
    code, _, err = run(capsys, *argv, "--worker-memory", "300MiB")  # a 256 MiB chunk
    assert_error(
        code, err, "chunks of 8192x8192 (256.0 MiB)", "memory limit of 300.0 MiB", "smaller chunks"
    )
    assert z.nchunks_initialized == 0
    assert not o.exists()


def test_bad_cluster_options(capsys, store, tmp_path):
    path, _ = store
    argv = ("project", path, "--onto", "monarch", "-o", tmp_path / "o.npz")
    code, _, err = run(capsys, *argv, "--worker-memory", "lots")
    assert_error(code, err, "--worker-memory takes a size such as 3GiB", "'lots'")
    code, _, err = run(capsys, *argv, "--worker-memory", "10KiB")
    assert_error(code, err, "--worker-memory must be at least 256.0 MiB", "'10KiB'")
    code, _, err = run(capsys, *argv, "--workers", 0)
    assert_error(code, err, "--workers takes a count >= 1, got 0")
    code, _, err = run(capsys, *argv, "--scheduler", "tcp://127.0.0.1:9", "--scheduler-timeout", 0)
    assert_error(code, err, "--scheduler-timeout takes seconds > 0")
    code, _, err = run(capsys, *argv, "--scheduler", "nonsense::", "--scheduler-timeout", 0.5)
    assert_error(code, err, "--scheduler 'nonsense::' is neither an address nor one of threads")
    # a failed connect must not leave Dask pointed at a client that never came up
    assert dask.config.get("scheduler", None) is None


def test_scheduler_that_does_not_answer(capsys, store, tmp_path):
    path, _ = store
    o = tmp_path / "o.npz"
    argv = ("project", path, "--onto", "monarch", "-o", o, "--scheduler", "tcp://127.0.0.1:9")
    code, _, err = run(capsys, *argv, "--scheduler-timeout", 0.5)
    assert_error(code, err, "could not reach scheduler at tcp://127.0.0.1:9 within 0.5 s")
    assert not o.exists()
    assert dask.config.get("scheduler", None) is None


def test_local_cluster_settings(monkeypatch):
    monkeypatch.setattr(_cli_dask, "available_memory", lambda: 12 * 2**30)
    monkeypatch.setattr(_cli_dask.os, "cpu_count", lambda: 2)
    assert _cli_dask.local_cluster_settings(None, None) == (2, 3 * 2**30)
    monkeypatch.setattr(_cli_dask.os, "cpu_count", lambda: 64)
    assert _cli_dask.local_cluster_settings(None, None) == (4, int(1.5 * 2**30))
    assert _cli_dask.local_cluster_settings(3, "1GiB") == (3, 2**30)

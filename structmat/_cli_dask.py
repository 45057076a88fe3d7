"""``structmat project`` on matrices larger than memory: zarr stores and big ``.npy`` files on Dask.

A zarr store, or a ``.npy`` file over :data:`LAZY_FRACTION` of the available
memory (or any ``.npy`` with ``--dask``), is opened lazily - never read whole
into this process - and projected with :func:`structmat.dask.project`: on a
:class:`~dask.distributed.LocalCluster` with bounded memory by default, on an
existing cluster with ``--scheduler ADDRESS``, or on Dask's threaded scheduler
with ``--scheduler threads``. Progress is Dask's own, on stderr. Dask is
imported only here, and only on this path.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np

from structmat._cli_output import PROGRESS_DELAY

__all__ = [
    "LAZY_FRACTION",
    "add_arguments",
    "check_chunks",
    "computing",
    "local_cluster_settings",
    "open_lazy",
    "wants_dask",
]

#: A ``.npy`` file larger than this fraction of the available memory is opened lazily.
LAZY_FRACTION = 0.25
#: The default local cluster's workers share this fraction of the available memory.
WORKER_MEMORY_FRACTION = 0.5
#: At most this many local workers (one thread each), never more than the CPU count.
MAX_LOCAL_WORKERS = 4
#: Seconds ``--scheduler ADDRESS`` waits for the scheduler by default.
SCHEDULER_TIMEOUT = 10.0
#: Column panels of a lazily read ``.npy`` hold about this many bytes.
NPY_CHUNK_BYTES = 1 << 26
#: A chunk may take at most this fraction of a worker's memory limit.
CHUNK_MEMORY_FRACTION = 0.5
#: The least ``--worker-memory``: a worker process alone takes about 100 MiB, and Dask
#: restarts a worker over its limit (again and again, if it is over it at rest).
MIN_WORKER_MEMORY = 1 << 28
#: ``--scheduler`` names of Dask's in-process schedulers (no cluster).
LOCAL_SCHEDULERS = ("threads", "synchronous")


class LazyInputError(ValueError):
    """Bad input on the Dask path (the command prints it as one line, exit code 2)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``structmat project`` options of this path."""
    g = p.add_argument_group(
        "larger than memory (Dask)",
        "A zarr store, or a .npy file over a quarter of the available memory, is read lazily "
        "and projected on Dask; any of these options asks for that path for a .npy file too.",
    )
    g.add_argument(
        "--dask", action="store_true", help="read a .npy file lazily and project it on Dask"
    )
    g.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a running dask.distributed scheduler (tcp://host:8786), or 'threads' for Dask's "
        "threaded scheduler in this process (default: a local cluster with bounded memory)",
    )
    g.add_argument(
        "--scheduler-timeout",
        type=float,
        default=SCHEDULER_TIMEOUT,
        metavar="S",
        help=f"seconds to wait for --scheduler ADDRESS (default {SCHEDULER_TIMEOUT:g})",
    )
    g.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local cluster: worker processes (default: CPUs, at most 4)",
    )
    g.add_argument(
        "--worker-memory",
        metavar="SIZE",
        help="local cluster: memory limit of each worker, e.g. 3GiB (default: half the "
        "available memory, shared by the workers)",
    )


def _is_zarr(path: Path) -> bool:
    if path.suffix.lower() == ".zarr":
        return True
    return path.is_dir() and any((path / f).is_file() for f in ("zarr.json", ".zarray", ".zgroup"))


def available_memory() -> int:
    """Bytes of memory available to new processes now (psutil; ``os.sysconf`` without it)."""
    try:
        import psutil
    except ImportError:  # psutil comes with distributed; a bare Dask install may lack it
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    return int(psutil.virtual_memory().available)


def wants_dask(args: argparse.Namespace) -> bool:
    """Whether ``args.file`` is projected on Dask (imports nothing)."""
    path = Path(args.file)
    if _is_zarr(path):
        return True
    asked = args.dask or any(
        v is not None for v in (args.scheduler, args.workers, args.worker_memory)
    )
    if path.suffix.lower() != ".npy":
        if asked:
            msg = f"the Dask path reads zarr stores and .npy files, not {str(path)!r}"
            raise LazyInputError(msg)
        return False
    if asked:
        return True
    return path.is_file() and path.stat().st_size > LAZY_FRACTION * available_memory()


# ---------------------------------------------------------------------- opening
class NpyColumns:
    """A ``.npy`` file sliced through a memory map opened in the process that reads it.

    Dask pickles what :func:`dask.array.from_array` wraps into its graph; a
    ``numpy.memmap`` pickles as its whole contents, this as its path.
    """

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        mm = self._map()
        self.shape, self.dtype, self.ndim = mm.shape, mm.dtype, mm.ndim

    def _map(self) -> Any:
        return np.load(self.path, mmap_mode="r", allow_pickle=False)

    def __getitem__(self, index: Any) -> np.ndarray:
        return np.array(self._map()[index])  # a copy: the map closes with it


def _open_npy(path: Path) -> tuple[str, Any]:
    import dask.array as da

    if not path.is_file():
        msg = f"no such file: {str(path)!r}"
        raise FileNotFoundError(msg)
    try:
        source = NpyColumns(path)
    except (OSError, ValueError, EOFError) as exc:
        msg = f"{str(path)!r} is not a .npy file that can be memory-mapped ({exc})"
        raise LazyInputError(msg) from exc
    _check_matrix(str(path), source.shape, source.dtype)
    m = source.shape[0]
    cols = max(1, NPY_CHUNK_BYTES // max(1, m * source.dtype.itemsize))
    A = da.from_array(source, chunks=(m, cols), asarray=False, meta=np.empty((0, 0), source.dtype))
    return path.stem, A


def _open_zarr(path: Path, key: str | None) -> tuple[str, Any]:
    import dask.array as da
    import zarr

    if not path.exists():
        msg = f"no such zarr store: {str(path)!r}"
        raise FileNotFoundError(msg)
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as exc:  # zarr's error types differ between versions 2 and 3
        msg = f"{str(path)!r} is not a readable zarr store ({type(exc).__name__}: {exc})"
        raise LazyInputError(msg) from exc
    name = path.stem
    if key is not None:
        if not isinstance(node, zarr.Group) or key not in node:
            held = sorted(node.keys()) if isinstance(node, zarr.Group) else []
            msg = f"{str(path)!r} has no array {key!r}; it holds {', '.join(map(repr, held)) or 'one array (no --key needed)'}"
            raise LazyInputError(msg)
        node, name = node[key], key
    if isinstance(node, zarr.Group):
        arrays = sorted(k for k, v in node.arrays())
        msg = (
            f"{str(path)!r}{f' ({key!r})' if key else ''} is a zarr group, not an array; "
            f"pick one of its arrays with --key ({', '.join(map(repr, arrays)) or 'it holds none'})"
        )
        raise LazyInputError(msg)
    _check_matrix(f"{str(path)!r}{f' {key!r}' if key else ''}", node.shape, node.dtype)
    return name, da.from_zarr(node)


def _check_matrix(what: str, shape: tuple[int, ...], dtype: Any) -> None:
    if len(shape) != 2:
        msg = f"{what} holds an array of shape {tuple(shape)}, expected a 2-d matrix"
        raise LazyInputError(msg)
    dtype = np.dtype(dtype)
    if not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
        msg = f"{what} holds dtype {dtype}, expected numbers"
        raise LazyInputError(msg)


def open_lazy(file: str, key: str | None) -> dict[str, Any]:
    """``{name: dask array}`` for a zarr store (``key``: an array of a group) or a ``.npy`` file."""
    path = Path(file)
    if _is_zarr(path):
        name, A = _open_zarr(path, key)
    else:
        if key is not None:
            msg = (
                f"--key selects an array of a zarr group; {file!r} is a .npy file holding one array"
            )
            raise LazyInputError(msg)
        name, A = _open_npy(path)
    if A.dtype == np.float16:  # as in memory: half precision is projected in single
        A = A.astype(np.float32)
    return {name: A}


def check_chunks(A: Any, worker_memory: float | None) -> None:
    """Chunks that a worker can hold: known sizes, each under half of ``worker_memory`` bytes."""
    if any(math.isnan(c) for axis in A.chunks for c in axis):
        msg = "the Dask array has unknown chunk sizes (NaN in .chunks): call A.compute_chunk_sizes() before projecting"
        raise LazyInputError(msg)
    if worker_memory:
        rows, cols = (max(axis) for axis in A.chunks)
        size = rows * cols * np.dtype(A.dtype).itemsize
        if size > CHUNK_MEMORY_FRACTION * worker_memory:
            msg = (
                f"chunks of {rows}x{cols} ({_mib(size)}) do not fit a worker with a memory limit "
                f"of {_mib(worker_memory)} (at most {CHUNK_MEMORY_FRACTION:.0%} of it per chunk): "
                "store the matrix in smaller chunks, or raise --worker-memory"
            )
            raise LazyInputError(msg)


def _mib(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"


# ---------------------------------------------------------------------- running
def local_cluster_settings(workers: int | None, memory: str | None) -> tuple[int, int]:
    """``(n_workers, memory_limit in bytes)`` of the default local cluster.

    ``n_workers``: the CPU count, at most :data:`MAX_LOCAL_WORKERS`; each
    worker's limit: :data:`WORKER_MEMORY_FRACTION` of the memory available
    now, shared evenly. Either can be given (``memory`` as ``"3GiB"``).
    """
    from dask.utils import parse_bytes

    n = workers if workers is not None else min(os.cpu_count() or 1, MAX_LOCAL_WORKERS)
    if n < 1:
        msg = f"--workers takes a count >= 1, got {n}"
        raise LazyInputError(msg)
    if memory is None:
        return n, int(WORKER_MEMORY_FRACTION * available_memory() / n)
    try:
        limit = int(parse_bytes(memory))
    except (ValueError, TypeError) as exc:
        msg = f"--worker-memory takes a size such as 3GiB or 500MB, got {memory!r}"
        raise LazyInputError(msg) from exc
    if limit < MIN_WORKER_MEMORY:
        msg = f"--worker-memory must be at least {_mib(MIN_WORKER_MEMORY)}, got {memory!r}"
        raise LazyInputError(msg)
    return n, limit


def _connect(address: str, timeout: float) -> Any:
    from distributed import Client

    if not timeout > 0:
        msg = f"--scheduler-timeout takes seconds > 0, got {timeout:g}"
        raise LazyInputError(msg)
    try:
        return Client(address, timeout=timeout)
    except ValueError as exc:
        msg = f"--scheduler {address!r} is neither an address nor one of {', '.join(LOCAL_SCHEDULERS)} ({exc})"
        raise LazyInputError(msg) from exc
    # refused or timed out; under heavy load distributed's connect may also fail an
    # internal assertion instead of timing out cleanly
    except (OSError, TimeoutError, AssertionError) as exc:
        msg = f"could not reach scheduler at {address} within {timeout:g} s ({exc})"
        raise LazyInputError(msg) from exc


def _distributed_get(client: Any) -> Any:
    """A Dask scheduler function: the client's, with distributed's progress bar on stderr."""
    from distributed import progress

    def get(dsk: Any, keys: Any, **kwargs: Any) -> Any:
        futures = client.get(dsk, keys, sync=False, **kwargs)
        with redirect_stdout(sys.stderr):  # the text bar writes to stdout, the tables' stream
            progress(futures, multi=False)
        return client.gather(futures)

    return get


class _Steps:
    """The ``Steps`` of :func:`structmat._cli_output.progress`: Dask draws its own bar."""

    def doing(self, what: str) -> None:
        pass

    def done(self) -> None:
        pass


@contextmanager
def computing(args: argparse.Namespace, matrices: dict[str, Any]) -> Iterator[_Steps]:
    """The scheduler ``args`` names, active (and closed on exit), with Dask's progress on stderr.

    Checks the chunks of ``matrices`` against the workers' memory first.
    """
    import dask

    quiet = args.quiet or not sys.stderr.isatty()
    with ExitStack() as stack:
        # distributed's Client makes itself Dask's default before it connects: however
        # the work below ends, even in a failed connect, Dask's setting comes back as it was
        stack.enter_context(dask.config.set(scheduler=dask.config.get("scheduler", None)))
        if args.scheduler in LOCAL_SCHEDULERS:
            for A in matrices.values():
                check_chunks(A, None)
            stack.enter_context(dask.config.set(scheduler=args.scheduler))
            if not quiet:
                from dask.diagnostics import ProgressBar

                stack.enter_context(ProgressBar(minimum=PROGRESS_DELAY, out=sys.stderr))
            yield _Steps()
            return
        if args.scheduler is not None:
            client = stack.enter_context(_connect(args.scheduler, args.scheduler_timeout))
            limits = [
                w.get("memory_limit") or 0 for w in client.scheduler_info()["workers"].values()
            ]
            limit = min(limits) if limits and min(limits) > 0 else None
            for A in matrices.values():
                check_chunks(A, limit)
        else:
            from distributed import Client, LocalCluster

            n, limit = local_cluster_settings(args.workers, args.worker_memory)
            for A in matrices.values():  # before any process starts
                check_chunks(A, limit)
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    memory_limit=limit,
                    processes=True,
                    dashboard_address=None,
                    # its HTTP server (/health, /metrics) still binds 8787 unless told
                    # otherwise, and warns when another cluster holds that port
                    scheduler_kwargs={"dashboard_address": ":0"},
                    silence_logs=logging.ERROR if quiet else logging.WARNING,
                )
            )
            client = stack.enter_context(Client(cluster))
        get = client.get if quiet else _distributed_get(client)
        stack.enter_context(dask.config.set(scheduler=get))
        yield _Steps()

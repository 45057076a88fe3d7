"""One process-wide pool of worker threads for NumPy kernels (private).

OpenBLAS runs small products (blocks up to about 64 x 64) on one thread, so
kernels made of many such products split their work between these threads
instead. The pool starts on first use and is forgotten in forked children,
which inherit the object but not its threads. Kernels whose LAPACK calls or
mid-size products would start BLAS threads of their own run under
:func:`one_blas_thread` (threadpoolctl): two levels of threads oversubscribe
the cores (see docs/benchmarks.md, "Design measurements"). :func:`scratch`
gives each thread reusable work arrays.

The BLAS thread count is process-wide state (OpenBLAS with pthreads), so the
limit is one shared, reference-counted hold: the first caller in saves the
count and sets one thread, the last one out restores the saved count, whatever
the order in which concurrent callers (user threads projecting at once) enter
and leave. One ``threadpoolctl`` limit per caller would restore each other's
values out of order and could leave BLAS at one thread for good. Both changes
run on one helper thread, so threadpoolctl (which lets only the thread that
set a limit change it again) sees a single owner, released after each restore.
While any caller holds the limit, every thread's BLAS calls run on one thread:
the library changes the count only while one of its kernels runs. A limit the
user holds from another thread (``threadpool_limits``) takes precedence: the
helper's changes then do nothing.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")

WORKERS = os.cpu_count() or 1
_POOL: ThreadPoolExecutor | None = None
_CONTROLLER: Any = None
# The shared BLAS limit (see the module docstring): the callers holding it, the
# threadpoolctl limiter that saved the count before the first of them, and the
# helper thread that sets and restores it.
_BLAS_LOCK = threading.Lock()
_BLAS_HOLDERS = 0
_BLAS_LIMITER: Any = None
_BLAS_THREAD: ThreadPoolExecutor | None = None
# Kernels split their work into at least this many tasks, a number independent of
# WORKERS so that results do not depend on the thread count.
MIN_TASKS = 8
# Scratch arrays up to this size are kept per thread (see ``scratch``).
SCRATCH_BYTES = 8 << 20
_LOCAL = threading.local()


def _forget_pool() -> None:
    global _POOL, _BLAS_LOCK, _BLAS_HOLDERS, _BLAS_LIMITER, _BLAS_THREAD
    _POOL = _BLAS_THREAD = None
    # The holders were threads of the parent, the child has none: it gets back the
    # count saved before them (the lock may have been held at fork time).
    _BLAS_LOCK = threading.Lock()
    limiter, _BLAS_HOLDERS, _BLAS_LIMITER = _BLAS_LIMITER, 0, None
    if limiter is not None:
        limiter.__exit__(None, None, None)


os.register_at_fork(after_in_child=_forget_pool)


def pool() -> ThreadPoolExecutor:
    """The shared pool of ``WORKERS`` threads."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(WORKERS, thread_name_prefix="structmat")
    return _POOL


def _controller() -> Any:
    """The process's threadpoolctl controller (its scan of the loaded libraries is slow)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


def _limit_blas() -> Any:
    """On the helper thread: save the BLAS thread counts, set one thread."""
    limiter = _controller().limit(limits=1, user_api="blas")
    limiter.__enter__()
    return limiter


def _on_blas_thread(fn: Callable[..., R], *args: Any) -> R:
    global _BLAS_THREAD
    if _BLAS_THREAD is None:
        _BLAS_THREAD = ThreadPoolExecutor(1, thread_name_prefix="structmat-blas")
    return _BLAS_THREAD.submit(fn, *args).result()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS at one thread while the block runs (process-wide, shared by concurrent callers).

    The first caller in saves the BLAS thread count and sets it to one; the last
    one out restores the saved count. Safe to nest and to enter from several
    threads at once, in any order.
    """
    global _BLAS_HOLDERS, _BLAS_LIMITER
    with _BLAS_LOCK:
        if _BLAS_HOLDERS == 0:
            _BLAS_LIMITER = _on_blas_thread(_limit_blas)
        _BLAS_HOLDERS += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_HOLDERS -= 1
            if _BLAS_HOLDERS == 0:
                limiter, _BLAS_LIMITER = _BLAS_LIMITER, None
                # restores the saved counts and releases threadpoolctl's ownership
                _on_blas_thread(limiter.__exit__, None, None, None)


# OpenBLAS runs a GEMM of at most this many multiply-adds (m n k) on one thread
# (interface/gemm.c: SMP_THRESHOLD_MIN 65536 times GEMM_MULTITHREAD_THRESHOLD, 4 by default).
OPENBLAS_SERIAL_GEMM = 1 << 18


def _all_openblas() -> bool:
    """Whether every BLAS loaded in this process is OpenBLAS."""
    blas = [c for c in _controller().lib_controllers if c.user_api == "blas"]
    return all(c.internal_api == "openblas" for c in blas)


def map_small_gemms(fn: Callable[[T], R], items: Iterable[T], gemm_macs: int) -> list[R]:
    """``[fn(item) for item in items]`` on the worker threads, for kernels of small GEMMs.

    ``gemm_macs`` bounds the multiply-adds of each GEMM that ``fn`` runs. When
    OpenBLAS runs such a GEMM on one thread anyway, the workers run without the
    shared BLAS limit, whose two hand-offs to the helper thread cost about as
    much as a 64-column Monarch product; otherwise as :func:`map_one_blas`.
    """
    serial_blas = gemm_macs <= OPENBLAS_SERIAL_GEMM and _all_openblas()
    return _map(fn, items, nullcontext() if serial_blas else one_blas_thread())


def map_one_blas(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(item) for item in items]``, on the worker threads with BLAS at one thread.

    Runs in the calling thread (BLAS untouched) with one worker or one item.
    """
    return _map(fn, items, one_blas_thread())


def _map(fn: Callable[[T], R], items: Iterable[T], blas: AbstractContextManager[Any]) -> list[R]:
    """``fn`` over ``items`` on the worker threads inside ``blas``; serial for one worker or item."""
    items = list(items)
    if WORKERS == 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with blas:
        return list(pool().map(fn, items))


def scratch(shape: tuple[int, ...], dtype: Any, slot: str) -> np.ndarray:
    """An uninitialised work array of this thread, reused by every call with the same ``slot``.

    A kernel that allocates and frees the same few megabytes on every call can
    make glibc hand the pages back to the system and fault them in again on
    every call (see docs/benchmarks.md, "Design measurements"). Arrays up to
    ``SCRATCH_BYTES`` are kept per thread, so worker threads never share one;
    larger ones are allocated fresh. The caller must not return the array or
    use the same slot twice at once.
    """
    dt = np.dtype(dtype)
    nbytes = math.prod(shape) * dt.itemsize
    if nbytes > SCRATCH_BYTES:
        return np.empty(shape, dtype=dt)
    store: dict[str, np.ndarray] = _LOCAL.__dict__.setdefault("store", {})
    buf = store.get(slot)
    if buf is None or buf.nbytes < nbytes:
        # 64-byte aligned, like NumPy's own large allocations
        raw = np.empty(nbytes + 64, dtype=np.uint8)
        start = -raw.ctypes.data % 64
        buf = store[slot] = raw[start : start + nbytes]
    return buf[:nbytes].view(dt).reshape(shape)

"""One process-wide pool of worker threads for NumPy kernels (private).

OpenBLAS runs small products (blocks up to about 64 x 64) on one thread, so
kernels made of many such products split their work between these threads
instead. The pool starts on first use and is forgotten in forked children,
which inherit the object but not its threads. Kernels whose LAPACK calls or
mid-size products would start BLAS threads of their own run under
:func:`one_blas_thread` (threadpoolctl): two levels of threads on two cores
measured 1.8x slower than one. :func:`scratch` gives each thread reusable work
arrays.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")

WORKERS = os.cpu_count() or 1
_POOL: ThreadPoolExecutor | None = None
_CONTROLLER: Any = None
# Kernels split their work into at least this many tasks, a number independent of
# WORKERS so that results do not depend on the thread count.
MIN_TASKS = 8
# Scratch arrays up to this size are kept per thread (see ``scratch``).
SCRATCH_BYTES = 8 << 20
_LOCAL = threading.local()


def _forget_pool() -> None:
    global _POOL
    _POOL = None


os.register_at_fork(after_in_child=_forget_pool)


def pool() -> ThreadPoolExecutor:
    """The shared pool of ``WORKERS`` threads."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(WORKERS, thread_name_prefix="structmat")
    return _POOL


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread per caller while the block runs (process-wide)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1, user_api="blas"):
        yield


def map_one_blas(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(item) for item in items]``, on the worker threads with BLAS at one thread.

    Runs in the calling thread (BLAS untouched) with one worker or one item.
    """
    items = list(items)
    if WORKERS == 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with one_blas_thread():
        return list(pool().map(fn, items))


def scratch(shape: tuple[int, ...], dtype: Any, slot: str) -> np.ndarray:
    """An uninitialised work array of this thread, reused by every call with the same ``slot``.

    A kernel that allocates and frees the same few megabytes on every call can
    make glibc hand the pages back to the system and fault them in again
    (measured: a 4096 x 64 Monarch product took 4.0 ms with two fresh 2 MiB
    temporaries, 1.8 ms with one of them reused). Arrays up to
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

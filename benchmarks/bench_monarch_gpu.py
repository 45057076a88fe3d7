#!/usr/bin/env python
"""Monarch on a GPU through CuPy: multiply and projection against dense cuBLAS and batched SVD.

Float32 and float64, square Monarch with the default ``nblocks``, rank 1.

- Matmat for n in {4096, 16384}, batch in {1, 64, 1024}: ``M @ X`` against
  ``A @ X`` (``A = M.to_dense()``, cuBLAS) and against the straightforward
  two-``matmul`` version (written below).
- Projection for n in {1024, 4096}: ``Monarch.project(A)`` (the exact engine:
  the mixed-precision path is NumPy only) against the official method, one
  batched ``cupy.linalg.svd`` of the slice stack; exactness as
  ``|error - error_svd| / error_svd``.

Times are medians of three timed loops of calls, each call followed by
``cupy.cuda.Device().synchronize()`` inside the timing (after a warm-up
call); the functions of one row alternate round by round, in one run. No
target is set for the GPU; the table records where the CuPy paths stand.

Usage: ``python benchmarks/bench_monarch_gpu.py [--quick]`` (needs CuPy and a
GPU; ``--quick``: matmat n = 4096 and projection n = 1024 only).
"""

from __future__ import annotations

import _common

_common.use_checkout()

import argparse  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import structmat as sm  # noqa: E402


def gpu_times(cp: Any, fns: list[Callable[[], Any]]) -> list[float]:
    """Median seconds of each of ``fns``, interleaved rounds, the device synchronized after each call."""
    return _common.time_pairs(fns, repeats=3, min_time=0.05, sync=cp.cuda.Device().synchronize)


def two_matmul(cp: Any, L: Any, R: Any, X: Any) -> Any:
    """``M @ X`` the straightforward way: matmul, transpose, matmul, transpose."""
    K, _, p = R.shape
    J, s, _ = L.shape
    k = X.shape[1]
    Y = cp.matmul(R, X.reshape(K, p, k))  # (K, J, k)
    Y = cp.matmul(L, Y.transpose(1, 0, 2))  # (J, s, k)
    return Y.transpose(1, 0, 2).reshape(s * J, k)


def ms(t: float) -> str:
    return f"{t * 1e3:.3f} ms" if t < 1 else f"{t:.2f} s"


def matmat(cp: Any, dtype: str, sizes: tuple[int, ...]) -> None:
    print(f"\n## Matmat, {dtype}\n")
    print(
        "| n | batch | structmat | two-matmul | dense A @ X | vs two-matmul | vs dense | max rel. diff vs dense |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        M = sm.Monarch.square(n, dtype=getattr(cp, dtype), xp=cp, seed=0)
        A = M.to_dense()
        for batch in (1, 64, 1024):
            X = cp.asarray(np.random.default_rng(1).standard_normal((n, batch)), dtype=dtype)
            t_sm, t_two, t_dense = gpu_times(
                cp,
                [
                    lambda M=M, X=X: M @ X,
                    lambda M=M, X=X: two_matmul(cp, M.L, M.R, X),
                    lambda A=A, X=X: A @ X,
                ],
            )
            ref = A @ X
            diff = float(cp.abs(M @ X - ref).max() / cp.abs(ref).max())
            print(
                f"| {n} | {batch} | {ms(t_sm)} | {ms(t_two)} | {ms(t_dense)} | "
                f"{t_two / t_sm:.2f}x | {t_dense / t_sm:.1f}x | {diff:.1e} |"
            )


def projection(cp: Any, dtype: str, sizes: tuple[int, ...]) -> None:
    print(f"\n## Projection, {dtype}, Gaussian A, default nblocks, rank 1\n")
    print("| n | structmat (exact engine) | batched full SVD | vs SVD | error vs SVD |")
    print("|---:|---:|---:|---:|---:|")
    for n in sizes:
        A = cp.asarray(np.random.default_rng(2).standard_normal((n, n)), dtype=dtype)
        b = math.isqrt(n)
        S = A.reshape(b, b, b, b).transpose(1, 2, 0, 3).reshape(b * b, b, b)
        t_sm, t_svd = gpu_times(
            cp,
            [lambda A=A: sm.Monarch.project(A), lambda S=S: cp.linalg.svd(S, full_matrices=False)],
        )
        sv = cp.linalg.svd(S, compute_uv=False)
        err_svd = float(cp.sqrt(cp.sum(sv[:, 1:] ** 2)))
        err = sm.Monarch.project(A).error
        print(
            f"| {n} | {ms(t_sm)} | {ms(t_svd)} | {t_svd / t_sm:.1f}x | {abs(err - err_svd) / err_svd:.1e} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the smaller size of each table")
    quick = parser.parse_args().quick
    try:
        import cupy as cp

        name = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    except Exception as exc:  # no CuPy, no driver, no device
        _common.skip(f"needs CuPy and a GPU ({type(exc).__name__}: {exc})")
    print(f"# bench_monarch_gpu  {name}  cupy {cp.__version__}  numpy {np.__version__}")
    for dtype in ("float32", "float64"):
        matmat(cp, dtype, (4096,) if quick else (4096, 16384))
        projection(cp, dtype, (1024,) if quick else (1024, 4096))
    return 0


if __name__ == "__main__":
    sys.exit(main())

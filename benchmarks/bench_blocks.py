#!/usr/bin/env python
"""The stacked BlockDiagonal: its former batched matmul against the KS driver.

A stack ``(k, m, n)`` is the KS factor ``KS(k, m, n, 1)``; its multiply now
runs through :mod:`structmat.ks` (``chain_on_stack`` with the
one-factor chain, ``chain_matvec`` for one vector). *before* is the former
kernel, one ``np.matmul(S, X.reshape(k, n, c))``, run through the same
operator (a subclass overriding ``_matmat``, so both pay the same ``@``
overhead); *after* is ``BlockDiagonal`` itself. NumPy, ``X`` of shape
``(k*n,)`` for 1 column, else ``(k*n, cols)``. Gate: after within 1.1x of
before everywhere. The last column times the column-tiled chain driver
(``chain_matmat_tiled``) on the one factor: ``ks_chain_matmat`` runs a
single factor as one matmul instead, as that column shows it should.

Times are medians of the interleaved rounds of ``_common.time_rounds``
(three by default, ``--rounds``; loops of at least 50 ms per round); the
ratio is the median over rounds of the per-round ratio, so load that
changes between rounds cancels (as ``_common.time_ratio``). Other processes
share this machine: compare ratios.

``--cpu-time`` (with ``--threads 1``) reads process CPU time instead, which
the harness does not offer: wall time on a busy 2-core VM swung by 25% and
more between identical kernels, CPU time leaves out the time the process
waits for a core. It runs the same interleaved rounds with a small local
loop (:func:`cpu_rounds`; threaded BLAS would count its spinning threads).

Usage: ``python benchmarks/bench_blocks.py [--quick] [--threads N] [--rounds R]
[--cpu-time]``.
"""

from __future__ import annotations

import _common

_common.setup_blas(_common.flag_value("--threads"))
_common.use_checkout()

import argparse  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from bench_monarch import fmt_t  # noqa: E402

from structmat import BlockDiagonal  # noqa: E402
from structmat.ks._tiled import chain_matmat_tiled  # noqa: E402

STACKS = [(64, 16, 16), (32, 32, 32), (8, 128, 128)]
COLUMNS = [1, 64, 1024]
GATE = 1.1


class Before(BlockDiagonal):
    """The stacked BlockDiagonal with its former multiply (one batched matmul of its own)."""

    def _matmat(self, X: Any) -> Any:
        S = self._cast(self.stack, X)
        k, m, n = S.shape
        lead, c = tuple(X.shape[:-2]), X.shape[-1]
        Y = np.matmul(S, np.reshape(X, (*lead, k, n, c)))
        return np.reshape(Y, (*lead, k * m, c))


def cpu_rounds(
    fns: Sequence[Callable[[], object]], *, repeats: int, min_time: float
) -> list[list[float]]:
    """As ``_common.time_rounds`` (one loop per function per round, in turn), in process CPU time."""
    loops = []
    for fn in fns:
        t0 = time.process_time()
        fn()
        loops.append(max(1, int(min_time / max(time.process_time() - t0, 1e-7))))
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, number, times in zip(fns, loops, out, strict=True):
            fn()  # untimed: the previous function's data has left the caches
            t0 = time.process_time()
            for _ in range(number):
                fn()
            times.append((time.process_time() - t0) / number)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", default=None)
    parser.add_argument("--keep-openblas-env", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu-time", action="store_true")
    args = parser.parse_args()
    min_time = 0.02 if args.quick else 0.05
    print(f"# bench_blocks: {platform.machine()}, {os.cpu_count()} CPUs, NumPy {np.__version__}")
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    clock = "process CPU" if args.cpu_time else "wall"
    print(f"BLAS threads {threads}, {clock} time, {args.rounds} rounds\n")
    print(
        "| dtype | stack (k, m, n) | columns | before | after | before / after (median of rounds) | gate "
        "| tiled driver (not used) |"
    )
    print("|---|---|---:|---:|---:|---:|---|---:|")
    rng = np.random.default_rng(0)
    worst = 0.0
    for dtype in ("float64", "complex128"):
        for k, m, n in STACKS:
            S = rng.standard_normal((k, m, n))
            if dtype == "complex128":
                S = S + 1j * rng.standard_normal((k, m, n))
            old, new = Before(S), BlockDiagonal(S)
            for cols in COLUMNS:
                shape = (k * n,) if cols == 1 else (k * n, cols)
                X = rng.standard_normal(shape).astype(dtype)
                got, want = new @ X, old @ X
                assert np.linalg.norm(got - want) <= 1e-12 * np.linalg.norm(want)
                fns = [lambda op=op, X=X: op @ X for op in (old, new)]
                if cols > 1:  # the column-tiled chain driver on the one factor (not used)
                    fns.append(lambda X=X, b=[S[:, None]]: chain_matmat_tiled(b, X))
                if args.cpu_time:
                    out = cpu_rounds(fns, repeats=args.rounds, min_time=min_time)
                else:
                    out = _common.time_rounds(
                        fns, repeats=args.rounds, min_time=min_time, pause=_common.BLAS_IDLE_S
                    )
                t_old, t_new, *t_tiled = (statistics.median(t) for t in out)
                ratio = statistics.median(a / b for a, b in zip(out[0], out[1], strict=True))
                worst = max(worst, 1 / ratio)
                ok = "ok" if ratio >= 1 / GATE else f"FAIL (> {GATE}x)"
                tiled = fmt_t(t_tiled[0]) if t_tiled else "-"
                print(
                    f"| {dtype} | {(k, m, n)} | {cols} | {fmt_t(t_old)} | {fmt_t(t_new)} "
                    f"| {ratio:.2f}x | {ok} | {tiled} |",
                    flush=True,
                )
    print(f"\nworst after / before: {worst:.2f}x (gate {GATE}x)")


if __name__ == "__main__":
    main()

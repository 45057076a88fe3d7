#!/usr/bin/env python
"""The stacked BlockDiagonal: its former batched matmul against the KS driver (issue 15).

A stack ``(k, m, n)`` is the KS factor ``KS(k, m, n, 1)``; since issue 15 its
multiply runs through :mod:`structmat.ks` (``chain_on_stack`` with the
one-factor chain, ``chain_matvec`` for one vector). *before* is the former
kernel, one ``np.matmul(S, X.reshape(k, n, c))``, run through the same
operator (a subclass overriding ``_matmat``, so both pay the same ``@``
overhead); *after* is ``BlockDiagonal`` itself. NumPy, ``X`` of shape
``(k*n,)`` for 1 column, else ``(k*n, cols)``. Gate: after within 1.1x of
before everywhere. The last column times the column-tiled chain driver
(``chain_matmat_tiled``) on the one factor: ``ks_chain_matmat`` runs a
single factor as one matmul instead, as that column shows it should.

Times are medians over three (``--rounds``) interleaved runs through all
rows (in each row the kernels' calls alternate, 7 samples each per run, see
:func:`alternating`), per call of loops of calls that take about 1 ms.
Other processes share this machine: compare ratios. ``--cpu-time`` times
process CPU time instead of wall time: with ``--threads 1`` it leaves out the
time the process waits for a core while other processes run (threaded BLAS
would count its spinning threads).

Usage: ``python benchmarks/bench_blocks.py [--quick] [--threads N] [--cpu-time]
[--rounds R]``.
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
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from bench_monarch import fmt_t  # noqa: E402

from structmat import BlockDiagonal  # noqa: E402
from structmat.ks._tiled import chain_matmat_tiled  # noqa: E402

STACKS = [(64, 16, 16), (32, 32, 32), (8, 128, 128)]
COLUMNS = [1, 64, 1024]
GATE = 1.1


class Before(BlockDiagonal):
    """The stacked BlockDiagonal with its multiply from before issue 15."""

    def _matmat(self, X: Any) -> Any:
        S = self._cast(self.stack, X)
        k, m, n = S.shape
        lead, c = tuple(X.shape[:-2]), X.shape[-1]
        Y = np.matmul(S, np.reshape(X, (*lead, k, n, c)))
        return np.reshape(Y, (*lead, k * m, c))


def alternating(
    fns: list[Callable[[], Any]], samples: int, out: list[list[float]], clock: Callable[[], float]
) -> None:
    """Time ``fns`` in turn, ``samples`` times, appending seconds of ``clock`` to ``out[i]``.

    Calls of the two kernels alternate, so load that drifts during the row
    (other processes share this VM) reaches both alike.
    """
    time.sleep(0.3)  # BLAS threads of the previous calls spin for ~0.1 s: let them sleep
    for fn in fns:
        fn()
    for _ in range(samples):
        for fn, times in zip(fns, out, strict=True):
            t0 = clock()
            fn()
            times.append(clock() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", default=None)
    parser.add_argument("--keep-openblas-env", action="store_true")
    parser.add_argument("--cpu-time", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    samples = 3 if args.quick else 7
    clock = time.process_time if args.cpu_time else time.perf_counter
    print(f"# bench_blocks: {platform.machine()}, {os.cpu_count()} CPUs, NumPy {np.__version__}")
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    clock_name = "process CPU" if args.cpu_time else "wall"
    print(f"BLAS threads {threads}, {clock_name} time, {args.rounds} rounds\n")
    rng = np.random.default_rng(0)
    rows = []
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
                # calls under 1 ms are timed in loops of `inner` calls: one sample of a few
                # microseconds is mostly the noise of the other processes on this VM
                t0 = time.perf_counter()
                old @ X
                inner = max(1, min(200, int(1e-3 / max(time.perf_counter() - t0, 1e-7))))
                fns = [lambda op=op, X=X, r=range(inner): [op @ X for _ in r] for op in (old, new)]
                if cols > 1:  # the column-tiled chain driver on the one factor (not used)
                    fns.append(
                        lambda X=X, b=[S[:, None]], r=range(inner): [
                            chain_matmat_tiled(b, X) for _ in r
                        ]
                    )
                rows.append(((dtype, (k, m, n), cols), fns, inner, [[] for _ in fns]))
    # interleaved runs over all rows (three by default), so each row's samples span them all
    for _ in range(args.rounds):
        for _, fns, _, out in rows:
            alternating(fns, samples, out, clock)
    print(
        "| dtype | stack (k, m, n) | columns | before | after | before / after | gate "
        "| tiled driver (not used) |"
    )
    print("|---|---|---:|---:|---:|---:|---|---:|")
    worst = 0.0
    for (dtype, stack, cols), _, inner, out in rows:
        t_old, t_new, *t_tiled = (statistics.median(t) / inner for t in out)
        worst = max(worst, t_new / t_old)
        ok = "ok" if t_new <= GATE * t_old else f"FAIL (> {GATE}x)"
        tiled = fmt_t(t_tiled[0]) if t_tiled else "-"
        print(
            f"| {dtype} | {stack} | {cols} | {fmt_t(t_old)} | {fmt_t(t_new)} "
            f"| {t_old / t_new:.2f}x | {ok} | {tiled} |"
        )
    print(f"\nworst after / before: {worst:.2f}x (gate {GATE}x)")


if __name__ == "__main__":
    main()

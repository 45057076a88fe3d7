#!/usr/bin/env python
"""The stacked BlockDiagonal: its former batched matmul against the KS driver (issue 15).

A stack ``(k, m, n)`` is the KS factor ``KS(k, m, n, 1)``; since issue 15 its
multiply runs through :mod:`structmat.ks` (``chain_on_stack`` with the
one-factor chain, ``chain_matvec`` for one vector). *before* is the former
kernel, one ``np.matmul(S, X.reshape(k, n, c))``, run through the same
operator (a subclass overriding ``_matmat``, so both pay the same ``@``
overhead); *after* is ``BlockDiagonal`` itself. NumPy, ``X`` of shape
``(k*n,)`` for 1 column, else ``(k*n, cols)``. Gate: after within 1.1x of
before everywhere.

Times are medians of the interleaved rounds of ``bench_monarch.bench``
(three rounds; the two functions of one row are timed side by side, so their
ratio sees the same machine load). Other processes share this machine:
compare ratios.

Usage: ``python benchmarks/bench_blocks.py [--quick] [--threads N]``.
"""

from __future__ import annotations

import _common

_common.setup_blas(_common.flag_value("--threads"))
_common.use_checkout()

import argparse  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from bench_monarch import bench, fmt_t  # noqa: E402

from structmat import BlockDiagonal  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", default=None)
    parser.add_argument("--keep-openblas-env", action="store_true")
    args = parser.parse_args()
    budget = 0.1 if args.quick else 0.3
    print(f"# bench_blocks: {platform.machine()}, {os.cpu_count()} CPUs, NumPy {np.__version__}\n")
    print("| dtype | stack (k, m, n) | columns | before | after | before / after | gate |")
    print("|---|---|---:|---:|---:|---:|---|")
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
                t_old, t_new = bench(fns, budget=budget)
                worst = max(worst, t_new / t_old)
                ok = "ok" if t_new <= GATE * t_old else f"FAIL (> {GATE}x)"
                print(
                    f"| {dtype} | {(k, m, n)} | {cols} | {fmt_t(t_old)} | {fmt_t(t_new)} "
                    f"| {t_old / t_new:.2f}x | {ok} |"
                )
    print(f"\nworst after / before: {worst:.2f}x (gate {GATE}x)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Chains of any size: mixed-radix butterflies, projection onto a chain, matrix-free Monarch.

- *Mixed-radix multiply*: ``dft_as_butterfly(n) @ X`` (complex128, batch 64)
  for n in {1000, 3072, 4096} against the dense DFT matrix times ``X`` and
  against ``scipy.fft.fft(X, axis=0)``.
- *Projection onto a chain*: ``structmat.project(A, "ks", patterns)`` for the
  mixed-radix chains of n in {1000, 3072} against lazylinop's ``ksd`` on the
  same chain (orthonormalized, left to right), when lazylinop is installed;
  both errors are printed (they agree to rounding). With ``--old DIR`` (a
  checkout of an earlier commit, e.g. ``git archive main | tar -x -C DIR``)
  the old checkout, this one and ``ksd`` each run in a fresh subprocess per
  round (the two trees are both called ``structmat``), in an order that
  rotates from round to round; a time is the median over three rounds of each
  subprocess's median of three calls.
- *Matrix-free Monarch*: ``Monarch.project(op, method="randomized")`` of an
  n = 4096 operator (a Monarch plus a low-rank term) against densifying it
  and projecting exactly: products with ``op`` used, time and error.

Times are medians of three interleaved rounds (``bench_monarch.bench``); other
processes share this machine, so compare ratios.

Usage: ``python benchmarks/bench_chains.py [--quick] [--threads N] [--old DIR]
[--projection-only]``.
"""

from __future__ import annotations

import _common

_common.setup_blas(_common.flag_value("--threads"))
_common.use_checkout()

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import scipy.fft  # noqa: E402
from bench_monarch import bench, fmt_t  # noqa: E402

import structmat as sm  # noqa: E402
from structmat.constructions import dft_as_butterfly  # noqa: E402
from structmat.ks import mixed_radix  # noqa: E402


def multiply_section(sizes: list[int], budget: float) -> None:
    print("\n## Mixed-radix DFT butterfly @ X, complex128, 64 columns\n")
    print(
        "| n | radices | butterfly | dense | scipy.fft | dense / butterfly | butterfly / scipy.fft |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for n in sizes:
        F = dft_as_butterfly(n)
        D = np.fft.fft(np.eye(n), axis=0)
        X = rng.standard_normal((n, 64)) + 1j * rng.standard_normal((n, 64))
        assert np.allclose(F @ X, scipy.fft.fft(X, axis=0))
        t_b, t_d, t_f = bench(
            [lambda F=F, X=X: F @ X, lambda D=D, X=X: D @ X, lambda X=X: scipy.fft.fft(X, axis=0)],
            budget=budget,
        )
        radices = F.factors[0].radices
        print(
            f"| {n} | {radices} | {fmt_t(t_b)} | {fmt_t(t_d)} | {fmt_t(t_f)} "
            f"| {t_d / t_b:.1f} | {t_b / t_f:.1f} |"
        )


def projection_section(sizes: list[int], budget: float) -> None:
    print("\n## Projection onto a mixed-radix chain, float64 (structmat vs lazylinop ksd)\n")
    have = importlib.util.find_spec("lazylinop") is not None
    if have:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from lazylinop.butterfly import Chain, ksd
    print("| n | chain | structmat | ksd | ksd / structmat | error (structmat) | error (ksd) |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(1)
    for n in sizes:
        pats = mixed_radix(n)
        A = rng.standard_normal((n, n))
        res = sm.project(A, "ks", patterns=pats)
        fns = [lambda A=A, pats=pats: sm.project(A, "ks", patterns=pats)]
        if have:
            chain = Chain(ks_patterns=[tuple(p) for p in pats])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = np.linalg.norm(A - ksd(A, chain).toarray())
            fns.append(lambda A=A, chain=chain: ksd(A, chain))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            times = bench(fns, budget=budget)
        if have:
            print(
                f"| {n} | {len(pats)} factors | {fmt_t(times[0])} | {fmt_t(times[1])} "
                f"| {times[1] / times[0]:.2f} | {res.error:.6e} | {theirs:.6e} |"
            )
        else:
            print(
                f"| {n} | {len(pats)} factors | {fmt_t(times[0])} | - | - | {res.error:.6e} | - |"
            )


# One side of the --old comparison, in its own process: "ksd" or structmat from the
# checkout on PYTHONPATH. Prints {"time": median seconds, "error": ||A - Â||_F}.
WORKER = r"""
import json, sys, warnings
sys.path.append(sys.argv[3])  # this folder: every side is timed by this checkout's harness
import numpy as np
from _common import BLAS_IDLE_S, time_call
n, side = int(sys.argv[1]), sys.argv[2]
A = np.random.default_rng(1).standard_normal((n, n))
import structmat as sm
from structmat.ks import mixed_radix
pats = mixed_radix(n)
if side == "ksd":
    warnings.simplefilter("ignore")
    from lazylinop.butterfly import Chain, ksd
    chain = Chain(ks_patterns=[tuple(p) for p in pats])
    fn = lambda: ksd(A, chain)
    err = float(np.linalg.norm(A - fn().toarray()))
else:
    fn = lambda: sm.project(A, "ks", patterns=pats)
    err = fn().error
print(json.dumps({"time": time_call(fn, repeats=3, min_time=0.0, pause=BLAS_IDLE_S),
                  "error": err}))
"""


def _side(tree: str, n: int, side: str) -> dict[str, float]:
    here = os.path.dirname(os.path.abspath(__file__))
    return _common.run_in_tree(tree, WORKER, str(n), side, here)


def projection_old_new(sizes: list[int], old: str, rounds: int = 3) -> None:
    print("\n## Projection onto a mixed-radix chain, float64: old checkout, this one, ksd\n")
    have = importlib.util.find_spec("lazylinop") is not None
    sides = ["old", "new", "ksd"] if have else ["old", "new"]
    print("| n | chain | old | new | ksd | new / old | ksd / new | error (new) | error (ksd) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        got: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
        for r in range(rounds):
            for side in sides[r % len(sides) :] + sides[: r % len(sides)]:
                tree = old if side == "old" else _common.CHECKOUT
                got[side].append(_side(tree, n, "ksd" if side == "ksd" else "structmat"))
        t = {side: statistics.median(g["time"] for g in got[side]) for side in sides}
        t_ksd = fmt_t(t["ksd"]) if have else "-"
        ratio = f"{t['ksd'] / t['new']:.2f}" if have else "-"
        err_ksd = f"{got['ksd'][0]['error']:.6e}" if have else "-"
        print(
            f"| {n} | {len(mixed_radix(n))} factors | {fmt_t(t['old'])} | {fmt_t(t['new'])} "
            f"| {t_ksd} | {t['new'] / t['old']:.2f} | {ratio} "
            f"| {got['new'][0]['error']:.6e} | {err_ksd} |"
        )


class Counting(sm.LinearOperator):
    """An operator that counts the columns it is applied to (and refuses ``to_dense``)."""

    def __init__(self, op: sm.LinearOperator) -> None:
        super().__init__(shape=op.shape, dtype=op.dtype)
        self.op, self.columns = op, 0

    def _matmat(self, X):
        self.columns += X.shape[-1]
        return self.op @ X

    def _rmatmat(self, X):
        self.columns += X.shape[-1]
        return self.op.H @ X

    def to_dense(self):
        msg = "the matrix-free path must not densify"
        raise RuntimeError(msg)


def matrix_free_section(n: int, budget: float) -> None:
    print(f"\n## Matrix-free Monarch projection, n = {n}, 64 x 64 blocks, rank 1, float64\n")
    M = sm.Monarch.square(n, nblocks=64, seed=0)
    rng = np.random.default_rng(1)
    U, V = rng.standard_normal((n, 4)), rng.standard_normal((n, 4))
    op = M + sm.LowRank(U, V) * (0.01 / np.sqrt(n))
    counted = Counting(op)
    res = sm.Monarch.project(counted, nblocks=64, method="randomized", seed=0)
    products = counted.columns
    exact = sm.Monarch.project(op.to_dense(), nblocks=64)
    t_mf, t_dense = bench(
        [
            lambda: sm.Monarch.project(op, nblocks=64, method="randomized", seed=0),
            lambda: sm.Monarch.project(op.to_dense(), nblocks=64),
        ],
        budget=budget,
    )
    true = float(np.linalg.norm(op.to_dense() - res.operator.to_dense()))
    print("| route | products with op | time | reported error | true error |")
    print("|---|---:|---:|---:|---:|")
    mf = f"{res.error:.4e} (estimate)"
    print(f"| randomized (matrix-free) | {products} | {fmt_t(t_mf)} | {mf} | {true:.4e} |")
    ex = f"{exact.error:.4e}"
    print(f"| densify, then exact | {n} | {fmt_t(t_dense)} | {ex} | {ex} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--threads", help="BLAS threads (default: as the environment says)")
    parser.add_argument("--old", help="checkout of an earlier commit: old/new/ksd projection rows")
    parser.add_argument(
        "--projection-only", action="store_true", help="only the projection-onto-a-chain rows"
    )
    args = parser.parse_args()
    budget = 0.5 if args.quick else 2.0
    sizes = [1000] if args.quick else [1000, 3072]
    if args.old:
        projection_old_new(sizes, args.old)
    if args.projection_only:
        if not args.old:
            projection_section(sizes, budget)
        return
    multiply_section([1000] if args.quick else [1000, 3072, 4096], budget)
    if not args.old:
        projection_section(sizes, budget)
    matrix_free_section(1024 if args.quick else 4096, budget)


if __name__ == "__main__":
    main()

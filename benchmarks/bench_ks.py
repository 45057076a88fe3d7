#!/usr/bin/env python
"""Kronecker-sparse chains against Monarch's NumPy kernel, and the tiled driver against the untiled one.

float64, NumPy, ``X`` of shape ``(n, k)``:

- *Same flops as Monarch*: ``Monarch.square(4096)`` (nblocks 64, its
  column-tiled kernel) against ``KSChain`` of the same two patterns
  (``structmat.ks.monarch((n, n), 64, 64)``, built from the Monarch's own
  factors, so the products agree), a butterfly (``Butterfly.random``:
  fused radix-8 KS factors through ``ks_chain_matmat``), the radix-2
  ``square_dyadic`` chain, and a mixed-radix chain. ``per-flop vs Monarch``
  is ``(t / flops) / (t_Monarch / flops_Monarch)`` with the multiply-adds
  each kernel executes (``Σ a b c d`` per column of the chain it runs; for
  the butterfly its fused factors, with the nominal ``2 n L`` count beside
  it). Gate: butterfly and chain matmat at 1024 columns within
  1.2x of Monarch's kernel on the same flops. Dense ``A @ X`` is timed
  beside them.
- *Tiled vs untiled*: ``ks_chain_matmat`` (tiled driver, worker threads)
  against the factor-by-factor path it replaced (one ``np.matmul`` per
  factor over all columns, ``structmat.ks._multiply._chain_by_factor``).

Times are medians of the interleaved rounds of ``bench_monarch.bench``
(three rounds; the functions of one row are timed side by side, so their
ratios see the same machine load). Other processes share this machine:
compare ratios.

Usage: ``python benchmarks/bench_ks.py [--quick] [--threads N]``.
"""

from __future__ import annotations

import _common

_common.setup_blas(_common.flag_value("--threads"))
_common.use_checkout()

import argparse  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from bench_monarch import bench, fmt_t  # noqa: E402

import structmat as sm  # noqa: E402
from structmat.ks import KSChain, ks_chain_matmat, mixed_radix, square_dyadic  # noqa: E402
from structmat.ks._multiply import _chain_by_factor  # noqa: E402


def chain_of_monarch(M: Any) -> KSChain:
    """The KSChain ``KS(1, s, K r, J) · KS(K, r J, p, 1)`` of a Monarch's factors."""
    return KSChain([np.transpose(M.L, (1, 2, 0))[None], M.R[:, :, :, None]])


def same_flops_section(n: int, ks: list[int], budget: float) -> None:
    print(f"\n## Same flops as Monarch's kernel, n = {n}, float64 (time; per-flop ratio)\n")
    print("| k | operator | executed MACs/col | time | per-flop vs Monarch | gate |")
    print("|---:|---|---:|---:|---:|---|")
    rng = np.random.default_rng(0)
    M = sm.Monarch.square(n, seed=1)
    CM = chain_of_monarch(M)
    B = sm.Butterfly.random(n, kind="gaussian", seed=2)
    fused = B.fused_factors()
    fused4 = B.fused_factors(4)
    SD = KSChain.random(square_dyadic(n), seed=3)
    m3 = 3 * n // 4
    MR = KSChain.random(mixed_radix(m3), seed=4)
    A = B.to_dense()
    for k in ks:
        X = rng.standard_normal((n, k))
        X3 = rng.standard_normal((m3, k))
        rows: list[tuple[str, Callable[[], Any], int, str]] = [
            (f"Monarch.square({n}) (nblocks 64)", lambda X=X: M @ X, M.flops(1), ""),
            ("KSChain of the same 2 patterns", lambda X=X: CM @ X, CM.flops(1), "<= 1.2x"),
            (
                "Butterfly (fused radix 8)",
                lambda X=X: B @ X,
                sum(f.size for f in fused),
                f"<= 1.2x (nominal 2nL = {B.flops(1)})",
            ),
            (
                "  fused radix 16 (q = 4)",
                lambda X=X: ks_chain_matmat(fused4, X[None]),
                sum(f.size for f in fused4),
                "",
            ),
            (f"KSChain square_dyadic({n})", lambda X=X: SD @ X, SD.flops(1), "<= 1.2x"),
            (f"KSChain mixed_radix({m3})", lambda X3=X3: MR @ X3, MR.flops(1), ""),
            (f"dense A @ X ({n}x{n})", lambda X=X: A @ X, n * n, ""),
        ]
        times = bench([r[1] for r in rows], budget=budget)
        ref_m = M @ X
        err = np.linalg.norm(CM @ X - ref_m) / np.linalg.norm(ref_m)
        assert err < 1e-12, err
        err = np.linalg.norm(B @ X - A @ X) / np.linalg.norm(A @ X)
        assert err < 1e-12, err
        per_m = times[0] / M.flops(1)
        for (name, _, macs, gate), t in zip(rows, times, strict=True):
            ratio = (t / macs) / per_m
            print(f"| {k} | {name} | {macs} | {fmt_t(t)} | {ratio:.2f}x | {gate} |")


def tiled_section(n: int, ks: list[int], budget: float) -> None:
    print(f"\n## ks_chain_matmat: tiled driver vs factor by factor (before), n = {n}, float64\n")
    print("| k | chain | factors | before (untiled) | after (tiled) | speedup |")
    print("|---:|---|---:|---:|---:|---:|")
    rng = np.random.default_rng(1)
    M = sm.Monarch.square(n, seed=1)
    B = sm.Butterfly.random(n, kind="gaussian", seed=2)
    chains = {
        "Butterfly fused radix 8": B.fused_factors(),
        "Monarch patterns (64 blocks)": chain_of_monarch(M)._blocked(np.dtype(np.float64)),
        "square_dyadic (radix 2)": KSChain.random(square_dyadic(n), seed=3)._blocked(
            np.dtype(np.float64)
        ),
    }
    for k in ks:
        X = rng.standard_normal((1, n, k))
        for name, blocked in chains.items():
            t_old, t_new = bench(
                [
                    lambda b=blocked, X=X: _chain_by_factor(b, X),
                    lambda b=blocked, X=X: ks_chain_matmat(b, X),
                ],
                budget=budget,
            )
            got, ref = ks_chain_matmat(blocked, X), _chain_by_factor(blocked, X)
            assert np.linalg.norm(got - ref) <= 1e-12 * np.linalg.norm(ref)
            print(
                f"| {k} | {name} | {len(blocked)} | {fmt_t(t_old)} | {fmt_t(t_new)} "
                f"| {t_old / t_new:.2f}x |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", default=None)
    parser.add_argument("--keep-openblas-env", action="store_true")
    args = parser.parse_args()
    budget = 0.3 if args.quick else 1.0
    print(f"# bench_ks: {platform.machine()}, {os.cpu_count()} CPUs, NumPy {np.__version__}")
    same_flops_section(4096, [1024] if args.quick else [64, 1024], budget)
    tiled_section(4096, [1024] if args.quick else [64, 1024], budget)


if __name__ == "__main__":
    main()

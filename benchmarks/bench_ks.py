#!/usr/bin/env python
"""Kronecker-sparse chains against Monarch's NumPy kernel; fusion; the tiled driver against the untiled one.

float64, NumPy, ``X`` of shape ``(n, k)``:

- *Same flops as Monarch*: ``Monarch.square(4096)`` (nblocks 64, its
  column-tiled kernel) against ``KSChain`` of the same two patterns
  (``structmat.ks.monarch((n, n), 64, 64)``, built from the Monarch's own
  factors, so the products agree), a butterfly (``Butterfly.random``:
  fused radix-8 KS factors through ``ks_chain_matmat``), the radix-2
  ``square_dyadic`` chain and a mixed-radix chain. The chains run as
  ``C @ X`` with writeable values (fused afresh at every multiply, nothing
  cached), with read-only values (fused factors cached), and unfused (their
  own factors through ``ks_chain_matmat``, the multiply before fusion).
  ``nominal`` MACs are the operator's own count (``C.flops(1)``: ``Σ a b c d``
  of its factors; ``2 n L`` for the butterfly), ``executed`` those of the
  factors the kernel runs (the fused ones). ``per nominal flop vs Monarch``
  is ``(t / nominal) / (t_Monarch / flops_Monarch)``. Gate: butterfly and
  chain matmat at 1024 columns within 1.2x of Monarch's kernel on the same
  (nominal) flops. ``M16`` is a Monarch doing as many multiply-adds per
  column as the fused radix-8 chains execute (nblocks 16 at n = 4096); the
  last ratio is per executed flop against it. Dense ``A @ X`` is timed
  beside them.
- *Small-block bound*: one batched matmul of ``b x b`` blocks at one BLAS
  thread for b = 8 ... 64, in cache (128 columns) and not: the throughput
  that chains of 8 x 8 blocks can reach against Monarch's 64 x 64 blocks.
- *Fusion block limit*: the chains fused with blocks of at most 1 (unfused),
  4, 8 and 16 (``structmat.ks._fuse.fusion_plan``), through ``ks_chain_matmat``.
- *Narrow inputs*: ``C @ X`` for few columns, factor by factor, fused afresh
  (writeable values) and fused from the cache (read-only values): the
  choice of ``FUSE_MIN_COLUMNS``.
- *Tiled vs untiled*: ``ks_chain_matmat`` (tiled driver, worker threads)
  against the factor-by-factor path (one ``np.matmul`` per factor over all
  columns, ``structmat.ks._multiply._chain_by_factor``), with the median and
  least time of each and the median of the per-round ratios.

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
import statistics  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from bench_monarch import bench, fmt_t  # noqa: E402

import structmat as sm  # noqa: E402
from structmat import _array_api as aa  # noqa: E402
from structmat.ks import (  # noqa: E402
    KSChain,
    ks_blocked,
    ks_chain_matmat,
    mixed_radix,
    square_dyadic,
)
from structmat.ks._fuse import fuse_blocked, fusion_plan  # noqa: E402
from structmat.ks._multiply import _chain_by_factor  # noqa: E402

F64 = np.dtype(np.float64)


def chain_of_monarch(M: Any) -> KSChain:
    """The KSChain ``KS(1, s, K r, J) · KS(K, r J, p, 1)`` of a Monarch's factors."""
    return KSChain([np.transpose(M.L, (1, 2, 0))[None], M.R[:, :, :, None]])


def read_only(C: KSChain) -> KSChain:
    """The chain with private read-only copies of its values: its fused factors are cached."""
    return KSChain([aa.private_copy(np, f.values) for f in C.factors])


def executed(C: KSChain) -> int:
    """Multiply-adds per column of the fused chain that wide multiplies run."""
    return sum(a * b * c * d for a, b, c, d in C.fused_patterns)


def fused_with(C: KSChain, max_block: int) -> list[Any]:
    """``C`` fused with blocks of at most ``max_block``, blocked, in the order applied."""
    out = []
    for start, stop in reversed(fusion_plan(C.patterns, max_block)):
        Ts = [f.values for f in C.factors[start:stop]]
        out.append(fuse_blocked(Ts) if stop - start > 1 else ks_blocked(Ts[0]))
    return out


def same_flops_section(n: int, ks: list[int], budget: float) -> None:
    print(f"\n## Same flops as Monarch's kernel, n = {n}, float64 (time; per-flop ratio)\n")
    print(
        "| k | operator | executed MACs/col | nominal MACs/col | time "
        "| per nominal flop vs Monarch | per executed flop | per executed flop vs M16 | gate |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---|")
    rng = np.random.default_rng(0)
    M = sm.Monarch.square(n, seed=1)
    CM = chain_of_monarch(M)
    B = sm.Butterfly.random(n, kind="gaussian", seed=2)
    fused = B.fused_factors()
    # a Monarch doing as many multiply-adds per column as the fused radix-8 chains
    b16 = sum(f.size for f in fused) // (2 * n)
    M16 = sm.Monarch.square(n, nblocks=b16, seed=5)
    fused4 = B.fused_factors(4)
    SD = KSChain.random(square_dyadic(n), seed=3)
    SDr = read_only(SD)
    m3 = 3 * n // 4
    MR = KSChain.random(mixed_radix(m3), seed=4)
    MRr = read_only(MR)
    sd_plain, mr_plain = SD._blocked(F64), MR._blocked(F64)
    A = B.to_dense()
    for k in ks:
        X = rng.standard_normal((n, k))
        X3 = rng.standard_normal((m3, k))
        gate = "<= 1.2x" if k >= 1024 else ""
        rows: list[tuple[str, Callable[[], Any], int, int, str]] = [
            (f"Monarch.square({n}) (nblocks 64)", lambda X=X: M @ X, M.flops(1), M.flops(1), ""),
            (
                f"M16: Monarch.square({n}, nblocks={b16}) (the fused chains' MACs)",
                lambda X=X: M16 @ X,
                M16.flops(1),
                M16.flops(1),
                "",
            ),
            ("KSChain of the same 2 patterns", lambda X=X: CM @ X, CM.flops(1), CM.flops(1), gate),
            (
                "Butterfly (fused radix 8)",
                lambda X=X: B @ X,
                sum(f.size for f in fused),
                B.flops(1),
                gate,
            ),
            (
                "  fused radix 16 (q = 4)",
                lambda X=X: ks_chain_matmat(fused4, X[None]),
                sum(f.size for f in fused4),
                B.flops(1),
                "",
            ),
            (
                f"KSChain square_dyadic({n}), fused afresh",
                lambda X=X: SD @ X,
                executed(SD),
                SD.flops(1),
                gate,
            ),
            (
                "  fused, cached (read-only values)",
                lambda X=X: SDr @ X,
                executed(SD),
                SD.flops(1),
                "",
            ),
            (
                "  unfused (before)",
                lambda X=X: ks_chain_matmat(sd_plain, X[None]),
                SD.flops(1),
                SD.flops(1),
                "",
            ),
            (
                f"KSChain mixed_radix({m3}), fused afresh",
                lambda X3=X3: MR @ X3,
                executed(MR),
                MR.flops(1),
                gate,
            ),
            (
                "  fused, cached (read-only values)",
                lambda X3=X3: MRr @ X3,
                executed(MR),
                MR.flops(1),
                "",
            ),
            (
                "  unfused (before)",
                lambda X3=X3: ks_chain_matmat(mr_plain, X3[None]),
                MR.flops(1),
                MR.flops(1),
                "",
            ),
            (f"dense A @ X ({n}x{n})", lambda X=X: A @ X, n * n, n * n, ""),
        ]
        times = bench([r[1] for r in rows], budget=budget)
        ref_m = M @ X
        err = np.linalg.norm(CM @ X - ref_m) / np.linalg.norm(ref_m)
        assert err < 1e-12, err
        err = np.linalg.norm(B @ X - A @ X) / np.linalg.norm(A @ X)
        assert err < 1e-12, err
        for C, plain, Y in ((SD, sd_plain, X), (MR, mr_plain, X3)):
            ref = ks_chain_matmat(plain, Y[None])[0]
            assert np.linalg.norm(C @ Y - ref) <= 1e-12 * np.linalg.norm(ref)
        per_m, per_m16 = times[0] / M.flops(1), times[1] / M16.flops(1)
        for (name, _, macs, nominal, gate_s), t in zip(rows, times, strict=True):
            r_nom, r_exe = (t / nominal) / per_m, (t / macs) / per_m
            verdict = ""
            if gate_s:
                verdict = f"{gate_s}: {'met' if r_nom <= 1.2 else 'NOT met'}"
            print(
                f"| {k} | {name} | {macs} | {nominal} | {fmt_t(t)} | {r_nom:.2f}x "
                f"| {r_exe:.2f}x | {(t / macs) / per_m16:.2f}x | {verdict} |"
            )


def bound_section(n: int, budget: float) -> None:
    """What bounds a chain of small blocks: BLAS throughput per block size, one thread."""
    from threadpoolctl import threadpool_limits

    print(f"\n## Small-block bound: one batched matmul (n/b, b, b) @ (n/b, b, t), n = {n}\n")
    print("BLAS at one thread, float64; GMAC/s of the matmul alone, operands in cache or not.\n")
    print("| block b | t = 128 (a tile) | t = 1024 | vs b = 64 at t = 128 |")
    print("|---:|---:|---:|---:|")
    rng = np.random.default_rng(4)
    sizes = [8, 16, 32, 64]
    rates: dict[tuple[int, int], float] = {}
    with threadpool_limits(1):
        for t in (128, 1024):
            cases = []
            for b in sizes:
                T = rng.standard_normal((n // b, b, b))
                Y = rng.standard_normal((n // b, b, t))
                cases.append(lambda T=T, Y=Y: np.matmul(T, Y))
            for b, sec in zip(sizes, bench(cases, budget=budget), strict=True):
                rates[b, t] = n * b * t / sec / 1e9
    for b in sizes:
        print(
            f"| {b} | {rates[b, 128]:.1f} | {rates[b, 1024]:.1f} "
            f"| {rates[64, 128] / rates[b, 128]:.2f}x |"
        )


def block_limit_section(n: int, ks: list[int], budget: float) -> None:
    print("\n## Fusion block limit (max_block of fusion_plan), float64, ks_chain_matmat\n")
    print("| k | chain | max_block | factors | executed MACs/col | time | vs unfused |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(2)
    m3 = 3 * n // 4
    chains = {
        f"square_dyadic({n})": KSChain.random(square_dyadic(n), seed=3),
        f"mixed_radix({m3})": KSChain.random(mixed_radix(m3), seed=4),
    }
    limits = [1, 4, 8, 16]
    for k in ks:
        for name, C in chains.items():
            X = rng.standard_normal((1, C.shape[1], k))
            variants = [fused_with(C, mb) for mb in limits]
            times = bench([lambda b=b, X=X: ks_chain_matmat(b, X) for b in variants], budget=budget)
            for mb, b, t in zip(limits, variants, times, strict=True):
                macs = sum(int(f.size) for f in b)
                print(
                    f"| {k} | {name} | {mb} | {len(b)} | {macs} | {fmt_t(t)} | {times[0] / t:.2f}x |"
                )


def narrow_section(n: int, ks: list[int], budget: float) -> None:
    import structmat.ks._operators as ops

    print("\n## Narrow inputs: C @ X unfused, fused afresh, fused cached, float64\n")
    print(
        "| k | chain | unfused | fused afresh (writeable) | fused cached (read-only) "
        "| afresh vs unfused | cached vs unfused |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(3)
    m3 = 3 * n // 4
    chains = {
        f"square_dyadic({n})": KSChain.random(square_dyadic(n), seed=3),
        f"mixed_radix({m3})": KSChain.random(mixed_radix(m3), seed=4),
    }
    saved = ops.FUSE_MIN_COLUMNS

    def run(C: KSChain, X: Any, fuse: bool) -> Any:
        ops.FUSE_MIN_COLUMNS = 1 if fuse else 1 << 62
        return C @ X

    try:
        for k in ks:
            for name, C in chains.items():
                Cr = read_only(C)
                X = (
                    rng.standard_normal((C.shape[1], k))
                    if k > 1
                    else rng.standard_normal(C.shape[1])
                )
                # unfused: writeable values under an unreachable threshold (the path before)
                t_plain, t_fresh, t_cached = bench(
                    [
                        lambda C=C, X=X: run(C, X, False),
                        lambda C=C, X=X: run(C, X, True),
                        lambda Cr=Cr, X=X: run(Cr, X, True),
                    ],
                    budget=budget,
                )
                print(
                    f"| {k} | {name} | {fmt_t(t_plain)} | {fmt_t(t_fresh)} | {fmt_t(t_cached)} "
                    f"| {t_plain / t_fresh:.2f}x | {t_plain / t_cached:.2f}x |"
                )
    finally:
        ops.FUSE_MIN_COLUMNS = saved


def tiled_section(n: int, ks: list[int], budget: float, rounds: int) -> None:
    print(f"\n## ks_chain_matmat: tiled driver vs factor by factor, n = {n}, float64\n")
    print(
        f"{rounds} interleaved rounds; median (least) time of each; speedup: median of the "
        "per-round ratios untiled / tiled (range).\n"
    )
    print("| k | chain | factors | untiled | tiled | speedup (range) |")
    print("|---:|---|---:|---:|---:|---:|")
    rng = np.random.default_rng(1)
    M = sm.Monarch.square(n, seed=1)
    B = sm.Butterfly.random(n, kind="gaussian", seed=2)
    SD = KSChain.random(square_dyadic(n), seed=3)
    chains = {
        "Butterfly fused radix 8": B.fused_factors(),
        "Monarch patterns (64 blocks)": chain_of_monarch(M)._blocked(F64),
        "square_dyadic (radix 2)": SD._blocked(F64),
        "square_dyadic fused (radix 8)": SD._fused_blocked(F64),
    }
    for k in ks:
        X = rng.standard_normal((1, n, k))
        for name, blocked in chains.items():
            t_old, t_new = _common.time_rounds(
                [
                    lambda b=blocked, X=X: _chain_by_factor(b, X),
                    lambda b=blocked, X=X: ks_chain_matmat(b, X),
                ],
                repeats=rounds,
                min_time=budget / 3,
                pause=_common.BLAS_IDLE_S,
            )
            got, ref = ks_chain_matmat(blocked, X), _chain_by_factor(blocked, X)
            assert np.linalg.norm(got - ref) <= 1e-12 * np.linalg.norm(ref)
            ratios = [a / b for a, b in zip(t_old, t_new, strict=True)]
            med_o, med_n = statistics.median(t_old), statistics.median(t_new)
            print(
                f"| {k} | {name} | {len(blocked)} | {fmt_t(med_o)} ({fmt_t(min(t_old))}) "
                f"| {fmt_t(med_n)} ({fmt_t(min(t_new))}) | {statistics.median(ratios):.2f}x "
                f"({min(ratios):.2f}-{max(ratios):.2f}) |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", default=None)
    parser.add_argument("--keep-openblas-env", action="store_true")
    parser.add_argument(
        "--only", choices=["flops", "bound", "limit", "narrow", "tiled"], default=None
    )
    parser.add_argument("--rounds", type=int, default=7, help="rounds of the tiled section")
    args = parser.parse_args()
    budget = 0.3 if args.quick else 1.0
    ks = [1024] if args.quick else [64, 1024]
    print(f"# bench_ks: {platform.machine()}, {os.cpu_count()} CPUs, NumPy {np.__version__}")
    print(f"# load average at start: {os.getloadavg()[0]:.2f}")
    if args.only in (None, "flops"):
        same_flops_section(4096, ks, budget)
    if args.only in (None, "bound"):
        bound_section(4096, budget)
    if args.only in (None, "limit"):
        block_limit_section(4096, ks, budget)
    if args.only in (None, "narrow"):
        narrow_section(4096, [1, 4, 16, 32, 64], budget / 2)
    if args.only in (None, "tiled"):
        tiled_section(4096, ks, budget, 3 if args.quick else args.rounds)
    print(f"# load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Call overhead of structmat operators over raw NumPy, measured in one run.

Cases, for n in {16, 256, 4096} and batch in {1, 64} (batch 1 is a vector
``x`` of shape ``(n,)``, batch 64 a matrix of shape ``(n, 64)``), float64:

- ``dense``: ``Dense(A) @ x`` against ``A @ x``;
- ``composite``: ``(2 * (Dense(A) @ Dense(B)) + Dense(C)) @ x``, a 3-deep
  expression ``Sum(Scaled(Product(Dense, Dense)), Dense)``, against the raw
  ``2 * (A @ (B @ x)) + C @ x``.

Each timing is the mean of a loop of calls lasting about ``--target-ms``;
structmat and NumPy loops alternate round by round (``_common.time_rounds``)
so that both see the same machine state. The table shows the best time of each side, and the median
over pairs of the difference (overhead per call, microseconds) and of the
ratio. At n=4096 one call lasts milliseconds and the load of a shared
machine moves single timings by several percent, so the script also prints
the overhead measured at n=16 as a share of the n=4096 NumPy time (the
structmat path makes the same NumPy calls; its extra cost does not grow
with n).

Targets: overhead below 5 us per call at n=16, below 5% at n=4096.

Usage: ``python benchmarks/bench_core.py [--quick] [--threads N]`` (BLAS
threads, 1 by default so that the comparison is not thread scheduling). If OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE are set, the script re-executes itself without them (pass
``--keep-openblas-env`` to keep them).
"""

from __future__ import annotations

import os
import sys

import _common

# BLAS threads (before NumPy loads): one thread by default, so that the
# comparison is not dominated by thread scheduling on a shared machine.
_THREADS = _common.flag_value("--threads", "1")
_common.setup_blas(_THREADS)
_common.use_checkout()

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

import structmat as sm  # noqa: E402

TARGET_US_SMALL = 5.0  # n = 16: absolute overhead per call
TARGET_RATIO_LARGE = 1.05  # n = 4096: relative overhead


def measure(
    ours: Callable[[], object], raw: Callable[[], object], repeats: int, target_s: float
) -> tuple[float, float, float, float]:
    """Per-call seconds of structmat and NumPy, timed in interleaved rounds.

    Returns the best time of each side, and the median over rounds of the
    difference and of the ratio (the two sides of a round run back to back, so
    a change of machine load between rounds cancels out).
    """
    t_ours, t_raw = _common.time_rounds([ours, raw], repeats=repeats, min_time=target_s)
    diff = statistics.median(o - w for o, w in zip(t_ours, t_raw, strict=True))
    ratio = statistics.median(o / w for o, w in zip(t_ours, t_raw, strict=True))
    return min(t_ours), min(t_raw), diff, ratio


def cases(n: int, batch: int, rng: np.random.Generator) -> list[tuple[str, Callable, Callable]]:
    A, B, C = (rng.standard_normal((n, n)) for _ in range(3))
    x = rng.standard_normal(n) if batch == 1 else rng.standard_normal((n, batch))
    dA = sm.Dense(A)
    expr = 2 * (sm.Dense(A) @ sm.Dense(B)) + sm.Dense(C)
    got, want = expr @ x, 2 * (A @ (B @ x)) + C @ x
    if not np.allclose(got, want):  # the two sides compute the same thing
        msg = "composite benchmark: structmat and NumPy disagree"
        raise AssertionError(msg)
    return [
        ("dense", lambda: dA @ x, lambda: A @ x),
        ("composite", lambda: expr @ x, lambda: 2 * (A @ (B @ x)) + C @ x),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, shorter loops")
    parser.add_argument("--keep-openblas-env", action="store_true")
    parser.add_argument("--threads", default="1", help="BLAS threads (default 1)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--target-ms", type=float, default=None, help="length of one timed loop")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)
    target_s = (args.target_ms or (20.0 if args.quick else 100.0)) / 1e3
    rng = np.random.default_rng(0)

    print(
        f"structmat call overhead  (python {platform.python_version()}, numpy {np.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} cpus, {_THREADS} BLAS thread(s); best of {repeats} loops of "
        f"~{target_s * 1e3:.0f} ms)"
    )
    header = (
        f"{'case':<10} {'n':>5} {'batch':>5} {'structmat us':>13} {'numpy us':>10} "
        f"{'overhead us':>12} {'ratio':>7}  target"
    )
    print(header)
    print("-" * len(header))
    failures = []
    small: dict[tuple[str, int], float] = {}
    large: dict[tuple[str, int], float] = {}
    for n in (16, 256, 4096):
        for batch in (1, 64):
            for name, ours, raw in cases(n, batch, rng):
                t_ours, t_raw, diff, ratio = measure(ours, raw, repeats, target_s)
                over_us = diff * 1e6
                if n == 16:
                    small[name, batch] = over_us
                if n == 4096:
                    large[name, batch] = t_raw
                if n == 16:
                    ok = over_us < TARGET_US_SMALL
                    target = f"< {TARGET_US_SMALL:g} us: {'ok' if ok else 'MISSED'}"
                elif n == 4096:
                    ok = ratio < TARGET_RATIO_LARGE
                    target = f"< {TARGET_RATIO_LARGE:.2f}x: {'ok' if ok else 'MISSED'}"
                else:
                    ok, target = True, "-"
                if not ok:
                    failures.append((name, n, batch))
                print(
                    f"{name:<10} {n:>5} {batch:>5} {t_ours * 1e6:>13.2f} {t_raw * 1e6:>10.2f} "
                    f"{over_us:>12.2f} {ratio:>7.3f}  {target}",
                    flush=True,
                )
    print()
    print("n=4096, noise-free estimate: the per-call overhead measured at n=16 over the NumPy time")
    for (name, batch), t_raw in large.items():
        share = small[name, batch] / (t_raw * 1e6)
        print(
            f"  {name:<10} batch {batch:>2}: {small[name, batch]:.2f} us / {t_raw * 1e3:.1f} ms = {share:.4%}"
        )
    print()
    print("targets missed: " + (", ".join(map(str, failures)) if failures else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Projection benchmarks: low rank exact vs randomized, and the exact projections.

1. Low rank, n = 4096 (``--quick``: 1024), rank 32, float64: ``LowRank.project(A,
   32)`` (exact truncated SVD) against ``method="randomized"`` (oversample 10,
   2 power iterations), on ``A = G1 diag(0.9^i) G2ᵀ / n + 1e-3 N / n`` (256
   decaying singular values over a noise floor; ``G1, G2, N`` Gaussian).
   Reported: time ratio (SVD / randomized) and error ratio (randomized /
   SVD; 1 is optimal).
2. Each exact projection at n = 1024 (``--quick``: 256) of a Gaussian ``A``
   against one pass over ``A`` (``np.linalg.norm(A)``): circulant, toeplitz,
   diagonal, block_diagonal (``nblocks=32``), kronecker (``(32, 32) x (32,
   32)``, rank 1), permutation, lowrank (rank 32, SVD).

Times are medians of three interleaved rounds (one call for calls over 2 s)
measured in one run; other processes share this machine, so compare ratios.
No numeric targets are set for this benchmark: the "target" column says what is
expected (randomized much faster than the SVD at an error within 1% of it;
the subspace projections a few passes over ``A``).

Usage: ``python benchmarks/bench_projection.py [--quick] [--threads N]``. If
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set, the script re-executes itself
without them (``--keep-openblas-env`` keeps them).
"""

from __future__ import annotations

import _common

_common.setup_blas(_common.flag_value("--threads"))
_common.use_checkout()

import argparse  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import structmat as sm  # noqa: E402


def bench(fns: list[Callable[[], Any]], *, budget: float = 1.0) -> list[float]:
    """Median seconds of each of ``fns``: three interleaved rounds sharing ``budget`` s each.

    A function whose warm-up call took over 2 s is timed by that call alone (a
    4096 SVD takes minutes on two cores).
    """
    return _common.time_pairs(fns, repeats=3, min_time=budget / 3, once_over=2.0)


def lowrank_section(n: int, rank: int) -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(0)
    k = 256
    G1, G2 = rng.standard_normal((n, k)), rng.standard_normal((n, k))
    A = (G1 * 0.9 ** np.arange(k)) @ G2.T / n + 1e-3 * rng.standard_normal((n, n)) / n
    out: dict[str, Any] = {}

    def run(method: str) -> None:
        out[method] = sm.LowRank.project(A, rank, method=method, seed=0)

    t_svd, t_rnd = bench([lambda: run("svd"), lambda: run("randomized")])
    exact, rnd = out["svd"], out["randomized"]
    return [
        (f"exact SVD, n={n}, rank={rank}", f"{t_svd * 1e3:.1f} ms", ""),
        ("randomized (p=10, q=2)", f"{t_rnd * 1e3:.1f} ms", ""),
        ("time ratio SVD / randomized", f"{t_svd / t_rnd:.1f}x", ">> 1 (no number set)"),
        (
            "error ratio randomized / SVD",
            f"{rnd.error / exact.error:.5f}",
            "<= 1.01 (no number set)",
        ),
        ("randomized lower bound / SVD error", f"{rnd.lower_bound / exact.error:.4f}", "<= 1"),
    ]


def exact_section(n: int) -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(1)
    A = rng.standard_normal((n, n))
    b = round(n**0.5)
    cases: list[tuple[str, dict[str, Any]]] = [
        ("circulant", {}),
        ("toeplitz", {}),
        ("diagonal", {}),
        ("block_diagonal", {"nblocks": 32}),
        ("kronecker", {"shapes": ((b, b), (n // b, n // b))}),
        ("permutation", {}),
        ("lowrank", {"rank": 32}),
    ]
    t_pass, *times = bench(
        [
            lambda: np.linalg.norm(A),
            *(
                lambda onto=onto, params=params: sm.project(A, onto, **params)
                for onto, params in cases
            ),
        ]
    )
    rows = [(f"one pass np.linalg.norm(A), n={n}", f"{t_pass * 1e3:.2f} ms", "")]
    for (onto, params), t in zip(cases, times, strict=True):
        target = (
            "a few passes"
            if onto in ("circulant", "toeplitz", "diagonal", "block_diagonal")
            else "-"
        )
        rows.append(
            (
                f"{onto} {params if params else ''}".strip(),
                f"{t / t_pass:.1f}x one pass ({t * 1e3:.1f} ms)",
                target,
            )
        )
    return rows


def table(title: str, rows: list[tuple[str, str, str]]) -> str:
    w = [max(len(r[i]) for r in [("case", "measured", "target"), *rows]) for i in range(3)]
    lines = [
        title,
        "  ".join(h.ljust(x) for h, x in zip(("case", "measured", "target"), w, strict=True)),
    ]
    lines.append("  ".join("-" * x for x in w))
    lines += ["  ".join(c.ljust(x) for c, x in zip(r, w, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="smaller sizes (n=1024 low rank, 256 exact)"
    )
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads")
    ap.add_argument("--keep-openblas-env", action="store_true")
    args = ap.parse_args()
    n_lr, n_ex = (1024, 256) if args.quick else (4096, 1024)
    print(f"numpy {np.__version__}, threads={args.threads or 'default'}")
    print(table("Low rank: exact SVD vs randomized range finder", lowrank_section(n_lr, 32)))
    print()
    print(table("Exact projections vs one pass over A", exact_section(n_ex)))


if __name__ == "__main__":
    main()

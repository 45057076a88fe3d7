#!/usr/bin/env python
"""Speed gate of a redesign: an old checkout against this one, in the same run.

Each round times both checkouts, each in a fresh subprocess (the two trees
are both called ``structmat``, so they cannot share a process), old first in
odd rounds and new first in even ones (the hand-written part: the harness of
``_common`` interleaves functions of one process); a row's time is the median
of the rounds' times, each itself the median of three timed loops
(``_common.time_call``, run inside the subprocess). The rows are the
products the KS engine took over from Monarch's own kernels:
``M @ x``, ``Mᴴ @ x`` for one vector and ``M @ X`` for a block of columns,
and a butterfly's ``B @ X``; ``--projection`` the Monarch projection's
engine routes; ``--ks-projection`` the KS two-factor projection on the
truncated-SVD engine: the butterfly and dyadic-chain projections at
n = 1024 and 4096 and the mixed-radix ones at n = 1000 and 3072.

Usage::

    git worktree add /tmp/old <commit>          # e.g. the last commit before the change
    python benchmarks/bench_gate.py --old /tmp/old [--rounds 3] [--quick]
        [--projection | --ks-projection]

``new / old`` below 1 is faster. Other processes share this machine:
compare ratios, not times.
"""

from __future__ import annotations

import _common

_common.setup_blas(_common.flag_value("--threads"))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# (label, statement) timed on both sides; ``M``/``B``/``x``/``X`` are set up per size.
CASES = [
    ("Monarch M @ x", "M @ x"),
    ("Monarch M.H @ x", "M.H @ x"),
    ("Monarch M @ X (k=64)", "M @ X64"),
    ("Monarch M @ X (k=1024)", "M @ X1024"),
    ("Butterfly B @ X (k=64)", "B @ X64"),
]
# --projection: the exact Monarch projection through each engine route (the engine
# moved to _truncated_svd.py); n = 1024 and 2048 of a Gaussian A.
PROJECTION_CASES = [
    ("Monarch.project(A) auto", "sm.Monarch.project(A)"),
    ("Monarch.project(A) exact", "sm.Monarch.project(A, engine='exact')"),
    ("Monarch.project(A) eigh", "sm.Monarch.project(A, engine='eigh')"),
    ("Monarch.project(A, rank=4)", "sm.Monarch.project(A, rank=4)"),
    ("Monarch.project(A32)", "sm.Monarch.project(A32)"),
]
# --ks-projection: every step is ks_project_two (radix 2: the closed form; radix 3, 5: the
# truncated-SVD engine). Per size: radix 2 at powers of two, the mixed radices elsewhere.
KS_PROJECTION_CASES = [
    ("Butterfly.project(A)", "sm.Butterfly.project(A)"),
    ("project(A, 'ks', chain)", "sm.project(A, 'ks', patterns=sm.ks.mixed_radix(n))"),
    ("ks_project_two(A, first split)", "sm.ks.ks_project_two(A, *first_split)"),
]

WORKER = r"""
import json, sys
sys.path.append(sys.argv[4])  # this folder: both trees are timed by this checkout's harness
import numpy as np
import structmat as sm
from _common import time_call
n, cases, ks = int(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3] == "ks"
rng = np.random.default_rng(0)
if ks:  # sizes without a square Monarch: the projection input only
    from structmat.ks._chain_project import _merged
    chain = sm.ks.mixed_radix(n)
    env = dict(sm=sm, n=n, A=rng.standard_normal((n, n)),
               first_split=(chain[0], _merged(chain[1:])))
else:
    M = sm.Monarch.square(n, seed=0)
    B = sm.Butterfly.random(n, seed=0) if hasattr(sm, "Butterfly") else None
    x = rng.standard_normal(n)
    X64 = rng.standard_normal((n, 64))
    X1024 = rng.standard_normal((n, 1024))
    A = rng.standard_normal((n, n))
    env = dict(sm=sm, M=M, B=B, x=x, X64=X64, X1024=X1024, A=A, A32=A.astype(np.float32))
out = {}
for label, stmt in cases:
    out[label] = time_call(eval("lambda: " + stmt, env), repeats=3, min_time=0.2)
print(json.dumps(out))
"""


def run_side(tree: str, n: int, cases: list[tuple[str, str]], ks: bool) -> dict[str, float]:
    return _common.run_in_tree(tree, WORKER, str(n), json.dumps(cases), "ks" if ks else "-", HERE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", help="checkout of the old commit (required)")
    parser.add_argument("--new", default=_common.CHECKOUT, help="checkout of the new one")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="n = 1024 only")
    parser.add_argument("--threads", help="BLAS threads (default: as the environment says)")
    parser.add_argument("--projection", action="store_true", help="the projection rows instead")
    parser.add_argument("--ks-projection", action="store_true", help="the KS projection rows")
    args = parser.parse_args()
    if args.old is None:
        _common.skip("needs --old CHECKOUT, a checkout of the commit to compare against")
    ks = args.ks_projection
    cases = KS_PROJECTION_CASES if ks else PROJECTION_CASES if args.projection else CASES
    if ks:
        sizes = [1000, 1024] if args.quick else [1000, 1024, 3072, 4096]
    else:
        sizes = [1024] if args.quick else [1024, 2048] if args.projection else [1024, 4096]
    print("| n | case | old | new | new / old |")
    print("|---:|---|---:|---:|---:|")
    for n in sizes:
        times: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
        for r in range(args.rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for side in order:
                tree = args.old if side == "old" else args.new
                for label, t in run_side(tree, n, cases, ks).items():
                    times[side].setdefault(label, []).append(t)
        for label, _ in cases:
            old = statistics.median(times["old"][label])
            new = statistics.median(times["new"][label])
            print(f"| {n} | {label} | {old * 1e3:.3f} ms | {new * 1e3:.3f} ms | {new / old:.2f} |")


if __name__ == "__main__":
    main()

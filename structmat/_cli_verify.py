"""What ``structmat verify`` prints: the table of every construction, then the SymPy checks."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

from structmat import _verify
from structmat._cli_output import NOT_APPLICABLE, format_table, progress, relative

__all__ = ["report"]

EXIT_OK, EXIT_FAILED = 0, 1


def report(
    args: argparse.Namespace,
    cases: Sequence[_verify.Case],
    xp: Any,
    version: str,
    *,
    symbolic: bool,
    skipped: bool,
) -> int:
    """Run ``cases`` on ``xp`` (and the SymPy proofs when ``symbolic``), print both; the exit code.

    A case without a construction at its ``n`` is a row marked ``n/a`` and a
    line with the reason; it does not fail the run.
    """
    print(f"structmat {version}: constructions vs independent references ({args.backend})")
    results = []
    with progress(len(cases), "verify", quiet=args.quiet) as steps:
        for case in cases:
            steps.doing(f"{case.function} n={case.n}")
            results.append(_verify.run_case(case, xp))
            steps.done()
    rows = [
        [
            r.case.function,
            r.structure or NOT_APPLICABLE,
            r.monarch_class or NOT_APPLICABLE,
            r.case.n,
            r.check or NOT_APPLICABLE,
            relative(r.error),
            ("yes" if r.ok else "NO") if r.applies else "n/a",
        ]
        for r in results
    ]
    headers = ["construction", "built from", "Monarch class", "n", "check", "rel. error", "ok"]
    print(format_table(headers, rows))
    run = [r for r in results if r.applies]
    failures = [r for r in run if not r.ok]
    for r in results:
        if not r.applies:
            print(f"not applicable: {r.case.function}(n={r.case.n}) {r.case.reason}")
    for r in failures:
        print(f"FAILED {r.case.function}(n={r.case.n}): {r.failure}")
    print(
        f"{len(run) - len(failures)} of {len(run)} constructions within "
        f"{_verify.TOLERANCE:.0e} relative error (float64)"
    )
    print(
        f"checked densely (multiply and to_dense) up to n = {_verify.DENSE_MAX_N}, "
        f"above on {_verify.PROBES} random probes"
    )

    proof_failed = 0
    if symbolic:
        progress_t0 = time.perf_counter()
        try:
            proofs = _verify.run_proofs(args.symbolic_n)
        except ModuleNotFoundError as exc:
            proofs = []
            print(f"symbolic checks unavailable: {exc}")
        if proofs:
            print()
            print("exact checks with SymPy (no floating point):")
            prow = [[p.name, p.n, "yes" if p.exact else "NO", p.detail] for p in proofs]
            print(format_table(["identity", "n", "exact", "detail"], prow))
            proof_failed = sum(not p.exact for p in proofs)
            print(
                f"{len(proofs) - proof_failed} of {len(proofs)} exact checks hold "
                f"({time.perf_counter() - progress_t0:.1f} s)"
            )
    elif skipped:
        print(
            "exact SymPy checks skipped: SymPy is not installed (pip install 'structmat[verify]')"
        )
    return EXIT_FAILED if failures or proof_failed else EXIT_OK

"""``structmat bench``: run the scripts of ``benchmarks/`` and report each one's outcome.

A script that cannot run on this machine (an optional dependency missing, no
GPU, a required argument such as ``bench_gate.py --old``) prints why and
exits with :data:`SKIPPED` (77, the "skip" code of automake and meson): it is
reported as skipped, not failed, so ``structmat bench --quick`` on a plain CPU
machine ends in success when every script that can run passes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from structmat._cli_output import UsageError

__all__ = ["BENCHMARKS", "SKIPPED", "find_benchmarks", "run_benchmarks"]

#: The scripts run first, in this order; the other ``bench_*.py`` follow by name.
BENCHMARKS = ("bench_core", "bench_monarch", "bench_fourier", "bench_butterfly", "bench_projection")

#: The exit code of a script that cannot run here.
SKIPPED = 77


def find_benchmarks() -> Path | None:
    """The ``benchmarks/`` folder of the source checkout (or ``$STRUCTMAT_BENCHMARKS``)."""
    env = os.environ.get("STRUCTMAT_BENCHMARKS")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parent.parent / "benchmarks")
    candidates.append(Path.cwd() / "benchmarks")
    for c in candidates:
        if c.is_dir() and any(c.glob("bench_*.py")):
            return c
    return None


def _scripts(folder: Path, only: Sequence[str] | None) -> list[Path]:
    scripts = [folder / f"{name}.py" for name in BENCHMARKS if (folder / f"{name}.py").is_file()]
    scripts += sorted(p for p in folder.glob("bench_*.py") if p not in scripts)
    if only:
        wanted = {o.removesuffix(".py") for o in only}
        unknown = wanted - {p.stem for p in scripts}
        if unknown:
            msg = (
                f"no benchmark named {', '.join(sorted(unknown))} in {str(folder)!r}; "
                f"there are {', '.join(p.stem for p in scripts)}"
            )
            raise UsageError(msg)
        scripts = [p for p in scripts if p.stem in wanted]
    if not scripts:
        msg = f"no bench_*.py scripts in {str(folder)!r}"
        raise UsageError(msg)
    return scripts


def run_benchmarks(folder: str | None, *, quick: bool, only: Sequence[str] | None) -> int:
    """Run the scripts one after the other; 0 when none failed, 1 otherwise."""
    where = Path(folder) if folder else find_benchmarks()
    if where is None or not where.is_dir():
        msg = (
            "no benchmarks/ folder found: the benchmarks ship with the source checkout, not the "
            "installed package; run from a clone, or pass --dir PATH (or set STRUCTMAT_BENCHMARKS)"
        )
        raise UsageError(msg)
    failed, skipped = [], []
    for script in _scripts(where, only):
        cmd = [sys.executable, str(script)] + (["--quick"] if quick else [])
        print(f"== {script.name}{' --quick' if quick else ''}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.run(cmd, check=False, cwd=where.parent).returncode
        if code == SKIPPED:
            status = "skipped (cannot run here)"
            skipped.append(script.name)
        elif code:
            status = f"FAILED (exit {code})"
            failed.append(script.name)
        else:
            status = "ok"
        print(f"== {script.name}: {status} in {time.perf_counter() - t0:.1f} s\n", flush=True)
    if skipped:
        print(f"{len(skipped)} benchmark(s) skipped: {', '.join(skipped)}")
    if failed:
        print(f"{len(failed)} benchmark(s) failed: {', '.join(failed)}")
        return 1
    return 0

"""Start-up code shared by the ``bench_*.py`` scripts.

Each script runs standalone (``python benchmarks/bench_x.py``; the script's
folder is on ``sys.path``, so ``import _common`` finds this file) and calls
:func:`setup_blas` before it imports NumPy.
"""

from __future__ import annotations

import os
import sys

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
CHECKOUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)


def flag_value(flag: str, default: str | None = None) -> str | None:
    """The command-line word after ``flag`` (``default`` when ``flag`` is absent)."""
    return sys.argv[sys.argv.index(flag) + 1] if flag in sys.argv else default


def setup_blas(threads: str | None = None) -> None:
    """Prepare the BLAS environment; call before NumPy is imported.

    If OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set and ``--keep-openblas-env``
    is not on the command line, re-execute the script without them (as
    ``shared/bench/peers.py`` does). Then set the BLAS/OpenMP thread variables
    to ``threads`` (``None`` leaves them as they are).
    """
    if "--keep-openblas-env" not in sys.argv and any(v in os.environ for v in OPENBLAS_VARS):
        env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    if threads is not None:
        for var in THREAD_VARS:
            os.environ[var] = threads


def use_checkout() -> None:
    """Make ``import structmat`` find the checkout above this folder when it is not installed."""
    try:
        import structmat  # noqa: F401
    except ImportError:  # run from a checkout without installing
        sys.path.insert(0, CHECKOUT)

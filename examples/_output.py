"""Where the examples save their plots: ``$STRUCTMAT_EXAMPLES_OUTPUT`` or ``examples/output/``."""

from __future__ import annotations

import math
import os
from pathlib import Path

NOT_APPLICABLE = "\u2013"  # en dash, as the CLI's tables print it


def cell(value: float | None, spec: str = ".4f") -> str:
    """``value`` formatted by ``spec``, or an en dash where it does not apply (None or NaN).

    >>> cell(0.5), cell(None) == NOT_APPLICABLE, len(cell(float("nan"), ">6.2f"))
    ('0.5000', True, 6)
    """
    if value is None or math.isnan(value):
        width = "".join(ch for ch in spec.split(".")[0] if ch.isdigit())
        return f"{NOT_APPLICABLE:>{width}}" if width else NOT_APPLICABLE
    return format(value, spec)


def output_dir() -> Path:
    """The folder for plots and tables (created if needed)."""
    folder = Path(os.environ.get("STRUCTMAT_EXAMPLES_OUTPUT", Path(__file__).parent / "output"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pyplot():
    """``matplotlib.pyplot`` with a file-only backend, or ``None`` when matplotlib is absent."""
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no plot (pip install 'structmat[examples]')")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt

"""Where the examples save their plots: ``$STRUCTMAT_EXAMPLES_OUTPUT`` or ``examples/output/``."""

from __future__ import annotations

import os
from pathlib import Path


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

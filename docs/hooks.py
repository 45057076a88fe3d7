"""MkDocs hooks: draw the figures with docs/make_figures.py at every build.

The PNGs are written to a temporary folder and added to the site's files, so
nothing generated lands in docs/ (or in git) and a build from a fresh clone
has them. Figures are referenced from the pages as ``figures/NAME.png``.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

from mkdocs.structure.files import File

_HERE = Path(__file__).resolve().parent
_TMP = tempfile.TemporaryDirectory(prefix="structmat-figures-")


def _make_figures():
    spec = importlib.util.spec_from_file_location(
        "structmat_docs_figures", _HERE / "make_figures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(Path(_TMP.name) / "figures")


def on_files(files, config):
    for path in _make_figures():
        uri = f"figures/{path.name}"
        if hasattr(File, "generated"):  # MkDocs >= 1.6
            files.append(File.generated(config, uri, abs_src_path=str(path)))
        else:
            files.append(
                File(uri, str(path.parent.parent), config["site_dir"], config["use_directory_urls"])
            )
    return files

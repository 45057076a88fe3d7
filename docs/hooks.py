"""MkDocs hooks: draw the figures and render the formulas at every build.

Figures: docs/make_figures.py writes the PNGs to a temporary folder and they
are added to the site's files, so nothing generated lands in docs/ (or in git)
and a build from a fresh clone has them. Figures are referenced from the pages
as ``figures/NAME.png``.

Formulas: ``pymdownx.arithmatex`` (generic mode) wraps each ``$...$`` /
``\\(...\\)`` in ``<span class="arithmatex">``; :func:`on_page_content` turns
that TeX into MathML with ``latex2mathml`` at build time. Browsers render
MathML natively, so the site loads no script or font from the network and
shows its formulas offline.
"""

from __future__ import annotations

import atexit
import html
import importlib.util
import re
import shutil
import tempfile
from pathlib import Path

from latex2mathml.converter import convert as _tex_to_mathml
from mkdocs.structure.files import File

_HERE = Path(__file__).resolve().parent
_TMP: list[str] = []  # made at the first build, not at import (the tests import this module)


def _make_figures():
    spec = importlib.util.spec_from_file_location(
        "structmat_docs_figures", _HERE / "make_figures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not _TMP:
        _TMP.append(tempfile.mkdtemp(prefix="structmat-figures-"))
        atexit.register(shutil.rmtree, _TMP[0], ignore_errors=True)
    return module.main(Path(_TMP[0]) / "figures")


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


# arithmatex's generic output: inline \(...\) in a span, display \[...\] in a div
_MATH = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">\s*'
    r"(?:\\\((?P<inline>.*?)\\\)|\\\[(?P<block>.*?)\\\])\s*</(?P=tag)>",
    re.DOTALL,
)
_UNKNOWN = re.compile(r">[^<]*?(\\[A-Za-z]+)[^<]*<")


def tex_to_mathml(tex: str, display: bool) -> str:
    """MathML for one formula; a formula latex2mathml cannot parse fails the build."""
    try:
        mathml = _tex_to_mathml(tex, display="block" if display else "inline")
    except Exception as exc:
        msg = f"cannot render the formula {tex!r} as MathML: {type(exc).__name__} {exc}"
        raise ValueError(msg) from exc
    # latex2mathml passes a command it does not know through as text ("\\foo")
    unknown = _UNKNOWN.findall(mathml)
    if unknown:
        msg = f"cannot render the formula {tex!r} as MathML: unknown command(s) {unknown}"
        raise ValueError(msg)
    return mathml


def render_math(page_html: str) -> str:
    """Replace every arithmatex span/div of ``page_html`` by MathML."""

    def one(match: re.Match[str]) -> str:
        display = match["block"] is not None
        tex = html.unescape(match["block"] if display else match["inline"])
        return tex_to_mathml(tex, display)

    return _MATH.sub(one, page_html)


def on_page_content(page_html, page, config, files):
    return render_math(page_html)

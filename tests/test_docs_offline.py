"""The documentation site works offline: no script, style or font from the network.

Building the site is too slow for the suite (CI builds it with ``mkdocs build
--strict``), so this checks the configuration that decides what the pages
load, and the build hook that renders formulas to MathML.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
URL = re.compile(r"https?://", re.IGNORECASE)
# keys whose URL is a link a reader may follow, not something a page loads
LINK_KEYS = ("site_url:", "repo_url:", "edit_uri:")


def test_mkdocs_config_loads_nothing_from_the_network():
    lines = (ROOT / "mkdocs.yml").read_text().splitlines()
    remote = [
        line
        for line in lines
        if URL.search(line.split("#")[0]) and not line.strip().startswith(LINK_KEYS)
    ]
    assert remote == [], f"mkdocs.yml names remote resources: {remote}"
    # Material's default font is fetched from a web-font service at page load
    assert any(line.strip() == "font: false" for line in lines), "theme.font is not false"


def test_hooks_and_pages_embed_no_remote_script_or_style():
    sources = [ROOT / "docs" / "hooks.py", *sorted((ROOT / "docs").glob("*.md"))]
    tag = re.compile(r"<(script|link|style|iframe)\b[^>]*https?://", re.IGNORECASE)
    hits = [str(path.name) for path in sources if tag.search(path.read_text())]
    assert hits == []
    assert not URL.search((ROOT / "docs" / "hooks.py").read_text())
    assert not (ROOT / "docs" / "javascripts").exists() or not any(
        URL.search(p.read_text()) for p in (ROOT / "docs" / "javascripts").glob("*.js")
    )


@pytest.fixture(scope="module")
def hooks():
    pytest.importorskip("mkdocs")
    pytest.importorskip("latex2mathml")
    spec = importlib.util.spec_from_file_location("structmat_docs_hooks", ROOT / "docs/hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_inline_and_display_formulas_become_mathml(hooks):
    page = (
        '<p>a <span class="arithmatex">\\(P_{i,\\,idx_i} = 1\\)</span> and '
        '<span class="arithmatex">\\(j &lt; N_1\\)</span></p>\n'
        '<div class="arithmatex">\\[\\omega_N = e^{-2\\pi i/N}\\]</div>'
    )
    out = hooks.render_math(page)
    assert "arithmatex" not in out
    assert "\\(" not in out
    assert "\\[" not in out
    assert out.count("<math") == 3
    assert out.count('display="inline"') == 2
    assert out.count('display="block"') == 1
    # the subscript really is a subscript, and the escaped "<" is one operator
    assert "<msub><mi>P</mi>" in out
    assert "<mi>j</mi><mo>&#x0003C;</mo>" in out
    assert "<msub><mi>&#x003C9;</mi><mi>N</mi></msub>" in out


def test_a_formula_that_cannot_render_fails_the_build(hooks):
    with pytest.raises(ValueError, match=r"cannot render the formula 'a\^'"):
        hooks.render_math('<span class="arithmatex">\\(a^\\)</span>')
    # latex2mathml itself would print an unknown command as text
    with pytest.raises(ValueError, match=r"unknown command\(s\) \['\\\\foo'\]"):
        hooks.render_math('<span class="arithmatex">\\(\\foo x + 1\\)</span>')


# ------------------------------------------------------------ docstrings name no internal documents
# "DESIGN" in capitals is the internal design document; "design" is ordinary English
INTERNAL = re.compile(r"DESIGN|\b[Ii]ssues?\b")


def _public_docstrings():
    """``(qualified name, docstring)`` of every public module, name and method of structmat."""
    import importlib
    import inspect
    import pkgutil

    import structmat

    names = [structmat.__name__] + [
        info.name
        for info in pkgutil.walk_packages(structmat.__path__, "structmat.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    for modname in names:
        module = importlib.import_module(modname)
        yield modname, inspect.getdoc(module) or ""
        public = getattr(module, "__all__", None)
        if public is None:
            public = [n for n in vars(module) if not n.startswith("_")]
        for name in public:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or callable(obj)):
                continue
            yield f"{modname}.{name}", inspect.getdoc(obj) or ""
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if not attr.startswith("_") or attr == "__init__":
                        yield f"{modname}.{name}.{attr}", inspect.getdoc(member) or ""


def test_public_docstrings_cite_no_internal_document():
    docs = dict(_public_docstrings())
    assert len(docs) > 300, len(docs)  # the walk really reached the package
    hits = [name for name, text in docs.items() if INTERNAL.search(text)]
    assert hits == [], f"docstrings citing an internal document or issue: {hits}"


def test_the_docstring_check_catches_a_citation():
    assert INTERNAL.search("the general form of DESIGN.md §4")
    assert INTERNAL.search("the issue's target")
    assert INTERNAL.search("see DESIGN §4a")
    assert not INTERNAL.search("the design measurements (Dao et al., 2022)")


# ----------------------------------------------- pages and benchmark output name no internal document
# the pages also must not point to the design document in words
PAGE_INTERNAL = re.compile(INTERNAL.pattern + r"|[Dd]esign document")


def _benchmark_strings(path: Path):
    """``(line, text)`` of every string in a benchmark script: what it prints, its ``--help``."""
    import ast

    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_pages_and_benchmark_output_cite_no_internal_document():
    pages = sorted((ROOT / "docs").rglob("*.md"))
    scripts = sorted((ROOT / "benchmarks").glob("*.py"))
    assert len(pages) > 10, pages  # the globs really reached the folders
    assert len(scripts) > 5, scripts
    hits = [
        f"{page.relative_to(ROOT)}:{number}"
        for page in pages
        for number, line in enumerate(page.read_text().splitlines(), 1)
        if PAGE_INTERNAL.search(line)
    ]
    hits += [
        f"{script.relative_to(ROOT)}:{number}"
        for script in scripts
        for number, text in _benchmark_strings(script)
        if PAGE_INTERNAL.search(text)
    ]
    assert hits == [], f"pages or benchmark strings citing an internal document or issue: {hits}"


def test_the_page_check_catches_a_citation(tmp_path):
    assert PAGE_INTERNAL.search("(no number in issue)")
    assert PAGE_INTERNAL.search("the design document's rule")
    assert not PAGE_INTERNAL.search("## Design measurements")
    assert not PAGE_INTERNAL.search("the structmat path makes the same NumPy calls")
    script = tmp_path / "bench_x.py"
    script.write_text('"""Doc."""\n# issue 3: a comment is not printed\nprint(f"{1} (issue 3)")\n')
    found = [(n, t) for n, t in _benchmark_strings(script) if PAGE_INTERNAL.search(t)]
    assert found == [(3, " (issue 3)")]

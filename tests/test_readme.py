"""The README's Python example runs and shows what it claims (doctest of its ```python blocks)."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_opens_with_the_two_commands():
    text = README.read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.DOTALL).group(1)
    lines = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert lines == [
        "pip install '.[verify]' && structmat verify",
        "pip install '.[test]' && python -m pytest",
    ]
    assert text.index("```bash") < text.index("structmat is a Python toolkit")


def test_readme_python_example():
    blocks = python_blocks(README.read_text())
    assert blocks, "README has no ```python block"
    parser = doctest.DocTestParser()
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    runner = doctest.DocTestRunner(optionflags=flags)
    for i, block in enumerate(blocks):
        test = parser.get_doctest(block, {}, f"README block {i}", str(README), 0)
        assert test.examples, f"README block {i} has no >>> examples"
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} README example(s) failed (see output above)"


def test_ci_runs_exactly_the_readme_test_command():
    text = README.read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.DOTALL).group(1)
    test_command = first_block.strip().splitlines()[1].split("#")[0].strip()
    ci = (README.parent / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1].strip() == test_command


def test_ci_checks_lint_types_and_docs_before_the_tests():
    ci = (README.parent / ".ci" / "run").read_text().splitlines()
    commands = [line.strip() for line in ci if line.strip() and not line.startswith("#")]
    assert "set -euo pipefail" in commands  # any failing check fails the run
    last = len(commands) - 1
    for check in ("ruff check", "ruff format --check", "mypy structmat", "mkdocs build --strict"):
        index = next((i for i, c in enumerate(commands) if c.startswith(check)), None)
        assert index is not None, f".ci/run does not run {check!r}"
        assert index < last, f".ci/run runs {check!r} after the tests"

"""What the ``structmat`` command writes: tables on stdout, progress bars on stderr, files whole.

Tables are plain text from :func:`format_table`; its cells wrap at word
boundaries to the terminal width. Progress comes from tqdm (imported here,
inside :func:`progress`, so ``import structmat`` never imports it).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "NOT_APPLICABLE",
    "Steps",
    "UsageError",
    "format_table",
    "progress",
    "relative",
    "write_atomically",
]


class UsageError(Exception):
    """Bad input from the user: the command reports it as one line, exit code 2."""


#: What a table shows where a value does not apply (never ``nan``).
NOT_APPLICABLE = "\u2013"  # an en dash

#: Seconds of work before a progress bar appears: shorter commands stay silent.
PROGRESS_DELAY = 2.0

#: Seconds between redraws during one step, so its elapsed time keeps counting.
PROGRESS_TICK = 0.5

# Kept by hand rather than tabulate or rich: the command needs aligned columns and
# word-wrapped cells, about forty lines here; tabulate's maxcolwidths still leaves the
# choice of widths to the caller, and rich brings pygments and markdown-it with it.
_NUMBER = re.compile(r"[-+]?[\d.,]+(e[-+]?\d+)?%?x?")


def relative(x: float) -> str:
    """A relative error or bound in the one format of every table: ``3.70e-16``, an en dash for NaN."""
    return NOT_APPLICABLE if math.isnan(x) else f"{x:.2e}"


def _is_number(cell: str) -> bool:
    return cell == NOT_APPLICABLE or bool(_NUMBER.fullmatch(cell))


def _longest_word(cell: str) -> int:
    return max((len(w) for w in cell.split()), default=0)


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], width: int | None = None
) -> str:
    """A plain-text table: numbers right-aligned, text wrapped to fit ``width`` columns.

    ``width`` defaults to the terminal's (``$COLUMNS``, else 80). When the
    natural table is wider, the widest text columns are narrowed in turn and
    their cells wrap onto more lines, at spaces only: a word is never cut, so
    a table whose longest words do not fit stays wider than ``width``.

    Examples
    --------
    >>> print(format_table(["name", "error"], [["a long name", "1.0e-15"]], width=15))
    name    error
    ------  -------
    a long  1.0e-15
    name
    """
    if width is None:
        width = shutil.get_terminal_size().columns
    cells = [[str(c) for c in headers], *([str(c) for c in row] for row in rows)]
    natural = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    floor = [max(_longest_word(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in cells[1:]) for i in range(len(headers))]
    widths = list(natural)
    while sum(widths) + 2 * (len(widths) - 1) > width:
        shrinkable = [i for i, w in enumerate(widths) if w > floor[i] and not numeric[i]]
        if not shrinkable:
            break
        i = max(shrinkable, key=lambda i: widths[i])
        widths[i] -= 1

    wrapped = [
        [
            textwrap.wrap(c, w, break_long_words=False, break_on_hyphens=False) or [""]
            for c, w in zip(row, widths, strict=True)
        ]
        for row in cells
    ]
    # wrapping may leave a column wider than its longest line: give the space back
    widths = [max(len(part) for row in wrapped for part in row[i]) for i in range(len(widths))]

    def lines(row: list[list[str]], header: bool) -> list[str]:
        out = []
        for k in range(max(len(parts) for parts in row)):
            parts = []
            for parts_i, w, num in zip(row, widths, numeric, strict=True):
                text = parts_i[k] if k < len(parts_i) else ""
                parts.append(text.rjust(w) if num and not header else text.ljust(w))
            out.append("  ".join(parts).rstrip())
        return out

    text = lines(wrapped[0], header=True)
    text.append("  ".join("-" * w for w in widths))
    for row in wrapped[1:]:
        text.extend(lines(row, header=False))
    return "\n".join(text)


class Steps:
    """The steps of a :func:`progress` bar; nothing here redraws it before its delay."""

    def __init__(self, bar: Any):
        self._bar = bar

    def doing(self, what: str) -> None:
        """Name the step now running (shown at the next redraw: tqdm's refresh ignores the delay)."""
        self._bar.set_postfix_str(what, refresh=False)

    def done(self) -> None:
        """One step more finished."""
        self._bar.update()


@contextmanager
def progress(total: int, what: str, *, quiet: bool = False) -> Iterator[Any]:
    """A tqdm bar on stderr over ``total`` steps, shown once the work passes two seconds.

    At most 80 columns (narrower on a narrower terminal). Silent with
    ``quiet`` or when stderr is not a terminal (a log file, a pipe, a test).
    The elapsed time keeps counting during one long step (a projection of a
    large matrix is one call): a helper thread refreshes the bar twice a
    second. Yields a :class:`Steps`: ``steps.doing(name)`` before a step,
    ``steps.done()`` after it.
    """
    from tqdm import tqdm

    columns = min(80, shutil.get_terminal_size().columns)
    bar = tqdm(
        total=total,
        desc=what,
        file=sys.stderr,
        disable=True if quiet else None,  # None: off when stderr is not a terminal
        ncols=columns,
        delay=PROGRESS_DELAY,
        leave=False,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]",
    )
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(PROGRESS_TICK):
            if time.time() >= bar.start_t + PROGRESS_DELAY:
                bar.refresh()

    ticker = None if bar.disable else threading.Thread(target=tick, daemon=True)
    if ticker is not None:
        ticker.start()
    try:
        yield Steps(bar)
    finally:
        stop.set()
        if ticker is not None:
            ticker.join()
        bar.close()


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, then rename it to ``path``.

    ``os.replace`` within one directory is atomic: ``path`` is either its old
    self or the whole new file, never part of one; on any failure the
    temporary file is removed. The temporary name keeps ``path``'s suffix
    (the writers pick the format by it).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    umask = os.umask(0)  # mkstemp's 0600 would outlive the rename: the usual mode instead
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""The checked reader of an operator file's JSON document (untrusted input).

Every field of a file is read through :class:`_Fields`: each accessor returns a
value of the asked type and range or raises :class:`FileFormatError` naming the
file, the place in the operator tree and the field. :func:`parse_document`
measures the nesting of the text before Python's recursive parser sees it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np

FORMAT = "structmat-operator"
VERSION = 1

#: How deep operators may nest in a file (``Sum(Scaled(Product(...)))`` is depth 2):
#: :func:`save` refuses deeper operators and :func:`load` deeper files, so neither
#: recursion can run out of stack on a hand-made or tampered file.
MAX_DEPTH = 64
# JSON levels: two per operator level (node, children list), plus the top level and
# the few levels of a node's or result's parameters
_MAX_JSON_DEPTH = 2 * MAX_DEPTH + 8


class FileFormatError(ValueError):
    """A file that cannot be read: corrupt, of an unsupported kind, or without the asked key."""


_MISSING: Any = object()
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


def _describe(value: Any) -> str:
    """A JSON value as a message shows it: its JSON type and a short text."""
    if value is _MISSING:
        return "nothing (the field is missing)"
    kind = _JSON_TYPES.get(type(value), "number" if isinstance(value, int | float) else "value")
    if value is None or isinstance(value, dict | list):
        return kind if value is None else f"{kind} of {len(value)}"
    return f"{kind} {value!r:.60}"


def _is_int(v: Any, low: int, high: int | None = None) -> bool:
    return (
        isinstance(v, int) and not isinstance(v, bool) and low <= v <= (v if high is None else high)
    )


class _Fields:
    """Checked reads of one JSON object of an operator file.

    Each accessor returns a value of the asked type and range, or raises
    :class:`FileFormatError` naming the file, where the object sits, the
    field, what was expected and what came. The loader reads every field
    through these, so a tampered file cannot raise anything else.
    """

    def __init__(self, obj: Any, file: str, where: str, prefix: str = "") -> None:
        self.file, self.where, self.prefix = file, where, prefix
        if not isinstance(obj, dict):
            raise self._error(prefix.rstrip(".") or "the description", "an object", obj, whole=True)
        self.obj: dict[str, Any] = obj

    def _error(self, key: str, expected: str, got: Any, *, whole: bool = False) -> FileFormatError:
        field = key if whole else f"{self.prefix}{key}"
        msg = f"{self.file}: bad operator file at {self.where}: {field!r} must be {expected}, got {_describe(got)}"
        return FileFormatError(msg)

    def get(self, key: str, expected: str, check: Callable[[Any], bool], default: Any) -> Any:
        value = self.obj.get(key, _MISSING)
        if value is _MISSING and default is not _MISSING:
            return default
        if value is _MISSING or not check(value):
            raise self._error(key, expected, value)
        return value

    def integer(self, key: str, *, low: int = 0, high: int | None = None) -> int:
        expected = f"an integer >= {low}" + ("" if high is None else f" and <= {high}")
        return int(self.get(key, expected, lambda v: _is_int(v, low, high), _MISSING))

    def pair(self, key: str, *, low: int) -> tuple[int, int]:
        expected = f"a pair of integers >= {low}"
        ok = lambda v: isinstance(v, list) and len(v) == 2 and all(_is_int(d, low) for d in v)  # noqa: E731
        m, n = self.get(key, expected, ok, _MISSING)
        return int(m), int(n)

    def integers(self, key: str, *, low: int, most: int) -> tuple[int, ...]:
        """A list of 1 to ``most`` integers, each ``>= low``."""
        expected = f"a list of 1 to {most} integers >= {low}"
        ok = lambda v: (  # noqa: E731
            isinstance(v, list) and 1 <= len(v) <= most and all(_is_int(d, low) for d in v)
        )
        return tuple(int(d) for d in self.get(key, expected, ok, _MISSING))

    def number(self, key: str) -> float:
        ok = lambda v: isinstance(v, int | float) and not isinstance(v, bool)  # noqa: E731
        return float(self.get(key, "a number", ok, _MISSING))

    def scalar(self, key: str) -> complex | float:
        """A real number, or ``[re, im]`` for a complex one (as :func:`save` writes them)."""

        def ok(v: Any) -> bool:
            parts = v if isinstance(v, list) and len(v) == 2 else [v]
            return all(isinstance(p, int | float) and not isinstance(p, bool) for p in parts)

        value = self.get(key, "a number or a pair [re, im] of numbers", ok, _MISSING)
        return complex(value[0], value[1]) if isinstance(value, list) else float(value)

    def boolean(self, key: str) -> bool:
        return bool(self.get(key, "true or false", lambda v: isinstance(v, bool), _MISSING))

    def string(self, key: str, default: Any = _MISSING) -> str:
        return str(self.get(key, "a string", lambda v: isinstance(v, str), default))

    def dtype(self, key: str, *, optional: bool = False) -> np.dtype[Any] | None:
        """A numeric NumPy dtype from its name (``null`` or absent when ``optional``)."""
        value = self.get(
            key,
            "a dtype name",
            lambda v: v is None or _dtype(v) is not None,
            None if optional else _MISSING,
        )
        if value is None and not optional:
            raise self._error(key, "a dtype name", value)
        return None if value is None else _dtype(value)

    def object(self, key: str) -> _Fields:
        value = self.get(key, "an object", lambda v: isinstance(v, dict), _MISSING)
        return _Fields(value, self.file, self.where, f"{self.prefix}{key}.")

    def array_list(self, key: str) -> list[Any]:
        return list(self.get(key, "an array", lambda v: isinstance(v, list), _MISSING))


def _dtype(name: Any) -> np.dtype[Any] | None:
    """The numeric dtype ``name`` names (bool, integers, floats, complex), else ``None``."""
    if not isinstance(name, str):
        return None
    try:
        dt = np.dtype(name)
    except TypeError:
        return None
    return dt if dt.kind in "biufc" else None


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _json_depth(text: str, limit: int) -> int:
    """Nesting depth of a JSON text (stops counting past ``limit``), without parsing it.

    Python's parser recurses once per level; checking first keeps a file of
    100,000 nested brackets from raising ``RecursionError``.
    """
    depth = deepest = 0
    for token in _TOKEN.finditer(text):
        t = token.group()
        if t in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif t in ("]", "}"):
            depth -= 1
    return deepest


def parse_document(text: str, file: str) -> _Fields:
    """The top level of a file's JSON document, after checking its depth, format and version."""
    if _json_depth(text, _MAX_JSON_DEPTH) > _MAX_JSON_DEPTH:
        msg = (
            f"{file}: the structmat metadata nests deeper than {_MAX_JSON_DEPTH} levels "
            f"(operators may nest MAX_DEPTH = {MAX_DEPTH} deep)"
        )
        raise FileFormatError(msg)
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as exc:
        msg = f"{file}: the structmat metadata is corrupt ({exc})"
        raise FileFormatError(msg) from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        msg = f"{file}: not a structmat operator file (format {meta.get('format') if isinstance(meta, dict) else None!r})"
        raise FileFormatError(msg)
    if meta.get("version") != VERSION:
        msg = f"{file}: format version {meta.get('version')!r}, this structmat reads version {VERSION}"
        raise FileFormatError(msg)
    return _Fields(meta, file, "the top level")

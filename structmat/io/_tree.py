"""An operator tree to and from its JSON node (plus the arrays the nodes name).

``NODE = {"class", "shape", "dtype", "params", "arrays", "children"}``; each
class's parameters and arrays are written and read by its entry in
``_classes.py``, and read back only through the checked accessors of
``_checked.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat.io._checked import MAX_DEPTH, FileFormatError, _Fields
from structmat.io._classes import REGISTRY, SAVABLE
from structmat.linop import LinearOperator


def _host(x: Any) -> np.ndarray:
    from structmat.testing._tolerance import to_numpy

    return to_numpy(x)


def _json_safe(value: Any) -> Any:
    """Parameters as JSON: tuples become lists, NumPy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, complex):
        return {"complex": [value.real, value.imag]}
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def _class_name(op: LinearOperator) -> str:
    name = type(op).__name__
    return "Conjugate" if name == "_Conjugate" else name


def _encode(op: LinearOperator, store: dict[str, np.ndarray], depth: int = 0) -> dict[str, Any]:
    """The node of ``op``; its arrays are added to ``store`` under fresh keys ``a0, a1, ...``."""
    if not isinstance(op, LinearOperator):
        msg = (
            f"save expects a structmat LinearOperator or ProjectionResult, got {type(op).__name__}"
        )
        raise TypeError(msg)
    if depth > MAX_DEPTH:
        msg = f"cannot save operators nested deeper than MAX_DEPTH = {MAX_DEPTH} levels (load would refuse the file)"
        raise ValueError(msg)
    name = _class_name(op)
    entry = REGISTRY.get(name)
    if entry is None:
        # a structured adjoint/transpose of a family (e.g. MonarchAdjoint) is saved as
        # Adjoint/Transpose of its operator and rebuilt with ``.H``/``.T`` of that operator
        from structmat.linop import Adjoint, Transpose

        for base in (Adjoint, Transpose):
            if isinstance(op, base):
                name = base.__name__
                entry = REGISTRY[name]
    if entry is None or not type(op).__module__.startswith("structmat"):
        msg = (
            f"cannot save an operator of class {type(op).__name__}; "
            f"savable classes: {', '.join(SAVABLE)}"
        )
        raise ValueError(msg)
    params, arrays, children = entry[0](op)
    keys = {}
    for field, value in arrays.items():
        key = f"a{len(store)}"
        store[key] = _host(value)
        keys[field] = key
    return {
        "class": name,
        "shape": list(op.shape),
        "dtype": aa.dtype_name(op.dtype),
        "params": _json_safe(params),
        "arrays": keys,
        "children": [_encode(child, store, depth + 1) for child in children],
    }


class _Node:
    """One operator of a file: its checked fields, arrays and (lazily decoded) children."""

    def __init__(
        self, raw: Any, arrays: dict[str, np.ndarray], file: str, where: str, depth: int
    ) -> None:
        if depth > MAX_DEPTH:
            msg = f"{file}: bad operator file at {where}: operators nested deeper than MAX_DEPTH = {MAX_DEPTH}"
            raise FileFormatError(msg)
        fields = _Fields(raw, file, where)
        self.name = fields.string("class")
        self.fields, self.file, self.depth, self.path = fields, file, depth, where
        self.where = f"{where} ({self.name})"
        fields.where = self.where
        self.shape = fields.pair("shape", low=0)
        self.dtype = fields.dtype("dtype")
        self.params: _Fields = fields.object("params")
        keys = fields.object("arrays")
        self._arrays: dict[str, np.ndarray] = {}
        for field, key in keys.obj.items():
            if not isinstance(key, str) or key not in arrays:
                msg = f"{file}: bad operator file at {self.where}: 'arrays.{field}' names array {key!r}, which the file does not hold"
                raise FileFormatError(msg)
            self._arrays[field] = arrays[key]
        self._raw_children = fields.array_list("children")
        self._all_arrays = arrays
        self.children_read = False

    def error(self, what: str) -> FileFormatError:
        return FileFormatError(f"{self.file}: bad operator file at {self.where}: {what}")

    def array(self, field: str, *, ndim: int, optional: bool = False) -> Any:
        """The stored array ``field``: numeric, with ``ndim`` axes (``None`` when optional and absent)."""
        if field not in self._arrays:
            if optional:
                return None
            msg = f"'arrays.{field}' is missing ({self.name} needs it)"
            raise self.error(msg)
        a = self._arrays[field]
        if a.dtype.kind not in "biufc" or a.ndim != ndim:
            msg = (
                f"array {field!r} must be a {ndim}-d array of numbers, "
                f"got shape {a.shape} and dtype {a.dtype}"
            )
            raise self.error(msg)
        return a

    def children(
        self, *, low: int = 0, exactly: int | None = None, why: str = ""
    ) -> list[LinearOperator]:
        """The decoded children, after checking how many there are."""
        self.children_read = True
        count = len(self._raw_children)
        if (exactly is not None and count != exactly) or count < low:
            want = f"{exactly}" if exactly is not None else f"at least {low}"
            reason = f" ({why})" if why else ""
            msg = f"{self.name} needs {want} children{reason}, got {count}"
            raise self.error(msg)
        return [
            _decode(c, self._all_arrays, self.file, f"{self.path}/{self.name}[{i}]", self.depth + 1)
            for i, c in enumerate(self._raw_children)
        ]

    def child(self) -> LinearOperator:
        return self.children(exactly=1)[0]


def _decode(
    raw: Any, arrays: dict[str, np.ndarray], file: str, where: str, depth: int
) -> LinearOperator:
    """The operator a node describes, checked against the node's shape and dtype."""
    node = _Node(raw, arrays, file, where, depth)
    entry = REGISTRY.get(node.name)
    if entry is None:
        msg = f"{file}: unknown operator class {node.name!r} at {where}; known classes: {', '.join(SAVABLE)}"
        raise FileFormatError(msg)
    try:
        op = entry[1](node)
    except FileFormatError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:  # the constructor refused the values
        msg = f"the stored values do not make a {node.name} ({exc})"
        raise node.error(msg) from exc
    if node._raw_children and not node.children_read:
        msg = f"{node.name} takes no children, got {len(node._raw_children)}"
        raise node.error(msg)
    if tuple(op.shape) != node.shape or np.dtype(aa.dtype_name(op.dtype)) != node.dtype:
        msg = (
            f"rebuilt {node.name} has shape {tuple(op.shape)} and dtype "
            f"{aa.dtype_name(op.dtype)}, the file says {node.shape} and {node.dtype}"
        )
        raise node.error(msg)
    return op

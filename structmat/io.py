r"""Saving and loading operators; reading matrices from files without pickle.

:func:`save` writes an operator (or a :class:`~structmat.ProjectionResult`)
to a ``.npz`` file: the factor arrays, plus one JSON document that says how
to rebuild the operator from them. :func:`load` reads it back with
``allow_pickle=False``, so a file can never run code.

:func:`read_matrices` reads the dense matrices the ``structmat`` command
works on, from ``.npy``, ``.npz`` and ``.safetensors`` files, also without
pickle.

Notes
-----
The JSON document (stored under the key ``__structmat__`` as UTF-8 bytes) is

.. code-block:: text

    {"format": "structmat-operator", "version": 1,
     "operator": NODE, "result": null or {error, norm, ..., onto, params}}
    NODE = {"class": "Monarch", "shape": [m, n], "dtype": "float64",
            "params": {...}, "arrays": {"L": "a0", "R": "a1"},
            "children": [NODE, ...]}

Every array is stored in NumPy form (operators on other backends are copied
to the host); :func:`load` rebuilds on NumPy, or on the namespace given by
``xp=``. The classes that can be saved are those in :data:`SAVABLE`.

A file is untrusted input. :func:`load` reads every field through one layer
of checked accessors, so a missing field, a value of the wrong type or
range, a wrong number of children or an array of the wrong kind raises
:class:`FileFormatError` naming the file, the operator's place in the tree
and the field (``'params.n' must be an integer >= 0, got string '8'``);
values a constructor refuses become a ``FileFormatError`` too. Operators may
nest :data:`MAX_DEPTH` (64) levels deep: the JSON text is measured before it
is parsed, so a file of 100,000 nested brackets is refused without
recursion, and :func:`save` refuses deeper operators so that every file it
writes loads. A ``Power`` exponent in a file is an integer in ``[0,
MAX_FILE_EXPONENT]`` (``2**20``), checked here rather than by the operator,
so that the message names the file.

Examples
--------
>>> import os, tempfile, numpy as np, structmat as sm
>>> op = sm.Diagonal(np.arange(1.0, 4.0)) @ sm.Permutation(np.array([2, 0, 1]))
>>> path = os.path.join(tempfile.mkdtemp(), "op.npz")
>>> save(path, op)
>>> back = load(path)
>>> type(back).__name__, bool(np.array_equal(back.to_dense(), op.to_dense()))
('Product', True)
"""

from __future__ import annotations

import importlib
import json
import os
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._result import ProjectionResult
from structmat.linop import LinearOperator

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_EXPONENT",
    "SAVABLE",
    "FileFormatError",
    "load",
    "load_result",
    "read_matrices",
    "save",
]

FORMAT = "structmat-operator"
VERSION = 1
_META_KEY = "__structmat__"

#: How deep operators may nest in a file (``Sum(Scaled(Product(...)))`` is depth 2):
#: :func:`save` refuses deeper operators and :func:`load` deeper files, so neither
#: recursion can run out of stack on a hand-made or tampered file.
MAX_DEPTH = 64
#: The largest ``Power`` exponent a file may hold: a file's exponent is checked here
#: (an integer, 0 <= k <= 2**20), so a tampered ``10**12`` is a FileFormatError
#: before any operator is built.
MAX_FILE_EXPONENT = 2**20
# JSON levels: two per operator level (node, children list), plus the top level and
# the few levels of a node's or result's parameters
_MAX_JSON_DEPTH = 2 * MAX_DEPTH + 8


class FileFormatError(ValueError):
    """A file that cannot be read: corrupt, of an unsupported kind, or without the asked key."""


# ---------------------------------------------------------------------- helpers
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


def _tuplify(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


def _scalar_to_json(c: complex | float) -> Any:
    if isinstance(c, complex):
        return [c.real, c.imag]
    return float(c)


# ---------------------------------------------------------------------- the class registry
# name -> (encode(op) -> (params, arrays, children), decode(node) -> op). A decoder reads
# its fields only through the checked accessors of ``_Node`` (below): a tampered file
# gives FileFormatError naming the field, never a KeyError or TypeError from here.
Encoder = Callable[[Any], tuple[dict[str, Any], dict[str, Any], list[LinearOperator]]]
Decoder = Callable[["_Node"], LinearOperator]
_REGISTRY: dict[str, tuple[str, Encoder, Decoder]] = {}


def _register(name: str, module: str, encode: Encoder, decode: Decoder) -> None:
    _REGISTRY[name] = (module, encode, decode)


def _cls(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def _dtype_param(op: Any) -> dict[str, Any]:
    return {"dtype": aa.dtype_name(op.dtype)}


# basic operators
_register(
    "Dense",
    "structmat.basic",
    lambda op: ({}, {"A": op.A}, []),
    lambda n: _cls("structmat.basic", "Dense")(n.array("A", ndim=2)),
)
_register(
    "Diagonal",
    "structmat.basic",
    lambda op: ({}, {"d": op.d}, []),
    lambda n: _cls("structmat.basic", "Diagonal")(n.array("d", ndim=1)),
)
_register(
    "Permutation",
    "structmat.basic",
    lambda op: (_dtype_param(op), {"idx": op.idx}, []),
    lambda n: _cls("structmat.basic", "Permutation")(
        n.array("idx", ndim=1), dtype=n.params.dtype("dtype", optional=True)
    ),
)
_register(
    "Identity",
    "structmat.basic",
    lambda op: ({"n": op.shape[0], **_dtype_param(op)}, {}, []),
    lambda n: _cls("structmat.basic", "Identity")(
        n.params.integer("n", low=0), dtype=n.params.dtype("dtype", optional=True)
    ),
)
_register(
    "Zero",
    "structmat.basic",
    lambda op: ({"shape": list(op.shape), **_dtype_param(op)}, {}, []),
    lambda n: _cls("structmat.basic", "Zero")(
        n.params.pair("shape", low=0), dtype=n.params.dtype("dtype", optional=True)
    ),
)

# the algebra (children rebuilt with the plain constructors: the structure is kept as saved)
_register(
    "Sum",
    "structmat.linop",
    lambda op: ({}, {}, list(op.terms)),
    lambda n: _cls("structmat.linop", "Sum")(*n.children(low=1)),
)
_register(
    "Product",
    "structmat.linop",
    lambda op: ({}, {}, list(op.factors)),
    lambda n: _cls("structmat.linop", "Product")(*n.children(low=1)),
)
_register(
    "Scaled",
    "structmat.linop",
    lambda op: ({"scalar": _scalar_to_json(op.scalar)}, {}, [op.operator]),
    lambda n: _cls("structmat.linop", "Scaled")(n.params.scalar("scalar"), n.child()),
)
_register(
    "Adjoint",
    "structmat.linop",
    lambda op: ({"structural": type(op).__name__ != "Adjoint"}, {}, [op.operator]),
    lambda n: (
        n.child().H
        if n.params.boolean("structural")
        else _cls("structmat.linop", "Adjoint")(n.child())
    ),
)
_register(
    "Transpose",
    "structmat.linop",
    lambda op: ({"structural": type(op).__name__ != "Transpose"}, {}, [op.operator]),
    lambda n: (
        n.child().T
        if n.params.boolean("structural")
        else _cls("structmat.linop", "Transpose")(n.child())
    ),
)
_register(
    "Conjugate",
    "structmat.linop",
    lambda op: ({}, {}, [op.operator]),
    lambda n: n.child().conj(),
)
_register(
    "Power",
    "structmat.linop",
    lambda op: ({"exponent": op.exponent}, {}, [op.operator]),
    lambda n: _cls("structmat.linop", "Power")(
        n.child(), n.params.integer("exponent", low=0, high=MAX_FILE_EXPONENT)
    ),
)

# structured families
_register(
    "Monarch",
    "structmat.monarch",
    lambda op: ({"shape": list(op.shape)}, {"L": op.L, "R": op.R}, []),
    lambda n: _cls("structmat.monarch", "Monarch")(
        n.array("L", ndim=3), n.array("R", ndim=3), shape=n.params.pair("shape", low=1)
    ),
)
_register(
    "Butterfly",
    "structmat.butterfly",
    lambda op: ({"increasing_stride": bool(op.increasing_stride)}, {"tw": op.tw}, []),
    lambda n: _cls("structmat.butterfly", "Butterfly")(
        n.array("tw", ndim=4), increasing_stride=n.params.boolean("increasing_stride")
    ),
)


def _encode_lowrank(op: Any) -> tuple[dict[str, Any], dict[str, Any], list[LinearOperator]]:
    arrays = {"U": op.U, "V": op.V}
    if getattr(op, "s", None) is not None:
        arrays["s"] = op.s
    return {}, arrays, []


_register(
    "LowRank",
    "structmat.lowrank",
    _encode_lowrank,
    lambda n: _cls("structmat.lowrank", "LowRank")(
        n.array("U", ndim=2), n.array("V", ndim=2), n.array("s", ndim=1, optional=True)
    ),
)


def _encode_blockdiag(op: Any) -> tuple[dict[str, Any], dict[str, Any], list[LinearOperator]]:
    if op.stack is not None:
        return {"stacked": True}, {"stack": op.stack}, []
    return {"stacked": False}, {}, list(op.blocks)


def _decode_blockdiag(n: _Node) -> LinearOperator:
    cls = _cls("structmat.blocks", "BlockDiagonal")
    if n.params.boolean("stacked"):
        return cls(n.array("stack", ndim=3))
    return cls(n.children(low=1))


def _encode_blockmatrix(op: Any) -> tuple[dict[str, Any], dict[str, Any], list[LinearOperator]]:
    rows, cols = len(op.blocks), len(op.blocks[0])
    return {"grid": [rows, cols]}, {}, [b for row in op.blocks for b in row]


def _decode_blockmatrix(n: _Node) -> LinearOperator:
    rows, cols = n.params.pair("grid", low=1)
    c = n.children(exactly=rows * cols, why=f"grid {rows}x{cols}")
    grid = [list(c[i * cols : (i + 1) * cols]) for i in range(rows)]
    return _cls("structmat.blocks", "BlockMatrix")(grid)


_register("BlockDiagonal", "structmat.blocks", _encode_blockdiag, _decode_blockdiag)
_register("BlockMatrix", "structmat.blocks", _encode_blockmatrix, _decode_blockmatrix)
_register(
    "Kronecker",
    "structmat.blocks",
    lambda op: ({}, {}, list(op.factors)),
    lambda n: _cls("structmat.blocks", "Kronecker")(*n.children(low=1)),
)


# Fourier family: a few integers and a normalization, or one defining vector
def _fourier_decoder(name: str) -> Decoder:
    def decode(n: _Node) -> LinearOperator:
        return _cls("structmat.fourier", name)(
            n.params.integer("n", low=0),
            norm=n.params.string("norm"),
            dtype=n.params.dtype("dtype", optional=True),
        )

    return decode


def _trig_decoder(name: str) -> Decoder:
    def decode(n: _Node) -> LinearOperator:
        norm = n.params.string("norm")
        # files written before orthogonalize was stored hold SciPy's default
        orth = n.params.get(
            "orthogonalize", "true or false", lambda v: isinstance(v, bool), norm == "ortho"
        )
        return _cls("structmat.trig", name)(
            n.params.integer("n", low=0),
            n.params.integer("type", low=1),
            norm,
            orthogonalize=orth,
            dtype=n.params.dtype("dtype", optional=True),
        )

    return decode


for _name in ("DFT", "IDFT", "Hadamard"):
    _register(
        _name,
        "structmat.fourier",
        lambda op: ({"n": op.shape[0], "norm": op.norm, **_dtype_param(op)}, {}, []),
        _fourier_decoder(_name),
    )
for _name in ("DCT", "DST"):
    _register(
        _name,
        "structmat.trig",
        lambda op: (
            {
                "n": op.shape[0],
                "type": op.type,
                "norm": op.norm,
                "orthogonalize": op.orthogonalize,
                **_dtype_param(op),
            },
            {},
            [],
        ),
        _trig_decoder(_name),
    )
_register(
    "Circulant",
    "structmat.convolution",
    lambda op: ({}, {"c": op.c}, []),
    lambda n: _cls("structmat.convolution", "Circulant")(n.array("c", ndim=1)),
)
_register(
    "Toeplitz",
    "structmat.convolution",
    lambda op: ({}, {"c": op.c, "r": op.r}, []),
    lambda n: _cls("structmat.convolution", "Toeplitz")(n.array("c", ndim=1), n.array("r", ndim=1)),
)
_register(
    "Convolution",
    "structmat.convolution",
    lambda op: ({"n": op.shape[1], "mode": op.mode}, {"h": op.h}, []),
    lambda n: _cls("structmat.convolution", "Convolution")(
        n.array("h", ndim=1), n.params.integer("n", low=0), mode=n.params.string("mode")
    ),
)

#: Names of the operator classes :func:`save` knows how to write.
SAVABLE: tuple[str, ...] = tuple(sorted(_REGISTRY))


def _class_name(op: LinearOperator) -> str:
    name = type(op).__name__
    return "Conjugate" if name == "_Conjugate" else name


# ---------------------------------------------------------------------- save
def _encode(op: LinearOperator, store: dict[str, np.ndarray], depth: int = 0) -> dict[str, Any]:
    if not isinstance(op, LinearOperator):
        msg = (
            f"save expects a structmat LinearOperator or ProjectionResult, got {type(op).__name__}"
        )
        raise TypeError(msg)
    if depth > MAX_DEPTH:
        msg = f"cannot save operators nested deeper than MAX_DEPTH = {MAX_DEPTH} levels (load would refuse the file)"
        raise ValueError(msg)
    name = _class_name(op)
    entry = _REGISTRY.get(name)
    if entry is None:
        # a structured adjoint/transpose of a family (e.g. MonarchAdjoint) is saved as
        # Adjoint/Transpose of its operator and rebuilt with ``.H``/``.T`` of that operator
        from structmat.linop import Adjoint, Transpose

        for base in (Adjoint, Transpose):
            if isinstance(op, base):
                name = base.__name__
                entry = _REGISTRY[name]
    if entry is None or not type(op).__module__.startswith("structmat"):
        msg = (
            f"cannot save an operator of class {type(op).__name__}; "
            f"savable classes: {', '.join(SAVABLE)}"
        )
        raise ValueError(msg)
    params, arrays, children = entry[1](op)
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


def save(path: str | os.PathLike[str], obj: LinearOperator | ProjectionResult, /) -> None:
    """Write an operator, or a projection result, to a ``.npz`` file.

    Parameters
    ----------
    path : str or path-like
        Where to write (the name is used as given; ``.npz`` is the usual suffix).
    obj : LinearOperator or ProjectionResult
        Built from the classes in :data:`SAVABLE`, composed to any depth. A
        ``ProjectionResult`` stores its operator plus its errors, bounds,
        class name and parameters (read back with :func:`load_result`).

    Raises
    ------
    ValueError
        For an operator class that cannot be saved (the message lists those that can).
    TypeError
        For anything that is not an operator or a result.

    Examples
    --------
    >>> import os, tempfile, numpy as np, structmat as sm
    >>> path = os.path.join(tempfile.mkdtemp(), "d.npz")
    >>> save(path, 2.0 * sm.Diagonal(np.ones(3)))
    >>> (load(path) @ np.ones(3)).tolist()
    [2.0, 2.0, 2.0]
    """
    result = None
    op = obj
    if isinstance(obj, ProjectionResult):
        op = obj.operator
        result = {
            "error": float(obj.error),
            "norm": float(obj.norm),
            "lower_bound": float(obj.lower_bound),
            "upper_bound": float(obj.upper_bound),
            "exact": bool(obj.exact),
            "onto": str(obj.onto),
            "params": _json_safe(dict(obj.params)),
            "notes": str(obj.notes),
        }
    store: dict[str, np.ndarray] = {}
    node = _encode(op, store)  # type: ignore[arg-type]
    meta = {"format": FORMAT, "version": VERSION, "operator": node, "result": result}
    store[_META_KEY] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **store)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- load: checked reads
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
        ok = lambda v: (  # noqa: E731
            isinstance(v, int)
            and not isinstance(v, bool)
            and low <= v <= (v if high is None else high)
        )
        return int(self.get(key, expected, ok, _MISSING))

    def pair(self, key: str, *, low: int) -> tuple[int, int]:
        expected = f"a pair of integers >= {low}"
        ok = lambda v: (  # noqa: E731
            isinstance(v, list)
            and len(v) == 2
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= low for d in v)
        )
        m, n = self.get(key, expected, ok, _MISSING)
        return int(m), int(n)

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

    def array(self, field: str, *, ndim: int, optional: bool = False) -> Any:
        """The stored array ``field``: numeric, with ``ndim`` axes (``None`` when optional and absent)."""
        if field not in self._arrays:
            if optional:
                return None
            msg = f"{self.file}: bad operator file at {self.where}: 'arrays.{field}' is missing ({self.name} needs it)"
            raise FileFormatError(msg)
        a = self._arrays[field]
        if a.dtype.kind not in "biufc" or a.ndim != ndim:
            msg = (
                f"{self.file}: bad operator file at {self.where}: array {field!r} must be a "
                f"{ndim}-d array of numbers, got shape {a.shape} and dtype {a.dtype}"
            )
            raise FileFormatError(msg)
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
            msg = f"{self.file}: bad operator file at {self.where}: {self.name} needs {want} children{reason}, got {count}"
            raise FileFormatError(msg)
        return [
            _decode(c, self._all_arrays, self.file, f"{self.path}/{self.name}[{i}]", self.depth + 1)
            for i, c in enumerate(self._raw_children)
        ]

    def child(self) -> LinearOperator:
        return self.children(exactly=1)[0]


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


def _existing_file(path: Path) -> None:
    """``IsADirectoryError`` or ``FileNotFoundError`` unless ``path`` is a regular file."""
    if path.is_dir():
        msg = f"{str(path)!r} is a directory, not a file"
        raise IsADirectoryError(msg)
    if not path.exists():
        msg = f"no such file: {str(path)!r}"
        raise FileNotFoundError(msg)
    if not path.is_file():
        msg = f"{str(path)!r} is not a regular file"
        raise FileFormatError(msg)


def _read_meta(path: str | os.PathLike[str]) -> tuple[_Fields, dict[str, np.ndarray]]:
    path = Path(path)
    _existing_file(path)
    file = repr(str(path))
    with open(path, "rb") as fh:
        try:
            z = np.load(fh, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                msg = "a single .npy array, not an archive"
                raise ValueError(msg)
            with z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            msg = f"{file} is not a readable .npz file ({exc})"
            raise FileFormatError(msg) from exc
    raw = arrays.pop(_META_KEY, None)
    if raw is None:
        msg = f"{file} holds no structmat operator (no {_META_KEY!r} entry); was it written by structmat.save?"
        raise FileFormatError(msg)
    try:
        text = bytes(np.asarray(raw, dtype=np.uint8)).decode("utf-8")
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        msg = f"{file}: the structmat metadata is corrupt ({exc})"
        raise FileFormatError(msg) from exc
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
    return _Fields(meta, file, "the top level"), arrays


def _decode(
    raw: Any, arrays: dict[str, np.ndarray], file: str, where: str, depth: int
) -> LinearOperator:
    node = _Node(raw, arrays, file, where, depth)
    entry = _REGISTRY.get(node.name)
    if entry is None:
        msg = f"{file}: unknown operator class {node.name!r} at {where}; known classes: {', '.join(SAVABLE)}"
        raise FileFormatError(msg)
    try:
        op = entry[2](node)
    except FileFormatError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:  # the constructor refused the values
        msg = f"{file}: bad operator file at {node.where}: the stored values do not make a {node.name} ({exc})"
        raise FileFormatError(msg) from exc
    if node._raw_children and not node.children_read:
        msg = f"{file}: bad operator file at {node.where}: {node.name} takes no children, got {len(node._raw_children)}"
        raise FileFormatError(msg)
    if tuple(op.shape) != node.shape or np.dtype(aa.dtype_name(op.dtype)) != node.dtype:
        msg = (
            f"{file}: bad operator file at {node.where}: rebuilt {node.name} has shape "
            f"{tuple(op.shape)} and dtype {aa.dtype_name(op.dtype)}, the file says "
            f"{node.shape} and {node.dtype}"
        )
        raise FileFormatError(msg)
    return op


def load(path: str | os.PathLike[str], /, *, xp: Any = None, device: Any = None) -> LinearOperator:
    """Read an operator written by :func:`save` (never with pickle).

    Parameters
    ----------
    path : str or path-like
        A ``.npz`` file written by :func:`save`.
    xp : array namespace, optional
        Rebuild on this backend (``numpy``, ``torch``, ...); NumPy by default.
    device : optional
        Device for ``xp``.

    Returns
    -------
    LinearOperator
        The operator, with the same class structure as the one saved.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    IsADirectoryError
        If ``path`` is a directory.
    FileFormatError
        (a ``ValueError``) if the file is corrupt, was not written by
        :func:`save`, names an operator class this version does not know, or
        has a missing or malformed field (the message names it).

    Examples
    --------
    >>> import os, tempfile, numpy as np, structmat as sm
    >>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
    >>> save(path, sm.Permutation(np.array([1, 0])))
    >>> load(path)
    Permutation(2)
    """
    meta, arrays = _read_meta(path)
    op = _decode(meta.obj.get("operator"), arrays, meta.file, "operator", 0)
    if xp is not None or device is not None:
        op = op.to(xp=xp, device=device)
    return op


def load_result(
    path: str | os.PathLike[str], /, *, xp: Any = None, device: Any = None
) -> ProjectionResult:
    """Read a :class:`~structmat.ProjectionResult` written by :func:`save`.

    Raises
    ------
    FileFormatError
        If the file holds an operator but no projection result.

    Examples
    --------
    >>> import os, tempfile, numpy as np, structmat as sm
    >>> r = ProjectionResult(sm.Identity(2), error=0.0, norm=1.0, lower_bound=0.0,
    ...                      upper_bound=0.0, exact=True, onto="diagonal")
    >>> path = os.path.join(tempfile.mkdtemp(), "r.npz")
    >>> save(path, r)
    >>> load_result(path).onto
    'diagonal'
    """
    meta, _ = _read_meta(path)
    if not isinstance(meta.obj.get("result"), dict):
        msg = f"{str(path)!r} holds an operator but no projection result"
        raise FileFormatError(msg)
    info = meta.object("result")
    op = load(path, xp=xp, device=device)
    return ProjectionResult(
        op,
        error=info.number("error"),
        norm=info.number("norm"),
        lower_bound=info.number("lower_bound"),
        upper_bound=info.number("upper_bound"),
        exact=info.boolean("exact"),
        onto=info.string("onto"),
        params={k: _tuplify(v) for k, v in info.object("params").obj.items()},
        notes=info.string("notes", default=""),
    )


# ---------------------------------------------------------------------- reading matrices
_SUFFIXES = (".npy", ".npz", ".safetensors")


def _check_2d(name: str, a: np.ndarray, path: Path) -> np.ndarray:
    if a.ndim != 2:
        msg = f"{str(path)!r}: array {name!r} has shape {a.shape}, expected a 2-d matrix"
        raise FileFormatError(msg)
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        msg = f"{str(path)!r}: array {name!r} has dtype {a.dtype}, expected numbers"
        raise FileFormatError(msg)
    return a


def _pick(
    names: list[str], key: str | None, shape_of: Callable[[str], tuple[int, ...]], path: Path
) -> list[str]:
    if key is not None:
        if key not in names:
            shown = ", ".join(repr(n) for n in names[:20]) + (" ..." if len(names) > 20 else "")
            msg = f"{str(path)!r} has no array {key!r}; it holds {shown or 'nothing'}"
            raise FileFormatError(msg)
        return [key]
    chosen = [n for n in names if len(shape_of(n)) == 2]
    if not chosen:
        msg = f"{str(path)!r} holds no 2-d array (arrays: {', '.join(names) or 'none'})"
        raise FileFormatError(msg)
    return chosen


def _read_safetensors(path: Path, key: str | None) -> dict[str, np.ndarray]:
    try:
        from safetensors import safe_open
    except ImportError as exc:
        msg = "reading .safetensors files needs the safetensors package (pip install safetensors)"
        raise FileFormatError(msg) from exc
    out = {}
    try:
        with safe_open(str(path), framework="numpy") as f:
            names = list(f.keys())
            chosen = _pick(names, key, lambda n: tuple(f.get_slice(n).get_shape()), path)
            for name in chosen:
                out[name] = _check_2d(name, f.get_tensor(name), path)
    except FileFormatError:
        raise
    except Exception as exc:  # the safetensors error types are not public API
        msg = f"{str(path)!r} is not a readable .safetensors file ({type(exc).__name__}: {exc})"
        raise FileFormatError(msg) from exc
    return out


def read_matrices(path: str | os.PathLike[str], key: str | None = None) -> dict[str, np.ndarray]:
    """Read the 2-d arrays of a ``.npy``, ``.npz`` or ``.safetensors`` file, never with pickle.

    Parameters
    ----------
    path : str or path-like
        The file; its suffix says how to read it.
    key : str, optional
        The array to read from a ``.npz`` or ``.safetensors`` file; all the
        2-d arrays when omitted (other arrays are skipped).

    Returns
    -------
    dict of str to numpy.ndarray
        Name -> matrix, in file order (a ``.npy`` file gives one entry named
        after the file).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    FileFormatError
        (a ``ValueError``) for a corrupt file, an unsupported suffix, a
        missing key, an array that is not 2-d or holds no numbers, or a
        ``.npy`` file that would need pickle.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "w.npz")
    >>> np.savez(path, w=np.eye(3), b=np.ones(3))
    >>> {k: v.shape for k, v in read_matrices(path).items()}
    {'w': (3, 3)}
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        msg = f"{str(path)!r}: unsupported file type {suffix or '(none)'!r}; expected one of {', '.join(_SUFFIXES)}"
        raise FileFormatError(msg)
    _existing_file(path)
    if suffix == ".safetensors":
        return _read_safetensors(path, key)
    with open(path, "rb") as fh:  # our own handle: closed even when NumPy gives up
        return _read_numpy(fh, path, suffix, key)


def _read_numpy(fh: Any, path: Path, suffix: str, key: str | None) -> dict[str, np.ndarray]:
    try:
        loaded = np.load(fh, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        msg = f"{str(path)!r} is not a readable {suffix} file ({exc})"
        raise FileFormatError(msg) from exc
    if suffix == ".npy":
        if not isinstance(loaded, np.ndarray):
            msg = f"{str(path)!r} is not a .npy array file"
            raise FileFormatError(msg)
        if key is not None:
            msg = f"--key selects an array in a .npz or .safetensors file; {str(path)!r} is a .npy file holding one array"
            raise FileFormatError(msg)
        return {path.stem: _check_2d(path.stem, loaded, path)}
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        msg = f"{str(path)!r} is a .npy file with a .npz name"
        raise FileFormatError(msg)
    try:
        with loaded as z:
            names = [n for n in z.files if n != _META_KEY]
            shapes: dict[str, tuple[int, ...]] = {}

            def shape_of(n: str) -> tuple[int, ...]:
                if n not in shapes:
                    shapes[n] = z[n].shape
                return shapes[n]

            chosen = _pick(names, key, shape_of, path)
            return {n: _check_2d(n, z[n], path) for n in chosen}
    except FileFormatError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        msg = f"{str(path)!r}: an array in the file is unreadable ({exc})"
        raise FileFormatError(msg) from exc


def _finite_float(a: np.ndarray) -> np.ndarray:
    """A float copy of an integer or boolean matrix; float16 widens to float32."""
    if a.dtype == np.bool_ or np.issubdtype(a.dtype, np.integer):
        return a.astype(np.float64)
    if a.dtype == np.float16:
        return a.astype(np.float32)
    return a

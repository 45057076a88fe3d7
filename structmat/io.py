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
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._result import ProjectionResult
from structmat.linop import LinearOperator

__all__ = ["SAVABLE", "FileFormatError", "load", "load_result", "read_matrices", "save"]

FORMAT = "structmat-operator"
VERSION = 1
_META_KEY = "__structmat__"


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


def _scalar_from_json(v: Any) -> complex | float:
    if isinstance(v, list | tuple):
        return complex(v[0], v[1])
    return float(v)


# ---------------------------------------------------------------------- the class registry
# name -> (encode(op) -> (params, arrays, children), decode(params, arrays, children) -> op)
Encoder = Callable[[Any], tuple[dict[str, Any], dict[str, Any], list[LinearOperator]]]
Decoder = Callable[[dict[str, Any], dict[str, np.ndarray], list[LinearOperator]], LinearOperator]
_REGISTRY: dict[str, tuple[str, Encoder, Decoder]] = {}


def _register(name: str, module: str, encode: Encoder, decode: Decoder) -> None:
    _REGISTRY[name] = (module, encode, decode)


def _cls(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def _dtype_of(params: dict[str, Any]) -> Any:
    return None if params.get("dtype") is None else np.dtype(params["dtype"])


# basic operators
_register(
    "Dense",
    "structmat.basic",
    lambda op: ({}, {"A": op.A}, []),
    lambda p, a, c: _cls("structmat.basic", "Dense")(a["A"]),
)
_register(
    "Diagonal",
    "structmat.basic",
    lambda op: ({}, {"d": op.d}, []),
    lambda p, a, c: _cls("structmat.basic", "Diagonal")(a["d"]),
)
_register(
    "Permutation",
    "structmat.basic",
    lambda op: ({"dtype": aa.dtype_name(op.dtype)}, {"idx": op.idx}, []),
    lambda p, a, c: _cls("structmat.basic", "Permutation")(a["idx"], dtype=_dtype_of(p)),
)
_register(
    "Identity",
    "structmat.basic",
    lambda op: ({"n": op.shape[0], "dtype": aa.dtype_name(op.dtype)}, {}, []),
    lambda p, a, c: _cls("structmat.basic", "Identity")(p["n"], dtype=_dtype_of(p)),
)
_register(
    "Zero",
    "structmat.basic",
    lambda op: ({"shape": list(op.shape), "dtype": aa.dtype_name(op.dtype)}, {}, []),
    lambda p, a, c: _cls("structmat.basic", "Zero")(tuple(p["shape"]), dtype=_dtype_of(p)),
)

# the algebra (children rebuilt with the plain constructors: the structure is kept as saved)
_register(
    "Sum",
    "structmat.linop",
    lambda op: ({}, {}, list(op.terms)),
    lambda p, a, c: _cls("structmat.linop", "Sum")(*c),
)
_register(
    "Product",
    "structmat.linop",
    lambda op: ({}, {}, list(op.factors)),
    lambda p, a, c: _cls("structmat.linop", "Product")(*c),
)
_register(
    "Scaled",
    "structmat.linop",
    lambda op: ({"scalar": _scalar_to_json(op.scalar)}, {}, [op.operator]),
    lambda p, a, c: _cls("structmat.linop", "Scaled")(_scalar_from_json(p["scalar"]), c[0]),
)
_register(
    "Adjoint",
    "structmat.linop",
    lambda op: ({"structural": type(op).__name__ != "Adjoint"}, {}, [op.operator]),
    lambda p, a, c: c[0].H if p.get("structural") else _cls("structmat.linop", "Adjoint")(c[0]),
)
_register(
    "Transpose",
    "structmat.linop",
    lambda op: ({"structural": type(op).__name__ != "Transpose"}, {}, [op.operator]),
    lambda p, a, c: c[0].T if p.get("structural") else _cls("structmat.linop", "Transpose")(c[0]),
)
_register(
    "Conjugate",
    "structmat.linop",
    lambda op: ({}, {}, [op.operator]),
    lambda p, a, c: c[0].conj(),
)
_register(
    "Power",
    "structmat.linop",
    lambda op: ({"exponent": op.exponent}, {}, [op.operator]),
    lambda p, a, c: _cls("structmat.linop", "Power")(c[0], int(p["exponent"])),
)

# structured families
_register(
    "Monarch",
    "structmat.monarch",
    lambda op: ({"shape": list(op.shape)}, {"L": op.L, "R": op.R}, []),
    lambda p, a, c: _cls("structmat.monarch", "Monarch")(a["L"], a["R"], shape=tuple(p["shape"])),
)
_register(
    "Butterfly",
    "structmat.butterfly",
    lambda op: ({"increasing_stride": bool(op.increasing_stride)}, {"tw": op.tw}, []),
    lambda p, a, c: _cls("structmat.butterfly", "Butterfly")(
        a["tw"], increasing_stride=bool(p["increasing_stride"])
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
    lambda p, a, c: _cls("structmat.lowrank", "LowRank")(a["U"], a["V"], a.get("s")),
)


def _encode_blockdiag(op: Any) -> tuple[dict[str, Any], dict[str, Any], list[LinearOperator]]:
    if op.stack is not None:
        return {"stacked": True}, {"stack": op.stack}, []
    return {"stacked": False}, {}, list(op.blocks)


def _decode_blockdiag(
    p: dict[str, Any], a: dict[str, np.ndarray], c: list[LinearOperator]
) -> LinearOperator:
    cls = _cls("structmat.blocks", "BlockDiagonal")
    return cls(a["stack"]) if p.get("stacked") else cls(list(c))


def _encode_blockmatrix(op: Any) -> tuple[dict[str, Any], dict[str, Any], list[LinearOperator]]:
    rows, cols = len(op.blocks), len(op.blocks[0])
    return {"grid": [rows, cols]}, {}, [b for row in op.blocks for b in row]


def _decode_blockmatrix(
    p: dict[str, Any], a: dict[str, np.ndarray], c: list[LinearOperator]
) -> LinearOperator:
    rows, cols = p["grid"]
    grid = [list(c[i * cols : (i + 1) * cols]) for i in range(rows)]
    return _cls("structmat.blocks", "BlockMatrix")(grid)


_register("BlockDiagonal", "structmat.blocks", _encode_blockdiag, _decode_blockdiag)
_register("BlockMatrix", "structmat.blocks", _encode_blockmatrix, _decode_blockmatrix)
_register(
    "Kronecker",
    "structmat.blocks",
    lambda op: ({}, {}, list(op.factors)),
    lambda p, a, c: _cls("structmat.blocks", "Kronecker")(*c),
)

# Fourier family: a few integers and a normalization, or one defining vector
for _name in ("DFT", "IDFT", "Hadamard"):
    _register(
        _name,
        "structmat.fourier",
        lambda op: ({"n": op.shape[0], "norm": op.norm, "dtype": aa.dtype_name(op.dtype)}, {}, []),
        (
            lambda name: (
                lambda p, a, c: _cls("structmat.fourier", name)(
                    p["n"], norm=p["norm"], dtype=_dtype_of(p)
                )
            )
        )(_name),
    )
for _name in ("DCT", "DST"):
    _register(
        _name,
        "structmat.fourier",
        lambda op: (
            {"n": op.shape[0], "type": op.type, "norm": op.norm, "dtype": aa.dtype_name(op.dtype)},
            {},
            [],
        ),
        (
            lambda name: (
                lambda p, a, c: _cls("structmat.fourier", name)(
                    p["n"], type=p["type"], norm=p["norm"], dtype=_dtype_of(p)
                )
            )
        )(_name),
    )
_register(
    "Circulant",
    "structmat.convolution",
    lambda op: ({}, {"c": op.c}, []),
    lambda p, a, c: _cls("structmat.convolution", "Circulant")(a["c"]),
)
_register(
    "Toeplitz",
    "structmat.convolution",
    lambda op: ({}, {"c": op.c, "r": op.r}, []),
    lambda p, a, c: _cls("structmat.convolution", "Toeplitz")(a["c"], a["r"]),
)
_register(
    "Convolution",
    "structmat.convolution",
    lambda op: ({"n": op.shape[1], "mode": op.mode}, {"h": op.h}, []),
    lambda p, a, c: _cls("structmat.convolution", "Convolution")(a["h"], p["n"], mode=p["mode"]),
)

#: Names of the operator classes :func:`save` knows how to write.
SAVABLE: tuple[str, ...] = tuple(sorted(_REGISTRY))


def _class_name(op: LinearOperator) -> str:
    name = type(op).__name__
    return "Conjugate" if name == "_Conjugate" else name


# ---------------------------------------------------------------------- save
def _encode(op: LinearOperator, store: dict[str, np.ndarray]) -> dict[str, Any]:
    if not isinstance(op, LinearOperator):
        msg = (
            f"save expects a structmat LinearOperator or ProjectionResult, got {type(op).__name__}"
        )
        raise TypeError(msg)
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
        "children": [_encode(child, store) for child in children],
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


# ---------------------------------------------------------------------- load
def _read_meta(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    path = Path(path)
    if not path.is_file():
        msg = f"no such file: {str(path)!r}"
        raise FileNotFoundError(msg)
    with open(path, "rb") as fh:
        try:
            z = np.load(fh, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                msg = "a single .npy array, not an archive"
                raise ValueError(msg)
            with z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            msg = f"{str(path)!r} is not a readable .npz file ({exc})"
            raise FileFormatError(msg) from exc
    raw = arrays.pop(_META_KEY, None)
    if raw is None:
        msg = f"{str(path)!r} holds no structmat operator (no {_META_KEY!r} entry); was it written by structmat.save?"
        raise FileFormatError(msg)
    try:
        meta = json.loads(bytes(np.asarray(raw, dtype=np.uint8)).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        msg = f"{str(path)!r}: the structmat metadata is corrupt ({exc})"
        raise FileFormatError(msg) from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        msg = f"{str(path)!r}: not a structmat operator file (format {meta.get('format') if isinstance(meta, dict) else None!r})"
        raise FileFormatError(msg)
    if meta.get("version") != VERSION:
        msg = f"{str(path)!r}: format version {meta.get('version')!r}, this structmat reads version {VERSION}"
        raise FileFormatError(msg)
    return meta, arrays


def _decode(node: Any, arrays: dict[str, np.ndarray], where: str) -> LinearOperator:
    if not isinstance(node, dict) or "class" not in node:
        msg = f"corrupt operator description at {where}: {node!r:.80}"
        raise FileFormatError(msg)
    name = node["class"]
    entry = _REGISTRY.get(name)
    if entry is None:
        msg = f"unknown operator class {name!r} at {where}; known classes: {', '.join(SAVABLE)}"
        raise ValueError(msg)
    try:
        keys = node.get("arrays", {})
        mine = {field: arrays[key] for field, key in keys.items()}
    except KeyError as exc:
        msg = f"operator file is missing array {exc.args[0]!r} needed by {name} at {where}"
        raise FileFormatError(msg) from exc
    children = [
        _decode(child, arrays, f"{where}/{name}[{i}]")
        for i, child in enumerate(node.get("children", []))
    ]
    params = {k: _tuplify(v) if k != "shape" else v for k, v in node.get("params", {}).items()}
    op = entry[2](params, mine, children)
    if list(op.shape) != list(node.get("shape", op.shape)):
        msg = f"rebuilt {name} has shape {op.shape}, the file says {tuple(node['shape'])}"
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
    FileFormatError
        (a ``ValueError``) if the file is corrupt or was not written by :func:`save`.
    ValueError
        If the file names an operator class this version does not know.

    Examples
    --------
    >>> import os, tempfile, numpy as np, structmat as sm
    >>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
    >>> save(path, sm.Permutation(np.array([1, 0])))
    >>> load(path)
    Permutation(2)
    """
    meta, arrays = _read_meta(path)
    op = _decode(meta.get("operator"), arrays, "operator")
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
    info = meta.get("result")
    if not isinstance(info, dict):
        msg = f"{str(path)!r} holds an operator but no projection result"
        raise FileFormatError(msg)
    op = load(path, xp=xp, device=device)
    params = {k: _tuplify(v) for k, v in info.get("params", {}).items()}
    return ProjectionResult(
        op,
        error=float(info["error"]),
        norm=float(info["norm"]),
        lower_bound=float(info["lower_bound"]),
        upper_bound=float(info["upper_bound"]),
        exact=bool(info["exact"]),
        onto=str(info["onto"]),
        params=params,
        notes=str(info.get("notes", "")),
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
    if not path.is_file():
        msg = f"no such file: {str(path)!r}"
        raise FileNotFoundError(msg)
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

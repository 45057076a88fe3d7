"""``save``, ``load`` and ``load_result``: operators to and from ``.npz`` or ``.safetensors`` files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from structmat._result import ProjectionResult
from structmat.io import _containers as box
from structmat.io._checked import FORMAT, VERSION, FileFormatError, _Fields, parse_document
from structmat.io._matrices import _existing_file
from structmat.io._tree import _decode, _encode, _json_safe
from structmat.linop import LinearOperator


def _tuplify(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


def save(path: str | os.PathLike[str], obj: LinearOperator | ProjectionResult, /) -> None:
    """Write an operator, or a projection result, to a ``.npz`` or ``.safetensors`` file.

    Parameters
    ----------
    path : str or path-like
        Where to write; the suffix picks the container: ``.npz`` (NumPy) or
        ``.safetensors`` (needs the ``safetensors`` package; the structure is
        stored in the file's metadata, so Hugging Face tooling reads the
        tensors).
    obj : LinearOperator or ProjectionResult
        Built from the classes in :data:`SAVABLE`, composed to any depth. A
        ``ProjectionResult`` stores its operator plus its errors, bounds,
        class name and parameters (read back with :func:`load_result`).

    Raises
    ------
    ValueError
        For an operator class that cannot be saved (the message lists those
        that can), or a suffix other than ``.npz`` and ``.safetensors``.
    TypeError
        For anything that is not an operator or a result.
    ImportError
        For a ``.safetensors`` path without the safetensors package.

    Examples
    --------
    >>> import os, tempfile, numpy as np, structmat as sm
    >>> path = os.path.join(tempfile.mkdtemp(), "d.npz")
    >>> save(path, 2.0 * sm.Diagonal(np.ones(3)))
    >>> (load(path) @ np.ones(3)).tolist()
    [2.0, 2.0, 2.0]
    """
    path = Path(path)
    suffix = box.operator_suffix(path, "save to", ValueError)
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
    text = json.dumps({"format": FORMAT, "version": VERSION, "operator": node, "result": result})
    write = box.write_safetensors if suffix == ".safetensors" else box.write_npz
    write(path, text, store)


def _read(path: str | os.PathLike[str]) -> tuple[_Fields, dict[str, np.ndarray]]:
    """The checked top level of a file's document, and its arrays."""
    path = Path(path)
    _existing_file(path)
    suffix = box.operator_suffix(path, "load", FileFormatError)
    box.check_kind(path, suffix)
    read = box.read_safetensors if suffix == ".safetensors" else box.read_npz
    text, arrays = read(path)
    return parse_document(text, repr(str(path))), arrays


def _operator(meta: _Fields, arrays: dict[str, np.ndarray], xp: Any, device: Any) -> LinearOperator:
    op = _decode(meta.obj.get("operator"), arrays, meta.file, "operator", 0)
    if xp is not None or device is not None:
        op = op.to(xp=xp, device=device)
    return op


def load(path: str | os.PathLike[str], /, *, xp: Any = None, device: Any = None) -> LinearOperator:
    """Read an operator written by :func:`save` (never with pickle).

    Parameters
    ----------
    path : str or path-like
        A ``.npz`` or ``.safetensors`` file written by :func:`save`.
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
        :func:`save`, has a suffix other than ``.npz`` and ``.safetensors``
        or content that does not match its suffix, names an operator class
        this version does not know, or has a missing or malformed field
        (the message names it).
    ImportError
        For a ``.safetensors`` file without the safetensors package.

    Examples
    --------
    >>> import os, tempfile, numpy as np, structmat as sm
    >>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
    >>> save(path, sm.Permutation(np.array([1, 0])))
    >>> load(path)
    Permutation(2)
    """
    meta, arrays = _read(path)
    return _operator(meta, arrays, xp, device)


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
    meta, arrays = _read(path)
    if not isinstance(meta.obj.get("result"), dict):
        msg = f"{str(path)!r} holds an operator but no projection result"
        raise FileFormatError(msg)
    info = meta.object("result")
    op = _operator(meta, arrays, xp, device)
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

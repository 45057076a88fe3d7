"""Reading the dense matrices the ``structmat`` command works on, never with pickle."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from structmat.io._checked import FileFormatError
from structmat.io._containers import NPZ_KEY, check_kind

_SUFFIXES = (".npy", ".npz", ".safetensors")


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
        check_kind(path, suffix)  # a renamed .npz: say so, not "header too large"
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
            names = [n for n in z.files if n != NPZ_KEY]
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

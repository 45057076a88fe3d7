"""The two containers of an operator file: ``.npz`` and ``.safetensors``.

Both hold the same two things, the named arrays ``a0, a1, ...`` and the JSON
document as text; this module knows nothing of what the document says.

* ``.npz``: the arrays, plus the document as UTF-8 bytes in the ``uint8`` array
  ``__structmat__``; read with ``allow_pickle=False``.
* ``.safetensors``: the arrays as tensors of those names, the document as the
  metadata entry ``structmat`` (safetensors metadata maps strings to strings).
  Safetensors has no complex dtype: a complex array of shape ``s`` is stored as
  its real and imaginary parts along a trailing axis of 2 (shape ``(*s, 2)``,
  complex64 as float32, complex128 as float64), and the metadata entry
  ``structmat.complex`` lists those tensors as a JSON array of names. Both
  directions are exact (the parts are copied, never computed).

A file is recognized by its first bytes as well as its name, so a file whose
suffix does not match its content gets a :class:`FileFormatError` saying what
it is.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from structmat.io._checked import FileFormatError

#: The suffixes :func:`structmat.save` and :func:`structmat.load` accept.
OPERATOR_SUFFIXES = (".npz", ".safetensors")
NPZ_KEY = "__structmat__"
ST_KEY = "structmat"
ST_COMPLEX_KEY = "structmat.complex"
_PARTS: dict[np.dtype[Any], np.dtype[Any]] = {
    np.dtype(np.float32): np.dtype(np.complex64),
    np.dtype(np.float64): np.dtype(np.complex128),
}


def operator_suffix(path: Path, verb: str, error: type[ValueError]) -> str:
    """The lower-case suffix of ``path``, which must be one of :data:`OPERATOR_SUFFIXES`."""
    suffix = path.suffix.lower()
    if suffix not in OPERATOR_SUFFIXES:
        msg = (
            f"cannot {verb} {str(path)!r}: unsupported file type {suffix or '(none)'!r}; "
            f"expected one of {', '.join(OPERATOR_SUFFIXES)}"
        )
        raise error(msg)
    return suffix


def sniff(path: Path) -> str | None:
    """What a file's first bytes say it is: ``'.npz'``, ``'.npy'``, ``'.safetensors'`` or ``None``.

    A safetensors file starts with the length of its JSON header as an 8-byte
    little-endian integer, then the header's ``{``.
    """
    with open(path, "rb") as fh:
        head = fh.read(9)
    if head.startswith(b"PK"):
        return ".npz"
    if head.startswith(b"\x93NUMPY"):
        return ".npy"
    if len(head) == 9 and head[8:] == b"{":
        size = path.stat().st_size
        if int.from_bytes(head[:8], "little") <= size - 8:
            return ".safetensors"
    return None


def check_kind(path: Path, suffix: str) -> None:
    """:class:`FileFormatError` unless the content of ``path`` is what ``suffix`` says."""
    kind = sniff(path)
    if kind == suffix:
        return
    file = repr(str(path))
    if suffix == ".npz" and kind == ".npy":
        msg = f"{file} is not a readable .npz file (a single .npy array, not an archive)"
    elif kind is not None:
        msg = f"{file} is a {kind} file named {suffix}; rename it to {path.stem}{kind}"
    else:
        msg = f"{file} is not a readable {suffix} file (it does not begin as a .npz or .safetensors file does)"
    raise FileFormatError(msg)


def _safetensors(what: str) -> Any:
    try:
        import safetensors.numpy
    except ImportError as exc:
        msg = f"{what} .safetensors files needs the safetensors package (pip install safetensors)"
        raise ImportError(msg) from exc
    return safetensors


# ---------------------------------------------------------------------- writing
def write_npz(path: Path, text: str, arrays: dict[str, np.ndarray]) -> None:
    store = {**arrays, NPZ_KEY: np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}
    with open(path, "wb") as f:
        np.savez(f, **store)  # type: ignore[arg-type]


def write_safetensors(path: Path, text: str, arrays: dict[str, np.ndarray]) -> None:
    st = _safetensors("writing")
    tensors, packed = {}, []
    for key, a in arrays.items():
        if a.dtype.kind == "c":
            a = np.stack([a.real, a.imag], axis=-1)
            packed.append(key)
        tensors[key] = np.ascontiguousarray(a)
    metadata = {ST_KEY: text, ST_COMPLEX_KEY: json.dumps(packed)}
    st.numpy.save_file(tensors, str(path), metadata=metadata)


# ---------------------------------------------------------------------- reading
def read_npz(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """The document text and the arrays of a ``.npz`` operator file."""
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
    raw = arrays.pop(NPZ_KEY, None)
    if raw is None:
        msg = f"{file} holds no structmat operator (no {NPZ_KEY!r} entry); was it written by structmat.save?"
        raise FileFormatError(msg)
    try:
        text = bytes(np.asarray(raw, dtype=np.uint8)).decode("utf-8")
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        msg = f"{file}: the structmat metadata is corrupt ({exc})"
        raise FileFormatError(msg) from exc
    return text, arrays


def read_safetensors(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """The document text and the arrays (complex ones reassembled) of a ``.safetensors`` file."""
    st = _safetensors("reading")
    file = repr(str(path))
    try:
        with st.safe_open(str(path), framework="numpy") as f:
            metadata = f.metadata() or {}
            names = list(f.keys())
            if ST_KEY not in metadata:
                msg = (
                    f"{file} holds {len(names)} tensors but no structmat operator (no "
                    f"{ST_KEY!r} metadata entry); structmat.read_matrices reads its tensors as matrices"
                )
                raise FileFormatError(msg)
            arrays = {name: f.get_tensor(name) for name in names}
    except FileFormatError:
        raise
    except Exception as exc:  # the safetensors error types are not public API
        msg = f"{file} is not a readable .safetensors file ({type(exc).__name__}: {exc})"
        raise FileFormatError(msg) from exc
    for name in _packed_names(metadata.get(ST_COMPLEX_KEY, "[]"), arrays, file):
        arrays[name] = _complex(arrays[name], name, file)
    return metadata[ST_KEY], arrays


def _packed_names(text: Any, arrays: dict[str, np.ndarray], file: str) -> list[str]:
    try:
        names = json.loads(text) if len(text) < 1_000_000 else None
    except (ValueError, RecursionError):
        names = None
    if (
        not isinstance(names, list)
        or not all(isinstance(n, str) and n in arrays for n in names)
        or len(set(names)) != len(names)
    ):
        msg = (
            f"{file}: the {ST_COMPLEX_KEY!r} metadata must be a JSON array of distinct "
            f"tensor names, got {text!r:.80}"
        )
        raise FileFormatError(msg)
    return names


def _complex(parts: np.ndarray, name: str, file: str) -> np.ndarray:
    """The complex array whose real and imaginary parts lie along the trailing axis of ``parts``."""
    if parts.dtype not in _PARTS or parts.ndim < 1 or parts.shape[-1] != 2:
        msg = (
            f"{file}: tensor {name!r} is listed as complex, so it must be float32 or float64 "
            f"with a trailing axis of 2 (real, imaginary), got shape {parts.shape} and dtype {parts.dtype}"
        )
        raise FileFormatError(msg)
    # a view of contiguous (re, im) pairs as complex numbers: bit for bit, no arithmetic
    return np.ascontiguousarray(parts).view(_PARTS[parts.dtype])[..., 0]

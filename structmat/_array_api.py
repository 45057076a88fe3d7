"""Namespace, device and dtype helpers: the one place that knows about backends.

Everything else in structmat calls the array API standard through the
namespace these helpers return (``array_api_compat``), so NumPy, CuPy, torch
and ``array_api_strict`` all work. Backend gaps are handled here and nowhere
else.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

import array_api_compat
import numpy as np

__all__ = [
    "check_floating_dtype",
    "check_same_backend",
    "complex_dtype",
    "copy",
    "dtype_name",
    "eps",
    "namespace_name",
    "namespace_of",
    "real_dtype",
    "to_float",
    "to_host",
    "to_namespace",
]

# ``array_namespace`` inspects its argument on every call; the namespace of an
# array depends only on its type, so cache it (this keeps the per-call overhead
# of ``op @ x`` small).
_NAMESPACE_BY_TYPE: dict[type, Any] = {}
_NUMPY = array_api_compat.array_namespace(np.empty(0))


def namespace_of(x: Any) -> Any:
    """Return the array-API namespace of array ``x`` (cached by type)."""
    t = type(x)
    xp = _NAMESPACE_BY_TYPE.get(t)
    if xp is None:
        try:
            xp = array_api_compat.array_namespace(x)
        except TypeError:
            msg = f"expected an array of an array-API library, got {t.__name__}"
            raise TypeError(msg) from None
        _NAMESPACE_BY_TYPE[t] = xp
    return xp


def is_numpy(xp: Any) -> bool:
    """True when ``xp`` is NumPy's (compat) namespace."""
    return xp is _NUMPY


def namespace_name(xp: Any) -> str:
    """A short readable name of a namespace, e.g. ``'numpy'`` or ``'torch'``."""
    name = getattr(xp, "__name__", repr(xp))
    return name.removeprefix("array_api_compat.")


def namespace_from_name(name: str) -> Any:
    """The namespace :func:`namespace_name` named (used when unpickling operators)."""
    try:
        return importlib.import_module(f"array_api_compat.{name}")
    except ImportError:
        return importlib.import_module(name)


def device_of(x: Any) -> Any:
    return array_api_compat.device(x)


_FLOATING_NAMES = ("float32", "float64", "complex64", "complex128")
# also named in error messages when refused
_OTHER_NAMES = ("float16", "bfloat16", "bool", "int8", "int16", "int32", "int64", "uint8")
# keyed by (type, dtype): the type compares first, so that a dict probe never asks
# ``array_api_strict.float32 == numpy.float32`` (which warns)
_DTYPE_NAMES: dict[tuple[type, Any], str] = {}


def dtype_name(dtype: Any) -> str:
    """``'float64'`` for ``numpy.float64``, ``torch.float64``, ``jax.numpy.float64``...

    Identified by comparison with dtype objects, not by parsing ``str(dtype)``:
    NumPy's (which also knows CuPy's and JAX's scalar types), else those of the
    library that defines ``type(dtype)`` (torch, ``array_api_strict``). Cached
    per dtype: kernels name dtypes in cache keys at every product.
    """
    if dtype is None:  # np.dtype(None) would say float64
        return "None"
    try:
        return _DTYPE_NAMES[type(dtype), dtype]
    except (KeyError, TypeError):  # TypeError: an unhashable object, reported below
        pass
    try:
        name = np.dtype(dtype).name
    except TypeError:
        library = sys.modules.get(type(dtype).__module__.partition(".")[0])
        names = _FLOATING_NAMES + _OTHER_NAMES
        found = [n for n in names if getattr(library, n, None) == dtype]
        if not found:
            return str(dtype)  # not a floating dtype: callers name it in their errors
        name = found[0]
    try:
        _DTYPE_NAMES[type(dtype), dtype] = name
    except TypeError:
        pass
    return name


def is_complex(xp: Any, dtype: Any) -> bool:
    return bool(xp.isdtype(dtype, "complex floating"))


def check_floating_dtype(xp: Any, dtype: Any, what: str) -> None:
    """Raise ``TypeError`` unless ``dtype`` is float32/64 or complex64/128."""
    allowed = (xp.float32, xp.float64, xp.complex64, xp.complex128)
    if dtype not in allowed:
        msg = (
            f"{what} must have dtype float32, float64, complex64 or complex128, "
            f"got {dtype_name(dtype)}"
        )
        raise TypeError(msg)


def floating_input(xp: Any, x: Any, what: str) -> Any:
    """``x`` with integer/bool data cast to float64; ``TypeError`` unless floating.

    The dtype rule of every projection input: integers and booleans become
    float64, float32/64 and complex64/128 stay as they are, anything else is
    refused (:func:`check_floating_dtype` names ``what``).
    """
    if xp.isdtype(x.dtype, ("integral", "bool")):
        x = xp.astype(x, xp.float64)
    check_floating_dtype(xp, x.dtype, what)
    return x


def complex_dtype(xp: Any, dtype: Any) -> Any:
    """The complex dtype of the same precision (complex stays as it is)."""
    if dtype == xp.float32:
        return xp.complex64
    if dtype == xp.float64:
        return xp.complex128
    return dtype


def real_dtype(xp: Any, dtype: Any) -> Any:
    """The real dtype of the same precision (real stays as it is)."""
    if dtype == xp.complex64:
        return xp.float32
    if dtype == xp.complex128:
        return xp.float64
    return dtype


def eps(xp: Any, dtype: Any) -> float:
    return float(xp.finfo(dtype).eps)


def scalar_dtype(xp: Any, dtype: Any, c: complex) -> Any:
    """Dtype of ``c * op`` for an operator of dtype ``dtype`` (weak scalar).

    A Python ``complex`` makes it complex (by type, as NumPy does: ``1 + 0j``
    too); a real scalar keeps ``dtype`` (float32 stays float32).
    """
    if isinstance(c, complex):
        return complex_dtype(xp, dtype)
    return dtype


def check_same_backend(xp: Any, device: Any, other_xp: Any, other_device: Any, what: str) -> None:
    """Refuse to mix namespaces (``TypeError``) or devices (``ValueError``).

    structmat never copies silently between backends or devices; use
    ``op.to(xp=..., device=...)`` to move an operator explicitly.
    """
    if other_xp is not xp:
        msg = (
            f"{what}: cannot mix array namespaces, operator uses "
            f"{namespace_name(xp)} but got {namespace_name(other_xp)}; "
            "move one side with op.to(xp=...)"
        )
        raise TypeError(msg)
    # a JAX tracer (inside jit, grad, vmap) has no device: it is wherever its array is
    if other_device is not None and device is not None and other_device != device:
        msg = (
            f"{what}: cannot mix devices, operator is on {device!r} "
            f"but got {other_device!r}; move one side with op.to(device=...)"
        )
        raise ValueError(msg)


def to_host(x: Any) -> np.ndarray:
    """A NumPy array with the values of ``x`` (any backend, any device).

    DLPack first (no copy for CPU arrays of NumPy, torch, ``array_api_strict``),
    then the backends' own host transfers (CuPy ``.get()``, torch ``.cpu()``).
    """
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, np.generic):
        return np.asarray(x)
    try:
        return np.from_dlpack(x)
    except Exception:  # not DLPack-able on the host: try the transfers below
        pass
    if hasattr(x, "get"):  # CuPy
        return np.asarray(x.get())
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch (also tensors needing grad)
        return np.asarray(x.detach().cpu().numpy())
    return np.asarray(x)


def to_namespace(x: Any, xp: Any, device: Any = None) -> Any:
    """Move array ``x`` into namespace ``xp`` (and ``device``), explicitly.

    Uses DLPack where both sides support it, otherwise goes through NumPy on
    the host (only reached when the caller asked for a move with ``op.to``).
    """
    src = namespace_of(x)
    if src is not xp:
        if isinstance(x, np.ndarray) and not x.flags.writeable:
            x = x.copy()  # DLPack does not export read-only arrays
        try:
            x = xp.from_dlpack(x)
        except Exception:
            x = xp.asarray(to_host(x))
    if device is not None and array_api_compat.device(x) != device:
        try:
            x = array_api_compat.to_device(x, device)
        except Exception as exc:  # torch without CUDA raises a bare AssertionError
            msg = (
                f"cannot move an array to device {device!r} of {namespace_name(xp)}: "
                f"{type(exc).__name__}: {exc}"
            )
            raise ValueError(msg) from exc
    return x


# What every namespace structmat runs on provides; a module without them (``np.linalg``)
# or a name given as a string (``xp="torch"``) is refused here, once, for every caller.
_NAMESPACE_MEMBERS = ("asarray", "matmul", "float64", "isdtype")


def default_namespace(xp: Any = None, what: str = "") -> Any:
    """``xp`` itself, or NumPy's namespace when ``None``; accepts plain modules.

    ``xp=numpy`` or ``xp=torch`` (the library module) maps to its compat
    namespace. Anything that is not an array namespace raises ``TypeError``
    naming the argument ``xp`` (and ``what``, the caller, when given).
    """
    if xp is None:
        return _NUMPY
    if getattr(xp, "__name__", "").startswith("array_api_compat.") or xp is _NUMPY:
        return xp
    name = getattr(xp, "__name__", "")
    if name in ("numpy", "torch", "cupy", "dask.array"):
        return array_api_compat.array_namespace(
            xp.empty(0) if name != "dask.array" else xp.empty((0,))
        )
    missing = [m for m in _NAMESPACE_MEMBERS if not hasattr(xp, m)]
    if isinstance(xp, str) or missing:
        where = f"{what}: " if what else ""
        hint = f"; pass the module itself (import {xp}; xp={xp})" if isinstance(xp, str) else ""
        lacks = f" (it has no {', '.join(missing)})" if missing and not isinstance(xp, str) else ""
        shown = (
            f"module {name}" if isinstance(xp, types.ModuleType) else f"{type(xp).__name__} {xp!r}"
        )
        msg = (
            f"{where}xp must be an array namespace such as numpy, torch or "
            f"array_api_strict, got {shown}{lacks}{hint}"
        )
        raise TypeError(msg)
    return xp


def default_float(xp: Any, device: Any = None) -> Any:
    """The namespace's default real floating dtype (array API inspection): float64
    on NumPy and CuPy, ``torch.get_default_dtype()`` on torch, float32 on JAX
    without x64."""
    info = getattr(xp, "__array_namespace_info__", None)
    if info is None:
        return xp.float64
    return info().default_dtypes(device=device)["real floating"]


def as_dtype(xp: Any, dtype: Any) -> Any:
    """``dtype`` in namespace ``xp`` (``numpy.float32`` -> ``torch.float32`` ...)."""
    name = dtype if isinstance(dtype, str) else dtype_name(dtype)
    if name not in ("float32", "float64", "complex64", "complex128") or not hasattr(xp, name):
        msg = (
            f"unsupported dtype for {namespace_name(xp)}: dtype must be float32, float64, "
            f"complex64 or complex128, got {name}"
        )
        raise TypeError(msg)
    return getattr(xp, name)


def inverse_permutation(xp: Any, idx: Any, what: str) -> Any:
    """The inverse of index array ``idx``; ``ValueError`` unless it is a permutation."""
    n = idx.shape[0]
    if n and (int(xp.min(idx)) < 0 or int(xp.max(idx)) >= n):
        msg = (
            f"{what} expects indices in [0, {n}), got values from "
            f"{int(xp.min(idx))} to {int(xp.max(idx))}"
        )
        raise ValueError(msg)
    ar = xp.arange(n, dtype=idx.dtype, device=device_of(idx))
    # argsort of a permutation is its inverse; sorting also exposes repeats.
    inverse = xp.astype(xp.argsort(idx), idx.dtype)
    if n and not bool(xp.all(xp.take(idx, inverse) == ar)):
        counts = n - int(xp.unique_values(idx).shape[0])
        msg = f"{what} expects each index 0..{n - 1} exactly once, got {counts} repeated"
        raise ValueError(msg)
    return inverse


def to_float(x: Any) -> float:
    """``float(x)`` of a one-element array of any backend.

    A torch tensor is detached first: a projection's error is a number, not
    part of the graph, and ``float()`` of a tensor that requires grad warns.
    """
    detach = getattr(x, "detach", None)
    return float(detach() if detach is not None else x)


def copy(xp: Any, a: Any) -> Any:
    """A new array with the values of ``a``; on torch a ``clone``, which keeps the graph.

    ``xp.asarray(a, copy=True)`` of a torch tensor that requires grad warns
    and would cut the gradient's path.
    """
    return a.clone() if is_torch_array(a) else xp.asarray(a, copy=True)


def private_copy(xp: Any, a: Any) -> Any:
    """A copy of ``a`` that the operator owns; read-only on NumPy.

    For the few small arrays that an operator derives data from once (a
    permutation's inverse, a circulant's spectrum): the caller may then
    change the original freely, and on NumPy the operator's own copy
    refuses in-place changes, so the derived data can never go stale.
    """
    return read_only(copy(xp, a))


def read_only(a: Any) -> Any:
    """``a``, marked read-only if it is a NumPy array (other libraries have no such flag)."""
    if isinstance(a, np.ndarray):
        a.flags.writeable = False
    return a


def is_torch_array(a: Any) -> bool:
    return bool(array_api_compat.is_torch_array(a))


def source_key(a: Any) -> Any:
    """A key that changes whenever array ``a`` may have changed, or ``None``.

    Derived data (fused factors, spectra) may be cached under it: a NumPy
    array that owns its read-only memory (:func:`private_copy`) never
    changes; a torch tensor changes with its version counter, and one that
    requires grad is not cached at all (a cached graph would be reused
    across backward passes). Any other array has no key: recompute.
    """
    if isinstance(a, np.ndarray):
        return ("numpy", id(a)) if not a.flags.writeable and a.base is None else None
    if is_torch_array(a) and not a.requires_grad:
        return ("torch", id(a), a._version)
    return None


def owned(xp: Any, a: Any) -> Any:
    """``a`` itself for torch (parameters stay live, tracked by version), else a private copy."""
    return a if is_torch_array(a) else private_copy(xp, a)


def check_device(xp: Any, device: Any, what: str) -> None:
    """``ValueError`` unless ``xp`` can allocate on ``device`` (a CUDA device without CUDA...)."""
    try:
        xp.empty(0, dtype=xp.float32, device=device)
    except Exception as exc:  # each library fails its own way (AssertionError, RuntimeError...)
        msg = f"{what}: device {device!r} is not available in {namespace_name(xp)}: {exc}"
        raise ValueError(msg) from None

"""Operands of the operator algebra (private): input checks, scalars, conversions.

What :mod:`structmat.linop` needs around the ``LinearOperator`` class itself:
the check and promotion of an array operand (:func:`check_input`), Python
scalars, shape pairs, the converter behind ``op.to(...)``, read-only
attributes, and :func:`apply_columns` for kernels written for matrices.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from structmat import _array_api as aa


class _Converter:
    """What ``op.to(xp=, device=, dtype=)`` does to each array of an operator.

    ``converter(x)`` moves ``x`` to the target namespace and device and, for
    floating arrays, casts to the target precision (real arrays stay real
    when the target is complex only if ``keep_real`` is asked for).
    """

    def __init__(self, xp: Any, device: Any, dtype: Any) -> None:
        self.xp, self.device, self.dtype = xp, device, dtype

    def __call__(self, x: Any, *, keep_real: bool = False) -> Any:
        x = aa.to_namespace(x, self.xp, self.device)
        if self.dtype is None or not self.xp.isdtype(
            x.dtype, ("real floating", "complex floating")
        ):
            return x
        return self.xp.astype(x, self.cast_dtype(x.dtype, keep_real=keep_real), copy=False)

    def formula_dtype(self, op: Any) -> Any:
        """``dtype=`` to rebuild formula operator ``op``: ``None`` (its weak dtype kept)
        unless a dtype is asked for."""
        if op._weak and self.dtype is None:
            return None
        return self.cast_dtype(op.dtype)

    def cast_dtype(self, dtype: Any, *, keep_real: bool = False) -> Any:
        """The dtype a floating array or operator of ``dtype`` becomes."""
        xp = self.xp
        # ``dtype`` may belong to the source namespace: name it in the target one.
        dtype = getattr(xp, aa.dtype_name(dtype), dtype)
        if self.dtype is None:
            return dtype
        if aa.is_complex(xp, dtype) and not aa.is_complex(xp, self.dtype):
            msg = (
                f"cannot convert a complex operator to real dtype "
                f"{aa.dtype_name(self.dtype)}; use the complex dtype of that precision"
            )
            raise TypeError(msg)
        if keep_real and not aa.is_complex(xp, dtype):
            return aa.real_dtype(xp, self.dtype)
        return self.dtype


def _is_scalar(c: Any) -> bool:
    return isinstance(c, numbers.Number) and not isinstance(c, bool)


def _python_scalar(c: Any) -> float | complex:
    """``c`` as a Python ``float`` (real numbers) or ``complex`` (complex numbers).

    NumPy scalars (``np.float32(2)``, ``np.complex64(1j)``) become Python numbers,
    so they combine with arrays of any backend as weak scalars. The kind follows
    the type, not the value: ``1 + 0j`` stays complex. A number beyond the
    float range (``10**400``) raises ``ValueError``.
    """
    try:
        return float(c) if isinstance(c, numbers.Real) else complex(c)
    except OverflowError:
        text = repr(c)
        text = text if len(text) <= 30 else f"{text[:12]}...({len(text)} digits)"
        msg = f"an operator can be scaled by a number within the float range, got {text}"
        raise ValueError(msg) from None


def _check_shape(shape: Any) -> tuple[int, int]:
    ok = isinstance(shape, tuple | list) and len(shape) == 2
    ok = ok and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape)
    if not ok or shape[0] < 0 or shape[1] < 0:
        msg = f"shape must be a pair of non-negative ints (m, n), got {shape!r}"
        raise ValueError(msg)
    return (int(shape[0]), int(shape[1]))


class _ReadOnly:
    """A class attribute that reads ``obj._<name>`` and refuses assignment."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name, self.slot = name, "_" + name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.__dict__[self.slot]

    def __set__(self, obj: Any, value: Any) -> None:
        msg = (
            f"{type(obj).__name__}.{self.name} is read-only: operators are immutable, "
            "build a new one (or use .to(...))"
        )
        raise AttributeError(msg)


def apply_columns(xp: Any, X: Any, kernel: Callable[[Any], Any]) -> Any:
    """``kernel`` (an ``(n, k) -> (m, k)`` function) on ``X`` of shape ``(..., n, k)``.

    For kernels written for matrices: leading batch dimensions are folded
    into the columns (one ``(n, b*k)`` call) and unfolded from the result.
    """
    if X.ndim == 2:
        return kernel(X)
    lead, (n, k) = tuple(X.shape[:-2]), X.shape[-2:]
    b = 1
    for d in lead:
        b *= d
    flat = xp.reshape(xp.permute_dims(xp.reshape(X, (b, n, k)), (1, 0, 2)), (n, b * k))
    Y = kernel(flat)
    m = Y.shape[0]
    return xp.reshape(xp.permute_dims(xp.reshape(Y, (m, b, k)), (1, 0, 2)), (*lead, m, k))


def check_input(op: Any, x: Any, n: int, what: str, *, left: bool = False) -> Any:
    """Check ``x`` against operator ``op``; return it in the promoted dtype.

    ``left`` is for ``x @ op``, where the last axis of ``x`` meets the
    operator; ``n`` is the length that axis must have, ``what`` names the
    operation in error messages. Promotion: integer and boolean inputs take the
    operator's dtype; floating inputs follow the array-API promotion of
    the two dtypes (float32 with float32 stays float32; real with complex
    is complex).
    """
    if op._numpy and type(x) is np.ndarray:
        xp = op._xp
    else:
        try:
            xp = aa.namespace_of(x)
        except TypeError:
            msg = f"{what}: expected an array of an array-API library, got {type(x).__name__}"
            raise TypeError(msg) from None
        device = getattr(x, "device", None)  # the array API attribute; compat is slower
        if device is None:
            device = aa.device_of(x)
        aa.check_same_backend(op._xp, op._device, xp, device, what)
    ndim = x.ndim
    if left:
        if ndim == 0 or x.shape[-1] != n:
            msg = (
                f"x @ {type(op).__name__} of shape {op.shape} expects input with "
                f"{n} columns (shape ({n},), (k, {n}) or (..., k, {n})), got shape {tuple(x.shape)}"
            )
            raise ValueError(msg)
    elif ndim == 0 or x.shape[-1 if ndim == 1 else -2] != n:
        msg = (
            f"{type(op).__name__} of shape {op.shape} expects input with "
            f"{n} rows (shape ({n},), ({n}, k) or (..., {n}, k)), got shape {tuple(x.shape)}"
        )
        raise ValueError(msg)
    dtype, own = x.dtype, op._dtype
    if dtype is own or dtype == own:
        return x
    if op._weak and xp.isdtype(dtype, ("real floating", "complex floating")):
        # A weak dtype takes the input's precision (as numpy.fft and scipy.fft do).
        return xp.astype(x, weak_result(xp, own, dtype), copy=False)
    if op._numpy and dtype.kind in "fc":  # NumPy's dtype kinds: cheaper than isdtype per call
        return x.astype(np.promote_types(own, dtype), copy=False)
    if xp.isdtype(dtype, ("integral", "bool")):
        return xp.astype(x, own)
    if not xp.isdtype(dtype, ("real floating", "complex floating")):
        msg = (
            f"{what}: unsupported input dtype {aa.dtype_name(dtype)}, "
            "expected a real or complex floating (or integer) array"
        )
        raise TypeError(msg)
    return xp.astype(x, xp.result_type(own, dtype), copy=False)


# ---------------------------------------------------------------------- composites' operands
def dense_as(op: Any, dtype: Any) -> Any:
    """``op``'s dense matrix in ``dtype``, computed in ``dtype``'s precision.

    A part of lower precision than its composite is applied to the identity
    in the composite's precision, as it is applied to the composite's input:
    casting its own (rounded) ``to_dense()`` up would disagree with ``op @ x``.
    """
    xp = op.xp
    if aa.eps(xp, op.dtype) > aa.eps(xp, dtype):
        return op._apply(xp.eye(op.shape[1], dtype=dtype, device=op.device))
    return xp.astype(op.to_dense(), dtype, copy=False)


def weak_result(xp: Any, weak: Any, dtype: Any) -> Any:
    """Dtype of a weak ``weak`` combined with ``dtype``: the precision of ``dtype``,
    complex if either is."""
    return aa.complex_dtype(xp, dtype) if aa.is_complex(xp, weak) else dtype


def _promote(ops: Sequence[Any]) -> Any:
    """The dtype of a composite of ``ops``: array-API promotion of the strong
    dtypes, weak ones adding only complexness (as Python scalars do); all weak:
    their promotion (itself weak, see :func:`_weak`)."""
    xp = ops[0].xp
    strong = [op.dtype for op in ops if not op._weak]
    if len(strong) == len(ops):
        return xp.result_type(*strong)
    weak = xp.result_type(*(op.dtype for op in ops if op._weak))
    if not strong:
        return weak
    return weak_result(xp, weak, xp.result_type(*strong))


def _weak(ops: Sequence[Any]) -> bool:
    """A composite's dtype is weak when every part's is."""
    return all(op._weak for op in ops)


def complex_from_parts(xp: Any, re: Any, im: Any) -> Any:
    """``re + 1j * im`` for real arrays, in the complex dtype of their precision."""
    c = aa.complex_dtype(xp, re.dtype)
    return xp.astype(re, c) + xp.astype(im, c) * xp.asarray(1j, dtype=c, device=aa.device_of(re))


def by_parts(xp: Any, X: Any, real_fn: Any) -> Any:
    """Apply a real linear map ``real_fn`` to ``X`` (complex: to both parts, in one call)."""
    if not aa.is_complex(xp, X.dtype):
        return real_fn(X)
    k = X.shape[-1]
    Y = real_fn(xp.concat((xp.real(X), xp.imag(X)), axis=-1))
    return complex_from_parts(xp, Y[..., :k], Y[..., k:])

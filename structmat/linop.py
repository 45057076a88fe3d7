r"""The ``LinearOperator`` base class and its algebra.

A subclass gives ``shape``, ``dtype`` and a namespace to ``__init__`` and
implements ``_matmat(X)`` for ``X`` of shape ``(n, k)``; for the adjoint it
implements ``_rmatmat(X)`` (returns :math:`A^H X`) or ``_adjoint()`` (returns
an operator). Everything else derives: vectors, batches, ``x @ op``,
``to_dense``, ``.H``, ``.T``, ``.conj()``, sums, products, scalars and powers.

Composites keep their parts (``Product.factors``, ``Sum.terms``,
``Scaled.operator``, ``Adjoint.operator``, ``Transpose.operator``,
``Power.operator``) and give structural adjoints:
``(A @ B).H`` is ``B.H @ A.H`` and ``A.H.H is A``.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._args import integer

__all__ = [
    "Adjoint",
    "LinearOperator",
    "Power",
    "Product",
    "Scaled",
    "Sum",
    "Transpose",
]


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
    the type, not the value: ``1 + 0j`` stays complex.
    """
    if isinstance(c, numbers.Real):
        return float(c)
    return complex(c)


def _check_shape(shape: Any) -> tuple[int, int]:
    ok = isinstance(shape, tuple | list) and len(shape) == 2
    ok = ok and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape)
    if not ok or shape[0] < 0 or shape[1] < 0:
        msg = f"shape must be a pair of non-negative ints (m, n), got {shape!r}"
        raise ValueError(msg)
    return (int(shape[0]), int(shape[1]))


class LinearOperator:
    """A matrix known by how it multiplies.

    Parameters
    ----------
    shape : (int, int)
        ``(m, n)``.
    dtype : dtype of ``xp``
        float32, float64, complex64 or complex128.
    xp : array namespace
        From ``array_api_compat.array_namespace``.
    device : optional
        Device of the operator's arrays (``None`` for the namespace default).

    Notes
    -----
    ``op @ x`` accepts ``x`` of shape ``(n,)``, ``(n, k)`` or ``(..., n, k)``
    (leading batch dimensions kept, as in ``matmul``) and returns an array of
    the promoted dtype of operator and input (array-API promotion: float32
    with float32 stays float32, real with complex is complex), in ``op.xp``
    on ``op.device``. Integer and boolean inputs are taken as the operator's
    dtype. An array of another namespace raises ``TypeError``, of another
    device ``ValueError``: nothing is copied silently.

    Subclassing: call ``super().__init__(shape=, dtype=, xp=, device=)`` and
    implement ``_matmat(X)`` for ``X`` of shape ``(n, k)``, already checked and
    in the promoted dtype, and ``_rmatmat(X)`` or ``_adjoint()``. Optional:
    ``_transpose()``, ``_batched(X)`` for ``(b, n, k)`` stacks, ``_map(convert)``
    (enables :meth:`to`), ``_parameter_count()``, ``_flops(k)``,
    ``_repr_args()``, ``to_dense()``. On backends other than NumPy an
    operator with ``_map`` is converted once (cached) to a wider input dtype
    before ``_matmat``, so its arrays and ``X`` share one dtype (torch's
    ``matmul`` refuses mixed dtypes); a class whose multiply mixes dtypes
    safely, or that only forwards to other operators, sets
    ``_promote_on_apply = False``. A composite applies its parts to an
    already-checked ``X`` with ``part._call(X)`` (2-d or 3-d ``X``; skips the
    checks of ``part @ X``). Two NumPy-only speed hooks: ``_real_input_ok``
    (a complex operator whose kernel takes real input of its precision, so
    the real-to-complex copy is skipped) and ``_matvec_numpy(x)`` (a direct
    1-d kernel, for operators as cheap as a Python call; the DFT uses both).

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> A = sm.Dense(np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> B = 2 * A @ A.H + sm.Identity(2)
    >>> B
    Sum(Scaled(2, Product(Dense(2x2, float64), Dense(2x2, float64))), Identity(2, float64))
    >>> bool(np.allclose(B.to_dense(), 2 * A.to_dense() @ A.to_dense().T + np.eye(2)))
    True
    """

    # ndarray @ op must defer to op.__rmatmul__ (NumPy's ufunc machinery opts out).
    __array_ufunc__ = None
    __array_priority__ = 1000
    # Convert stored arrays to the input dtype before ``_matmat`` on non-NumPy
    # backends (see ``_at``); composites pass the input on to their parts.
    _promote_on_apply = True
    # A complex operator whose kernel takes real input of its precision directly
    # (an FFT does, with half the work) sets this: the real-to-complex copy is skipped.
    _real_input_ok = False
    # Optional ``A @ x`` for a 1-d NumPy ``x`` of the operator's dtype, for
    # operators whose cost is comparable to a Python call (an FFT of a short vector).
    _matvec_numpy: Callable[[Any], Any] | None = None

    def __init__(self, *, shape: tuple[int, int], dtype: Any, xp: Any, device: Any = None) -> None:
        self.shape = _check_shape(tuple(shape) if hasattr(shape, "__len__") else shape)
        xp = aa.default_namespace(xp)
        aa.check_floating_dtype(xp, dtype, type(self).__name__)
        # NumPy arrays skip the namespace and device checks: the fast path of ``@``.
        self._numpy = aa.is_numpy(xp)
        # One spelling per dtype: NumPy's ``float64`` class becomes ``dtype('float64')``,
        # as ``array.dtype`` gives it (the fast path compares dtypes by identity).
        self.dtype = np.dtype(dtype) if self._numpy else dtype
        self.xp = xp
        if device is None:
            device = aa.device_of(xp.empty(0, dtype=dtype))
        self.device = device

    # ------------------------------------------------------------------ subclass API
    def _matmat(self, X: Any) -> Any:
        """``A @ X`` for ``X`` of shape ``(n, k)`` and the promoted dtype."""
        msg = f"{type(self).__name__} must implement _matmat"
        raise NotImplementedError(msg)

    def _rmatmat(self, X: Any) -> Any:
        """``A^H @ X`` for ``X`` of shape ``(m, k)``."""
        if type(self)._adjoint is not LinearOperator._adjoint:
            return self.H._call(X)
        msg = f"{type(self).__name__} implements neither _rmatmat nor _adjoint"
        raise NotImplementedError(msg)

    def _adjoint(self) -> LinearOperator:
        return Adjoint(self)

    def _transpose(self) -> LinearOperator:
        return Transpose(self)

    def _batched(self, X: Any) -> Any:
        """``A @ X`` for a stack ``X`` of shape ``(b, n, k)``.

        The default moves the batch next to the columns, one ``_matmat`` on an
        ``(n, b*k)`` matrix, and back. Operators with a native batched path
        override it.
        """
        xp = self.xp
        b, n, k = X.shape
        Y = self._matmat(xp.reshape(xp.permute_dims(X, (1, 0, 2)), (n, b * k)))
        return xp.permute_dims(xp.reshape(Y, (self.shape[0], b, k)), (1, 0, 2))

    def _map(self, convert: _Converter) -> LinearOperator:
        """The same operator with every array passed through ``convert``."""
        msg = f"{type(self).__name__} does not support .to(); implement _map"
        raise NotImplementedError(msg)

    def _parameter_count(self) -> int:
        msg = f"{type(self).__name__} does not define parameter_count"
        raise NotImplementedError(msg)

    def _flops(self, k: int) -> int:
        """Multiply-adds of one ``(n, k)`` product; dense count by default."""
        return self.shape[0] * self.shape[1] * k

    def _repr_args(self) -> str:
        m, n = self.shape
        return f"{m}x{n}, {aa.dtype_name(self.dtype)}"

    def _class_word(self) -> tuple[str, ...] | None:
        """The structured class the operator is built in, as a word of letters.

        ``None`` (the default) for operators outside any such class; a family
        that has a class letter (``Monarch``: ``"M"``, its adjoint ``"M*"``)
        overrides it, and products and powers spell theirs from their factors:
        ``M1 @ M2.H`` is ``("M", "M*")``, the class MM* of Dao et al. (2022).
        """
        return None

    # ------------------------------------------------------------------ properties
    @property
    def ndim(self) -> int:
        return 2

    @property
    def parameter_count(self) -> int:
        """How many numbers the operator stores."""
        return self._parameter_count()

    def flops(self, k: int = 1) -> int:
        """Multiply-adds to apply the operator to an ``(n, k)`` matrix."""
        return self._flops(k)

    @property
    def H(self) -> LinearOperator:
        """The conjugate transpose (adjoint); ``op.H.H is op``."""
        adj = self.__dict__.get("_H")
        if adj is None:
            adj = self._adjoint()
            self.__dict__["_H"] = adj
            adj.__dict__.setdefault("_H", self)
        return adj

    @property
    def T(self) -> LinearOperator:
        """The transpose; ``op.T.T is op``."""
        tr = self.__dict__.get("_T")
        if tr is None:
            tr = self.H if not aa.is_complex(self.xp, self.dtype) else self._transpose()
            self.__dict__["_T"] = tr
            tr.__dict__.setdefault("_T", self)
        return tr

    def adjoint(self) -> LinearOperator:
        return self.H

    def transpose(self) -> LinearOperator:
        return self.T

    def conj(self) -> LinearOperator:
        """The entrywise complex conjugate (the operator itself when real)."""
        if not aa.is_complex(self.xp, self.dtype):
            return self
        return self.H.T

    # ------------------------------------------------------------------ applying
    def _prepare(self, x: Any, n: int, what: str | None = None, *, left: bool = False) -> Any:
        """Check ``x`` against the operator; return it in the promoted dtype.

        ``left`` is for ``x @ op``, where the last axis of ``x`` meets the
        operator. ``what`` names the operation in error messages (default
        ``"<Class> @ x"``). Promotion: integer and boolean inputs take the
        operator's dtype; floating inputs follow the array-API promotion of
        the two dtypes (float32 with float32 stays float32; real with complex
        is complex).
        """
        if self._numpy and type(x) is np.ndarray:
            xp = self.xp
        else:
            try:
                xp = aa.namespace_of(x)
            except TypeError:
                msg = (
                    f"{what or self._what(left)}: expected an array of an array-API library, "
                    f"got {type(x).__name__}"
                )
                raise TypeError(msg) from None
            device = getattr(x, "device", None)  # the array API attribute; compat is slower
            if device is None:
                device = aa.device_of(x)
            aa.check_same_backend(self.xp, self.device, xp, device, what or self._what(left))
        ndim = x.ndim
        if left:
            if ndim == 0 or x.shape[-1] != n:
                msg = (
                    f"x @ {type(self).__name__} of shape {self.shape} expects input with "
                    f"{n} columns (shape ({n},), (k, {n}) or (..., k, {n})), got shape {tuple(x.shape)}"
                )
                raise ValueError(msg)
        elif ndim == 0 or x.shape[-1 if ndim == 1 else -2] != n:
            msg = (
                f"{type(self).__name__} of shape {self.shape} expects input with "
                f"{n} rows (shape ({n},), ({n}, k) or (..., {n}, k)), got shape {tuple(x.shape)}"
            )
            raise ValueError(msg)
        dtype = x.dtype
        if dtype is self.dtype or dtype == self.dtype:
            return x
        if self._numpy and dtype.kind in "fc":  # NumPy's dtype kinds: isdtype costs ~2 us
            promoted = np.promote_types(self.dtype, dtype)
            if (
                self._real_input_ok
                and dtype.kind == "f"
                and promoted.itemsize == 2 * dtype.itemsize
            ):
                return x
            return x.astype(promoted, copy=False)
        if xp.isdtype(dtype, ("integral", "bool")):
            return xp.astype(x, self.dtype)
        if not xp.isdtype(dtype, ("real floating", "complex floating")):
            msg = (
                f"{what or self._what(left)}: unsupported input dtype {aa.dtype_name(dtype)}, "
                "expected a real or complex floating (or integer) array"
            )
            raise TypeError(msg)
        promoted = xp.result_type(self.dtype, dtype)
        if self._real_input_ok and promoted == aa.complex_dtype(xp, dtype) != dtype:
            return x
        return xp.astype(x, promoted, copy=False)

    def _what(self, left: bool = False) -> str:
        name = type(self).__name__
        return f"x @ {name}" if left else f"{name} @ x"

    def _at(self, dtype: Any) -> LinearOperator:
        """The operator to apply to input of (promoted) ``dtype``.

        NumPy multiplies mixed dtypes natively, so on NumPy this is ``self``.
        Other backends (torch above all) refuse e.g. ``float32 @ complex64`` in
        ``matmul``: there an operator that stores arrays is converted once to
        the input's dtype with :meth:`to` (cached per dtype), so every
        ``_matmat`` sees arrays and input of one dtype. Composites and
        operators whose multiply mixes dtypes safely set
        ``_promote_on_apply = False``. An operator without ``_map`` that is
        real, on complex input of its precision, is applied to the real and
        imaginary parts separately; otherwise it gets the input as it is.
        """
        if self._numpy or not self._promote_on_apply or dtype == self.dtype:
            return self
        cache = self.__dict__.setdefault("_by_dtype", {})
        key = aa.dtype_name(dtype)
        op = cache.get(key)
        if op is None:
            try:
                op = self._map(_Converter(self.xp, self.device, dtype))
            except NotImplementedError:
                xp = self.xp
                split = (
                    not aa.is_complex(xp, self.dtype) and aa.complex_dtype(xp, self.dtype) == dtype
                )
                op = _RealOnComplex(self) if split else self
            cache[key] = op
        return op

    def _call(self, X: Any) -> Any:
        """Apply to ``X`` of shape ``(n, k)`` or ``(b, n, k)`` that is already checked.

        ``X`` must be in ``op.xp`` on ``op.device`` with a dtype at least as
        wide as ``op.dtype`` (as composites pass it on to their parts).
        """
        op = self if self._numpy else self._at(X.dtype)
        if X.ndim == 2:
            return op._matmat(X)
        return op._batched(X)

    def _apply(
        self, x: Any, fn: Callable[[Any], Any], batched: Callable[[Any], Any], m: int
    ) -> Any:
        """Route vectors, matrices and stacks to the 2-d or batched kernel."""
        ndim = x.ndim
        if ndim == 2:
            return fn(x)
        if ndim == 1:
            mv = self._matvec_numpy if self._numpy and fn == self._matmat else None
            return mv(x) if mv is not None else fn(x[:, None])[:, 0]
        if ndim == 3:
            return batched(x)
        xp = self.xp
        lead = tuple(x.shape[:-2])
        b = 1
        for d in lead:
            b *= d
        Y = batched(xp.reshape(x, (b, *x.shape[-2:])))
        return xp.reshape(Y, (*lead, *Y.shape[-2:]))

    def __matmul__(self, x: Any) -> Any:
        if type(x) is np.ndarray and self._numpy and x.dtype is self.dtype:
            # Fast path: a NumPy operator on a NumPy array of its own dtype.
            ndim, n = x.ndim, self.shape[1]
            if ndim == 2 and x.shape[0] == n:
                return self._matmat(x)
            if ndim == 1 and x.shape[0] == n:
                mv = self._matvec_numpy
                return mv(x) if mv is not None else self._matmat(x[:, None])[:, 0]
        elif isinstance(x, LinearOperator):
            return product(self, x)
        elif _is_scalar(x):
            return NotImplemented
        x = self._prepare(x, self.shape[1])
        op = self if self._numpy else self._at(x.dtype)
        return op._apply(x, op._matmat, op._batched, self.shape[0])

    def __rmatmul__(self, x: Any) -> Any:
        if isinstance(x, LinearOperator):
            return product(x, self)
        if _is_scalar(x):
            return NotImplemented
        # x @ A == (A^T @ x^T)^T, batch dimensions kept.
        x = self._prepare(x, self.shape[0], left=True)
        xp = self.xp
        if x.ndim == 1:
            return self.T @ x
        return xp.matrix_transpose(self.T @ xp.matrix_transpose(x))

    def matvec(self, x: Any) -> Any:
        """``A @ x`` for ``x`` of shape ``(n,)`` or ``(n, 1)`` (SciPy's meaning)."""
        if (x.ndim == 2 and x.shape[1] != 1) or x.ndim > 2:
            msg = f"matvec expects shape ({self.shape[1]},) or ({self.shape[1]}, 1), got {tuple(x.shape)}"
            raise ValueError(msg)
        return self @ x

    def matmat(self, X: Any) -> Any:
        """``A @ X`` for ``X`` of shape ``(n, k)``."""
        if X.ndim != 2:
            msg = f"matmat expects a 2-d array of shape ({self.shape[1]}, k), got {tuple(X.shape)}"
            raise ValueError(msg)
        return self @ X

    def rmatvec(self, x: Any) -> Any:
        """``A^H @ x`` for ``x`` of shape ``(m,)`` or ``(m, 1)``."""
        return self.H.matvec(x)

    def rmatmat(self, X: Any) -> Any:
        """``A^H @ X`` for ``X`` of shape ``(m, k)``."""
        return self.H.matmat(X)

    def to_dense(self) -> Any:
        """The dense matrix, in ``op.xp`` on ``op.device``."""
        xp = self.xp
        return self._matmat(xp.eye(self.shape[1], dtype=self.dtype, device=self.device))

    def to(self, *, xp: Any = None, device: Any = None, dtype: Any = None) -> LinearOperator:
        """The same operator in another namespace, on another device or dtype.

        Parameters
        ----------
        xp : array namespace or module, optional
            Target namespace (``numpy``, ``torch``, ``array_api_strict``, a
            compat namespace...); default: the operator's.
        device : optional
            Target device; default: the operator's device when the namespace
            is unchanged, else the target namespace's default device.
        dtype : optional
            The new dtype (named in any namespace, or a string such as
            ``"complex64"``). A real operator may become complex; a complex
            operator cannot become real (``TypeError``).

        Notes
        -----
        Arrays move through DLPack where possible (no copy on the same
        device), else through the host. Operators that do not implement
        ``_map`` raise ``NotImplementedError``.

        Examples
        --------
        >>> import numpy as np, structmat as sm
        >>> sm.Diagonal(np.ones(3)).to(dtype=np.float32).dtype
        dtype('float32')
        """
        target = self.xp if xp is None else aa.default_namespace(xp)
        if device is None and target is self.xp:
            device = self.device
        if dtype is not None:
            dtype = getattr(target, aa.dtype_name(dtype), dtype)
            aa.check_floating_dtype(target, dtype, "to(dtype=...)")
        return self._map(_Converter(target, device, dtype))

    def to_scipy(self) -> Any:
        """A ``scipy.sparse.linalg.LinearOperator`` (or cupyx's) wired to this one."""
        from structmat.interop import to_scipy

        return to_scipy(self)

    # ------------------------------------------------------------------ algebra
    def __add__(self, other: Any) -> LinearOperator:
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return sum_of(self, other)

    def __sub__(self, other: Any) -> LinearOperator:
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return sum_of(self, scaled(-1, other))

    def __neg__(self) -> LinearOperator:
        return scaled(-1, self)

    def __pos__(self) -> LinearOperator:
        return self

    def __mul__(self, c: Any) -> LinearOperator:
        if not _is_scalar(c):
            return NotImplemented
        return scaled(c, self)

    __rmul__ = __mul__

    def __truediv__(self, c: Any) -> LinearOperator:
        if not _is_scalar(c):
            return NotImplemented
        if c == 0:
            msg = "cannot divide an operator by zero"
            raise ZeroDivisionError(msg)
        return scaled(1 / c, self)

    def __pow__(self, k: Any) -> LinearOperator:
        return power(self, k)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._repr_args()})"

    # ``len`` and iteration would be ambiguous for an operator.
    __hash__ = object.__hash__

    # Pickling (multiprocessing, joblib): a namespace is a module, which does not
    # pickle, so it travels by name; derived caches (adjoint, dtype copies) are dropped.
    _UNPICKLED = ("_H", "_T", "_by_dtype")

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in self._UNPICKLED}
        state["xp"] = aa.namespace_name(self.xp)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["xp"] = aa.namespace_from_name(state["xp"])
        self.__dict__.update(state)


# ---------------------------------------------------------------------- composites
def class_name(word: tuple[str, ...]) -> str:
    """Spell a class word: letters joined, a repeated period written as a power.

    ``("M", "M*")`` is ``"MM*"``, ``("M", "M*") * 3`` is ``"(MM*)^3"``, ``("M",) * 2`` is ``"M^2"``.
    """
    n = len(word)
    for period in range(1, n // 2 + 1):
        if n % period == 0 and word == word[:period] * (n // period):
            base = "".join(word[:period])
            return f"{base if period == 1 else f'({base})'}^{n // period}"
    return "".join(word)


def _class_note(op: LinearOperator) -> str:
    """``"; class MM*"`` for a repr when ``op`` has a class word, else ``""``."""
    word = op._class_word()
    return f"; class {class_name(word)}" if word else ""


def _check_compatible(ops: Sequence[LinearOperator], what: str) -> None:
    first = ops[0]
    for op in ops[1:]:
        if not isinstance(op, LinearOperator):
            msg = f"{what} expects LinearOperator arguments, got {type(op).__name__}"
            raise TypeError(msg)
        aa.check_same_backend(first.xp, first.device, op.xp, op.device, what)


def _promote(ops: Sequence[LinearOperator]) -> Any:
    xp = ops[0].xp
    return xp.result_type(*(op.dtype for op in ops))


class Sum(LinearOperator):
    r"""``A_1 + A_2 + ...``; ``terms`` holds the summands (nested sums flatten).

    Notes
    -----
    :math:`(\sum_i A_i)^H = \sum_i A_i^H` and likewise for the transpose. The
    dtype is the promotion of the terms' dtypes.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> S = sm.Sum(sm.Identity(2), sm.Dense(np.ones((2, 2))))
    >>> (S @ np.array([1.0, 2.0])).tolist()
    [4.0, 5.0]
    """

    _promote_on_apply = False

    def __init__(self, *terms: LinearOperator) -> None:
        if not terms:
            msg = "Sum needs at least one term"
            raise ValueError(msg)
        _check_compatible(terms, "Sum")
        shapes = {t.shape for t in terms}
        if len(shapes) != 1:
            msg = f"Sum terms must share one shape, got {[t.shape for t in terms]}"
            raise ValueError(msg)
        flat: list[LinearOperator] = []
        for t in terms:
            flat.extend(t.terms if isinstance(t, Sum) else (t,))
        self.terms: tuple[LinearOperator, ...] = tuple(flat)
        t0 = self.terms[0]
        super().__init__(shape=t0.shape, dtype=_promote(self.terms), xp=t0.xp, device=t0.device)

    def _matmat(self, X: Any) -> Any:
        Y = self.terms[0]._call(X)
        for t in self.terms[1:]:
            Y = Y + t._call(X)
        return Y

    def _batched(self, X: Any) -> Any:
        return self._matmat(X)

    def _adjoint(self) -> LinearOperator:
        return Sum(*(t.H for t in self.terms))

    def _transpose(self) -> LinearOperator:
        return Sum(*(t.T for t in self.terms))

    def _map(self, convert: _Converter) -> LinearOperator:
        return Sum(*(t._map(convert) for t in self.terms))

    def _parameter_count(self) -> int:
        return sum(t.parameter_count for t in self.terms)

    def _flops(self, k: int) -> int:
        return sum(t.flops(k) for t in self.terms) + (len(self.terms) - 1) * self.shape[0] * k

    def to_dense(self) -> Any:
        xp = self.xp
        D = xp.astype(self.terms[0].to_dense(), self.dtype, copy=False)
        for t in self.terms[1:]:
            D = D + xp.astype(t.to_dense(), self.dtype, copy=False)
        return D

    def __repr__(self) -> str:
        return f"Sum({', '.join(map(repr, self.terms))})"


class Product(LinearOperator):
    r"""``A_1 @ A_2 @ ...``; ``factors`` lists them leftmost first (flattened).

    Notes
    -----
    Applied right to left, each factor structurally:
    :math:`(A_1 \cdots A_p)^H = A_p^H \cdots A_1^H` (a ``Product`` of the
    factors' adjoints), likewise for the transpose.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> P = sm.Product(sm.Diagonal(np.array([1.0, 2.0])), sm.Dense(np.ones((2, 3))))
    >>> P.shape, (P @ np.ones(3)).tolist()
    ((2, 3), [3.0, 6.0])
    >>> P.H.factors[0] is P.factors[1].H
    True
    """

    _promote_on_apply = False

    def __init__(self, *factors: LinearOperator) -> None:
        if not factors:
            msg = "Product needs at least one factor"
            raise ValueError(msg)
        _check_compatible(factors, "Product")
        for left, right in itertools.pairwise(factors):
            if left.shape[1] != right.shape[0]:
                msg = (
                    f"Product: inner dimensions differ, {type(left).__name__} of shape "
                    f"{left.shape} @ {type(right).__name__} of shape {right.shape}"
                )
                raise ValueError(msg)
        flat: list[LinearOperator] = []
        for f in factors:
            flat.extend(f.factors if isinstance(f, Product) else (f,))
        self.factors: tuple[LinearOperator, ...] = tuple(flat)
        shape = (self.factors[0].shape[0], self.factors[-1].shape[1])
        f0 = self.factors[0]
        super().__init__(shape=shape, dtype=_promote(self.factors), xp=f0.xp, device=f0.device)

    def _matmat(self, X: Any) -> Any:
        for f in reversed(self.factors):
            X = f._call(X)
        return X

    def _batched(self, X: Any) -> Any:
        return self._matmat(X)

    def _adjoint(self) -> LinearOperator:
        return Product(*(f.H for f in reversed(self.factors)))

    def _transpose(self) -> LinearOperator:
        return Product(*(f.T for f in reversed(self.factors)))

    def _map(self, convert: _Converter) -> LinearOperator:
        return Product(*(f._map(convert) for f in self.factors))

    def _parameter_count(self) -> int:
        return sum(f.parameter_count for f in self.factors)

    def _flops(self, k: int) -> int:
        # Each factor sees k columns.
        return sum(f.flops(k) for f in self.factors)

    def to_dense(self) -> Any:
        # Multiply from the right starting with the last factor's dense matrix:
        # every other factor is applied structurally once.
        xp = self.xp
        D = xp.astype(self.factors[-1].to_dense(), self.dtype, copy=False)
        for f in reversed(self.factors[:-1]):
            D = f._call(D)
        return D

    def _class_word(self) -> tuple[str, ...] | None:
        letters: list[str] = []
        for f in self.factors:
            word = f._class_word()
            if word is None:
                return None
            letters.extend(word)
        return tuple(letters)

    def __repr__(self) -> str:
        return f"Product({', '.join(map(repr, self.factors))}{_class_note(self)})"


class Scaled(LinearOperator):
    r"""``c * A`` for a Python scalar ``c``; ``scalar`` and ``operator``.

    Notes
    -----
    :math:`(cA)^H = \bar c A^H`, :math:`(cA)^T = c A^T`. A real ``c`` keeps
    the operator's dtype (float32 stays float32); a complex ``c`` (by type:
    ``1 + 0j`` too, as in NumPy) makes it complex of the same precision.
    NumPy scalars are taken as Python numbers.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> S = sm.Scaled(2j, sm.Identity(2))
    >>> S.H.scalar, S.dtype
    (-2j, dtype('complex128'))
    """

    _promote_on_apply = False

    def __init__(self, c: complex, operator: LinearOperator) -> None:
        if not _is_scalar(c):
            msg = f"Scaled expects a Python number, got {type(c).__name__}"
            raise TypeError(msg)
        if not isinstance(operator, LinearOperator):
            msg = f"Scaled expects a LinearOperator, got {type(operator).__name__}"
            raise TypeError(msg)
        self.scalar = _python_scalar(c)
        self.operator = operator
        dtype = aa.scalar_dtype(operator.xp, operator.dtype, self.scalar)
        super().__init__(shape=operator.shape, dtype=dtype, xp=operator.xp, device=operator.device)

    def _matmat(self, X: Any) -> Any:
        return self.scalar * self.operator._call(X)

    def _batched(self, X: Any) -> Any:
        return self._matmat(X)

    def _adjoint(self) -> LinearOperator:
        return scaled(self.scalar.conjugate(), self.operator.H)

    def _transpose(self) -> LinearOperator:
        return scaled(self.scalar, self.operator.T)

    def _map(self, convert: _Converter) -> LinearOperator:
        return Scaled(self.scalar, self.operator._map(convert))

    def _parameter_count(self) -> int:
        return self.operator.parameter_count + 1

    def _flops(self, k: int) -> int:
        return self.operator.flops(k) + self.shape[0] * k

    def to_dense(self) -> Any:
        D = self.xp.astype(self.operator.to_dense(), self.dtype, copy=False)
        return self.scalar * D

    def _class_word(self) -> tuple[str, ...] | None:
        return self.operator._class_word()  # the classes are closed under scaling

    def __repr__(self) -> str:
        c = self.scalar
        s = f"{c:g}" if isinstance(c, float) else f"{c}"
        return f"Scaled({s}, {self.operator!r})"


class Adjoint(LinearOperator):
    r"""``A^H`` of an operator that only knows ``_rmatmat``; ``operator`` is ``A``.

    Notes
    -----
    ``Adjoint(A) @ X`` calls ``A._rmatmat(X)``; ``Adjoint(A).H is A``.
    ``A.H`` builds it only when ``A`` gives no ``_adjoint`` of its own.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> A = sm.Dense(np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> (sm.Adjoint(A) @ np.array([1.0, 0.0])).tolist()
    [1.0, 2.0]
    """

    _promote_on_apply = False

    def __init__(self, operator: LinearOperator) -> None:
        if not isinstance(operator, LinearOperator):
            msg = f"Adjoint expects a LinearOperator, got {type(operator).__name__}"
            raise TypeError(msg)
        self.operator = operator
        m, n = operator.shape
        super().__init__(shape=(n, m), dtype=operator.dtype, xp=operator.xp, device=operator.device)
        self.__dict__["_H"] = operator

    def _matmat(self, X: Any) -> Any:
        return self.operator._at(X.dtype)._rmatmat(X)

    def _rmatmat(self, X: Any) -> Any:
        return self.operator._call(X)

    def _adjoint(self) -> LinearOperator:
        return self.operator

    def _transpose(self) -> LinearOperator:
        # (A^H)^T = conj(A)
        return _Conjugate(self.operator)

    def _map(self, convert: _Converter) -> LinearOperator:
        return Adjoint(self.operator._map(convert))

    def _parameter_count(self) -> int:
        return self.operator.parameter_count

    def _flops(self, k: int) -> int:
        return self.operator.flops(k)

    def __repr__(self) -> str:
        return f"Adjoint({self.operator!r})"


class Transpose(LinearOperator):
    r"""``A^T`` computed as ``conj(A^H conj(X))``; ``operator`` is ``A``.

    Notes
    -----
    :math:`A^T X = \overline{A^H \overline{X}}`; ``Transpose(A).T is A``
    and ``Transpose(A).H`` is the entrywise conjugate of ``A``. ``A.T``
    builds it only for a complex ``A`` without a ``_transpose`` of its own
    (for a real operator ``.T`` is ``.H``).

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> A = sm.Dense(np.array([[1.0, 2j], [3.0, 4.0]]))
    >>> bool(np.allclose(sm.Transpose(A).to_dense(), A.to_dense().T))
    True
    """

    _promote_on_apply = False

    def __init__(self, operator: LinearOperator) -> None:
        if not isinstance(operator, LinearOperator):
            msg = f"Transpose expects a LinearOperator, got {type(operator).__name__}"
            raise TypeError(msg)
        self.operator = operator
        m, n = operator.shape
        super().__init__(shape=(n, m), dtype=operator.dtype, xp=operator.xp, device=operator.device)
        self.__dict__["_T"] = operator

    def _matmat(self, X: Any) -> Any:
        xp = self.xp
        if aa.is_complex(xp, X.dtype):
            return xp.conj(self.operator.H._call(xp.conj(X)))
        return xp.conj(self.operator.H._call(X))

    def _adjoint(self) -> LinearOperator:
        # (A^T)^H = conj(A): apply A to conj(X) and conjugate.
        return _Conjugate(self.operator)

    def _transpose(self) -> LinearOperator:
        return self.operator

    def _map(self, convert: _Converter) -> LinearOperator:
        return Transpose(self.operator._map(convert))

    def _parameter_count(self) -> int:
        return self.operator.parameter_count

    def _flops(self, k: int) -> int:
        return self.operator.flops(k)

    def __repr__(self) -> str:
        return f"Transpose({self.operator!r})"


class _RealOnComplex(LinearOperator):
    """A real operator on complex input, as ``A Re(X) + i A Im(X)`` (see ``_at``)."""

    _promote_on_apply = False

    def __init__(self, operator: LinearOperator) -> None:
        self.operator = operator
        xp = operator.xp
        super().__init__(
            shape=operator.shape,
            dtype=aa.complex_dtype(xp, operator.dtype),
            xp=xp,
            device=operator.device,
        )

    def _combine(self, fn: Callable[[Any], Any], X: Any) -> Any:
        xp = self.xp
        re = xp.astype(fn(xp.real(X)), self.dtype)
        im = xp.astype(fn(xp.imag(X)), self.dtype)
        return re + im * 1j

    def _matmat(self, X: Any) -> Any:
        return self._combine(self.operator._matmat, X)

    def _batched(self, X: Any) -> Any:
        return self._combine(self.operator._batched, X)

    def _rmatmat(self, X: Any) -> Any:
        return self._combine(self.operator._rmatmat, X)


class _Conjugate(LinearOperator):
    """``conj(A)`` for a complex operator, as ``conj(A conj(X))``."""

    _promote_on_apply = False

    def __init__(self, operator: LinearOperator) -> None:
        self.operator = operator
        super().__init__(
            shape=operator.shape, dtype=operator.dtype, xp=operator.xp, device=operator.device
        )

    def _matmat(self, X: Any) -> Any:
        xp = self.xp
        return xp.conj(self.operator._call(xp.conj(X)))

    def _adjoint(self) -> LinearOperator:
        return self.operator.T

    def _transpose(self) -> LinearOperator:
        return self.operator.H

    def _map(self, convert: _Converter) -> LinearOperator:
        return _Conjugate(self.operator._map(convert))

    def _parameter_count(self) -> int:
        return self.operator.parameter_count

    def _flops(self, k: int) -> int:
        return self.operator.flops(k)

    def __repr__(self) -> str:
        return f"Conjugate({self.operator!r})"


class Power(LinearOperator):
    r"""``A ** k`` for a square ``A`` and integer ``k >= 0``; ``operator``, ``exponent``.

    Notes
    -----
    Applied as ``k`` successive multiplies; :math:`(A^k)^H = (A^H)^k`.
    ``A ** k`` builds it for ``k >= 2`` (``A ** 1`` is ``A`` and ``A ** 0``
    the identity).

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> A = sm.Dense(np.array([[1.0, 1.0], [0.0, 1.0]]))
    >>> (A ** 3).to_dense().tolist()
    [[1.0, 3.0], [0.0, 1.0]]
    """

    _promote_on_apply = False

    def __init__(self, operator: LinearOperator, exponent: int) -> None:
        if not isinstance(operator, LinearOperator):
            msg = f"Power expects a LinearOperator, got {type(operator).__name__}"
            raise TypeError(msg)
        _check_exponent(operator, exponent)
        self.operator = operator
        self.exponent = int(exponent)
        super().__init__(
            shape=operator.shape, dtype=operator.dtype, xp=operator.xp, device=operator.device
        )

    def _matmat(self, X: Any) -> Any:
        for _ in range(self.exponent):
            X = self.operator._call(X)
        return X

    def _batched(self, X: Any) -> Any:
        return self._matmat(X)

    def _adjoint(self) -> LinearOperator:
        return Power(self.operator.H, self.exponent)

    def _transpose(self) -> LinearOperator:
        return Power(self.operator.T, self.exponent)

    def _map(self, convert: _Converter) -> LinearOperator:
        return Power(self.operator._map(convert), self.exponent)

    def _parameter_count(self) -> int:
        return self.operator.parameter_count

    def _flops(self, k: int) -> int:
        return self.exponent * self.operator.flops(k)

    def _class_word(self) -> tuple[str, ...] | None:
        word = self.operator._class_word()
        return None if word is None else word * self.exponent

    def __repr__(self) -> str:
        return f"Power({self.operator!r}, {self.exponent}{_class_note(self)})"


# ---------------------------------------------------------------------- simplifying builders
def _check_exponent(op: LinearOperator, k: Any) -> None:
    integer(k, "exponent", "operator powers", low=0)
    if op.shape[0] != op.shape[1]:
        msg = f"only a square operator has powers, got shape {op.shape}"
        raise ValueError(msg)


def _identity_like(op: LinearOperator, n: int) -> LinearOperator:
    from structmat.basic import Identity

    return Identity(n, dtype=op.dtype, xp=op.xp, device=op.device)


def _kind(op: LinearOperator) -> str:
    return type(op).__name__


def scaled(c: complex, op: LinearOperator) -> LinearOperator:
    """``c * op`` with scalars folded (``2 * (3 * A)`` is ``Scaled(6, A)``; ``1 * A`` is ``A``)."""
    if not _is_scalar(c):
        msg = f"an operator can be scaled by a Python number, got {type(c).__name__}"
        raise TypeError(msg)
    c = _python_scalar(c)
    if c == 1 and (isinstance(c, float) or aa.is_complex(op.xp, op.dtype)):
        return op
    if isinstance(op, Scaled):
        return scaled(c * op.scalar, op.operator)
    return Scaled(c, op)


def sum_of(a: LinearOperator, b: LinearOperator) -> LinearOperator:
    """``a + b``; a ``Zero`` term is dropped, sums flatten."""
    _check_compatible((a, b), "Sum")
    if a.shape != b.shape:
        msg = f"cannot add operators of shapes {a.shape} and {b.shape}"
        raise ValueError(msg)
    if _kind(b) == "Zero" and b.dtype == _promote((a, b)):
        return a
    if _kind(a) == "Zero" and a.dtype == _promote((a, b)):
        return b
    return Sum(a, b)


def product(a: LinearOperator, b: LinearOperator) -> LinearOperator:
    """``a @ b``: scalars move to the front, ``Identity`` is absorbed, products flatten."""
    _check_compatible((a, b), "Product")
    if a.shape[1] != b.shape[0]:
        msg = (
            f"cannot compose {type(a).__name__} of shape {a.shape} with "
            f"{type(b).__name__} of shape {b.shape}: inner dimensions {a.shape[1]} != {b.shape[0]}"
        )
        raise ValueError(msg)
    c: complex = 1
    if isinstance(a, Scaled):
        c, a = a.scalar, a.operator
    if isinstance(b, Scaled):
        c, b = c * b.scalar, b.operator
    dtype = _promote((a, b))
    if _kind(a) == "Identity" and b.dtype == dtype:
        out = b
    elif _kind(b) == "Identity" and a.dtype == dtype:
        out = a
    elif _kind(a) == "Zero" or _kind(b) == "Zero":
        from structmat.basic import Zero

        out = Zero((a.shape[0], b.shape[1]), dtype=dtype, xp=a.xp, device=a.device)
    else:
        out = Product(a, b)
    return scaled(c, out)


def power(op: LinearOperator, k: Any) -> LinearOperator:
    """``op ** k`` for a square operator and an integer ``k >= 0``."""
    _check_exponent(op, k)
    if k == 0:
        return _identity_like(op, op.shape[0])
    if k == 1:
        return op
    return Power(op, int(k))

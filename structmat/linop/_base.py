"""``LinearOperator``: the operator contract (docs/operators.md) and what derives from it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._args import integer
from structmat._operand import (
    _check_shape,
    _Converter,
    _is_scalar,
    _python_scalar,
    _ReadOnly,
    by_parts,
    check_input,
)
from structmat._portable import Portable

# Functions ``op -> str`` whose results end the reprs of products and powers;
# structmat.monarch registers the Monarch class word (``"; class MM*"``) here.
REPR_NOTES: list[Callable[[LinearOperator], str]] = []


class LinearOperator(Portable):
    """A matrix known by how it multiplies.

    Parameters
    ----------
    shape : (int, int)
        ``(m, n)``.
    dtype : dtype of ``xp``
        float32, float64, complex64 or complex128.
    xp : array namespace, optional
        From ``array_api_compat.array_namespace``; ``None`` means NumPy.
    device : optional
        Device of the operator's arrays (``None`` for the namespace default).
    weak : bool, optional
        A *weak* dtype (``op.weak_dtype``): floating input keeps its own
        precision, as with a Python scalar (see Notes).

    Notes
    -----
    ``op @ x`` accepts ``x`` of shape ``(n,)``, ``(n, k)`` or ``(..., n, k)``
    (leading batch dimensions kept, as in ``matmul``) and returns an array of
    the promoted dtype of operator and input (array-API promotion: float32
    with float32 stays float32, real with complex is complex), in ``op.xp``
    on ``op.device``. Integer and boolean inputs are taken as the operator's
    dtype. An operator with a weak dtype (the FFT family built without a
    ``dtype``, and composites of such operators only) gives results in the
    input's precision instead, complex if either is (``DFT(8) @ float32``
    is complex64, as ``numpy.fft.fft`` gives); ``op.dtype`` is then the
    default dtype, that of ``to_dense()`` and of integer input. In a
    composite, weak parts promote like Python scalars: they add only
    complexness to the strong parts' dtype. An array of another namespace raises ``TypeError``, of another
    device ``ValueError``: nothing is copied silently. Empty inputs and
    operators (``k = 0``, ``n = 0``, ``m = 0``) give empty or zero results.

    Subclassing (docs/operators.md): call ``super().__init__(shape=,
    dtype=)`` and implement ``_matmat(X)`` for ``X`` of shape ``(..., n, k)``
    (``k >= 1``, checked, promoted) and ``_rmatmat(X)`` or ``_adjoint()``;
    optional: ``_transpose``, ``_map`` (enables :meth:`to`), ``to_dense``,
    ``_parameter_count``, ``_flops``, ``_repr_args``, ``_invert`` (a closed-form
    inverse for :meth:`inverse`, or ``None``). Helpers:
    ``self._cast(a, X)`` for stored arrays off NumPy, ``apply_columns`` for
    matrix kernels; composites call ``part._apply(X)``.

    Stored arrays are kept (no copy) and read at every product, so products
    agree with ``to_dense()`` after in-place changes (torch parameters stay
    live); derived data is recomputed or cached under a key that changes
    with its source. ``shape``, ``dtype``, ``xp`` and ``device`` are read-only.

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

    shape = _ReadOnly()
    dtype = _ReadOnly()
    xp = _ReadOnly()
    device = _ReadOnly()
    # the values behind them, and flags of the fast path (set once in __init__)
    _shape: tuple[int, int]
    _dtype: Any
    _xp: Any
    _device: Any
    _numpy: bool
    _nonempty: bool
    _real: bool
    _weak: bool

    def __init__(
        self,
        *,
        shape: tuple[int, int],
        dtype: Any,
        xp: Any = None,
        device: Any = None,
        weak: bool = False,
    ) -> None:
        state = self.__dict__
        state["_shape"] = _check_shape(tuple(shape) if hasattr(shape, "__len__") else shape)
        xp = aa.default_namespace(xp)
        aa.check_floating_dtype(xp, dtype, type(self).__name__)
        # NumPy arrays skip the namespace and device checks: the fast path of ``@``.
        numpy = state["_numpy"] = aa.is_numpy(xp)
        # One spelling per dtype: NumPy's ``float64`` class becomes ``dtype('float64')``,
        # as ``array.dtype`` gives it (the fast path compares dtypes by identity).
        state["_dtype"] = np.dtype(dtype) if numpy else dtype
        state["_xp"] = xp
        if device is None:
            device = aa.device_of(xp.empty(0, dtype=dtype))
        elif not numpy:
            aa.check_device(xp, device, type(self).__name__)
        state["_device"] = device
        state["_nonempty"] = min(state["_shape"]) > 0
        state["_real"] = not aa.is_complex(xp, dtype)
        state["_weak"] = bool(weak)

    # ------------------------------------------------------------------ subclass API
    def _matmat(self, X: Any) -> Any:
        """``A @ X`` for ``X`` of shape ``(..., n, k)`` and the promoted dtype."""
        msg = f"{type(self).__name__} must implement _matmat"
        raise NotImplementedError(msg)

    def _rmatmat(self, X: Any) -> Any:
        """``A^H @ X`` for ``X`` of shape ``(..., m, k)``."""
        if type(self)._adjoint is not LinearOperator._adjoint:
            adjoint = self.H
            if not (isinstance(adjoint, Adjoint) and adjoint.operator is self):
                return adjoint._apply(X)
        msg = f"{type(self).__name__} implements neither _rmatmat nor _adjoint"
        raise NotImplementedError(msg)

    def _adjoint(self) -> LinearOperator:
        return Adjoint(self)

    def _transpose(self) -> LinearOperator:
        return Transpose(self)

    def _invert(self) -> LinearOperator | None:
        """The inverse in closed form, or ``None`` (``structmat._inverse`` handles the core)."""
        return None

    def inverse(self) -> LinearOperator:
        """The inverse where a closed form exists; ``LinAlgError`` otherwise (docs/operators.md)."""
        from structmat._inverse import inverse  # lazy: the rules live there, not in the base

        return inverse(self)

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

    def _dtype_arg(self) -> Any:
        """``dtype=`` that rebuilds this formula operator: ``None`` when its dtype is weak."""
        return None if self._weak else self._dtype

    def _cast(self, a: Any, X: Any) -> Any:
        """A stored floating array ``a``, ready for one kernel call with ``X``.

        NumPy combines dtypes in ``matmul`` and ufuncs: ``a`` as it is. Other
        backends get ``a`` in ``X.dtype``, which ``@`` promoted to cover the
        operator's dtype (torch's ``matmul`` refuses ``float32 @ complex64``).
        Recomputed at each call, so it never goes stale.
        """
        if self._numpy or a.dtype == X.dtype:
            return a
        return self.xp.astype(a, X.dtype)

    # ------------------------------------------------------------------ properties
    @property
    def ndim(self) -> int:
        return 2

    @property
    def weak_dtype(self) -> bool:
        """Whether floating input keeps its precision (see the class Notes)."""
        return self._weak

    @property
    def parameter_count(self) -> int:
        """How many numbers the operator stores."""
        return self._parameter_count()

    def flops(self, k: int = 1) -> int:
        """Multiply-adds to apply the operator to an ``(n, k)`` matrix."""
        return self._flops(integer(k, "k", f"{type(self).__name__}.flops", low=0))

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

    def conj(self) -> LinearOperator:
        """The entrywise complex conjugate (the operator itself when real)."""
        if not aa.is_complex(self.xp, self.dtype):
            return self
        return self.H.T

    # ------------------------------------------------------------------ applying
    def _prepare(self, x: Any, n: int, what: str | None = None, *, left: bool = False) -> Any:
        """Check ``x`` against the operator; return it in the promoted dtype (``check_input``)."""
        return check_input(self, x, n, what or self._what(left), left=left)

    def _what(self, left: bool = False) -> str:
        name = type(self).__name__
        return f"x @ {name}" if left else f"{name} @ x"

    def _apply(self, X: Any) -> Any:
        """``A @ X`` for a checked ``X`` of shape ``(n,)`` or ``(..., n, k)`` in the promoted dtype.

        Vectors become one-column matrices; an empty input or operator gives
        the zero result without calling ``_matmat``.
        """
        if X.ndim == 1:
            return self._apply(X[:, None])[:, 0]
        if not self._nonempty or 0 in X.shape:
            shape = (*X.shape[:-2], self._shape[0], X.shape[-1])
            return self._xp.zeros(shape, dtype=X.dtype, device=self._device)
        if not self._numpy and self._real and aa.is_complex(self._xp, X.dtype):
            # A real operator on complex input: real and imaginary parts as 2k real
            # columns of one call (torch's matmul refuses real @ complex).
            return by_parts(self._xp, X, self._matmat)
        return self._matmat(X)

    def __matmul__(self, x: Any) -> Any:
        if type(x) is np.ndarray and self._numpy and x.dtype is self._dtype and self._nonempty:
            # Fast path: a NumPy operator on a non-empty NumPy array of its own dtype.
            shape, n = x.shape, self._shape[1]
            if len(shape) == 2 and shape[0] == n and shape[1]:
                return self._matmat(x)
            if len(shape) == 1 and shape[0] == n:
                return self._matmat(x[:, None])[:, 0]
        elif isinstance(x, LinearOperator):
            return product(self, x)
        elif _is_scalar(x):
            return NotImplemented
        elif (other := self._foreign(x)) is not None:
            return product(self, other)
        elif type(x).__module__.startswith("dask."):
            from structmat.dask import apply  # lazy: dask is optional

            return apply(self, x)
        return self._apply(self._prepare(x, self._shape[1]))

    def __rmatmul__(self, x: Any) -> Any:
        if isinstance(x, LinearOperator):
            return product(x, self)
        if _is_scalar(x):
            return NotImplemented
        if (other := self._foreign(x)) is not None:
            return product(other, self)
        if type(x).__module__.startswith("dask."):
            from structmat.dask import apply  # lazy: dask is optional

            return apply(self, x, left=True)
        # x @ A == (A^T @ x^T)^T, batch dimensions kept.
        x = self._prepare(x, self.shape[0], left=True)
        xp = self.xp
        if x.ndim == 1:
            return self.T @ x
        return xp.matrix_transpose(self.T @ xp.matrix_transpose(x))

    def to_dense(self) -> Any:
        """The dense matrix, in ``op.xp`` on ``op.device``."""
        xp = self.xp
        return self._apply(xp.eye(self.shape[1], dtype=self.dtype, device=self.device))

    # ------------------------------------------------------------------ algebra
    def __add__(self, other: Any) -> LinearOperator:
        if not isinstance(other, LinearOperator) and (other := self._foreign(other)) is None:
            return NotImplemented
        return sum_of(self, other)

    def __radd__(self, other: Any) -> LinearOperator:
        if (other := self._foreign(other)) is None:
            return NotImplemented
        return sum_of(other, self)

    def __sub__(self, other: Any) -> LinearOperator:
        if not isinstance(other, LinearOperator) and (other := self._foreign(other)) is None:
            return NotImplemented
        return sum_of(self, scaled(-1, other))

    def __rsub__(self, other: Any) -> LinearOperator:
        if (other := self._foreign(other)) is None:
            return NotImplemented
        return sum_of(other, scaled(-1, self))

    def __neg__(self) -> LinearOperator:
        return scaled(-1, self)

    def __pos__(self) -> LinearOperator:
        return self

    def __mul__(self, x: Any) -> Any:
        # SciPy's meaning: a scalar scales, an operator composes, an array is applied.
        if _is_scalar(x):
            return scaled(x, self)
        return self @ x

    def __rmul__(self, x: Any) -> Any:
        if _is_scalar(x):
            return scaled(x, self)
        return x @ self

    def __truediv__(self, c: Any) -> LinearOperator:
        if not _is_scalar(c):
            return NotImplemented
        if c == 0:
            msg = "cannot divide an operator by zero"
            raise ZeroDivisionError(msg)
        return scaled(1 / _python_scalar(c), self)

    def __pow__(self, k: Any) -> LinearOperator:
        return power(self, k)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._repr_args()})"

    # ``len`` and iteration would be ambiguous for an operator.
    __hash__ = object.__hash__


# The composites subclass LinearOperator and its operators build them: the one
# circle of the package, closed here once LinearOperator exists.
from structmat.linop._algebra import (  # noqa: E402
    Adjoint,
    Transpose,
    power,
    product,
    scaled,
    sum_of,
)

"""The operator algebra: composites, ``Identity``, ``Zero`` and the builders behind ``+ @ * **``."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from structmat import _array_api as aa
from structmat._args import integer
from structmat._operand import (
    _Converter,
    _is_scalar,
    _promote,
    _python_scalar,
    _weak,
    dense_as,
)
from structmat.linop._base import REPR_NOTES, LinearOperator

#: The largest exponent ``A ** k`` accepts: a power is applied as ``k``
#: multiplies, so a larger ``k`` is a hang, not a computation.
MAX_POWER = 2**20


# ---------------------------------------------------------------------- composites
def _notes(op: LinearOperator) -> str:
    """The registered repr notes of a product or power (e.g. ``"; class MM*"``)."""
    return "".join(note(op) for note in REPR_NOTES)


def _check_compatible(ops: Sequence[LinearOperator], what: str) -> None:
    first = ops[0]
    for op in ops[1:]:
        if not isinstance(op, LinearOperator):
            msg = f"{what} expects LinearOperator arguments, got {type(op).__name__}"
            raise TypeError(msg)
        aa.check_same_backend(first.xp, first.device, op.xp, op.device, what)


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
        super().__init__(
            shape=t0.shape,
            dtype=_promote(self.terms),
            xp=t0.xp,
            device=t0.device,
            weak=_weak(self.terms),
        )

    def _matmat(self, X: Any) -> Any:
        Y = self.terms[0]._apply(X)
        for t in self.terms[1:]:
            Y = Y + t._apply(X)
        return Y

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
        D = dense_as(self.terms[0], self.dtype)
        for t in self.terms[1:]:
            D = D + dense_as(t, self.dtype)
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
        super().__init__(
            shape=shape,
            dtype=_promote(self.factors),
            xp=f0.xp,
            device=f0.device,
            weak=_weak(self.factors),
        )

    def _matmat(self, X: Any) -> Any:
        for f in reversed(self.factors):
            X = f._apply(X)
        return X

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
        D = dense_as(self.factors[-1], self.dtype)
        for f in reversed(self.factors[:-1]):
            D = f._apply(D)
        return D

    def __repr__(self) -> str:
        return f"Product({', '.join(map(repr, self.factors))}{_notes(self)})"


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
        super().__init__(
            shape=operator.shape,
            dtype=dtype,
            xp=operator.xp,
            device=operator.device,
            weak=operator._weak,
        )

    def _matmat(self, X: Any) -> Any:
        return self.scalar * self.operator._apply(X)

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
        D = dense_as(self.operator, self.dtype)
        return self.scalar * D

    def __repr__(self) -> str:
        c = self.scalar
        s = f"{c:g}" if isinstance(c, float) else f"{c}"
        return f"Scaled({s}, {self.operator!r})"


class _Wrapped(LinearOperator):
    """An operator defined by one other (``operator``): shared bookkeeping.

    Subclasses are rebuilt by ``type(self)(operator)`` (``_map``) and store
    and cost what their operator does.
    """

    operator: LinearOperator

    def _init_flipped(self, operator: LinearOperator) -> None:
        """Wrap ``operator`` with its shape reversed (an adjoint or a transpose)."""
        if not isinstance(operator, LinearOperator):
            msg = f"{type(self).__name__} expects a LinearOperator, got {type(operator).__name__}"
            raise TypeError(msg)
        self.operator = operator
        m, n = operator.shape
        LinearOperator.__init__(
            self,
            shape=(n, m),
            dtype=operator.dtype,
            xp=operator.xp,
            device=operator.device,
            weak=operator._weak,
        )

    def _map(self, convert: _Converter) -> LinearOperator:
        rebuild: Any = type(self)
        return rebuild(self.operator._map(convert))

    def _parameter_count(self) -> int:
        return self.operator.parameter_count

    def _flops(self, k: int) -> int:
        return self.operator.flops(k)


class Adjoint(_Wrapped):
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

    def __init__(self, operator: LinearOperator) -> None:
        self._init_flipped(operator)
        self.__dict__["_H"] = operator

    def _matmat(self, X: Any) -> Any:
        return self.operator._rmatmat(X)

    def _rmatmat(self, X: Any) -> Any:
        return self.operator._apply(X)

    def _adjoint(self) -> LinearOperator:
        return self.operator

    def _transpose(self) -> LinearOperator:
        # (A^H)^T = conj(A)
        return _Conjugate(self.operator)

    def __repr__(self) -> str:
        return f"Adjoint({self.operator!r})"


class Transpose(_Wrapped):
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

    def __init__(self, operator: LinearOperator) -> None:
        self._init_flipped(operator)
        self.__dict__["_T"] = operator

    def _matmat(self, X: Any) -> Any:
        xp = self.xp
        if aa.is_complex(xp, X.dtype):
            return xp.conj(self.operator.H._apply(xp.conj(X)))
        return xp.conj(self.operator.H._apply(X))

    def _adjoint(self) -> LinearOperator:
        # (A^T)^H = conj(A): apply A to conj(X) and conjugate.
        return _Conjugate(self.operator)

    def _transpose(self) -> LinearOperator:
        return self.operator

    def __repr__(self) -> str:
        return f"Transpose({self.operator!r})"


class _Conjugate(_Wrapped):
    """``conj(A)`` for a complex operator, as ``conj(A conj(X))``."""

    def __init__(self, operator: LinearOperator) -> None:
        self.operator = operator
        super().__init__(
            shape=operator.shape,
            dtype=operator.dtype,
            xp=operator.xp,
            device=operator.device,
            weak=operator._weak,
        )

    def _matmat(self, X: Any) -> Any:
        xp = self.xp
        return xp.conj(self.operator._apply(xp.conj(X)))

    def _adjoint(self) -> LinearOperator:
        return self.operator.T

    def _transpose(self) -> LinearOperator:
        return self.operator.H

    def __repr__(self) -> str:
        return f"Conjugate({self.operator!r})"


class Power(LinearOperator):
    r"""``A ** k`` for a square ``A`` and integer ``0 <= k <= MAX_POWER``; ``operator``, ``exponent``.

    Notes
    -----
    Applied as ``k`` successive multiplies; :math:`(A^k)^H = (A^H)^k`.
    ``A ** k`` builds it for ``k >= 2`` (``A ** 1`` is ``A`` and ``A ** 0``
    the identity). The exponent is bounded by ``MAX_POWER`` (:math:`2^{20}`),
    in the API and in files, because the cost grows with ``k``.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> A = sm.Dense(np.array([[1.0, 1.0], [0.0, 1.0]]))
    >>> (A ** 3).to_dense().tolist()
    [[1.0, 3.0], [0.0, 1.0]]
    """

    def __init__(self, operator: LinearOperator, exponent: int) -> None:
        if not isinstance(operator, LinearOperator):
            msg = f"Power expects a LinearOperator, got {type(operator).__name__}"
            raise TypeError(msg)
        _check_exponent(operator, exponent)
        self.operator = operator
        self.exponent = int(exponent)
        super().__init__(
            shape=operator.shape,
            dtype=operator.dtype,
            xp=operator.xp,
            device=operator.device,
            weak=operator._weak,
        )

    def _matmat(self, X: Any) -> Any:
        for _ in range(self.exponent):
            X = self.operator._apply(X)
        return X

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

    def __repr__(self) -> str:
        return f"Power({self.operator!r}, {self.exponent}{_notes(self)})"


class Identity(LinearOperator):
    """The ``n x n`` identity.

    Parameters
    ----------
    n : int
    dtype : optional
        float64 by default.
    xp, device : optional
        Array namespace (NumPy by default) and device.
    weak : bool, optional
        Whether the dtype is weak (input keeps its precision); default: when
        no ``dtype`` is given, as for the FFT family.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> bool(np.array_equal(sm.Identity(3) @ np.arange(3.0), np.arange(3.0)))
    True
    """

    def __init__(
        self,
        n: int,
        *,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
        weak: bool | None = None,
    ) -> None:
        xp = aa.default_namespace(xp)
        weak = dtype is None if weak is None else weak
        dtype = xp.float64 if dtype is None else aa.as_dtype(xp, dtype)
        super().__init__(shape=(n, n), dtype=dtype, xp=xp, device=device, weak=weak)

    def _matmat(self, X: Any) -> Any:
        return X

    def _adjoint(self) -> LinearOperator:
        return self

    def _transpose(self) -> LinearOperator:
        return self

    def _map(self, convert: _Converter) -> LinearOperator:
        return Identity(
            self.shape[0],
            dtype=convert.cast_dtype(self.dtype),
            xp=convert.xp,
            device=convert.device,
            weak=self._weak and convert.dtype is None,
        )

    def _parameter_count(self) -> int:
        return 0

    def _flops(self, k: int) -> int:
        return 0

    def to_dense(self) -> Any:
        return self.xp.eye(self.shape[0], dtype=self.dtype, device=self.device)

    def _repr_args(self) -> str:
        return f"{self.shape[0]}, {aa.dtype_name(self.dtype)}"


class Zero(LinearOperator):
    """The ``m x n`` zero matrix.

    Parameters
    ----------
    shape : (int, int)
    dtype, xp, device, weak : optional
        As for :class:`Identity`.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> (sm.Zero((2, 3)) @ np.ones(3)).tolist()
    [0.0, 0.0]
    """

    def __init__(
        self,
        shape: tuple[int, int],
        *,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
        weak: bool | None = None,
    ) -> None:
        xp = aa.default_namespace(xp)
        weak = dtype is None if weak is None else weak
        dtype = xp.float64 if dtype is None else aa.as_dtype(xp, dtype)
        super().__init__(shape=shape, dtype=dtype, xp=xp, device=device, weak=weak)

    def _matmat(self, X: Any) -> Any:
        shape = (*X.shape[:-2], self.shape[0], X.shape[-1])
        return self.xp.zeros(shape, dtype=X.dtype, device=self.device)

    def _adjoint(self) -> LinearOperator:
        return Zero(
            self.shape[::-1], dtype=self.dtype, xp=self.xp, device=self.device, weak=self._weak
        )

    def _transpose(self) -> LinearOperator:
        return Zero(
            self.shape[::-1], dtype=self.dtype, xp=self.xp, device=self.device, weak=self._weak
        )

    def _map(self, convert: _Converter) -> LinearOperator:
        return Zero(
            self.shape,
            dtype=convert.cast_dtype(self.dtype),
            xp=convert.xp,
            device=convert.device,
            weak=self._weak and convert.dtype is None,
        )

    def _parameter_count(self) -> int:
        return 0

    def _flops(self, k: int) -> int:
        return 0

    def to_dense(self) -> Any:
        return self.xp.zeros(self.shape, dtype=self.dtype, device=self.device)


# ---------------------------------------------------------------------- simplifying builders
def _check_exponent(op: LinearOperator, k: Any) -> None:
    integer(k, "exponent", "operator powers", low=0)
    if k > MAX_POWER:
        msg = f"operator powers: exponent must be at most MAX_POWER = {MAX_POWER}, got {k}"
        raise ValueError(msg)
    if op.shape[0] != op.shape[1]:
        msg = f"only a square operator has powers, got shape {op.shape}"
        raise ValueError(msg)


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
    dtype, weak = _promote((a, b)), _weak((a, b))
    if isinstance(b, Zero) and a.dtype == dtype and a._weak == weak:
        return a
    if isinstance(a, Zero) and b.dtype == dtype and b._weak == weak:
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
    dtype, weak = _promote((a, b)), _weak((a, b))
    if isinstance(a, Identity) and b.dtype == dtype and b._weak == weak:
        out = b
    elif isinstance(b, Identity) and a.dtype == dtype and a._weak == weak:
        out = a
    elif isinstance(a, Zero) or isinstance(b, Zero):
        out = Zero((a.shape[0], b.shape[1]), dtype=dtype, xp=a.xp, device=a.device, weak=weak)
    else:
        out = Product(a, b)
    return scaled(c, out)


def power(op: LinearOperator, k: Any) -> LinearOperator:
    """``op ** k`` for a square operator and an integer ``0 <= k <= MAX_POWER``."""
    _check_exponent(op, k)
    if k == 0:
        return Identity(op.shape[0], dtype=op.dtype, xp=op.xp, device=op.device, weak=op._weak)
    if k == 1:
        return op
    return Power(op, int(k))

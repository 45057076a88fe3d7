r"""Interoperability with SciPy (and CuPy's ``cupyx.scipy``) linear operators.

- :func:`to_scipy` (also ``op.to_scipy()``) returns a real
  ``scipy.sparse.linalg.LinearOperator`` subclass whose ``_matvec``,
  ``_matmat``, ``_rmatvec``, ``_rmatmat``, ``_adjoint`` and ``_transpose`` call
  the structured code, so SciPy's block solvers (``lobpcg``, ``svds``,
  ``expm_multiply``...) use one structured matmat per block, not a loop of
  matvecs. A CuPy-backed operator gives a
  ``cupyx.scipy.sparse.linalg.LinearOperator`` instead.
- :func:`aslinearoperator` turns arrays of any backend, SciPy linear
  operators and SciPy sparse matrices into structmat operators.

A NumPy-backed structmat operator can also be handed to most
``scipy.sparse.linalg`` functions directly (``cg(op, b)``): SciPy's own
``aslinearoperator`` accepts any object with ``shape``, ``matvec``,
``rmatvec``, ``rmatmat`` and a NumPy ``dtype``. That route does not pass
``matmat`` (SciPy then loops over columns); ``op.to_scipy()`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from structmat import _array_api as aa
from structmat._operand import _Converter, apply_columns
from structmat._portable import _is_pylops
from structmat.basic import Dense
from structmat.linop import LinearOperator

__all__ = ["FromSciPy", "SciPyLinearOperator", "aslinearoperator", "to_scipy"]


def _apply_rows(op: LinearOperator, x: Any) -> Any:
    """``A x`` for a vector ``x`` of shape ``(n,)``, ``(n, 1)`` or rows ``(..., n)``.

    SciPy <= 1.17 passes ``(n,)`` or the column ``(n, 1)`` to ``_matvec``;
    SciPy >= 1.18 passes ``(n,)`` or a batch of row vectors ``(..., n)``.
    """
    n = op.shape[1]
    if x.ndim == 1 or x.shape == (n, 1):
        return op @ x
    lead = x.shape[:-1]
    rows = np.reshape(x, (-1, n))
    return np.reshape((op @ rows.T).T, (*lead, op.shape[0]))


class SciPyLinearOperator(scipy.sparse.linalg.LinearOperator):
    r"""A structmat operator seen as a ``scipy.sparse.linalg.LinearOperator``.

    Made by :func:`to_scipy` / ``op.to_scipy()`` for NumPy-backed operators.

    Parameters
    ----------
    operator : LinearOperator
        A NumPy-backed structmat operator (kept as ``.operator``).

    Notes
    -----
    ``_matmat`` is ``operator @ X`` (one structured multiply for a block of
    columns), ``_rmatmat`` is ``operator.H @ X``; ``_adjoint`` and
    ``_transpose`` wrap the structural ``operator.H`` and ``operator.T``
    (``A.H.H is A``). Vectors follow SciPy's conventions of both the 1.17
    (``(n,)`` or ``(n, 1)``) and the 1.18 (``(n,)`` or rows ``(..., n)``)
    interfaces.

    Examples
    --------
    >>> import numpy as np, scipy.sparse.linalg as sla, structmat as sm
    >>> S = sm.Diagonal(np.array([1.0, 2.0, 4.0])).to_scipy()
    >>> isinstance(S, sla.LinearOperator)
    True
    >>> x, info = sla.cg(S, np.ones(3))
    >>> bool(np.allclose(x, [1.0, 0.5, 0.25]))
    True
    """

    def __init__(self, operator: LinearOperator) -> None:
        super().__init__(dtype=np.dtype(operator.dtype), shape=operator.shape)
        self.operator = operator
        self.args = ()
        self._adjoint_cache: SciPyLinearOperator | None = None
        self._transpose_cache: SciPyLinearOperator | None = None

    def _matvec(self, x: Any) -> Any:
        return _apply_rows(self.operator, np.asarray(x))

    def _rmatvec(self, x: Any) -> Any:
        return _apply_rows(self.operator.H, np.asarray(x))

    def _matmat(self, X: Any) -> Any:
        return self.operator @ np.asarray(X)

    def _rmatmat(self, X: Any) -> Any:
        return self.operator.H @ np.asarray(X)

    def _adjoint(self) -> SciPyLinearOperator:
        if self._adjoint_cache is None:
            adj = SciPyLinearOperator(self.operator.H)
            adj._adjoint_cache = self
            self._adjoint_cache = adj
        return self._adjoint_cache

    def _transpose(self) -> SciPyLinearOperator:
        if self._transpose_cache is None:
            tr = SciPyLinearOperator(self.operator.T)
            tr._transpose_cache = self
            self._transpose_cache = tr
        return self._transpose_cache

    def __repr__(self) -> str:
        m, n = self.shape
        return f"<{m}x{n} SciPyLinearOperator with dtype={self.dtype}: {self.operator!r}>"


_CUPY_CLASS: Any = None


def _cupy_class() -> Any:
    """The ``cupyx.scipy.sparse.linalg.LinearOperator`` subclass (built on first use)."""
    global _CUPY_CLASS
    if _CUPY_CLASS is not None:
        return _CUPY_CLASS
    import cupy
    import cupyx.scipy.sparse.linalg as csla

    class CuPyLinearOperator(csla.LinearOperator):
        """A CuPy-backed structmat operator as a ``cupyx`` linear operator."""

        def __init__(self, operator: LinearOperator) -> None:
            super().__init__(cupy.dtype(operator.dtype), operator.shape)
            self.operator = operator
            self.args = ()

        def _matvec(self, x: Any) -> Any:
            return self.operator @ x

        def _rmatvec(self, x: Any) -> Any:
            return self.operator.H @ x

        def _matmat(self, X: Any) -> Any:
            return self.operator @ X

        def _rmatmat(self, X: Any) -> Any:
            return self.operator.H @ X

        def _adjoint(self) -> Any:
            return CuPyLinearOperator(self.operator.H)

        def _transpose(self) -> Any:
            return CuPyLinearOperator(self.operator.T)

    _CUPY_CLASS = CuPyLinearOperator
    return _CUPY_CLASS


def to_scipy(op: LinearOperator, /) -> Any:
    """``op`` as a SciPy (NumPy-backed) or ``cupyx`` (CuPy-backed) linear operator.

    Parameters
    ----------
    op : LinearOperator
        A structmat operator on NumPy or CuPy.

    Returns
    -------
    SciPyLinearOperator or cupyx.scipy.sparse.linalg.LinearOperator
        Wired to the structured multiply (see :class:`SciPyLinearOperator`).

    Raises
    ------
    TypeError
        For anything but a structmat operator, or an operator of another
        namespace (move it first with ``op.to(xp=numpy)``).

    Examples
    --------
    >>> import numpy as np, scipy.sparse.linalg as sla, structmat as sm
    >>> A = sm.Kronecker(np.array([[2.0, 1.0], [1.0, 2.0]]), np.eye(2))
    >>> w = sla.eigsh(A.to_scipy(), k=1, return_eigenvectors=False)
    >>> bool(np.allclose(w, [3.0]))
    True
    """
    if not isinstance(op, LinearOperator):
        msg = f"to_scipy expects a structmat LinearOperator, got {type(op).__name__}"
        raise TypeError(msg)
    if aa.is_numpy(op.xp):
        return SciPyLinearOperator(op)
    if aa.namespace_name(op.xp) == "cupy":
        return _cupy_class()(op)
    msg = (
        "to_scipy needs a NumPy- or CuPy-backed operator, got one on "
        f"{aa.namespace_name(op.xp)}; move it first with op.to(xp=numpy)"
    )
    raise TypeError(msg)


class FromSciPy(LinearOperator):
    r"""A ``scipy.sparse.linalg.LinearOperator`` as a structmat operator (NumPy).

    Made by :func:`aslinearoperator`.

    Parameters
    ----------
    operator : scipy.sparse.linalg.LinearOperator or PyLops operator
        Kept as ``.operator``; applied through its ``matmat`` and ``rmatmat``.
    dtype : optional
        The operator's dtype; by default the SciPy operator's dtype, with
        integer and half-precision dtypes promoted to floating point as NumPy
        promotes them with float32.

    Notes
    -----
    Results are cast to the promoted dtype of operator and input. The
    adjoint applies ``operator.rmatmat``. ``parameter_count`` is the number
    of stored entries of a wrapped matrix (``nnz`` for sparse ones) and
    ``m*n`` for any other SciPy operator (its structure is unknown).

    Examples
    --------
    >>> import numpy as np, scipy.sparse.linalg as sla, structmat as sm
    >>> S = sla.aslinearoperator(np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> A = sm.aslinearoperator(S)
    >>> A
    FromSciPy(<2x2 MatrixLinearOperator with dtype=float64>)
    >>> bool(np.allclose((2 * A) @ np.ones(2), [6.0, 14.0]))
    True
    """

    def __init__(self, operator: Any, /, *, dtype: Any = None) -> None:
        if not isinstance(operator, scipy.sparse.linalg.LinearOperator) and not _is_pylops(
            operator
        ):
            msg = (
                "FromSciPy expects a scipy.sparse.linalg.LinearOperator or a PyLops operator, "
                f"got {type(operator).__name__}"
            )
            raise TypeError(msg)
        if len(operator.shape) != 2:
            msg = f"FromSciPy expects a 2-d SciPy operator, got shape {operator.shape}"
            raise ValueError(msg)
        if dtype is None:
            source = np.float64 if operator.dtype is None else operator.dtype
            dtype = np.result_type(source, np.float32)
        dtype = np.dtype(dtype)
        super().__init__(shape=tuple(operator.shape), dtype=dtype, xp=aa.default_namespace(None))
        self.operator = operator

    def _output(self, Y: Any, dtype: Any) -> Any:
        Y = np.asarray(Y)
        return Y if Y.dtype == dtype else Y.astype(dtype)

    def _matmat(self, X: Any) -> Any:
        return apply_columns(self.xp, X, lambda Z: self._output(self.operator.matmat(Z), Z.dtype))

    def _rmatmat(self, X: Any) -> Any:
        return apply_columns(self.xp, X, lambda Z: self._output(self.operator.rmatmat(Z), Z.dtype))

    def _map(self, convert: _Converter) -> LinearOperator:
        if not aa.is_numpy(convert.xp):
            msg = (
                "a wrapped SciPy LinearOperator runs on NumPy only, cannot move it to "
                f"{aa.namespace_name(convert.xp)}"
            )
            raise TypeError(msg)
        return FromSciPy(self.operator, dtype=convert.cast_dtype(self.dtype))

    def _parameter_count(self) -> int:
        A: Any = getattr(self.operator, "A", None)
        if scipy.sparse.issparse(A):
            return int(A.nnz)
        if isinstance(A, np.ndarray):
            return int(A.size)
        return self.shape[0] * self.shape[1]

    def __repr__(self) -> str:
        return f"FromSciPy({self.operator!r})"


def aslinearoperator(obj: Any, /) -> LinearOperator:
    """``obj`` as a structmat operator.

    Parameters
    ----------
    obj : LinearOperator, array, SciPy LinearOperator or SciPy sparse matrix
        - a structmat operator is returned unchanged;
        - a 2-d array of any array-API backend becomes :class:`~structmat.Dense`;
        - a ``scipy.sparse.linalg.LinearOperator`` becomes :class:`FromSciPy`
          (NumPy); one made by :func:`to_scipy` gives back its structmat operator;
        - a SciPy sparse matrix or array becomes :class:`FromSciPy` of it (never
          densified);
        - a PyLops operator becomes :class:`FromSciPy` (applied through its
          ``matmat`` and ``rmatmat``).

    Raises
    ------
    TypeError
        For any other type (the message names it), or an array of a
        dtype that is neither floating, integer nor boolean (integer and
        boolean arrays become float64, as projections take them).
    ValueError
        For an array that is not 2-d.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> sm.aslinearoperator(np.eye(2))
    Dense(2x2, float64)
    >>> D = sm.Diagonal(np.ones(2))
    >>> sm.aslinearoperator(D) is D and sm.aslinearoperator(D.to_scipy()) is D
    True
    """
    if isinstance(obj, LinearOperator):
        return obj
    if isinstance(obj, SciPyLinearOperator):
        return obj.operator
    if isinstance(obj, scipy.sparse.linalg.LinearOperator) or _is_pylops(obj):
        return FromSciPy(obj)
    if scipy.sparse.issparse(obj):
        return FromSciPy(scipy.sparse.linalg.aslinearoperator(obj))
    if isinstance(obj, np.matrix):
        obj = np.asarray(obj)
    try:
        xp = aa.namespace_of(obj)
    except TypeError:
        msg = (
            "aslinearoperator expects a structmat LinearOperator, an array, a SciPy "
            f"LinearOperator or a SciPy sparse matrix, got {type(obj).__name__}"
        )
        raise TypeError(msg) from None
    if obj.ndim != 2:
        msg = f"aslinearoperator expects a 2-d array, got shape {tuple(obj.shape)}"
        raise ValueError(msg)
    return Dense(aa.floating_input(xp, obj, "aslinearoperator: the array"))

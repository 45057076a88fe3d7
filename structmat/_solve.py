r"""Inverses that solve instead of multiplying: ``Dense`` (LU) and ``Toeplitz`` (Levinson).

``Dense(A).inverse()`` and ``Toeplitz(c, r).inverse()`` (rules in
:mod:`structmat._inverse`) return these lazy operators. Neither forms the
inverse matrix: each product is a solve with the operator they invert.

- :class:`DenseInverse` on NumPy factors ``A`` once, on the first product
  (``scipy.linalg.lu_factor``), and then solves with ``scipy.linalg.lu_solve``
  (:math:`O(n^2)` per column); its adjoint and transpose reuse the factors
  (``trans=2`` and ``trans=1``). Other backends call ``xp.linalg.solve`` per
  product, reading ``A`` afresh (a torch parameter stays live and
  differentiable).
- :class:`ToeplitzInverse` applies ``Toeplitz.solve`` (NumPy:
  ``scipy.linalg.solve_toeplitz``, Levinson, :math:`O(n^2)`); when Levinson
  meets a singular leading minor of an invertible matrix it falls back to a
  dense LU. Its adjoint is the inverse of the adjoint Toeplitz.

A singular matrix raises ``numpy.linalg.LinAlgError`` at the first product.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._operand import apply_columns
from structmat.basic import Dense
from structmat.convolution import Toeplitz
from structmat.linop import Adjoint, LinearOperator, Transpose

__all__ = ["DenseInverse", "ToeplitzInverse"]


class _Factors:
    """The LU factors of one matrix, computed on first use and shared by the adjoint."""

    def __init__(self) -> None:
        self.lu: Any = None


def _singular(op: LinearOperator, why: str) -> np.linalg.LinAlgError:
    return np.linalg.LinAlgError(f"{type(op).__name__}.inverse(): singular matrix, {why}")


class DenseInverse(LinearOperator):
    r"""``op(A)^{-1}`` of a square ``Dense`` ``A``, ``op`` one of ``A``, ``A^T``, ``A^H``, ``conj(A)``.

    Built by ``Dense(A).inverse()``. On NumPy the LU factors of ``A`` are
    computed on the first product and kept: later in-place changes of ``A``
    are not seen (call ``inverse()`` again). Off NumPy each product is
    ``xp.linalg.solve(A, X)`` with ``A`` read afresh.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> A = np.array([[4.0, 1.0], [2.0, 3.0]])
    >>> inv = sm.Dense(A).inverse()
    >>> inv
    Inverse(Dense(2x2, float64))
    >>> bool(np.allclose(inv @ np.array([1.0, 2.0]), np.linalg.solve(A, [1.0, 2.0])))
    True
    >>> bool(np.allclose(inv.H.to_dense(), np.linalg.inv(A).T))
    True
    """

    def __init__(
        self,
        dense: Dense,
        *,
        transpose: bool = False,
        conjugate: bool = False,
        _factors: _Factors | None = None,
    ) -> None:
        self.dense = dense
        self._transposed, self._conjugated = bool(transpose), bool(conjugate)
        self._factors = _Factors() if _factors is None else _factors
        super().__init__(shape=dense.shape, dtype=dense.dtype, xp=dense.xp, device=dense.device)

    def _lu(self) -> Any:
        f = self._factors
        if f.lu is None:
            import scipy.linalg  # a dependency; imported on first solve

            with warnings.catch_warnings():
                # an exactly singular A: raised below, with the index
                warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
                lu = scipy.linalg.lu_factor(self.dense.A)
            zeros = np.flatnonzero(np.diagonal(lu[0]) == 0)
            if zeros.size:
                raise _singular(self.dense, f"U[{zeros[0]}, {zeros[0]}] = 0 in its LU factors")
            f.lu = lu
        return f.lu

    def _matmat(self, X: Any) -> Any:
        return apply_columns(self.xp, X, self._solve)

    def _solve(self, X: Any) -> Any:
        xp, t, c = self.xp, self._transposed, self._conjugated
        if self._numpy:
            import scipy.linalg

            lu = self._lu()
            if t and c:
                return scipy.linalg.lu_solve(lu, X, trans=2).astype(X.dtype, copy=False)
            Y = scipy.linalg.lu_solve(lu, np.conj(X) if c else X, trans=1 if t else 0)
            return (np.conj(Y) if c else Y).astype(X.dtype, copy=False)
        A = self._cast(self.dense.A, X)
        A = xp.matrix_transpose(A) if t else A
        A = xp.conj(A) if c and aa.is_complex(xp, A.dtype) else A
        try:
            return xp.linalg.solve(A, X)
        except Exception as exc:  # torch, CuPy and NumPy name a singular matrix their own way
            raise _singular(self.dense, f"the solve failed ({exc})") from None

    def _with(self, transpose: bool, conjugate: bool) -> DenseInverse:
        return DenseInverse(
            self.dense, transpose=transpose, conjugate=conjugate, _factors=self._factors
        )

    def _adjoint(self) -> LinearOperator:
        cplx = aa.is_complex(self.xp, self.dtype)
        return self._with(not self._transposed, self._conjugated != cplx)

    def _transpose(self) -> LinearOperator:
        return self._with(not self._transposed, self._conjugated)

    def _invert(self) -> LinearOperator:
        D: LinearOperator = self.dense
        D = D.T if self._transposed else D
        return D.conj() if self._conjugated else D

    def _parameter_count(self) -> int:
        return self.shape[0] * self.shape[1]

    def _flops(self, k: int) -> int:
        return self.shape[0] * self.shape[1] * k  # two triangular solves

    def __repr__(self) -> str:
        inner = repr(self.dense)
        if self._transposed and self._conjugated:
            inner = f"Adjoint({inner})"
        elif self._transposed:
            inner = f"Transpose({inner})"
        elif self._conjugated:
            inner = f"Conjugate({inner})"
        return f"Inverse({inner})"


class ToeplitzInverse(LinearOperator):
    r"""``T^{-1}`` of a square ``Toeplitz`` ``T``, applied by ``T.solve`` at each product.

    Built by ``Toeplitz(c, r).inverse()``. NumPy: ``scipy.linalg.solve_toeplitz``
    (Levinson recursion, :math:`O(n^2)` per column, no matrix formed); if a
    leading minor of ``T`` is singular (Levinson needs them all invertible)
    the product falls back to a dense LU of ``T``. Other backends:
    ``xp.linalg.solve`` of the dense matrix. The adjoint is the inverse of
    ``T^H = Toeplitz(conj(r), conj(c))``.

    Examples
    --------
    >>> import numpy as np, scipy.linalg, structmat as sm
    >>> c, r = np.array([4.0, 1.0, 0.5]), np.array([4.0, -1.0, 2.0])
    >>> inv = sm.Toeplitz(c, r).inverse()
    >>> inv
    Inverse(Toeplitz(3x3, float64))
    >>> bool(np.allclose(inv.to_dense(), np.linalg.inv(scipy.linalg.toeplitz(c, r))))
    True
    """

    def __init__(self, T: Toeplitz) -> None:
        self.toeplitz = T
        super().__init__(shape=T.shape, dtype=T.dtype, xp=T.xp, device=T.device)

    def _matmat(self, X: Any) -> Any:
        return apply_columns(self.xp, X, self._solve)

    def _solve(self, X: Any) -> Any:
        T = self.toeplitz
        if not self._numpy:
            try:
                return self.xp.astype(T.solve(X), X.dtype, copy=False)
            except Exception as exc:  # each backend names a singular matrix its own way
                raise _singular(T, f"the solve failed ({exc})") from None
        try:
            Y = T.solve(X)
        except np.linalg.LinAlgError:
            # Levinson stops at a singular leading minor; T itself may be invertible.
            import scipy.linalg

            try:
                Y = scipy.linalg.solve(T.to_dense(), X)
            except np.linalg.LinAlgError as exc:
                raise _singular(T, f"the dense solve failed ({exc})") from None
        return np.asarray(Y).astype(X.dtype, copy=False)

    def _rmatmat(self, X: Any) -> Any:
        # torch: T^H is no Toeplitz (its sources stay live), so solve with the dense T^H
        xp = self.xp
        A = self._cast(self.toeplitz.to_dense(), X)
        A = xp.matrix_transpose(xp.conj(A) if aa.is_complex(xp, A.dtype) else A)
        return apply_columns(xp, X, lambda B: xp.linalg.solve(A, B))

    def _adjoint(self) -> LinearOperator:
        H = self.toeplitz.H
        return ToeplitzInverse(H) if isinstance(H, Toeplitz) else Adjoint(self)

    def _transpose(self) -> LinearOperator:
        T = self.toeplitz.T
        return ToeplitzInverse(T) if isinstance(T, Toeplitz) else Transpose(self)

    def _invert(self) -> LinearOperator:
        return self.toeplitz

    def _parameter_count(self) -> int:
        return 2 * self.shape[0] - 1

    def _flops(self, k: int) -> int:
        return 2 * self.shape[0] * self.shape[0] * k  # Levinson: about 2 n^2 per column

    def __repr__(self) -> str:
        return f"Inverse({self.toeplitz!r})"

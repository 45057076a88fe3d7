r"""Basic operators: Dense, Diagonal, Permutation.

``Identity`` and ``Zero`` live in :mod:`structmat.linop` beside the algebra
that absorbs them (re-exported here). Block structures (``BlockDiagonal``, ``Kronecker``, ``hstack``, ``vstack``,
``block``) live in :mod:`structmat.blocks`.
"""

from __future__ import annotations

from typing import Any

from structmat import _array_api as aa
from structmat._operand import _Converter
from structmat.linop import Identity, LinearOperator, Zero

__all__ = ["Dense", "Diagonal", "Identity", "Permutation", "Zero"]


def _as_array(a: Any, what: str, ndim: int) -> tuple[Any, Any]:
    xp = aa.namespace_of(a)
    if a.ndim != ndim:
        msg = f"{what} expects a {ndim}-d array, got shape {tuple(a.shape)}"
        raise ValueError(msg)
    return a, xp


def _as_data(a: Any, what: str, ndim: int) -> tuple[Any, Any]:
    # integer and boolean data become float64 (a copy), as a projection's input does
    a, xp = _as_array(a, what, ndim)
    return aa.floating_input(xp, a, what), xp


class Dense(LinearOperator):
    r"""A dense matrix as an operator.

    Parameters
    ----------
    A : array of shape (m, n)
        Kept as given (no copy; products read it live). Integer and boolean
        arrays are converted to float64 (a copy, no longer live).

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> A = np.arange(6.0).reshape(2, 3)
    >>> bool(np.allclose(sm.Dense(A) @ np.ones(3), A.sum(axis=1)))
    True
    """

    def __init__(self, A: Any, /, *, _conjugate: bool = False) -> None:
        A, xp = _as_data(A, "Dense", 2)
        super().__init__(shape=tuple(A.shape), dtype=A.dtype, xp=xp, device=aa.device_of(A))
        self._source, self._conjugate = A, _conjugate

    @property
    def A(self) -> Any:
        """The matrix (for the adjoint of a complex ``Dense``, the conjugate read afresh)."""
        A = self._source
        return self.xp.conj(A) if self._conjugate else A

    def _matmat(self, X: Any) -> Any:
        return self._cast(self.A, X) @ X

    def _rmatmat(self, X: Any) -> Any:
        xp, A = self.xp, self._cast(self.A, X)
        return xp.matrix_transpose(xp.conj(A) if aa.is_complex(xp, A.dtype) else A) @ X

    def _adjoint(self) -> LinearOperator:
        # A transposed view, conjugated on every read: it follows in-place changes.
        complex_ = aa.is_complex(self.xp, self.dtype)
        T = self.xp.matrix_transpose(self._source)
        return Dense(T, _conjugate=complex_ and not self._conjugate)

    def _transpose(self) -> LinearOperator:
        T = self.xp.matrix_transpose(self._source)
        return Dense(T, _conjugate=self._conjugate)

    def _map(self, convert: _Converter) -> LinearOperator:
        return Dense(convert(self._source), _conjugate=self._conjugate)

    def _parameter_count(self) -> int:
        return self.shape[0] * self.shape[1]

    def to_dense(self) -> Any:
        return self.A


class Diagonal(LinearOperator):
    r"""Diagonal matrix ``D = diag(d)``.

    Parameters
    ----------
    d : array of shape (n,)
        The diagonal (kept, no copy; integer or boolean: converted to float64).

    Notes
    -----
    :math:`(Dx)_i = d_i x_i`; :math:`D^H = \operatorname{diag}(\overline{d})`.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> bool(np.allclose(sm.Diagonal(np.arange(3.0)) @ np.ones(3), [0, 1, 2]))
    True
    """

    def __init__(self, d: Any, /, *, _conjugate: bool = False, _weak: bool = False) -> None:
        # ``_weak``: the exact real weights of a weak formula operator (the adjoints of
        # DCT/DST types 1-3), applied in the input's precision.
        d, xp = _as_data(d, "Diagonal", 1)
        super().__init__(
            shape=(d.shape[0], d.shape[0]),
            dtype=d.dtype,
            xp=xp,
            device=aa.device_of(d),
            weak=_weak,
        )
        self._source, self._conjugate = d, _conjugate

    @property
    def d(self) -> Any:
        """The diagonal (for the adjoint of a complex ``Diagonal``, the conjugate read afresh)."""
        d = self._source
        return self.xp.conj(d) if self._conjugate else d

    # An elementwise product mixes real and complex dtypes on every backend.
    def _matmat(self, X: Any) -> Any:
        d = self.d
        if self._weak and d.dtype != X.dtype:
            d = self.xp.astype(d, aa.real_dtype(self.xp, X.dtype) if self._real else X.dtype)
        return d[:, None] * X

    def _adjoint(self) -> LinearOperator:
        # Conjugated on every read, so the adjoint follows in-place changes of d.
        if not aa.is_complex(self.xp, self.dtype):
            return self
        return Diagonal(self._source, _conjugate=not self._conjugate, _weak=self._weak)

    def _transpose(self) -> LinearOperator:
        return self

    def _map(self, convert: _Converter) -> LinearOperator:
        weak = self._weak and convert.dtype is None
        return Diagonal(convert(self._source), _conjugate=self._conjugate, _weak=weak)

    def _parameter_count(self) -> int:
        return self.shape[0]

    def _flops(self, k: int) -> int:
        return self.shape[0] * k

    def to_dense(self) -> Any:
        xp = self.xp
        n = self.shape[0]
        D = xp.zeros((n * n,), dtype=self.dtype, device=self.device)
        D[:: n + 1] = self.d
        return xp.reshape(D, (n, n))

    def _repr_args(self) -> str:
        return f"{self.shape[0]}, {aa.dtype_name(self.dtype)}"


class Permutation(LinearOperator):
    r"""Permutation matrix ``P`` with ``P @ x == x[idx]``.

    Parameters
    ----------
    idx : integer array of shape (n,)
        A permutation of ``0, ..., n-1``. The operator keeps a copy
        (read-only on NumPy), so the validated index and its inverse can
        never disagree.
    dtype : optional
        The operator's dtype; it only sets the promotion of results, the
        multiply is a gather. Default: a weak float64 (results in the
        input's dtype, ``op.weak_dtype``).

    Notes
    -----
    :math:`P_{i, idx_i} = 1`. :math:`P^H = P^T = P^{-1}`, the permutation
    ``inverse_idx`` with ``inverse_idx[idx] = arange(n)`` (formerly this
    attribute was ``inverse``, now the method ``P.inverse()`` giving ``P^{-1}``).

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> P = sm.Permutation(np.array([2, 0, 1]))
    >>> (P @ np.array([10.0, 11.0, 12.0])).tolist()
    [12.0, 10.0, 11.0]
    >>> (P.H @ (P @ np.arange(3.0))).tolist()
    [0.0, 1.0, 2.0]
    """

    def __init__(self, idx: Any, /, *, dtype: Any = None) -> None:
        idx, xp = _as_array(idx, "Permutation", 1)
        if not xp.isdtype(idx.dtype, "integral"):
            msg = (
                f"Permutation expects an integer index array, got dtype {aa.dtype_name(idx.dtype)}"
            )
            raise TypeError(msg)
        n = idx.shape[0]
        idx = aa.private_copy(xp, idx)
        inverse = aa.read_only(aa.inverse_permutation(xp, idx, "Permutation"))
        weak = dtype is None
        dtype = xp.float64 if weak else aa.as_dtype(xp, dtype)
        super().__init__(shape=(n, n), dtype=dtype, xp=xp, device=aa.device_of(idx), weak=weak)
        self.idx = idx
        self.inverse_idx = inverse

    def _matmat(self, X: Any) -> Any:
        return self.xp.take(X, self.idx, axis=X.ndim - 2)

    def _adjoint(self) -> LinearOperator:
        return _permutation(self.inverse_idx, self.idx, self.dtype, self._weak)

    def _transpose(self) -> LinearOperator:
        return self.H

    def _map(self, convert: _Converter) -> LinearOperator:
        weak = self._weak and convert.dtype is None
        return _permutation(
            convert(self.idx), convert(self.inverse_idx), convert.cast_dtype(self.dtype), weak
        )

    def _parameter_count(self) -> int:
        return self.shape[0]

    def _flops(self, k: int) -> int:
        return 0

    def to_dense(self) -> Any:
        xp = self.xp
        n = self.shape[0]
        cols = xp.arange(n, dtype=self.idx.dtype, device=self.device)
        return xp.astype(self.idx[:, None] == cols[None, :], self.dtype)

    def _repr_args(self) -> str:
        return f"{self.shape[0]}"


def _permutation(idx: Any, inverse: Any, dtype: Any, weak: bool = False) -> Permutation:
    """A ``Permutation`` from a known-valid index and its inverse (no re-check)."""
    P = Permutation.__new__(Permutation)
    xp = aa.namespace_of(idx)
    LinearOperator.__init__(
        P, shape=(idx.shape[0],) * 2, dtype=dtype, xp=xp, device=aa.device_of(idx), weak=weak
    )
    P.idx, P.inverse_idx = idx, inverse
    return P

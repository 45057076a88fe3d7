r"""Basic operators: Dense, Identity, Zero, Diagonal, Permutation.

Block structures (``BlockDiagonal``, ``Kronecker``, ``hstack``, ``vstack``,
``block``) live in :mod:`structmat.blocks`.
"""

from __future__ import annotations

from typing import Any

from structmat import _array_api as aa
from structmat.linop import LinearOperator, _Converter

__all__ = ["Dense", "Diagonal", "Identity", "Permutation", "Zero"]


def _as_array(a: Any, what: str, ndim: int) -> tuple[Any, Any]:
    xp = aa.namespace_of(a)
    if a.ndim != ndim:
        msg = f"{what} expects a {ndim}-d array, got shape {tuple(a.shape)}"
        raise ValueError(msg)
    return a, xp


class Dense(LinearOperator):
    r"""A dense matrix as an operator.

    Parameters
    ----------
    A : array of shape (m, n)
        Kept as given (no copy).

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> A = np.arange(6.0).reshape(2, 3)
    >>> bool(np.allclose(sm.Dense(A) @ np.ones(3), A.sum(axis=1)))
    True
    """

    def __init__(self, A: Any, /) -> None:
        A, xp = _as_array(A, "Dense", 2)
        super().__init__(shape=tuple(A.shape), dtype=A.dtype, xp=xp, device=aa.device_of(A))
        self.A = A

    def _matmat(self, X: Any) -> Any:
        return self.A @ X

    def _batched(self, X: Any) -> Any:
        return self.A @ X

    def _rmatmat(self, X: Any) -> Any:
        return self.xp.matrix_transpose(self._conjA) @ X

    @property
    def _conjA(self) -> Any:
        xp = self.xp
        return xp.conj(self.A) if aa.is_complex(xp, self.dtype) else self.A

    def _adjoint(self) -> LinearOperator:
        return Dense(self.xp.matrix_transpose(self._conjA))

    def _transpose(self) -> LinearOperator:
        return Dense(self.xp.matrix_transpose(self.A))

    def _map(self, convert: _Converter) -> LinearOperator:
        return Dense(convert(self.A))

    def _parameter_count(self) -> int:
        return self.shape[0] * self.shape[1]

    def to_dense(self) -> Any:
        return self.A


class Identity(LinearOperator):
    """The ``n x n`` identity.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> bool(np.array_equal(sm.Identity(3) @ np.arange(3.0), np.arange(3.0)))
    True
    """

    def __init__(self, n: int, *, dtype: Any = None, xp: Any = None, device: Any = None) -> None:
        xp = aa.default_namespace(xp)
        dtype = xp.float64 if dtype is None else aa.as_dtype(xp, dtype)
        super().__init__(shape=(n, n), dtype=dtype, xp=xp, device=device)

    _promote_on_apply = False

    def _matmat(self, X: Any) -> Any:
        return X

    def _batched(self, X: Any) -> Any:
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

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> (sm.Zero((2, 3)) @ np.ones(3)).tolist()
    [0.0, 0.0]
    """

    def __init__(
        self, shape: tuple[int, int], *, dtype: Any = None, xp: Any = None, device: Any = None
    ) -> None:
        xp = aa.default_namespace(xp)
        dtype = xp.float64 if dtype is None else aa.as_dtype(xp, dtype)
        super().__init__(shape=shape, dtype=dtype, xp=xp, device=device)

    _promote_on_apply = False

    def _matmat(self, X: Any) -> Any:
        return self.xp.zeros((self.shape[0], X.shape[1]), dtype=X.dtype, device=self.device)

    def _batched(self, X: Any) -> Any:
        return self.xp.zeros(
            (X.shape[0], self.shape[0], X.shape[2]), dtype=X.dtype, device=self.device
        )

    def _adjoint(self) -> LinearOperator:
        return Zero(self.shape[::-1], dtype=self.dtype, xp=self.xp, device=self.device)

    def _transpose(self) -> LinearOperator:
        return Zero(self.shape[::-1], dtype=self.dtype, xp=self.xp, device=self.device)

    def _map(self, convert: _Converter) -> LinearOperator:
        return Zero(
            self.shape, dtype=convert.cast_dtype(self.dtype), xp=convert.xp, device=convert.device
        )

    def _parameter_count(self) -> int:
        return 0

    def _flops(self, k: int) -> int:
        return 0

    def to_dense(self) -> Any:
        return self.xp.zeros(self.shape, dtype=self.dtype, device=self.device)


class Diagonal(LinearOperator):
    r"""Diagonal matrix ``D = diag(d)``.

    Parameters
    ----------
    d : array of shape (n,)
        The diagonal (kept, no copy).

    Notes
    -----
    :math:`(Dx)_i = d_i x_i`; :math:`D^H = \operatorname{diag}(\overline{d})`.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> bool(np.allclose(sm.Diagonal(np.arange(3.0)) @ np.ones(3), [0, 1, 2]))
    True
    """

    def __init__(self, d: Any, /) -> None:
        d, xp = _as_array(d, "Diagonal", 1)
        super().__init__(
            shape=(d.shape[0], d.shape[0]), dtype=d.dtype, xp=xp, device=aa.device_of(d)
        )
        self.d = d

    # An elementwise product mixes real and complex dtypes on every backend.
    _promote_on_apply = False

    def _matmat(self, X: Any) -> Any:
        return self.d[:, None] * X

    def _batched(self, X: Any) -> Any:
        return self.d[:, None] * X

    def _adjoint(self) -> LinearOperator:
        xp = self.xp
        return Diagonal(xp.conj(self.d)) if aa.is_complex(xp, self.dtype) else self

    def _transpose(self) -> LinearOperator:
        return self

    def _map(self, convert: _Converter) -> LinearOperator:
        return Diagonal(convert(self.d))

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
        A permutation of ``0, ..., n-1``.
    dtype : optional
        The operator's dtype (float64 by default); it only sets the
        promotion of results, the multiply is a gather.

    Notes
    -----
    :math:`P_{i, idx_i} = 1`. :math:`P^H = P^T = P^{-1}`, the permutation
    ``inverse`` with ``inverse[idx] = arange(n)``.

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
        inverse = aa.inverse_permutation(xp, idx, "Permutation")
        dtype = xp.float64 if dtype is None else aa.as_dtype(xp, dtype)
        super().__init__(shape=(n, n), dtype=dtype, xp=xp, device=aa.device_of(idx))
        self.idx = idx
        self.inverse = inverse

    _promote_on_apply = False

    def _matmat(self, X: Any) -> Any:
        return self.xp.take(X, self.idx, axis=0)

    def _batched(self, X: Any) -> Any:
        return self.xp.take(X, self.idx, axis=1)

    def _adjoint(self) -> LinearOperator:
        return _permutation(self.inverse, self.idx, self.dtype)

    def _transpose(self) -> LinearOperator:
        return self.H

    def _map(self, convert: _Converter) -> LinearOperator:
        return _permutation(
            convert(self.idx), convert(self.inverse), convert.cast_dtype(self.dtype)
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


def _permutation(idx: Any, inverse: Any, dtype: Any) -> Permutation:
    """A ``Permutation`` from a known-valid index and its inverse (no re-check)."""
    P = Permutation.__new__(Permutation)
    xp = aa.namespace_of(idx)
    LinearOperator.__init__(
        P, shape=(idx.shape[0],) * 2, dtype=dtype, xp=xp, device=aa.device_of(idx)
    )
    P.idx, P.inverse = idx, inverse
    return P

r"""Multiply by Kronecker-sparse factors and chains of them, on any array-API namespace.

:func:`ks_matmat` / :func:`ks_rmatmat` apply one factor from its values
``T`` (a, b, c, d); :func:`ks_chain_matmat` applies a chain of factors given
in the matmul layout of :func:`ks_blocked`, one batched matmul per factor (on
NumPy through the column-tiled driver of :mod:`structmat.ks._tiled`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat.ks._patterns import _check_values
from structmat.ks._tiled import chain_matmat_tiled, chain_matvec

__all__ = ["ks_blocked", "ks_chain_matmat", "ks_matmat", "ks_rmatmat", "ks_to_dense"]

# Contraction widths up to this size use broadcast multiply-adds (no transposes);
# wider ones use one batched matmul.
_BROADCAST_MAX_C = 4
# A stack (B > 1) of inputs narrower than this runs factor by factor over the whole
# stack: column tiles of a few columns would cost more in calls than they save.
_STACK_MIN_COLUMNS = 8


def _conj(xp: Any, x: Any) -> Any:
    return xp.conj(x) if aa.is_complex(xp, x.dtype) else x


def _ks_apply(xp: Any, T: Any, X: Any) -> Any:
    """``F @ X`` for values ``T`` (a, b, c, d) and ``X`` of shape (B, a*c*d, k)."""
    a, b, c, d = (int(v) for v in T.shape)
    B, _, k = (int(v) for v in X.shape)
    if d == 1:
        # Block diagonal: one batched matmul (B, a, b, c) @ (B, a, c, k).
        Y = xp.matmul(T[:, :, :, 0], xp.reshape(X, (B, a, c, k)))
        return xp.reshape(Y, (B, a * b, k))
    x = xp.reshape(X, (B, a, c, d, k))
    if c <= _BROADCAST_MAX_C:
        # y[., i, j, l, :] = sum_k T[i, j, k, l] x[., i, k, l, :]: c broadcast multiply-adds.
        Y = T[:, :, 0, :, None] * x[:, :, None, 0, :, :]
        for kk in range(1, c):
            Y = Y + T[:, :, kk, :, None] * x[:, :, None, kk, :, :]
        return xp.reshape(Y, (B, a * b * d, k))
    # Wide contraction: (a, d, b, c) @ (B, a, d, c, k) -> (B, a, d, b, k).
    # A contiguous copy of the (small) values keeps the matmul on the BLAS path.
    return _blocked_apply(xp, ks_blocked(T), X)


def ks_blocked(T: Any, /) -> Any:
    """The values ``T`` (a, b, c, d) in the matmul layout ``(a, d, b, c)``, contiguous.

    ``M[i, l] = T[i, :, :, l]`` is the ``b x c`` block that maps the rows
    ``{i c d + k d + l}`` of the input to the rows ``{i b d + j d + l}`` of the
    output; :func:`ks_chain_matmat` consumes factors in this layout.

    Examples
    --------
    >>> import numpy as np
    >>> T = np.arange(24.0).reshape(1, 2, 3, 4)
    >>> M = ks_blocked(T)
    >>> M.shape, bool(M[0, 3, 1, 2] == T[0, 1, 2, 3])
    ((1, 4, 2, 3), True)
    """
    xp, (a, b, c, d) = _check_values(T)
    flat = xp.reshape(xp.permute_dims(T, (0, 3, 1, 2)), (a * d * b * c,))
    if isinstance(flat, np.ndarray):  # NumPy kernels read it through strided views
        flat = flat.copy()
    return xp.reshape(flat, (a, d, b, c))


def _blocked_apply(xp: Any, M: Any, X: Any, out: Any = None) -> Any:
    """``F @ X`` for blocked values ``M`` (a, d, b, c) and ``X`` (B, a*c*d, k), same dtype.

    NumPy: one ``np.matmul`` over the ``(i, l)`` blocks reading ``X`` and
    writing ``out`` (a fresh C-contiguous (B, a*b*d, k) array when ``None``)
    through strided views: every block row is a contiguous run of ``k``
    entries, so the matmul stays on the BLAS path and no transpose is copied.
    Other backends: one batched matmul between two transposes.
    """
    a, d, b, c = (int(v) for v in M.shape)
    B, _, k = (int(v) for v in X.shape)
    if aa.is_numpy(xp):
        if out is None:
            out = np.empty((B, a * b * d, k), dtype=X.dtype)
        if d == 1:
            np.matmul(M[:, 0], np.reshape(X, (B, a, c, k)), out=np.reshape(out, (B, a, b, k)))
        else:
            xin = np.reshape(X, (B, a, c, d, k)).transpose(0, 1, 3, 2, 4)
            yout = np.reshape(out, (B, a, b, d, k)).transpose(0, 1, 3, 2, 4)
            np.matmul(M, xin, out=yout)
        return out
    if d == 1:
        Y = xp.matmul(M[:, 0, ...], xp.reshape(X, (B, a, c, k)))
        return xp.reshape(Y, (B, a * b, k))
    x = xp.permute_dims(xp.reshape(X, (B, a, c, d, k)), (0, 1, 3, 2, 4))
    Y = xp.matmul(M, x)  # (B, a, d, b, k)
    return xp.reshape(xp.permute_dims(Y, (0, 1, 3, 2, 4)), (B, a * b * d, k))


def ks_chain_matmat(blocked: Any, X: Any, /) -> Any:
    r"""Apply a chain of KS factors, first factor first: ``F_m ⋯ F_2 F_1 X``.

    Parameters
    ----------
    blocked : sequence of arrays of shape (a, d, b, c)
        The factors in the layout of :func:`ks_blocked`, in the order they
        are applied, all of ``X``'s dtype.
    X : array of shape (B, n, k)
        A stack of inputs, ``n <= a*c*d`` of the first factor: missing rows
        read as zero (padding, as a Monarch's input is padded to ``K*p``).

    Returns
    -------
    array of shape (B, m, k)
        A new array (``X`` is not modified).

    Notes
    -----
    Every factor is one batched matmul over its ``(i, l)`` blocks. On NumPy
    each input matrix runs through the whole chain one column tile at a
    time (:mod:`structmat.ks._tiled`): the intermediates of a tile stay in
    two reused scratch buffers, every matmul reads and writes strided views
    (no transposes copied), and for small blocks worker threads take column
    ranges. A stack of narrow inputs (``k < 8``) runs the whole stack
    through each factor in turn instead, and a single factor (a
    block-diagonal matrix) runs as one matmul over all columns: with no
    intermediates to keep in cache, column tiles would only split it
    (benchmarks/bench_blocks.py). Other backends: one batched matmul between
    two transposes per factor.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> T1, T2 = rng.standard_normal((4, 2, 2, 1)), rng.standard_normal((1, 4, 4, 2))
    >>> X = rng.standard_normal((1, 8, 3))
    >>> Y = ks_chain_matmat([ks_blocked(T1), ks_blocked(T2)], X)
    >>> bool(np.allclose(Y[0], ks_to_dense(T2) @ ks_to_dense(T1) @ X[0]))
    True
    """
    if len(blocked) == 1 and type(X) is np.ndarray and X.shape[0] * X.shape[2] > 1:
        return _one_factor(blocked[0], X)
    xp = aa.namespace_of(X)
    B, n, k = (int(v) for v in X.shape)
    a0, d0, _, c0 = (int(v) for v in blocked[0].shape)
    if not aa.is_numpy(xp) or (B > 1 and k < _STACK_MIN_COLUMNS):
        if n < a0 * c0 * d0:
            zeros = xp.zeros((B, a0 * c0 * d0 - n, k), dtype=X.dtype, device=aa.device_of(X))
            X = xp.concat([X, zeros], axis=1)
        if aa.is_numpy(xp):
            return _chain_by_factor(blocked, np.ascontiguousarray(X))
        for M in blocked:
            X = _blocked_apply(xp, M, X)
        return X
    if B == 1 and k == 1:
        return chain_matvec(blocked, X[0, :, 0])[None, :, None]
    X = np.ascontiguousarray(X)
    a, d, b, _ = (int(v) for v in blocked[-1].shape)
    out = np.empty((B, a * d * b, k), dtype=X.dtype)
    for i in range(B):
        chain_matmat_tiled(blocked, X[i], out[i])
    return out


def _one_factor(M: Any, X: Any) -> Any:
    """NumPy ``F @ X`` for one factor ``M`` (a, d, b, c) and a stack ``X`` (B, n, k).

    A single factor (a block-diagonal matrix) has no intermediates to keep in
    cache: it runs as one matmul over all columns, as the former
    ``BlockDiagonal`` kernel did; column tiles would only split that matmul
    (benchmarks/bench_blocks.py).
    """
    a, d, b, c = M.shape
    B, n, k = X.shape
    if n < a * c * d:
        X = np.concatenate([X, np.zeros((B, a * c * d - n, k), dtype=X.dtype)], axis=1)
    if d == 1:
        return np.matmul(M[:, 0], X.reshape(B, a, c, k)).reshape(B, a * b, k)
    return _blocked_apply(aa.namespace_of(X), M, np.ascontiguousarray(X))


def chain_on_stack(blocked_of: Callable[[Any], Any], X: Any, real_chain: bool) -> Any:
    """``ks_chain_matmat(blocked_of(dtype), X)`` for a stack ``X`` (B, n, k).

    ``blocked_of(dtype)`` gives the factors in that dtype. A real chain on
    complex NumPy data runs the real and imaginary parts as ``2k`` real columns
    of one view of ``X`` (real matmuls, no copy of the parts).
    """
    if real_chain and isinstance(X, np.ndarray) and np.iscomplexobj(X):
        b, n, k = X.shape
        real = X.real.dtype
        Xr = np.ascontiguousarray(X).view(real).reshape(b, n, 2 * k)
        return ks_chain_matmat(blocked_of(real), Xr).view(X.dtype)
    return ks_chain_matmat(blocked_of(X.dtype), X)


def _chain_by_factor(blocked: Any, X: Any) -> Any:
    """NumPy ``F_m ⋯ F_1 X`` for a C-contiguous stack ``X``, one factor at a time over all of it.

    Each factor is one ``np.matmul`` between strided views of two buffers
    used in turn: ``m`` passes over the data and no copies.
    """
    B, _, k = (int(v) for v in X.shape)
    spare: Any = None  # a buffer of ours that the next factor may overwrite
    own = False  # whether X is ours (never overwrite the caller's input)
    for M in blocked:
        a, d, b, _ = (int(v) for v in M.shape)
        out = spare if spare is not None and spare.shape == (B, a * b * d, k) else None
        Y = _blocked_apply(aa.namespace_of(X), M, X, out)
        spare = X if own else None
        X, own = Y, True
    return X


def _promote(xp: Any, T: Any, X: Any) -> tuple[Any, Any]:
    dtype = xp.result_type(T.dtype, X.dtype)
    if T.dtype != dtype:
        T = xp.astype(T, dtype)
    if X.dtype != dtype:
        X = xp.astype(X, dtype)
    return T, X


def ks_matmat(T: Any, X: Any, /) -> Any:
    r"""Multiply the KS factor with values ``T`` by ``X``.

    Parameters
    ----------
    T : array of shape (a, b, c, d)
        The factor's values, ``F[i*b*d + j*d + l, i*c*d + k*d + l] = T[i, j, k, l]``.
    X : array of shape (a*c*d,), (a*c*d, k) or (..., a*c*d, k)
        Leading dimensions are a batch.

    Returns
    -------
    array of shape (a*b*d,), (a*b*d, k) or (..., a*b*d, k)
        ``F @ X`` in the promoted dtype.

    Notes
    -----
    View ``x`` as ``(a, c, d)``; then ``y[i, j, l] = Σ_k T[i, j, k, l] x[i, k, l]``.
    For ``d = 1`` this is one batched matmul; for narrow ``c`` (butterflies:
    ``c = 2``) it is ``c`` broadcast multiply-adds; otherwise one batched matmul
    between two transposes.

    Examples
    --------
    >>> import numpy as np
    >>> T = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    >>> X = np.ones((40, 2))
    >>> bool(np.allclose(ks_matmat(T, X), ks_to_dense(T) @ X))
    True
    """
    xp, (a, b, c, d) = _check_values(T)
    n = a * c * d
    if X.ndim == 0 or X.shape[0 if X.ndim == 1 else -2] != n:
        msg = (
            f"KS factor with pattern {(a, b, c, d)} expects input with {n} rows "
            f"(shape ({n},), ({n}, k) or (..., {n}, k)), got shape {tuple(X.shape)}"
        )
        raise ValueError(msg)
    T, X = _promote(xp, T, X)
    if X.ndim == 1:
        return xp.reshape(_ks_apply(xp, T, xp.reshape(X, (1, n, 1))), (a * b * d,))
    lead = tuple(X.shape[:-2])
    nb = 1
    for v in lead:
        nb *= int(v)
    Y = _ks_apply(xp, T, xp.reshape(X, (nb, n, int(X.shape[-1]))))
    return xp.reshape(Y, (*lead, a * b * d, int(X.shape[-1])))


def _adjoint_values(xp: Any, T: Any) -> Any:
    """Values of ``F^H``: pattern ``(a, c, b, d)``, ``conj(T[i, j, k, l])`` at ``[i, k, j, l]``."""
    return _conj(xp, xp.permute_dims(T, (0, 2, 1, 3)))


def ks_rmatmat(T: Any, X: Any, /) -> Any:
    r"""``F^H @ X`` for the KS factor with values ``T``.

    ``F^H`` is the KS factor with pattern ``(a, c, b, d)`` and values
    ``conj(T)`` with the middle axes swapped.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> T = rng.standard_normal((2, 3, 2, 4)) + 1j * rng.standard_normal((2, 3, 2, 4))
    >>> X = rng.standard_normal((24, 3))
    >>> bool(np.allclose(ks_rmatmat(T, X), ks_to_dense(T).conj().T @ X))
    True
    """
    xp, _ = _check_values(T)
    return ks_matmat(_adjoint_values(xp, T), X)


def ks_to_dense(T: Any, /) -> Any:
    """The dense ``(a*b*d, a*c*d)`` matrix of the KS factor with values ``T``.

    Examples
    --------
    >>> import numpy as np
    >>> ks_to_dense(np.ones((2, 1, 1, 1))).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    xp, (a, b, c, d) = _check_values(T)
    n = a * c * d
    if isinstance(T, np.ndarray):
        # Scatter the values into place: O(nnz) writes, not a product with the identity.
        D = np.zeros((a * b * d, n), dtype=T.dtype)
        D.reshape(-1)[support_indices((a, b, c, d))] = T.reshape(-1)
        return D
    return ks_matmat(T, xp.eye(n, dtype=T.dtype, device=aa.device_of(T)))


def support_indices(pattern: tuple[int, int, int, int]) -> np.ndarray:
    """Flat (row-major) indices into the ``(a*b*d, a*c*d)`` matrix of ``T[i, j, k, l]``, in ``T``'s order."""
    a, b, c, d = pattern
    i, j, k, ll = np.ogrid[:a, :b, :c, :d]
    return ((i * b * d + j * d + ll) * (a * c * d) + (i * c * d + k * d + ll)).reshape(-1)

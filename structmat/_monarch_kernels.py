"""The Monarch multiply kernels (private; :class:`structmat.Monarch` calls them).

``forward`` computes ``M @ X`` from ``W1 = R`` and ``W2 = L``, ``backward``
``Mᴴ @ Y`` (or ``Mᵀ @ Y``) from ``W1 = Lᴴ`` and ``W2 = Rᴴ`` blocks (or the
transposes), following DESIGN.md §4: two batched matmuls and two transposes.
``dims = (K, J, p, s, r)``. On NumPy a matrix goes through column tiles (worker
threads for small blocks), a vector through batched matrix-vector products;
other backends, and stacks, take the array-API kernels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat import _pool
from structmat._args import ceil_div

Dims = tuple[int, int, int, int, int]

# Column tiling of the NumPy matmat kernel: for blocks of at most 64x64 OpenBLAS
# runs each product on one thread, so worker threads take column ranges in tiles
# of 128. Larger blocks are threaded inside BLAS (worker threads on top of it made
# them slower), with tiles of about n/8 columns. Below about 2^23
# multiply-adds per product (k * n * block) handing work to the threads costs more
# than it saves. The timings behind these thresholds are in docs/benchmarks.md,
# "Design measurements".
_MIN_TILE, _MAX_TILE = 64, 2048
_POOL_TILE, _POOL_BLOCK, _POOL_WORK = 128, 64, 1 << 23


def _tile_columns(n: int, r: int) -> int:
    return int(min(_MAX_TILE, max(_MIN_TILE, n // (8 * max(r, 1)))))


def _over_columns(k: int, block: int, n: int, r: int, run: Callable[[int, int, int], None]) -> None:
    """Call ``run(c0, c1, tile)`` on column ranges that together cover ``range(k)``.

    Blocks of at most ``_POOL_BLOCK`` rows and columns give products OpenBLAS
    runs on one thread, so when there is enough work (``_POOL_WORK``) the
    column range is split evenly between worker threads (NumPy's matmul
    releases the GIL), each with its own scratch arrays and tiles of at most
    ``_POOL_TILE`` columns. Larger blocks are threaded inside BLAS: one range,
    tiles of about ``n/8`` columns.
    """
    if _pool.WORKERS > 1 and block <= _POOL_BLOCK and k >= 16 and k * n * block >= _POOL_WORK:
        # One range per worker, a multiple of 8 columns; tiles of at most _POOL_TILE.
        step = ceil_div(k, 8 * _pool.WORKERS) * 8
        tile = min(step, _POOL_TILE)
        starts = range(0, k, step)
        list(_pool.pool().map(lambda c0: run(c0, min(c0 + step, k), tile), starts))
    else:
        run(0, k, min(k, _tile_columns(n, r)))


def _padded(X: Any, rows: int, dtype: Any) -> Any:
    """``X`` (n, t) with zero rows appended up to ``rows``, in this thread's scratch array."""
    n, t = X.shape
    buf = _pool.scratch((rows, t), dtype, "monarch.pad")
    buf[:n] = X
    buf[n:] = 0
    return buf


def _tiled(
    X: Any,
    dims: Dims,
    rows: tuple[int, int, int],
    dtype: Any,
    products: Callable[[Any, Any, int], None],
) -> Any:
    """The NumPy matmat driver: ``products(x_tile, out_tile, t)`` on column tiles of ``X``.

    ``rows = (padded input, full output, kept output)``. Tiles keep the
    intermediate small and reused; input tiles are zero-padded in a scratch
    array, and the products write straight into the output's columns.
    """
    K, J, p, s, r = dims
    n, k = X.shape
    rows_in, rows_out, keep = rows
    out = np.empty((rows_out, k), dtype=dtype)

    def run(c0: int, c1: int, tile: int) -> None:
        for a in range(c0, c1, tile):
            t = min(tile, c1 - a)
            xt = X[:, a : a + t]
            if n < rows_in:
                xt = _padded(xt, rows_in, dtype)
            products(xt, out[:, a : a + t], t)

    _over_columns(k, max(p, r * J, s, K * r), rows_in, r, run)
    return out[:keep] if keep != rows_out else out


def _np_forward(W1: Any, W2: Any, X: Any, dims: Dims, m_out: int) -> Any:
    """NumPy kernel of ``M @ X`` (``W1 = R``, ``W2 = L``) for ``X`` of shape (n, k).

    The second product writes through a strided ``out=`` view of the output's
    columns: the second transpose costs nothing.
    """
    K, J, p, s, r = dims
    dtype = np.result_type(W1.dtype, X.dtype)

    def products(xt: Any, ot: Any, t: int) -> None:
        buf = _pool.scratch((K, r * J, t), dtype, "monarch.mid")
        np.matmul(W1, xt.reshape(K, p, t), out=buf)
        y2 = buf.reshape(K * r, J, t).transpose(1, 0, 2)
        np.matmul(W2, y2, out=ot.reshape(s, J, t).transpose(1, 0, 2))

    return _tiled(X, dims, (K * p, s * J, m_out), dtype, products)


def _np_backward(W1: Any, W2: Any, Y: Any, dims: Dims, n_out: int) -> Any:
    """NumPy kernel of ``Mᴴ @ Y`` (``W1 = Lᴴ`` blocks, ``W2 = Rᴴ`` blocks), Y (m, k)."""
    K, J, p, s, r = dims
    dtype = np.result_type(W1.dtype, Y.dtype)

    def products(yt: Any, ot: Any, t: int) -> None:
        buf = _pool.scratch((K * r, J, t), dtype, "monarch.mid")
        np.matmul(W1, yt.reshape(s, J, t).transpose(1, 0, 2), out=buf.transpose(1, 0, 2))
        np.matmul(W2, buf.reshape(K, r * J, t), out=ot.reshape(K, p, t))

    return _tiled(Y, dims, (s * J, K * p, n_out), dtype, products)


def _pad_rows(xp: Any, X: Any, rows: int) -> Any:
    """``X`` (..., n, k) with zero rows appended up to ``rows`` (``X`` itself if none are needed)."""
    *lead, n, k = X.shape
    if n >= rows:
        return X
    zeros = xp.zeros((*lead, rows - n, k), dtype=X.dtype, device=aa.device_of(X))
    return xp.concat([X, zeros], axis=-2)


def _xp_forward(xp: Any, W1: Any, W2: Any, X: Any, dims: Dims, m_out: int) -> Any:
    """Array-API kernel of ``M @ X`` for ``X`` of shape (..., n, k)."""
    K, J, p, s, r = dims
    lead = tuple(X.shape[:-2])
    k = X.shape[-1]
    X = _pad_rows(xp, X, K * p)
    nd = len(lead)
    Y1 = xp.matmul(W1, xp.reshape(X, (*lead, K, p, k)))
    Y2 = xp.reshape(Y1, (*lead, K * r, J, k))
    Y2 = xp.permute_dims(Y2, (*range(nd), nd + 1, nd, nd + 2))
    Y3 = xp.matmul(W2, Y2)
    Y = xp.reshape(xp.permute_dims(Y3, (*range(nd), nd + 1, nd, nd + 2)), (*lead, s * J, k))
    return Y[..., :m_out, :] if m_out != s * J else Y


def _xp_backward(xp: Any, W1: Any, W2: Any, Y: Any, dims: Dims, n_out: int) -> Any:
    """Array-API kernel of ``Mᴴ @ Y`` (``W1`` = Lᴴ blocks, ``W2`` = Rᴴ blocks)."""
    K, J, p, s, r = dims
    lead = tuple(Y.shape[:-2])
    k = Y.shape[-1]
    Y = _pad_rows(xp, Y, s * J)
    nd = len(lead)
    Y1 = xp.permute_dims(xp.reshape(Y, (*lead, s, J, k)), (*range(nd), nd + 1, nd, nd + 2))
    Z1 = xp.matmul(W1, Y1)  # (..., J, K*r, k)
    Z2 = xp.permute_dims(Z1, (*range(nd), nd + 1, nd, nd + 2))  # (..., K*r, J, k)
    Z2 = xp.reshape(Z2, (*lead, K, r * J, k))
    Z = xp.reshape(xp.matmul(W2, Z2), (*lead, K * p, k))
    return Z[..., :n_out, :] if n_out != K * p else Z


def _np_forward_vec(W1: Any, W2: Any, x: Any, dims: Dims, m_out: int) -> Any:
    """``M @ x`` for one vector: two batched matrix-vector products.

    NumPy's ``matmul`` sends a ``(..., p, 1)`` operand to BLAS ``gemv``. The
    second product writes a contiguous ``(J, s)`` result and one small copy
    transposes it: cheaper than writing through a strided ``out=`` view,
    which NumPy does not hand to ``gemv`` directly.
    """
    K, J, p, s, r = dims
    n = x.shape[0]
    if n < K * p:
        x = np.concatenate([x, np.zeros(K * p - n, dtype=x.dtype)])
    y1 = np.matmul(W1, x.reshape(K, p, 1))  # (K, r*J, 1)
    y3 = np.matmul(W2, y1.reshape(K * r, J).T[:, :, None])  # (J, s, 1)
    return y3[:, :, 0].T.reshape(s * J)[:m_out]


def _np_backward_vec(W1: Any, W2: Any, y: Any, dims: Dims, n_out: int) -> Any:
    """``Mᴴ @ y`` for one vector (``W1`` = Lᴴ blocks, ``W2`` = Rᴴ blocks)."""
    K, J, p, s, r = dims
    m = y.shape[0]
    if m < s * J:
        y = np.concatenate([y, np.zeros(s * J - m, dtype=y.dtype)])
    z = np.empty((K * r, J), dtype=np.result_type(W1.dtype, y.dtype))
    np.matmul(W1, y.reshape(s, J).T[:, :, None], out=z.T[:, :, None])
    z3 = np.matmul(W2, z.reshape(K, r * J, 1))
    return z3.reshape(K * p)[:n_out]


def forward(xp: Any, numpy: bool, W1: Any, W2: Any, X: Any, dims: Dims, m_out: int) -> Any:
    """``M @ X`` for ``X`` (..., n, k); the first ``m_out`` rows of the result."""
    if numpy and X.ndim == 2:
        if X.shape[1] == 1:
            return _np_forward_vec(W1, W2, X[:, 0], dims, m_out)[:, None]
        return _np_forward(W1, W2, X, dims, m_out)
    return _xp_forward(xp, W1, W2, X, dims, m_out)


def backward(xp: Any, numpy: bool, W1: Any, W2: Any, Y: Any, dims: Dims, n_out: int) -> Any:
    """``Mᴴ @ Y`` (or ``Mᵀ @ Y``, by the blocks given) for ``Y`` (..., m, k)."""
    if numpy and Y.ndim == 2:
        if Y.shape[1] == 1:
            return _np_backward_vec(W1, W2, Y[:, 0], dims, n_out)[:, None]
        return _np_backward(W1, W2, Y, dims, n_out)
    return _xp_backward(xp, W1, W2, Y, dims, n_out)

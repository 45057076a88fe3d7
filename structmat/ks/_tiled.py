"""The NumPy driver of KS chains: column tiles, worker threads, scratch buffers (private).

A chain ``F_m ⋯ F_1`` applied to a matrix ``X`` (n, k) runs one column tile
at a time through *every* factor: the tile's intermediates live in two
per-thread scratch buffers (:func:`structmat._pool.scratch`) used in turn, so
they stay small and warm instead of making ``m`` passes over ``(n_f, k)``
arrays. Each factor is one ``np.matmul`` over its ``(i, l)`` blocks between
strided views (the input tile is a column slice of ``X``, the last factor
writes straight into the output's columns): no transposes are copied.

An input with fewer rows than the first factor's columns is read as
zero-padded: each tile is copied into a third scratch buffer with zero rows
below it (a Monarch whose ``K*p`` exceeds its ``n_in``). The tiling rules are
those of the former NumPy Monarch kernel, with the work counted as the
chain's multiply-adds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from structmat import _pool
from structmat._args import ceil_div

__all__ = ["chain_matmat_tiled", "chain_matvec"]

# Chains whose blocks are at most _POOL_BLOCK rows and columns have worker threads
# take column ranges (BLAS at one thread meanwhile) in tiles of at most _POOL_TILE,
# when a product has at least _POOL_WORK multiply-adds (below that, handing work to
# the threads costs more than it saves). Larger blocks are threaded inside BLAS, one
# range in tiles of about rows/8 columns, within [_MIN_TILE, _MAX_TILE].
# benchmarks/bench_ks.py measures these choices against Monarch's kernel.
_MIN_TILE, _MAX_TILE = 64, 2048
_POOL_TILE, _POOL_BLOCK, _POOL_WORK = 128, 64, 1 << 24
_SLOTS = ("ks.even", "ks.odd")
_PAD_SLOT = "ks.pad"


def _over_columns(
    k: int, block: int, rows: int, work: int, run: Callable[[int, int, int], None]
) -> None:
    """Call ``run(c0, c1, tile)`` on column ranges that together cover ``range(k)``.

    ``block`` is the largest block side of the chain, ``rows`` its widest
    intermediate and ``work`` its multiply-adds per column.

    The worker threads run with BLAS at one thread where a block times a tile
    might be threaded by BLAS itself (:func:`structmat._pool.map_small_gemms`):
    OpenBLAS threads a ``64 x 64`` block times a 128-column tile, and its
    threads on top of the workers oversubscribe the cores: on the 2-core
    benchmark machine under load, the Monarch patterns (64 x 64 blocks) ran
    many times slower tiled with BLAS threads than with one BLAS thread
    (benchmarks/bench_ks.py; figures in docs/benchmarks.md, bench_ks section).
    """
    if _pool.WORKERS > 1 and block <= _POOL_BLOCK and k >= 16 and k * work >= _POOL_WORK:
        # One range per worker, a multiple of 8 columns; tiles of at most _POOL_TILE.
        step = ceil_div(k, 8 * _pool.WORKERS) * 8
        tile = min(step, _POOL_TILE)
        _pool.map_small_gemms(
            lambda c0: run(c0, min(c0 + step, k), tile), range(0, k, step), block * block * tile
        )
    else:
        run(0, k, min(k, max(_MIN_TILE, min(_MAX_TILE, rows // 8))))


def _apply_into(M: Any, src: Any, dst: Any) -> None:
    """``dst[...] = F @ src`` for blocked values ``M`` (a, d, b, c).

    ``src`` (a*c*d, t) and ``dst`` (a*b*d, t) are 2-d views with unit column
    stride (column slices of C-contiguous arrays); splitting their rows into
    ``(a, c, d)`` / ``(a, b, d)`` is a view, so ``out=`` writes ``dst`` itself.
    """
    a, d, b, c = M.shape
    t = src.shape[1]
    if d == 1:
        np.matmul(M[:, 0], src.reshape(a, c, t), out=dst.reshape(a, b, t))
    elif t == 1:
        # One column: NumPy sends a (..., c, 1) operand to BLAS gemv only with a
        # contiguous result, so write one and copy its (a*b*d) entries into place.
        y = np.matmul(M, src.reshape(a, c, d, 1).transpose(0, 2, 1, 3))
        dst.reshape(a, b, d).transpose(0, 2, 1)[...] = y[..., 0]
    else:
        xin = src.reshape(a, c, d, t).transpose(0, 2, 1, 3)
        np.matmul(M, xin, out=dst.reshape(a, b, d, t).transpose(0, 2, 1, 3))


def chain_matmat_tiled(blocked: Sequence[Any], X: Any, out: Any = None) -> Any:
    """``F_m ⋯ F_1 X`` for a NumPy matrix ``X`` (n, k) with unit column stride.

    ``blocked``: the factors in :func:`structmat.ks.ks_blocked` layout, in
    the order they are applied, all of ``X``'s dtype; ``X`` may have fewer
    rows than the first factor's columns (the rest read as zero). ``out``: an
    (m, k) array with unit column stride to write into (a new C-contiguous
    one when ``None``); it must not overlap ``X``. Returns ``out``.
    """
    n, k = X.shape
    a0, d0, _, c0 = (int(v) for v in blocked[0].shape)
    rows = [a0 * c0 * d0] + [int(M.shape[0] * M.shape[1] * M.shape[2]) for M in blocked]
    if out is None:
        out = np.empty((rows[-1], k), dtype=X.dtype)
    block = max(max(int(M.shape[2]), int(M.shape[3])) for M in blocked)
    work = sum(int(M.size) for M in blocked)
    last = len(blocked) - 1

    def run(c0: int, c1: int, tile: int) -> None:
        for j in range(c0, c1, tile):
            t = min(tile, c1 - j)
            src = X[:, j : j + t]
            if n < rows[0]:
                pad = _pool.scratch((rows[0], t), X.dtype, _PAD_SLOT)
                pad[:n] = src
                pad[n:] = 0
                src = pad
            for f, M in enumerate(blocked):
                if f == last:
                    dst = out[:, j : j + t]
                else:
                    dst = _pool.scratch((rows[f + 1], t), X.dtype, _SLOTS[f % 2])
                _apply_into(M, src, dst)
                src = dst

    _over_columns(k, block, max(rows), work, run)
    return out


def chain_matvec(blocked: Sequence[Any], x: Any) -> Any:
    """``F_m ⋯ F_1 x`` for a NumPy vector ``x`` (n,): one batched gemv per factor.

    NumPy sends a ``(..., c, 1)`` operand to BLAS ``gemv``; each factor writes
    a contiguous ``(a, d, b)`` result and one small copy puts it in row order
    ``(a, b, d)``: cheaper than the tiled driver's scratch buffers and views
    for a single column. ``x`` shorter than the first factor's columns is
    zero-padded. Returns a new C-contiguous vector.
    """
    a0, d0, _, c0 = blocked[0].shape
    if x.shape[0] < a0 * c0 * d0:
        x = np.concatenate([x, np.zeros(a0 * c0 * d0 - x.shape[0], dtype=x.dtype)])
    for M in blocked:
        a, d, b, c = M.shape
        if d == 1:
            x = np.matmul(M[:, 0], x.reshape(a, c, 1)).reshape(a * b)
        else:
            y = np.matmul(M, x.reshape(a, c, d).transpose(0, 2, 1)[..., None])
            x = y.reshape(a, d, b).transpose(0, 2, 1).reshape(a * b * d)
    return x

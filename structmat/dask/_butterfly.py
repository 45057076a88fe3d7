r"""Butterfly and KS-chain projection of a Dask array, every split on the workers.

Both hierarchies (:meth:`structmat.butterfly.Butterfly.project`,
:func:`structmat.ks.ks_project_chain`) start with one exact two-factor split
of the full matrix, ``A ≈ X · H_1``; every later step works on ``H_1``
alone. That split is one truncated SVD per block of the pair of KS patterns
(rows ``{i b1 d1 + j d1 + l}`` by columns ``{i2 c2 d2 + k2 d2 + l2}``), so it
runs on tiles of whole blocks, each task returning its blocks' SVD data.
The same tiles carry the certificate's Gram sums and the KS chain's
two-factor error bounds, which add over blocks.

``H_1`` (``n²/b`` entries for a butterfly of first radix ``b``; the support
of the first right factor for a KS chain) is block diagonal over the first
split's column groups ``i2``, and the later splits keep it so. Its rows stay
on the workers: one task per run of column groups gathers its rows from the
tiles and runs the in-memory code on them; only the left factor of the first
split and the later factors' values come back to this process.

Passes over ``A``: one for the scale (sum of squares, largest entry), one
for the splits (with the Gram sums of the certificate, or the KS chain's
residual and lower bounds).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._dense import _window, ldexp, unscale
from structmat._result import ProjectionResult
from structmat.ks._patterns import Pattern

# Tiles hold about this many bytes of A (a test lowers it to force many tiles).
_TILE_BYTES = 1 << 27
# The later splits run as at least this many tasks (where the first split has as
# many column groups), each on at most a tile's budget of the first right factor.
_LATER_RUNS = 8


# ---------------------------------------------------------------------- tiles
class _Tiling:
    """Tiles of whole blocks of the KS pair ``(left, right)`` over an ``M x N`` Dask array.

    A tile is ``qi`` row groups ``i`` (all ``j``) by ``w`` consecutive ``l``
    (all of ``d1``, or a piece of it when one row group is too large) by
    ``qc`` column groups ``i2`` (all ``k2``, ``l2``: contiguous columns).
    ``A`` is rechunked so that a tile is one chunk, or ``b1`` row chunks (one
    per ``j``) of one column chunk.
    """

    def __init__(self, A: Any, left: Pattern, right: Pattern) -> None:
        a1, b1, _, d1 = left
        a2, _, c2, d2 = right
        self.left, self.right = left, right
        item = max(np.dtype(A.dtype).itemsize, 8)
        budget = max(_TILE_BYTES // item, 1)  # elements per tile
        M, width = a1 * b1 * d1, c2 * d2
        if M * width <= budget:  # whole column panels of qc groups
            qi, w, qc = a1, d1, max(1, min(a2, budget // (M * width)))
        elif b1 * d1 * width <= budget:  # qi whole row groups of one column group
            qi, w, qc = max(1, min(a1, budget // (b1 * d1 * width))), d1, 1
        else:  # pieces of w rows of each of the b1 strips of one row group
            qi, w, qc = 1, max(1, min(d1, budget // (b1 * width))), 1
        self.qi, self.w, self.qc = qi, w, qc
        cols = _runs(a2, qc, width)
        if w == d1:
            rows = _runs(a1, qi, b1 * d1)
        else:
            pieces = _runs(d1, w, 1)
            rows = pieces * (a1 * b1)
        self.pieces = 1 if w == d1 else len(_runs(d1, w, 1))
        self.A = A.rechunk((rows, cols))

    def tiles(self) -> list[tuple[list[Any], tuple[int, int, int, int], tuple[int, int, int]]]:
        """``(chunks, (i0, qi, l0, w), (i20, qc, _))`` for every tile (delayed chunks)."""
        a1, b1, _, d1 = self.left
        a2 = self.right[0]
        grid = self.A.to_delayed()
        out = []
        for c, i20 in enumerate(range(0, a2, self.qc)):
            qc = min(self.qc, a2 - i20)
            if self.w == d1:
                for r, i0 in enumerate(range(0, a1, self.qi)):
                    qi = min(self.qi, a1 - i0)
                    out.append(([grid[r, c]], (i0, qi, 0, d1), (i20, qc, 0)))
                continue
            for i in range(a1):
                for p, l0 in enumerate(range(0, d1, self.w)):
                    w = min(self.w, d1 - l0)
                    chunks = [grid[(i * b1 + j) * self.pieces + p, c] for j in range(b1)]
                    out.append((chunks, (i, 1, l0, w), (i20, qc, 0)))
        return out

    def ids(self, rows: tuple[int, int, int, int], cols: tuple[int, int, int]) -> np.ndarray:
        """Block ids ``((i2 a1 + i) d1 + l) d2 + l2`` of a tile's blocks, in tile order."""
        a1, _, _, d1 = self.left
        d2 = self.right[3]
        i0, qi, l0, w = rows
        i20, qc, _ = cols
        i2 = np.arange(i20, i20 + qc)[:, None, None, None]
        i = np.arange(i0, i0 + qi)[None, :, None, None]
        lo = np.arange(l0, l0 + w)[None, None, :, None]
        l2 = np.arange(d2)[None, None, None, :]
        return (((i2 * a1 + i) * d1 + lo) * d2 + l2).reshape(-1)


def _runs(count: int, per: int, size: int) -> tuple[int, ...]:
    """Chunk sizes: ``count`` units of ``size`` in runs of ``per`` (the last one shorter)."""
    return tuple(min(per, count - s) * size for s in range(0, count, per))


def _tile_blocks(chunks: tuple[Any, ...], shape: tuple[int, ...], e: int, dtype: Any) -> Any:
    """A tile's blocks ``(nblk, b1, c2)`` in the order ``(i2, i, l, l2)``, scaled by ``2^-e``."""
    b1, c2 = shape[1], shape[4]
    parts = [np.asarray(c) for c in chunks]
    T = parts[0] if len(parts) == 1 else np.stack(parts, axis=0)
    T = np.reshape(T.astype(dtype, copy=False), shape)
    blocks = np.ascontiguousarray(np.transpose(T, (3, 0, 2, 5, 1, 4))).reshape(-1, b1, c2)
    return ldexp(np, blocks, -e)


def _split_tile(
    *chunks: Any, shape: tuple[int, ...], e: int, dtype: Any, sizes: np.ndarray, rank1: bool
) -> tuple[Any, Any, float]:
    """Truncated SVDs of a tile's blocks: ``(U (nblk, b1, r), S Vᴴ (nblk, r, c2), err²)``.

    Block ``k`` keeps its ``sizes[k]`` leading singular triplets (``r`` the
    largest rank kept, at least one; smaller ranks zero-padded); ``rank1``:
    the closed-form 2-row solve of :func:`structmat.ks.ks_project_two` (all
    sizes one, ``b1 = 2``). Zero-size blocks are lost whole.
    """
    from structmat.ks._project import _abs2, _discarded, _rank_one_two_rows, _stack_top_k

    blocks = _tile_blocks(chunks, shape, e, dtype)
    if rank1:
        u, h, discarded = _rank_one_two_rows(np, blocks)
        U, SV = u[..., None], h[:, None, :]
        dead = sizes == 0
        U[dead], SV[dead] = 0, 0
        lost = np.where(dead, np.einsum("kbc,kbc->k", blocks, blocks.conj()).real, discarded)
        return U, SV, float(np.sum(lost))
    # The in-memory engine on each rank's stack, so both paths give the same factors.
    nblk, b1, c2 = blocks.shape
    q = min(b1, c2)
    ranks = np.minimum(sizes, q)
    r = max(1, int(ranks.max()))
    U = np.zeros((nblk, b1, r), dtype=blocks.dtype)
    SV = np.zeros((nblk, r, c2), dtype=blocks.dtype)
    eps = aa.eps(np, blocks.dtype)
    tol = max(1e-11, eps)
    lost = 0.0
    for k in np.unique(ranks).tolist():
        idx = np.flatnonzero(ranks == k)
        S = blocks[idx]
        if k == 0:
            lost += float(np.sum(_abs2(np, S)))
            continue
        Lc, Rr, captured, trace = _stack_top_k(np, S, k, eps, tol, "auto")
        U[idx, :, :k], SV[idx, :k, :] = Lc, Rr
        if k < q:
            lost += float(np.sum(_discarded(np, S, Lc, Rr, captured, trace, eps, tol)))
    return U, SV, lost


def _gram_tile(*chunks: Any, shape: tuple[int, ...], e: int, dtype: Any) -> tuple[float, ...]:
    """The certificate's Gram sums (:func:`structmat._butterfly_project._gram_sums`) of a tile."""
    from structmat._butterfly_project import _gram_sums

    return _gram_sums(np, _tile_blocks(chunks, shape, e, dtype))


def _two_error_tile(
    *chunks: Any, shape: tuple[int, ...], e: int, dtype: Any, sizes: np.ndarray
) -> float:
    """Σ of the discarded Gram eigenvalues of a tile (:func:`ks_project_two_error`, exact)."""
    from structmat.ks._project import _two_error2

    # the tiles already run in parallel: no worker threads inside one
    return _two_error2(np, _tile_blocks(chunks, shape, e, dtype), sizes, threads=False)


def _residual_tile(block: Any, op: Any, c0: int, dtype: Any) -> float:
    """``||A[:, c0:c1] - Â[:, c0:c1]||²`` of a column panel (``Â`` applied to unit columns)."""
    from structmat.dask import _energy

    panel = np.asarray(block).astype(dtype, copy=False)
    n, w = int(op.shape[1]), int(panel.shape[1])
    E = np.zeros((n, w), dtype=dtype)
    E[np.arange(c0, c0 + w), np.arange(w)] = 1
    return _energy(panel - op @ E)


def _stats(block: Any) -> tuple[float, float]:
    """``(Σ |a|², max |a|)`` of a chunk in double precision (``nan`` for NaN/Inf)."""
    from structmat.dask import _energy

    b = np.asarray(block)
    if b.size == 0:
        return 0.0, 0.0
    amax = float(np.max(np.abs(b)))
    if not math.isfinite(amax):
        return math.nan, math.nan
    return _energy(b), amax


# ---------------------------------------------------------------------- passes
def _scale(A: Any, what: str) -> tuple[int, float]:
    """``(e, ||A / 2^e||²)``: the exponent of :func:`structmat._dense.normalize`, by chunks."""
    import dask

    from structmat.dask import _blocks

    parts = dask.compute(*[dask.delayed(_stats)(b) for b, _, _ in _blocks(A)])
    if any(not math.isfinite(s) for s, _ in parts):
        msg = f"{what}: A contains NaN or Inf"
        raise ValueError(msg)
    sumsq, amax = math.fsum(s for s, _ in parts), max(a for _, a in parts)
    lo, hi = _window(np, np.dtype(A.dtype))
    if lo < sumsq < hi or amax == 0:
        return 0, sumsq
    e = math.frexp(amax)[1]
    return e, math.ldexp(sumsq, -2 * e)


def _tasks(tiling: _Tiling, fn: Any, e: int, dtype: Any, **kw: Any) -> list[tuple[Any, ...]]:
    """One delayed ``fn(*chunks, shape=..., e=e, dtype=dtype, **kw)`` per tile, with its ids."""
    import dask

    _, b1, _, _ = tiling.left
    _, _, c2, d2 = tiling.right
    out = []
    for chunks, rows, cols in tiling.tiles():
        ids = tiling.ids(rows, cols)
        shape = (rows[1], b1, rows[3], cols[1], c2, d2)
        extra = {k: (v[ids] if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        task = dask.delayed(fn, pure=True)(*chunks, shape=shape, e=e, dtype=dtype, **extra)
        out.append((task, ids))
    return out


def _left_values(
    Us: list[Any], all_ids: list[np.ndarray], left: Pattern, right: Pattern
) -> np.ndarray:
    """The tiles' left singular vectors -> ``T_left`` as :func:`ks_project_two` lays it out."""
    from structmat.ks._project import _groups

    a1, b1, c1, d1 = left
    block, pos, size = _groups(left, right)
    q = max(int(U.shape[-1]) for U in Us)
    Ut = np.zeros((size.size, q, b1), dtype=Us[0].dtype)
    for U, ids in zip(Us, all_ids, strict=True):
        Ut[ids, : U.shape[-1]] = np.swapaxes(U, -1, -2)
    cols = _gather(Ut.reshape(-1, b1), block, pos, q)
    return np.transpose(cols.reshape(a1, c1, d1, b1), (0, 3, 1, 2))


def _right_slice(
    SVs: list[Any], all_ids: list[np.ndarray], left: Pattern, right: Pattern, u: range
) -> np.ndarray:
    """``T_right[u]`` (the column groups ``u`` of the first split) from the tiles holding them.

    Row ``m`` of the right factor belongs to column group ``m // (b2 d2)``, and
    the blocks of the column groups ``u`` are the ids ``u.start a1 d1 d2 ...
    u.stop a1 d1 d2`` (ids run over ``(i2, i, l, l2)``): a slice of the whole
    problem's arrays, filled from these tiles only.
    """
    from structmat.ks._project import _groups

    a1, _, _, d1 = left
    _, b2, c2, d2 = right
    block, pos, _ = _groups(left, right)
    per = a1 * d1 * d2  # blocks per column group
    q = max(int(S.shape[-2]) for S in SVs)
    SV = np.zeros((len(u) * per, q, c2), dtype=SVs[0].dtype)
    for S, ids in zip(SVs, all_ids, strict=True):
        SV[ids - u.start * per, : S.shape[-2]] = S
    m = slice(u.start * b2 * d2, u.stop * b2 * d2)
    rows = _gather(SV.reshape(-1, c2), block[m] - u.start * per, pos[m], q)
    return np.transpose(rows.reshape(len(u), b2, d2, c2), (0, 1, 3, 2))


def _gather(values: np.ndarray, block: np.ndarray, pos: np.ndarray, q: int) -> np.ndarray:
    """Row ``pos[m]`` of block ``block[m]`` of ``values`` (``q`` rows a block) for every ``m``.

    Zero where ``pos[m] >= q`` (an index beyond its block's rank).
    """
    flat = block * q + np.minimum(pos, q - 1)
    if q == 1 and np.array_equal(flat, np.arange(flat.size)):  # butterflies: no gather
        return values
    return np.where((pos < q)[:, None], values[flat], 0)


def _later_splits(
    split: list[tuple[Any, np.ndarray]], left: Pattern, right: Pattern, fn: Any, **kw: Any
) -> list[Any]:
    """One delayed ``fn(T_right[u], **kw)`` per run ``u`` of column groups of the first split.

    ``T_right`` is block diagonal over its ``a2`` column groups, and the later
    splits keep it so: each run of groups is projected on its own, on a
    worker, from its rows of the tiles' right factors (which stay on the
    workers). Runs hold at most a tile's budget of ``T_right`` and there are
    at least ``min(a2, _LATER_RUNS)`` of them.
    """
    import dask

    a1, _, _, d1 = left
    a2, b2, c2, d2 = right
    per = a1 * d1 * d2  # blocks per column group
    budget = max(_TILE_BYTES // 8, 1)  # entries, as the tiles count them in double precision
    step = max(1, min(budget // (b2 * c2 * d2), a2 // _LATER_RUNS))
    out = []
    for u0 in range(0, a2, step):
        u = range(u0, min(u0 + step, a2))
        lo, hi = u.start * per, u.stop * per
        rows, ids_in = [], []
        for task, ids in split:  # a tile's ids are sorted, its column groups outermost
            k0, k1 = (int(k) for k in np.searchsorted(ids, (lo, hi)))
            if k0 == k1:
                continue
            whole = k0 == 0 and k1 == ids.size
            rows.append(task[1] if whole else task[1][k0:k1])
            ids_in.append(ids[k0:k1])
        out.append(dask.delayed(_later_task, pure=True)(rows, ids_in, left, right, u, fn, kw))
    return out


def _later_task(
    SVs: list[Any],
    all_ids: list[np.ndarray],
    left: Pattern,
    right: Pattern,
    u: range,
    fn: Any,
    kw: dict[str, Any],
) -> Any:
    """``fn(T_right[u], **kw)`` on a worker, from the tiles' rows ``SVs`` of the groups ``u``."""
    return fn(_right_slice(SVs, all_ids, left, right, u), **kw)


def _first_split(
    split: list[tuple[Any, np.ndarray]],
    left: Pattern,
    right: Pattern,
    fn: Any,
    more: Any,
    **kw: Any,
) -> tuple[np.ndarray, float, list[Any], Any]:
    """``(T_left, err², [fn(T_right[u]) for each run u], more computed)``, one compute.

    Only the left factor, the errors, ``fn``'s results and ``more`` reach this
    process; the right factor of the first split stays on the workers.
    """
    import dask

    later = _later_splits(split, left, right, fn, **kw)
    lefts = [(task[0], task[2]) for task, _ in split]
    parts, outs, extra = dask.compute(lefts, later, more)
    TL = _left_values([U for U, _ in parts], [ids for _, ids in split], left, right)
    return TL, math.fsum(err for _, err in parts), list(outs), extra


def _split_tasks(A: Any, left: Pattern, right: Pattern, e: int, dtype: Any) -> Any:
    """Delayed tiles of the first split, and the ids of their blocks."""
    from structmat.ks._project import _groups

    _, size = _groups(left, right)[::2]
    rank1 = left[1] == 2 and bool(np.all(size[size > 0] == 1))
    return _tasks(_Tiling(A, left, right), _split_tile, e, dtype, sizes=size, rank1=rank1)


# ---------------------------------------------------------------------- butterfly
def butterfly(
    A: Any, radices: Any = None, permutation: Any = None, certificate: bool = True
) -> ProjectionResult:
    """:meth:`Butterfly.project` of a Dask array (every step on the workers)."""
    from structmat import _butterfly_project as bp
    from structmat.basic import Permutation
    from structmat.butterfly import Butterfly, _radices
    from structmat.dask import _matrix

    what = "Butterfly.project"
    A = _matrix(A, what)
    if A.shape[0] != A.shape[1]:
        msg = f"{what} expects a square matrix, got shape {tuple(A.shape)}"
        raise ValueError(msg)
    n = int(A.shape[0])
    rad = _radices(n, radices, what)
    L = len(rad)
    if L < 2:
        msg = (
            f"{what} on a Dask array: radices {rad} give one dense level (the matrix "
            "itself); give radices with at least two factors, or compute() A"
        )
        raise ValueError(msg)
    dtype = np.dtype(A.dtype)
    e, norm2 = _scale(A, what)  # a column permutation keeps both
    perm_op = None
    if permutation is not None:
        idx = np.asarray(bp._permutation(np, permutation, n, rad, None))
        perm_op = Permutation(idx, dtype=dtype)
        A = A[:, idx]  # A Pᵀ, gathered chunk by chunk
    b = rad[L - 1]
    s = n // b
    left, right = (1, b, b, s), (b, s, s, 1)
    split = _split_tasks(A, left, right, e, dtype)
    sides = [math.prod(rad[L - t :]) for t in range(1, L)]  # P_t
    grams = {}
    if certificate:
        for t in bp._gram_splits(sides, n):
            P = sides[t - 1]
            tiling = _Tiling(A, (1, P, P, n // P), (P, n // P, n // P, 1))
            grams[t] = [task for task, _ in _tasks(tiling, _gram_tile, e, dtype)]
    TL, err2, outs, sums = _first_split(split, left, right, _butterfly_later, grams, rad=rad)
    run = bp._Hierarchy(rad, e, norm2, perm_op, permutation)
    run.tw_levels[L - 1] = np.ascontiguousarray(np.transpose(TL[0], (2, 0, 1)))
    for level in range(1, L - 1):  # each run of blocks holds a contiguous piece of each level
        run.tw_levels[level] = np.concatenate([tw[level - 1] for tw, _, _ in outs])
    H = np.concatenate([h for _, h, _ in outs])
    run.step_err2 = [err2, *(math.fsum(e2[k] for _, _, e2 in outs) for k in range(L - 2))]
    unit = float(np.finfo(dtype).eps)

    def split_bounds(t: int, P: int) -> tuple[float, float]:
        up, theta, total = (math.fsum(v[k] for v in sums[t]) for k in range(3))
        return bp._gram_guarded(up, theta, total, (P, n // P), 5, unit)

    def bounds() -> tuple[float, float]:
        stand_in = np.broadcast_to(np.zeros((), dtype=dtype), (n, n))  # shape and dtype only
        return bp._certificate(np, stand_in, None, run.step_err2, norm2, rad, split_bounds)

    return bp._result(Butterfly, np, H, run, bounds if certificate else None)


# ---------------------------------------------------------------------- KS chains
def _batched_dense(T: np.ndarray) -> np.ndarray:
    """:func:`ks_to_dense` of a stack of KS values ``T`` (nb, a, b, c, d)."""
    from structmat.ks._multiply import support_indices

    nb, a, b, c, d = T.shape
    D = np.zeros((nb, a * b * d, a * c * d), dtype=T.dtype)
    D.reshape(nb, -1)[:, support_indices((a, b, c, d))] = T.reshape(nb, -1)
    return D


def _butterfly_later(TR: np.ndarray, rad: tuple[int, ...]) -> tuple[list[Any], Any, list[float]]:
    """Steps ``2 … L-1`` of the hierarchy on the blocks ``TR[u, :, :, 0]`` of ``H_1``.

    Returns this run's pieces of the levels ``1 … L-2``, of the last level
    (still scaled) and its squared step errors, step by step.
    """
    from structmat._butterfly_project import _steps

    L = len(rad)
    tw: list[Any] = [None] * L
    err2: list[float] = []
    H = _steps(np, np.ascontiguousarray(TR[..., 0]), rad, tw, err2, first=2)
    return tw[1 : L - 1], H, err2


def _ks_later(TR: np.ndarray, e: int, sub: list[Pattern]) -> list[np.ndarray]:
    """The hierarchy of :func:`ks_project_chain` on a run of blocks of ``H_1`` (scaled by 2^-e).

    ``TR`` (g, b, c, d) is a run of column groups of the first right factor,
    block diagonal in ``(u, v)`` (``v < d``), and so is every factor of the
    rest of the chain (chainable: ``a | a_i``, ``d | d_i``), with the patterns
    ``sub`` ``(a_i/a, b_i, c_i, d_i/d)``: the ``g d`` dense ``b x c`` blocks
    ``TR[u, :, :, v]`` are projected as one batch. Returns each factor's
    values by sub-problem ``u d + v``, (g d, *sub_i).
    """
    from structmat.ks._chain_project import _merged
    from structmat.ks._multiply import support_indices
    from structmat.ks._project import ks_project_two

    g, b, c, d = (int(v) for v in TR.shape)
    H = np.ascontiguousarray(np.transpose(ldexp(np, TR, e), (0, 3, 1, 2))).reshape(g * d, b, c)
    values = []
    for i in range(len(sub) - 1):
        T, TRi, _ = ks_project_two(H, sub[i], _merged(sub[i + 1 :]))
        values.append(T)
        H = _batched_dense(TRi)
    last = sub[-1]
    values.append(H.reshape(g * d, -1)[:, support_indices(last)].reshape(g * d, *last))
    return values


def _rest(outs: list[list[np.ndarray]], rest: list[Pattern], right: Pattern) -> list[np.ndarray]:
    """The factors ``rest`` from the runs' sub-problem values (:func:`_ks_later`).

    ``T_i[u a_i/a + i', j, k, l' d + v]`` is read back from sub-problem
    ``(u, v)`` (``a, d`` of ``right``, the first right factor).
    """
    a, d = right[0], right[3]
    out = []
    for i, p in enumerate(rest):
        v = np.concatenate([o[i] for o in outs])
        T6 = v.reshape(a, d, p[0] // a, p[1], p[2], p[3] // d)
        out.append(np.ascontiguousarray(np.transpose(T6, (0, 2, 3, 4, 5, 1))).reshape(p))
    return out


def ks_chain(A: Any, patterns: Any = None) -> ProjectionResult:
    """:func:`ks_project_chain` of a Dask array (every split on the workers)."""
    import dask

    from structmat.dask import _blocks, _matrix
    from structmat.ks._chain_project import _check_chainable, _eps, _merged
    from structmat.ks._operators import KSChain
    from structmat.ks._patterns import _check_chain
    from structmat.ks._project import _check_two, _groups

    what = "ks_project_chain"
    if patterns is None:
        msg = (
            "project onto ks needs patterns=[(a, b, c, d), ...] (leftmost first), "
            "e.g. structmat.ks.chainable(A.shape)"
        )
        raise ValueError(msg)
    A = _matrix(A, what)
    chain = _check_chain(patterns, what)
    _check_chainable(chain, what)
    dtype = np.dtype(A.dtype)
    stand_in = np.broadcast_to(np.zeros((), dtype=dtype), tuple(int(v) for v in A.shape))
    if len(chain) < 2:
        msg = (
            f"{what} on a Dask array: one pattern is the entries on its support; "
            "give a chain of at least two patterns, or compute() A"
        )
        raise ValueError(msg)
    _check_two(stand_in, chain[0], _merged(chain[1:]), what)
    e, norm2 = _scale(A, what)
    left, right = chain[0], _merged(chain[1:])
    split = _split_tasks(A, left, right, e, dtype)
    lows = []
    for k in range(2, len(chain)):
        lk, rk = _merged(chain[:k]), _merged(chain[k:])
        size = _groups(lk, rk)[2]
        tiling = _Tiling(A, lk, rk)
        tasks = _tasks(tiling, _two_error_tile, e, dtype, sizes=size)
        lows.append((lk, rk, [task for task, _ in tasks]))
    sub = [(p[0] // right[0], p[1], p[2], p[3] // right[3]) for p in chain[1:]]
    TL, err2, outs, low_sums = _first_split(
        split, left, right, _ks_later, [t for *_, t in lows], e=e, sub=sub
    )
    values = [TL, *_rest(outs, chain[1:], right)]
    op = KSChain(values)
    # the error from the product, as in memory: one more pass, by column panels
    width = max(1, _TILE_BYTES // (max(dtype.itemsize, 8) * int(A.shape[0])))
    panels = A.rechunk({0: -1, 1: width})
    shipped = dask.delayed(op, pure=True, traverse=False)
    res = [dask.delayed(_residual_tile)(blk, shipped, c0, dtype) for blk, _, c0 in _blocks(panels)]
    err = math.sqrt(math.fsum(dask.compute(*res)))
    norm = unscale(math.sqrt(norm2), e)
    unit = float(np.finfo(dtype).eps)
    lower = _two_lower(err2, left, right, norm2, unit, e)
    for (lk, rk, _), sums in zip(lows, low_sums, strict=True):
        lower = max(lower, _two_lower(math.fsum(sums), lk, rk, norm2, unit, e))
    exact = len(chain) <= 2 or err <= lower * (1 + 1e-12) or err <= 64 * _eps(np, stand_in) * norm
    told = "" if exact else "left-to-right hierarchy: lower_bound is the best two-factor split's"
    return ProjectionResult(
        operator=op,
        error=err,
        norm=norm,
        lower_bound=err if len(chain) <= 2 else min(lower, err),
        upper_bound=err,
        exact=exact,
        onto="ks",
        params={"patterns": [list(p) for p in chain]},
        notes=told,
    )


def _two_lower(
    err2: float, left: Pattern, right: Pattern, total: float, unit: float, e: int
) -> float:
    """The lower bound of :func:`ks_project_two_error` from its squared error (scaled by 2^-e)."""
    from structmat.ks._project import _two_bounds

    lo2 = _two_bounds(err2, left[1], right[2], total, unit)[0]
    return unscale(math.sqrt(max(lo2, 0.0)), e)

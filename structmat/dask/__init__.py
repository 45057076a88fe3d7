r"""structmat on Dask: operators applied lazily to chunked arrays, out-of-core projection.

Two entry points, reached through the ordinary front doors (nothing here is
imported by ``import structmat``; :mod:`dask` is imported on first use):

- ``op @ X``, ``X @ op`` with ``X`` a :class:`dask.array.Array` and ``op`` a
  NumPy-backed operator (or CuPy-backed on CuPy chunks) give a lazy Dask
  array, one task per chunk (:func:`apply`);
- ``structmat.project(A, onto, ...)`` with ``A`` a Dask array computes the
  projection chunk by chunk, on whatever Dask scheduler is active
  (:func:`project`).

The contracted dimension of ``op @ X`` (rows of ``X``; the last axis of ``x``
in ``x @ op``) is rechunked to one chunk: every output entry needs the whole
of it. The batch and column chunks are kept as they are, so a column-chunked
``X`` costs no data movement; a row-chunked one is rechunked by Dask (or
rechunk it yourself, ``X.rechunk({-2: -1})``, to control when).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._result import ProjectionResult, exact_result

__all__ = ["ON_DASK", "apply", "is_dask_array", "project"]

#: the projections that run on a Dask array
ON_DASK = (
    "monarch",
    "monarch_adjoint",
    "lowrank",
    "diagonal",
    "block_diagonal",
    "circulant",
    "toeplitz",
    "butterfly",
    "ks",
)

# Column panels of the Monarch projection hold about this many bytes in double
# precision (the engine's working copy of single-precision input).
_PANEL_BYTES = 1 << 27
# lowrank method="svd" loads A into one process; refused above this size.
SVD_MAX_BYTES = 1 << 30


def is_dask_array(x: Any) -> bool:
    """Whether ``x`` is a :class:`dask.array.Array` (without importing Dask)."""
    return type(x).__module__.startswith("dask.array") and hasattr(x, "dask")


def _known_chunks(X: Any, what: str) -> None:
    if any(math.isnan(c) for axis in X.chunks for c in axis):
        msg = (
            f"{what}: the Dask array has unknown chunk sizes (NaN in .chunks); "
            "call X.compute_chunk_sizes() first"
        )
        raise ValueError(msg)


def _result_dtype(op: Any, dtype: Any) -> Any:
    """The dtype of ``op @ x`` (the rule of ``check_input``)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "fc":
        return np.promote_types(np.dtype(op.dtype), dtype)
    if dtype.kind in "iub":
        return np.dtype(op.dtype)
    msg = (
        f"{type(op).__name__} @ x: unsupported input dtype {dtype}, "
        "expected a real or complex floating (or integer) array"
    )
    raise TypeError(msg)


def _apply_block(block: Any, op: Any, cast: Any, left: bool) -> Any:
    block = block.astype(cast, copy=False)
    return block @ op if left else op @ block


def apply(op: Any, X: Any, *, left: bool = False) -> Any:
    """``op @ X`` (``left=False``) or ``X @ op`` for a Dask array ``X``: lazy, one task per chunk.

    Parameters
    ----------
    op : LinearOperator
        NumPy-backed for NumPy chunks, CuPy-backed for CuPy chunks.
    X : dask.array.Array
        Shape ``(n,)`` or ``(..., n, k)`` (``(..., k, n)`` when ``left``).
    left : bool
        ``X @ op`` instead of ``op @ X``.

    Returns
    -------
    dask.array.Array
        The product in the promoted dtype, chunked as ``X`` along every axis
        but the contracted one, which becomes the operator's output length.

    Notes
    -----
    The contracted axis is rechunked to one chunk (a no-op when it already
    is); each task then applies ``op`` to one block, so the work per task is
    ``op.flops(k)`` for a block of ``k`` columns. The operator enters the
    graph once, as one key every task depends on (the distributed scheduler
    ships it to each worker once; operators pickle). CuPy chunks take the
    same path with a CuPy-backed operator (not tested here: no GPU).

    Examples
    --------
    >>> import numpy as np, dask.array as da, structmat as sm
    >>> M = sm.Monarch.square(16, nblocks=4, seed=0)
    >>> X = da.from_array(np.arange(16.0 * 6).reshape(16, 6), chunks=(16, 2))
    >>> Y = M @ X
    >>> Y.chunks
    ((16,), (2, 2, 2))
    >>> bool(np.allclose(Y.compute(), M.to_dense() @ X.compute()))
    True
    """
    import dask
    import dask.array as da

    what = f"x @ {type(op).__name__}" if left else f"{type(op).__name__} @ x"
    _known_chunks(X, what)
    m, n = op.shape
    if X.ndim == 1:
        if X.shape[0] != (m if left else n):
            msg = f"{what}: {type(op).__name__} of shape {op.shape} got a vector of shape {X.shape}"
            raise ValueError(msg)
        out = apply(op, X[None, :] if left else X[:, None], left=left)
        return out[0] if left else out[:, 0]
    axis = X.ndim - 1 if left else X.ndim - 2
    need = m if left else n
    if X.ndim == 0 or X.shape[axis] != need:
        side = "columns" if left else "rows"
        msg = (
            f"{what}: {type(op).__name__} of shape {op.shape} expects input with {need} "
            f"{side}, got shape {tuple(X.shape)}"
        )
        raise ValueError(msg)
    meta_xp = aa.namespace_of(X._meta)
    if aa.is_numpy(meta_xp) != aa.is_numpy(op.xp):
        msg = (
            f"{what}: the operator's arrays ({op.xp.__name__}) and the Dask chunks "
            f"({type(X._meta).__module__}) differ: convert one, e.g. op.to(xp=...)"
        )
        raise TypeError(msg)
    dtype = _result_dtype(op, X.dtype)
    if len(X.chunks[axis]) > 1:
        X = X.rechunk({axis: -1})
    chunks = list(X.chunks)
    chunks[axis] = (n if left else m,)
    meta = meta_xp.empty((0,) * X.ndim, dtype=dtype)
    # One key for the operator: every task depends on it instead of embedding a copy.
    shipped = dask.delayed(op, pure=True, traverse=False)
    return da.map_blocks(
        _apply_block,
        X,
        shipped,
        cast=dtype,
        dtype=dtype,
        left=left,
        chunks=tuple(chunks),
        meta=meta,
        token=f"structmat-{type(op).__name__.lower()}-apply",
    )


# ---------------------------------------------------------------------- projection
def _matrix(A: Any, what: str) -> Any:
    """``A`` checked: 2-d, known chunks, floating (integers and booleans become float64)."""
    if A.ndim != 2:
        msg = f"{what} expects a 2-d array, got a Dask array of shape {tuple(A.shape)}"
        raise ValueError(msg)
    _known_chunks(A, what)
    kind = np.dtype(A.dtype).kind
    if kind in "iub":
        A = A.astype(np.float64)
    elif kind not in "fc" or np.dtype(A.dtype).itemsize < 4:
        msg = f"{what}: expected a real or complex floating array, got dtype {A.dtype}"
        raise TypeError(msg)
    if 0 in A.shape:
        msg = f"{what} expects a non-empty matrix, got shape {tuple(A.shape)}"
        raise ValueError(msg)
    return A


def _finite(x: float, what: str) -> float:
    if not math.isfinite(x):
        msg = f"{what}: A holds NaN or Inf (or its sum of squares overflows float64)"
        raise ValueError(msg)
    return x


def _offsets(chunks: tuple[int, ...]) -> list[int]:
    return [int(v) for v in np.cumsum((0, *chunks))[:-1]]


def _blocks(A: Any) -> list[tuple[Any, int, int]]:
    """``(delayed block, row offset, column offset)`` for every chunk of ``A``."""
    grid = A.to_delayed()
    r0, c0 = _offsets(A.chunks[0]), _offsets(A.chunks[1])
    return [(grid[i, j], r0[i], c0[j]) for i in range(len(r0)) for j in range(len(c0))]


def _energy(block: np.ndarray) -> float:
    """``sum |block|²`` in double precision."""
    b = np.asarray(block)
    if b.dtype.kind == "c":
        b = b.view(b.real.dtype)
    b = b.astype(np.float64, copy=False)
    return float(np.vdot(b.ravel(), b.ravel()))


# monarch --------------------------------------------------------------
def _monarch(
    A: Any, nblocks: Any = None, rank: Any = 1, engine: str = "auto", *, adjoint: bool = False
) -> ProjectionResult:
    import dask

    from structmat._args import integer
    from structmat._monarch_project import ENGINES
    from structmat.monarch import Monarch, _check_rank, _parse_nblocks

    what = "Monarch.project_adjoint" if adjoint else "Monarch.project"
    if not isinstance(engine, str) or engine not in ENGINES:
        msg = f"{what}: unknown engine={engine!r}; valid names: {', '.join(ENGINES)}"
        raise ValueError(msg)
    A = _matrix(A, what)
    if adjoint:
        A = A.T.conj() if np.dtype(A.dtype).kind == "c" else A.T
    r = integer(rank, "rank", what)
    m, n = (int(d) for d in A.shape)
    K, J = _parse_nblocks(nblocks, (m, n), what)
    p, s = -(-n // K), -(-m // J)
    _check_rank(r, s, p, what)
    # Column panels of c input blocks: the slices of blocks a0..a0+c-1 (all J output
    # blocks each) are the slices of the panel's own Monarch projection, nblocks=(c, J).
    c = max(1, min(K, _PANEL_BYTES // (8 * m * p)))
    col = A.chunks[1]
    if len(set(col[:-1])) <= 1 and col[0] % p == 0 and 8 * m * col[0] <= 2 * _PANEL_BYTES:
        c = min(K, col[0] // p)  # panels on the stored column chunks: no data movement
    A = A.rechunk({0: -1, 1: c * p})
    tasks = [
        dask.delayed(_monarch_slices, pure=True, nout=4)(blk, c, p, J, r, engine)
        for blk, _, _ in _blocks(A)
    ]
    parts = dask.compute(*tasks)
    L = np.concatenate([t[0] for t in parts], axis=2)
    R = np.concatenate([t[1] for t in parts], axis=0)
    if R.shape[0] > K:  # a last panel padded past the K-th block
        L, R = L[:, :, : K * r], R[:K]
    err = math.sqrt(math.fsum(t[2] for t in parts))
    norm = math.sqrt(math.fsum(t[3] for t in parts))
    M = Monarch(L, R, shape=(m, n))
    op = M.H if adjoint else M
    params = {"nblocks": (K, J), "rank": r}
    notes = "Aᴴ projected onto Monarch; the operator is its adjoint" if adjoint else ""
    return exact_result(
        op, _finite(err, what), norm, "monarch_adjoint" if adjoint else "monarch", params, notes
    )


def _monarch_slices(panel: Any, c: int, p: int, J: int, r: int, engine: str) -> tuple[Any, ...]:
    """The factors of one column panel of ``c`` input blocks of width ``p``; its errors squared."""
    from structmat.monarch import Monarch

    panel = np.asarray(panel)
    m, w = panel.shape
    c = -(-w // p)
    if w < c * p:  # the last, partial input block: zero padding keeps the optimum
        padded = np.zeros((m, c * p), dtype=panel.dtype)
        padded[:, :w] = panel
        panel = padded
    res = Monarch.project(panel, nblocks=(c, J), rank=r, engine=engine)
    M: Any = res.operator
    return M.L, M.R, res.error**2, res.norm**2


# lowrank ----------------------------------------------------------------
class _DaskMatrix:
    """Products with a Dask matrix, computed on the active scheduler (NumPy results)."""

    def __init__(self, A: Any) -> None:
        self.A = A

    def mul(self, X: np.ndarray) -> np.ndarray:
        return np.asarray((self.A @ X).compute())

    def rmul(self, Y: np.ndarray) -> np.ndarray:
        # Aᴴ Y = (Yᴴ A)ᴴ: no transposed copy of A.
        return np.asarray((Y.conj().T @ self.A).compute()).conj().T


def _lowrank_operator(A: Any) -> Any:
    from structmat._operand import apply_columns
    from structmat.linop import LinearOperator

    products = _DaskMatrix(A)

    class DaskMatrix(LinearOperator):
        def _matmat(self, X: Any) -> Any:
            return apply_columns(np, X, products.mul)

        def _rmatmat(self, X: Any) -> Any:
            return apply_columns(np, X, products.rmul)

    return DaskMatrix(shape=A.shape, dtype=np.dtype(A.dtype))


def _residual_energy(block: Any, US: np.ndarray, Vh: np.ndarray, r0: int, c0: int) -> float:
    block = np.asarray(block)
    rows, cols = block.shape
    return _energy(block - US[r0 : r0 + rows] @ Vh[:, c0 : c0 + cols])


def _lowrank(A: Any, rank: Any = None, method: str = "svd", **kw: Any) -> ProjectionResult:
    import dask

    from structmat.lowrank import LowRank

    what = f"LowRank.project(method={method!r})"
    if rank is None:
        msg = "project onto lowrank needs rank=int >= 1"
        raise ValueError(msg)
    A = _matrix(A, what)
    if method == "svd":
        if A.nbytes > SVD_MAX_BYTES:
            msg = (
                f"{what}: an exact SVD loads A ({A.nbytes / 2**30:.3g} GiB) into one process "
                f"(limit structmat.dask.SVD_MAX_BYTES = {SVD_MAX_BYTES / 2**30:.3g} GiB); "
                "use method='randomized', which only multiplies by the chunks"
            )
            raise ValueError(msg)
        return LowRank.project(np.asarray(A.compute()), rank, method="svd", **kw)
    if method != "randomized":
        msg = f"LowRank.project: method must be 'svd' or 'randomized', got {method!r}"
        raise ValueError(msg)
    kw.pop("error_probes", None)  # the error below is the exact residual
    res = LowRank.project(_lowrank_operator(A), rank, method="randomized", error_probes=1, **kw)
    # The exact residual and norm in one pass over A (the in-memory array path's bounds).
    op: Any = res.operator
    U, S, V = (np.asarray(a) for a in (op.U, op.s, op.V))
    US, Vh = U * S[None, :], V.conj().T
    tasks = [
        (dask.delayed(_residual_energy)(b, US, Vh, r0, c0), dask.delayed(_energy)(b))
        for b, r0, c0 in _blocks(A)
    ]
    sums = dask.compute(*tasks)
    err = math.sqrt(_finite(math.fsum(t[0] for t in sums), what))
    norm = math.sqrt(math.fsum(t[1] for t in sums))
    notes = (
        "randomized range finder over Dask chunks: error is the exact residual, not proven minimal"
    )
    return dataclasses.replace(
        res,
        error=err,
        norm=norm,
        lower_bound=min(res.lower_bound, err),
        upper_bound=err,
        notes=notes,
    )


# the subspace classes ---------------------------------------------------
def _class_sums(block: Any, r0: int, c0: int, kind: str, size: int, shift: int) -> Any:
    """Per-class sums of one block: ``out[key(i, j)] += A[i, j]`` (double precision)."""
    b = np.asarray(block)
    rows, cols = b.shape
    d = np.arange(r0, r0 + rows)[:, None] - np.arange(c0, c0 + cols)[None, :]
    key = (d % size if kind == "circulant" else d + shift).ravel()
    flat = b.ravel()
    out = np.bincount(key, weights=flat.real.astype(np.float64), minlength=size)
    if b.dtype.kind == "c":
        out = out + 1j * np.bincount(key, weights=flat.imag.astype(np.float64), minlength=size)
    return out


def _class_residual(
    block: Any, r0: int, c0: int, kind: str, size: int, shift: int, means: Any
) -> float:
    b = np.asarray(block)
    rows, cols = b.shape
    d = np.arange(r0, r0 + rows)[:, None] - np.arange(c0, c0 + cols)[None, :]
    key = d % size if kind == "circulant" else d + shift
    return _energy(b - means[key])


def _diagonal_classes(A: Any, kind: str) -> ProjectionResult:
    import dask

    from structmat.convolution import Circulant, Toeplitz

    what = f"project onto {kind}"
    A = _matrix(A, what)
    m, n = (int(d) for d in A.shape)
    dtype = np.dtype(A.dtype)
    if kind == "circulant":
        if m != n:
            msg = f"project onto circulant needs a square matrix, got shape {(m, n)}"
            raise ValueError(msg)
        size, shift = n, 0
        counts = np.full(n, float(n))
    else:  # toeplitz: key = i - j + n - 1 in [0, m + n - 1)
        size, shift = m + n - 1, n - 1
        d = np.arange(size) - shift
        counts = np.minimum(np.minimum(m - np.maximum(d, 0), n - np.maximum(-d, 0)), min(m, n))
        counts = counts.astype(np.float64)
    blocks = _blocks(A)
    sums = dask.compute(
        *[dask.delayed(_class_sums)(b, r0, c0, kind, size, shift) for b, r0, c0 in blocks]
    )
    means = (np.sum(sums, axis=0) / counts).astype(dtype)
    _finite(float(np.abs(means).max()), what)
    parts = dask.compute(
        *[
            (
                dask.delayed(_class_residual)(b, r0, c0, kind, size, shift, means),
                dask.delayed(_energy)(b),
            )
            for b, r0, c0 in blocks
        ]
    )
    err = math.sqrt(_finite(math.fsum(t[0] for t in parts), what))
    norm = math.sqrt(math.fsum(t[1] for t in parts))
    if kind == "circulant":
        op: Any = Circulant(means)
    else:  # col[k] = t_{i-j=k}, row[k] = t_{i-j=-k}
        op = Toeplitz(means[shift : shift + m].copy(), means[shift::-1][:n].copy())
    return exact_result(op, err, norm, kind, {})


def _off_energy(block: Any, r0: int, c0: int, row_id: np.ndarray, col_id: np.ndarray) -> float:
    """``sum |A_ij|²`` over the entries of ``block`` off the kept blocks."""
    b = np.asarray(block)
    rows, cols = b.shape
    inside = row_id[r0 : r0 + rows, None] == col_id[None, c0 : c0 + cols]
    return _energy(np.where(inside, 0, b))


def _kept_blocks(A: Any, kind: str, nblocks: Any = None, sizes: Any = None) -> ProjectionResult:
    """diagonal / block_diagonal: keep the entries on the structure, the error is the rest."""
    import dask
    import dask.array as da

    from structmat.basic import Diagonal, Zero
    from structmat.blocks import BlockDiagonal, hstack, vstack
    from structmat.projection import _diagonal_blocks

    what = f"project onto {kind}"
    A = _matrix(A, what)
    m, n = (int(d) for d in A.shape)
    params: dict[str, Any] = {}
    if kind == "diagonal":
        k = min(m, n)
        blocks = [(1, 1)] * k
        rows = np.full(m, -1)
        cols = np.full(n, -2)
        rows[:k] = cols[:k] = np.arange(k)
    else:
        blocks, params = _diagonal_blocks((m, n), nblocks, sizes, what)
        rows = np.repeat(np.arange(len(blocks)), [b[0] for b in blocks])
        cols = np.repeat(np.arange(len(blocks)), [b[1] for b in blocks])
    r0 = np.cumsum([0] + [b[0] for b in blocks])
    c0 = np.cumsum([0] + [b[1] for b in blocks])
    if kind == "diagonal":
        kept_lazy: Any = [da.diagonal(A)]
    else:
        kept_lazy = [A[r0[i] : r0[i + 1], c0[i] : c0[i + 1]] for i in range(len(blocks))]
    energies = [dask.delayed(_off_energy)(b, i, j, rows, cols) for b, i, j in _blocks(A)]
    energies += [dask.delayed(_energy)(b) for b, _, _ in _blocks(A)]
    kept, parts = dask.compute(kept_lazy, energies)
    half = len(parts) // 2
    err = math.sqrt(_finite(math.fsum(parts[:half]), what))
    norm = math.sqrt(math.fsum(parts[half:]))
    if kind == "block_diagonal":
        op: Any = BlockDiagonal([np.asarray(b) for b in kept])
        return exact_result(op, err, norm, kind, params)
    op = Diagonal(np.asarray(kept[0]))
    dtype = np.dtype(A.dtype)
    if m > n:
        op = vstack([op, Zero((m - n, n), dtype=dtype)])
    elif m < n:
        op = hstack([op, Zero((m, n - m), dtype=dtype)])
    return exact_result(op, err, norm, kind, params)


# ---------------------------------------------------------------------- front door
def project(A: Any, onto: str, **params: Any) -> ProjectionResult:
    """``structmat.project`` for a Dask array ``A`` (``onto`` resolved and ``params`` checked).

    Runs on the active Dask scheduler (a ``dask.distributed.Client``, or the
    threaded one); only the factors and per-chunk sums reach this process.
    See ``docs/dask.md`` for what each class computes per chunk.

    Examples
    --------
    >>> import numpy as np, dask.array as da, structmat as sm
    >>> W = np.random.default_rng(0).standard_normal((32, 32))
    >>> res = sm.project(da.from_array(W, chunks=(16, 8)), "monarch", nblocks=4)
    >>> ref = sm.project(W, "monarch", nblocks=4)
    >>> bool(np.isclose(res.error, ref.error, rtol=1e-10))
    True
    """
    if onto == "monarch":
        return _monarch(A, **params)
    if onto == "monarch_adjoint":
        return _monarch(A, **params, adjoint=True)
    if onto == "lowrank":
        return _lowrank(A, **params)
    if onto in ("circulant", "toeplitz"):
        return _diagonal_classes(A, onto)
    if onto in ("diagonal", "block_diagonal"):
        return _kept_blocks(A, onto, **params)
    if onto == "butterfly":
        from structmat.dask._butterfly import butterfly

        return butterfly(A, **params)
    if onto == "ks":
        from structmat.dask._butterfly import ks_chain

        return ks_chain(A, **params)
    msg = (
        f"project onto {onto}: not available on a Dask array; on Dask: {', '.join(ON_DASK)} "
        "(or compute() A into memory first)"
    )
    raise ValueError(msg)

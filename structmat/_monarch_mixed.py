r"""Mixed-precision route of the two-factor projection's truncated SVDs (private; NumPy only).

The exact projection onto two KS factors (Monarch's among them) needs the
top-``k`` singular pairs of many small blocks of ``A`` (Monarch: the ``J*K``
slices ``M[sigma*J + j, a*p + t]``, fixed ``j``, ``a``). Gaussian-like blocks
have top singular values a few percent apart, so certifying every singular
*vector* in double precision costs a Gram matrix and a shifted solve per block
(:mod:`structmat._truncated_svd`). The projection only promises the optimal
*error*, which is far less sensitive: a vector that is off by an angle ``δ``
loses about ``δ²`` of the block's energy. So the iterations here run in single
precision and only the certificate runs in double, on ``S`` itself. Per chunk
of blocks, read through strided views of the block view of ``A``
(:func:`_layout`: no block-stack copy) and spread over worker threads:

1. Cast ``S`` to float32 (complex64; scaled to unit norm first where a
   slice's squared norm is outside ``2^±100``) and form the smaller Gram
   matrix ``G``, scaled to unit trace.
2. A block of ``b`` vectors from a shared seeded start: ``_POWER`` power
   steps, Cholesky QR, the block's Ritz values (one batched ``eigvalsh``),
   then a Chebyshev filter of degree ``_DEGREE`` that damps ``[0, hi]``
   with ``hi <= θ_b <= λ_b``, so that every one of the top ``b``
   eigenvectors grows and none can vanish from the block.
3. In double precision: Householder QR (the filtered block is
   ill-conditioned), Rayleigh-Ritz through ``S Q`` and the residuals
   :math:`\rho_i = \|S^H S x_i - \theta_i x_i\|`; then one power step
   :math:`x \leftarrow S^H S x` for the top ``k`` vectors with their own
   Rayleigh-Ritz. The power step is what fixes slices with a large gap (a
   nearly-Monarch ``A``), where the single-precision vectors are limited by
   rounding rather than by convergence.
4. A bound on the energy missed in the slice, the smallest of: Kato-Temple
   for a cluster, :math:`\sum_{i\le k}(\lambda_i - \theta_i) \le
   \sum_{i\le k'} \rho_i^2 / (\theta_{k'} - \hat\lambda_{k'+1})` for every
   ``k' >= k`` with :math:`\hat\lambda_{k'+1} \ge \lambda_{k'+1}` (the block
   bound :math:`\theta_{k'+1} + \rho_{k'+1}`, or the trace bound
   :math:`\|S\|_F^2 - \sum_{i\le k'} \theta_i`, which assumes nothing); and,
   without a gap (repeated singular values), Kahan's :math:`k \|R\|_F`. The
   block bounds assume, as the double-precision engine does, that the block
   holds the top eigenvectors.

The caller (:func:`structmat.ks._mixed.mixed_top_k`) redoes with the
double-precision engine the blocks with the largest bounds until the bounds of
the others sum to at most ``tol`` times the discarded energy: the returned
error is then within ``tol`` (relative, on the squared error) of the optimum,
and it is the true error of the returned factors.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from structmat import _pool
from structmat._args import ceil_div
from structmat._truncated_svd import SEED

_DEGREE = 12  # Chebyshev degree: Gaussian 64 x 64 slices, rank 1: 96 % certified alone, none redone
# Single-precision slices per task: about 2 MiB rather than 1 MiB (4 MiB gains
# nothing more). One thread takes the same time with either size; the threaded run
# gains from half as many tasks, half as many GIL hand-offs between them (see
# docs/benchmarks.md, "Design measurements").
_CHUNK_BYTES = 1 << 21
# Residual chunks: small enough that the temporaries S - Lc Rr stay in cache and are
# reused by the allocator (MiB-sized ones were measured far slower).
_RESIDUAL_BYTES = 1 << 18
_POWER = 4  # power steps (Gram applications) before the filter
_HI = 0.75  # the filter damps [0, min(theta_b, _HI * theta_1)] of the block after the power steps


def _ct(X: np.ndarray) -> np.ndarray:
    """Conjugate transpose of the last two axes (a view for real input)."""
    XT = X.swapaxes(-1, -2)
    return XT.conj() if np.iscomplexobj(XT) else XT


def _sqsum(X: np.ndarray, out: str) -> np.ndarray:
    """Sums of ``|x|²`` over a stack ``X[n, i, j]``, keeping the axes named in ``out``
    (``"nj"``: squared column norms, ``"ni"``: rows, ``"n"``: whole slices), real."""
    spec = f"nij,nij->{out}"
    if np.iscomplexobj(X):
        return np.einsum(spec, X.real, X.real) + np.einsum(spec, X.imag, X.imag)
    return np.einsum(spec, X, X)


def _shifted_chol_inv(M: np.ndarray, shift: float) -> np.ndarray:
    """``L⁻¹`` for ``L Lᴴ = M + (shift tr M + tiny) I``: never fails, even on a singular ``M``."""
    c, b, _ = M.shape
    diag = M.reshape(c, b * b)[:, :: b + 1]
    diag += (shift * diag.real.sum(axis=1) + np.finfo(M.real.dtype).tiny)[:, None]
    return np.linalg.inv(np.linalg.cholesky(M))


def _cholqr(Y: np.ndarray, shift: float) -> np.ndarray:
    """Cholesky QR with a relative diagonal shift (never fails, even on a rank-deficient block)."""
    if Y.shape[2] == 1:
        return Y / np.sqrt(_sqsum(Y, "nj") + np.finfo(Y.real.dtype).tiny)[:, None, :]
    return np.matmul(Y, _ct(_shifted_chol_inv(np.matmul(_ct(Y), Y), shift)))


def _cholqr_rows(Z: np.ndarray, shift: float) -> np.ndarray:
    """:func:`_cholqr` of the block ``Y = Zᴴ`` given and returned as its rows ``Zᴴ``."""
    return np.matmul(_shifted_chol_inv(np.matmul(Z, _ct(Z)), shift), Z)


def _ritz(Sw: Any, Q: np.ndarray, m: int | None = None) -> tuple[np.ndarray, ...]:
    """Rayleigh-Ritz of ``SwᴴSw`` on the orthonormal ``Q``: the top ``m`` (default all)
    Ritz values (descending), vectors ``X``, ``U = Sw X`` and residuals."""
    Y = Sw.mul(Q)
    if Q.shape[2] == 1:
        theta, X, U = _sqsum(Y, "nj"), Q, Y
    else:
        m = Q.shape[2] if m is None else m
        theta, Z = np.linalg.eigh(np.matmul(_ct(Y), Y))
        theta, Z = theta[:, ::-1][:, :m].copy(), Z[:, :, ::-1][:, :, :m].copy()
        X, U = np.matmul(Q, Z), np.matmul(Y, Z)
    R = Sw.mulh(U)
    R -= X * theta[:, None, :]
    return theta, X, U, R


def in_double(S: np.ndarray) -> np.ndarray:
    """``S`` itself in double precision, else a double-precision copy of it.

    The mixed route calls it on each chunk of blocks as it reads them, so the
    view of a single-precision ``A`` is never copied whole."""
    if S.dtype in (np.float64, np.complex128):
        return S
    return S.astype(np.complex128 if np.iscomplexobj(S) else np.float64)


class _Slices:
    """``Sw`` = the slices (``right``) or their adjoints, applied through strided views."""

    def __init__(self, S: np.ndarray, right: bool) -> None:
        self.S, self.right = S, right
        self.cplx = np.iscomplexobj(S)

    def _h(self, Y: np.ndarray) -> np.ndarray:  # Sᴴ Y without a conjugated copy of S
        ST = self.S.swapaxes(-1, -2)
        return np.matmul(ST, Y.conj()).conj() if self.cplx else np.matmul(ST, Y)

    def mul(self, X: np.ndarray) -> np.ndarray:
        return np.matmul(self.S, X) if self.right else self._h(X)

    def mulh(self, Y: np.ndarray) -> np.ndarray:
        return self._h(Y) if self.right else np.matmul(self.S, Y)


def _gram32(S: np.ndarray, right: bool, low: Any) -> tuple[np.ndarray, np.ndarray]:
    """Traces ``||S||_F²`` (double) and the unit-trace single-precision Gram matrices."""
    c, s, p = S.shape
    tr = _sqsum(S, "n")
    S32 = np.empty((c, s, p), dtype=low)
    plain = bool(np.all((tr > 2.0**-100) & (tr < 2.0**100)))
    if plain:  # squares and Gram entries stay normal floats: cast, scale the Gram
        np.copyto(S32, S, casting="same_kind")
    else:  # scale every slice to unit norm first (zero slices stay zero)
        norm = np.sqrt(tr)
        inv = 1.0 / np.where(norm > 0, norm, 1.0)
        np.multiply(S, inv[:, None, None], out=S32, casting="same_kind")
    G = np.matmul(_ct(S32), S32) if right else np.matmul(S32, _ct(S32))
    if plain:
        G *= (1.0 / tr).astype(G.real.dtype)[:, None, None]
    return tr, G


def _filtered_block(G: np.ndarray, X0: np.ndarray) -> np.ndarray:
    """Single-precision block for the top of the spectrum: power steps, then a Chebyshev filter.

    The block ``Y`` (q x b per slice) is carried as its rows ``Z = Yᴴ``: for a
    Hermitian ``G``, ``(G Y)ᴴ = Z G``, and OpenBLAS runs (b x q)(q x q)
    products faster than (q x q)(q x b) ones for a narrow block ``b << q``
    (docs/benchmarks.md, "Design measurements"). Returns ``Y`` (a view).
    """
    c, q, _ = G.shape
    rdtype = G.real.dtype
    # G has unit trace, so its powers only shrink the rows (by at most q each step):
    # no rescaling before the Cholesky QR, which is relative to the block's own scale.
    # (G X0)ᴴ = X0ᵀ G for a Hermitian G and a real-valued start: one broadcast product
    # per slice, in the row layout already (no tall GEMM followed by a transpose).
    Z = np.matmul(np.ascontiguousarray(X0.T), G)
    for _ in range(_POWER - 1):
        Z = np.matmul(Z, G)
    # Orthonormal rows: their Rayleigh quotients then spread down to about θ_b, so
    # the filter below keeps the whole top of the block instead of only its first vector.
    Q = _cholqr_rows(Z, 1e-5)
    QG = np.matmul(Q, G)
    H = np.matmul(QG, _ct(Q))
    ritz = np.linalg.eigvalsh((H + _ct(H)) / 2)
    # Damp [0, hi] with hi <= theta_b <= lambda_b (interlacing): the filter then grows
    # every one of the top b eigenvectors, so none can vanish from the block.
    top = ritz[:, -1]
    hi = np.maximum(np.minimum(ritz[:, 0], _HI * top), 1e-6 * top)
    e = np.where(hi > 0, hi / 2, 1.0).astype(rdtype)
    # Rows grow by at most 2x + 1 per step, x = 2 top/hi - 1: rescale often enough
    # that single precision never overflows (magnitudes stay below 1e12).
    growth = float(np.max(4 * top / np.where(hi > 0, hi, 1.0)))
    every = int(max(1, 12 // math.log10(max(growth, 10.0))))
    # T_{j+1} = Gs T_j - T_{j-1} with Gs = (2/e)(G - e I): Chebyshev on [0, 2e] = [0, hi].
    G *= (2 / e)[:, None, None]
    G.reshape(c, q * q)[:, :: q + 1] -= 2
    Z0 = Q
    Z1 = QG * (1 / e)[:, None, None]
    Z1 -= Q
    Z2 = np.empty_like(Z1)  # three rotating buffers: no allocation in the loop
    for step in range(_DEGREE - 1):
        np.matmul(Z1, G, out=Z2)
        Z2 -= Z0
        Z0, Z1, Z2 = Z1, Z2, Z0
        if step % every == every - 1:  # same scale for both terms: the recurrence stays linear
            scale = (1 / np.sqrt(_sqsum(Z1, "ni") + np.finfo(rdtype).tiny)).astype(rdtype)[
                :, :, None
            ]
            Z1 *= scale
            Z0 *= scale
    return _ct(Z1)


def _cluster_bound(
    theta: np.ndarray, rho2: np.ndarray, tr: np.ndarray, k: int, block_ok: Any
) -> Any:
    """Smallest Kato-Temple bound on ``Σ_{i≤k}(λ_i - θ_i)`` over clusters ``k' = k..b``."""
    b = theta.shape[1]
    csum, tsum = np.cumsum(rho2, axis=1), np.cumsum(theta, axis=1)
    lam_tr = np.maximum(tr[:, None] - tsum[:, k - 1 :], 0.0)  # >= lambda_{k'+1}, k' = k..b
    lam_blk = np.full_like(lam_tr, np.inf)
    lam_blk[:, : b - k] = np.where(block_ok[:, None], theta[:, k:] + np.sqrt(rho2[:, k:]), np.inf)
    gap = theta[:, k - 1 :] - np.minimum(lam_tr, lam_blk)
    bound = np.where(gap > 0, csum[:, k - 1 :] / np.where(gap > 0, gap, 1.0), np.inf)
    return bound.min(axis=1)


def _chunk(S: np.ndarray, right: bool, k: int, X0: np.ndarray) -> tuple[np.ndarray, ...]:
    """The per-slice quantities of one chunk (the bounds are formed for all slices at once).

    Returns ``||S||_F²``, the loss of orthogonality of the block, its Ritz values
    and squared residuals, the Ritz values and ``Σ ρ²`` after one power step,
    where the power step captures more, and the better top-``k`` Ritz vectors
    ``X`` and ``U = Sw X`` of the two (chosen here: no second copy of them to
    hold for the whole matrix).
    """
    low = np.complex64 if np.iscomplexobj(S) else np.float32
    Sw = _Slices(S, right)
    tr, G = _gram32(S, right, low)
    # The filtered block is ill-conditioned (condition numbers up to ~1e8): Householder QR
    # in double precision, stable whatever the conditioning, and cheaper than the two
    # Cholesky QR passes the same block would need.
    Q = np.linalg.qr(_filtered_block(G, X0).astype(S.dtype))[0]
    b = Q.shape[2]
    orth = np.abs(np.matmul(_ct(Q), Q) - np.eye(b)).reshape(len(Q), b * b).max(axis=1)
    # Residuals of the top k + 2 Ritz pairs only: enough for the bounds (clusters up to
    # k + 1, and Kahan's theorem applies to any set of Ritz vectors).
    theta, X, U, R = _ritz(Sw, Q, min(b, k + 2))
    # One power step for the wanted vectors: G x = R + θ x.
    P = R[:, :, :k] + X[:, :, :k] * theta[:, None, :k]
    Q2 = _cholqr(P, 1e-14)
    if k > 1:
        # A second pass (CholQR2): the shifted first one leaves the columns orthogonal
        # only to about 1e-14 times the spread of their norms, which costs ~1e-12 of
        # ||S|| in S X Xᴴ when S has rank k exactly (a member of the class).
        Q2 = _cholqr(Q2, 1e-16)
    th2, X2, U2, R2 = _ritz(Sw, Q2)
    # For PSD G the power step never lowers the captured energy; keep it where it holds.
    better = th2.sum(axis=1) >= theta[:, :k].sum(axis=1)
    pick = better[:, None, None]
    return (
        tr,
        orth,
        theta,
        _sqsum(R, "nj"),
        th2,
        _sqsum(R2, "nj").sum(axis=1),
        better,
        np.where(pick, X2, X[:, :, :k]),
        np.where(pick, U2, U[:, :, :k]),
    )


def _bounds(
    tr: np.ndarray,
    orth: np.ndarray,
    theta: np.ndarray,
    rho2: np.ndarray,
    th2: np.ndarray,
    r2: np.ndarray,
    better: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on the energy missed by each slice (by the power-stepped vectors where
    ``better``), and where the ``k``-th and ``(k+1)``-th singular values tie within
    the block's accuracy."""
    block_ok = orth <= 1e-10  # Ritz values are lower bounds (interlacing) only then
    # Without a gap (a repeated top singular value: any vector of its space is optimal),
    # Kahan's theorem still pairs each theta_i with an eigenvalue within ||R||_2 <= ||R||_F.
    gap_free = k * np.sqrt(rho2.sum(axis=1))
    bound = np.minimum(_cluster_bound(theta, rho2, tr, k, block_ok), gap_free)
    bound = np.where(block_ok, bound, np.inf)
    lam_blk = np.where(block_ok, theta[:, k] + np.sqrt(rho2[:, k]), np.inf)
    lam_next = np.minimum(lam_blk, np.maximum(tr - th2.sum(axis=1), 0.0))
    gap = th2[:, k - 1] - lam_next
    bound2 = np.where(gap > 0, r2 / np.where(gap > 0, gap, 1.0), np.inf)
    bound = np.where(better, np.minimum(bound, bound2), bound)
    tied = block_ok & (gap <= 0)
    return np.where(tr > 0, bound, 0.0), tied  # a zero slice: anything is optimal


def _layout(V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The group axes of ``V`` (..., s, p) as few strided axes as its strides allow.

    Returns ``(W, ids)``: ``W`` a view of ``V`` with group axes ``(*outer,
    inner)`` (size-one axes dropped, the others in decreasing stride,
    neighbours merged where their strides chain) and ``ids`` the C-order group
    number of each. Monarch's ``(a, j)`` blocks of ``A`` become one axis, in
    the memory order ``j*K + a``: the slice stack without a copy.
    """
    gshape = V.shape[:-2]
    ids: np.ndarray = np.arange(math.prod(gshape)).reshape(gshape)
    live = [i for i, g in enumerate(gshape) if g > 1]
    pick = tuple(slice(None) if g > 1 else 0 for g in gshape)
    W, ids = V[pick], ids[pick]
    order = sorted(range(len(live)), key=lambda i: -abs(V.strides[live[i]]))
    W, ids = W.transpose(*order, len(live), len(live) + 1), ids.transpose(order)
    if not live:
        W, ids = W[None], ids.reshape(1)
    shape, strides = [W.shape[0]], [W.strides[0]]
    for g, st in zip(W.shape[1:-2], W.strides[1:-2], strict=True):
        if strides[-1] == g * st:  # chains with the axis before: merged, still a view
            shape[-1] *= g
            strides[-1] = st
        else:
            shape.append(g)
            strides.append(st)
    return W.reshape(*shape, *W.shape[-2:]), ids.reshape(shape)


def _tasks(W: np.ndarray, ids: np.ndarray, per: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Chunks of at most ``per`` groups of :func:`_layout`'s ``W``: strided stacks (n, s, p)
    (views) and their group numbers."""
    *outer, inner = W.shape[:-2]
    return [
        (W[o][i0 : i0 + per], ids[o][i0 : i0 + per])
        for o in np.ndindex(*outer)
        for i0 in range(0, inner, per)
    ]


def gather(V: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The groups ``idx`` (C-order numbers) of the block view ``V`` as a contiguous stack,
    in double precision."""
    W, ids = _layout(V)
    where = np.empty(ids.size, dtype=np.int64)
    where[ids.reshape(-1)] = np.arange(ids.size)
    return in_double(np.ascontiguousarray(W[np.unravel_index(where[idx], ids.shape)]))


def residual_energy(V: np.ndarray, Lc: np.ndarray, Rr: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """``||S - Lc Rr||_F²`` of the groups ``S`` of ``V`` where ``sel`` (0 elsewhere), from
    strided views, one chunk of groups per task on the worker threads."""
    W, ids = _layout(V)
    out = np.zeros(ids.size)
    # chunks of about _RESIDUAL_BYTES: the difference S - Lc Rr stays in cache
    fit = _RESIDUAL_BYTES // (V.itemsize * math.prod(V.shape[-2:]))
    per = max(1, min(ceil_div(ids.size, _pool.MIN_TASKS), fit))

    def run(task: tuple[np.ndarray, np.ndarray]) -> None:
        S, rows = task
        S = in_double(S)
        mask = sel[rows]
        # sums by einsum, not BLAS: no thread-dependent rounding
        if np.all(mask):  # the strided view itself: no copy of the blocks
            out[rows] = _sqsum(S - np.matmul(Lc[rows], Rr[rows]), "n")
        elif np.any(mask):
            at = rows[mask]
            out[at] = _sqsum(S[mask] - np.matmul(Lc[at], Rr[at]), "n")

    _pool.map_one_blas(run, _tasks(W, ids, per))
    return out


def top_vectors(
    V: np.ndarray, right: bool, k: int, b: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Top-``k`` vectors of every group ``S`` (s x p) of the block view ``V`` (..., s, p).

    Returns ``(X, U, theta, trace, bound, tied)`` in C order of the group axes:
    ``X`` (N, q, k) orthonormal columns, ``U = Sw X`` (``Sw = S`` when
    ``right``, else ``Sᴴ``), the captured energies ``theta`` (N, k),
    ``||S||_F²``, the bounds on the energy each group misses against its
    optimum (``inf`` where none holds), and where the ``k``-th and
    ``(k+1)``-th singular values tie (no singular subspace to certify: the
    exact engine would end in a full SVD there). ``V`` may be single
    precision: each chunk is cast to double as it is read, and the results
    are in double.
    """
    s, p = V.shape[-2:]
    q, other = (p, s) if right else (s, p)
    W, ids = _layout(V)
    N = ids.size
    low = np.complex64 if np.iscomplexobj(V) else np.float32
    X0 = np.random.default_rng(SEED).standard_normal((q, b)).astype(low)
    m = min(b, k + 2)  # Ritz pairs kept for the bounds (see _chunk)
    shapes = [(), (), (m,), (m,), (k,), (), (), (q, k), (other, k)]
    wide = np.complex128 if np.iscomplexobj(V) else np.float64
    dtypes = [np.float64] * 6 + [np.bool_, wide, wide]
    outs = [np.empty((N, *sh), dtype=dt) for sh, dt in zip(shapes, dtypes, strict=True)]
    # Groups per task: about _CHUNK_BYTES in single precision, and at least
    # _pool.MIN_TASKS tasks (a fixed number: results must not depend on the thread
    # count); each task a strided view of V (no stack copy).
    per = max(
        1, min(_CHUNK_BYTES // (s * p * np.dtype(low).itemsize), ceil_div(N, _pool.MIN_TASKS))
    )

    def run(task: tuple[np.ndarray, np.ndarray]) -> None:
        S, rows = task
        for out, part in zip(outs, _chunk(in_double(S), right, k, X0), strict=True):
            out[rows] = part

    _pool.map_one_blas(run, _tasks(W, ids, per))
    tr, orth, theta, rho2, th2, r2, better, X, U = outs
    bound, tied = _bounds(tr, orth, theta, rho2, th2, r2, better, k)
    return X, U, np.where(better[:, None], th2, theta[:, :k]), tr, bound, tied


def redo_mask(
    bound: np.ndarray, discarded: np.ndarray, floor: np.ndarray, tol: float
) -> np.ndarray:
    """Slices to redo exactly: the largest bounds, until the rest sum to ``tol·Σ discarded + Σ floor``."""
    allowed = tol * float(np.sum(discarded)) + float(np.sum(floor))
    order = np.argsort(-bound, kind="stable")
    tail = np.cumsum(bound[order][::-1])[::-1]  # tail[i] = sum of the bounds from rank i on
    keep_from = int(np.argmax(np.append(tail, 0.0) <= allowed))
    redo = np.zeros(len(bound), dtype=bool)
    redo[order[:keep_from]] = True
    return redo

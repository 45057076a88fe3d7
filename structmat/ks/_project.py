r"""The exact two-factor projection onto products of two KS factors, and its error.

:func:`ks_project_two` finds the closest product ``X Y`` of two
Kronecker-sparse factors to a matrix (one truncated SVD per group of
intermediate indices); :func:`ks_project_two_error` computes only its error,
with rigorous bounds, for certificates.

References
----------
.. [1] Q.-T. Le, L. Zheng, E. Riccietti, R. Gribonval, "Butterfly
   factorization with error guarantees", arXiv:2411.04506 (2024).
.. [2] L. Zheng, E. Riccietti, R. Gribonval, "Efficient identification of
   butterfly sparse matrix factorizations", SIAM J. Math. Data Sci. 5 (2023).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat import _monarch_mixed as _mm
from structmat import _pool
from structmat._dense import ldexp_stack, normalize, normalize_stack, unscale
from structmat._truncated_svd import ENGINES, _exact_chunk, _on_workers, default_engine, top_k
from structmat.ks import _mixed
from structmat.ks._multiply import _conj
from structmat.ks._patterns import Pattern, _check_pattern

__all__ = ["ks_project_two", "ks_project_two_error"]


def _abs2(xp: Any, x: Any) -> Any:
    """``|x|^2`` as a real array."""
    if aa.is_complex(xp, x.dtype):
        return xp.real(x) ** 2 + xp.imag(x) ** 2
    return x * x


def _groups(left: Pattern, right: Pattern) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group the intermediate indices by their (row set, column set) block.

    Returns ``block`` (block id of each intermediate index ``m``), ``pos``
    (its rank within its group, in increasing ``m``) and ``size`` (group size
    of each block id; 0 for blocks that no index touches). Block ids run over
    ``(i2, i, l, l2)`` in C order, ``(i, l)`` the row set of the left factor's
    column ``m`` and ``(i2, l2)`` the column set of the right factor's row
    ``m``: for the chains of butterflies and Monarch this is the order of
    ``m`` itself, so no gather is needed.
    """
    a1, _, c1, d1 = left
    _, b2, _, d2 = right
    m = np.arange(a1 * c1 * d1)
    i, lo = m // (c1 * d1), m % d1
    i2, l2 = m // (b2 * d2), m % d2
    a2 = right[0]
    block = ((i2 * a1 + i) * d1 + lo) * d2 + l2
    size = np.bincount(block, minlength=a2 * a1 * d1 * d2)
    order = np.argsort(block, kind="stable")
    first = np.concatenate(([0], np.cumsum(size)[:-1]))
    pos = np.empty_like(m)
    pos[order] = np.arange(m.size) - first[block[order]]
    return block, pos, size


def _check_two(A: Any, left: Any, right: Any, what: str) -> tuple[Any, Pattern, Pattern]:
    xp = aa.namespace_of(A)
    left = _check_pattern(left, "pattern_left")
    right = _check_pattern(right, "pattern_right")
    a1, b1, c1, d1 = left
    a2, b2, c2, d2 = right
    if a1 * c1 * d1 != a2 * b2 * d2:
        msg = (
            f"{what}: inner dimensions differ, left pattern {left} has {a1 * c1 * d1} "
            f"columns but right pattern {right} has {a2 * b2 * d2} rows"
        )
        raise ValueError(msg)
    shape = (a1 * b1 * d1, a2 * c2 * d2)
    if A.ndim < 2 or tuple(A.shape[-2:]) != shape:
        msg = f"{what}: patterns {left} and {right} need A of shape (..., {shape[0]}, {shape[1]}), got {tuple(A.shape)}"
        raise ValueError(msg)
    if not xp.isdtype(A.dtype, ("real floating", "complex floating")):
        msg = f"{what}: A must be a floating array, got dtype {aa.dtype_name(A.dtype)}"
        raise TypeError(msg)
    aa.check_floating_dtype(xp, A.dtype, what)
    return xp, left, right


def _blocks(xp: Any, A: Any, left: Pattern, right: Pattern) -> Any:
    """``A`` (nb, M, N) cut into its ``(i2, i, l, l2)`` blocks: shape (nb, a2, a1, d1, d2, b1, c2).

    A view (no copy) where the backend allows; the block axes are not merged,
    which would force a copy.
    """
    a1, b1, _, d1 = left
    a2, _, c2, d2 = right
    nb = int(A.shape[0])
    A6 = xp.reshape(A, (nb, a1, b1, d1, a2, c2, d2))
    return xp.permute_dims(A6, (0, 4, 1, 3, 6, 2, 5))


def _re(xp: Any, x: Any) -> Any:
    return xp.real(x) if aa.is_complex(xp, x.dtype) else x


def _top_vector2(xp: Any, p: Any, q: Any, z: Any, dtype: Any) -> tuple[Any, Any]:
    """Unit top eigenvector ``(u0, u1)`` of ``[[p, z], [conj z, q]]`` (elementwise, closed form).

    ``(λ - q, conj z)`` when ``p >= q`` and ``(z, λ - p)`` otherwise, both
    free of cancellation; ``(1, 0)`` for a zero matrix.
    """
    half = (p - q) / 2
    root = xp.sqrt(half * half + _abs2(xp, z))
    big = xp.astype(xp.abs(half) + root, dtype)
    top = p >= q
    v0 = xp.where(top, big, z)
    v1 = xp.where(top, _conj(xp, z), big)
    norm = xp.sqrt(_abs2(xp, v0) + _abs2(xp, v1))
    zero = norm == 0
    safe = xp.astype(xp.where(zero, xp.ones_like(norm), norm), dtype)
    u0 = xp.where(zero, xp.ones_like(v0), v0 / safe)
    u1 = xp.where(zero, xp.zeros_like(v1), v1 / safe)
    return u0, u1


def _rank_one_two_rows(xp: Any, blocks: Any) -> tuple[Any, Any, Any]:
    r"""Best rank-one approximation of each ``2 x w`` block, in closed form.

    Returns ``u`` (..., 2) (unit top left singular vector), ``h = u^H N``
    (..., w) (so ``N ≈ u h``) and the discarded energy ``||u_⊥^H N||^2``
    computed directly (accurate to rounding of ``||N||``, no cancellation).
    """
    dtype = blocks.dtype
    x0, x1 = blocks[..., 0, :], blocks[..., 1, :]
    p = _re(xp, xp.vecdot(x0, x0))
    q = _re(xp, xp.vecdot(x1, x1))
    z = xp.vecdot(x1, x0)  # Σ x0 conj(x1)
    u0, u1 = _top_vector2(xp, p, q, z, dtype)
    # One batched product with [u^H; u_⊥^H] gives h = u^H N and the lost part u_⊥^H N.
    W = xp.stack(
        (xp.stack((_conj(xp, u0), _conj(xp, u1)), axis=-1), xp.stack((-u1, u0), axis=-1)),
        axis=-2,
    )
    out = xp.matmul(W, blocks)
    h, perp = out[..., 0, :], out[..., 1, :]
    discarded = _re(xp, xp.vecdot(perp, perp))
    return xp.stack((u0, u1), axis=-1), h, discarded


def _group_factors(
    xp: Any,
    blocks: Any,
    size: np.ndarray,
    block: np.ndarray,
    pos: np.ndarray,
    engine: str,
    *,
    unit_left: bool = True,
    dtype: Any = None,
    work: Any = None,
) -> tuple[Any, Any, Any, Any, bool]:
    """Truncated SVDs of the live groups' blocks (nb, *groups, b1, c2) (a view) by :func:`top_k`.

    Groups of equal rank ``min(|P|, q)`` go to the engine as one stack (one
    bucket per distinct rank), or, on NumPy in double precision, to the
    mixed-precision route (:mod:`structmat.ks._mixed`) where it is chosen,
    which reads them through the view. ``dtype`` is the precision promised
    (default: that of ``blocks``) and ``work`` the one computed in (default:
    the same; double for single-precision blocks that the mixed route takes,
    which it casts chunk by chunk, other buckets' stacks cast whole): the
    factors are rounded to ``dtype``. ``unit_left``: the
    left factors the singular vectors, else the singular values split evenly.
    Returns the left factors of the intermediate indices ``cols`` (nb, N,
    b1), the right ones ``rows`` (nb, N, c2) (zero past a group's rank), the
    discarded energy of each problem (nb,), its blocks' energy (nb,) and whether
    every discarded energy came from a full spectrum (:func:`_full_spectrum`).
    """
    nb, b1, c2 = int(blocks.shape[0]), int(blocks.shape[-2]), int(blocks.shape[-1])
    G = size.size
    q = min(b1, c2)
    work = blocks.dtype if work is None else work
    dtype = blocks.dtype if dtype is None else dtype
    dev = aa.device_of(blocks)
    eps = aa.eps(xp, dtype)  # the precision promised: the input's
    tol = max(1e-11, eps)
    ranks = np.minimum(size, q)
    kmax = int(ranks.max())
    buckets = [np.flatnonzero(ranks == k) for k in np.unique(ranks)]
    full = True
    Us, SVs = [], []
    lost = xp.zeros((nb,), dtype=aa.real_dtype(xp, work), device=dev)
    energy = xp.zeros((nb,), dtype=aa.real_dtype(xp, work), device=dev)
    # one stack of all blocks to take the buckets from (a copy: the view's group axes
    # do not merge in general)
    flat = xp.reshape(blocks, (nb, G, b1, c2)) if len(buckets) > 1 else None
    for gidx in buckets:
        k, Gk = int(ranks[gidx[0]]), gidx.size
        sub = blocks if flat is None else xp.take(flat, xp.asarray(gidx, device=dev), axis=1)
        mixed = _mixed.applies(xp, work, k, q, engine)
        if mixed:  # the view itself, no stack copy
            S, order = sub, None
            Lc, Rr, captured, trace = _mixed.mixed_top_k(S, k, aa.eps(xp, work), tol, unit_left)
        else:
            S, order = _stack(xp, sub, nb * Gk)
            if S.dtype != work:  # this bucket's stack in double (the mixed route casts by chunk)
                S = xp.astype(S, work)
            Lc, Rr, captured, trace = _stack_top_k(xp, S, k, eps, tol, engine, unit_left)
        if work != dtype:  # rounded to the input's precision; the error is theirs
            Lc, Rr = xp.astype(Lc, dtype), xp.astype(Rr, dtype)
        lb = None
        if k < q:
            full = full and not mixed and _full_spectrum(xp, dev, k, b1, c2, engine)
            Lw, Rw = (Lc, Rr) if work == dtype else (xp.astype(Lc, work), xp.astype(Rr, work))
            if mixed:
                lb = _mixed.discarded(S, Lw, Rw, captured, trace, eps, tol)
            else:
                lb = _discarded(xp, S, Lw, Rw, captured, trace, eps, tol)
        if order is not None:  # the stack's memory order back to group order
            Lc, Rr, trace = (_unpermute(x, order) for x in (Lc, Rr, trace))
            lb = None if lb is None else _unpermute(lb, order)
        if lb is not None:
            lost = lost + xp.sum(xp.reshape(lb, (nb, Gk)), axis=-1)
        energy = energy + xp.sum(xp.reshape(trace, (nb, Gk)), axis=-1)
        U = xp.reshape(xp.permute_dims(Lc, (0, 2, 1)), (nb, Gk, k, b1))
        SV = xp.reshape(Rr, (nb, Gk, k, c2))
        if k < kmax:  # zero components up to the largest rank
            U = xp.concat([U, xp.zeros((nb, Gk, kmax - k, b1), dtype=dtype, device=dev)], axis=2)
            SV = xp.concat([SV, xp.zeros((nb, Gk, kmax - k, c2), dtype=dtype, device=dev)], axis=2)
        Us.append(U)
        SVs.append(SV)
    if len(buckets) == 1:
        U, SV = Us[0], SVs[0]
    else:  # back to group order
        inv = np.empty(G, dtype=np.int64)
        inv[np.concatenate(buckets)] = np.arange(G)
        back = xp.asarray(inv, device=dev)
        U = xp.take(xp.concat(Us, axis=1), back, axis=1)
        SV = xp.take(xp.concat(SVs, axis=1), back, axis=1)
    # intermediate index m: component pos[m] of group block[m]; none past the rank
    at = block * kmax + np.minimum(pos, kmax - 1)
    cols, rows = xp.reshape(U, (nb, G * kmax, b1)), xp.reshape(SV, (nb, G * kmax, c2))
    if at.size != G * kmax or not bool(np.all(at == np.arange(at.size))):  # else in order
        idx = xp.asarray(at, device=dev)
        cols, rows = xp.take(cols, idx, axis=1), xp.take(rows, idx, axis=1)
    if bool(np.any(pos >= kmax)):
        live = xp.asarray((pos < kmax)[:, None], device=dev)
        cols = xp.where(live, cols, xp.zeros_like(cols))
        rows = xp.where(live, rows, xp.zeros_like(rows))
    return cols, rows, lost, energy, full


def _full_spectrum(xp: Any, dev: Any, k: int, s: int, p: int, engine: str) -> bool:
    """Whether :func:`top_k` takes the whole spectrum of its ``s x p`` matrices (a batched
    eigh of the Gram matrices or a batched SVD): the discarded energy is then as accurate
    as the exact eigenvalues of :func:`ks_project_two_error`, and serves as its bound."""
    if engine == "auto":
        engine = default_engine(xp, dev, k, s, p)
    return engine in ("eigh", "svd")


def _stack(xp: Any, blocks: Any, n: int) -> tuple[Any, Any]:
    """The blocks (nb, *groups, b1, c2) as one stack (n, b1, c2), and its order.

    On NumPy, where the group axes merge into one strided axis in some order
    (Monarch's ``(a, j)`` slices of ``A`` do, as ``j*K + a``), that view, no copy,
    with the group numbers in its order (``None`` when already in group order);
    elsewhere a C-order copy and ``None``.
    """
    b1, c2 = int(blocks.shape[-2]), int(blocks.shape[-1])
    if aa.is_numpy(xp) and blocks.ndim > 3:
        W, ids = _mm._layout(blocks)
        if W.ndim == 3:
            return W, None if bool(np.all(ids == np.arange(n))) else ids
    return xp.reshape(blocks, (n, b1, c2)), None


def _unpermute(x: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``x`` given in the stack order ``order`` (group numbers), in group order."""
    out = np.empty_like(x)
    out[order] = x
    return out


def _discarded(
    xp: Any, S: Any, Lc: Any, Rr: Any, captured: Any, trace: Any, eps: float, tol: float
) -> Any:
    """Energy each matrix of ``S`` loses to its truncation ``Lc @ Rr``.

    ``||S||² - captured``, unless that is rounding against ``||S||²``: then
    the residual itself, summed.
    """
    q = min(int(S.shape[-2]), int(S.shape[-1]))
    lb = xp.clip(trace - captured, 0.0, None)
    small = lb * tol <= (q * eps) * trace
    if bool(xp.any(small)):
        resid = _abs2(xp, S - xp.matmul(Lc, Rr))
        exact = xp.sum(xp.reshape(resid, (int(S.shape[0]), -1)), axis=-1)
        lb = xp.where(small, exact, lb)
    return lb


def _stack_top_k(
    xp: Any, S: Any, k: int, eps: float, tol: float, engine: str, unit_left: bool = True
) -> tuple[Any, Any, Any, Any]:
    """:func:`top_k` (by default with the left singular vectors unit); NumPy stacks on the
    worker threads."""
    if aa.is_numpy(xp):
        step = _exact_chunk(min(S.shape[1:]), aa.is_complex(xp, S.dtype), int(S.shape[0]))
        return _on_workers(
            lambda T: top_k(np, T, k, eps, tol, engine, unit_left=unit_left), S, step
        )
    return top_k(xp, S, k, eps, tol, engine, unit_left=unit_left)


def _check_engine(engine: Any, what: str) -> str:
    if not isinstance(engine, str) or engine not in ENGINES:
        msg = f"{what}: unknown engine={engine!r}; valid names: {', '.join(ENGINES)}"
        raise ValueError(msg)
    return engine


def ks_project_two(
    A: Any, pattern_left: Any, pattern_right: Any, /, *, engine: str = "auto"
) -> tuple[Any, Any, Any]:
    r"""Closest product ``X Y`` of two KS factors to ``A`` (Frobenius norm, exact).

    Parameters
    ----------
    A : array of shape (M, N) or (..., M, N)
        ``M = a1*b1*d1`` and ``N = a2*c2*d2``; leading dimensions are a batch
        of independent problems.
    pattern_left, pattern_right : (int, int, int, int)
        Patterns ``(a1, b1, c1, d1)`` of ``X`` and ``(a2, b2, c2, d2)`` of
        ``Y``, with ``a1*c1*d1 == a2*b2*d2``.
    engine : {"auto", "subspace", "eigh", "svd"}
        The truncated SVD of the groups (:mod:`structmat._truncated_svd`,
        the engine of :meth:`structmat.Monarch.project`): ``"svd"`` one
        batched full SVD, ``"eigh"`` a batched eigh of the Gram matrices,
        ``"subspace"`` subspace iteration where its block fits, each with its
        certificate (the uncertified matrices redone by the SVD); ``"auto"``
        the measured default per backend: on NumPy the mixed-precision route
        (:mod:`structmat.ks._mixed`: single-precision iterations certified in
        double, through strided views of ``A``; single-precision input cast
        to double) where it applies and pays (``q >= 20`` and ``3b <= max(q,
        24)`` for the shorter block side ``q``, rank ``k`` and ``b = k +
        max(k, 7)``), and for rank-one groups of two rows a closed-form 2x2
        eigen-solve. Every engine gives the same
        product and error to ``1e-10`` relative (to the input's precision in
        single precision). Monarch's projection also takes ``"mixed"`` (that
        route wherever it applies) and ``"exact"`` (never it).

    Returns
    -------
    T_left : array of shape (..., a1, b1, c1, d1)
    T_right : array of shape (..., a2, b2, c2, d2)
    error : float or array of shape (...)
        ``||A - X Y||_F`` (a Python float for 2-d ``A``).

    Notes
    -----
    Column ``m = i c1 d1 + k d1 + l`` of ``X`` lives on the rows
    ``{i b1 d1 + j d1 + l}`` (set ``(i, l)``); row ``m = i2 b2 d2 + j2 d2 + l2``
    of ``Y`` lives on the columns ``{i2 c2 d2 + k2 d2 + l2}`` (set ``(i2, l2)``).
    ``X Y = Σ_m X[:, m] Y[m, :]`` is a sum of rank-one matrices supported on
    the blocks ``(i, l) x (i2, l2)``. The row sets partition the rows and the
    column sets partition the columns, so the blocks of different groups are
    disjoint: the problem splits into one rank-``|P|`` approximation of
    ``A[R_P, C_P]`` per group ``P`` (truncated SVD, Eckart-Young), and entries
    outside every block are lost. This holds for *every* pair of KS patterns
    with matching inner size (the rank-one supports of one group coincide and
    those of different groups are disjoint) [1]_.

    The left factor carries the singular vectors (orthonormal columns within
    each group: the "orthonormalized" form of [1]_) and the right factor the
    singular values times ``Vᴴ``. The groups of each rank go to the engine
    as one stack (:func:`structmat._truncated_svd.top_k`), or to the
    mixed-precision route, which reads them through strided views of ``A``
    and hands back to the engine the groups it cannot certify; when every group
    has size one and ``b1 = 2`` (butterfly levels) ``"auto"`` takes a
    closed-form 2x2 eigen-solve instead. The squared error is the sum of the
    discarded ``sigma^2`` (``||block||² -`` the captured energy, or the
    residual computed directly where that difference is at rounding level)
    plus the energy outside the blocks.

    References
    ----------
    .. [1] Q.-T. Le, L. Zheng, E. Riccietti, R. Gribonval, "Butterfly
       factorization with error guarantees", arXiv:2411.04506 (2024).

    Examples
    --------
    Monarch-like split: ``KS(1, 4, 4, 4) · KS(4, 4, 4, 1)`` of a 16x16 matrix.

    >>> import numpy as np
    >>> from structmat.ks import ks_to_dense
    >>> rng = np.random.default_rng(0)
    >>> TL, TR = rng.standard_normal((1, 4, 4, 4)), rng.standard_normal((4, 4, 4, 1))
    >>> A = ks_to_dense(TL) @ ks_to_dense(TR)
    >>> XL, XR, err = ks_project_two(A, (1, 4, 4, 4), (4, 4, 4, 1))
    >>> bool(np.allclose(ks_to_dense(XL) @ ks_to_dense(XR), A)), err < 1e-12
    (True, True)
    """
    xp, left, right = _check_two(A, pattern_left, pattern_right, "ks_project_two")
    engine = _check_engine(engine, "ks_project_two")
    lead = tuple(int(v) for v in A.shape[:-2])
    nb = int(np.prod(lead)) if lead else 1
    A3 = xp.reshape(A, (nb, int(A.shape[-2]), int(A.shape[-1])))
    # Each problem projected as A / 2^e (no over/underflow in the squares); the right
    # factor (singular values times Vᴴ) and the error take 2^e back.
    A3, scale_e = normalize_stack(xp, A3, "ks_project_two")
    TL, TR, err2, _ = _project_two(xp, A3, left, right, engine)
    TR = ldexp_stack(xp, TR, scale_e)
    TL = xp.reshape(TL, (*lead, *left))
    TR = xp.reshape(TR, (*lead, *right))
    err = ldexp_stack(xp, xp.sqrt(xp.astype(err2, aa.real_dtype(xp, A.dtype))), scale_e)
    err = xp.reshape(err, lead)
    if not lead:
        return TL, TR, aa.to_float(err)
    return TL, TR, err


def _project_two(
    xp: Any,
    A3: Any,
    left: Pattern,
    right: Pattern,
    engine: str,
    *,
    balanced: bool = False,
    dtype: Any = None,
) -> tuple[Any, Any, Any, Any]:
    """:func:`ks_project_two` of a checked, scaled stack ``A3`` (nb, M, N): ``(T_left,
    T_right, err2, norm2)``, the values (nb, *pattern), the squared errors (nb,) and
    ``||A3[i]||²`` (nb,).

    ``balanced``: the singular values split evenly between the two factors (``U
    sqrt(Σ)`` and ``sqrt(Σ) Vᴴ``, Monarch's convention) instead of all on the right.
    ``dtype``: the precision promised (default ``A3``'s): the factors come in it.
    Single-precision NumPy input is computed in double where the mixed route
    takes it, chunk by chunk (``A3`` itself is never cast whole).
    """
    return _project_two_parts(xp, A3, left, right, engine, balanced=balanced, dtype=dtype)[:4]


def _project_two_parts(
    xp: Any,
    A3: Any,
    left: Pattern,
    right: Pattern,
    engine: str,
    *,
    balanced: bool = False,
    dtype: Any = None,
) -> tuple[Any, Any, Any, Any, bool]:
    """:func:`_project_two`, and whether its ``err2`` is the sum of discarded eigenvalues
    of full spectra (the closed form, or the engine's batched eigh or SVD): then it is
    the exact two-factor error that :func:`ks_project_two_error` would compute again."""
    a1, b1, c1, d1 = left
    a2, b2, c2, d2 = right
    nb = int(A3.shape[0])
    block, pos, size = _groups(left, right)
    N = block.size
    dev = aa.device_of(A3)
    q = min(b1, c2)
    dtype = A3.dtype if dtype is None else dtype
    # Single-precision NumPy input is projected in double where the mixed route takes it;
    # A itself stays as it is: the route casts each chunk of blocks as it reads it.
    work = _mixed.work_dtype(xp, A3.dtype, np.minimum(size[size > 0], q), q, engine)
    blocks = _blocks(xp, A3, left, right)  # (nb, a2, a1, d1, d2, b1, c2), a view
    rdt = aa.real_dtype(xp, work)
    err2: Any = xp.zeros((nb,), dtype=rdt, device=dev)
    norm2: Any = xp.zeros((nb,), dtype=rdt, device=dev)
    if bool(np.any(size == 0)):
        # Blocks no index touches are lost whole: their energy, and no SVD (in a
        # chain's later steps most blocks are such, and zero).
        G_all = size.size
        flat_blocks = xp.reshape(blocks, (nb, G_all, b1, c2))
        dead = xp.take(flat_blocks, xp.asarray(np.flatnonzero(size == 0), device=dev), axis=1)
        dead = dead if dead.dtype == work else xp.astype(dead, work)
        err2 = xp.sum(xp.reshape(_abs2(xp, dead), (nb, -1)), axis=-1)
        norm2 = err2
        live = np.flatnonzero(size > 0)
        blocks = xp.take(flat_blocks, xp.asarray(live, device=dev), axis=1)
        renumber = np.full(G_all, -1)
        renumber[live] = np.arange(live.size)
        block, size = renumber[block], size[live]
    G = size.size
    in_order = bool(np.all(size == 1)) and bool(np.all(block == np.arange(N)))
    full = True
    if b1 == 2 and engine == "auto" and bool(np.all(size == 1)):
        u, h, discarded = _rank_one_two_rows(xp, blocks)
        captured = _re(xp, xp.vecdot(h, h))
        err2 = err2 + xp.sum(xp.reshape(discarded, (nb, G)), axis=-1)
        norm2 = norm2 + xp.sum(xp.reshape(discarded + captured, (nb, G)), axis=-1)
        if balanced:  # sqrt of the singular value |h| on each side
            root = xp.sqrt(xp.sqrt(captured))
            safe = xp.astype(xp.where(root > 0, root, xp.ones_like(root)), h.dtype)
            u, h = u * xp.astype(root, u.dtype)[..., None], h / safe[..., None]
        cols = xp.reshape(u, (nb, G, b1))
        rows = xp.reshape(h, (nb, G, c2))
        if not in_order:
            idx = xp.asarray(block, device=dev)
            cols = xp.take(cols, idx, axis=1)
            rows = xp.take(rows, idx, axis=1)
    else:
        cols, rows, lost, energy, full = _group_factors(
            xp, blocks, size, block, pos, engine, unit_left=not balanced, dtype=dtype, work=work
        )
        err2 = err2 + lost
        norm2 = norm2 + energy
    # cols: (nb, N, b1) with m = i c1 d1 + k d1 + l -> T_left[i, j, k, l]
    TL = xp.permute_dims(xp.reshape(cols, (nb, a1, c1, d1, b1)), (0, 1, 4, 2, 3))
    # rows: (nb, N, c2) with m = i2 b2 d2 + j2 d2 + l2 -> T_right[i2, j2, k2, l2]
    TR = xp.permute_dims(xp.reshape(rows, (nb, a2, b2, d2, c2)), (0, 1, 2, 4, 3))
    return TL, TR, err2, norm2, full


def _gram(xp: Any, blocks: Any) -> Any:
    """The smaller Gram matrix of every block of ``blocks`` (..., b1, c2): ``B Bᴴ`` or ``Bᴴ B``.

    On a strided view of ``A`` (:func:`_blocks`) the batched matmul reads the blocks
    in place: no copy of ``A`` for real input.
    """
    Bh = _conj(xp, xp.matrix_transpose(blocks))
    if int(blocks.shape[-2]) <= int(blocks.shape[-1]):
        return xp.matmul(blocks, Bh)
    return xp.matmul(Bh, blocks)


def _grams(xp: Any, blocks: Any, *, threads: bool = True) -> Any:
    """The Gram matrices (G, m, m) of :func:`_gram` of ``blocks`` (..., b1, c2), the groups
    in C order over the leading axes (a stack, or the view of :func:`_blocks`).

    On NumPy (``threads``) in slices of the longest leading axis on the worker threads,
    each reading its blocks from the view; the matrices do not depend on the slicing.
    """
    b1, c2 = int(blocks.shape[-2]), int(blocks.shape[-1])
    m = min(b1, c2)
    lead = tuple(int(v) for v in blocks.shape[:-2])
    G = math.prod(lead)
    if not (aa.is_numpy(xp) and threads and _pool.WORKERS > 1 and lead):
        return xp.reshape(_gram(xp, blocks), (G, m, m))
    axis = int(np.argmax(lead))
    per = max(1, _exact_chunk(m, aa.is_complex(xp, blocks.dtype), G) // (G // lead[axis]))
    out = np.empty((*lead, m, m), dtype=blocks.dtype)

    def part(i0: int) -> None:
        at = (slice(None),) * axis + (slice(i0, i0 + per),)
        out[at] = _gram(np, blocks[at])

    _pool.map_one_blas(part, range(0, lead[axis], per))
    return np.reshape(out, (G, m, m))


def _discarded_eigenvalues(xp: Any, gram: Any, size: np.ndarray, *, threads: bool = True) -> float:
    """Σ over the Gram matrices ``gram`` (G, m, m) of the eigenvalues past each group's rank
    ``size`` (G,) (0: a dead block, every eigenvalue). One batched ``eigvalsh``; on NumPy
    (``threads``) in slices on the worker threads (the eigenvalues do not depend on them)."""
    G, m = int(gram.shape[0]), int(gram.shape[-1])
    if aa.is_numpy(xp) and threads and _pool.WORKERS > 1:
        step = _exact_chunk(m, aa.is_complex(xp, gram.dtype), G)
        lam = _on_workers(lambda g: (np.linalg.eigvalsh(g),), gram, step)[0]
    else:
        lam = xp.linalg.eigvalsh(gram)  # ascending
    lam = xp.where(lam > 0, lam, xp.zeros_like(lam))
    keep = xp.asarray(np.arange(m)[None, ::-1] < size[:, None], device=aa.device_of(lam))
    return aa.to_float(xp.sum(xp.where(keep, xp.zeros_like(lam), lam)))


def _two_error2(xp: Any, blocks: Any, size: np.ndarray, *, threads: bool = True) -> float:
    """The exact squared two-factor error of ``blocks``: the Gram eigenvalues past each
    group's rank, summed over the groups.

    ``blocks`` (..., b1, c2): the groups in C order over the leading axes (a stack, or
    the view of :func:`_blocks`), ``size`` (G,) their sizes (the rank kept; 0: a dead
    block, lost whole). Entries outside every block are not included. The Gram
    matrices by :func:`_grams`, one batched ``eigvalsh``
    (:func:`_discarded_eigenvalues`); neither depends on the worker threads.
    """
    gram = _grams(xp, blocks, threads=threads)
    return _discarded_eigenvalues(xp, gram, size, threads=threads)


def _power_start(xp: Any, G: int, m: int, dtype: Any, dev: Any) -> Any:
    """The fixed start ``(G, m, 1)`` of the power steps on ``G`` Gram matrices: the same
    seeded unit vector in every column (results do not depend on a global RNG)."""
    y0 = np.random.default_rng(0).standard_normal(m) + 0.5
    y = xp.asarray(np.broadcast_to(y0 / np.linalg.norm(y0), (G, m)).copy(), device=dev)
    return xp.astype(y, dtype)[..., None]


def _below(xp: Any, gram: Any, size: np.ndarray, bound: float, guard: float, steps: int) -> bool:
    """Whether power steps prove that the lower bound ``err2 - guard`` of
    :func:`_two_bounds` for the Gram matrices ``gram`` (groups of size at most one) is
    at most ``bound``, without their eigenvalues.

    That bound is at most the exact squared error ``Σ (tr G - λ_max)`` (``tr G`` where
    the size is 0), and for unit ``y``, ``θ = yᴴGy <= λ_max``, so the exact error is at
    most ``Σ (tr G - θ) + guard`` (``guard`` covering the rounding, as the power-iteration
    bounds of :func:`ks_project_two_error`). Up to ``steps`` power steps from a fixed
    start, stopping as soon as that is at most ``bound``; ``False`` if none gets there.
    """
    G, m = int(gram.shape[0]), int(gram.shape[-1])
    dev = aa.device_of(gram)
    live = xp.asarray(size > 0, device=dev)
    trace = _re(xp, xp.sum(xp.linalg.diagonal(gram), axis=-1))
    total_trace = aa.to_float(xp.sum(trace))
    y = _power_start(xp, G, m, gram.dtype, dev)
    for _ in range(steps + 1):
        z = xp.matmul(gram, y)
        theta = _re(xp, xp.sum(_conj(xp, y) * z, axis=(-2, -1)))
        theta = xp.where(live & (theta > 0), theta, xp.zeros_like(theta))
        if total_trace - aa.to_float(xp.sum(theta)) + guard <= bound:
            return True
        nrm = xp.sqrt(xp.sum(_abs2(xp, z), axis=-2, keepdims=True))
        nonzero = nrm > 0
        y = xp.where(nonzero, z / xp.astype(xp.where(nonzero, nrm, xp.ones_like(nrm)), z.dtype), y)
    return False


def _two_bounds(err2: float, b1: int, c2: int, total: float, unit: float) -> tuple[float, float]:
    """``(lower, upper)`` on the exact squared two-factor error from the computed ``err2``:
    the worst-case rounding ``(2w + 8m + 16) unit total`` of the Gram matrices and their
    eigenvalues (``w``/``m`` the longer/shorter block side, ``total = ||A||²``)."""
    m, w = min(b1, c2), max(b1, c2)
    guard = (2 * w + 8 * m + 16) * unit * total
    return err2 - guard, err2 + guard


def ks_project_two_error(
    A: Any, pattern_left: Any, pattern_right: Any, /, *, exact: bool = True, iterations: int = 6
) -> tuple[float, float, float]:
    r"""The error of :func:`ks_project_two` for a 2-d ``A``, with rigorous bounds.

    Computes only the error (no factors), from the Gram matrix of each
    block's smaller side: cheaper than the SVD, and what a certificate needs.

    Parameters
    ----------
    A : array of shape (M, N)
    pattern_left, pattern_right : (int, int, int, int)
        As in :func:`ks_project_two`.
    exact : bool
        ``True``: eigenvalues of every Gram matrix (``eigvalsh``).
        ``False`` (only when every group has size one): ``iterations`` steps
        of batched power iteration on the Gram matrices instead, with the
        bounds below; much cheaper for wide blocks.
    iterations : int
        Power iterations when ``exact=False``.

    Returns
    -------
    error : float
        The computed (estimated when ``exact=False``) ``min ||A - X Y||_F``.
    lower, upper : float
        Bounds on the exact value. They account for the worst-case rounding
        of the Gram matrices and eigenvalues (``(2w + 8m + 16) eps ||A||²``
        on the squared error, ``w``/``m`` the longer/shorter block side), so
        ``lower <= exact <= upper`` holds in floating point too. With
        ``exact=False`` they also bound the top eigenvalue ``λ`` of each
        Gram matrix ``G``: ``θ = yᴴGy <= λ`` for the unit power-iteration
        vector ``y``, and, with ``r = Gy - θy`` and ``μ = tr G - θ >=
        λ_max(PGP)`` (``P = I - yyᴴ``, ``G`` positive semi-definite),
        ``λ <= (θ + μ)/2 + sqrt(((θ - μ)/2)² + ||r||²)`` (compression of
        ``G`` onto ``[y, y^⊥]``). Tight for nearly rank-one blocks; loose
        (``lower`` small) for blocks far from rank one.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.random.default_rng(0).standard_normal((16, 16))
    >>> e, lo, hi = ks_project_two_error(A, (1, 4, 4, 4), (4, 4, 4, 1))
    >>> _, _, e2 = ks_project_two(A, (1, 4, 4, 4), (4, 4, 4, 1))
    >>> bool(lo <= e <= hi and abs(e - e2) < 1e-10)
    True
    >>> e3, lo3, hi3 = ks_project_two_error(A, (1, 4, 4, 4), (4, 4, 4, 1), exact=False)
    >>> bool(lo3 <= e2 <= hi3)
    True
    """
    xp, left, right = _check_two(A, pattern_left, pattern_right, "ks_project_two_error")
    if A.ndim != 2:
        msg = f"ks_project_two_error expects a 2-d A, got shape {tuple(A.shape)}"
        raise ValueError(msg)
    _, b1, _, _ = left
    _, _, c2, _ = right
    # bounds of A / 2^e, scaled back
    A, scale_e, total = normalize(xp, A, "ks_project_two_error")
    _, _, size = _groups(left, right)
    G = size.size
    dev = aa.device_of(A)
    blocks = _blocks(xp, A[None, ...], left, right)[0, ...]  # (a2, a1, d1, d2, b1, c2), a view
    m = min(b1, c2)
    unit = aa.eps(xp, A.dtype)
    if exact or not bool(np.all(size == 1)):
        err2 = _two_error2(xp, blocks, size)
        lo2, hi2 = _two_bounds(err2, b1, c2, total, unit)
    else:
        gram = xp.reshape(_gram(xp, blocks), (G, m, m))
        guard = _two_bounds(0.0, b1, c2, total, unit)[1]
        y = _power_start(xp, G, m, A.dtype, dev)
        for _ in range(max(int(iterations), 1)):
            y = xp.matmul(gram, y)
            nrm = xp.sqrt(xp.sum(_abs2(xp, y), axis=-2, keepdims=True))
            zero = nrm == 0
            nrm = xp.where(zero, xp.ones_like(nrm), nrm)
            y = y / xp.astype(nrm, A.dtype)
            first = xp.astype(xp.arange(m, device=dev) == 0, A.dtype)[None, :, None]
            y = xp.where(zero, first, y)  # a zero Gram: any unit vector
        g = xp.matmul(gram, y)
        theta = _re(xp, xp.sum(_conj(xp, y) * g, axis=(-2, -1)))
        res = g - xp.astype(theta, A.dtype)[:, None, None] * y
        rho2 = xp.sum(_abs2(xp, res), axis=(-2, -1))
        trace = _re(xp, xp.sum(xp.linalg.diagonal(gram), axis=-1))
        mu = trace - theta
        up = (theta + mu) / 2 + xp.sqrt(((theta - mu) / 2) ** 2 + rho2)
        up = xp.where(up < trace, up, trace)
        lo2 = aa.to_float(xp.sum(trace - up)) - guard
        hi2 = aa.to_float(xp.sum(trace - theta)) + guard
        err2 = aa.to_float(xp.sum(trace - theta))
    return (
        unscale(math.sqrt(max(err2, 0.0)), scale_e),
        unscale(math.sqrt(max(lo2, 0.0)), scale_e),
        unscale(math.sqrt(max(hi2, 0.0)), scale_e),
    )

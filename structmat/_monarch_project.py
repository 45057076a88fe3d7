r"""The exact Monarch projection engine (private; :meth:`structmat.Monarch.project` calls it).

The optimal Monarch splits into ``J*K`` independent rank-``r`` truncated SVDs
of ``s x p`` slices (DESIGN.md §4). ``project_factors`` sends NumPy
float64/complex128 input with large enough slices to the mixed-precision path
(:mod:`structmat._monarch_mixed`, which certifies the error and hands the
slices it cannot certify back to this engine); everything else runs the exact
engine below. The paper's code runs one full SVD per
slice; per-slice LAPACK calls on thousands of small matrices are slow, so the
exact engine is built from batched matrix products, with three small
batched QR/``eigh`` calls on ``q x b`` / ``b x b`` blocks and one batched LU
``solve``, and proves per slice that its result is the optimum. For slices
with ``q = min(s, p) >= 2b`` (``b = k + max(k, 6)`` block vectors,
``k = min(r, q)``) where that pays (``_subspace_pays``), in chunks of slices
whose Gram matrices fit in cache (``_CHUNK_BYTES``):

1. ``G``: the smaller Gram matrix of every slice (:math:`S^H S` or
   :math:`S S^H`, ``q x q``), one batched matmul; its trace is
   :math:`\|S\|_F^2`.
2. A block of ``b`` vectors from a fixed seeded dense start: ``_POWER_STEPS``
   power steps, QR, Rayleigh-Ritz; then a Chebyshev filter of degree ``_CHEB_DEGREE`` that
   damps ``[0, θ_b]`` (``θ_b <= λ_b``: all of the top ``b`` eigenvectors
   grow, none can vanish from the block), QR, Rayleigh-Ritz.
3. One step of shifted inverse iteration for the top-``k`` Ritz vectors with
   shifts just above the wanted eigenvalues, :math:`\mu_i = \theta_i +
   \rho_i^2/(\theta_i - \theta_{i+1})` (Kato-Temple; :math:`2\rho_i` when the Ritz
   values are not separated) plus a rounding margin; QR; a final
   Rayleigh-Ritz with the original ``G``.
4. Certificate per slice: with residuals :math:`\rho_i = \|G x_i - \theta_i x_i\|`
   and the gap :math:`g = \theta_k - \theta_{k+1} - \rho_{k+1}`, the wanted
   invariant subspace is accurate to :math:`\max_{i\le k} \rho_i / g`
   (Davis-Kahan) and the captured energy to :math:`\sum_i \rho_i^2 / g`
   (Kato-Temple). Slices where the subspace bound exceeds ``1e-10``
   (``1e3 ε`` in single precision) or the energy bound exceeds ``tol`` times
   the slice's discarded energy plus a rounding floor are redone with a
   batched full SVD (``_svd_redo``).

Other slices (smaller, or of higher rank) take a batched ``eigh`` of ``G``
instead, certified by the Gram route's rounding bound. Ritz values are lower
bounds of the eigenvalues (Cauchy interlacing); the certificate assumes that
the block holds the top eigenvectors, which the dense seeded start and the
filters give for any slice not built against that start (the residual test
cannot see an eigenvector that the block misses entirely).

On NumPy the chunks run on the worker threads (:func:`_on_workers`), as do the
slices the mixed path redoes (by this engine or by a full SVD).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat import _monarch_mixed as _mixed
from structmat import _pool
from structmat._args import ceil_div

# Extra block vectors beyond the rank, and the Chebyshev filter degree.
_EXTRA = 6
_CHEB_DEGREE = 12
_POWER_STEPS = 3
_CHUNK_BYTES = 1 << 22
# The mixed-precision path: block size beyond the rank, and the certified
# tolerance on the squared error (the error itself is then within 5e-11).
_MIXED_EXTRA = 7
_MIXED_TOL = 1e-10
# Slices redone by the mixed path: at least this many per task on the worker threads.
_REDO_CHUNK = 32
# Smallest slices for the subspace iteration and for the mixed path: below them one
# batched eigh of the Gram matrices is faster (rank 1, float64; the crossovers are
# in docs/benchmarks.md, "Design measurements"). Higher ranks favour the eigh too
# (_subspace_pays, _mixed_pays).
_SUBSPACE_MIN, _MIXED_MIN = 28, 20
# The names of Monarch.project's engine= parameter (documented there).
ENGINES = ("auto", "mixed", "exact", "subspace", "eigh")

# The exact engine's chunks on NumPy: at least _pool.MIN_TASKS of them, unless a
# chunk would then have less than this much work (q³ per slice): below it handing
# out the tasks costs more than the threads save.
_MIN_TASK_WORK = 1 << 17


def _ct(xp: Any, X: Any, cplx: bool) -> Any:
    """Conjugate transpose of the last two axes."""
    XT = xp.matrix_transpose(X)
    return xp.conj(XT) if cplx else XT


def _colnorms(xp: Any, X: Any) -> Any:
    """Column norms of a stack (N, q, b) -> (N, b), real."""
    return xp.sqrt(xp.sum(xp.abs(X) ** 2, axis=1))


def _rayleigh_ritz(xp: Any, G: Any, Q: Any, cplx: bool, rdtype: Any) -> tuple[Any, Any, Any]:
    """Ritz values (descending, (N, b)), Ritz vectors ``X`` and ``G X`` for the basis ``Q``."""
    W = xp.matmul(G, Q)
    H = xp.matmul(_ct(xp, Q, cplx), W)
    H = (H + _ct(xp, H, cplx)) / 2
    theta, Z = xp.linalg.eigh(H)
    theta = xp.astype(theta, rdtype) if theta.dtype != rdtype else theta
    b = Z.shape[-1]
    rev = xp.arange(b - 1, -1, -1)
    theta = xp.take(theta, rev, axis=1)
    Z = xp.take(Z, rev, axis=2)
    return theta, xp.matmul(Q, Z), xp.matmul(W, Z)


def _gram(xp: Any, S: Any, right: bool, cplx: bool) -> Any:
    """SᴴS (``right``) or SSᴴ of every slice."""
    SH = _ct(xp, S, cplx)
    return xp.matmul(SH, S) if right else xp.matmul(S, SH)


def _trace(xp: Any, G: Any, cplx: bool) -> Any:
    """Traces of a Gram stack: ``||S||_F²`` per slice (real)."""
    diag = xp.linalg.diagonal(G)
    return xp.sum(xp.real(diag) if cplx else diag, axis=1)


def _shift_stack(xp: Any, G: Any, mu: Any) -> Any:
    """``G[i] - mu[i, j] I`` as a stack (N, k, q, q)."""
    N, q, _ = G.shape
    k = mu.shape[1]
    mu = xp.astype(mu, G.dtype)
    if aa.is_numpy(xp):  # one copy of G, the diagonal shifted in place
        out = np.repeat(G[:, None, :, :], k, axis=1)
        diag = out.reshape(N, k, q * q)[:, :, :: q + 1]
        diag -= mu[:, :, None]
        out.reshape(N, k, q * q)[:, :, :: q + 1] = diag
        return out
    eye = xp.eye(q, dtype=G.dtype, device=aa.device_of(G))
    return G[:, None, :, :] - mu[:, :, None, None] * eye


def _orth(xp: Any, Y: Any) -> Any:
    Q, _ = xp.linalg.qr(Y)
    return Q


def _top_subspace(
    xp: Any, G: Any, k: int, b: int, cplx: bool, rdtype: Any, eps: float
) -> tuple[Any, Any, Any]:
    """Top-``k`` Ritz vectors of the Hermitian PSD stack ``G``, certified.

    Returns ``(V, ok, trace)``: ``V`` (N, q, k) orthonormal, ``ok`` (N,) where
    the certificate holds (elsewhere ``V`` is to be replaced) and the traces.
    """
    trace = _trace(xp, G, cplx)
    q = G.shape[1]
    dtype, device = G.dtype, aa.device_of(G)
    # Unit trace per slice: no overflow in the filters whatever the scale of A.
    scale = xp.where(trace > 0, trace, 1.0)
    G = G / xp.astype(scale, dtype)[:, None, None]
    unit = trace / scale
    start = np.random.default_rng(12345).standard_normal((q, b))
    X0 = xp.asarray(start, dtype=dtype, device=device)
    Y = xp.matmul(G, X0)  # broadcast: on NumPy faster than one tall GEMM for a narrow block
    for _ in range(_POWER_STEPS - 1):
        nrm = _colnorms(xp, Y)
        Y = xp.matmul(G, Y / xp.astype(xp.where(nrm > 0, nrm, 1.0), dtype)[:, None, :])
    theta, X, GX = _rayleigh_ritz(xp, G, _orth(xp, Y), cplx, rdtype)
    # Chebyshev filter damping [0, hi] with hi <= theta_b <= lambda_b (interlacing): every
    # top-b eigenvector grows, so none can vanish from the block. (A floor on hi relative
    # to theta_1 let the filter annihilate wanted eigenvectors when theta_1 dominates,
    # e.g. for A + constant.) Columns are rescaled often enough not to overflow.
    hi = xp.maximum(theta[:, b - 1], 1e-12 * theta[:, 0])
    hi = xp.where(hi > 0, hi, 1.0)
    growth = float(xp.max(4 * theta[:, 0] / hi))
    every = int(min(_CHEB_DEGREE, max(1, 100 // max(math.log10(max(growth, 1.0)), 1.0))))
    e = xp.astype(hi / 2, dtype)[:, None, None]
    c = e
    Y0, Y1 = X, (GX - e * X) / c
    for step in range(_CHEB_DEGREE - 1):
        Y0, Y1 = Y1, 2 * (xp.matmul(G, Y1) - e * Y1) / c - Y0
        if step % every == every - 1:  # the same scale for both: the recurrence stays linear
            nrm = _colnorms(xp, Y1)
            scale = xp.astype(1 / xp.where(nrm > 0, nrm, 1.0), dtype)[:, None, :]
            Y0, Y1 = Y0 * scale, Y1 * scale
    theta, X, GX = _rayleigh_ritz(xp, G, _orth(xp, Y1), cplx, rdtype)
    theta, X, GX = _inverse_step(xp, G, theta, X, GX, k, cplx, rdtype, eps)
    ok = _certify(xp, theta, X, GX, unit, k, eps)
    if not bool(xp.all(ok)):
        # A second inverse step on the slices not certified yet (slow convergence).
        bad = ~ok
        idx = xp.nonzero(bad)[0]
        sub = [xp.take(T, idx, axis=0) for T in (G, theta, X, GX, unit)]
        th2, X2, GX2 = _inverse_step(xp, sub[0], sub[1], sub[2], sub[3], k, cplx, rdtype, eps)
        ok2 = _certify(xp, th2, X2, GX2, sub[4], k, eps)
        pos = xp.clip(xp.cumulative_sum(xp.astype(bad, xp.int64)) - 1, 0, None)
        X = xp.where(bad[:, None, None], xp.take(X2, pos, axis=0), X)
        ok = xp.where(bad, xp.take(ok2, pos, axis=0), ok)
    return X[:, :, :k], ok, trace


def _inverse_step(
    xp: Any, G: Any, theta: Any, X: Any, GX: Any, k: int, cplx: bool, rdtype: Any, eps: float
) -> tuple[Any, Any, Any]:
    """One shifted inverse step for the top-``k`` Ritz vectors, then QR and Rayleigh-Ritz."""
    q, b = X.shape[1], X.shape[2]
    dtype = G.dtype
    rho = _colnorms(xp, GX - X * xp.astype(theta, dtype)[:, None, :])
    tiny = float(xp.finfo(rdtype).smallest_normal) ** 0.5
    # Kato-Temple: lambda_i - theta_i <= rho_i^2 / (gap to the next Ritz value) when separated.
    sep = theta[:, :k] - theta[:, 1 : k + 1]
    kt = rho[:, :k] ** 2 / xp.where(sep > 0, sep, 1.0)
    delta = xp.where(sep > 2 * rho[:, :k], kt, 2 * rho[:, :k])
    mu = theta[:, :k] + delta + (4 * q * eps) * theta[:, :1] + tiny
    shifted = _shift_stack(xp, G, mu)
    rhs = xp.permute_dims(X[:, :, :k], (0, 2, 1))[..., None]  # (N, k, q, 1)
    Yk = xp.permute_dims(xp.linalg.solve(shifted, rhs)[..., 0], (0, 2, 1))  # (N, q, k)
    nrm = _colnorms(xp, Yk)
    Yk = Yk / xp.astype(xp.where(nrm > 0, nrm, 1.0), dtype)[:, None, :]
    Y = xp.concat([Yk, X[:, :, k:]], axis=2) if b > k else Yk
    return _rayleigh_ritz(xp, G, _orth(xp, Y), cplx, rdtype)


def _certify(xp: Any, theta: Any, X: Any, GX: Any, unit: Any, k: int, eps: float) -> Any:
    """Per-slice certificate: residuals of the wanted Ritz pairs against the gap to the rest."""
    q = X.shape[1]
    rho = _colnorms(xp, GX - X * xp.astype(theta, X.dtype)[:, None, :])
    rho_k = xp.max(rho[:, :k], axis=1)
    gap = theta[:, k - 1] - theta[:, k] - rho[:, k]
    vtol = max(1e-10, 1e3 * eps)
    tol = max(1e-11, eps)
    floor = (8 * q * eps) * xp.clip(theta[:, 0], 0.0, None)
    # energy bound: sum rho_i^2 / gap against the discarded energy of the slice
    loss = xp.sum(rho[:, :k] ** 2, axis=1) / xp.where(gap > 0, gap, 1.0)
    discarded = xp.clip(unit - xp.sum(theta[:, :k], axis=1), 0.0, None)
    return (gap > 0) & (rho_k <= vtol * gap) & (loss <= tol * discarded + floor**2)


def _exact_chunk(q: int, cplx: bool, n: int | None = None) -> int:
    """Slices per chunk of the exact engine: ``q x q`` Gram matrices that stay in cache;
    given the number of slices ``n``, also at least ``_pool.MIN_TASKS`` chunks for the
    threads where each keeps about ``_MIN_TASK_WORK`` (``q³`` per slice) to do."""
    step = max(1, _CHUNK_BYTES // (q * q * (16 if cplx else 8)))
    if n is None:
        return step
    return max(1, min(step, max(ceil_div(n, _pool.MIN_TASKS), ceil_div(_MIN_TASK_WORK, q**3))))


def _exact_slices(
    xp: Any, S: Any, k: int, right: bool, eps: float, tol: float, engine: str = "auto"
) -> tuple[Any, Any, Any, Any]:
    """Certified top-``k`` factors of a stack of slices: ``(Lc, Rr, captured, trace)``.

    ``engine``: ``"subspace"`` takes the subspace iteration wherever its block fits,
    ``"eigh"`` the batched eigh always, anything else whichever pays."""
    nslices, s, p = S.shape
    q = min(s, p)
    dtype = S.dtype
    cplx = aa.is_complex(xp, dtype)
    rdtype = aa.real_dtype(xp, dtype)
    b = min(q, k + max(k, _EXTRA))
    if 2 * b <= q and engine != "eigh" and (engine == "subspace" or _subspace_pays(k, q)):
        # Slices in chunks whose Gram matrices stay in cache across the iterations.
        step = _exact_chunk(q, cplx)
        parts = [
            _top_subspace(
                xp,
                _gram(xp, S[c0 : min(c0 + step, nslices), ...], right, cplx),
                k,
                b,
                cplx,
                rdtype,
                eps,
            )
            for c0 in range(0, nslices, step)
        ]
        if len(parts) == 1:
            Vk, ok, trace = parts[0]
        else:
            Vk = xp.concat([part[0] for part in parts], axis=0)
            ok = xp.concat([part[1] for part in parts], axis=0)
            trace = xp.concat([part[2] for part in parts], axis=0)
        redo = ~ok
    else:
        G = _gram(xp, S, right, cplx)
        trace = _trace(xp, G, cplx)
        w, V = xp.linalg.eigh(G)
        w = xp.astype(w, rdtype) if w.dtype != rdtype else w
        Vk = V[:, :, q - k :]  # top-k eigenvectors, ascending order
        # Rounding certificate of the Gram route (eigenvalue error E ~ q eps lambda_1).
        lam1 = xp.clip(w[:, q - 1], 0.0, None)
        E = (q * eps) * lam1
        if k < q:
            discarded = xp.sum(xp.clip(w[:, : q - k], 0.0, None), axis=1)
            gap = w[:, q - k] - w[:, q - k - 1]
            second = xp.where(gap > 0, k * E * E / xp.where(gap > 0, gap, 1.0), 2 * k * E)
            loss = xp.minimum(2 * k * E, second)
        else:
            discarded = trace * 0.0
            loss = trace * 0.0
        floor = (8 * q * eps) ** 2 * trace
        redo = loss > tol * discarded + floor
    # Factors from the Gram eigenvectors: the slice approximation is S V Vᴴ (or U Uᴴ S).
    if right:
        SV = xp.matmul(S, Vk)  # (nslices, s, k) = U Σ
        Lc, Rr, sig = _split(xp, SV, _ct(xp, Vk, cplx), right)
    else:
        Lc, Rr, sig = _split(xp, Vk, xp.matmul(_ct(xp, Vk, cplx), S), right)
    captured = xp.sum(sig**2, axis=1)
    if bool(xp.any(redo)):
        Lc, Rr, captured = _svd_redo(xp, S, redo, Lc, Rr, captured, k)
    return Lc, Rr, captured, trace


def _split(xp: Any, left: Any, right_factor: Any, right: bool) -> tuple[Any, Any, Any]:
    """Balanced factors of ``left @ right_factor``; the unnormalised side carries the singular values."""
    dtype = left.dtype
    if right:  # left = U Σ (columns), right_factor = Vᴴ
        sig = _colnorms(xp, left)
        root = xp.sqrt(sig)
        safe = xp.where(sig > 0, root, 1.0)
        return (
            left / xp.astype(safe, dtype)[:, None, :],
            xp.astype(root, dtype)[:, :, None] * right_factor,
            sig,
        )
    # left = U, right_factor = Σ Vᴴ (rows)
    sig = xp.sqrt(xp.sum(xp.abs(right_factor) ** 2, axis=2))
    root = xp.sqrt(sig)
    safe = xp.where(sig > 0, root, 1.0)
    return (
        left * xp.astype(root, dtype)[:, None, :],
        right_factor / xp.astype(safe, dtype)[:, :, None],
        sig,
    )


def _mixed_slices(T: Any, k: int, right: bool, eps: float, tol: float) -> tuple[Any, Any, Any, Any]:
    """NumPy float64/complex128: the mixed-precision path, its uncertain slices redone exactly."""
    s, _, K, p = T.shape
    q = min(s, p)
    X, U, theta, trace, bound, tied = _mixed.top_vectors(T, right, k, k + max(k, _MIXED_EXTRA))
    captured = np.sum(theta, axis=1)
    floor = (8 * q * eps) ** 2 * theta[:, 0]
    redo = _mixed.redo_mask(bound, np.maximum(trace - captured, 0.0), floor, _MIXED_TOL)
    cplx = np.iscomplexobj(X)
    if right:  # S ≈ U Xᴴ
        Lc, Rr, _ = _split(np, U, _ct(np, X, cplx), True)
    else:  # Sᴴ ≈ U Xᴴ, so S ≈ X Uᴴ
        Lc, Rr, _ = _split(np, X, _ct(np, U, cplx), False)
    # Redo exactly: a full SVD where the singular values tie at the rank boundary (the
    # exact engine would only get there after failing to certify a subspace), else the
    # exact engine.
    for idx, svd in ((np.flatnonzero(redo & tied), True), (np.flatnonzero(redo & ~tied), False)):
        if idx.size:
            sub = np.ascontiguousarray(T[:, idx // K, idx % K, :].swapaxes(0, 1))
            if svd:
                redone = _on_workers(lambda S: _svd_factors(np, S, k), sub, _REDO_CHUNK)
            else:
                redone = _on_workers(
                    lambda S: _exact_slices(np, S, k, right, eps, tol),
                    sub,
                    _exact_chunk(q, cplx, len(sub)),
                )
            Lc[idx], Rr[idx], captured[idx] = redone[:3]
    return Lc, Rr, captured, trace


def _on_workers(fn: Callable[[Any], tuple[Any, ...]], S: np.ndarray, step: int) -> tuple[Any, ...]:
    """``fn(S)`` for a NumPy stack, ``step`` slices per task on the worker threads.

    Per-slice LAPACK calls (a batched SVD is one ``gesdd`` per slice) run on one
    thread, so the chunks share the cores; BLAS is limited to one thread meanwhile.
    ``step`` is the chunk ``fn`` would use by itself: the result does not depend
    on the number of threads.
    """
    if _pool.WORKERS == 1:
        return fn(S)
    parts = _pool.map_one_blas(lambda a: fn(S[a : a + step]), range(0, len(S), step))
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate(col, axis=0) for col in zip(*parts, strict=True))


def _mixed_ok(xp: Any, dtype: Any, k: int, q: int, engine: str = "auto") -> bool:
    """Whether the mixed path applies (NumPy double precision, ``2b <= q``) and is
    chosen: ``engine="mixed"`` wherever it applies, ``"auto"`` where it also pays."""
    if engine not in ("auto", "mixed"):
        return False
    b = k + max(k, _MIXED_EXTRA)
    return (
        aa.is_numpy(xp)
        and dtype in (np.float64, np.complex128)
        and 2 * b <= q
        and (engine == "mixed" or _mixed_pays(k, q))
    )


def _mixed_pays(k: int, q: int) -> bool:
    """The mixed path beats the exact engine: its block of ``b = k + max(k, _MIXED_EXTRA)``
    vectors must stay narrow against the slice (``3b <= max(q, 24)``, and ``q >=
    _MIXED_MIN``); the rule follows timings on Gaussian input (docs/benchmarks.md,
    "Design measurements")."""
    return q >= _MIXED_MIN and 3 * (k + max(k, _MIXED_EXTRA)) <= max(q, 24)


def _subspace_pays(k: int, q: int) -> bool:
    """Subspace iteration beats one batched eigh of the Gram matrices: it solves ``k``
    shifted ``q x q`` systems per slice, so it wins for rank 1 and for small ranks on
    large slices (``32 (k - 1) < q``; the timings behind the rule are in
    docs/benchmarks.md, "Design measurements")."""
    return q >= _SUBSPACE_MIN and 32 * (k - 1) < q


def _residual_energy(T: Any, Lc: Any, Rr: Any) -> float:
    """``Σ ||S - Lc Rr||_F²`` over the slices of ``T`` (NumPy), from strided views,
    one output-block row of slices per task on the worker threads."""
    _, J, K, _ = T.shape

    def row(j: int) -> float:
        rows = slice(j * K, (j + 1) * K)
        D = T[:, j, :, :].swapaxes(0, 1) - np.matmul(Lc[rows], Rr[rows])
        return float(np.sum(_mixed._sqsum(D, "n")))  # einsum, not BLAS: no thread-dependent sum

    return sum(_pool.map_one_blas(row, range(J)))


def _work_dtype(xp: Any, dtype: Any, k: int, q: int, engine: str) -> Any:
    """The dtype to project in: double precision for NumPy single-precision input where
    the mixed path applies (it certifies in double anyway, and one cast of ``A`` costs
    less than running the single-precision exact engine)."""
    if aa.is_numpy(xp) and dtype in (np.float32, np.complex64):
        wide = np.float64 if dtype == np.float32 else np.complex128
        if _mixed_ok(xp, wide, k, q, engine):
            return wide
    return dtype


def project_factors(
    xp: Any, A: Any, K: int, J: int, r: int, engine: str = "auto"
) -> tuple[Any, Any, float, float]:
    """Optimal ``(L, R)`` for ``A`` (finite, 2-d), the squared error and ``||A||²``.

    ``engine`` is one of :data:`ENGINES` (checked by the caller)."""
    m, n = A.shape
    dtype = A.dtype
    device = aa.device_of(A)
    p, s = ceil_div(n, K), ceil_div(m, J)
    q = min(s, p)
    k = min(r, q)
    work = _work_dtype(xp, dtype, k, q, engine)
    if (m, n) != (s * J, K * p):
        Ap = xp.zeros((s * J, K * p), dtype=work, device=device)
        Ap[:m, :n] = A
        A = Ap
    elif work != dtype:
        A = A.astype(work)
    # Slices S[j*K + a] = T[:, j, a, :] of T[sigma, j, a, t] = A[sigma*J + j, a*p + t].
    T = xp.reshape(A, (s, J, K, p))
    nslices = J * K
    right = p <= s  # Gram on the right: SᴴS (p x p), else S Sᴴ (s x s)
    eps = aa.eps(xp, dtype)  # the precision promised: the input's
    tol = max(1e-11, eps)
    S = None
    if _mixed_ok(xp, work, k, q, engine):
        Lc, Rr, captured, trace = _mixed_slices(T, k, right, aa.eps(xp, work), tol)
        if work != dtype:  # the factors returned are rounded to the input's precision
            Lc, Rr = Lc.astype(dtype), Rr.astype(dtype)
    else:
        S = xp.reshape(xp.permute_dims(T, (1, 2, 0, 3)), (nslices, s, p))
        if aa.is_numpy(xp):
            step = _exact_chunk(q, aa.is_complex(xp, dtype), nslices)
            exact = _on_workers(lambda S: _exact_slices(np, S, k, right, eps, tol, engine), S, step)
        else:
            exact = _exact_slices(xp, S, k, right, eps, tol, engine)
        Lc, Rr, captured, trace = exact
    norm2 = float(xp.sum(trace))
    # Discarded energy: ||S||² - captured, safe when it is not tiny against ||A||²; in
    # single precision (tol = eps) always recomputed from the returned factors.
    err2 = float(xp.sum(xp.clip(trace - captured, 0.0, None)))
    if err2 * tol <= q * eps * norm2:
        if S is None:  # the mixed path: one output-block row of slices at a time, no stack
            err2 = _residual_energy(T, Lc.astype(work), Rr.astype(work))
        else:
            resid = S - xp.matmul(Lc, Rr)
            err2 = float(xp.sum(xp.abs(resid) ** 2))
    if k < r:  # rank above min(s, p): the extra components are zero
        Lc = xp.concat([Lc, xp.zeros((nslices, s, r - k), dtype=dtype, device=device)], axis=2)
        Rr = xp.concat([Rr, xp.zeros((nslices, r - k, p), dtype=dtype, device=device)], axis=1)
    # L[j, sigma, a*r + rho] = Lc[j*K + a, sigma, rho];  R[a, rho*J + j, t] = Rr[j*K + a, rho, t].
    L = xp.reshape(xp.permute_dims(xp.reshape(Lc, (J, K, s, r)), (0, 2, 1, 3)), (J, s, K * r))
    R = xp.reshape(xp.permute_dims(xp.reshape(Rr, (J, K, r, p)), (1, 2, 0, 3)), (K, r * J, p))
    return L, R, err2, norm2


def _svd_factors(xp: Any, S: Any, k: int) -> tuple[Any, Any, Any]:
    """Rank-``k`` factors and captured energies of every slice of ``S`` by a batched full SVD."""
    dtype = S.dtype
    U, sv, Vh = xp.linalg.svd(S, full_matrices=False)
    sv = sv[:, :k]
    root = xp.astype(xp.sqrt(sv), dtype)
    return U[:, :, :k] * root[:, None, :], root[:, :, None] * Vh[:, :k, :], xp.sum(sv**2, axis=1)


def _svd_redo(
    xp: Any, S: Any, redo: Any, Lc: Any, Rr: Any, captured: Any, k: int
) -> tuple[Any, Any, Any]:
    """Full SVD for the slices flagged in ``redo``, merged back without scatter."""
    idx = xp.nonzero(redo)[0]
    Lf, Rf, capf = _svd_factors(xp, xp.take(S, idx, axis=0), k)
    # position of slice i among the redone ones (gather + where = scatter on every backend)
    pos = xp.cumulative_sum(xp.astype(redo, xp.int64)) - 1
    pos = xp.clip(pos, 0, None)
    Lc = xp.where(redo[:, None, None], xp.take(Lf, pos, axis=0), Lc)
    Rr = xp.where(redo[:, None, None], xp.take(Rf, pos, axis=0), Rr)
    captured = xp.where(redo, xp.take(capf, pos, axis=0), captured)
    return Lc, Rr, captured

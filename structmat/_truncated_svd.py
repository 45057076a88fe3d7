r"""One truncated-SVD engine for a stack of matrices: certified top-``k`` pairs.

:func:`top_k` returns, for every matrix ``S[i]`` of a stack ``(N, s, p)``,
balanced rank-``k`` factors ``Lc[i] @ Rr[i]`` of its best rank-``k``
approximation, the captured energy and ``||S[i]||_F²``. It knows nothing of
the structure the stack came from (the two-factor KS projection, Monarch's
included, cuts its blocks in :mod:`structmat.ks._project`). ``engine`` chooses
the algorithm:

- ``"svd"``: one batched full SVD of the stack (``xp.linalg.svd``). Exact and,
  on a GPU, for matrices of at most 32 x 32 (cuSOLVER's batched Jacobi SVD),
  by far the fastest: 2.7 ms against 219 ms for the iterations below at
  Monarch n = 1024 on CuPy (32 x 32 slices); for 64 x 64 slices (n = 4096)
  it took 10.2 s against 1.10 s (docs/benchmarks.md). :func:`default_engine`
  follows these two measurements.
- ``"subspace"``: subspace iteration on the Gram matrices, certified per
  matrix, the uncertified ones redone by ``"svd"`` (below).
- ``"eigh"``: one batched ``eigh`` of the Gram matrices with the Gram route's
  rounding certificate, the uncertified ones redone by ``"svd"``.
- ``"auto"``: ``"svd"`` on an accelerator for matrices of at most 32 x 32;
  otherwise ``"subspace"`` where it pays (``_subspace_pays``), else ``"eigh"``.

The mixed-precision NumPy route of the two-factor projection
(:mod:`structmat.ks._mixed`, :mod:`structmat._monarch_mixed`) reads its
blocks through strided views of the input and certifies in double; the
matrices it cannot certify come back here.

The subspace iteration, for matrices with ``q = min(s, p) >= 2b`` (``b = k +
max(k, 6)`` block vectors), in chunks whose Gram matrices fit in cache
(``_CHUNK_BYTES``):

1. ``G``: the smaller Gram matrix of every matrix (:math:`S^H S` or
   :math:`S S^H`, ``q x q``), one batched matmul; its trace is
   :math:`\|S\|_F^2`.
2. A block of ``b`` vectors from a fixed seeded dense start: ``_POWER_STEPS``
   power steps, QR, Rayleigh-Ritz; then a Chebyshev filter of degree
   ``_CHEB_DEGREE`` that damps ``[0, θ_b]`` (``θ_b <= λ_b``: all of the top
   ``b`` eigenvectors grow, none can vanish from the block), QR,
   Rayleigh-Ritz.
3. One step of shifted inverse iteration for the top-``k`` Ritz vectors with
   shifts just above the wanted eigenvalues, :math:`\mu_i = \theta_i +
   \rho_i^2/(\theta_i - \theta_{i+1})` (Kato-Temple; :math:`2\rho_i` when the
   Ritz values are not separated) plus a rounding margin; QR; a final
   Rayleigh-Ritz with the original ``G``.
4. Certificate per matrix: with residuals :math:`\rho_i = \|G x_i - \theta_i
   x_i\|` and the gap :math:`g = \theta_k - \theta_{k+1} - \rho_{k+1}`, the
   wanted invariant subspace is accurate to :math:`\max_{i\le k} \rho_i / g`
   (Davis-Kahan) and the captured energy to :math:`\sum_i \rho_i^2 / g`
   (Kato-Temple). Matrices where the subspace bound exceeds ``1e-10``
   (``1e3 ε`` in single precision) or the energy bound exceeds ``tol`` times
   the discarded energy plus a rounding floor are redone with a batched full
   SVD (``_svd_redo``).

Ritz values are lower bounds of the eigenvalues (Cauchy interlacing); the
certificate assumes that the block holds the top eigenvectors, which the
dense seeded start and the filters give for any matrix not built against
that start (the residual test cannot see an eigenvector that the block
misses entirely). On NumPy, :func:`_on_workers` spreads chunks of the stack
over the worker threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat import _pool
from structmat._args import ceil_div

# The names of the engine= parameter (the projections add "mixed" and "exact":
# structmat.ks._mixed.ENGINES).
ENGINES = ("auto", "subspace", "eigh", "svd")
# Extra block vectors beyond the rank, and the Chebyshev filter degree.
_EXTRA = 6
_CHEB_DEGREE = 12
_POWER_STEPS = 3
# Gram chunks of the subspace iteration: 4 MiB of q x q matrices stay in L2/L3
# across its ~20 products (the mixed path's float32 chunks are 2 MiB, its own
# measurement).
_CHUNK_BYTES = 1 << 22
# The seeded start block, shared with the mixed path: results never depend on
# global random state.
SEED = 12345
# Smallest matrices for the subspace iteration: below it one batched eigh of the
# Gram matrices is faster (rank 1, float64; the crossovers are in
# docs/benchmarks.md, "Design measurements").
_SUBSPACE_MIN = 28
# The chunks on NumPy: at least _pool.MIN_TASKS of them, unless a chunk would then
# have less than this much work (q³ per matrix): below it handing out the tasks
# costs more than the threads save.
_MIN_TASK_WORK = 1 << 17


def on_accelerator(xp: Any, device: Any) -> bool:
    """Whether arrays of ``xp`` on ``device`` live on a GPU (CuPy, torch CUDA/MPS...)."""
    if aa.namespace_name(xp) == "cupy":
        return True
    kind = getattr(device, "type", None)  # torch.device; JAX/others: platform names
    if kind is None:
        kind = getattr(device, "platform", None)
    return isinstance(kind, str) and kind not in ("cpu",)


# Largest side of the matrices the batched SVD takes on a GPU under "auto": the
# limit of cuSOLVER's batched Jacobi SVD, above which CuPy loops over gesvd.
_GPU_SVD_MAX = 32


def default_engine(xp: Any, device: Any, k: int, s: int, p: int) -> str:
    """The engine ``"auto"`` stands for, for rank ``k`` of ``s x p`` matrices."""
    if on_accelerator(xp, device) and max(s, p) <= _GPU_SVD_MAX:
        return "svd"
    return _cpu_engine(k, min(s, p))


def _cpu_engine(k: int, q: int) -> str:
    """Subspace iteration where its block fits and it pays, else the batched eigh."""
    b = min(q, k + max(k, _EXTRA))
    return "subspace" if 2 * b <= q and _subspace_pays(k, q) else "eigh"


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
    start = np.random.default_rng(SEED).standard_normal((q, b))
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
    growth = aa.to_float(xp.max(4 * theta[:, 0] / hi))
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
    """Matrices per chunk of the subspace iteration: ``q x q`` Gram matrices that stay in
    cache; given the stack size ``n``, also at least ``_pool.MIN_TASKS`` chunks for the
    threads where each keeps about ``_MIN_TASK_WORK`` (``q³`` per matrix) to do."""
    step = max(1, _CHUNK_BYTES // (q * q * (16 if cplx else 8)))
    if n is None:
        return step
    return max(1, min(step, max(ceil_div(n, _pool.MIN_TASKS), ceil_div(_MIN_TASK_WORK, q**3))))


def top_k(
    xp: Any,
    S: Any,
    k: int,
    eps: float,
    tol: float,
    engine: str = "auto",
    *,
    unit_left: bool = False,
) -> tuple[Any, Any, Any, Any]:
    """Certified rank-``k`` factors of every matrix of the stack ``S`` (N, s, p).

    Returns ``(Lc, Rr, captured, trace)``: ``Lc`` (N, s, k) and ``Rr`` (N, k, p)
    with ``Lc[i] @ Rr[i]`` a best rank-``k`` approximation of ``S[i]`` (the
    singular values split evenly between the two; with ``unit_left`` all in
    ``Rr``, ``Lc`` the left singular vectors), the components in descending
    order of singular value, the captured energies (the top ``k`` squared
    singular values summed) and ``||S[i]||_F²``. ``eps`` is the precision
    promised and ``tol`` the certified relative tolerance on each discarded
    energy.

    ``engine``: ``"svd"`` a batched full SVD; ``"subspace"`` the subspace
    iteration wherever its block fits; ``"eigh"`` the batched eigh always;
    ``"auto"`` :func:`default_engine`; any other name (the projections'
    ``"exact"`` and ``"mixed"``) whichever of subspace and eigh pays.

    >>> import numpy as np
    >>> S = np.random.default_rng(0).standard_normal((3, 40, 30))
    >>> Lc, Rr, captured, trace = top_k(np, S, 2, 2.2e-16, 1e-11)
    >>> sv = np.linalg.svd(S, compute_uv=False)
    >>> bool(np.allclose(captured, (sv[:, :2] ** 2).sum(1)))
    True
    >>> bool(np.allclose(np.linalg.norm(S - Lc @ Rr, axis=(1, 2)) ** 2, (sv[:, 2:] ** 2).sum(1)))
    True
    """
    nslices, s, p = S.shape
    q = min(s, p)
    if engine == "auto":
        engine = default_engine(xp, aa.device_of(S), k, s, p)
    elif engine not in ("svd", "subspace", "eigh"):
        engine = _cpu_engine(k, q)
    if engine == "svd":
        return _svd_factors(xp, S, k, unit_left)
    right = p <= s  # Gram on the right: SᴴS (p x p), else S Sᴴ (s x s)
    dtype = S.dtype
    cplx = aa.is_complex(xp, dtype)
    rdtype = aa.real_dtype(xp, dtype)
    b = min(q, k + max(k, _EXTRA))
    if 2 * b <= q and engine == "subspace":
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
        # top-k eigenvectors, turned from eigh's ascending order to descending
        Vk = xp.take(V, xp.arange(q - 1, q - k - 1, -1, device=aa.device_of(V)), axis=2)
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
        Lc, Rr, sig = _split(xp, SV, _ct(xp, Vk, cplx), right, unit_left)
    else:
        Lc, Rr, sig = _split(xp, Vk, xp.matmul(_ct(xp, Vk, cplx), S), right, unit_left)
    captured = xp.sum(sig**2, axis=1)
    if bool(xp.any(redo)):
        Lc, Rr, captured = _svd_redo(xp, S, redo, Lc, Rr, captured, k, unit_left)
    return Lc, Rr, captured, trace


def _split(
    xp: Any, left: Any, right_factor: Any, right: bool, unit_left: bool = False
) -> tuple[Any, Any, Any]:
    """Balanced factors of ``left @ right_factor`` (``unit_left``: the singular values
    all on the right); the unnormalised side carries the singular values."""
    dtype = left.dtype
    if right:  # left = U Σ (columns), right_factor = Vᴴ
        sig = _colnorms(xp, left)
        root = sig if unit_left else xp.sqrt(sig)
        safe = xp.where(sig > 0, root, 1.0)
        return (
            left / xp.astype(safe, dtype)[:, None, :],
            xp.astype(root, dtype)[:, :, None] * right_factor,
            sig,
        )
    # left = U, right_factor = Σ Vᴴ (rows)
    sig = xp.sqrt(xp.sum(xp.abs(right_factor) ** 2, axis=2))
    if unit_left:
        return left, right_factor, sig
    root = xp.sqrt(sig)
    safe = xp.where(sig > 0, root, 1.0)
    return (
        left * xp.astype(root, dtype)[:, None, :],
        right_factor / xp.astype(safe, dtype)[:, :, None],
        sig,
    )


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


def _subspace_pays(k: int, q: int) -> bool:
    """Subspace iteration beats one batched eigh of the Gram matrices: it solves ``k``
    shifted ``q x q`` systems per slice, so it wins for rank 1 and for small ranks on
    large slices (``32 (k - 1) < q``; the timings behind the rule are in
    docs/benchmarks.md, "Design measurements")."""
    return q >= _SUBSPACE_MIN and 32 * (k - 1) < q


def _svd_factors(xp: Any, S: Any, k: int, unit_left: bool = False) -> tuple[Any, Any, Any, Any]:
    """Rank-``k`` factors, captured energies and ``||S||_F²`` of every matrix of ``S``
    by a batched full SVD."""
    dtype = S.dtype
    U, sv, Vh = xp.linalg.svd(S, full_matrices=False)
    trace = xp.sum(sv**2, axis=1)
    sv = sv[:, :k]
    if unit_left:
        Lc, Rr = U[:, :, :k], xp.astype(sv, dtype)[:, :, None] * Vh[:, :k, :]
    else:
        root = xp.astype(xp.sqrt(sv), dtype)
        Lc, Rr = U[:, :, :k] * root[:, None, :], root[:, :, None] * Vh[:, :k, :]
    return Lc, Rr, xp.sum(sv**2, axis=1), trace


def _svd_redo(
    xp: Any, S: Any, redo: Any, Lc: Any, Rr: Any, captured: Any, k: int, unit_left: bool = False
) -> tuple[Any, Any, Any]:
    """Full SVD for the slices flagged in ``redo``, merged back without scatter."""
    idx = xp.nonzero(redo)[0]
    Lf, Rf, capf, _ = _svd_factors(xp, xp.take(S, idx, axis=0), k, unit_left)
    # position of slice i among the redone ones (gather + where = scatter on every backend)
    pos = xp.cumulative_sum(xp.astype(redo, xp.int64)) - 1
    pos = xp.clip(pos, 0, None)
    Lc = xp.where(redo[:, None, None], xp.take(Lf, pos, axis=0), Lc)
    Rr = xp.where(redo[:, None, None], xp.take(Rf, pos, axis=0), Rr)
    captured = xp.where(redo, xp.take(capf, pos, axis=0), captured)
    return Lc, Rr, captured

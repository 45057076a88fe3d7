r"""The exact Monarch projection (private; :meth:`structmat.Monarch.project` calls it).

The optimal Monarch splits into ``J*K`` independent rank-``r`` truncated SVDs
of ``s x p`` slices (fixed ``j``, ``a`` of ``M[sigma*J + j, a*p + t]``). This module
cuts the slices out of ``A`` and puts the factors back together; the truncated SVDs
of the stack are the one engine of :mod:`structmat._truncated_svd` (``engine=`` chooses its
algorithm). NumPy float64/complex128 input with large enough slices goes to
the mixed-precision path instead (:mod:`structmat._monarch_mixed`), which
reads the slices through strided views of ``A`` (no stack copy), certifies
the error and hands the slices it cannot certify back to the engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat import _monarch_mixed as _mixed
from structmat import _pool
from structmat._args import ceil_div
from structmat._truncated_svd import (
    _ct,
    _exact_chunk,
    _on_workers,
    _split,
    _svd_factors,
    top_k,
)

# The mixed-precision path: block size beyond the rank, and the certified
# tolerance on the squared error (the error itself is then within 5e-11).
_MIXED_EXTRA = 7
_MIXED_TOL = 1e-10
# Slices redone by the mixed path: at least this many per task on the worker threads.
_REDO_CHUNK = 32
# Smallest slices for the mixed path: below it one batched eigh of the Gram matrices
# is faster (rank 1, float64; the crossovers are in docs/benchmarks.md, "Design
# measurements"). Higher ranks favour the eigh too (_mixed_pays).
_MIXED_MIN = 20
# The names of Monarch.project's engine= parameter (documented there): the
# engine's own names, "mixed", and "exact" (the CPU rule of "auto" without "mixed").
ENGINES = ("auto", "mixed", "exact", "subspace", "eigh", "svd")


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
                    lambda S: top_k(np, S, k, eps, tol),
                    sub,
                    _exact_chunk(q, cplx, len(sub)),
                )
            Lc[idx], Rr[idx], captured[idx] = redone[:3]
    return Lc, Rr, captured, trace


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
            exact = _on_workers(lambda S: top_k(np, S, k, eps, tol, engine), S, step)
        else:
            exact = top_k(xp, S, k, eps, tol, engine)
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

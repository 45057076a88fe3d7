r"""The mixed-precision route of the two-factor projection's truncated SVDs (private; NumPy).

:func:`structmat.ks.ks_project_two` (and through it Monarch's exact
projection and every step of the chain projections) takes, per bucket of
groups, either the one engine of :mod:`structmat._truncated_svd` or, for
NumPy double precision with large enough blocks, this route: the blocks are
read through the strided block view of ``A`` (no stack copy), iterated in
single precision and certified in double (:mod:`structmat._monarch_mixed`),
and the blocks it cannot certify go back to the engine. :func:`applies`
chooses it (``engine="auto"`` where it pays, ``"mixed"`` wherever it
applies), :func:`work_dtype` the double precision that single-precision
input is projected in.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat import _monarch_mixed as _mm
from structmat._truncated_svd import _ct, _exact_chunk, _on_workers, _split, _svd_factors, top_k

# The names of the engine= parameter: the engine's own, "mixed" (this route wherever
# it applies) and "exact" (the CPU rule of "auto" without this route).
ENGINES = ("auto", "mixed", "exact", "subspace", "eigh", "svd")
# Block size beyond the rank, and the certified tolerance on the squared error (the
# error itself is then within 5e-11).
_MIXED_EXTRA = 7
_MIXED_TOL = 1e-10
# Blocks redone exactly: at least this many per task on the worker threads.
_REDO_CHUNK = 32
# Smallest blocks for this route: below it one batched eigh of the Gram matrices is
# faster (rank 1, float64; the crossovers are in docs/benchmarks.md, "Design
# measurements"). Higher ranks favour the eigh too (_pays).
_MIXED_MIN = 20


def applies(xp: Any, dtype: Any, k: int, q: int, engine: str = "auto") -> bool:
    """Whether the route applies (NumPy double precision, ``2b <= q``) and is chosen:
    ``engine="mixed"`` wherever it applies, ``"auto"`` where it also pays."""
    if engine not in ("auto", "mixed"):
        return False
    b = k + max(k, _MIXED_EXTRA)
    return (
        aa.is_numpy(xp)
        and dtype in (np.float64, np.complex128)
        and 2 * b <= q
        and (engine == "mixed" or _pays(k, q))
    )


def _pays(k: int, q: int) -> bool:
    """The route beats the exact engine: its block of ``b = k + max(k, _MIXED_EXTRA)``
    vectors must stay narrow against the block (``3b <= max(q, 24)``, and ``q >=
    _MIXED_MIN``); the rule follows timings on Gaussian input (docs/benchmarks.md,
    "Design measurements")."""
    return q >= _MIXED_MIN and 3 * (k + max(k, _MIXED_EXTRA)) <= max(q, 24)


def work_dtype(xp: Any, dtype: Any, ranks: Any, q: int, engine: str) -> Any:
    """The dtype to project in: double precision for NumPy single-precision input where
    the route applies to one of the group ``ranks`` (it certifies in double anyway, and
    one cast of ``A`` costs less than the single-precision exact engine)."""
    if aa.is_numpy(xp) and dtype in (np.float32, np.complex64):
        wide = np.float64 if dtype == np.float32 else np.complex128
        if any(applies(xp, wide, int(k), q, engine) for k in np.unique(ranks)):
            return wide
    return dtype


def mixed_top_k(
    V: np.ndarray, k: int, eps: float, tol: float, unit_left: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`structmat._truncated_svd.top_k` of the blocks of the view ``V`` (..., s, p),
    in C order of its group axes, by this route; the blocks it cannot certify redone
    exactly (a full SVD where the singular values tie at the rank boundary, the exact
    engine would only get there after failing to certify a subspace; else that engine).
    """
    s, p = V.shape[-2:]
    q = min(s, p)
    right = p <= s  # Gram on the right: SᴴS (p x p), else S Sᴴ (s x s)
    X, U, theta, trace, bound, tied = _mm.top_vectors(V, right, k, k + max(k, _MIXED_EXTRA))
    captured = np.sum(theta, axis=1)
    floor = (8 * q * eps) ** 2 * theta[:, 0]
    redo = _mm.redo_mask(bound, np.maximum(trace - captured, 0.0), floor, _MIXED_TOL)
    cplx = np.iscomplexobj(X)
    if right:  # S ≈ U Xᴴ
        Lc, Rr, _ = _split(np, U, _ct(np, X, cplx), True, unit_left)
    else:  # Sᴴ ≈ U Xᴴ, so S ≈ X Uᴴ
        Lc, Rr, _ = _split(np, X, _ct(np, U, cplx), False, unit_left)
    for idx, svd in ((np.flatnonzero(redo & tied), True), (np.flatnonzero(redo & ~tied), False)):
        if idx.size:
            sub = _mm.gather(V, idx)
            if svd:
                redone = _on_workers(lambda S: _svd_factors(np, S, k, unit_left), sub, _REDO_CHUNK)
            else:
                redone = _on_workers(
                    lambda S: top_k(np, S, k, eps, tol, unit_left=unit_left),
                    sub,
                    _exact_chunk(q, cplx, len(sub)),
                )
            Lc[idx], Rr[idx], captured[idx] = redone[:3]
    return Lc, Rr, captured, trace


def discarded(
    V: np.ndarray,
    Lc: np.ndarray,
    Rr: np.ndarray,
    captured: np.ndarray,
    trace: np.ndarray,
    eps: float,
    tol: float,
) -> np.ndarray:
    """:func:`structmat.ks._project._discarded` for the blocks of the view ``V``: the
    residuals, where needed, from strided views (no stack copy)."""
    q = min(V.shape[-2:])
    lb = np.clip(trace - captured, 0.0, None)
    small = lb * tol <= (q * eps) * trace
    if bool(np.any(small)):
        lb = np.where(small, _mm.residual_energy(V, Lc, Rr, small), lb)
    return lb

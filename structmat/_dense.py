"""Dense-matrix input of the projections: validation, scale-safe norms, spectral tails.

Scale safety, in one place. A projection squares entries, singular values
and block energies, which overflow for entries above about ``1e154`` and
underflow (to a claimed perfect fit) below about ``1e-154`` in double
precision. Every projection therefore works on ``A / 2^e``
(:func:`normalize`): when ``A``'s sum of squares leaves a window well inside
the dtype's range, ``e`` brings its largest entry into ``[1/2, 1)``. Scaling
by a power of two is exact (up to entries that become subnormal, far below
rounding of the norm), so the projection of ``A / 2^e`` is that of ``A``
divided by ``2^e``; the projection scales its factors, errors and bounds back
by ``2^e`` (:func:`ldexp`, :func:`unscale`). Inside the window nothing is
copied. :func:`frobenius` and :func:`svd_tail` rescale the same way on their
own, so they are safe on any input.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat import _pool
from structmat._args import ceil_div
from structmat.linop import LinearOperator


def dense_input(A: Any, what: str) -> Any:
    """``A`` as a finite, non-empty 2-d floating array (operators densified)."""
    if isinstance(A, LinearOperator):
        A = A.to_dense()
    xp = aa.namespace_of(A)
    if A.ndim != 2:
        msg = f"{what} expects a 2-d array, got shape {tuple(A.shape)}"
        raise ValueError(msg)
    A = aa.floating_input(xp, A, what)
    if A.shape[0] < 1 or A.shape[1] < 1:
        msg = f"{what} expects a non-empty matrix, got shape {tuple(A.shape)}"
        raise ValueError(msg)
    # A finite sum proves every entry finite (NaN and Inf propagate); only an
    # overflowing sum needs the entrywise check.
    with np.errstate(over="ignore", invalid="ignore"):
        total = xp.sum(A)
    if not bool(xp.all(xp.isfinite(total))) and not bool(xp.all(xp.isfinite(A))):
        msg = f"{what}: A contains NaN or Inf"
        raise ValueError(msg)
    return A


def sum_of_squares(xp: Any, A: Any) -> float:
    """``||A||_F²`` as a Python float, ``inf`` on overflow (no warning) and ``nan`` for NaN entries."""
    if aa.is_numpy(xp):
        # einsum on the worker threads, not BLAS: a threaded BLAS call leaves OpenBLAS's
        # workers spinning for a while, taking CPU from the threaded Monarch projection
        # that follows.
        flat = np.reshape(A, (-1,))
        parts = [flat.real, flat.imag] if np.iscomplexobj(flat) else [flat]
        if _pool.WORKERS > 1 and flat.size >= 1 << 20:
            step = ceil_div(flat.size, _pool.WORKERS)
            parts = [part[i : i + step] for part in parts for i in range(0, flat.size, step)]
            return float(sum(_pool.pool().map(_sumsq, parts)))
        return float(sum(_sumsq(part) for part in parts))
    absA = xp.abs(A)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # NumPy-backed (strict)
        return aa.to_float(xp.sum(absA * absA))


def _sumsq(x: np.ndarray) -> float:
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return float(np.einsum("i,i->", x, x))


def _window(xp: Any, dtype: Any) -> tuple[float, float]:
    """Sums of squares inside ``(lo, hi)`` need no rescaling.

    ``tiny^(2/5)`` and ``huge^(2/5)`` of the dtype (float64: about ``2^-409`` and
    ``2^409``): squares of such sums (the butterfly's 2x2 eigen-solves square
    block energies) are still normal floats, and entries whose squares underflow
    are below ``2^-600`` of the norm.
    """
    info = xp.finfo(aa.real_dtype(xp, dtype))
    return float(info.smallest_normal) ** 0.4, float(info.max) ** 0.4


def ldexp(xp: Any, A: Any, e: int) -> Any:
    """``A * 2**e``, exact unless entries over- or underflow; ``A`` itself for ``e == 0``.

    Two factors of about ``2**(e/2)``, so that no factor over- or underflows
    itself (``2**-1074`` to ``2**1023`` in double precision).
    """
    if e == 0:
        return A
    half = e // 2
    return (A * math.ldexp(1.0, half)) * math.ldexp(1.0, e - half)


def unscale(x: float, e: int) -> float:
    """``x * 2**e`` as a Python float, ``inf`` where that overflows (no ``OverflowError``)."""
    try:
        return math.ldexp(x, e)
    except OverflowError:
        return math.copysign(math.inf, x)


def _exponent(xp: Any, A: Any) -> int:
    """``e`` with ``max |A| / 2^e`` in ``[1/2, 1)``; 0 for a zero (or empty) ``A``."""
    if math.prod(int(d) for d in A.shape) == 0:
        return 0
    return math.frexp(aa.to_float(xp.max(xp.abs(A))))[1]


def normalize(xp: Any, A: Any, what: str) -> tuple[Any, int, float]:
    """``(A / 2^e, e, ||A / 2^e||_F²)``: ``A`` scaled by an exact power of two so that
    its squares and their sums neither overflow nor underflow.

    ``e == 0`` (and ``A`` itself, no copy) when its sum of squares already lies
    in the window of :func:`_window`; otherwise the largest entry of ``A / 2^e``
    is in ``[1/2, 1)``. ``ValueError`` for NaN or Inf entries. A projection of
    ``A / 2^e`` scales its factors and errors back with :func:`ldexp` and
    :func:`unscale`.
    """
    sumsq = sum_of_squares(xp, A)
    lo, hi = _window(xp, A.dtype)
    if lo < sumsq < hi:
        return A, 0, sumsq
    if not math.isfinite(sumsq) and not bool(xp.all(xp.isfinite(A))):
        msg = f"{what}: A contains NaN or Inf"
        raise ValueError(msg)
    e = _exponent(xp, A)
    if e == 0:  # zero, or already as well scaled as it can be
        return A, 0, sumsq
    A = ldexp(xp, A, -e)
    return A, e, sum_of_squares(xp, A)


def normalize_stack(xp: Any, A: Any, what: str) -> tuple[Any, Any]:
    """:func:`normalize` for each matrix of a stack ``A`` (N, m, n) of independent problems.

    Returns ``(A_scaled, e)``: ``A_scaled[i] = A[i] / 2^e[i]``, ``e`` (N,) host
    integers (0 where no rescaling is needed); results of problem ``i`` are scaled
    back by ``2^e[i]`` (:func:`ldexp_stack`). No copy when every problem lies
    inside the window.
    """
    absA = xp.abs(A)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        sums = aa.to_host(xp.sum(xp.reshape(absA * absA, (A.shape[0], -1)), axis=1))
    lo, hi = _window(xp, A.dtype)
    out = (sums > lo) & (sums < hi)
    if bool(np.all(out)):
        return A, np.zeros(int(A.shape[0]), dtype=np.int64)
    if not bool(np.all(np.isfinite(sums))) and not bool(xp.all(xp.isfinite(A))):
        msg = f"{what}: A contains NaN or Inf"
        raise ValueError(msg)
    amax = aa.to_host(xp.max(xp.reshape(absA, (A.shape[0], -1)), axis=1))
    e = np.where(out, 0, np.frexp(amax)[1]).astype(np.int64)
    A = ldexp_stack(xp, A, -e)
    return A, e


def ldexp_stack(xp: Any, X: Any, e: Any) -> Any:
    """``X[i] * 2**e[i]`` for a stack ``X`` (N, ...) and host integers ``e`` (N,), exact
    as :func:`ldexp` (two factors)."""
    e = np.asarray(e, dtype=np.int64)
    if not bool(np.any(e)):
        return X
    half = e // 2
    rdt = aa.real_dtype(xp, X.dtype)
    dev = aa.device_of(X)
    shape = (int(X.shape[0]),) + (1,) * (X.ndim - 1)
    for part in (half, e - half):
        f = xp.asarray(np.ldexp(1.0, part).reshape(shape), dtype=rdt, device=dev)
        X = X * f
    return X


def _norm2(xp: Any, A: Any) -> float:
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # rescaled by the caller
        if aa.is_numpy(xp):
            return float(np.linalg.norm(np.reshape(A, (-1,))))
        return aa.to_float(xp.linalg.vector_norm(xp.reshape(A, (-1,))))


def frobenius(xp: Any, A: Any) -> float:
    """``||A||_F`` as a Python float, without overflow or underflow (NumPy: one BLAS pass
    when no rescaling is needed); ``nan`` for NaN entries, ``inf`` only when the norm
    itself exceeds the float range."""
    norm = _norm2(xp, A)
    lo, hi = _window(xp, A.dtype)
    if math.sqrt(lo) < norm < math.sqrt(hi) or math.isnan(norm):
        return norm
    e = _exponent(xp, A)
    if e == 0:
        return norm
    return unscale(_norm2(xp, ldexp(xp, A, -e)), e)


def svd_tail(xp: Any, S: Any, r: int) -> tuple[float, float]:
    """``(error, norm)`` of keeping the ``r`` leading singular values ``S``.

    ``error = sqrt(sum(S[r:]**2))`` (Eckart-Young), ``norm = sqrt(sum(S**2))``,
    each computed without overflow or underflow (:func:`frobenius`).
    """
    err = frobenius(xp, S[r:]) if S.shape[0] > r else 0.0
    return err, frobenius(xp, S)

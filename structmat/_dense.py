"""Dense-matrix input of the projections: validation, Frobenius norms, SVD truncation errors."""

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
    if not bool(xp.all(xp.isfinite(xp.sum(A)))) and not bool(xp.all(xp.isfinite(A))):
        msg = f"{what}: A contains NaN or Inf"
        raise ValueError(msg)
    return A


def sum_of_squares(xp: Any, A: Any) -> float:
    """``||A||_F²`` as a Python float, ``inf`` on overflow (no warning) and ``nan`` for NaN entries."""
    if aa.is_numpy(xp):
        # einsum on the worker threads, not BLAS: a threaded BLAS call leaves OpenBLAS's
        # workers spinning for a while, which took 30-50 ms of CPU from the threaded
        # Monarch projection that follows.
        flat = np.reshape(A, (-1,))
        parts = [flat.real, flat.imag] if np.iscomplexobj(flat) else [flat]
        if _pool.WORKERS > 1 and flat.size >= 1 << 20:
            step = ceil_div(flat.size, _pool.WORKERS)
            parts = [part[i : i + step] for part in parts for i in range(0, flat.size, step)]
            return float(sum(_pool.pool().map(_sumsq, parts)))
        return float(sum(_sumsq(part) for part in parts))
    absA = xp.abs(A)
    return float(xp.sum(absA * absA))


def _sumsq(x: np.ndarray) -> float:
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return float(np.einsum("i,i->", x, x))


def frobenius(xp: Any, A: Any) -> float:
    """``||A||_F`` as a Python float (NumPy: one BLAS pass)."""
    if aa.is_numpy(xp):
        return float(np.linalg.norm(np.reshape(A, (-1,))))
    return float(xp.linalg.vector_norm(xp.reshape(A, (-1,))))


def svd_tail(xp: Any, S: Any, r: int) -> tuple[float, float]:
    """``(error, norm)`` of keeping the ``r`` leading singular values ``S``.

    ``error = sqrt(sum(S[r:]**2))`` (Eckart-Young), ``norm = sqrt(sum(S**2))``.
    """
    err = math.sqrt(float(xp.sum(S[r:] ** 2))) if S.shape[0] > r else 0.0
    norm = math.sqrt(float(xp.sum(S**2)))
    return err, norm

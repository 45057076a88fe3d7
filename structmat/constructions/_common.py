"""Argument checks and array helpers shared by the constructions (private)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._args import int_or_pair, integer

_NORMS = ("backward", "ortho", "forward")


def _roots(e: np.ndarray, N: int, sign: int = -1) -> np.ndarray:
    """``exp(sign 2πi e / N)`` for integer ``e``, reduced mod ``N`` first (accurate)."""
    r = np.mod(np.asarray(e, dtype=np.int64), N)
    ang = (2.0 * np.pi / N) * r
    return np.cos(ang) + (1j * sign) * np.sin(ang)


def _check_norm(norm: Any, what: str, allowed: tuple[Any, ...] = _NORMS) -> str:
    if norm is None:
        return "backward"
    if norm not in allowed:
        msg = f"{what}: norm must be one of {allowed}, got {norm!r}"
        raise ValueError(msg)
    return str(norm)


def _dtype(xp: Any, dtype: Any, default: str, *, complex_: bool) -> Any:
    dt = xp.complex128 if default == "complex128" else xp.float64
    if dtype is not None:
        dt = aa.as_dtype(xp, dtype)
    return aa.complex_dtype(xp, dt) if complex_ else dt


def _to_xp(a: np.ndarray, xp: Any, device: Any, dtype: Any = None) -> Any:
    out = aa.to_namespace(np.ascontiguousarray(a), xp, device)
    if dtype is not None:
        out = xp.astype(out, dtype)
    return out


def _default_split(n: int) -> tuple[int, int]:
    """``(K, J)`` with ``K`` the divisor of ``n`` nearest ``√n`` (ties: the smaller)."""
    root = math.sqrt(n)
    divisors = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    divisors += [n // d for d in divisors]
    K = min(sorted(set(divisors)), key=lambda d: abs(d - root))
    return K, n // K


def _split(n: int, nblocks: Any, what: str) -> tuple[int, int]:
    """``(K, J)`` with ``K*J = n``: ``nblocks=k`` means ``(k, k)``, as for every Monarch."""
    if nblocks is None:
        K, J = _default_split(n)
        if n > 1 and K == 1:
            msg = (
                f"{what}: n = {n} is prime, so no exact Monarch factorization with "
                f"blocks smaller than n exists; pass nblocks=(1, {n}) for the trivial (dense) one"
            )
            raise ValueError(msg)
        return K, J
    K, J = int_or_pair(nblocks, "nblocks", what)
    if K < 1 or J < 1 or K * J != n:
        K0, J0 = _default_split(n)
        hint = f"nblocks=({K0}, {J0})" if K0 > 1 else f"nblocks=(1, {n})"
        same = " (an int k means (k, k), as everywhere in structmat)" if K == J else ""
        msg = (
            f"{what}: nblocks must split n = {n} as K*J, got nblocks={nblocks!r}{same}; "
            f"for example {hint}"
        )
        raise ValueError(msg)
    return K, J


def _monarch_cls() -> Any:
    from structmat.monarch import Monarch

    return Monarch


def _butterfly_cls() -> Any:
    from structmat.butterfly import Butterfly

    return Butterfly


def _dft_scale(n: int, norm: str, inverse: bool) -> float:
    if norm == "ortho":
        return 1.0 / math.sqrt(n)
    if (norm == "backward") == inverse:
        return 1.0 / n
    return 1.0


def _check_power_of_two(n: Any, what: str, minimum: int = 1) -> int:
    n = integer(n, "n", what)
    if n < minimum or n & (n - 1):
        msg = f"{what} expects n a power of 2 (n >= {minimum}), got {n}"
        raise ValueError(msg)
    return n

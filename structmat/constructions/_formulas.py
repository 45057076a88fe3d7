"""Index and exponent formulas of the constructions (private).

Plain polynomial functions of their index arguments: they evaluate on Python
ints, NumPy integer arrays and SymPy symbols alike, so the numeric
constructions and :mod:`structmat.symbolic` use the very same functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _monarch_row(sigma: Any, j: Any, J: Any) -> Any:
    """Monarch output index ``sigma*J + j`` (docs/conventions.md)."""
    return sigma * J + j


def _monarch_col(a: Any, t: Any, p: Any) -> Any:
    """Monarch input index ``a*p + t`` (docs/conventions.md)."""
    return a * p + t


def _dft_monarch_input(a: Any, t: Any, K: Any) -> Any:
    """DFT column fed to Monarch column ``a*J + t``: ``v = a + K*t``."""
    return a + K * t


def _dft_monarch_L_exponent(j: Any, sigma: Any, a: Any, J: Any, K: Any) -> Any:
    """Exponent of ``ω_n`` in ``L[j, sigma, a]``: ``J*sigma*a`` (an ``F_K`` block)."""
    return J * sigma * a


def _dft_monarch_R_exponent(a: Any, j: Any, t: Any, J: Any, K: Any) -> Any:
    """Exponent of ``ω_n`` in ``R[a, j, t]``: ``j*a + K*j*t`` (twiddled ``F_J``)."""
    return j * a + K * j * t


def _butterfly_dft_exponent(o: Any, b: Any, c: Any, s: Any) -> Any:
    """Exponent of ``ω_{2s}`` in ``tw[l, g*s + o][b, c]`` of the DFT butterfly.

    ``[[1, ω_{2s}^o], [1, -ω_{2s}^o]]`` is ``ω_{2s}^{c*(o + b*s)}`` since
    ``-1 = ω_{2s}^s``.
    """
    return c * (o + b * s)


def _bitrev(i: Any, L: int) -> Any:
    """Reverse the ``L`` low bits of ``i`` (ints or NumPy integer arrays)."""
    out = i * 0
    for bit in range(L):
        out = out + ((i >> bit) & 1) * (1 << (L - 1 - bit))
    return out


def _hadamard_parity(u: Any, v: Any) -> Any:
    """``popcount(u & v) mod 2``: ``H[u, v] = (-1)^parity`` (Sylvester order)."""
    w = u & v
    out = w * 0
    while np.any(w):
        out = out ^ (w & 1)
        w = w >> 1
    return out


def _makhoul_index(n: int) -> np.ndarray:
    """``v = x[idx]`` with ``v[j] = x[2j]``, ``v[n-1-j] = x[2j+1]`` (Makhoul 1980)."""
    idx = np.empty(n, dtype=np.int64)
    half = (n + 1) // 2
    idx[:half] = 2 * np.arange(half)
    idx[half:] = (2 * np.arange(n - half) + 1)[::-1]
    return idx


def _dct_combine_terms(n: int) -> list[tuple[int, int, int]]:
    """``(row k, column, exponent of ω_{4n})`` of the DCT-II post-step.

    ``y[k] = ω_{4n}^k V[k] + ω_{4n}^{-k} V[(n-k) mod n]``, ``V = F_n v``: the
    linear (over C) extension of Makhoul's ``y[k] = 2 Re(ω_{4n}^k V[k])``.
    """
    terms = []
    for k in range(n):
        terms.append((k, k, k % (4 * n)))
        terms.append((k, (n - k) % n, (-k) % (4 * n)))
    return terms


def _dct_pair_index(n: int) -> np.ndarray:
    """Order ``0, n/2, 1, n-1, 2, n-2, ...``: pairs ``{k, n-k}`` side by side."""
    idx = [0, n // 2]
    for k in range(1, n // 2):
        idx += [k, n - k]
    return np.asarray(idx, dtype=np.int64)

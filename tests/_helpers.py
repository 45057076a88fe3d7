"""Helpers shared by the tests: random NumPy inputs, the Monarch element-formula oracle.

Test modules import this as ``_helpers`` (pytest puts ``tests/`` on
``sys.path`` for the modules it collects there).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat.testing import to_numpy, tolerance


def random_array(rng: np.random.Generator, shape: Any, dtype: str = "float64") -> np.ndarray:
    """Standard normal entries of ``dtype``; complex dtypes get a normal imaginary part too."""
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def ks_oracle(T: np.ndarray) -> np.ndarray:
    """The KS factor ``F[i*b*d + j*d + l, i*c*d + k*d + l] = T[i, j, k, l]``, as a loop."""
    a, b, c, d = T.shape
    F = np.zeros((a * b * d, a * c * d), dtype=T.dtype)
    for i, j, k, o in itertools.product(range(a), range(b), range(c), range(d)):
        F[i * b * d + j * d + o, i * c * d + k * d + o] = T[i, j, k, o]
    return F


def random_pair(
    xp: Any, shape: Any, dtype: str = "float64", seed: int = 0
) -> tuple[Any, np.ndarray]:
    """(array in ``xp``, the same values in NumPy), drawn with ``default_rng(seed)``."""
    a = random_array(np.random.default_rng(seed), shape, dtype)
    return xp.asarray(a), a


def monarch_oracle(L, R, shape=None):
    """DESIGN §4 element formula as a plain loop."""
    L, R = to_numpy(L), to_numpy(R)
    J, s, Kr = L.shape
    K, _, p = R.shape
    r = Kr // K
    M = np.zeros((s * J, K * p), dtype=np.result_type(L, R))
    for sigma in range(s):
        for j in range(J):
            for a in range(K):
                for t in range(p):
                    M[sigma * J + j, a * p + t] = sum(
                        L[j, sigma, a * r + rho] * R[a, rho * J + j, t] for rho in range(r)
                    )
    if shape is not None:
        M = M[: shape[0], : shape[1]]
    return M


def butterfly_oracle(tw, increasing=True):
    """DESIGN §5: level l maps (x[2gs+o], x[2gs+s+o]) by tw[l, g*s+o], plain loops."""
    tw = to_numpy(tw)
    nlev, half = tw.shape[:2]
    n = 2 * half
    B = np.eye(n, dtype=np.result_type(tw, np.float64))
    order = range(nlev) if increasing else range(nlev - 1, -1, -1)
    for ell in order:
        s = 2**ell
        lev = np.zeros((n, n), dtype=B.dtype)
        for g in range(n // (2 * s)):
            for o in range(s):
                i0, i1 = 2 * g * s + o, 2 * g * s + s + o
                lev[np.ix_([i0, i1], [i0, i1])] = tw[ell, g * s + o]
        B = lev @ B
    return B


def oracle_as(desired: Any, xp: Any = None, dtype: Any = None) -> Any:
    """The NumPy oracle ``desired`` as the result it stands for, for ``assert_close``
    (which checks namespace and dtype): in namespace ``xp`` (default NumPy), of
    ``dtype`` (a name or a dtype of any namespace; default: its own).

    The values are rounded to ``dtype`` once, which ``assert_close``'s tolerance for
    that dtype covers. A complex oracle of a real result must have no imaginary part
    beyond rounding (otherwise the test, not the cast, would decide the comparison).
    """
    d = np.asarray(desired)
    if dtype is not None:
        name = aa.dtype_name(dtype)
        if np.iscomplexobj(d) and not name.startswith("complex"):
            imag = float(np.linalg.norm(d.imag))
            if imag > tolerance(name, d.size) * max(float(np.linalg.norm(d)), 1e-300):
                msg = f"the oracle has an imaginary part ({imag:.3g}); the result is {name}"
                raise AssertionError(msg)
            d = d.real
        d = d.astype(name)
    return aa.to_namespace(d, aa.default_namespace(xp))

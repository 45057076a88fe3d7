"""Helpers shared by the tests: random NumPy inputs, the Monarch element-formula oracle.

Test modules import this as ``_helpers`` (pytest puts ``tests/`` on
``sys.path`` for the modules it collects there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from structmat.testing import to_numpy


def random_array(rng: np.random.Generator, shape: Any, dtype: str = "float64") -> np.ndarray:
    """Standard normal entries of ``dtype``; complex dtypes get a normal imaginary part too."""
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


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

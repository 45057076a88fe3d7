r"""The exact Monarch projection (private; :meth:`structmat.Monarch.project` calls it).

Monarch is the KS chain ``KS(1, s, K*r, J) · KS(K, r*J, p, 1)`` with
``T_L[0, sigma, gamma, j] = L[j, sigma, gamma]`` and ``T_R[a, :, :, 0] = R[a]``,
so its exact projection is the two-factor projection of
:mod:`structmat.ks._project` on the zero-padded ``A``: the groups are the
``J*K`` slices ``M[sigma*J + j, a*p + t]`` (fixed ``j``, ``a``), read through the
strided block view of ``A`` (no copy) by the mixed-precision route or the engine
of :mod:`structmat._truncated_svd`, and the factors are read off the KS values,
with the singular values split evenly between ``L`` and ``R``.
"""

from __future__ import annotations

from typing import Any

from structmat import _array_api as aa
from structmat._args import ceil_div
from structmat.ks._mixed import ENGINES
from structmat.ks._project import _project_two

__all__ = ["ENGINES", "project_factors"]


def project_factors(
    xp: Any, A: Any, K: int, J: int, r: int, engine: str = "auto"
) -> tuple[Any, Any, float, float]:
    """Optimal ``(L, R)`` for ``A`` (finite, 2-d, scaled), the squared error and ``||A||²``.

    ``engine`` is one of :data:`ENGINES` (checked by the caller), ``1 <= r <=
    min(s, p)``.

    >>> import numpy as np
    >>> A = np.random.default_rng(0).standard_normal((12, 10))
    >>> L, R, err2, norm2 = project_factors(np, A, 2, 3, 1)
    >>> L.shape, R.shape
    ((3, 4, 2), (2, 3, 5))
    >>> S = A.reshape(4, 3, 2, 5).transpose(1, 2, 0, 3)  # the slices T[:, j, a, :]
    >>> sv = np.linalg.svd(S, compute_uv=False)
    >>> bool(np.isclose(err2, (sv[..., 1:] ** 2).sum()) and np.isclose(norm2, (A**2).sum()))
    True
    """
    m, n = (int(d) for d in A.shape)
    dtype = A.dtype
    p, s = ceil_div(n, K), ceil_div(m, J)
    if (m, n) != (s * J, K * p):
        # one copy of A, in its own precision (the mixed route casts by chunk)
        Ap = xp.zeros((s * J, K * p), dtype=dtype, device=aa.device_of(A))
        Ap[:m, :n] = A
        A = Ap
    TL, TR, err2, norm2 = _project_two(
        xp, A[None, ...], (1, s, K * r, J), (K, r * J, p, 1), engine, balanced=True, dtype=dtype
    )
    # L[j, sigma, gamma] = T_L[0, sigma, gamma, j]: through (J, s*K*r), a C-order copy.
    L = xp.reshape(xp.permute_dims(TL[0, 0, ...], (2, 0, 1)), (J, s * K * r))
    L = xp.reshape(L, (J, s, K * r))
    R = TR[0, :, :, :, 0]  # R[a] = T_R[a, :, :, 0], already in C order
    return L, R, aa.to_float(err2[0]), aa.to_float(norm2[0])

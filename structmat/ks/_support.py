r"""A dense matrix restricted to the support of one Kronecker-sparse factor (private).

The one-factor projection onto ``KS(a, b, c, d)`` is the restriction of ``A``
to the support :math:`I_a \otimes 1_{b \times c} \otimes I_d`: its values are
the entries of ``A`` there (:func:`structmat.ks._chain_project._on_support`)
and its error is the energy of :func:`off_support`, the rest of ``A``. The
block-diagonal projection (``KS(k, m, n, 1)``) uses both.
"""

from __future__ import annotations

from typing import Any

from structmat import _array_api as aa
from structmat.ks._patterns import Pattern, ks_shape

__all__ = ["off_support", "support_mask"]


def support_mask(xp: Any, pattern: Pattern, device: Any = None) -> Any:
    """The boolean ``(a*b*d, a*c*d)`` mask of the support of ``KS(a, b, c, d)``.

    Row ``i b d + j d + l`` meets column ``i' c d + k d + l'`` on the support
    exactly when ``i == i'`` and ``l == l'``.

    Examples
    --------
    >>> import numpy as np
    >>> support_mask(np, (2, 1, 2, 1)).astype(int).tolist()
    [[1, 1, 0, 0], [0, 0, 1, 1]]
    """
    _, b, c, d = pattern
    m, n = ks_shape(pattern)
    r = xp.arange(m, dtype=xp.int64, device=device)[:, None]
    q = xp.arange(n, dtype=xp.int64, device=device)[None, :]
    same = r // (b * d) == q // (c * d)
    return same if d == 1 else same & (r % d == q % d)


def off_support(A: Any, pattern: Pattern) -> Any:
    """``A`` with the entries on the support of ``KS(a, b, c, d)`` set to zero (a new array).

    Examples
    --------
    >>> import numpy as np
    >>> off_support(np.ones((2, 4)), (2, 1, 2, 1)).tolist()
    [[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]]
    """
    xp = aa.namespace_of(A)
    inside = support_mask(xp, pattern, aa.device_of(A))
    return xp.where(inside, xp.zeros_like(A), A)

r"""Fusing consecutive Kronecker-sparse factors into one (private).

Two consecutive factors ``F_L = KS(a2, b2, c2, d2)`` (left) and
``F_R = KS(a1, b1, c1, d1)`` (right, applied first) have a KS product
``F_L F_R`` in exactly two cases:

(i) ``a1 = a2 c2`` and ``d2 = b1 d1`` (the right factor acts on a finer digit,
    as the levels of an increasing-stride butterfly):
    ``F_L F_R = KS(a2, b2 b1, c2 c1, d1)`` with

    .. math::

        T[i, (j_2, j_1), (k_2, k_1), l] = T_L[i, j_2, k_2, j_1 d_1 + l]\,
        T_R[i c_2 + k_2, j_1, k_1, l];

(ii) ``a2 = a1 b1`` and ``d1 = c2 d2`` (the right factor acts on a coarser
     digit, a decreasing-stride butterfly): ``F_L F_R = KS(a1, b1 b2, c1 c2, d2)``
     with

     .. math::

         T[i, (j_1, j_2), (k_1, k_2), l] = T_L[i b_1 + j_1, j_2, k_2, l]\,
         T_R[i, j_1, k_1, k_2 d_2 + l].

(Row index ``(i, j, l)`` of ``KS(a, b, c, d)`` is ``i b d + j d + l`` and a
pair ``(j_2, j_1)`` is ``j_2 b_1 + j_1``.) Each product has one term: the
fused values are entrywise products, no sum. The fused factor costs
``a2 b2 b1 c2 c1 d1`` multiply-adds per column against
``a1 b1 c1 d1 + a2 b2 c2 d2`` for the pair (case i), a factor
``b2 c1 / (b2 + c1)``: equal for two radix-2 levels, 4/3 for three,
2 for four. It saves passes over the data and turns ``2 x 2`` products,
which BLAS runs far below its throughput, into ``8 x 8`` ones.

:func:`fusion_plan` cuts a chain into runs fused greedily while the fused
block side stays small; :func:`fuse_values` gives a run's fused values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._args import integer
from structmat.ks._multiply import ks_blocked
from structmat.ks._patterns import Pattern, _check_chain, _check_values

__all__ = [
    "FUSE_MAX_BLOCK",
    "fuse_blocked",
    "fuse_values",
    "fused_pattern",
    "fusion_plan",
    "run_pattern",
]

# Runs are fused while the fused factor's blocks are at most this many rows and
# columns: radix-2 chains become radix-8 factors (benchmarks/bench_ks.py compares 4, 8, 16).
FUSE_MAX_BLOCK = 8


def _rule(left: Pattern, right: Pattern) -> tuple[int, Pattern] | None:
    a2, b2, c2, d2 = left
    a1, b1, c1, d1 = right
    if a1 == a2 * c2 and d2 == b1 * d1:
        return 1, (a2, b2 * b1, c2 * c1, d1)
    if a2 == a1 * b1 and d1 == c2 * d2:
        return 2, (a1, b1 * b2, c1 * c2, d2)
    return None


def _fused_or_raise(left: Pattern, right: Pattern) -> tuple[int, Pattern]:
    """:func:`_rule` of the pair, ``ValueError`` when their product is not a KS factor."""
    rule = _rule(left, right)
    if rule is None:
        msg = f"the product of KS factors {left} (left) and {right} (right) is not a KS factor"
        raise ValueError(msg)
    return rule


def fused_pattern(left: Any, right: Any) -> Pattern | None:
    """The KS pattern of the product ``F_left F_right``, or ``None`` when it is not KS.

    ``right`` is applied first; the two must chain (``right``'s rows equal
    ``left``'s columns).

    Examples
    --------
    >>> fused_pattern((2, 2, 2, 2), (4, 2, 2, 1))  # two butterfly levels
    (2, 4, 4, 1)
    >>> fused_pattern((4, 2, 2, 1), (2, 2, 2, 2))  # decreasing stride
    (2, 4, 4, 1)
    >>> fused_pattern((1, 4, 4, 4), (4, 4, 4, 1))  # Monarch: a dense product
    (1, 16, 16, 1)
    >>> fused_pattern((1, 3, 2, 1), (1, 2, 3, 1)) is None  # low rank: a sum over the rank
    True
    """
    pair = _check_chain([left, right], "fused_pattern")
    rule = _rule(pair[0], pair[1])
    return None if rule is None else rule[1]


def run_pattern(patterns: Any) -> Pattern:
    """The pattern of the product of a chain (leftmost first) that fuses to one KS factor.

    ``ValueError`` when some step of the run (fused from the right) is not a KS product.

    Examples
    --------
    >>> run_pattern([(1, 2, 2, 4), (2, 2, 2, 2), (4, 2, 2, 1)])
    (1, 8, 8, 1)
    """
    pats = _check_chain(patterns, "run_pattern")
    acc = pats[-1]
    for p in reversed(pats[:-1]):
        acc = _fused_or_raise(p, acc)[1]
    return acc


def fusion_plan(patterns: Any, max_block: int = FUSE_MAX_BLOCK) -> list[tuple[int, int]]:
    """Cut a chain (leftmost first) into runs ``[(start, stop), ...]`` fused into one factor each.

    Greedy from the factor applied first (the right end): a run grows by the
    next factor to its left while their product is a KS factor
    (:func:`fused_pattern`) whose blocks are at most ``max_block`` rows and
    columns. A factor that fuses with nothing is a run of one. The runs are
    returned leftmost first and cover ``range(len(patterns))``; ``patterns[start:stop]``
    multiply to one KS factor.

    Examples
    --------
    >>> from structmat.ks import mixed_radix, monarch, square_dyadic
    >>> fusion_plan(square_dyadic(64))
    [(0, 3), (3, 6)]
    >>> fusion_plan(mixed_radix(24))  # radices 2, 2, 2, 3 applied in this order
    [(0, 1), (1, 4)]
    >>> fusion_plan(monarch((64, 64), 8, 8))  # blocks of 8: would fuse to a dense 64 x 64
    [(0, 1), (1, 2)]
    """
    pats = _check_chain(patterns, "fusion_plan")
    limit = integer(max_block, "max_block", "fusion_plan", low=1)
    runs: list[tuple[int, int]] = []
    stop = len(pats)
    acc = pats[-1]
    for i in range(len(pats) - 2, -1, -1):
        rule = _rule(pats[i], acc)
        if rule is not None and max(rule[1][1], rule[1][2]) <= limit:
            acc = rule[1]
            continue
        runs.append((i + 1, stop))
        stop, acc = i + 1, pats[i]
    runs.append((0, stop))
    return runs[::-1]


def _fuse_two(xp: Any, TL: Any, TR: Any) -> Any:
    """``F_L F_R`` from values ``TL``, ``TR``, in the layout of :func:`ks_blocked`, contiguous.

    The product is formed straight in the matmul layout ``(a, d, b, c)``, so
    the multiply needs no further copy; ``permute_dims(M, (0, 2, 3, 1))`` is a
    view of the values ``T``.
    """
    left = tuple(int(v) for v in TL.shape)
    right = tuple(int(v) for v in TR.shape)
    case, (a, b, c, d) = _fused_or_raise(left, right)  # type: ignore[arg-type]
    _, b2, c2, _ = left
    _, b1, c1, _ = right
    if case == 1:
        # M[i, l, (j2, j1), (k2, k1)] = TL[i, j2, k2, j1 d1 + l] TR[i c2 + k2, j1, k1, l]
        L = xp.permute_dims(xp.reshape(TL, (a, b2, c2, b1, d)), (0, 4, 1, 3, 2))
        R = xp.permute_dims(xp.reshape(TR, (a, c2, b1, c1, d)), (0, 4, 2, 1, 3))
        L, R = xp.expand_dims(L, axis=5), xp.expand_dims(R, axis=2)
    else:
        # M[i, l, (j1, j2), (k1, k2)] = TL[i b1 + j1, j2, k2, l] TR[i, j1, k1, k2 d2 + l]
        L = xp.permute_dims(xp.reshape(TL, (a, b1, b2, c2, d)), (0, 4, 1, 2, 3))
        R = xp.permute_dims(xp.reshape(TR, (a, b1, c1, c2, d)), (0, 4, 1, 2, 3))
        L, R = xp.expand_dims(L, axis=4), xp.expand_dims(R, axis=3)
    # NumPy's broadcast product follows its inputs' memory order; the kernels want C order
    M = np.multiply(L, R, order="C") if aa.is_numpy(xp) else L * R
    return xp.reshape(M, (a, d, b, c))


def fuse_blocked(values: Sequence[Any], /) -> Any:
    """The product of KS factors ``values[0] @ values[1] @ ...`` (leftmost first), blocked.

    As :func:`fuse_values`, in the layout ``(a, d, b, c)`` of
    :func:`structmat.ks.ks_blocked` (contiguous; a run of one factor is
    copied into that layout).
    """
    if not values:
        msg = "fusing KS factors needs at least one array of values, got none"
        raise ValueError(msg)
    xp, _ = _check_values(values[-1], "values[-1]")
    if len(values) == 1:
        return ks_blocked(values[0])
    T = values[-1]
    M = None
    for i in range(len(values) - 2, -1, -1):
        _check_values(values[i], f"values[{i}]")
        if values[i].dtype != T.dtype:
            msg = f"fuse_values: values[{i}] has dtype {values[i].dtype}, the others {T.dtype}"
            raise ValueError(msg)
        M = _fuse_two(xp, values[i], T)
        T = xp.permute_dims(M, (0, 2, 3, 1))
    return M


def fuse_values(values: Sequence[Any], /) -> Any:
    """The values of the product of KS factors ``values[0] @ values[1] @ ...`` (leftmost first).

    Each product of the current run with the next factor must be a KS factor
    (:func:`fused_pattern`), else ``ValueError``; the arrays must share a
    namespace and dtype. Exact: every fused value is a product of one value
    of each factor. Returns an array of shape ``(a, b, c, d)`` (a view of
    :func:`fuse_blocked`'s result).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.ks import ks_to_dense, square_dyadic
    >>> rng = np.random.default_rng(0)
    >>> Ts = [rng.standard_normal(p) for p in square_dyadic(8)]
    >>> T = fuse_values(Ts)
    >>> T.shape
    (1, 8, 8, 1)
    >>> D = ks_to_dense(Ts[0]) @ ks_to_dense(Ts[1]) @ ks_to_dense(Ts[2])
    >>> bool(np.allclose(ks_to_dense(T), D))
    True
    """
    if len(values) == 1:
        _check_values(values[0], "values[0]")
        return values[0]
    M = fuse_blocked(values)
    return aa.namespace_of(M).permute_dims(M, (0, 2, 3, 1))

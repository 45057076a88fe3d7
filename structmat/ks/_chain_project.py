r"""Projection onto a user-given chain of Kronecker-sparse patterns (left to right).

:func:`ks_project_chain` fits ``A ≈ F_1 F_2 ⋯ F_m`` for patterns written
leftmost first, by the orthonormalized left-to-right hierarchy of Le, Zheng,
Riccietti and Gribonval [1]_: split ``A`` into ``F_1 · H_1`` with ``H_1`` on
the support of ``F_2 ⋯ F_m`` (one exact two-factor projection,
:func:`structmat.ks.ks_project_two`, whose left factor carries the singular
vectors), then ``H_1`` into ``F_2 · H_2``, and so on.

Notes
-----
The support of ``F_i ⋯ F_j`` is inside the single KS pattern
``(a_i, ·, ·, d_j)`` when ``a_i | a_{i+1}`` and ``d_{i+1} | d_i`` along the
chain: every factor is then ``I_{a_i} ⊗ (·) ⊗ I_{d_j}`` (lazylinop's
"chainable" chains; every builder of :mod:`structmat.ks` makes one). That
gives both the steps' right patterns and the lower bound: every member of the
chain's class is a product of two KS factors with the patterns of
``F_1 ⋯ F_k`` and ``F_{k+1} ⋯ F_m``, so no member is closer to ``A`` than
the exact two-factor error at any split ``k``.

References
----------
.. [1] Q.-T. Le, L. Zheng, E. Riccietti, R. Gribonval, "Butterfly
   factorization with error guarantees", arXiv:2411.04506 (2024).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._dense import frobenius, ldexp, normalize, unscale
from structmat._result import ProjectionResult
from structmat.ks._multiply import support_indices
from structmat.ks._operators import KSChain
from structmat.ks._patterns import Pattern, _check_chain, ks_shape
from structmat.ks._project import (
    _below,
    _blocks,
    _check_engine,
    _check_two,
    _discarded_eigenvalues,
    _grams,
    _groups,
    _project_two_parts,
    _two_bounds,
    ks_project_two,
)

__all__ = ["ks_project_chain"]

# The lower bound's splits tried by power steps first (see _lower2): blocks of at least
# this shorter side (below it the batched eigvalsh costs about as little as the steps),
# and at most this many steps.
_PRUNE_MIN = 12
_PRUNE_STEPS = 12


def _merged(patterns: list[Pattern]) -> Pattern:
    """The KS pattern whose support holds that of the product of ``patterns`` (a chainable run)."""
    a, d = patterns[0][0], patterns[-1][3]
    (m, _), (_, n) = ks_shape(patterns[0]), ks_shape(patterns[-1])
    return a, m // (a * d), n // (a * d), d


def _check_chainable(patterns: list[Pattern], what: str) -> None:
    for i in range(len(patterns) - 1):
        (a1, _, _, d1), (a2, _, _, d2) = patterns[i], patterns[i + 1]
        if a2 % a1 or d1 % d2:
            msg = (
                f"{what}: patterns {i} and {i + 1} are not chainable: {patterns[i]} then "
                f"{patterns[i + 1]} needs a_{i} = {a1} to divide a_{i + 1} = {a2} and "
                f"d_{i + 1} = {d2} to divide d_{i} = {d1} (the chains of "
                "structmat.ks.square_dyadic, mixed_radix, monarch and chainable are)"
            )
            raise ValueError(msg)


def _on_support(xp: Any, A: Any, pattern: Pattern) -> Any:
    """The values ``T`` (a, b, c, d) of ``A`` on the support of one KS factor."""
    idx = xp.asarray(support_indices(pattern), device=aa.device_of(A))
    return xp.reshape(xp.take(xp.reshape(A, (-1,)), idx), pattern)


def _step(xp: Any, T: Any, left: Pattern, right: Pattern, engine: str) -> tuple[Any, Any]:
    """One step of the hierarchy on ``H`` given by its values ``T`` (a, b, c, d).

    ``H = I_a ⊗ B ⊗ I_d`` up to the KS permutations, with ``a | a_left`` and
    ``d | d_left``, ``d | d_right`` (a chainable run): its two-factor
    projection is ``a d`` independent ones of the ``b x c`` blocks
    ``T[i, :, :, l]`` onto the patterns divided by ``a`` and ``d``, one
    batch of :func:`ks_project_two`, never the dense ``H``. Returns the
    values of the left factor and of the next ``H`` (on ``right``).
    """
    a, b, c, d = (int(v) for v in T.shape)
    (aL, bL, cL, dL), (aR, bR, cR, dR) = left, right
    blocks = T[..., 0] if d == 1 else xp.permute_dims(T, (0, 3, 1, 2))
    blocks = xp.reshape(blocks, (a * d, b, c))
    TL, TR, _ = ks_project_two(
        blocks, (aL // a, bL, cL, dL // d), (aR // a, bR, cR, dR // d), engine=engine
    )
    # batch index i*d + l back into the a and d axes: a-index i*(a'/a) + i', d-index l''*d + l
    return _unbatch(xp, TL, a, d, left), _unbatch(xp, TR, a, d, right)


def _unbatch(xp: Any, V: Any, a: int, d: int, pattern: Pattern) -> Any:
    """Values (a*d, a', b, c, d') of the batched sub-problems as those of ``pattern``."""
    if d == 1:
        return xp.reshape(V, pattern)
    _, a2, b2, c2, d2 = (int(v) for v in V.shape)
    V = xp.reshape(V, (a, d, a2, b2, c2, d2))
    return xp.reshape(xp.permute_dims(V, (0, 2, 3, 4, 5, 1)), pattern)


def ks_project_chain(A: Any, patterns: Any, /, *, engine: str = "auto") -> ProjectionResult:
    r"""Project a dense ``A`` onto the chain ``F_1 ⋯ F_m`` of KS ``patterns`` (leftmost first).

    Parameters
    ----------
    A : array of shape (M, N)
        Any floating dtype, any array-API namespace; ``(M, N)`` the chain's shape.
    patterns : sequence of (a, b, c, d)
        Leftmost first, chainable (``a_i | a_{i+1}``, ``d_{i+1} | d_i``):
        the builders :func:`~structmat.ks.square_dyadic`,
        :func:`~structmat.ks.mixed_radix`, :func:`~structmat.ks.monarch` and
        :func:`~structmat.ks.chainable` make such chains.
    engine : {"auto", "subspace", "eigh", "svd"}
        The truncated SVD of every two-factor step
        (:func:`~structmat.ks.ks_project_two`); the result does not depend on it.

    Returns
    -------
    ProjectionResult
        ``operator`` a :class:`~structmat.ks.KSChain`; ``error`` computed
        from the dense product; ``lower_bound`` the largest exact two-factor
        error over the splits (no member of the class is closer);
        ``exact`` when the two agree (always for one or two factors, and for
        ``A`` in the class).

    Notes
    -----
    One and two factors are exact (the entries on the support; the
    two-factor projection). Longer chains take the hierarchy of the module
    notes: each step orthonormalizes its left factor within each group, so
    the energy moves right. It recovers every member of the class (to
    rounding); otherwise the error is a heuristic's, between ``lower_bound``
    and ``‖A‖_F``.

    Everything runs on ``A / 2^e``, with ``e`` chosen once so that no square
    over- or underflows; the last factor takes ``2^e`` back. The lower bound at split ``k`` is
    that of :func:`~structmat.ks.ks_project_two_error`: the Gram matrices of
    the blocks, formed by batched products on strided views of ``A`` (no copy
    for real input), one batched ``eigvalsh``; at the first split, the
    hierarchy's own first step where it took full spectra (the closed form,
    the batched eigh or SVD). A split whose bound power steps on its Gram
    matrices show to be below one already found is not solved (the bound is
    the same as with every split's eigenvalues).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.ks import KSChain, mixed_radix, ks_project_chain
    >>> C = KSChain.random(mixed_radix(12), seed=0)
    >>> res = ks_project_chain(C.to_dense(), mixed_radix(12))
    >>> res.error < 1e-12 * res.norm, res.exact
    (True, True)
    """
    what = "ks_project_chain"
    chain = _check_chain(patterns, what)
    _check_chainable(chain, what)
    engine = _check_engine(engine, what)
    xp = aa.namespace_of(A)
    # the shape and dtype checks of the two-factor projection, on the whole chain
    if len(chain) > 1:
        _check_two(A, chain[0], _merged(chain[1:]), what)
    else:  # one factor, checked as the left of a pair with an identity-sized right
        cols = ks_shape(chain[0])[1]
        _check_two(A, chain[0], (1, cols, cols, 1), what)
    if len(chain) == 1:
        op = KSChain([_on_support(xp, A, chain[0])])
    else:
        # The hierarchy on A / 2^e: the left factors carry singular vectors (no scale),
        # so only the last one takes 2^e back.
        A_s, e, total = normalize(xp, A, what)
        left, right = chain[0], _merged(chain[1:])
        TL, T, err2, _, full = _project_two_parts(xp, A_s[None, ...], left, right, engine)
        values = [xp.reshape(TL, left)]
        T = xp.reshape(T, right)
        for i in range(1, len(chain) - 1):
            TL, T = _step(xp, T, chain[i], _merged(chain[i + 1 :]), engine)
            values.append(TL)
        values.append(ldexp(xp, T, e))  # the last H lies on the last factor's support
        op = KSChain(values)
    norm = frobenius(xp, A)
    err = frobenius(xp, A - op.to_dense())
    lower = err
    if len(chain) > 2:
        first = aa.to_float(err2[0]) if full else None
        lower = unscale(math.sqrt(max(_lower2(xp, A_s, chain, total, first), 0.0)), e)
    exact = len(chain) <= 2 or err <= lower * (1 + 1e-12) or err <= 64 * _eps(xp, A) * norm
    told = "" if exact else "left-to-right hierarchy: lower_bound is the best two-factor split's"
    return ProjectionResult(
        operator=op,
        error=err,
        norm=norm,
        lower_bound=min(lower, err),
        upper_bound=err,
        exact=exact,
        onto="ks",
        params={"patterns": [list(p) for p in chain]},
        notes=told,
    )


def _lower2(
    xp: Any, A: Any, chain: list[Pattern], total: float, first: float | None, prune: bool = True
) -> float:
    """The largest lower bound on the squared two-factor errors of the splits of ``A``
    (scaled; ``total = ||A||²``), as :func:`ks_project_two_error` bounds each.

    ``first``: the first split's exact squared error where the hierarchy's first step
    computed it from full spectra (then not computed again). The splits go from the
    most balanced blocks (on Gaussian input the largest errors) to the least; with
    ``prune``, a split whose groups have size one and whose blocks are wider than
    :data:`_PRUNE_MIN` is first bounded above by a few power steps on its Gram matrices,
    and its eigenvalues are skipped where that shows its bound cannot be the largest
    (the result is the same as without ``prune``).
    """
    unit = aa.eps(xp, A.dtype)
    best = -math.inf
    splits = [(_merged(chain[:k]), _merged(chain[k:])) for k in range(1, len(chain))]
    if first is not None:
        best = _two_bounds(first, splits[0][0][1], splits[0][1][2], total, unit)[0]
        splits = splits[1:]
    splits.sort(key=lambda s: -min(s[0][1], s[1][2]))
    for left, right in splits:
        b1, c2 = left[1], right[2]
        size = _groups(left, right)[2]
        gram = _grams(xp, _blocks(xp, A[None, ...], left, right)[0, ...])  # from a view of A
        guard = _two_bounds(0.0, b1, c2, total, unit)[1]
        if (
            prune
            and best > 0
            and min(b1, c2) >= _PRUNE_MIN
            and bool(np.all(size <= 1))
            and _below(xp, gram, size, best, guard, _PRUNE_STEPS)
        ):
            continue
        err2 = _discarded_eigenvalues(xp, gram, size)
        best = max(best, _two_bounds(err2, b1, c2, total, unit)[0])
    return best


def _eps(xp: Any, A: Any) -> float:
    return float(xp.finfo(aa.real_dtype(xp, A.dtype)).eps) * math.sqrt(max(A.shape))

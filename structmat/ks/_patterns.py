r"""Kronecker-sparse patterns: checks, shapes, and the chain builders.

A pattern ``(a, b, c, d)`` is the support :math:`I_a \otimes 1_{b \times c}
\otimes I_d` of shape ``(a*b*d, a*c*d)``. A *chain* is a list of patterns,
**leftmost first** (the order in which the factors are written as a matrix
product, as in ``Product.factors``): ``[P_1, P_2, ..., P_m]`` is the product
``F_1 F_2 ⋯ F_m``, so ``P_m`` is applied first, and consecutive patterns chain
when the columns of ``P_i`` equal the rows of ``P_{i+1}``
(``a_i c_i d_i == a_{i+1} b_{i+1} d_{i+1}``).

The builders return such lists of plain tuples, ready for
:meth:`structmat.ks.KSChain.random`:

- :func:`square_dyadic` ``(n = 2^L)``: the radix-2 butterfly;
- :func:`mixed_radix` ``(n = ∏ b_l)``: the butterfly of any composite size;
- :func:`monarch` ``(shape, p, q)``: the two factors of a Monarch matrix;
- :func:`chainable` ``(shape)``: a rectangular butterfly from the prime
  factors of both sizes.
"""

from __future__ import annotations

import heapq
from typing import Any

from structmat import _array_api as aa
from structmat._args import integer, shape_pair

__all__ = ["chain_shape", "chainable", "ks_shape", "mixed_radix", "monarch", "square_dyadic"]

Pattern = tuple[int, int, int, int]


def _check_pattern(pattern: Any, what: str) -> Pattern:
    try:
        p = tuple(int(v) for v in pattern)
        ok = len(p) == 4 and all(v >= 1 and v == w for v, w in zip(p, pattern, strict=True))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        msg = f"{what} must be four positive ints (a, b, c, d), got {pattern!r}"
        raise ValueError(msg)
    return p  # type: ignore[return-value]


def ks_shape(pattern: Any) -> tuple[int, int]:
    """Shape ``(a*b*d, a*c*d)`` of a KS factor with ``pattern = (a, b, c, d)``.

    Examples
    --------
    >>> ks_shape((2, 3, 4, 5))
    (30, 40)
    """
    a, b, c, d = _check_pattern(pattern, "pattern")
    return (a * b * d, a * c * d)


def _check_values(T: Any, what: str = "T") -> tuple[Any, Pattern]:
    xp = aa.namespace_of(T)
    if T.ndim != 4:
        msg = f"{what} must have shape (a, b, c, d), got shape {tuple(T.shape)}"
        raise ValueError(msg)
    aa.check_floating_dtype(xp, T.dtype, what)
    pattern = _check_pattern(tuple(T.shape), f"{what}.shape")
    return xp, pattern


def _check_chain(patterns: Any, what: str) -> list[Pattern]:
    """The patterns of a chain (leftmost first), checked to chain; ``ValueError`` otherwise."""
    if isinstance(patterns, str | bytes) or not hasattr(patterns, "__iter__"):
        msg = f"{what}: patterns must be a list of (a, b, c, d), got {type(patterns).__name__}"
        raise TypeError(msg)
    out = [_check_pattern(p, f"{what}: pattern {i}") for i, p in enumerate(patterns)]
    if not out:
        msg = f"{what}: a chain needs at least one pattern, got none"
        raise ValueError(msg)
    for i in range(len(out) - 1):
        (_, cols), (rows, _) = ks_shape(out[i]), ks_shape(out[i + 1])
        if cols != rows:
            msg = (
                f"{what}: patterns {i} and {i + 1} do not chain: {out[i]} has {cols} "
                f"columns but {out[i + 1]} has {rows} rows (leftmost first: pattern i's "
                "columns must equal pattern i+1's rows)"
            )
            raise ValueError(msg)
    return out


def chain_shape(patterns: Any) -> tuple[int, int]:
    """Shape of the product of a chain (leftmost first): rows of the first, columns of the last.

    Examples
    --------
    >>> chain_shape([(1, 2, 2, 4), (2, 2, 2, 2), (4, 2, 2, 1)])
    (8, 8)
    """
    out = _check_chain(patterns, "chain_shape")
    return ks_shape(out[0])[0], ks_shape(out[-1])[1]


def _prime_factors(n: int) -> list[int]:
    """The prime factors of ``n >= 1``, with multiplicity, increasing (``[]`` for 1)."""
    out, f = [], 2
    while f * f <= n:
        while n % f == 0:
            out.append(f)
            n //= f
        f += 1
    if n > 1:
        out.append(n)
    return out


def _rectangular(out_radices: list[int], in_radices: list[int]) -> list[Pattern]:
    """Level ``l = KS(∏_{i>l} c_i, b_l, c_l, ∏_{i<l} b_i)``, returned leftmost first.

    Level ``l`` maps digit ``l`` of the index (least significant first) from
    size ``c_l`` to size ``b_l``: the digits below it are already output
    digits (the stride ``d``), those above still input digits (``a``).
    """
    levels = []
    for ell, (b, c) in enumerate(zip(out_radices, in_radices, strict=True)):
        a = 1
        for v in in_radices[ell + 1 :]:
            a *= v
        d = 1
        for v in out_radices[:ell]:
            d *= v
        levels.append((a, b, c, d))
    return levels[::-1]


def square_dyadic(n: int) -> list[Pattern]:
    r"""The radix-2 butterfly chain of size ``n = 2^L``, leftmost first.

    Level ``l`` (stride ``s = 2^l``, applied ``l``-th) is ``KS(n/(2s), 2, 2, s)``
    (docs/conventions.md); the list is ``[level L-1, ..., level 1, level 0]``, the
    order of the matrix product ``B_{L-1} ⋯ B_1 B_0`` of an increasing-stride
    butterfly (reverse it for the order of application).

    Examples
    --------
    >>> square_dyadic(8)
    [(1, 2, 2, 4), (2, 2, 2, 2), (4, 2, 2, 1)]
    """
    n = integer(n, "n", "square_dyadic", low=2)
    if n & (n - 1):
        msg = f"square_dyadic: n must be a power of 2 (>= 2), got {n}; mixed_radix(n) takes any composite n"
        raise ValueError(msg)
    return mixed_radix(n, [2] * (n.bit_length() - 1))


def mixed_radix(n: int, radices: Any = None) -> list[Pattern]:
    r"""The mixed-radix butterfly chain of size ``n = ∏_l b_l``, leftmost first.

    Parameters
    ----------
    n : int
        The size, ``>= 2``.
    radices : sequence of int, optional
        ``(b_0, b_1, ...)`` in the order the levels are applied, each ``>= 2``,
        with product ``n``. Default: the prime factors of ``n`` in increasing
        order (radix 2 for a power of two).

    Returns
    -------
    list of (a, b, c, d)
        ``[level L-1, ..., level 0]``: level ``l`` with stride
        ``s_l = ∏_{i<l} b_i`` is ``KS(n/(b_l s_l), b_l, b_l, s_l)``.
        A prime ``n`` gives one dense factor ``(1, n, n, 1)``.

    Examples
    --------
    >>> mixed_radix(12)
    [(1, 3, 3, 4), (3, 2, 2, 2), (6, 2, 2, 1)]
    >>> mixed_radix(12, (3, 4))
    [(1, 4, 4, 3), (4, 3, 3, 1)]
    """
    n = integer(n, "n", "mixed_radix", low=2)
    if radices is None:
        b = _prime_factors(n)
    else:
        if isinstance(radices, str | bytes) or not hasattr(radices, "__iter__"):
            msg = f"mixed_radix: radices must be a sequence of ints, got {type(radices).__name__}"
            raise TypeError(msg)
        b = [integer(r, "each radix", "mixed_radix", low=2) for r in radices]
        prod = 1
        for r in b:
            prod *= r
        if prod != n:
            msg = f"mixed_radix: the radices {tuple(b)} multiply to {prod}, not n = {n}"
            raise ValueError(msg)
    return _rectangular(b, b)


def monarch(shape: Any, p: int, q: int, rank: int = 1) -> list[Pattern]:
    r"""The two patterns of a Monarch matrix of ``shape = (m, n)``, leftmost first.

    Parameters
    ----------
    shape : (int, int)
        ``(m, n)``.
    p : int
        ``K``, the number of blocks of ``R`` (applied first, input side):
        ``n = K * p_blk``, each block ``(r*J) x p_blk``. Must divide ``n``.
    q : int
        ``J``, the number of blocks of ``L`` (applied second, output side):
        ``m = s * J``, each block ``s x (K*r)``. Must divide ``m``.
    rank : int
        ``r``: the rank of each of the ``J*K`` slices ``M[sigma*J + j, a*p + t]``
        (fixed ``j``, ``a``).

    Returns
    -------
    [(1, m/q, p*rank, q), (p, rank*q, n/p, 1)]
        ``KS(1, s, c, J) · KS(K, r*J, p_blk, 1)``, with
        ``T_L[0, sigma, gamma, j] = L[j, sigma, gamma]`` and ``T_R[a, :, :, 0] = R[a]``:
        ``Monarch.random((m, n), nblocks=(p, q), rank=rank)`` has exactly
        this support. The letters follow ``monarch(shape, p, q)`` of
        lazylinop's ``Chain``; in :class:`structmat.Monarch`'s letters ``p`` here is ``K``
        and ``q`` is ``J``. No padding: ``p`` and ``q`` must divide the sizes.

    Examples
    --------
    >>> monarch((16, 16), 4, 4)
    [(1, 4, 4, 4), (4, 4, 4, 1)]
    >>> monarch((6, 10), 5, 2, rank=2)
    [(1, 3, 10, 2), (5, 4, 2, 1)]
    """
    m, n = shape_pair(shape, "shape", "monarch")
    K = integer(p, "p", "monarch")
    J = integer(q, "q", "monarch")
    r = integer(rank, "rank", "monarch")
    if n % K or m % J:
        msg = (
            f"monarch: p = {K} must divide n = {n} and q = {J} must divide m = {m} "
            f"(shape {(m, n)}); a chain has no padding"
        )
        raise ValueError(msg)
    return [(1, m // J, K * r, J), (K, r * J, n // K, 1)]


def _merge_to(radices: list[int], count: int) -> list[int]:
    """``radices`` merged (product of the two smallest, repeatedly) into ``count`` entries, sorted."""
    heap = list(radices)
    heapq.heapify(heap)
    while len(heap) > count:
        x, y = heapq.heappop(heap), heapq.heappop(heap)
        heapq.heappush(heap, x * y)
    return sorted(heap)


def chainable(shape: Any) -> list[Pattern]:
    r"""A rectangular butterfly chain for ``shape = (m, n)``, from the prime factors, leftmost first.

    With ``m = ∏ b_l`` and ``n = ∏ c_l`` (both with ``L`` factors), level
    ``l`` is ``KS(∏_{i>l} c_i, b_l, c_l, ∏_{i<l} b_i)``: it maps index digit
    ``l`` from size ``c_l`` to ``b_l``. ``L`` is the smaller of the numbers of
    prime factors of ``m`` and ``n`` (with multiplicity); the side with more
    has its smallest factors multiplied together until both have ``L``, so
    every level is a genuine ``b x c`` block map with ``b, c >= 2``. Both
    lists are taken in increasing order. A square ``n x n`` gives
    :func:`mixed_radix` ``(n)``.

    Raises
    ------
    ValueError
        When a size is 1 (a prime-factor chain needs both sizes ``>= 2``;
        ``[(1, m, n, 1)]`` is the one dense factor).

    Examples
    --------
    >>> chainable((6, 4))
    [(1, 3, 2, 2), (2, 2, 2, 1)]
    >>> chainable((8, 8)) == square_dyadic(8)
    True
    """
    m, n = shape_pair(shape, "shape", "chainable")
    b, c = _prime_factors(m), _prime_factors(n)
    if not b or not c:
        msg = (
            f"chainable: shape {(m, n)} has no prime-factor chain (both sizes must be >= 2); "
            f"use the single dense pattern [(1, {m}, {n}, 1)]"
        )
        raise ValueError(msg)
    count = min(len(b), len(c))
    return _rectangular(_merge_to(b, count), _merge_to(c, count))

r"""Butterfly matrices: operator, twiddles, Monarch form and certified projection.

Radix 2, ``n = 2^L``. Twiddles ``tw`` of shape ``(L, n/2, 2, 2)``; level ``l``
has stride ``s = 2^l`` and maps each pair ``(x[2gs+o], x[2gs+s+o])``
(``g < n/(2s)``, ``o < s``) by the 2x2 matrix ``tw[l, g*s + o]``. In the
Kronecker-sparse language (:mod:`structmat.ks`) level ``l`` is the factor
``KS(n/(2s), 2, 2, s)`` with ``T[g, j, k, o] = tw[l, g*s + o][j, k]``.

The class ``B`` (increasing stride, the paper's ``B_n ⋯ B_4 B_2``) applies
``l = 0, 1, …, L-1``; ``B*`` (decreasing stride) applies ``l = L-1, …, 0``.
Products ``B @ C.H`` of two butterflies give the kaleidoscope class ``BB*``
(a :class:`~structmat.linop.Product`).

References
----------
.. [1] T. Dao, A. Gu, M. Eichhorn, A. Rudra, C. Ré, "Learning fast algorithms
   for linear transforms using butterfly factorizations", ICML 2019.
.. [2] T. Dao et al., "Kaleidoscope: an efficient, learnable representation
   for all structured linear maps", ICLR 2020.
.. [3] Q.-T. Le, L. Zheng, E. Riccietti, R. Gribonval, "Butterfly
   factorization with error guarantees", arXiv:2411.04506 (2024).
.. [4] L. Zheng, E. Riccietti, R. Gribonval, "Efficient identification of
   butterfly sparse matrix factorizations", SIAM J. Math. Data Sci. 5 (2023).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat import _butterfly_project
from structmat._args import ceil_div, integer
from structmat._operand import _Converter
from structmat._result import ProjectionResult
from structmat.ks._multiply import _conj, ks_matmat
from structmat.ks._patterns import _prime_factors
from structmat.linop import LinearOperator

__all__ = ["Butterfly", "bit_reversal", "digit_reversal"]

# The multiply fuses runs of this many levels into one KS factor (radix 2^q,
# blocks of 2^q x 2^q): fewer passes over the data than level by level, each
# a BLAS matmul (benchmarks/bench_butterfly.py compares q = 2 ... 6).
_FUSE_LEVELS = 3
# Mixed radix: consecutive levels are fused while their radices multiply to at most this.
_FUSE_MAX_BLOCK = 16


def _log2(n: Any, what: str) -> int:
    """``L`` with ``n == 2**L``; ``TypeError`` for a non-integer, ``ValueError`` naming ``n`` otherwise."""
    n = integer(n, "n", what)
    if n < 2 or n & (n - 1):
        msg = f"{what} needs n a power of 2 (n >= 2), got n = {n!r}"
        raise ValueError(msg)
    return n.bit_length() - 1


def bit_reversal(n: int) -> np.ndarray:
    """The bit-reversal permutation of ``0, …, n-1`` (``n`` a power of 2), as NumPy ints.

    Examples
    --------
    >>> bit_reversal(8).tolist()
    [0, 4, 2, 6, 1, 5, 3, 7]
    """
    L = _log2(n, "bit_reversal") if n != 1 else 0
    idx = np.zeros(n, dtype=np.int64)
    i = np.arange(n)
    for bit in range(L):
        idx |= ((i >> bit) & 1) << (L - 1 - bit)
    return idx


def _radices(n: Any, radices: Any, what: str) -> tuple[int, ...]:
    """The radices ``(b_0, b_1, …)`` of a size-``n`` butterfly, checked.

    Default: radix 2 for a power of two, else the prime factors of ``n`` in
    increasing order (a prime ``n`` gives one dense level).
    """
    n = integer(n, "n", what, low=2)
    if radices is None:
        return tuple(_prime_factors(n))
    if isinstance(radices, str | bytes) or not hasattr(radices, "__iter__"):
        msg = f"{what}: radices must be a sequence of ints, got {type(radices).__name__}"
        raise TypeError(msg)
    b = tuple(integer(r, "each radix", what, low=2) for r in radices)
    if not b or math.prod(b) != n:
        msg = f"{what}: the radices {b} must multiply to n = {n}, got {math.prod(b)}"
        raise ValueError(msg)
    return b


def digit_reversal(n: int, radices: Any = None) -> np.ndarray:
    r"""The digit-reversal permutation of ``0, …, n-1`` for the radices ``(b_0, b_1, …)``.

    Write ``p = Σ_l k_l s_l`` (``k_l < b_l``, ``s_l = ∏_{i<l} b_i``); then
    ``idx[p] = Σ_l k_l ∏_{i>l} b_i`` (the digits read in the reversed radix
    system). For radix 2 this is :func:`bit_reversal`. ``radices`` defaults
    as in :class:`Butterfly`.

    Examples
    --------
    >>> digit_reversal(6, (2, 3)).tolist()
    [0, 3, 1, 4, 2, 5]
    >>> bool((digit_reversal(16) == bit_reversal(16)).all())
    True
    """
    rad = _radices(n, radices, "digit_reversal")
    p = np.arange(n, dtype=np.int64)
    idx = np.zeros(n, dtype=np.int64)
    above = n
    for b in rad:
        above //= b
        idx += (p % b) * above
        p //= b
    return idx


def _check_levels(tw: Any) -> tuple[Any, ...]:
    """Per-level twiddles ``tw[l]`` of shape ``(n/b_l, b_l, b_l)``, checked."""
    if isinstance(tw, str | bytes) or not hasattr(tw, "__iter__"):
        msg = (
            f"Butterfly twiddles must be an array or a sequence of arrays, got {type(tw).__name__}"
        )
        raise TypeError(msg)
    levels = tuple(tw)
    if not levels:
        msg = "Butterfly twiddles: the sequence of levels is empty"
        raise ValueError(msg)
    first = levels[0]
    if not hasattr(first, "ndim") or first.ndim != 3:
        msg = (
            f"Butterfly level 0 must have shape (n/b, b, b), got {getattr(first, 'shape', first)!r}"
        )
        raise ValueError(msg)
    n = int(first.shape[0]) * int(first.shape[-1])
    xp = aa.namespace_of(first)
    for ell, t in enumerate(levels):
        shape = tuple(int(v) for v in getattr(t, "shape", ()))
        b = shape[-1] if len(shape) == 3 else 0
        if len(shape) != 3 or b < 2 or n % b or shape != (n // b, b, b):
            msg = (
                f"Butterfly level {ell} of a size-{n} butterfly must have shape (n/b, b, b) "
                f"with b >= 2 dividing n, got shape {shape}"
            )
            raise ValueError(msg)
        if aa.namespace_of(t) is not xp or t.dtype != first.dtype:
            msg = (
                f"Butterfly levels must share one namespace and dtype; level {ell} has "
                f"{aa.dtype_name(t.dtype)}, level 0 {aa.dtype_name(first.dtype)}"
            )
            raise TypeError(msg)
    prod = math.prod(int(t.shape[-1]) for t in levels)
    if prod != n:
        msg = f"Butterfly level radices {tuple(int(t.shape[-1]) for t in levels)} multiply to {prod}, not n = {n}"
        raise ValueError(msg)
    return levels


class Butterfly(LinearOperator):
    r"""Butterfly matrix of size ``n = ∏_l b_l`` (radix 2: ``n = 2^L``).

    Parameters
    ----------
    tw : array of shape (L, n/2, 2, 2), or a sequence of arrays of shape (n/b_l, b_l, b_l)
        Twiddles. Radix 2: level ``l`` maps the pair ``(x[2gs+o], x[2gs+s+o])``
        by ``tw[l, g*s + o]``, ``s = 2^l``, ``g < n/(2s)``, ``o < s``. Mixed
        radix: level ``l`` has radix ``b_l`` and stride ``s_l = ∏_{i<l} b_i``
        and maps the ``b_l`` entries ``x[g b_l s_l + k s_l + o]`` (``k < b_l``)
        by the ``b_l x b_l`` matrix ``tw[l][g*s_l + o]``. A sequence whose
        levels all have radix 2 is stacked into the radix-2 array.
    increasing_stride : bool
        ``True`` (class ``B``) applies levels ``0, 1, …, L-1``; ``False``
        (class ``B*``) applies ``L-1, …, 0``.

    Attributes
    ----------
    radices : tuple of int
        ``(b_0, …, b_{L-1})``, in the order the increasing butterfly applies them.

    Notes
    -----
    With ``B_l`` the matrix of level ``l`` (the KS factor
    ``KS(n/(b_l s_l), b_l, b_l, s_l)``; radix 2: ``KS(n/(2s), 2, 2, s)``), so
    ``B_l[g b s + j s + o, g b s + k s + o] = tw[l][g s + o][j, k]``, the
    increasing-stride butterfly is
    ``B_{L-1} ⋯ B_1 B_0`` and the decreasing one ``B_0 B_1 ⋯ B_{L-1}``.
    The multiply fuses runs of ``q = 3`` consecutive levels into one
    Kronecker-sparse factor ``KS(n/(8d), 8, 8, d)`` (docs/conventions.md; the
    product of levels with strides ``d, 2d, 4d`` acts within one radix-8
    digit of the row index), built once on first use and cached
    (:meth:`fused_factors`). Each factor is one batched matmul over
    ``8 x 8`` blocks reading and writing strided views of the data (no
    transposes): ``⌈L/3⌉`` passes over the data with BLAS throughput,
    instead of ``L`` passes of elementwise 2x2 updates (the level-by-level
    form, ``2 n L`` multiply-adds per column, is kept as the reference). The adjoint is the
    butterfly of opposite stride order with conjugate-transposed twiddles;
    the transpose likewise without conjugation. Mixed radix fuses runs of
    consecutive levels whose radices multiply to at most 16.

    The DFT is ``F = B P_br`` with ``B`` increasing and
    ``tw[l, g*s+o] = [[1, ω_{2s}^o], [1, -ω_{2s}^o]]``, ``ω_k = e^{-2πi/k}``,
    and ``(P_br x)[i] = x[bitrev(i)]``.

    References
    ----------
    .. [1] T. Dao, A. Gu, M. Eichhorn, A. Rudra, C. Ré, "Learning fast
       algorithms for linear transforms using butterfly factorizations",
       ICML 2019.

    Examples
    --------
    The DFT of size 8 as a butterfly times the bit-reversal permutation:

    >>> import numpy as np, structmat as sm
    >>> from structmat.butterfly import Butterfly, bit_reversal
    >>> n, L = 8, 3
    >>> tw = np.empty((L, n // 2, 2, 2), dtype=complex)
    >>> for l in range(L):
    ...     s = 2**l
    ...     w = np.exp(-2j * np.pi * (np.arange(n // 2) % s) / (2 * s))
    ...     tw[l] = np.stack([np.stack([np.ones(n // 2), w], -1),
    ...                       np.stack([np.ones(n // 2), -w], -1)], -2)
    >>> F = Butterfly(tw) @ sm.Permutation(bit_reversal(n))
    >>> bool(np.allclose(F.to_dense(), np.fft.fft(np.eye(n), axis=0)))
    True
    >>> Butterfly(tw)
    Butterfly(8x8, increasing, complex128)
    """

    def __init__(self, tw: Any, /, increasing_stride: bool = True) -> None:
        if not isinstance(increasing_stride, bool | np.bool_):
            msg = f"increasing_stride must be a bool, got {type(increasing_stride).__name__}"
            raise TypeError(msg)
        if not hasattr(tw, "ndim"):
            tw = _check_levels(tw)
            if all(int(t.shape[-1]) == 2 for t in tw):
                tw = aa.namespace_of(tw[0]).stack(tw, axis=0)
        if isinstance(tw, tuple):
            xp = aa.namespace_of(tw[0])
            self.radices = tuple(int(t.shape[-1]) for t in tw)
            n = int(tw[0].shape[0]) * self.radices[0]
            dtype = tw[0].dtype
        else:
            xp = aa.namespace_of(tw)
            if tw.ndim != 4 or tuple(tw.shape[2:]) != (2, 2) or tw.shape[0] < 1:
                msg = f"Butterfly twiddles must have shape (L, n/2, 2, 2) with L >= 1, got shape {tuple(tw.shape)}"
                raise ValueError(msg)
            L = int(tw.shape[0])
            n = 2**L
            if int(tw.shape[1]) != n // 2:
                msg = (
                    f"Butterfly twiddles of {L} levels must have shape ({L}, {n // 2}, 2, 2) "
                    f"(n = 2^{L} = {n}), got shape {tuple(tw.shape)}"
                )
                raise ValueError(msg)
            self.radices = (2,) * L
            dtype = tw.dtype
        aa.check_floating_dtype(xp, dtype, "Butterfly twiddles")
        super().__init__(
            shape=(n, n),
            dtype=dtype,
            xp=xp,
            device=aa.device_of(tw[0] if isinstance(tw, tuple) else tw),
        )
        # The fused factors are derived from tw: an owned copy (read-only on NumPy),
        # or a torch tensor tracked by its version counter, so they cannot go stale.
        if isinstance(tw, tuple):
            tw = tuple(aa.owned(xp, t) for t in tw)
        else:
            tw = aa.owned(xp, tw)
        self.tw = tw
        self.n = n
        self.levels = len(self.radices)
        self.strides = tuple(math.prod(self.radices[:ell]) for ell in range(self.levels))
        self.increasing_stride = bool(increasing_stride)
        # derived multiply data (fused KS factors per dtype), filled lazily
        self._fused_cache: dict[tuple[Any, ...], list[Any]] = {}
        # Radix 2: per level the four entries, shaped (n/(2s), s, 1) to broadcast over columns.
        self._entries = []
        if not self.mixed:
            for ell in range(self.levels):
                s = 2**ell
                t = xp.reshape(tw[ell, ...], (n // (2 * s), s, 2, 2))
                self._entries.append(
                    tuple(t[:, :, j, k][:, :, None] for j in (0, 1) for k in (0, 1))
                )

    @property
    def mixed(self) -> bool:
        """Whether the twiddles are per-level arrays (some radix is not 2)."""
        return isinstance(self.tw, tuple)

    def _source_key(self) -> Any:
        if not self.mixed:
            return aa.source_key(self.tw)
        keys = tuple(aa.source_key(t) for t in self.tw)
        return None if any(k is None for k in keys) else keys

    # ------------------------------------------------------------------ multiply
    def _level(self, ell: int, X: Any) -> Any:
        """Apply level ``ell`` to a stack ``X`` of shape (b, n, k)."""
        xp = self.xp
        if self.mixed:
            return ks_matmat(self.level_values(ell), X)
        b, n, k = (int(v) for v in X.shape)
        s = 2**ell
        g = n // (2 * s)
        t00, t01, t10, t11 = self._entries[ell]
        x = xp.reshape(X, (b, g, 2, s, k))
        x0, x1 = x[:, :, 0, :, :], x[:, :, 1, :, :]
        y0 = t00 * x0 + t01 * x1
        y1 = t10 * x0 + t11 * x1
        return xp.reshape(xp.stack((y0, y1), axis=2), (b, n, k))

    def _run_levels(self, X: Any) -> Any:
        """Level by level: ``L`` passes of 2x2 multiply-adds (``B_{L-1} ⋯ B_0``)."""
        order = range(self.levels) if self.increasing_stride else range(self.levels - 1, -1, -1)
        for ell in order:
            X = self._level(ell, X)
        return X

    def fused_plan(self, levels_per_factor: int | None = None) -> list[tuple[int, int]]:
        """Level ranges ``[(start, stop), …]`` fused into one KS factor each, in application order.

        Radix 2: ``L`` levels are cut into ``⌈L/q⌉`` runs of nearly equal
        length (``q = levels_per_factor``, default ``3``: radix-8 factors), so
        each factor is ``KS(n/(c d), c, c, d)`` with ``c = 2^(stop-start)`` and
        ``d = 2^start``. Mixed radix: runs of at most ``q`` consecutive levels
        whose radices multiply to at most 16 (a larger radix stands alone);
        ``c`` is the product of the run's radices and ``d`` its first stride.
        """
        q = _FUSE_LEVELS
        if levels_per_factor is not None:
            q = integer(levels_per_factor, "levels_per_factor", "Butterfly.fused_plan")
        L = self.levels
        if self.mixed:
            plan, start, block = [], 0, 1
            for ell, b in enumerate(self.radices):
                if ell > start and (block * b > _FUSE_MAX_BLOCK or ell - start >= q):
                    plan.append((start, ell))
                    start, block = ell, 1
                block *= b
            plan.append((start, L))
            return plan if self.increasing_stride else plan[::-1]
        m = ceil_div(L, q)
        cuts = [(L * i) // m for i in range(m + 1)]
        plan = [(cuts[i], cuts[i + 1]) for i in range(m)]
        return plan if self.increasing_stride else plan[::-1]

    def fused_factors(self, levels_per_factor: int | None = None, dtype: Any = None) -> list[Any]:
        """The butterfly as a chain of KS factors in matmul layout (cached; derived data).

        Returns the arrays ``M`` of shape ``(a, d, c, c)`` (see
        :func:`structmat.ks.ks_blocked`) of the runs of :meth:`fused_plan`,
        in application order, so that
        ``structmat.ks.ks_chain_matmat(B.fused_factors(), X)`` equals
        ``B @ X`` for a stack ``X``. Each run of levels ``start … stop-1``
        is their product, ``KS(n/(c d), c, c, d)`` with ``c = 2^(stop-start)``
        and ``d = 2^start`` (every level of the run acts within that digit of
        the row index). The operator itself never changes; this is a cache.

        Examples
        --------
        >>> import numpy as np
        >>> from structmat.ks import ks_chain_matmat
        >>> B = Butterfly.random(64, seed=0)
        >>> X = np.random.default_rng(1).standard_normal((1, 64, 5))
        >>> bool(np.allclose(ks_chain_matmat(B.fused_factors(), X), B.to_dense() @ X))
        True
        """
        dt = self.dtype if dtype is None else dtype
        q = _FUSE_LEVELS if levels_per_factor is None else int(levels_per_factor)
        source = self._source_key()
        key = (aa.dtype_name(dt), q, source)
        cached = self._fused_cache.get(key)
        if cached is not None:
            return cached
        from structmat.ks import ks_blocked

        out = []
        for start, stop in self.fused_plan(q):
            T = self._fused(start, stop, increasing=self.increasing_stride)
            if T.dtype != dt:
                T = self.xp.astype(T, dt)
            out.append(ks_blocked(T))
        if source is not None:
            # entries of an older version of tw are dead
            self._fused_cache = {k: v for k, v in self._fused_cache.items() if k[2] == source}
            self._fused_cache[key] = out
        return out

    def _run(self, X: Any) -> Any:
        """``B @ X`` for a stack ``X`` (b, n, k) already in the promoted dtype.

        Runs of levels fused into KS factors (:meth:`fused_factors`), each one
        batched matmul; a real butterfly on complex NumPy data multiplies the
        real and imaginary parts as ``2k`` real columns (real matmuls).
        Fewer passes over the data than level by level, each at BLAS
        throughput: no size threshold, the fused form is always used
        (docs/benchmarks.md, "Design measurements").
        """
        from structmat.ks._multiply import chain_on_stack

        real = not aa.is_complex(self.xp, self.dtype)
        return chain_on_stack(lambda dt: self.fused_factors(dtype=dt), X, real)

    def _matmat(self, X: Any) -> Any:
        xp = self.xp
        lead, (n, k) = tuple(X.shape[:-2]), X.shape[-2:]
        b = 1
        for d in lead:
            b *= d
        return xp.reshape(self._run(xp.reshape(X, (b, n, k))), X.shape)

    # ------------------------------------------------------------------ structure
    def _twiddles_map(self, conjugate: bool, transpose: bool) -> Any:
        xp = self.xp

        def one(a: Any) -> Any:
            if transpose:
                a = xp.matrix_transpose(a)
            return _conj(xp, a) if conjugate else a

        return tuple(one(a) for a in self.tw) if self.mixed else one(self.tw)

    def _adjoint(self) -> LinearOperator:
        tw = self._twiddles_map(conjugate=True, transpose=True)
        return Butterfly(tw, increasing_stride=not self.increasing_stride)

    def _transpose(self) -> LinearOperator:
        tw = self._twiddles_map(conjugate=False, transpose=True)
        return Butterfly(tw, increasing_stride=not self.increasing_stride)

    def _map(self, convert: _Converter) -> LinearOperator:
        tw = tuple(convert(a) for a in self.tw) if self.mixed else convert(self.tw)
        return Butterfly(tw, increasing_stride=self.increasing_stride)

    def _parameter_count(self) -> int:
        return self.n * sum(self.radices)

    def _flops(self, k: int) -> int:
        return self.n * sum(self.radices) * k

    def _repr_args(self) -> str:
        order = "increasing" if self.increasing_stride else "decreasing"
        radices = f", radices {self.radices}" if self.mixed else ""
        return f"{self.n}x{self.n}, {order}{radices}, {aa.dtype_name(self.dtype)}"

    def to_dense(self) -> Any:
        xp = self.xp
        return self._matmat(xp.eye(self.n, dtype=self.dtype, device=self.device))

    # ------------------------------------------------------------------ KS and Monarch forms
    def level_values(self, ell: int) -> Any:
        """KS values ``T`` (shape ``(n/(b s), b, b, s)``) of level ``ell``.

        ``T[g, j, k, o] = tw[ell][g*s + o][j, k]`` (``b``, ``s`` the level's
        radix and stride), so that ``structmat.ks.ks_matmat(T, x)`` applies
        level ``ell``.
        """
        if not 0 <= int(ell) < self.levels:
            msg = f"level must be in [0, {self.levels}), got {ell!r}"
            raise ValueError(msg)
        xp = self.xp
        ell = int(ell)
        s, b = self.strides[ell], self.radices[ell]
        t = xp.reshape(self.tw[ell], (self.n // (b * s), s, b, b))
        return xp.permute_dims(t, (0, 2, 3, 1))

    def _fused(self, start: int, stop: int, increasing: bool = True) -> Any:
        """KS values of the product of levels ``start..stop-1`` (applied in increasing order).

        ``increasing=False`` applies them in decreasing order (the runs of a
        decreasing-stride butterfly); the support is the same.

        The product of consecutive levels ``start … stop-1`` is
        ``KS(n/(c d), c, c, d)`` with ``c = ∏ b_l`` over the run and ``d`` the
        stride of level ``start``; its values come from applying the levels to
        ``c`` probe columns (column ``k`` is 1 where ``(row // d) % c == k``):
        each output row meets one probe.
        """
        xp = self.xp
        n = self.n
        c = math.prod(self.radices[start:stop])
        d = self.strides[start] if start < self.levels else n
        a = n // (c * d)
        rows = np.arange(n)
        probe = ((rows // d) % c)[:, None] == np.arange(c)[None, :]
        Y = xp.asarray(probe.astype(np.float64), device=self.device)
        Y = xp.reshape(xp.astype(Y, self.dtype), (1, n, c))
        for ell in range(start, stop) if increasing else range(stop - 1, start - 1, -1):
            Y = self._level(ell, Y)
        # Y[i*c*d + j*d + l, k] = T[i, j, k, l]
        return xp.permute_dims(xp.reshape(Y, (a, c, d, c)), (0, 1, 3, 2))

    def monarch_factors(self) -> tuple[Any, Any]:
        r"""Monarch factors ``(L, R)`` (rank 1) of an increasing-stride butterfly.

        Returns
        -------
        L : array of shape (p, n/p, n/p)
        R : array of shape (n/p, p, p)
            With ``p = s_m = b_0 ⋯ b_{m-1}`` for the smallest ``m`` with
            ``p² >= n`` (radix 2: ``p = 2^⌈L/2⌉``), in the Monarch layout:
            ``M[sig*J + j, a*p + t] = L[j, sig, a] R[a, j, t]`` with ``J = p``,
            ``K = s = n/p``.

        Notes
        -----
        Every butterfly (any radices) splits this way. Levels ``0 … m-1``
        multiply to the block-diagonal
        ``KS(n/p, p, p, 1)`` (the ``R`` blocks); the remaining levels multiply
        to ``KS(1, n/p, n/p, p)``, which is ``L`` after the Monarch
        permutation (``T_L[0, sig, c, j] = L[j, sig, c]``). Exact, no SVD.

        Examples
        --------
        >>> import numpy as np
        >>> B = Butterfly.random(16, seed=0)
        >>> L, R = B.monarch_factors()
        >>> M = np.einsum("jsa,ajt->sjat", L, R).reshape(16, 16)
        >>> bool(np.allclose(M, B.to_dense()))
        True
        """
        if not self.increasing_stride:
            msg = (
                "monarch_factors needs an increasing-stride butterfly (class B); "
                "a decreasing-stride one is the adjoint of a Monarch: use B.H.monarch_factors()"
            )
            raise ValueError(msg)
        xp = self.xp
        L1 = next(
            m for m in range(1, self.levels + 1) if math.prod(self.radices[:m]) ** 2 >= self.n
        )
        TR = self._fused(0, L1)  # (n/p, p, p, 1)
        TL = self._fused(L1, self.levels)  # (1, n/p, n/p, p)
        R = TR[:, :, :, 0]
        Lf = xp.permute_dims(TL[0, ...], (2, 0, 1))
        return Lf, R

    def to_monarch(self) -> LinearOperator:
        """The same matrix as a ``structmat.monarch.Monarch`` (exact).

        An increasing-stride butterfly is a Monarch matrix (see
        :meth:`monarch_factors`); a decreasing-stride one is the adjoint of
        one, returned as ``Monarch(...).H``.
        """
        from structmat.monarch import Monarch

        if not self.increasing_stride:
            return self.H.to_monarch().H
        L, R = self.monarch_factors()
        return Monarch(L, R)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def random(
        cls,
        n: int,
        *,
        radices: Any = None,
        increasing_stride: bool = True,
        kind: str = "orthogonal",
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
        seed: Any = None,
    ) -> Butterfly:
        """A random butterfly of size ``n``.

        Parameters
        ----------
        radices : sequence of int, optional
            ``(b_0, b_1, …)`` with product ``n``. Default: radix 2 for a power
            of two, else the prime factors of ``n`` in increasing order.
        kind : {"orthogonal", "gaussian"}
            ``"orthogonal"``: each twiddle a random rotation/reflection
            (unitary for complex dtypes), so the butterfly is orthogonal
            (unitary) and preserves norms exactly. ``"gaussian"``: i.i.d.
            standard normal entries divided by ``√b`` (complex: real and
            imaginary parts each by ``√(2b)``), norm-preserving in expectation.
        dtype : float32, float64, complex64 or complex128, optional
            Default: the namespace's default floating dtype (float64 on
            NumPy, ``torch.get_default_dtype()`` on torch).
        xp, device : target namespace (NumPy by default) and device.
        seed : seed of ``numpy.random.default_rng``.

        Examples
        --------
        >>> import numpy as np
        >>> B = Butterfly.random(8, seed=1)
        >>> bool(np.allclose(B.to_dense().T @ B.to_dense(), np.eye(8)))
        True
        >>> B = Butterfly.random(12, seed=1)
        >>> B.radices, bool(np.allclose(B.to_dense().T @ B.to_dense(), np.eye(12)))
        ((2, 2, 3), True)
        """
        rad = _radices(n, radices, "Butterfly.random")
        xp = aa.default_namespace(xp)
        dtype = aa.default_float(xp, device) if dtype is None else aa.as_dtype(xp, dtype)
        cplx = aa.is_complex(xp, dtype)
        rng = np.random.default_rng(seed)
        if kind not in ("orthogonal", "gaussian"):
            msg = f"kind must be 'orthogonal' or 'gaussian', got {kind!r}"
            raise ValueError(msg)

        def draw(lead: tuple[int, ...], b: int) -> np.ndarray:
            shape = (*lead, b, b)
            if kind == "orthogonal":
                g = rng.standard_normal(shape)
                if cplx:
                    g = g + 1j * rng.standard_normal(shape)
                q, r = np.linalg.qr(g)
                # Fix the phases so that the distribution is Haar.
                dr = np.diagonal(r, axis1=-2, axis2=-1)
                ph = dr / np.where(np.abs(dr) == 0, 1, np.abs(dr))
                return q * ph[..., None, :]
            tw = rng.standard_normal(shape) / math.sqrt(b)
            if cplx:
                tw = (tw + 1j * rng.standard_normal(shape) / math.sqrt(b)) / math.sqrt(2)
            return tw

        def put(a: np.ndarray) -> Any:
            arr = xp.asarray(np.ascontiguousarray(a).astype(aa.dtype_name(dtype)))
            return arr if device is None else aa.to_namespace(arr, xp, device)

        if all(b == 2 for b in rad):
            tw: Any = put(draw((len(rad), n // 2), 2))
        else:
            tw = [put(draw((n // b,), b)) for b in rad]
        return cls(tw, increasing_stride=increasing_stride)

    @classmethod
    def identity(
        cls,
        n: int,
        *,
        radices: Any = None,
        increasing_stride: bool = True,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
    ) -> Butterfly:
        """The identity of size ``n`` as a butterfly (every twiddle the identity).

        ``radices`` as in :meth:`random`.

        Examples
        --------
        >>> import numpy as np
        >>> bool(np.allclose(Butterfly.identity(4).to_dense(), np.eye(4)))
        True
        >>> bool(np.allclose(Butterfly.identity(6).to_dense(), np.eye(6)))
        True
        """
        rad = _radices(n, radices, "Butterfly.identity")
        xp = aa.default_namespace(xp)
        dtype = aa.default_float(xp, device) if dtype is None else aa.as_dtype(xp, dtype)

        def eye(lead: tuple[int, ...], b: int) -> Any:
            e = xp.eye(b, dtype=dtype, device=device)
            return xp.asarray(xp.broadcast_to(e, (*lead, b, b)), copy=True)

        if all(b == 2 for b in rad):
            return cls(eye((len(rad), n // 2), 2), increasing_stride=increasing_stride)
        return cls([eye((n // b,), b) for b in rad], increasing_stride=increasing_stride)

    # ------------------------------------------------------------------ projection
    @classmethod
    def project(
        cls,
        A: Any,
        /,
        *,
        radices: Any = None,
        permutation: Any = None,
        certificate: bool = True,
    ) -> ProjectionResult:
        r"""Closest butterfly to ``A`` (hierarchical, with an error certificate).

        Parameters
        ----------
        A : array of shape (n, n) or LinearOperator
            An operator is densified (``to_dense``).
        radices : None or sequence of int
            ``(b_0, b_1, …)`` with product ``n``, in the order the butterfly
            applies its levels. Default: radix 2 for a power of two, else the
            prime factors of ``n`` in increasing order.
        permutation : None, "bitrev", "digitrev" or integer array of shape (n,)
            Approximate ``A ≈ B P`` with ``P x = x[idx]`` (``"bitrev"``: the
            bit-reversal permutation, ``n`` a power of 2; ``"digitrev"``:
            :func:`digit_reversal` of the radices): ``A Pᵀ`` is projected onto
            increasing butterflies and the result is
            ``Product(Butterfly, Permutation)``.
        certificate : bool
            ``True`` (default) bounds ``ε_t(A)`` at every split for the
            bounds below; ``False`` skips the Gram bounds (see Notes).

        Returns
        -------
        ProjectionResult
            ``operator`` (a ``Butterfly`` or ``Product(Butterfly,
            Permutation)``), ``error = ||A - Â||_F``, ``lower_bound`` (no
            butterfly is closer), ``upper_bound`` (guarantee on ``error``),
            ``exact=False``.

        Notes
        -----
        Written for radix 2; for radices ``b_l`` read ``2^t`` as
        ``P_t = b_{L-1} ⋯ b_{L-t}`` and ``2 x n/2^t`` blocks as
        ``b x n/P_t`` blocks (each step then one batched SVD through
        :func:`structmat.ks.ks_project_two`, the top singular pair kept; the
        rounding slack is ``(4 L b_max + 2n) eps ||A||``).

        Write ``B = X_1 X_2 ⋯ X_L`` with ``X_t`` the level of stride
        ``n/2^t`` (``KS(2^{t-1}, 2, 2, n/2^t)``). Left to right, with
        ``H_0 = A``: for ``t = 1 … L-1`` take the exact two-factor projection
        (what :func:`structmat.ks.ks_project_two` computes for these patterns,
        specialised here) of ``H_{t-1}`` (block diagonal,
        ``2^{t-1}`` blocks) onto ``X_t · H_t``, ``H_t`` block diagonal with
        ``2^t`` blocks. Each group is a ``2 x n/2^t`` block of rank one: the
        left factor keeps the unit singular vector (orthonormal within each
        class) and the singular value goes right. Finally ``X_L = H_{L-1}``.
        All blocks of a level are solved in one batched closed-form 2x2
        eigen-solve.

        Because ``X_t`` has unit columns and distinct columns sharing rows act
        on disjoint column blocks of ``H_t``, ``E ↦ X_t E`` is an isometry on
        matrices with the support of ``H_t``, and the residual of each step is
        orthogonal to everything later steps add. Hence
        ``||A - Â||² = Σ_t e_t²`` with ``e_t`` the two-factor error of step
        ``t`` (this is how ``error`` is computed, exactly up to rounding), and
        ``e_t ≤ ε_t(A)``, the two-factor error of ``A`` itself at split ``t``
        (``KS(1, 2^t, 2^t, n/2^t) · KS(2^t, n/2^t, n/2^t, 1)``): since
        ``H_{t-1}`` is the image of ``A`` under a contraction that maps that
        split set into the step-``t`` set. Every butterfly lies in every
        split set, so

        .. math::

            \max_t ε_t(A) \le \mathrm{dist}(A, \mathcal B)
            \le \|A - \hat A\|_F \le \sqrt{\textstyle\sum_t ε_t(A)^2}.

        ``lower_bound`` needs a lower bound on ``max_t ε_t`` and
        ``upper_bound`` an upper bound on ``sqrt(Σ_t ε_t²)`` [1]_; both come
        cheaply (no per-block eigen-solve; at most two Gram passes over ``A``
        when ``n > 256``):

        - ``ε_t² <= c_t² := Σ_{τ<=t} e_τ²`` for free: the partial product
          ``A_t = X_1 ⋯ X_t H_t`` lies in the split-``t`` set
          (``X_1 ⋯ X_t`` is ``KS(1, 2^t, 2^t, n/2^t)``, ``H_t`` block
          diagonal) and ``||A - A_t||² = Σ_{τ<=t} e_τ²`` by the same
          orthogonality. ``ε_1 = e_1`` exactly.
        - At two splits (every split when ``n <= 256``), the splits whose
          blocks have a shorter side ``m = 8``, one batched Gram matmul
          (``2 n² m`` multiply-adds) gives two-sided bounds on
          ``Σ_B sigma_1(B)² = ||A||² - ε_t²``: an upper one from
          ``λ_max(G) <= (tr G^{2^k})^{1/2^k}`` by repeated squaring (small
          batched matmuls), a lower one from a Rayleigh quotient. The first
          raises ``lower_bound``, the second can lower ``c_t``. They are
          skipped when ``error`` is at rounding level (nothing to add).

        So ``lower_bound = max(e_max, lower bounds on ε_t)``, widened for
        the worst-case rounding (``(8L + 2n) eps ||A||`` on the step errors;
        see ``_split_gram_bounds`` for the Gram); on Gaussian matrices it is
        within a few percent of ``max_t ε_t`` (``benchmarks/bench_butterfly.py``
        prints it against exact block SVDs). ``upper_bound`` is the smallest
        guarantee on ``error`` known: ``min(sqrt(Σ_t min(c_t, Gram bound)²),
        error + rounding, max(||A||_F, error))``. The a-priori bound
        ``sqrt(Σ_t ε_t²)`` is never below the returned error, which is known
        and at most ``||A||_F`` (``||A||² = ||Â||² + Σ_t e_t²``), so the
        interval ``[lower_bound, upper_bound]`` on the distance to the class
        never goes above ``||A||_F``, the zero butterfly's error (relative
        1), where ``sqrt(Σ_t ε_t²)`` alone reaches ``2.55 ||A||_F`` on a
        Gaussian ``512 x 512``. With ``certificate=False`` no bound is computed:
        ``lower_bound = max_t e_t`` (valid, ``e_1 = ε_1``) and
        ``upper_bound = error``.

        Cost: every step reads its blocks twice (the three 2x2 Gram entries
        per group, then one batched ``[u^H; u_⊥^H]`` matmul that writes
        ``H_t`` and the discarded part in place), about ``2 n²`` entries
        over all steps.

        ``exact`` is ``False``: the hierarchy is quasi-optimal
        (``error ≤ √(L-1) · dist``), not optimal in general. Exact butterflies
        are recovered (every step is then exact). The orthonormalized
        hierarchy guarantees the bound; it is not better than the plain
        hierarchy on every instance.

        References
        ----------
        .. [1] Q.-T. Le, L. Zheng, E. Riccietti, R. Gribonval, "Butterfly
           factorization with error guarantees", arXiv:2411.04506 (2024).
        .. [2] L. Zheng, E. Riccietti, R. Gribonval, "Efficient identification
           of butterfly sparse matrix factorizations", SIAM J. Math. Data Sci.
           5 (2023).

        Examples
        --------
        >>> import numpy as np
        >>> F = np.fft.fft(np.eye(64), axis=0)
        >>> res = Butterfly.project(F, permutation="bitrev")
        >>> bool(res.relative_error < 1e-12), res.lower_bound <= res.error <= res.upper_bound
        (True, True)
        >>> A = np.random.default_rng(0).standard_normal((64, 64))
        >>> r = Butterfly.project(A)
        >>> bool(r.lower_bound <= r.error <= r.upper_bound)
        True

        Mixed radix: an exact butterfly of size 12 is recovered.

        >>> B = Butterfly.random(12, radices=(3, 2, 2), seed=0)
        >>> r = Butterfly.project(B.to_dense(), radices=(3, 2, 2))
        >>> bool(r.relative_error < 1e-12)
        True
        """
        return _butterfly_project.project(cls, A, radices, permutation, certificate)

r"""Kronecker-sparse operators: one factor (:class:`KSFactor`) and a chain (:class:`KSChain`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._operand import _Converter
from structmat.ks._fuse import FUSE_MAX_BLOCK, fuse_blocked, fusion_plan, run_pattern
from structmat.ks._multiply import chain_on_stack, ks_blocked, ks_to_dense
from structmat.ks._patterns import Pattern, _check_chain, _check_values, ks_shape
from structmat.linop import LinearOperator

__all__ = ["KSChain", "KSFactor"]

# KSChain multiplies through its fused factors (structmat.ks._fuse) when they are
# cached, or when the input has at least this many columns per matrix: below it,
# fusing afresh at every multiply costs more than it saves (benchmarks/bench_ks.py).
FUSE_MIN_COLUMNS = 4


class KSFactor(LinearOperator):
    r"""A Kronecker-sparse factor as a linear operator.

    Parameters
    ----------
    T : array of shape (a, b, c, d)
        Values: ``F[i*b*d + j*d + l, i*c*d + k*d + l] = T[i, j, k, l]``.

    Notes
    -----
    Support :math:`I_a \otimes 1_{b\times c} \otimes I_d`, shape
    ``(a*b*d, a*c*d)``. The adjoint is the KS factor with pattern
    ``(a, c, b, d)`` and values ``conj(T)`` with the middle axes swapped;
    a multiply costs ``a*b*c*d`` multiply-adds per column.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> from structmat.ks import KSFactor
    >>> F = KSFactor(np.ones((2, 1, 1, 3)))
    >>> F
    KSFactor(pattern=(2, 1, 1, 3), float64)
    >>> bool(np.allclose(F.to_dense(), np.eye(6)))
    True
    """

    def __init__(self, T: Any, /, *, _conjugate: bool = False) -> None:
        xp, pattern = _check_values(T, "KSFactor values")
        self._source, self._conjugate = T, _conjugate
        self.pattern = pattern
        super().__init__(shape=ks_shape(pattern), dtype=T.dtype, xp=xp, device=aa.device_of(T))
        # the matmul layout of the values per dtype (derived data), under aa.source_key
        self._blocked_cache: dict[str, tuple[Any, Any]] = {}

    @property
    def values(self) -> Any:
        """The values ``T`` (for the adjoint of a complex factor, conjugated afresh)."""
        T = self._source
        return self.xp.conj(T) if self._conjugate else T

    def _matmat(self, X: Any) -> Any:
        # The chain driver with one factor: NumPy gets its column tiles and threads.
        xp = self.xp
        *lead, n, k = (int(v) for v in X.shape)
        X3 = xp.reshape(X, (math.prod(lead), n, k))
        Y = chain_on_stack(lambda dtype: [self._blocked(dtype)], X3, self._real)
        return xp.reshape(Y, (*lead, self.shape[0], k))

    def _blocked(self, dtype: Any) -> Any:
        """The values in the layout of :func:`ks_blocked`, in ``dtype``.

        On NumPy a view of the values where their blocks are already
        C-contiguous; otherwise a fresh copy at each call, except where the values have a
        :func:`structmat._array_api.source_key` (read-only NumPy arrays that own
        their memory, torch tensors by version): then cached under it.
        """
        T = self._source
        conj = self._conjugate and not self._real
        if self._numpy and not conj and T.dtype == dtype:
            # The permuted view itself when its b x c blocks are C-contiguous (always for
            # d = 1, and e.g. for a Monarch's L): BLAS reads it as it is, no copy.
            V = T.transpose(0, 3, 1, 2)
            if V.strides[3] == V.itemsize and V.strides[2] == V.shape[3] * V.itemsize:
                return V
        key = aa.source_key(T)
        name = aa.dtype_name(dtype)
        if key is not None:
            hit = self._blocked_cache.get(name)
            if hit is not None and hit[0] == key:
                return hit[1]
        M = ks_blocked(T)
        if conj:
            M = self.xp.conj(M)
        if M.dtype != dtype:
            M = self.xp.astype(M, dtype)
        if key is not None:
            self._blocked_cache[name] = (key, M)
        return M

    def _adjoint(self) -> LinearOperator:
        # A view of the values, conjugated on every read: it follows in-place changes.
        flip = aa.is_complex(self.xp, self.dtype)
        T = self.xp.permute_dims(self._source, (0, 2, 1, 3))
        return KSFactor(T, _conjugate=self._conjugate != flip)

    def _transpose(self) -> LinearOperator:
        T = self.xp.permute_dims(self._source, (0, 2, 1, 3))
        return KSFactor(T, _conjugate=self._conjugate)

    def _map(self, convert: _Converter) -> LinearOperator:
        return KSFactor(convert(self._source), _conjugate=self._conjugate)

    def _parameter_count(self) -> int:
        a, b, c, d = self.pattern
        return a * b * c * d

    def _flops(self, k: int) -> int:
        a, b, c, d = self.pattern
        return a * b * c * d * k

    def to_dense(self) -> Any:
        return ks_to_dense(self.values)

    def _repr_args(self) -> str:
        return f"pattern={self.pattern}, {aa.dtype_name(self.dtype)}"


class KSChain(LinearOperator):
    r"""A product of Kronecker-sparse factors, ``F_1 F_2 ⋯ F_m``.

    Parameters
    ----------
    factors : sequence of KSFactor or arrays of shape (a, b, c, d)
        **Leftmost first**, as the matrix product is written (the order of
        ``Product.factors`` and of lazylinop's chains): ``factors[-1]`` is
        applied first. An array is taken as the values ``T`` of a
        :class:`KSFactor`. The columns of each factor must equal the rows of
        the next (``a_i c_i d_i == a_{i+1} b_{i+1} d_{i+1}``).

    Attributes
    ----------
    factors : tuple of KSFactor
        Leftmost first; they keep the caller's arrays (no copy), so in-place
        changes show in the next product.
    patterns : tuple of (a, b, c, d)
        The factors' patterns, leftmost first.

    Notes
    -----
    Shape ``(a_1 b_1 d_1, a_m c_m d_m)``; the dtype is the promotion of the
    factors' dtypes. A multiply is one batched matmul per factor on every
    backend (:func:`structmat.ks.ks_chain_matmat`); on NumPy a matrix runs
    through the whole chain one column tile at a time, with worker threads
    for small blocks, and a real chain multiplies complex data as ``2k``
    real columns. The matmul layout of the values is derived at each
    multiply (cached only where :func:`structmat._array_api.source_key`
    tracks the values: read-only NumPy arrays, torch tensors by version), so
    it never goes stale. The adjoint is the reversed chain of the factors'
    adjoints, ``(F_1 ⋯ F_m)^H = F_m^H ⋯ F_1^H``, which read the same
    arrays (conjugated on every read); likewise the transpose. A multiply
    costs ``Σ a_i b_i c_i d_i`` multiply-adds per column (:meth:`flops`,
    the nominal count).

    Fusion: runs of consecutive factors whose product is one KS factor with
    blocks of at most ``8 x 8`` (:attr:`fused_patterns`; e.g. three radix-2
    butterfly levels make one radix-8 factor) are multiplied as that factor:
    fewer passes over the data and ``8 x 8`` products instead of ``2 x 2``
    ones, for at most 4/3 of the multiply-adds of radix-2 levels. The
    fused values are exact products of the factors' values, derived data
    under the same rule as above (cached under the source keys of every
    factor, else built afresh at each multiply). The chain multiplies
    through them when they are cached, or for inputs of at least
    ``FUSE_MIN_COLUMNS = 4`` columns; narrower inputs with uncached values
    run factor by factor, where building the fused values would cost more
    than they save (benchmarks/bench_ks.py).

    The chain builders of :mod:`structmat.ks` (:func:`square_dyadic`,
    :func:`mixed_radix`, :func:`monarch`, :func:`chainable`) give pattern
    lists for :meth:`random`.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.ks import KSChain, ks_to_dense, square_dyadic
    >>> C = KSChain.random(square_dyadic(8), seed=0)
    >>> C
    KSChain([(1, 2, 2, 4), (2, 2, 2, 2), (4, 2, 2, 1)], float64)
    >>> D = ks_to_dense(C.factors[0].values) @ ks_to_dense(C.factors[1].values)
    >>> D = D @ ks_to_dense(C.factors[2].values)
    >>> bool(np.allclose(C.to_dense(), D)), bool(np.allclose(C.H.to_dense(), D.T))
    (True, True)
    """

    def __init__(self, factors: Any, /) -> None:
        if isinstance(factors, KSFactor | LinearOperator) or not hasattr(factors, "__iter__"):
            msg = f"KSChain expects a sequence of KSFactor or value arrays, got {type(factors).__name__}"
            raise TypeError(msg)
        ops: list[KSFactor] = []
        for i, f in enumerate(factors):
            if isinstance(f, KSFactor):
                ops.append(f)
            elif isinstance(f, LinearOperator):
                msg = f"KSChain: factor {i} must be a KSFactor or an array (a, b, c, d), got {type(f).__name__}"
                raise TypeError(msg)
            else:
                ops.append(KSFactor(f))
        patterns = _check_chain([f.pattern for f in ops], "KSChain")
        xp, device = ops[0].xp, ops[0].device
        for f in ops[1:]:
            aa.check_same_backend(xp, device, f.xp, f.device, "KSChain")
        dtype = ops[0].dtype
        for f in ops[1:]:
            dtype = xp.result_type(dtype, f.dtype)
        shape = (ks_shape(patterns[0])[0], ks_shape(patterns[-1])[1])
        super().__init__(shape=shape, dtype=dtype, xp=xp, device=device)
        self.factors: tuple[KSFactor, ...] = tuple(ops)
        self.patterns: tuple[Pattern, ...] = tuple(patterns)
        # runs of factors fused into one (fusion_plan), and their fused values per dtype
        # (derived data) under the source keys of every factor's values
        self._plan = fusion_plan(patterns, FUSE_MAX_BLOCK)
        self._fused_cache: dict[str, tuple[Any, list[Any]]] = {}

    @classmethod
    def random(
        cls,
        patterns: Any,
        *,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
        seed: Any = None,
    ) -> KSChain:
        r"""A chain of Gaussian factors with these ``patterns`` (leftmost first).

        Each factor's values have variance ``1/c`` (complex: real and
        imaginary parts ``1/(2c)`` each), so every factor keeps the expected
        squared size of the entries it maps. ``dtype``: the namespace's
        default floating dtype by default (float64 on NumPy,
        ``torch.get_default_dtype()`` on torch);
        ``xp``/``device``: NumPy by default; ``seed``: of
        ``numpy.random.default_rng``.

        Examples
        --------
        >>> from structmat.ks import KSChain, mixed_radix
        >>> C = KSChain.random(mixed_radix(12), dtype="complex64", seed=1)
        >>> C.shape, C.dtype, C.parameter_count
        ((12, 12), dtype('complex64'), 84)
        """
        pats = _check_chain(patterns, "KSChain.random")
        xp = aa.default_namespace(xp)
        dtype = aa.default_float(xp, device) if dtype is None else aa.as_dtype(xp, dtype)
        cplx = aa.is_complex(xp, dtype)
        rng = np.random.default_rng(seed)
        values = []
        for p in pats:
            scale = math.sqrt(1.0 / p[2])
            if cplx:
                z = rng.standard_normal((*p, 2)) * (scale / math.sqrt(2.0))
                T = z[..., 0] + 1j * z[..., 1]
            else:
                T = rng.standard_normal(p) * scale
            values.append(xp.asarray(T, dtype=dtype, device=device))
        return cls(values)

    # ------------------------------------------------------------------ multiply
    def _blocked(self, dtype: Any) -> list[Any]:
        """The factors in matmul layout and ``dtype``, in the order they are applied."""
        return [f._blocked(dtype) for f in reversed(self.factors)]

    @property
    def fused_patterns(self) -> tuple[Pattern, ...]:
        """The patterns of the fused chain that wide multiplies run, leftmost first.

        Runs of consecutive factors whose product is one KS factor with blocks of
        at most 8 x 8 (:mod:`structmat.ks._fuse`) are fused; the product is the same.

        Examples
        --------
        >>> from structmat.ks import KSChain, square_dyadic
        >>> KSChain.random(square_dyadic(64), seed=0).fused_patterns
        ((1, 8, 8, 8), (8, 8, 8, 1))
        """
        return tuple(run_pattern(self.patterns[start:stop]) for start, stop in self._plan)

    def _fuse_run(self, start: int, stop: int, dtype: Any) -> Any:
        """The product of ``factors[start:stop]`` in matmul layout and ``dtype``."""
        Ts = [f.values for f in self.factors[start:stop]]
        Ts = [T if T.dtype == dtype else self.xp.astype(T, dtype) for T in Ts]
        return fuse_blocked(Ts)

    def _source_keys(self) -> tuple[Any, ...] | None:
        """The :func:`structmat._array_api.source_key` of every factor's values, or ``None``."""
        keys = tuple(aa.source_key(f._source) for f in self.factors)
        return None if any(key is None for key in keys) else keys

    def _fused_blocked(self, dtype: Any) -> list[Any]:
        """The fused chain (:attr:`fused_patterns`) in matmul layout and ``dtype``, applied order.

        Derived data: cached only when every factor's values have a
        :func:`structmat._array_api.source_key` (read-only NumPy arrays that
        own their memory, torch tensors by version) and under those keys, so an
        in-place change of any value is never missed; otherwise built afresh.
        """
        keys = self._source_keys()
        cacheable = keys is not None
        name = aa.dtype_name(dtype)
        if cacheable:
            hit = self._fused_cache.get(name)
            if hit is not None and hit[0] == keys:
                return hit[1]
        out = []
        for start, stop in reversed(self._plan):
            if stop - start == 1:
                out.append(self.factors[start]._blocked(dtype))
            else:
                out.append(self._fuse_run(start, stop, dtype))
        if cacheable:
            self._fused_cache[name] = (keys, out)
        return out

    def _matmat(self, X: Any) -> Any:
        xp = self.xp
        *lead, n, k = (int(v) for v in X.shape)
        m = self.shape[0]
        nb = math.prod(lead)
        X3 = xp.reshape(X, (nb, n, k))
        fuse = len(self._plan) < len(self.factors) and (
            k >= FUSE_MIN_COLUMNS or self._source_keys() is not None
        )
        Y = chain_on_stack(self._fused_blocked if fuse else self._blocked, X3, self._real)
        return xp.reshape(Y, (*lead, m, k))

    # ------------------------------------------------------------------ structure
    def _adjoint(self) -> LinearOperator:
        return KSChain([f.H for f in reversed(self.factors)])

    def _transpose(self) -> LinearOperator:
        return KSChain([f.T for f in reversed(self.factors)])

    def _map(self, convert: _Converter) -> LinearOperator:
        return KSChain([f._map(convert) for f in self.factors])

    def _parameter_count(self) -> int:
        return sum(f.parameter_count for f in self.factors)

    def _flops(self, k: int) -> int:
        return sum(f.flops(k) for f in self.factors)

    def to_dense(self) -> Any:
        # The chain applied to the identity: Σ a b c d n multiply-adds, no dense products.
        n = self.shape[1]
        return self._matmat(self.xp.eye(n, dtype=self.dtype, device=self.device))

    def _repr_args(self) -> str:
        pats = ", ".join(str(p) for p in self.patterns)
        return f"[{pats}], {aa.dtype_name(self.dtype)}"

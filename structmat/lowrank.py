r"""Low-rank operators ``U diag(s) Vᴴ`` and their projections (truncated and randomized SVD)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._args import integer
from structmat._dense import dense_input, frobenius, ldexp, normalize, svd_tail, unscale
from structmat._operand import _Converter, _is_scalar, _python_scalar
from structmat._result import ProjectionResult, exact_result
from structmat.linop import LinearOperator

__all__ = ["LowRank"]


def _conj(xp: Any, a: Any) -> Any:
    return xp.conj(a) if aa.is_complex(xp, a.dtype) else a


def _ctranspose(xp: Any, a: Any) -> Any:
    return xp.matrix_transpose(_conj(xp, a))


class LowRank(LinearOperator):
    r"""Low-rank matrix :math:`U \operatorname{diag}(s) V^H`.

    Parameters
    ----------
    U : array of shape (m, r)
        Left factor.
    V : array of shape (n, r)
        Right factor (its conjugate transpose enters the product).
    s : array of shape (r,), optional
        The weights (singular values for an SVD); ``None`` means all ones
        (``U Vᴴ``) and is not stored.

    Attributes
    ----------
    U, V, s : arrays
        The factors, cast to the operator's dtype (the promoted dtype of the
        inputs); ``s`` is ``None`` when not given.
    rank : int
        ``r``.

    Notes
    -----
    :math:`A X = U (s \odot (V^H X))`: ``r (m + n)`` multiply-adds per column
    instead of ``m n``. Structurally,
    :math:`A^H = V \operatorname{diag}(\bar s) U^H` (``LowRank(V, U, conj(s))``)
    and :math:`A^T = \bar V \operatorname{diag}(s) U^T`. Sums and differences
    of ``LowRank`` operators and scalar multiples stay ``LowRank`` (factors
    concatenated; ranks add).

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> rng = np.random.default_rng(0)
    >>> U, V, s = rng.standard_normal((100, 5)), rng.standard_normal((80, 5)), np.arange(1.0, 6.0)
    >>> A = sm.LowRank(U, V, s)
    >>> A
    LowRank(100x80, rank=5, float64)
    >>> bool(np.allclose(A.to_dense(), U @ np.diag(s) @ V.T))
    True
    >>> (A + 2 * A).rank, A.H.shape
    (10, (80, 100))
    """

    def __init__(
        self, U: Any, V: Any, s: Any = None, /, *, _conjugate: tuple[bool, bool] = (False, False)
    ) -> None:
        xp = aa.namespace_of(U)
        for name, a, nd in (("U", U, 2), ("V", V, 2), ("s", s, 1)):
            if a is None:
                continue
            aa.check_same_backend(
                xp, aa.device_of(U), aa.namespace_of(a), aa.device_of(a), f"LowRank {name}"
            )
            if a.ndim != nd:
                msg = f"LowRank expects {name} as a {nd}-d array, got shape {tuple(a.shape)}"
                raise ValueError(msg)
        r = int(U.shape[1])
        if int(V.shape[1]) != r or (s is not None and int(s.shape[0]) != r):
            got = f"U {tuple(U.shape)}, V {tuple(V.shape)}"
            got += f", s {tuple(s.shape)}" if s is not None else ""
            msg = f"LowRank expects U (m, r), V (n, r) and s (r,) with one rank r, got {got}"
            raise ValueError(msg)
        if r < 1:
            msg = f"LowRank expects rank r >= 1, got factors with {r} columns"
            raise ValueError(msg)
        arrays = [U, V] if s is None else [U, V, s]
        for a in arrays:
            if not xp.isdtype(a.dtype, ("real floating", "complex floating")):
                msg = f"LowRank factors must be floating arrays, got dtype {aa.dtype_name(a.dtype)}"
                raise TypeError(msg)
        dtype = xp.result_type(*(a.dtype for a in arrays))
        aa.check_floating_dtype(xp, dtype, "LowRank")
        super().__init__(
            shape=(int(U.shape[0]), int(V.shape[0])), dtype=dtype, xp=xp, device=aa.device_of(U)
        )
        self._U = xp.astype(U, dtype, copy=False)
        self._V = xp.astype(V, dtype, copy=False)
        self._s = None if s is None else xp.astype(s, dtype, copy=False)
        # Adjoints and transposes share the factors and conjugate them on every
        # read (flags for U and V, and for s), so they follow in-place changes.
        self._conjugate = _conjugate
        self.rank = r

    def _read(self, a: Any, conjugate: bool) -> Any:
        return self.xp.conj(a) if conjugate and a is not None else a

    @property
    def U(self) -> Any:
        """The left factor, shape ``(m, r)``."""
        return self._read(self._U, self._conjugate[0])

    @property
    def V(self) -> Any:
        """The right factor, shape ``(n, r)``."""
        return self._read(self._V, self._conjugate[0])

    @property
    def s(self) -> Any:
        """The weights, shape ``(r,)``, or ``None``."""
        return self._read(self._s, self._conjugate[1])

    # ------------------------------------------------------------------ multiply
    def _matmat(self, X: Any) -> Any:
        xp, cast = self.xp, self._cast
        Y = xp.matmul(_ctranspose(xp, cast(self.V, X)), X)
        if self.s is not None:
            Y = cast(self.s, X)[:, None] * Y
        return xp.matmul(cast(self.U, X), Y)

    def _adjoint(self) -> LinearOperator:
        # (U S V^H)^H = V conj(S) U^H
        c_uv, c_s = self._conjugate
        flip = aa.is_complex(self.xp, self.dtype)
        return LowRank(self._V, self._U, self._s, _conjugate=(c_uv, c_s != flip))

    def _transpose(self) -> LinearOperator:
        # (U S V^H)^T = conj(V) S conj(U)^H
        c_uv, c_s = self._conjugate
        return LowRank(self._V, self._U, self._s, _conjugate=(not c_uv, c_s))

    def _map(self, convert: _Converter) -> LinearOperator:
        s = None if self._s is None else convert(self._s)
        return LowRank(convert(self._U), convert(self._V), s, _conjugate=self._conjugate)

    def _parameter_count(self) -> int:
        m, n = self.shape
        return self.rank * (m + n) + (0 if self.s is None else self.rank)

    def _flops(self, k: int) -> int:
        m, n = self.shape
        return self.rank * (m + n) * k + (0 if self.s is None else self.rank * k)

    def _repr_args(self) -> str:
        m, n = self.shape
        return f"{m}x{n}, rank={self.rank}, {aa.dtype_name(self.dtype)}"

    def to_dense(self) -> Any:
        xp = self.xp
        U = self.U if self.s is None else self.U * self.s[None, :]
        return xp.matmul(U, _ctranspose(xp, self.V))

    # ------------------------------------------------------------------ algebra
    def _weights(self) -> Any:
        xp = self.xp
        if self.s is not None:
            return self.s
        return xp.ones((self.rank,), dtype=self.dtype, device=self.device)

    def _scaled(self, c: complex) -> LowRank:
        xp = self.xp
        c = _python_scalar(c)
        s = self._weights()
        if isinstance(c, complex):
            s = xp.astype(s, aa.complex_dtype(xp, s.dtype))
        return LowRank(self.U, self.V, c * s)

    def _combined(self, other: LowRank, sign: float) -> LowRank:
        aa.check_same_backend(self.xp, self.device, other.xp, other.device, "LowRank + LowRank")
        if self.shape != other.shape:
            msg = f"cannot add operators of shapes {self.shape} and {other.shape}"
            raise ValueError(msg)
        xp = self.xp
        dtype = xp.result_type(self.dtype, other.dtype)

        def cat(a: Any, b: Any, axis: int) -> Any:
            return xp.concat(
                (xp.astype(a, dtype, copy=False), xp.astype(b, dtype, copy=False)), axis=axis
            )

        s2 = other._weights()
        s2 = -s2 if sign < 0 else s2
        s = None
        if self.s is not None or other.s is not None or sign < 0:
            s = cat(self._weights(), s2, 0)
        return LowRank(cat(self.U, other.U, 1), cat(self.V, other.V, 1), s)

    def __add__(self, other: Any) -> LinearOperator:
        if isinstance(other, LowRank):
            return self._combined(other, 1.0)
        return super().__add__(other)

    def __sub__(self, other: Any) -> LinearOperator:
        if isinstance(other, LowRank):
            return self._combined(other, -1.0)
        return super().__sub__(other)

    def __mul__(self, c: Any) -> LinearOperator:
        if not _is_scalar(c):
            return NotImplemented
        return self if c == 1 else self._scaled(c)

    __rmul__ = __mul__

    def __neg__(self) -> LinearOperator:
        return self._scaled(-1.0)

    def __truediv__(self, c: Any) -> LinearOperator:
        if not _is_scalar(c):
            return NotImplemented
        if c == 0:
            msg = "cannot divide an operator by zero"
            raise ZeroDivisionError(msg)
        return self._scaled(1 / c)

    # ------------------------------------------------------------------ projection
    @classmethod
    def project(
        cls,
        A: Any,
        /,
        rank: int,
        method: str = "svd",
        *,
        oversample: int = 10,
        power_iterations: int = 2,
        seed: Any = None,
        error_probes: int = 16,
    ) -> ProjectionResult:
        r"""The best rank-``rank`` approximation of ``A`` (exact SVD or randomized).

        Parameters
        ----------
        A : array of shape (m, n) or LinearOperator
            ``method="svd"`` densifies an operator (``A.to_dense()``);
            ``method="randomized"`` only multiplies by ``A`` and ``Aᴴ``.
        rank : int
            ``1 <= rank <= min(m, n)``.
        method : {"svd", "randomized"}
            Exact truncated SVD, or the randomized range finder.
        oversample : int
            Extra sketch columns (randomized): ``l = min(rank + oversample, m, n)``.
        power_iterations : int
            Subspace iterations ``q >= 0`` (randomized).
        seed : int or numpy Generator, optional
            Seed of the Gaussian test matrices (randomized): equal seeds give
            equal results.
        error_probes : int
            Gaussian probes of the error estimate (randomized, operator input).

        Returns
        -------
        ProjectionResult
            ``onto="lowrank"``, a :class:`LowRank` ``U diag(s) Vᴴ`` with
            orthonormal ``U``, ``V`` and descending ``s``.

        Raises
        ------
        ValueError
            NaN or Inf in ``A`` (for an operator: in its products), a rank
            outside ``[1, min(m, n)]``, an unknown method, negative
            ``oversample`` / ``power_iterations`` or ``error_probes < 1``.

        Notes
        -----
        **svd** (Eckart-Young): with :math:`A = \sum_i \sigma_i u_i v_i^H`,
        the truncation to the ``r`` largest :math:`\sigma_i` is a nearest
        rank-``r`` matrix and :math:`\|A - A_r\|_F^2 = \sum_{i>r}\sigma_i^2`;
        ``error == lower_bound == upper_bound``, ``exact=True``.

        **randomized** (Halko, Martinsson, Tropp, Alg. 4.4): draw a Gaussian
        :math:`\Omega` (``n x l``), :math:`Q = \mathrm{qr}(A\Omega)`, then
        ``q`` times :math:`Q = \mathrm{qr}(A\,\mathrm{qr}(A^H Q))`
        (re-orthonormalized each half step, so small singular values are not
        lost to rounding), :math:`B = Q^H A = (A^H Q)^H` and its SVD
        :math:`B = \hat U \hat\Sigma \hat V^H`; the result is
        :math:`(Q \hat U_r) \hat\Sigma_r \hat V_r^H = P A` with :math:`P` the
        orthogonal projector on :math:`Q\hat U_r`. Cost: ``2q + 2`` products
        with ``l`` columns, QRs of ``m x l`` / ``n x l`` matrices.

        *Error.* For an array input the error is exact,
        :math:`\|A - \hat A\|_F` from the residual. For an operator input it
        is **estimated** (said in ``notes``): :math:`\|(I - P) A G\|_F^2 / k`
        with ``k = error_probes`` fresh Gaussian probes ``G`` is an unbiased
        estimate of :math:`\|A - \hat A\|_F^2` (relative standard deviation
        at most :math:`\sqrt{2/k}`, much less when the residual spectrum is
        flat); ``norm`` is then :math:`\sqrt{\|\hat\Sigma_r\|^2 +
        \mathrm{error}^2}` (Pythagoras, also estimated). The estimate is
        raised to ``lower_bound`` if it falls below it; ``upper_bound`` is
        ``inf`` (no deterministic guarantee is known without densifying).

        *Lower bound.* The distance to rank-``r`` matrices is
        :math:`\sqrt{\sum_{i>r}\sigma_i(A)^2}`. :math:`B = Q^H A` is a
        compression of ``A`` (``Q`` orthonormal), so by interlacing
        :math:`\hat\sigma_i \le \sigma_i(A)`; hence
        :math:`\sqrt{\sum_{r<i\le l}\hat\sigma_i^2}` is a valid lower bound
        (each :math:`\hat\sigma_i` first lowered by a rounding margin
        :math:`8 l \epsilon \hat\sigma_1`). It is 0 when ``l == rank``.
        ``exact=False``.

        References
        ----------
        N. Halko, P.-G. Martinsson, J. A. Tropp, "Finding structure with
        randomness: probabilistic algorithms for constructing approximate
        matrix decompositions", SIAM Review 53 (2011).
        C. Eckart, G. Young, "The approximation of one matrix by another of
        lower rank", Psychometrika 1 (1936).

        Examples
        --------
        >>> import numpy as np, scipy.linalg, structmat as sm
        >>> A = np.random.default_rng(0).standard_normal((30, 20))
        >>> res = sm.LowRank.project(A, rank=3)
        >>> sv = scipy.linalg.svd(A, compute_uv=False)
        >>> bool(np.isclose(res.error, np.sqrt((sv[3:] ** 2).sum()))), res.exact
        (True, True)
        >>> W = np.random.default_rng(1).standard_normal((30, 3)) @ A[:3]
        >>> res = sm.LowRank.project(sm.Dense(W), rank=3, method="randomized", seed=0)
        >>> bool(res.relative_error < 1e-10), res.exact
        (True, False)
        """
        r = integer(rank, "rank", "LowRank.project")
        if method not in ("svd", "randomized"):
            msg = f"LowRank.project: method must be 'svd' or 'randomized', got {method!r}"
            raise ValueError(msg)
        oversample = integer(oversample, "oversample", "LowRank.project", 0)
        power_iterations = integer(power_iterations, "power_iterations", "LowRank.project", 0)
        error_probes = integer(error_probes, "error_probes", "LowRank.project")
        if method == "svd":
            return _project_svd(cls, A, r)
        return _project_randomized(cls, A, r, oversample, power_iterations, seed, error_probes)


# ---------------------------------------------------------------------- helpers
def _check_rank(r: int, shape: tuple[int, int]) -> None:
    if r > min(shape):
        msg = f"LowRank.project: rank must be <= min(m, n) = {min(shape)}, got {r}"
        raise ValueError(msg)


def _project_svd(cls: type, A: Any, r: int) -> ProjectionResult:
    A = dense_input(A, "LowRank.project")
    xp = aa.namespace_of(A)
    _check_rank(r, A.shape)
    A, e, _ = normalize(xp, A, "LowRank.project")  # the SVD of A / 2^e, scaled back
    U, S, Vh = xp.linalg.svd(A, full_matrices=False)
    err, norm = svd_tail(xp, S, r)
    op = cls(U[:, :r], _ctranspose(xp, Vh[:r, :]), xp.astype(ldexp(xp, S[:r], e), A.dtype))
    params = {"rank": r, "method": "svd"}
    return exact_result(op, unscale(err, e), unscale(norm, e), "lowrank", params)


def _gaussian(
    rng: np.random.Generator, shape: tuple[int, int], xp: Any, dtype: Any, device: Any
) -> Any:
    g = rng.standard_normal(shape)
    if aa.is_complex(xp, dtype):
        g = (g + 1j * rng.standard_normal(shape)) / math.sqrt(2.0)
    return xp.astype(aa.to_namespace(g, xp, device), dtype)


def _orth(xp: Any, Y: Any) -> Any:
    return xp.linalg.qr(Y)[0]


def _project_randomized(
    cls: type, A: Any, r: int, oversample: int, q: int, seed: Any, probes: int
) -> ProjectionResult:
    what = "LowRank.project(method='randomized')"
    if isinstance(A, LinearOperator):
        is_op = True
        xp, dtype, device = A.xp, A.dtype, A.device

        def mul(X: Any) -> Any:
            return A @ X

        def rmul(Y: Any) -> Any:
            return A.H @ Y

    else:
        is_op = False
        A = dense_input(A, what)
        xp, dtype, device = aa.namespace_of(A), A.dtype, aa.device_of(A)
        A, e, _ = normalize(xp, A, what)

        def mul(X: Any) -> Any:
            return xp.matmul(A, X)

        def rmul(Y: Any) -> Any:
            # Aᴴ Y = (Yᴴ A)ᴴ: no conjugated copy of A.
            return _ctranspose(xp, xp.matmul(_ctranspose(xp, Y), A))

    m, n = A.shape
    if m < 1 or n < 1:
        msg = f"{what} expects a non-empty matrix, got shape {(m, n)}"
        raise ValueError(msg)
    _check_rank(r, (m, n))
    ell = min(r + oversample, m, n)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    Y = mul(_gaussian(rng, (n, ell), xp, dtype, device))
    if not bool(xp.all(xp.isfinite(Y))):
        msg = f"{what}: A @ x produced NaN or Inf"
        raise ValueError(msg)
    if is_op:
        # Matrix-free: A / 2^e is applied as 2^-e (A X), e from the first sketch
        # (products of orthonormal blocks stay at its scale).
        _, e, _ = normalize(xp, Y, what)
        if e:
            mul_op, rmul_op = mul, rmul

            def mul(X: Any) -> Any:
                return ldexp(xp, mul_op(X), -e)

            def rmul(Y: Any) -> Any:
                return ldexp(xp, rmul_op(Y), -e)

            Y = ldexp(xp, Y, -e)
    Q = _orth(xp, Y)
    for _ in range(q):
        Q = _orth(xp, mul(_orth(xp, rmul(Q))))
    W = rmul(Q)  # (n, l) = Bᴴ with B = Qᴴ A
    Uw, S, Vwh = xp.linalg.svd(W, full_matrices=False)  # B = Vw S Uwᴴ
    U = xp.matmul(Q, _ctranspose(xp, Vwh[:r, :]))
    V = Uw[:, :r]
    op = cls(U, V, xp.astype(ldexp(xp, S[:r], e), dtype))
    # Below, everything is of A / 2^e (scale 1 at most) until scaled back at the end.
    sv = [float(v) for v in aa.to_host(S)]
    captured2 = sum(v * v for v in sv[:r])
    margin = 8 * ell * aa.eps(xp, dtype) * (sv[0] if sv else 0.0)
    lower = math.sqrt(sum(max(v - margin, 0.0) ** 2 for v in sv[r:]))
    params = {
        "rank": r,
        "method": "randomized",
        "oversample": oversample,
        "power_iterations": q,
        "seed": seed,
    }
    if not is_op:
        resid = A - xp.matmul(U * xp.astype(S[:r], dtype)[None, :], _ctranspose(xp, V))
        err = frobenius(xp, resid)
        norm = frobenius(xp, A)
        notes = "randomized range finder: error is the exact residual, not proven minimal"
        upper = err
    else:
        G = _gaussian(rng, (n, probes), xp, dtype, device)
        AG = mul(G)
        resid = AG - xp.matmul(U, xp.matmul(_ctranspose(xp, U), AG))
        err = frobenius(xp, resid) / math.sqrt(probes)
        err = max(err, lower)
        norm = math.sqrt(captured2 + err * err)
        notes = (
            f"randomized range finder on an operator: error (and norm) estimated from "
            f"{probes} Gaussian probes, unbiased for error**2; no upper guarantee"
        )
        upper = math.inf
    return ProjectionResult(
        operator=op,
        error=unscale(err, e),
        norm=unscale(norm, e),
        lower_bound=unscale(min(lower, err), e),
        upper_bound=unscale(upper, e),
        exact=False,
        onto="lowrank",
        params=params,
        notes=notes,
    )

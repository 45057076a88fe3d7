r"""Matrix-free two-factor projection: a randomized :func:`ks_project_two` for operators.

:func:`ks_project_two_sketched` projects an operator known only through
``matmat`` and ``rmatmat`` onto products ``X Y`` of two KS factors, with
block-diagonal probes: every group's range and co-range sample come from one
product each, instead of densifying the operator.

References
----------
.. [1] J. A. Tropp, A. Yurtsever, M. Udell, V. Cevher, "Practical sketching
   algorithms for low-rank matrix approximation", SIAM J. Matrix Anal. Appl.
   38 (2017).
.. [2] N. Halko, P.-G. Martinsson, J. A. Tropp, "Finding structure with
   randomness", SIAM Rev. 53 (2011).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._args import integer
from structmat._dense import frobenius, ldexp, normalize, unscale
from structmat._result import ProjectionResult
from structmat.ks._multiply import _conj
from structmat.ks._operators import KSChain
from structmat.ks._patterns import Pattern, _check_pattern
from structmat.ks._project import _groups
from structmat.linop import LinearOperator

__all__ = ["ks_project_two_sketched", "sketch_products", "sketch_two"]

Apply = Callable[[Any], Any]


def _ct(xp: Any, x: Any) -> Any:
    return _conj(xp, xp.matrix_transpose(x))


def _gaussian(rng: np.random.Generator, shape: tuple[int, ...], complex_: bool) -> np.ndarray:
    g = rng.standard_normal(shape)
    if complex_:
        g = (g + 1j * rng.standard_normal(shape)) / math.sqrt(2.0)
    return g


def _sizes(left: Pattern, right: Pattern, oversample: int) -> tuple[int, int]:
    """``(k, l)``: range and co-range sample sizes per column and row set."""
    _, b1, _, _ = left
    _, _, c2, _ = right
    _, _, size = _groups(left, right)
    k = min(int(size.max()) + oversample, c2)
    return k, min(k + oversample, b1)


def sketch_products(left: Pattern, right: Pattern, oversample: int, error_probes: int) -> int:
    """Columns applied by :func:`sketch_two`: ``a2 d2 k + a1 d1 l + error_probes``."""
    a1, _, _, d1 = left
    a2, _, _, d2 = right
    k, ell = _sizes(left, right, oversample)
    return a2 * d2 * k + a1 * d1 * ell + error_probes


def _spread(xp: Any, W: Any, a: int, d: int, inner: int) -> Any:
    """Probes ``W`` (a, d, inner, w) as a dense (a*inner*d, a*d*w) block-diagonal matrix.

    Column ``(i, l, t)`` is ``W[i, l, :, t]`` placed on the index set
    ``{i*inner*d + k*d + l}`` and zero elsewhere.
    """
    w = int(W.shape[-1])
    dev = aa.device_of(W)
    Wp = xp.permute_dims(W, (0, 2, 1, 3))[:, :, :, None, None, :]  # (a, inner, d, 1, 1, w)
    ea = xp.astype(xp.eye(a, device=dev), W.dtype)[:, None, None, :, None, None]
    ed = xp.astype(xp.eye(d, device=dev), W.dtype)[None, None, :, None, :, None]
    return xp.reshape(Wp * (ea * ed), (a * inner * d, a * d * w))


def sketch_two(
    mul: Apply,
    rmul: Apply,
    xp: Any,
    dtype: Any,
    device: Any,
    left: Pattern,
    right: Pattern,
    *,
    oversample: int,
    seed: Any,
    error_probes: int,
    what: str,
) -> tuple[Any, Any, float, float, float, int]:
    """The engine of :func:`ks_project_two_sketched` on ``mul(X) = A X``, ``rmul(Y) = Aᴴ Y``.

    Returns ``(T_left, T_right, error, norm, lower, products)`` with ``error``
    the probe estimate (at least ``lower``) and ``products`` the columns applied.
    """
    a1, b1, c1, d1 = left
    a2, b2, c2, d2 = right
    block, pos, size = _groups(left, right)
    G, Nm = size.size, block.size
    k, ell = _sizes(left, right, oversample)
    cplx = aa.is_complex(xp, dtype)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    def dev_array(a: np.ndarray) -> Any:
        return xp.astype(aa.to_namespace(a, xp, device), dtype)

    # Range: one Gaussian block of k columns per column set (i2, l2).
    omega = dev_array(_gaussian(rng, (a2, d2, c2, k), cplx))
    Y = mul(_spread(xp, omega, a2, d2, c2))  # (M, a2*d2*k)
    if not bool(xp.all(xp.isfinite(Y))):
        msg = f"{what}: A @ x produced NaN or Inf"
        raise ValueError(msg)
    # Work with A / 2^e, e from the first sketch, so squares neither overflow nor underflow.
    Y, e, _ = normalize(xp, Y, what)

    def rmul_s(Z: Any) -> Any:
        return ldexp(xp, rmul(Z), -e)

    def mul_s(X: Any) -> Any:
        return ldexp(xp, mul(X), -e)

    # Co-range: l orthonormal columns per row set (i, l); orthonormal so that Ψᴴ A_P is
    # a compression of A_P (its singular values bound A_P's from below).
    psi = np.linalg.qr(_gaussian(rng, (a1, d1, b1, ell), cplx))[0]
    psi_x = dev_array(psi)
    Z = rmul_s(_spread(xp, psi_x, a1, d1, b1))  # (N, a1*d1*l)
    # Per group (i2, i, l, l2): Y_P = A_P Ω (b1, k) and W_P = Ψᴴ A_P (l, c2).
    Yg = xp.permute_dims(xp.reshape(Y, (a1, b1, d1, a2, d2, k)), (3, 0, 2, 4, 1, 5))
    Yg = xp.reshape(Yg, (G, b1, k))
    Zg = xp.permute_dims(xp.reshape(Z, (a2, c2, d2, a1, d1, ell)), (0, 3, 4, 2, 5, 1))
    Wg = _conj(xp, xp.reshape(Zg, (G, ell, c2)))
    Pg = xp.reshape(
        xp.broadcast_to(psi_x[None, :, :, None, ...], (a2, a1, d1, d2, b1, ell)), (G, b1, ell)
    )
    # Two-sided single view [1]: Q = orth(Y_P), X = argmin ||(Ψᴴ Q) X - Ψᴴ A_P||, A_P ≈ Q X.
    Q = xp.linalg.qr(Yg)[0]  # (G, b1, kk)
    Qc, Rc = xp.linalg.qr(xp.matmul(_ct(xp, Pg), Q))
    X = xp.linalg.solve(Rc, xp.matmul(_ct(xp, Qc), Wg))  # (G, kk, c2)
    U, S, Vh = xp.linalg.svd(X, full_matrices=False)
    q = int(S.shape[-1])
    Ut = xp.reshape(xp.permute_dims(xp.matmul(Q, U), (0, 2, 1)), (G * q, b1))
    SV = xp.reshape(xp.astype(S, dtype)[..., None] * Vh, (G * q, c2))
    idx = xp.asarray(block * q + np.minimum(pos, q - 1), device=device)
    live = xp.asarray((pos < q)[:, None], device=device)
    cols = xp.where(live, xp.take(Ut, idx, axis=0), xp.zeros((Nm, b1), dtype=dtype, device=device))
    rows = xp.where(live, xp.take(SV, idx, axis=0), xp.zeros((Nm, c2), dtype=dtype, device=device))
    TL = xp.permute_dims(xp.reshape(cols, (a1, c1, d1, b1)), (0, 3, 1, 2))
    TR = xp.permute_dims(xp.reshape(rows, (a2, b2, d2, c2)), (0, 1, 3, 2))
    # Lower bound: sigma_i(Ψᴴ A_P) <= sigma_i(A_P), so the discarded tail of every block's
    # compression (all of it for blocks no group touches) bounds the distance from below.
    sv = aa.to_host(xp.linalg.svdvals(Wg)).astype(np.float64)  # (G, min(l, c2))
    margin = 8 * max(ell, c2) * aa.eps(xp, dtype) * float(sv.max(initial=0.0))
    tail = np.arange(sv.shape[1])[None, :] >= size[:, None]
    lower = math.sqrt(float(np.sum(np.where(tail, np.maximum(sv - margin, 0.0), 0.0) ** 2)))
    # Error and norm: unbiased estimates of their squares from Gaussian probes.
    Gp = dev_array(_gaussian(rng, (a2 * c2 * d2, error_probes), cplx))
    AG = mul_s(Gp)
    resid = AG - KSChain([TL, TR]) @ Gp
    err = max(frobenius(xp, resid) / math.sqrt(error_probes), lower)
    norm = frobenius(xp, AG) / math.sqrt(error_probes)
    TR = ldexp(xp, TR, e)
    products = a2 * d2 * k + a1 * d1 * ell + error_probes
    return TL, TR, unscale(err, e), unscale(norm, e), unscale(lower, e), products


def _check_args(oversample: Any, error_probes: Any, what: str) -> tuple[int, int]:
    oversample = integer(oversample, "oversample", what, low=0)
    error_probes = integer(error_probes, "error_probes", what, low=1)
    return oversample, error_probes


def ks_project_two_sketched(
    A: Any,
    pattern_left: Any,
    pattern_right: Any,
    /,
    *,
    oversample: int = 10,
    seed: Any = None,
    error_probes: int = 16,
) -> ProjectionResult:
    r"""Randomized :func:`ks_project_two` of an operator known only through its products.

    Parameters
    ----------
    A : LinearOperator or array of shape (M, N)
        Only ``A @ X`` and ``A.H @ Y`` are used (an array is applied as it is);
        ``M = a1*b1*d1``, ``N = a2*c2*d2``.
    pattern_left, pattern_right : (int, int, int, int)
        As in :func:`ks_project_two`.
    oversample : int
        Extra range samples per column set (``>= 0``); the co-range takes
        ``oversample`` more still.
    seed : int, numpy.random.Generator or None
        The probes' randomness; equal seeds give equal results.
    error_probes : int
        Gaussian probes of the error estimate (``>= 1``).

    Returns
    -------
    ProjectionResult
        ``operator`` a :class:`KSChain` of the two factors, ``onto="ks"``,
        ``exact=False``, ``error`` and ``norm`` estimated, ``lower_bound``
        rigorous (up to the rounding margin), ``upper_bound = inf``;
        ``params["products"]`` the number of columns applied.

    Notes
    -----
    The groups ``P`` of :func:`ks_project_two` are rank-``|P|`` problems on
    the blocks ``A[R, C]`` of a row set ``R`` and a column set ``C``; the row
    sets partition the rows and the column sets the columns. A probe block
    supported on column set ``C`` gives, in one product, the range sample
    :math:`A[R, C]\,\Omega_C` of every block in that column set; one supported
    on row set ``R`` gives :math:`\Psi_R^H A[R, C]` for every block in that
    row set. With ``k = min(max|P| + oversample, c2)`` and ``l = min(k +
    oversample, b1)`` the cost is ``a2*d2*k`` columns of ``A``, ``a1*d1*l``
    of ``Aᴴ`` and ``error_probes`` of ``A`` (:func:`sketch_products`); for
    Monarch (``K`` column sets, ``J`` row sets) that is ``K k + J l +
    error_probes`` instead of ``n``.

    Each block is recovered by the two-sided single-view sketch of [1]_:
    :math:`Q = \mathrm{orth}(A_P \Omega)`, :math:`X = (\Psi^H Q)^+ \Psi^H A_P`,
    :math:`A_P \approx Q X`, truncated to rank ``|P|`` by an SVD of ``X``.
    Why not a second pass (``Qᴴ A_P``, [2]_): every block has its own ``Q``,
    so it costs ``k`` columns per *block* (``J K k`` for Monarch, more than
    ``n``), while the co-range sketch is shared by the blocks of a row set.
    When every block has rank at most ``k`` the sketch is exact (to rounding),
    so a member of the class is recovered.

    ``error`` estimates ``||A - X Y||_F`` by ``||(A - X Y) G||_F /
    sqrt(error_probes)`` for Gaussian ``G`` (unbiased for the square; raised
    to ``lower_bound`` where it falls below); ``norm`` likewise. With
    :math:`\Psi_R` orthonormal, :math:`\sigma_i(\Psi_R^H A_P) \le
    \sigma_i(A_P)`, so the energy of each compression beyond rank ``|P|``
    (all of it for blocks no group touches), less a rounding margin
    ``8 max(l, c2) eps sigma_max``, bounds the distance to the class from below.
    There is no upper guarantee.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.ks import KSChain
    >>> rng = np.random.default_rng(0)
    >>> C = KSChain([rng.standard_normal((1, 8, 8, 8)), rng.standard_normal((8, 8, 8, 1))])
    >>> res = ks_project_two_sketched(C, (1, 8, 8, 8), (8, 8, 8, 1), oversample=2, seed=0)
    >>> res.params["products"]  # 8 column sets x 3 + 8 row sets x 5 + 16 probes, not 64
    80
    >>> d = res.operator.to_dense() - C.to_dense()
    >>> bool(np.linalg.norm(d) < 1e-12 * np.linalg.norm(C.to_dense())), res.exact
    (True, False)
    """
    what = "ks_project_two_sketched"
    left = _check_pattern(pattern_left, "pattern_left")
    right = _check_pattern(pattern_right, "pattern_right")
    a1, b1, c1, d1 = left
    a2, b2, c2, d2 = right
    if a1 * c1 * d1 != a2 * b2 * d2:
        msg = (
            f"{what}: inner dimensions differ, left pattern {left} has {a1 * c1 * d1} "
            f"columns but right pattern {right} has {a2 * b2 * d2} rows"
        )
        raise ValueError(msg)
    oversample, error_probes = _check_args(oversample, error_probes, what)
    op = _as_operator(A, what)
    shape = (a1 * b1 * d1, a2 * c2 * d2)
    if tuple(op.shape) != shape:
        msg = f"{what}: patterns {left} and {right} need A of shape {shape}, got {tuple(op.shape)}"
        raise ValueError(msg)
    AH = op.H
    TL, TR, err, norm, lower, products = sketch_two(
        lambda X: op @ X,
        lambda Y: AH @ Y,
        op.xp,
        op.dtype,
        op.device,
        left,
        right,
        oversample=oversample,
        seed=seed,
        error_probes=error_probes,
        what=what,
    )
    params = {
        "patterns": (left, right),
        "oversample": oversample,
        "seed": seed,
        "error_probes": error_probes,
        "products": products,
    }
    return sketched_result(KSChain([TL, TR]), err, norm, lower, "ks", params, products)


def _as_operator(A: Any, what: str) -> LinearOperator:
    """``A`` itself, or a floating 2-d array wrapped as ``Dense``."""
    if isinstance(A, LinearOperator):
        aa.check_floating_dtype(A.xp, A.dtype, what)
        return A
    from structmat.basic import Dense

    xp = aa.namespace_of(A)
    if getattr(A, "ndim", None) != 2:
        msg = f"{what} expects a 2-d array or a LinearOperator, got shape {tuple(A.shape)}"
        raise ValueError(msg)
    return Dense(aa.floating_input(xp, A, what))


def sketched_result(
    op: LinearOperator,
    err: float,
    norm: float,
    lower: float,
    onto: str,
    params: dict[str, Any],
    products: int,
    notes: str = "",
) -> ProjectionResult:
    """The :class:`ProjectionResult` of a sketched projection (``exact=False``)."""
    probes = params["error_probes"]
    told = (
        f"matrix-free sketch with {products} products: error and norm estimated from "
        f"{probes} Gaussian probes (unbiased for their squares); lower_bound from the "
        "co-range compression; no upper guarantee"
    )
    return ProjectionResult(
        operator=op,
        error=err,
        norm=norm,
        lower_bound=min(lower, err),
        upper_bound=math.inf,
        exact=False,
        onto=onto,
        params=params,
        notes=f"{notes}; {told}" if notes else told,
    )

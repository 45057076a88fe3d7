r"""``project(A, onto, **params)``: the front door to every projection, and the
exact subspace projections (the structure search :func:`~structmat.compare`
lives in ``structmat/compare.py``).

Every projection returns a :class:`~structmat.ProjectionResult`. The linear
classes (circulant, Toeplitz, diagonal, block-diagonal) are subspaces: their
projection is the orthogonal one (entrywise averages or selection), exact and
Frobenius-optimal. Kronecker products and low rank are exact through an SVD
(Van Loan-Pitsianis; Eckart-Young), permutations through an assignment
problem. Monarch and butterfly projections live in their modules and are
dispatched to.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._args import integer, shape_pair
from structmat._dense import dense_input, frobenius, ldexp, normalize, svd_tail, unscale
from structmat._result import ProjectionResult, exact_result
from structmat.basic import Diagonal, Permutation

# the import path from before compare() moved into its own module
from structmat.compare import Comparison, ComparisonRow, compare  # noqa: F401
from structmat.ks._chain_project import _on_support
from structmat.ks._support import off_support
from structmat.linop import LinearOperator, Sum
from structmat.lowrank import LowRank

__all__ = ["project"]


# ---------------------------------------------------------------------- small helpers
def _ints(xp: Any, n: int, device: Any) -> Any:
    return xp.arange(n, dtype=xp.int64, device=device)


def _subspace_error(
    xp: Any, norm2: float, kept: Any, weights: Any, residual: Callable[[], Any], e: int
) -> tuple[float, float]:
    r"""``(||A - Â||_F, ||A||_F)`` for an orthogonal projection ``Â`` onto a subspace.

    ``A`` is known by ``norm2 = ||A / 2^e||_F²`` (from :func:`normalize`); ``kept``
    and ``residual()`` are those of ``A / 2^e``, the results are scaled back.
    Pythagoras, :math:`\|A - \hat A\|^2 = \|A\|^2 - \|\hat A\|^2` with
    :math:`\|\hat A\|^2 = \sum_i w_i |k_i|^2` (``kept`` values repeated
    ``weights`` times; ``weights=None``: once), costs no pass over ``A``. When
    the difference is below ``1e-3 ||A||^2`` the subtraction would lose
    digits, so the error is recomputed from the ``residual()`` matrix.
    """
    mag = xp.abs(kept) ** 2
    kept2 = aa.to_float(xp.sum(mag if weights is None else weights * mag))
    err2 = norm2 - kept2
    err = math.sqrt(err2) if err2 > 1e-3 * norm2 else frobenius(xp, residual())
    return unscale(err, e), unscale(math.sqrt(norm2), e)


# ---------------------------------------------------------------------- exact projections
def _diagonal(A: Any) -> ProjectionResult:
    """Rectangular diagonal: keep ``A[i, i]``; the residual is the off-diagonal part."""
    xp = aa.namespace_of(A)
    m, n = A.shape
    A, e, norm2 = normalize(xp, A, "project onto diagonal")
    d = xp.linalg.diagonal(A)
    dev = aa.device_of(A)

    def residual() -> Any:
        mask = _ints(xp, m, dev)[:, None] == _ints(xp, n, dev)[None, :]
        return xp.where(mask, xp.zeros_like(A), A)

    err, norm = _subspace_error(xp, norm2, d, None, residual, e)
    op: LinearOperator = Diagonal(ldexp(xp, d, e) if e else aa.copy(xp, d))
    if m != n:
        from structmat.basic import Zero
        from structmat.blocks import hstack, vstack

        k = min(m, n)
        if m > n:
            op = vstack([op, Zero((m - k, n), dtype=A.dtype, xp=xp, device=dev)])
        else:
            op = hstack([op, Zero((m, n - k), dtype=A.dtype, xp=xp, device=dev)])
    return exact_result(op, err, norm, "diagonal", {})


def _skew(xp: Any, P: Any, rows: int, width: int) -> Any:
    """``S[i, t] = P[i, i + t]`` for ``t < width``: one reshape of the padded rows, no gather.

    Row ``i`` of ``P`` (shape ``(rows, W)``) starts at flat index ``i W``, so
    viewing the flattened ``P`` with row stride ``W + 1`` shifts row ``i`` by
    ``i``. Needs ``width <= W - rows + 1``.
    """
    W = P.shape[1]
    flat = xp.reshape(P, (-1,))
    pad = xp.zeros((rows,), dtype=P.dtype, device=aa.device_of(P))
    flat = xp.concat((flat, pad))
    return xp.reshape(flat[: rows * (W + 1)], (rows, W + 1))[:, :width]


def _square_size(A: Any, onto: str) -> int:
    """``n`` of an ``n x n`` matrix ``A``; ``ValueError`` for a non-square one."""
    m, n = A.shape
    if m != n:
        msg = f"project onto {onto} needs a square matrix, got shape {(m, n)}"
        raise ValueError(msg)
    return int(n)


def _circulant(A: Any) -> ProjectionResult:
    """Average along wrapped diagonals: ``c_k = mean_i A[i, (i - k) mod n]``."""
    xp = aa.namespace_of(A)
    n = _square_size(A, "circulant")
    A, e, norm2 = normalize(xp, A, "project onto circulant")
    # B[i, t] = [A, A][i, i + 1 + t] = A[i, (i + 1 + t) mod n]: wrapped diagonal k = n - 1 - t
    B = _skew(xp, xp.concat((A[:, 1:], A), axis=1), n, n)
    means = xp.mean(B, axis=0)
    err, norm = _subspace_error(xp, norm2, means, n, lambda: B - means[None, :], e)
    from structmat.convolution import Circulant

    return exact_result(Circulant(ldexp(xp, xp.flip(means), e)), err, norm, "circulant", {})


def _toeplitz(A: Any) -> ProjectionResult:
    """Average along diagonals (rectangular): ``t_d = mean_{i-j=d} A[i, j]``."""
    xp = aa.namespace_of(A)
    m, n = A.shape
    dev = aa.device_of(A)
    A, e, norm2 = normalize(xp, A, "project onto toeplitz")
    # B[i, t] = A[i, i + t - (m-1)] (zero outside A): diagonal i - j = m - 1 - t
    Z = xp.zeros((m, m - 1), dtype=A.dtype, device=dev)
    B = _skew(xp, xp.concat((Z, A, Z), axis=1), m, m + n - 1)
    t = np.arange(m + n - 1)
    counts = np.minimum(np.minimum(t + 1, m + n - 1 - t), min(m, n))
    means = xp.sum(B, axis=0) / xp.asarray(counts.astype(np.float64), dtype=A.dtype, device=dev)
    weights = xp.asarray(counts.astype(np.float64), dtype=aa.real_dtype(xp, A.dtype), device=dev)

    def residual() -> Any:
        i = xp.arange(m, device=dev)[:, None]
        j = xp.arange(m + n - 1, device=dev)[None, :] + i - (m - 1)
        valid = (j >= 0) & (j < n)
        return xp.where(valid, B - means[None, :], xp.zeros_like(B))

    err, norm = _subspace_error(xp, norm2, means, weights, residual, e)
    from structmat.convolution import Toeplitz

    diags = ldexp(xp, means, e)
    return exact_result(Toeplitz(xp.flip(diags[:m]), diags[m - 1 :]), err, norm, "toeplitz", {})


def _tiling(sizes: Any, shape: tuple[int, int], what: str) -> list[tuple[int, int]]:
    if isinstance(sizes, str) or not isinstance(sizes, Sequence) or len(sizes) == 0:
        msg = f"{what}: sizes must be a non-empty list of (m_i, n_i), got {sizes!r}"
        raise ValueError(msg)
    out = [shape_pair(s, "each block size", what) for s in sizes]
    tot = (sum(s[0] for s in out), sum(s[1] for s in out))
    if tot != tuple(shape):
        msg = f"{what}: blocks {out} do not tile the matrix: they cover {tot}, A has shape {tuple(shape)}"
        raise ValueError(msg)
    return out


def _diagonal_blocks(
    shape: tuple[int, int], nblocks: Any, sizes: Any, what: str
) -> tuple[list[tuple[int, int]], dict[str, Any]]:
    """The block shapes of ``project(A, "block_diagonal", ...)`` and the params reporting them.

    Exactly one of ``nblocks`` (equal blocks; it must divide both sides) and
    ``sizes`` (a list of ``(m_i, n_i)`` tiling ``shape``) is given.

    Examples
    --------
    >>> _diagonal_blocks((6, 4), 2, None, "project")
    ([(3, 2), (3, 2)], {'nblocks': 2})
    """
    m, n = (int(v) for v in shape)
    if (nblocks is None) == (sizes is None):
        msg = f"{what}: give exactly one of nblocks=int or sizes=[(m_i, n_i), ...]"
        raise ValueError(msg)
    if nblocks is not None:
        k = integer(nblocks, "nblocks", what)
        if m % k or n % k:
            msg = f"{what}: nblocks={k} does not tile a matrix of shape {(m, n)} (must divide both sides)"
            raise ValueError(msg)
        return [(m // k, n // k)] * k, {"nblocks": k}
    blocks = _tiling(sizes, (m, n), what)
    return blocks, {"sizes": blocks}


def _block_diagonal(A: Any, nblocks: Any = None, sizes: Any = None) -> ProjectionResult:
    """Keep the diagonal blocks; the residual is everything off them."""
    from structmat.blocks import BlockDiagonal

    what = "project onto block_diagonal"
    xp = aa.namespace_of(A)
    dev = aa.device_of(A)
    blocks, params = _diagonal_blocks(A.shape, nblocks, sizes, what)
    A, e, norm2 = normalize(xp, A, what)
    if len(set(blocks)) == 1:
        # Equal blocks: the one-factor KS projection onto KS(k, mb, nb, 1), the entries of
        # A on the factor's support (a gather of them); the error is the energy off it.
        pattern = (len(blocks), *blocks[0], 1)
        stack = xp.reshape(_on_support(xp, A, pattern), pattern[:3])
        kept: Any = stack
        op = BlockDiagonal(ldexp(xp, stack, e))

        def residual() -> Any:
            return off_support(A, pattern)

    else:
        r0 = np.cumsum([0] + [b[0] for b in blocks])
        c0 = np.cumsum([0] + [b[1] for b in blocks])
        parts = [
            aa.copy(xp, A[int(r0[b]) : int(r0[b + 1]), int(c0[b]) : int(c0[b + 1])])
            for b in range(len(blocks))
        ]
        kept = xp.concat([xp.reshape(b, (-1,)) for b in parts])
        op = BlockDiagonal([ldexp(xp, b, e) for b in parts])

        def residual() -> Any:
            ids = np.arange(len(blocks))
            row_id = xp.asarray(np.repeat(ids, [b[0] for b in blocks]), device=dev)
            col_id = xp.asarray(np.repeat(ids, [b[1] for b in blocks]), device=dev)
            inside = row_id[:, None] == col_id[None, :]
            return xp.where(inside, xp.zeros_like(A), A)

    err, norm = _subspace_error(xp, norm2, kept, None, residual, e)
    return exact_result(op, err, norm, "block_diagonal", params)


def _kron_shapes(shapes: Any, shape: tuple[int, int], what: str) -> tuple[int, int, int, int]:
    try:
        (m1, n1), (m2, n2) = shapes
        dims = [m1, n1, m2, n2]
    except (TypeError, ValueError):
        msg = f"{what}: shapes must be ((m1, n1), (m2, n2)), got {shapes!r}"
        raise ValueError(msg) from None
    if (
        not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in dims)
        or min(int(v) for v in dims) < 1
    ):
        msg = f"{what}: shapes must hold ints >= 1, got {shapes!r}"
        raise ValueError(msg)
    if (m1 * m2, n1 * n2) != tuple(shape):
        msg = (
            f"{what}: shapes {shapes!r} do not tile the matrix: kron gives "
            f"{(m1 * m2, n1 * n2)}, A has shape {tuple(shape)}"
        )
        raise ValueError(msg)
    return int(m1), int(n1), int(m2), int(n2)


def _kronecker(A: Any, shapes: Any = None, rank: Any = 1) -> ProjectionResult:
    r"""Van Loan-Pitsianis: the rearrangement turns ``B ⊗ C`` into ``vec(B) vec(C)ᵀ``."""
    from structmat.blocks import Kronecker

    what = "project onto kronecker"
    if shapes is None:
        msg = f"{what} needs shapes=((m1, n1), (m2, n2))"
        raise ValueError(msg)
    xp = aa.namespace_of(A)
    m1, n1, m2, n2 = _kron_shapes(shapes, A.shape, what)
    r = integer(rank, "rank", what)
    if r > min(m1 * n1, m2 * n2):
        msg = f"{what}: rank must be <= min(m1*n1, m2*n2) = {min(m1 * n1, m2 * n2)}, got {r}"
        raise ValueError(msg)
    A, e, _ = normalize(xp, A, what)
    # R[i1*n1 + j1, i2*n2 + j2] = A[i1*m2 + i2, j1*n2 + j2]
    R = xp.reshape(
        xp.permute_dims(xp.reshape(A, (m1, m2, n1, n2)), (0, 2, 1, 3)), (m1 * n1, m2 * n2)
    )
    U, S, Vh = xp.linalg.svd(R, full_matrices=False)
    root = xp.astype(xp.sqrt(S[:r]), A.dtype)
    # each factor takes half of the scale 2^e back
    Bs = ldexp(xp, xp.reshape(xp.matrix_transpose(U[:, :r] * root[None, :]), (r, m1, n1)), e // 2)
    Cs = ldexp(xp, xp.reshape(Vh[:r, :] * root[:, None], (r, m2, n2)), e - e // 2)
    terms = [Kronecker(Bs[k, ...], Cs[k, ...]) for k in range(r)]
    op: LinearOperator = terms[0] if r == 1 else Sum(*terms)
    err, norm = svd_tail(xp, S, r)
    params = {"shapes": ((m1, n1), (m2, n2)), "rank": r}
    return exact_result(op, unscale(err, e), unscale(norm, e), "kronecker", params)


def _permutation(A: Any) -> ProjectionResult:
    """Nearest permutation: maximize ``Re Σ_i A[i, idx_i]`` (Hungarian algorithm, on the host)."""
    from scipy.optimize import linear_sum_assignment

    xp = aa.namespace_of(A)
    n = _square_size(A, "permutation")
    H = aa.to_host(A)  # the one host transfer (n*n values)
    # The assignment maximizes a sum of entries: solved for H / 2^e (the same optimum,
    # no overflow in its sums); the error ||A - P|| from the unscaled residual.
    host = aa.namespace_of(H)
    Hs, _, _ = normalize(host, H, "project onto permutation")
    rows, cols = linear_sum_assignment(np.real(Hs), maximize=True)
    idx = np.empty(n, dtype=np.int64)
    idx[rows] = cols
    R = np.array(H, dtype=np.result_type(H.dtype, np.float64), copy=True)
    R[np.arange(n), idx] -= 1
    err = frobenius(host, R)
    op = Permutation(aa.to_namespace(idx, xp, aa.device_of(A)), dtype=A.dtype)
    notes = "assignment solved on the host (scipy.optimize.linear_sum_assignment)"
    return exact_result(op, err, frobenius(host, H), "permutation", {}, notes)


# ---------------------------------------------------------------------- dispatch
def _monarch(
    A: Any, nblocks: Any = None, rank: Any = 1, engine: Any = "auto", **kw: Any
) -> ProjectionResult:
    from structmat.monarch import Monarch

    return Monarch.project(A, nblocks=nblocks, rank=rank, engine=engine, **kw)


def _monarch_adjoint(
    A: Any, nblocks: Any = None, rank: Any = 1, engine: Any = "auto", **kw: Any
) -> ProjectionResult:
    from structmat.monarch import Monarch

    return Monarch.project_adjoint(A, nblocks=nblocks, rank=rank, engine=engine, **kw)


def _butterfly(
    A: Any, radices: Any = None, permutation: Any = None, certificate: bool = True
) -> ProjectionResult:
    from structmat.butterfly import Butterfly

    return Butterfly.project(A, radices=radices, permutation=permutation, certificate=certificate)


def _ks(A: Any, patterns: Any = None, engine: Any = "auto") -> ProjectionResult:
    from structmat.ks import ks_project_chain

    if patterns is None:
        msg = (
            "project onto ks needs patterns=[(a, b, c, d), ...] (leftmost first), "
            "e.g. structmat.ks.chainable(A.shape)"
        )
        raise ValueError(msg)
    return ks_project_chain(A, patterns, engine=engine)


def _lowrank(A: Any, rank: Any = None, **kw: Any) -> ProjectionResult:
    if rank is None:
        msg = "project onto lowrank needs rank=int >= 1"
        raise ValueError(msg)
    return LowRank.project(A, rank, **kw)


_MONARCH_PARAMS = ("nblocks", "rank", "engine", "method", "oversample", "seed", "error_probes")


@dataclass(frozen=True)
class _Method:
    fn: Callable[..., ProjectionResult]
    params: tuple[str, ...]
    dense: bool  # densify a LinearOperator and validate it here


_METHODS: dict[str, _Method] = {
    "monarch": _Method(_monarch, _MONARCH_PARAMS, False),
    "monarch_adjoint": _Method(_monarch_adjoint, _MONARCH_PARAMS, False),
    "butterfly": _Method(_butterfly, ("radices", "permutation", "certificate"), False),
    "ks": _Method(_ks, ("patterns", "engine"), True),
    "lowrank": _Method(
        _lowrank,
        ("rank", "method", "oversample", "power_iterations", "seed", "error_probes"),
        False,
    ),
    "kronecker": _Method(_kronecker, ("shapes", "rank"), True),
    "circulant": _Method(_circulant, (), True),
    "toeplitz": _Method(_toeplitz, (), True),
    "diagonal": _Method(_diagonal, (), True),
    "block_diagonal": _Method(_block_diagonal, ("nblocks", "sizes"), True),
    "permutation": _Method(_permutation, (), True),
}

_CLASS_NAMES = {
    "Monarch": "monarch",
    "MonarchAdjoint": "monarch_adjoint",
    "Butterfly": "butterfly",
    "LowRank": "lowrank",
    "Kronecker": "kronecker",
    "Circulant": "circulant",
    "Toeplitz": "toeplitz",
    "Diagonal": "diagonal",
    "BlockDiagonal": "block_diagonal",
    "Permutation": "permutation",
}


def _resolve(onto: Any) -> str:
    if isinstance(onto, type) and issubclass(onto, LinearOperator):
        name = _CLASS_NAMES.get(onto.__name__)
        if name is None:
            msg = (
                f"project: no projection onto class {onto.__name__}; valid classes: "
                f"{', '.join(_CLASS_NAMES)}"
            )
            raise ValueError(msg)
        return name
    if isinstance(onto, str) and onto in _METHODS:
        return onto
    msg = f"project: unknown onto={onto!r}; valid names: {', '.join(_METHODS)}"
    raise ValueError(msg)


def project(A: Any, /, onto: Any, **params: Any) -> ProjectionResult:
    r"""The Frobenius-nearest member of a structured class to ``A``.

    Parameters
    ----------
    A : array of shape (m, n) or LinearOperator
        Any array-API backend. A ``LinearOperator`` is densified with
        ``A.to_dense()`` for every class except ``lowrank`` with
        ``method="randomized"`` (which only multiplies by ``A`` and ``Aᴴ``).
    onto : str or class
        ``"monarch"``, ``"monarch_adjoint"``, ``"butterfly"``, ``"ks"``,
        ``"lowrank"``, ``"kronecker"``, ``"circulant"``, ``"toeplitz"``, ``"diagonal"``,
        ``"block_diagonal"``, ``"permutation"``, or the operator class
        (``Monarch``, ``LowRank``, ``Kronecker``, ``BlockDiagonal``...).
    **params
        The class parameters (docs/projections.md):

        - monarch, monarch_adjoint: ``nblocks=int or (K, J)``, ``rank=1``,
          ``engine="auto" | "mixed" | "exact" | "subspace" | "eigh"``
          (:meth:`structmat.Monarch.project`);
        - butterfly: ``radices=None | (b_0, b_1, ...)``,
          ``permutation=None | "bitrev" | "digitrev" | indices``,
          ``certificate=True`` (:meth:`structmat.Butterfly.project`);
        - ks: ``patterns=[(a, b, c, d), ...]``, a chainable chain leftmost
          first, ``engine="auto" | "subspace" | "eigh" | "svd"``
          (:func:`structmat.ks.ks_project_chain`);
        - lowrank: ``rank``, ``method="svd" | "randomized"``, ``oversample``,
          ``power_iterations``, ``seed``, ``error_probes``
          (:meth:`structmat.LowRank.project`);
        - kronecker: ``shapes=((m1, n1), (m2, n2))``, ``rank=1``;
        - block_diagonal: ``nblocks=int`` (equal blocks) or
          ``sizes=[(m_i, n_i), ...]``;
        - circulant, toeplitz, diagonal, permutation: none.

    Returns
    -------
    ProjectionResult
        ``operator``, ``error = ||A - Â||_F``, ``relative_error``,
        ``lower_bound``, ``upper_bound``, ``exact`` and ``summary()``.

    Raises
    ------
    ValueError
        NaN or Inf in ``A``, a rank below 1, blocks or shapes that do not
        tile ``A``, an unknown ``onto`` (the message lists the valid names)
        or an unknown parameter (the message lists the accepted ones).

    Notes
    -----
    Exact projections (``exact=True``; ``error == lower_bound ==
    upper_bound``, the distance from ``A`` to the class):

    - **circulant** (square) and **toeplitz** (any shape) are subspaces with
      the orthogonal basis of (wrapped) diagonal indicator matrices, so the
      projection replaces each (wrapped) diagonal by its mean:
      :math:`c_k = \frac1n\sum_i A_{i,(i-k) \bmod n}` and
      :math:`t_d = \operatorname{mean}_{i-j=d} A_{ij}`. Returns
      ``Circulant(c)`` / ``Toeplitz(c, r)``.
    - **diagonal** (any shape) keeps :math:`A_{ii}` (``Diagonal``, padded
      with a ``Zero`` block when rectangular); **block_diagonal** keeps the
      diagonal blocks (``BlockDiagonal``).
    - **kronecker** (Van Loan-Pitsianis): the rearrangement
      :math:`\mathcal R(A)[i_1 n_1 + j_1, i_2 n_2 + j_2] = A[i_1 m_2 + i_2,
      j_1 n_2 + j_2]` is an isometry with
      :math:`\mathcal R(B \otimes C) = \mathrm{vec}(B)\,\mathrm{vec}(C)^T`,
      so the best sum of ``rank`` Kronecker products is the truncated SVD of
      :math:`\mathcal R(A)`; error :math:`\sqrt{\sum_{k>r}\sigma_k^2}`.
      Returns ``Kronecker(B, C)`` (``np.kron`` convention) or a ``Sum``.
    - **permutation** (square):
      :math:`\|A - P\|_F^2 = \|A\|_F^2 - 2\,\mathrm{Re}\sum_i A_{i,
      \pi(i)} + n`, so the nearest ``P`` solves the linear assignment
      problem maximizing :math:`\sum_i \mathrm{Re} A_{i,\pi(i)}`
      (``scipy.optimize.linear_sum_assignment``, on the host: ``A`` is
      copied there once, the index array back).
    - **lowrank** ``method="svd"``: Eckart-Young.

    For the subspace classes the error is computed from the residual
    (entries off the structure, or deviations from the diagonal means), not
    by subtracting norms, so it stays accurate when ``A`` is close to the
    class.

    Every class gives for ``c * A`` the result for ``A`` times ``c`` (the
    permutation: the same one), also where squares of the entries would
    overflow or underflow: ``A`` whose sum of squares leaves a window inside
    the dtype's range is projected as ``A / 2^e`` (exact) and scaled back;
    inside the window nothing is copied (``structmat/_dense.py``).

    References
    ----------
    C. F. Van Loan, N. Pitsianis, "Approximation with Kronecker products",
    in Linear Algebra for Large Scale and Real-Time Applications (1993).
    H. W. Kuhn, "The Hungarian method for the assignment problem" (1955).

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> rng = np.random.default_rng(0)
    >>> B, C = rng.standard_normal((2, 3)), rng.standard_normal((4, 2))
    >>> res = sm.project(np.kron(B, C), "kronecker", shapes=((2, 3), (4, 2)))
    >>> res.exact, bool(res.error < 1e-12)
    (True, True)
    >>> A = rng.standard_normal((5, 5))
    >>> res = sm.project(A, "toeplitz")
    >>> T = res.operator.to_dense()
    >>> bool(np.isclose(T[3, 1], np.mean([A[2, 0], A[3, 1], A[4, 2]])))
    True
    >>> bool(np.isclose(res.error, np.linalg.norm(A - T)))
    True
    """
    name = _resolve(onto)
    method = _METHODS[name]
    unknown = sorted(set(params) - set(method.params))
    if unknown:
        accepted = ", ".join(method.params) if method.params else "none"
        msg = (
            f"project onto {name}: unknown parameter(s) {', '.join(unknown)}; accepted: {accepted}"
        )
        raise ValueError(msg)
    if type(A).__module__.startswith("dask."):
        from structmat.dask import project as project_on_dask  # lazy: dask is optional

        return project_on_dask(A, name, **params)
    if method.dense:
        A = dense_input(A, f"project onto {name}")
    return method.fn(A, **params)

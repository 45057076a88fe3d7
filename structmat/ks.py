r"""Kronecker-sparse (KS) factors: multiply, adjoint, dense form, two-factor projection.

A KS factor with pattern ``(a, b, c, d)`` has support
:math:`I_a \otimes 1_{b \times c} \otimes I_d`, shape ``(a*b*d, a*c*d)`` and
values ``T`` of shape ``(a, b, c, d)``:

.. math::

    F[i b d + j d + l,\; i c d + k d + l] = T[i, j, k, l].

Monarch, butterfly, block-diagonal and ``I ⊗ B ⊗ I`` matrices are products of
such factors (DESIGN.md §4a):

- butterfly level ``l`` (stride ``s = 2^l``) is ``KS(n/(2s), 2, 2, s)``;
- Monarch is ``KS(1, s, K*r, J) · KS(K, r*J, p, 1)``;
- block-diagonal is ``KS(k, m, n, 1)``; low rank is ``KS(1, m, r, 1) · KS(1, r, n, 1)``.

Everything here works on any array-API namespace and on stacks of inputs, with
no Python loop over blocks. Chains of factors (a butterfly as ``⌈L/q⌉`` fused
radix-``2^q`` factors) run through :func:`ks_chain_matmat` on values in the
matmul layout of :func:`ks_blocked`: one batched matmul per factor, on NumPy
straight between strided views of two reused buffers (no transposes copied).

References
----------
.. [1] Q.-T. Le, L. Zheng, E. Riccietti, R. Gribonval, "Butterfly
   factorization with error guarantees", arXiv:2411.04506 (2024).
.. [2] L. Zheng, E. Riccietti, R. Gribonval, "Efficient identification of
   butterfly sparse matrix factorizations", SIAM J. Math. Data Sci. 5 (2023).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._dense import ldexp_stack, normalize, normalize_stack, unscale
from structmat.linop import LinearOperator, _Converter

__all__ = [
    "KSFactor",
    "ks_blocked",
    "ks_chain_matmat",
    "ks_matmat",
    "ks_project_two",
    "ks_project_two_error",
    "ks_rmatmat",
    "ks_shape",
    "ks_to_dense",
]

Pattern = tuple[int, int, int, int]

# Contraction widths up to this size use broadcast multiply-adds (no transposes);
# wider ones use one batched matmul.
_BROADCAST_MAX_C = 4


# ---------------------------------------------------------------------- helpers
def _conj(xp: Any, x: Any) -> Any:
    return xp.conj(x) if aa.is_complex(xp, x.dtype) else x


def _abs2(xp: Any, x: Any) -> Any:
    """``|x|^2`` as a real array."""
    if aa.is_complex(xp, x.dtype):
        return xp.real(x) ** 2 + xp.imag(x) ** 2
    return x * x


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


# ---------------------------------------------------------------------- multiply
def _ks_apply(xp: Any, T: Any, X: Any) -> Any:
    """``F @ X`` for values ``T`` (a, b, c, d) and ``X`` of shape (B, a*c*d, k)."""
    a, b, c, d = (int(v) for v in T.shape)
    B, _, k = (int(v) for v in X.shape)
    if d == 1:
        # Block diagonal: one batched matmul (B, a, b, c) @ (B, a, c, k).
        Y = xp.matmul(T[:, :, :, 0], xp.reshape(X, (B, a, c, k)))
        return xp.reshape(Y, (B, a * b, k))
    x = xp.reshape(X, (B, a, c, d, k))
    if c <= _BROADCAST_MAX_C:
        # y[., i, j, l, :] = sum_k T[i, j, k, l] x[., i, k, l, :]: c broadcast multiply-adds.
        Y = T[:, :, 0, :, None] * x[:, :, None, 0, :, :]
        for kk in range(1, c):
            Y = Y + T[:, :, kk, :, None] * x[:, :, None, kk, :, :]
        return xp.reshape(Y, (B, a * b * d, k))
    # Wide contraction: (a, d, b, c) @ (B, a, d, c, k) -> (B, a, d, b, k).
    # A contiguous copy of the (small) values keeps the matmul on the BLAS path.
    return _blocked_apply(xp, ks_blocked(T), X)


def ks_blocked(T: Any, /) -> Any:
    """The values ``T`` (a, b, c, d) in the matmul layout ``(a, d, b, c)``, contiguous.

    ``M[i, l] = T[i, :, :, l]`` is the ``b x c`` block that maps the rows
    ``{i c d + k d + l}`` of the input to the rows ``{i b d + j d + l}`` of the
    output; :func:`ks_chain_matmat` consumes factors in this layout.

    Examples
    --------
    >>> import numpy as np
    >>> T = np.arange(24.0).reshape(1, 2, 3, 4)
    >>> M = ks_blocked(T)
    >>> M.shape, bool(M[0, 3, 1, 2] == T[0, 1, 2, 3])
    ((1, 4, 2, 3), True)
    """
    xp, (a, b, c, d) = _check_values(T)
    flat = xp.reshape(xp.permute_dims(T, (0, 3, 1, 2)), (a * d * b * c,))
    if isinstance(flat, np.ndarray):  # NumPy kernels read it through strided views
        flat = flat.copy()
    return xp.reshape(flat, (a, d, b, c))


def _blocked_apply(xp: Any, M: Any, X: Any, out: Any = None) -> Any:
    """``F @ X`` for blocked values ``M`` (a, d, b, c) and ``X`` (B, a*c*d, k), same dtype.

    NumPy: one ``np.matmul`` over the ``(i, l)`` blocks reading ``X`` and
    writing ``out`` (a fresh C-contiguous (B, a*b*d, k) array when ``None``)
    through strided views: every block row is a contiguous run of ``k``
    entries, so the matmul stays on the BLAS path and no transpose is copied.
    Other backends: one batched matmul between two transposes.
    """
    a, d, b, c = (int(v) for v in M.shape)
    B, _, k = (int(v) for v in X.shape)
    if aa.is_numpy(xp):
        if out is None:
            out = np.empty((B, a * b * d, k), dtype=X.dtype)
        if d == 1:
            np.matmul(M[:, 0], np.reshape(X, (B, a, c, k)), out=np.reshape(out, (B, a, b, k)))
        else:
            xin = np.reshape(X, (B, a, c, d, k)).transpose(0, 1, 3, 2, 4)
            yout = np.reshape(out, (B, a, b, d, k)).transpose(0, 1, 3, 2, 4)
            np.matmul(M, xin, out=yout)
        return out
    if d == 1:
        Y = xp.matmul(M[:, 0, ...], xp.reshape(X, (B, a, c, k)))
        return xp.reshape(Y, (B, a * b, k))
    x = xp.permute_dims(xp.reshape(X, (B, a, c, d, k)), (0, 1, 3, 2, 4))
    Y = xp.matmul(M, x)  # (B, a, d, b, k)
    return xp.reshape(xp.permute_dims(Y, (0, 1, 3, 2, 4)), (B, a * b * d, k))


def ks_chain_matmat(blocked: Any, X: Any, /) -> Any:
    r"""Apply a chain of KS factors, first factor first: ``F_m ⋯ F_2 F_1 X``.

    Parameters
    ----------
    blocked : sequence of arrays of shape (a, d, b, c)
        The factors in the layout of :func:`ks_blocked`, in the order they
        are applied, all of ``X``'s dtype.
    X : array of shape (B, n, k)
        A stack of inputs (``n = a*c*d`` of the first factor).

    Returns
    -------
    array of shape (B, m, k)
        A new array (``X`` is not modified).

    Notes
    -----
    On NumPy each factor is one ``np.matmul`` whose input and output are
    strided views of C-contiguous buffers (two buffers, used in turn), so a
    chain of ``m`` factors makes ``m`` passes over the data and no copies.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> T1, T2 = rng.standard_normal((4, 2, 2, 1)), rng.standard_normal((1, 4, 4, 2))
    >>> X = rng.standard_normal((1, 8, 3))
    >>> Y = ks_chain_matmat([ks_blocked(T1), ks_blocked(T2)], X)
    >>> bool(np.allclose(Y[0], ks_to_dense(T2) @ ks_to_dense(T1) @ X[0]))
    True
    """
    xp = aa.namespace_of(X)
    if not aa.is_numpy(xp):
        for M in blocked:
            X = _blocked_apply(xp, M, X)
        return X
    B, _, k = (int(v) for v in X.shape)
    X = np.ascontiguousarray(X)
    spare: Any = None  # a buffer of ours that the next factor may overwrite
    own = False  # whether X is ours (never overwrite the caller's input)
    for M in blocked:
        a, d, b, _ = (int(v) for v in M.shape)
        out = spare if spare is not None and spare.shape == (B, a * b * d, k) else None
        Y = _blocked_apply(xp, M, X, out)
        spare = X if own else None
        X, own = Y, True
    return X


def _promote(xp: Any, T: Any, X: Any) -> tuple[Any, Any]:
    dtype = xp.result_type(T.dtype, X.dtype)
    if T.dtype != dtype:
        T = xp.astype(T, dtype)
    if X.dtype != dtype:
        X = xp.astype(X, dtype)
    return T, X


def ks_matmat(T: Any, X: Any, /) -> Any:
    r"""Multiply the KS factor with values ``T`` by ``X``.

    Parameters
    ----------
    T : array of shape (a, b, c, d)
        The factor's values, ``F[i*b*d + j*d + l, i*c*d + k*d + l] = T[i, j, k, l]``.
    X : array of shape (a*c*d,), (a*c*d, k) or (..., a*c*d, k)
        Leading dimensions are a batch.

    Returns
    -------
    array of shape (a*b*d,), (a*b*d, k) or (..., a*b*d, k)
        ``F @ X`` in the promoted dtype.

    Notes
    -----
    View ``x`` as ``(a, c, d)``; then ``y[i, j, l] = Σ_k T[i, j, k, l] x[i, k, l]``.
    For ``d = 1`` this is one batched matmul; for narrow ``c`` (butterflies:
    ``c = 2``) it is ``c`` broadcast multiply-adds; otherwise one batched matmul
    between two transposes.

    Examples
    --------
    >>> import numpy as np
    >>> T = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    >>> X = np.ones((40, 2))
    >>> bool(np.allclose(ks_matmat(T, X), ks_to_dense(T) @ X))
    True
    """
    xp, (a, b, c, d) = _check_values(T)
    n = a * c * d
    if X.ndim == 0 or X.shape[0 if X.ndim == 1 else -2] != n:
        msg = (
            f"KS factor with pattern {(a, b, c, d)} expects input with {n} rows "
            f"(shape ({n},), ({n}, k) or (..., {n}, k)), got shape {tuple(X.shape)}"
        )
        raise ValueError(msg)
    T, X = _promote(xp, T, X)
    if X.ndim == 1:
        return xp.reshape(_ks_apply(xp, T, xp.reshape(X, (1, n, 1))), (a * b * d,))
    lead = tuple(X.shape[:-2])
    nb = 1
    for v in lead:
        nb *= int(v)
    Y = _ks_apply(xp, T, xp.reshape(X, (nb, n, int(X.shape[-1]))))
    return xp.reshape(Y, (*lead, a * b * d, int(X.shape[-1])))


def _adjoint_values(xp: Any, T: Any) -> Any:
    """Values of ``F^H``: pattern ``(a, c, b, d)``, ``conj(T[i, j, k, l])`` at ``[i, k, j, l]``."""
    return _conj(xp, xp.permute_dims(T, (0, 2, 1, 3)))


def ks_rmatmat(T: Any, X: Any, /) -> Any:
    r"""``F^H @ X`` for the KS factor with values ``T``.

    ``F^H`` is the KS factor with pattern ``(a, c, b, d)`` and values
    ``conj(T)`` with the middle axes swapped.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> T = rng.standard_normal((2, 3, 2, 4)) + 1j * rng.standard_normal((2, 3, 2, 4))
    >>> X = rng.standard_normal((24, 3))
    >>> bool(np.allclose(ks_rmatmat(T, X), ks_to_dense(T).conj().T @ X))
    True
    """
    xp, _ = _check_values(T)
    return ks_matmat(_adjoint_values(xp, T), X)


def ks_to_dense(T: Any, /) -> Any:
    """The dense ``(a*b*d, a*c*d)`` matrix of the KS factor with values ``T``.

    Examples
    --------
    >>> import numpy as np
    >>> ks_to_dense(np.ones((2, 1, 1, 1))).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    xp, (a, _b, c, d) = _check_values(T)
    n = a * c * d
    return ks_matmat(T, xp.eye(n, dtype=T.dtype, device=aa.device_of(T)))


# ---------------------------------------------------------------------- projection
def _groups(left: Pattern, right: Pattern) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group the intermediate indices by their (row set, column set) block.

    Returns ``block`` (block id of each intermediate index ``m``), ``pos``
    (its rank within its group, in increasing ``m``) and ``size`` (group size
    of each block id; 0 for blocks that no index touches). Block ids run over
    ``(i2, i, l, l2)`` in C order, ``(i, l)`` the row set of the left factor's
    column ``m`` and ``(i2, l2)`` the column set of the right factor's row
    ``m``: for the chains of butterflies and Monarch this is the order of
    ``m`` itself, so no gather is needed.
    """
    a1, _, c1, d1 = left
    _, b2, _, d2 = right
    m = np.arange(a1 * c1 * d1)
    i, lo = m // (c1 * d1), m % d1
    i2, l2 = m // (b2 * d2), m % d2
    a2 = right[0]
    block = ((i2 * a1 + i) * d1 + lo) * d2 + l2
    size = np.bincount(block, minlength=a2 * a1 * d1 * d2)
    order = np.argsort(block, kind="stable")
    first = np.concatenate(([0], np.cumsum(size)[:-1]))
    pos = np.empty_like(m)
    pos[order] = np.arange(m.size) - first[block[order]]
    return block, pos, size


def _check_two(A: Any, left: Any, right: Any, what: str) -> tuple[Any, Pattern, Pattern]:
    xp = aa.namespace_of(A)
    left = _check_pattern(left, "pattern_left")
    right = _check_pattern(right, "pattern_right")
    a1, b1, c1, d1 = left
    a2, b2, c2, d2 = right
    if a1 * c1 * d1 != a2 * b2 * d2:
        msg = (
            f"{what}: inner dimensions differ, left pattern {left} has {a1 * c1 * d1} "
            f"columns but right pattern {right} has {a2 * b2 * d2} rows"
        )
        raise ValueError(msg)
    shape = (a1 * b1 * d1, a2 * c2 * d2)
    if A.ndim < 2 or tuple(A.shape[-2:]) != shape:
        msg = f"{what}: patterns {left} and {right} need A of shape (..., {shape[0]}, {shape[1]}), got {tuple(A.shape)}"
        raise ValueError(msg)
    if not xp.isdtype(A.dtype, ("real floating", "complex floating")):
        msg = f"{what}: A must be a floating array, got dtype {aa.dtype_name(A.dtype)}"
        raise TypeError(msg)
    aa.check_floating_dtype(xp, A.dtype, what)
    return xp, left, right


def _blocks(xp: Any, A: Any, left: Pattern, right: Pattern) -> Any:
    """``A`` (nb, M, N) cut into its ``(i2, i, l, l2)`` blocks: shape (nb, a2, a1, d1, d2, b1, c2).

    A view (no copy) where the backend allows; the block axes are not merged,
    which would force a copy.
    """
    a1, b1, _, d1 = left
    a2, _, c2, d2 = right
    nb = int(A.shape[0])
    A6 = xp.reshape(A, (nb, a1, b1, d1, a2, c2, d2))
    return xp.permute_dims(A6, (0, 4, 1, 3, 6, 2, 5))


def _re(xp: Any, x: Any) -> Any:
    return xp.real(x) if aa.is_complex(xp, x.dtype) else x


def _top_vector2(xp: Any, p: Any, q: Any, z: Any, dtype: Any) -> tuple[Any, Any]:
    """Unit top eigenvector ``(u0, u1)`` of ``[[p, z], [conj z, q]]`` (elementwise, closed form).

    ``(λ - q, conj z)`` when ``p >= q`` and ``(z, λ - p)`` otherwise, both
    free of cancellation; ``(1, 0)`` for a zero matrix.
    """
    half = (p - q) / 2
    root = xp.sqrt(half * half + _abs2(xp, z))
    big = xp.astype(xp.abs(half) + root, dtype)
    top = p >= q
    v0 = xp.where(top, big, z)
    v1 = xp.where(top, _conj(xp, z), big)
    norm = xp.sqrt(_abs2(xp, v0) + _abs2(xp, v1))
    zero = norm == 0
    safe = xp.astype(xp.where(zero, xp.ones_like(norm), norm), dtype)
    u0 = xp.where(zero, xp.ones_like(v0), v0 / safe)
    u1 = xp.where(zero, xp.zeros_like(v1), v1 / safe)
    return u0, u1


def _rank_one_two_rows(xp: Any, blocks: Any) -> tuple[Any, Any, Any]:
    r"""Best rank-one approximation of each ``2 x w`` block, in closed form.

    Returns ``u`` (..., 2) (unit top left singular vector), ``h = u^H N``
    (..., w) (so ``N ≈ u h``) and the discarded energy ``||u_⊥^H N||^2``
    computed directly (accurate to rounding of ``||N||``, no cancellation).
    """
    dtype = blocks.dtype
    x0, x1 = blocks[..., 0, :], blocks[..., 1, :]
    p = _re(xp, xp.vecdot(x0, x0))
    q = _re(xp, xp.vecdot(x1, x1))
    z = xp.vecdot(x1, x0)  # Σ x0 conj(x1)
    u0, u1 = _top_vector2(xp, p, q, z, dtype)
    # One batched product with [u^H; u_⊥^H] gives h = u^H N and the lost part u_⊥^H N.
    W = xp.stack(
        (xp.stack((_conj(xp, u0), _conj(xp, u1)), axis=-1), xp.stack((-u1, u0), axis=-1)),
        axis=-2,
    )
    out = xp.matmul(W, blocks)
    h, perp = out[..., 0, :], out[..., 1, :]
    discarded = _re(xp, xp.vecdot(perp, perp))
    return xp.stack((u0, u1), axis=-1), h, discarded


def ks_project_two(A: Any, pattern_left: Any, pattern_right: Any, /) -> tuple[Any, Any, Any]:
    r"""Closest product ``X Y`` of two KS factors to ``A`` (Frobenius norm, exact).

    Parameters
    ----------
    A : array of shape (M, N) or (..., M, N)
        ``M = a1*b1*d1`` and ``N = a2*c2*d2``; leading dimensions are a batch
        of independent problems.
    pattern_left, pattern_right : (int, int, int, int)
        Patterns ``(a1, b1, c1, d1)`` of ``X`` and ``(a2, b2, c2, d2)`` of
        ``Y``, with ``a1*c1*d1 == a2*b2*d2``.

    Returns
    -------
    T_left : array of shape (..., a1, b1, c1, d1)
    T_right : array of shape (..., a2, b2, c2, d2)
    error : float or array of shape (...)
        ``||A - X Y||_F`` (a Python float for 2-d ``A``).

    Notes
    -----
    Column ``m = i c1 d1 + k d1 + l`` of ``X`` lives on the rows
    ``{i b1 d1 + j d1 + l}`` (set ``(i, l)``); row ``m = i2 b2 d2 + j2 d2 + l2``
    of ``Y`` lives on the columns ``{i2 c2 d2 + k2 d2 + l2}`` (set ``(i2, l2)``).
    ``X Y = Σ_m X[:, m] Y[m, :]`` is a sum of rank-one matrices supported on
    the blocks ``(i, l) x (i2, l2)``. The row sets partition the rows and the
    column sets partition the columns, so the blocks of different groups are
    disjoint: the problem splits into one rank-``|P|`` approximation of
    ``A[R_P, C_P]`` per group ``P`` (truncated SVD, Eckart-Young), and entries
    outside every block are lost. This holds for *every* pair of KS patterns
    with matching inner size (the rank-one supports of one group coincide and
    those of different groups are disjoint) [1]_.

    The left factor carries the singular vectors (orthonormal columns within
    each group: the "orthonormalized" form of [1]_) and the right factor the
    singular values times ``Vᴴ``. One batched SVD serves all groups; when
    every group has size one and ``b1 = 2`` (butterfly levels) a closed-form
    2x2 eigen-solve replaces it. The squared error is the sum of the discarded
    ``sigma^2`` plus the energy outside the blocks.

    References
    ----------
    .. [1] Q.-T. Le, L. Zheng, E. Riccietti, R. Gribonval, "Butterfly
       factorization with error guarantees", arXiv:2411.04506 (2024).

    Examples
    --------
    Monarch-like split: ``KS(1, 4, 4, 4) · KS(4, 4, 4, 1)`` of a 16x16 matrix.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> TL, TR = rng.standard_normal((1, 4, 4, 4)), rng.standard_normal((4, 4, 4, 1))
    >>> A = ks_to_dense(TL) @ ks_to_dense(TR)
    >>> XL, XR, err = ks_project_two(A, (1, 4, 4, 4), (4, 4, 4, 1))
    >>> bool(np.allclose(ks_to_dense(XL) @ ks_to_dense(XR), A)), err < 1e-12
    (True, True)
    """
    xp, left, right = _check_two(A, pattern_left, pattern_right, "ks_project_two")
    a1, b1, c1, d1 = left
    a2, b2, c2, d2 = right
    lead = tuple(int(v) for v in A.shape[:-2])
    nb = int(np.prod(lead)) if lead else 1
    A3 = xp.reshape(A, (nb, int(A.shape[-2]), int(A.shape[-1])))
    # Each problem projected as A / 2^e (no over/underflow in the squares); the right
    # factor (singular values times Vᴴ) and the error take 2^e back.
    A3, scale_e = normalize_stack(xp, A3, "ks_project_two")
    block, pos, size = _groups(left, right)
    G = size.size
    N = block.size
    dev = aa.device_of(A)
    blocks = _blocks(xp, A3, left, right)  # (nb, a2, a1, d1, d2, b1, c2)
    rdt = aa.real_dtype(xp, A.dtype)
    in_order = bool(np.all(size == 1)) and bool(np.all(block == np.arange(N)))
    if b1 == 2 and bool(np.all(size == 1)):
        u, h, discarded = _rank_one_two_rows(xp, blocks)
        err2 = xp.sum(xp.reshape(discarded, (nb, G)), axis=-1)
        cols = xp.reshape(u, (nb, G, b1))
        rows = xp.reshape(h, (nb, G, c2))
        if not in_order:
            idx = xp.asarray(block, device=dev)
            cols = xp.take(cols, idx, axis=1)
            rows = xp.take(rows, idx, axis=1)
    else:
        q = min(b1, c2)
        U, S, Vh = xp.linalg.svd(xp.reshape(blocks, (nb, G, b1, c2)), full_matrices=False)
        keep_np = np.arange(q)[None, :] < size[:, None]  # (G, q)
        keep = xp.asarray(keep_np, device=dev)
        S2 = S * S
        err2 = xp.sum(xp.sum(xp.where(keep, xp.zeros_like(S2), S2), axis=-1), axis=-1)
        flat = block * q + np.minimum(pos, q - 1)
        idx = xp.asarray(flat, device=dev)
        live = xp.asarray((pos < q)[:, None], device=dev)
        Ut = xp.reshape(xp.permute_dims(U, (0, 1, 3, 2)), (nb, G * q, b1))
        SV = xp.reshape(xp.astype(S, A.dtype)[..., None] * Vh, (nb, G * q, c2))
        cols = xp.take(Ut, idx, axis=1)
        rows = xp.take(SV, idx, axis=1)
        cols = xp.where(live, cols, xp.zeros_like(cols))
        rows = xp.where(live, rows, xp.zeros_like(rows))
    # cols: (nb, N, b1) with m = i c1 d1 + k d1 + l -> T_left[i, j, k, l]
    TL = xp.permute_dims(xp.reshape(cols, (nb, a1, c1, d1, b1)), (0, 1, 4, 2, 3))
    # rows: (nb, N, c2) with m = i2 b2 d2 + j2 d2 + l2 -> T_right[i2, j2, k2, l2]
    TR = xp.permute_dims(xp.reshape(rows, (nb, a2, b2, d2, c2)), (0, 1, 2, 4, 3))
    TR = ldexp_stack(xp, TR, scale_e)
    TL = xp.reshape(TL, (*lead, a1, b1, c1, d1))
    TR = xp.reshape(TR, (*lead, a2, b2, c2, d2))
    err = ldexp_stack(xp, xp.sqrt(xp.astype(err2, rdt)), scale_e)
    err = xp.reshape(err, lead)
    if not lead:
        return TL, TR, float(err)
    return TL, TR, err


def ks_project_two_error(
    A: Any, pattern_left: Any, pattern_right: Any, /, *, exact: bool = True, iterations: int = 6
) -> tuple[float, float, float]:
    r"""The error of :func:`ks_project_two` for a 2-d ``A``, with rigorous bounds.

    Computes only the error (no factors), from the Gram matrix of each
    block's smaller side: cheaper than the SVD, and what a certificate needs.

    Parameters
    ----------
    A : array of shape (M, N)
    pattern_left, pattern_right : (int, int, int, int)
        As in :func:`ks_project_two`.
    exact : bool
        ``True``: eigenvalues of every Gram matrix (``eigvalsh``).
        ``False`` (only when every group has size one): ``iterations`` steps
        of batched power iteration on the Gram matrices instead, with the
        bounds below; much cheaper for wide blocks.
    iterations : int
        Power iterations when ``exact=False``.

    Returns
    -------
    error : float
        The computed (estimated when ``exact=False``) ``min ||A - X Y||_F``.
    lower, upper : float
        Bounds on the exact value. They account for the worst-case rounding
        of the Gram matrices and eigenvalues (``(2w + 8m + 16) eps ||A||²``
        on the squared error, ``w``/``m`` the longer/shorter block side), so
        ``lower <= exact <= upper`` holds in floating point too. With
        ``exact=False`` they also bound the top eigenvalue ``λ`` of each
        Gram matrix ``G``: ``θ = yᴴGy <= λ`` for the unit power-iteration
        vector ``y``, and, with ``r = Gy - θy`` and ``μ = tr G - θ >=
        λ_max(PGP)`` (``P = I - yyᴴ``, ``G`` positive semi-definite),
        ``λ <= (θ + μ)/2 + sqrt(((θ - μ)/2)² + ||r||²)`` (compression of
        ``G`` onto ``[y, y^⊥]``). Tight for nearly rank-one blocks; loose
        (``lower`` small) for blocks far from rank one.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.random.default_rng(0).standard_normal((16, 16))
    >>> e, lo, hi = ks_project_two_error(A, (1, 4, 4, 4), (4, 4, 4, 1))
    >>> _, _, e2 = ks_project_two(A, (1, 4, 4, 4), (4, 4, 4, 1))
    >>> bool(lo <= e <= hi and abs(e - e2) < 1e-10)
    True
    >>> e3, lo3, hi3 = ks_project_two_error(A, (1, 4, 4, 4), (4, 4, 4, 1), exact=False)
    >>> bool(lo3 <= e2 <= hi3)
    True
    """
    xp, left, right = _check_two(A, pattern_left, pattern_right, "ks_project_two_error")
    if A.ndim != 2:
        msg = f"ks_project_two_error expects a 2-d A, got shape {tuple(A.shape)}"
        raise ValueError(msg)
    _, b1, _, _ = left
    _, _, c2, _ = right
    A, scale_e, _ = normalize(xp, A, "ks_project_two_error")  # bounds of A / 2^e, scaled back
    _, _, size = _groups(left, right)
    G = size.size
    dev = aa.device_of(A)
    blocks = xp.reshape(_blocks(xp, A[None, ...], left, right), (G, b1, c2))
    m, w = min(b1, c2), max(b1, c2)
    if b1 <= c2:
        gram = xp.matmul(blocks, _conj(xp, xp.matrix_transpose(blocks)))
    else:
        gram = xp.matmul(_conj(xp, xp.matrix_transpose(blocks)), blocks)
    total = float(xp.sum(_abs2(xp, A)))
    unit = aa.eps(xp, A.dtype)
    guard = (2 * w + 8 * m + 16) * unit * total
    if exact or not bool(np.all(size == 1)):
        lam = xp.linalg.eigvalsh(gram)  # ascending, (G, m)
        lam = xp.where(lam > 0, lam, xp.zeros_like(lam))
        keep = xp.asarray(np.arange(m)[None, ::-1] < size[:, None], device=dev)
        err2 = float(xp.sum(xp.where(keep, xp.zeros_like(lam), lam)))
        lo2, hi2 = err2 - guard, err2 + guard
    else:
        rng = np.random.default_rng(0)
        y0 = rng.standard_normal(m) + 0.5
        y = xp.asarray(np.broadcast_to(y0 / np.linalg.norm(y0), (G, m)).copy(), device=dev)
        y = xp.astype(y, A.dtype)[..., None]  # (G, m, 1)
        for _ in range(max(int(iterations), 1)):
            y = xp.matmul(gram, y)
            nrm = xp.sqrt(xp.sum(_abs2(xp, y), axis=-2, keepdims=True))
            zero = nrm == 0
            nrm = xp.where(zero, xp.ones_like(nrm), nrm)
            y = y / xp.astype(nrm, A.dtype)
            first = xp.astype(xp.arange(m, device=dev) == 0, A.dtype)[None, :, None]
            y = xp.where(zero, first, y)  # a zero Gram: any unit vector
        g = xp.matmul(gram, y)
        theta = _re(xp, xp.sum(_conj(xp, y) * g, axis=(-2, -1)))
        res = g - xp.astype(theta, A.dtype)[:, None, None] * y
        rho2 = xp.sum(_abs2(xp, res), axis=(-2, -1))
        trace = _re(xp, xp.sum(xp.linalg.diagonal(gram), axis=-1))
        mu = trace - theta
        up = (theta + mu) / 2 + xp.sqrt(((theta - mu) / 2) ** 2 + rho2)
        up = xp.where(up < trace, up, trace)
        lo2 = float(xp.sum(trace - up)) - guard
        hi2 = float(xp.sum(trace - theta)) + guard
        err2 = float(xp.sum(trace - theta))
    return (
        unscale(math.sqrt(max(err2, 0.0)), scale_e),
        unscale(math.sqrt(max(lo2, 0.0)), scale_e),
        unscale(math.sqrt(max(hi2, 0.0)), scale_e),
    )


# ---------------------------------------------------------------------- operator
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

    @property
    def values(self) -> Any:
        """The values ``T`` (for the adjoint of a complex factor, conjugated afresh)."""
        T = self._source
        return self.xp.conj(T) if self._conjugate else T

    def _matmat(self, X: Any) -> Any:
        return ks_matmat(self._cast(self.values, X), X)

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

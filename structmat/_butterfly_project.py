r"""The certified hierarchical projection onto butterflies (any radices).

:meth:`structmat.butterfly.Butterfly.project` documents the method and its
certificate; this module holds the steps and the bounds. Radix 2 keeps its
own step (closed-form 2x2 solves in cache-sized chunks); other radices take
each step through :func:`structmat.ks.ks_project_two`.

References
----------
.. [1] Q.-T. Le, L. Zheng, E. Riccietti, R. Gribonval, "Butterfly
   factorization with error guarantees", arXiv:2411.04506 (2024).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._dense import ldexp, normalize, unscale
from structmat._monarch_mixed import in_double
from structmat._result import ProjectionResult
from structmat.ks._multiply import _conj
from structmat.ks._project import _abs2, _re, _top_vector2, ks_project_two
from structmat.linop import LinearOperator, Product

# Certificate: every split gets Gram bounds up to n <= 2^this; beyond, only
# the two splits whose blocks have a shorter side of at least 2^_GRAM_SIDE_LEVELS.
_GRAM_ALL_LEVELS = 8
_GRAM_SIDE_LEVELS = 3


def _sq_norm(xp: Any, x: Any) -> float:
    """``||x||_F^2`` in one pass (a BLAS dot on NumPy), no temporary."""
    if aa.is_numpy(xp):
        flat = np.reshape(x, (-1,))
        return float(np.vdot(flat, flat).real)
    flat = xp.reshape(x, (-1,))
    return aa.to_float(_re(xp, xp.vecdot(flat, flat)))


# Steps whose blocks are at least this wide use one batched matmul for the
# projections (NumPy); narrower ones use broadcast multiply-adds.
_STEP_MATMUL_MIN = 16
# NumPy steps work through H in chunks of about this many bytes (cache-sized).
_STEP_CHUNK_BYTES = 1 << 21


def _hierarchy_step(xp: Any, H: Any, cols: Any = None) -> tuple[Any, Any, float]:
    """One step of the hierarchy: ``H`` (a, S, S) block diagonal -> ``X_t · H_t``.

    ``cols`` (first step only, ``a = 1``): project ``H[0][:, cols]`` instead of
    ``H[0]``; on NumPy the columns are gathered chunk by chunk, so a permuted
    copy of ``A`` never goes to memory.

    Returns the twiddles ``(a*S/2, 2, 2)`` of ``X_t``, ``H_t`` (2a, S/2, S/2)
    and the squared step error. Group ``(g, l, k)`` is the ``2 x s`` block
    ``H[g, {l, l+s}, k*s : (k+1)*s]`` (``s = S/2``); its unit top left
    singular vector ``u`` goes into the twiddle ``tw[g*s + l][:, k]``, the
    row ``u^H`` block into block ``2g + k`` of ``H_t``, and the discarded
    part ``u_⊥^H`` block is summed directly (no cancellation).
    """
    a, S, _ = (int(v) for v in H.shape)
    s = S // 2
    if aa.is_numpy(xp) and s >= _STEP_MATMUL_MIN:
        return _hierarchy_step_numpy(H, cols)
    if cols is not None:
        H = xp.reshape(xp.take(xp.reshape(H, (S, S)), cols, axis=1), (1, S, S))
    dtype = H.dtype
    x = xp.reshape(H, (a, 2, s, 2, s))  # [g, j, l, k, c]
    x0, x1 = x[:, 0, ...], x[:, 1, ...]  # (a, s, 2, s)
    p = _re(xp, xp.vecdot(x0, x0))
    q = _re(xp, xp.vecdot(x1, x1))
    z = xp.vecdot(x1, x0)  # Σ x0 conj(x1)
    u0, u1 = _top_vector2(xp, p, q, z, dtype)  # (a, s, 2) [g, l, k]
    tw = xp.reshape(xp.stack((u0, u1), axis=2), (a * s, 2, 2))  # [g*s + l, j, k]
    c0, c1 = _conj(xp, u0), _conj(xp, u1)
    h = c0[..., None] * x0 + c1[..., None] * x1  # [g, l, k, c]
    perp = u0[..., None] * x1 - u1[..., None] * x0
    Hn = xp.reshape(xp.permute_dims(h, (0, 2, 1, 3)), (2 * a, s, s))
    return tw, Hn, _sq_norm(xp, perp)


def _hierarchy_step_numpy(H: np.ndarray, cols: Any = None) -> tuple[np.ndarray, np.ndarray, float]:
    """:func:`_hierarchy_step` on NumPy, in cache-sized chunks of groups.

    Per chunk (about ``_STEP_CHUNK_BYTES`` of ``H``, read from memory once):
    the three Gram entries, the top vectors, and one batched matmul of
    ``[u^H; u_⊥^H]`` with every ``2 x s`` block into a scratch buffer that
    stays in cache; its first rows are copied into ``H_t``, the energy of the
    second summed. So ``H`` is read once and ``H_t`` written once; the
    discarded part never goes to memory.
    """
    a, S, _ = (int(v) for v in H.shape)
    s = S // 2
    dtype = H.dtype
    x = np.reshape(H, (a, 2, s, 2, s))  # [g, j, l, k, c]
    Hn = np.empty((a, 2, s, s), dtype=dtype)  # [g, k, l, c]
    tw = np.empty((a, s, 2, 2), dtype=dtype)  # [g, l, j, k]
    per = max(1, _STEP_CHUNK_BYTES // (2 * S * H.itemsize))  # (g, l) pairs per chunk
    if per >= s:
        gs = per // s
        chunks = [(g, min(g + gs, a), 0, s) for g in range(0, a, gs)]
    else:
        chunks = [(g, g + 1, lo, min(lo + per, s)) for g in range(a) for lo in range(0, s, per)]
    err2 = 0.0
    rows = np.reshape(H, (a, 2, s, S))
    for g0, g1, l0, l1 in chunks:
        if cols is None:
            xc = x[g0:g1, :, l0:l1]  # (gc, 2, lc, 2, s)
        else:  # a == 1: gather this chunk's columns while it is in cache
            xc = np.take(rows[:, :, l0:l1], cols, axis=-1).reshape(1, 2, l1 - l0, 2, s)
        x0, x1 = xc[:, 0], xc[:, 1]
        p = np.vecdot(x0, x0).real
        q = np.vecdot(x1, x1).real
        z = np.vecdot(x1, x0)
        u0, u1 = _top_vector2(np, p, q, z, dtype)  # (gc, lc, 2)
        tw[g0:g1, l0:l1, 0, :] = u0
        tw[g0:g1, l0:l1, 1, :] = u1
        c0, c1 = u0.conj(), u1.conj()
        W = np.stack((np.stack((c0, c1), axis=-1), np.stack((-u1, u0), axis=-1)), axis=-2)
        scratch = np.empty((2, g1 - g0, l1 - l0, 2, s), dtype=dtype)  # [row, g, l, k, c]
        np.matmul(W, xc.transpose(0, 2, 3, 1, 4), out=scratch.transpose(1, 2, 3, 0, 4))
        Hn[g0:g1, :, l0:l1, :] = scratch[0].transpose(0, 2, 1, 3)
        perp = np.reshape(scratch[1], (-1,))
        # the energy summed in double (a float32 dot over a chunk of 2^18 entries is
        # off by ~1e-5); a single-precision chunk is cast while it is in cache
        perp = in_double(perp)
        err2 += float(np.vdot(perp, perp).real)
    return np.reshape(tw, (a * s, 2, 2)), np.reshape(Hn, (2 * a, s, s)), err2


def _split_gram_bounds(
    xp: Any, A: Any, t: int, squarings: int = 5, *, rows: int | None = None
) -> tuple[float, float]:
    r"""Bounds ``(lower, upper)`` on ``Σ_B sigma_1(B)²`` over the blocks of split ``t``.

    Split ``t`` of ``A`` (n x n) has the blocks ``B = A[{j s + l}, i s : (i+1) s]``
    (``s = n/P``, ``j < P``; ``P = rows``, default ``2^t``) for every ``(l, i)``; ``ε_t(A)² = ||A||² -
    Σ_B sigma_1(B)²``. With ``G`` the Gram matrix of each block's shorter side
    (``m x m``, one batched matmul):

    - upper: ``λ_max(G) <= (tr G^{2^k})^{1/2^k}``, evaluated stably by
      repeated squaring with renormalisation, ``M_0 = G/τ_0``,
      ``τ_i = ||M_{i-1}||_F²`` (``= tr M_{i-1}²`` for Hermitian ``M``),
      ``M_i = M_{i-1}²/τ_i``: ``λ_max(G) <= τ_0 τ_1^{1/2} ⋯ τ_{k+1}^{1/2^{k+1}}``
      (tight when the spectrum of ``G`` has a gap; at most ``m^{1/2^{k+1}}``
      times ``λ_max``);
    - lower: the Rayleigh quotient ``vᴴGv / vᴴv <= λ_max(G)`` for ``v`` the
      column of ``M_k`` with the largest diagonal entry.

    Both are widened for rounding: ``(2w + 8m + 16) eps ||A||²`` (Gram of
    width ``w``) and a factor ``1 ± 8 m² (k + 2) eps`` for the squarings
    (each perturbs ``λ_max(M)²`` by at most ``m eps ||M||_F²`` and
    ``λ_max(M_i) >= 1/m``).
    """
    n = int(A.shape[0])
    m_rows = 2**t if rows is None else int(rows)
    s = n // m_rows
    A4 = xp.reshape(A, (m_rows, s, m_rows, s))  # [j, l, i, c]
    blocks = xp.permute_dims(A4, (1, 2, 0, 3))  # (s, 2^t, j, c): block (l, i) is (2^t x s)
    up, theta, total = _gram_sums(xp, blocks, squarings)
    return _gram_guarded(up, theta, total, (m_rows, s), squarings, aa.eps(xp, A.dtype))


def _gram_sums(xp: Any, blocks: Any, squarings: int = 5) -> tuple[float, float, float]:
    """``(Σ upper, Σ lower, Σ ||B||²)`` of :func:`_split_gram_bounds` over ``blocks`` (..., P, s).

    Unguarded (:func:`_gram_guarded` widens them); sums over disjoint sets of
    blocks add up, so the blocks may come in several batches (Dask tiles).
    """
    P, s = (int(v) for v in blocks.shape[-2:])
    dtype = blocks.dtype
    if P <= s:
        gram = xp.matmul(blocks, _conj(xp, xp.matrix_transpose(blocks)))
    else:
        gram = xp.matmul(_conj(xp, xp.matrix_transpose(blocks)), blocks)
    m = min(P, s)
    gram = xp.reshape(gram, (-1, m, m))
    n = int(gram.shape[0])
    gram = (gram + _conj(xp, xp.matrix_transpose(gram))) / 2
    rdt = aa.real_dtype(xp, dtype)
    tau0 = _re(xp, xp.sum(xp.linalg.diagonal(gram), axis=-1))  # (n,)
    safe = xp.where(tau0 > 0, tau0, xp.ones_like(tau0))
    M = gram / xp.astype(safe, dtype)[:, None, None]
    log_up = xp.log(safe)
    for i in range(1, squarings + 2):
        tau = xp.sum(xp.reshape(_abs2(xp, M), (n, m * m)), axis=-1)
        tau = xp.where(tau > 0, tau, xp.ones_like(tau))
        log_up = log_up + xp.log(tau) / 2**i
        if i == squarings + 1:
            break
        M = xp.matmul(M, M) / xp.astype(tau, dtype)[:, None, None]
        M = (M + _conj(xp, xp.matrix_transpose(M))) / 2
    up = xp.where(tau0 > 0, xp.exp(log_up), xp.zeros_like(tau0))
    # Rayleigh quotient of the dominant column of M (after the last squaring)
    diag = _re(xp, xp.linalg.diagonal(M))
    col = xp.argmax(diag, axis=-1)
    onehot = xp.astype(
        xp.arange(m, device=aa.device_of(blocks))[None, :] == col[:, None], dtype
    )  # (n, m)
    v = xp.matmul(M, onehot[:, :, None])  # (n, m, 1)
    gv = xp.matmul(gram, v)
    num = _re(xp, xp.sum(_conj(xp, v) * gv, axis=(-2, -1)))
    den = xp.sum(_abs2(xp, v), axis=(-2, -1))
    theta = xp.where(den > 0, num / xp.where(den > 0, den, xp.ones_like(den)), xp.zeros_like(den))
    theta = xp.where(theta > 0, theta, xp.zeros_like(theta))
    total = aa.to_float(xp.sum(xp.astype(tau0, rdt)))
    return aa.to_float(xp.sum(up)), aa.to_float(xp.sum(theta)), total


def _gram_guarded(
    up: float, theta: float, total: float, side: tuple[int, int], squarings: int, unit: float
) -> tuple[float, float]:
    """:func:`_gram_sums` widened for rounding (blocks of shape ``side``): ``(lower, upper)``."""
    m, w = min(side), max(side)
    guard = (2 * w + 8 * m + 16) * unit * total
    rel = 8 * m * m * (squarings + 2) * unit
    upper = up * (1 + rel) + guard
    lower = max(theta * (1 - rel) - guard, 0.0)
    return lower, upper


def _gram_splits(sides: list[int], n: int) -> list[int]:
    """Splits ``t`` (``2 … L-1``) that get Gram bounds in the certificate.

    ``sides[t-1] = P_t``, the row count of split ``t``'s blocks. All splits
    for ``n <= 2^_GRAM_ALL_LEVELS``; otherwise the first split whose blocks
    have ``P_t >= 2^_GRAM_SIDE_LEVELS`` and the last with ``n/P_t >=
    2^_GRAM_SIDE_LEVELS`` (for radix 2 the two splits with a shorter side
    ``8``; cost ``2 n² m`` multiply-adds each, ``m`` that side).
    """
    L = len(sides) + 1
    if n <= 2**_GRAM_ALL_LEVELS:
        return list(range(2, L))
    side = 2**_GRAM_SIDE_LEVELS
    first = [t for t in range(1, L) if sides[t - 1] >= side][:1]
    last = [t for t in range(1, L) if n // sides[t - 1] >= side][-1:]
    return sorted({t for t in first + last if 2 <= t <= L - 1})


def _certificate(
    xp: Any,
    A: Any,
    cols: Any,
    step_err2: list[float],
    norm2: float,
    radices: tuple[int, ...],
    split_bounds: Any = None,
) -> tuple[float, float]:
    """``(lower_bound, upper_bound)`` of :meth:`Butterfly.project` (see its Notes).

    The bounds are those of ``A[:, cols]`` (``cols=None``: of ``A``); the
    permuted copy is made only when the Gram bounds need it. ``split_bounds(t,
    P_t)``, when given, replaces :func:`_split_gram_bounds` (``A`` unused: the
    Dask path, whose ``A`` stays on the workers).
    """
    n = int(A.shape[0])
    L = len(radices)
    unit = aa.eps(xp, A.dtype)
    # rounding of the hierarchy: per step a b x b product or SVD (relative 2 b eps)
    # and the step energies (s eps); in norm at most (4 L b_max + 2 n) eps ||A||
    # in all (radix 2: (8 L + 2 n) eps ||A||)
    slack = (4 * L * max(radices) + 2 * n) * unit * math.sqrt(norm2)
    sides = [math.prod(radices[L - t :]) for t in range(1, L)]  # P_t
    run = 0.0
    hi2, lo2 = [], [step_err2[0]]
    for e2 in step_err2:
        run += e2
        hi2.append((math.sqrt(run) + slack) ** 2)  # ε_t² <= Σ_{τ<=t} e_τ²
    hi2[0] = (math.sqrt(step_err2[0]) + slack) ** 2  # ε_1 = e_1
    lo2[0] = max(math.sqrt(step_err2[0]) - slack, 0.0) ** 2
    # An error at rounding level leaves nothing for the Gram bounds to add.
    splits = [] if math.sqrt(sum(step_err2)) <= 64 * slack else _gram_splits(sides, n)
    if splits and cols is not None and split_bounds is None:
        A = xp.take(A, cols, axis=1)
        if aa.is_numpy(xp):
            A = np.ascontiguousarray(A)
    for t in splits:
        if split_bounds is None:
            sig_lo, sig_up = _split_gram_bounds(xp, A, t, rows=sides[t - 1])
        else:
            sig_lo, sig_up = split_bounds(t, sides[t - 1])
        lo2.append(max(norm2 - sig_up, 0.0))
        hi2[t - 1] = min(hi2[t - 1], max(norm2 - sig_lo, 0.0))
    e_max = math.sqrt(max(step_err2))
    lower = max(math.sqrt(max(lo2)), e_max)
    # sqrt(Σ_t ε_t²) bounds the error a priori, but the returned error is known
    # (widened for rounding) and never above it, nor above ||A|| (Pythagoras):
    # report the smallest guarantee, so the interval never passes the zero matrix's.
    error = math.sqrt(sum(step_err2))
    upper = min(math.sqrt(sum(hi2)), error + slack, max(math.sqrt(norm2), error))
    return lower, upper


def _mixed_step(xp: Any, H: Any, b: int) -> tuple[Any, Any, float]:
    """One step for radix ``b``: ``H`` (g, S, S) block diagonal -> ``X_t · H_t``.

    Each block is split by :func:`structmat.ks.ks_project_two` onto
    ``KS(1, b, b, S/b) · KS(b, S/b, S/b, 1)`` (all blocks as one batch).
    Returns the twiddles ``(g*S/b, b, b)`` of ``X_t``, ``H_t`` (g*b, S/b, S/b)
    and the squared step error.
    """
    g, S, _ = (int(v) for v in H.shape)
    s = S // b
    TL, TR, err = ks_project_two(H, (1, b, b, s), (b, s, s, 1))
    # TL[g, 0, j, k, o] = T[g, j, k, o] -> tw[g*s + o][j, k]
    tw = xp.reshape(xp.permute_dims(TL[:, 0, ...], (0, 3, 1, 2)), (g * s, b, b))
    Hn = xp.reshape(TR[..., 0], (g * b, s, s))
    return tw, Hn, aa.to_float(xp.sum(err * err))


def _permutation(xp: Any, permutation: Any, n: int, radices: tuple[int, ...], dev: Any) -> Any:
    """The index array of ``permutation`` (``"bitrev"``, ``"digitrev"`` or indices)."""
    from structmat.butterfly import bit_reversal, digit_reversal

    if isinstance(permutation, str):
        if permutation == "bitrev":
            if n & (n - 1):
                msg = f"permutation='bitrev' needs n a power of 2, got n = {n}; use 'digitrev'"
                raise ValueError(msg)
            return xp.asarray(bit_reversal(n), device=dev)
        if permutation == "digitrev":
            return xp.asarray(digit_reversal(n, radices), device=dev)
        msg = (
            f"permutation must be None, 'digitrev', 'bitrev' or an index array, got {permutation!r}"
        )
        raise ValueError(msg)
    idx = permutation if hasattr(permutation, "shape") else np.asarray(permutation)
    if type(idx) is np.ndarray and not aa.is_numpy(xp):
        idx = xp.asarray(idx, device=dev)
    elif type(idx) is np.ndarray:
        idx = xp.asarray(idx)
    if idx.ndim != 1 or int(idx.shape[0]) != n:
        msg = f"permutation must have shape ({n},), got {tuple(idx.shape)}"
        raise ValueError(msg)
    return idx


def project(
    cls: Any, A: Any, radices: Any, permutation: Any, certificate: bool
) -> ProjectionResult:
    """:meth:`Butterfly.project` (documented there)."""
    from structmat.basic import Permutation
    from structmat.butterfly import _radices

    if isinstance(A, LinearOperator):
        A = A.to_dense()
    xp = aa.namespace_of(A)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        msg = f"Butterfly.project expects a square matrix, got shape {tuple(A.shape)}"
        raise ValueError(msg)
    n = int(A.shape[0])
    rad = _radices(n, radices, "Butterfly.project")
    L = len(rad)
    radix2 = all(b == 2 for b in rad)
    A = aa.floating_input(xp, A, "Butterfly.project input")
    if aa.is_numpy(xp):
        A = np.ascontiguousarray(A)  # the steps reshape blocks as views
    # Project A / 2^e (squares and the step solves' squared energies stay normal);
    # the last level takes the scale back: the other levels have unit columns.
    A, e, norm2 = normalize(xp, A, "Butterfly.project")  # a column permutation keeps norm2
    dev = aa.device_of(A)
    perm_op = None
    if permutation is not None:
        perm_op = Permutation(_permutation(xp, permutation, n, rad, dev), dtype=A.dtype)
    # radix 2: A P^T is never formed, the first step gathers its columns per chunk
    cols = None if perm_op is None else perm_op.idx
    if cols is not None and (L < 2 or not radix2):
        A, cols = xp.take(A, cols, axis=1), None
        if aa.is_numpy(xp):
            A = np.ascontiguousarray(A)
    run = _Hierarchy(rad, e, norm2, perm_op, permutation)
    H = _steps(xp, xp.reshape(A, (1, n, n)), rad, run.tw_levels, run.step_err2, cols=cols)

    def bounds() -> tuple[float, float]:
        return _certificate(xp, A, cols, run.step_err2, norm2, rad)

    return _result(cls, xp, H, run, bounds if certificate else None)


def _steps(
    xp: Any,
    H: Any,
    rad: tuple[int, ...],
    tw_levels: list[Any],
    step_err2: list[float],
    first: int = 1,
    cols: Any = None,
) -> Any:
    """Steps ``first … L-1`` of the hierarchy on ``H`` (block diagonal, ``A`` for step 1).

    Fills ``tw_levels[L - t]`` and appends to ``step_err2``; returns the last
    ``H`` (the block-diagonal level ``X_L``, still scaled).
    """
    L = len(rad)
    radix2 = all(b == 2 for b in rad)
    for t in range(first, L):
        b = rad[L - t]  # X_t is level L - t, the largest stride left
        if radix2:
            tw_t, H, e2 = _hierarchy_step(xp, H, cols if t == 1 else None)
        else:
            tw_t, H, e2 = _mixed_step(xp, H, b)
        tw_levels[L - t] = tw_t
        step_err2.append(e2)
    return H


@dataclasses.dataclass
class _Hierarchy:
    """One run of the hierarchy: its setting, and the levels and step errors as they are found.

    ``A`` is projected as ``A / 2^e`` (``norm2 = ||A / 2^e||²``);
    ``tw_levels[L - t]`` comes from step ``t`` and ``step_err2[t - 1]`` is its
    squared error; ``perm_op`` is the permutation of ``permutation`` (or None).
    """

    rad: tuple[int, ...]
    e: int
    norm2: float
    perm_op: Any
    permutation: Any
    tw_levels: list[Any] = dataclasses.field(init=False)
    step_err2: list[float] = dataclasses.field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.tw_levels = [None] * len(self.rad)


def _result(cls: Any, xp: Any, H: Any, run: _Hierarchy, bounds: Any) -> ProjectionResult:
    """The :class:`ProjectionResult` of the hierarchy (``bounds()``: the certificate, or None).

    ``H`` is the last, block-diagonal level, still scaled.
    """
    rad, e, tw_levels, step_err2 = run.rad, run.e, run.tw_levels, run.step_err2
    L = len(rad)
    radix2 = all(b == 2 for b in rad)
    tw_levels[0] = ldexp(xp, H, e)  # (n/b_0, b_0, b_0): the last, block-diagonal level
    B = cls(xp.stack(tw_levels, axis=0) if radix2 else tw_levels, increasing_stride=True)
    error = math.sqrt(sum(step_err2))
    e_max = math.sqrt(max(step_err2)) if step_err2 else 0.0
    notes = "hierarchical (left to right, orthonormalized); error = sqrt(sum of step errors^2)"
    if bounds is not None and L > 1:
        lower, upper = bounds()
    else:
        lower, upper = e_max, error
        if bounds is None:
            notes += "; certificate=False: bounds from the step errors only"
    op: LinearOperator = B if run.perm_op is None else Product(B, run.perm_op)
    permutation = run.permutation
    perm_param = permutation if permutation is None or isinstance(permutation, str) else "indices"
    params: dict[str, Any] = {"permutation": perm_param}
    if not radix2:
        params["radices"] = rad
    return ProjectionResult(
        operator=op,
        error=unscale(error, e),
        norm=unscale(math.sqrt(run.norm2), e),
        lower_bound=unscale(lower, e),
        upper_bound=unscale(upper, e),
        exact=False,
        onto="butterfly",
        params=params,
        notes=notes,
    )

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
from structmat._args import ceil_div, integer
from structmat._dense import ldexp, normalize, unscale
from structmat._result import ProjectionResult
from structmat.ks._multiply import _conj
from structmat.ks._project import _abs2, _re, _top_vector2
from structmat.linop import LinearOperator, Product, _Converter

__all__ = ["Butterfly", "bit_reversal"]

# Certificate: every split gets Gram bounds up to this many levels (n <= 2^this);
# beyond, only the two splits whose blocks have a shorter side 2^_GRAM_SIDE_LEVELS.
_GRAM_ALL_LEVELS = 8
_GRAM_SIDE_LEVELS = 3

# The multiply fuses runs of this many levels into one KS factor (radix 2^q,
# blocks of 2^q x 2^q): fewer passes over the data than level by level, each
# a BLAS matmul (benchmarks/bench_butterfly.py compares q = 2 ... 6).
_FUSE_LEVELS = 3


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


def _sq_norm(xp: Any, x: Any) -> float:
    """``||x||_F^2`` in one pass (a BLAS dot on NumPy), no temporary."""
    if aa.is_numpy(xp):
        flat = np.reshape(x, (-1,))
        return float(np.vdot(flat, flat).real)
    flat = xp.reshape(x, (-1,))
    return float(_re(xp, xp.vecdot(flat, flat)))


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
        err2 += float(np.vdot(perp, perp).real)
    return np.reshape(tw, (a * s, 2, 2)), np.reshape(Hn, (2 * a, s, s)), err2


def _split_gram_bounds(xp: Any, A: Any, t: int, squarings: int = 5) -> tuple[float, float]:
    r"""Bounds ``(lower, upper)`` on ``Σ_B sigma_1(B)²`` over the blocks of split ``t``.

    Split ``t`` of ``A`` (n x n) has the blocks ``B = A[{j s + l}, i s : (i+1) s]``
    (``s = n/2^t``, ``j < 2^t``) for every ``(l, i)``; ``ε_t(A)² = ||A||² -
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
    m_rows, s = 2**t, n >> t
    dtype = A.dtype
    A4 = xp.reshape(A, (m_rows, s, m_rows, s))  # [j, l, i, c]
    blocks = xp.permute_dims(A4, (1, 2, 0, 3))  # (s, 2^t, j, c): block (l, i) is (2^t x s)
    if m_rows <= s:
        gram = xp.matmul(blocks, _conj(xp, xp.matrix_transpose(blocks)))
    else:
        gram = xp.matmul(_conj(xp, xp.matrix_transpose(blocks)), blocks)
    m, w = min(m_rows, s), max(m_rows, s)
    gram = xp.reshape(gram, (n, m, m))
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
        xp.arange(m, device=aa.device_of(A))[None, :] == col[:, None], dtype
    )  # (n, m)
    v = xp.matmul(M, onehot[:, :, None])  # (n, m, 1)
    gv = xp.matmul(gram, v)
    num = _re(xp, xp.sum(_conj(xp, v) * gv, axis=(-2, -1)))
    den = xp.sum(_abs2(xp, v), axis=(-2, -1))
    theta = xp.where(den > 0, num / xp.where(den > 0, den, xp.ones_like(den)), xp.zeros_like(den))
    theta = xp.where(theta > 0, theta, xp.zeros_like(theta))
    unit = aa.eps(xp, dtype)
    total = float(xp.sum(xp.astype(tau0, rdt)))
    guard = (2 * w + 8 * m + 16) * unit * total
    rel = 8 * m * m * (squarings + 2) * unit
    upper = float(xp.sum(up)) * (1 + rel) + guard
    lower = max(float(xp.sum(theta)) * (1 - rel) - guard, 0.0)
    return lower, upper


def _gram_splits(L: int) -> list[int]:
    """Splits ``2 … L-1`` that get Gram bounds in the certificate.

    All of them for ``L <= _GRAM_ALL_LEVELS``; otherwise the two splits whose
    blocks have a shorter side ``2^_GRAM_SIDE_LEVELS`` (cost ``2 n² m``
    multiply-adds each, ``m`` that side).
    """
    if L <= _GRAM_ALL_LEVELS:
        return list(range(2, L))
    q = _GRAM_SIDE_LEVELS
    return [t for t in (q, L - q) if 2 <= t <= L - 1]


def _certificate(
    xp: Any, A: Any, cols: Any, step_err2: list[float], norm2: float
) -> tuple[float, float]:
    """``(lower_bound, upper_bound)`` of :meth:`Butterfly.project` (see its Notes).

    The bounds are those of ``A[:, cols]`` (``cols=None``: of ``A``); the
    permuted copy is made only when the Gram bounds need it.
    """
    n = int(A.shape[0])
    L = n.bit_length() - 1
    unit = aa.eps(xp, A.dtype)
    # rounding of the hierarchy: per step a 2x2 product (relative 4 eps) and the
    # step energies (s eps); in norm, at most (8 L + 2 n) eps ||A|| in all
    slack = (8 * L + 2 * n) * unit * math.sqrt(norm2)
    run = 0.0
    hi2, lo2 = [], [step_err2[0]]
    for e2 in step_err2:
        run += e2
        hi2.append((math.sqrt(run) + slack) ** 2)  # ε_t² <= Σ_{τ<=t} e_τ²
    hi2[0] = (math.sqrt(step_err2[0]) + slack) ** 2  # ε_1 = e_1
    lo2[0] = max(math.sqrt(step_err2[0]) - slack, 0.0) ** 2
    # An error at rounding level leaves nothing for the Gram bounds to add.
    splits = [] if math.sqrt(sum(step_err2)) <= 64 * slack else _gram_splits(L)
    if splits and cols is not None:
        A = xp.take(A, cols, axis=1)
        if aa.is_numpy(xp):
            A = np.ascontiguousarray(A)
    for t in splits:
        sig_lo, sig_up = _split_gram_bounds(xp, A, t)
        lo2.append(max(norm2 - sig_up, 0.0))
        hi2[t - 1] = min(hi2[t - 1], max(norm2 - sig_lo, 0.0))
    e_max = math.sqrt(max(step_err2))
    lower = max(math.sqrt(max(lo2)), e_max)
    upper = math.sqrt(sum(hi2))
    return lower, upper


class Butterfly(LinearOperator):
    r"""Radix-2 butterfly matrix of size ``n = 2^L``.

    Parameters
    ----------
    tw : array of shape (L, n/2, 2, 2)
        Twiddles: level ``l`` maps the pair ``(x[2gs+o], x[2gs+s+o])`` by
        ``tw[l, g*s + o]``, ``s = 2^l``, ``g < n/(2s)``, ``o < s``.
    increasing_stride : bool
        ``True`` (class ``B``) applies levels ``0, 1, …, L-1``; ``False``
        (class ``B*``) applies ``L-1, …, 0``.

    Notes
    -----
    With ``B_l`` the matrix of level ``l`` (the KS factor
    ``KS(n/(2s), 2, 2, s)``), the increasing-stride butterfly is
    ``B_{L-1} ⋯ B_1 B_0`` and the decreasing one ``B_0 B_1 ⋯ B_{L-1}``.
    The multiply fuses runs of ``q = 3`` consecutive levels into one
    Kronecker-sparse factor ``KS(n/(8d), 8, 8, d)`` (DESIGN.md §4a; the
    product of levels with strides ``d, 2d, 4d`` acts within one radix-8
    digit of the row index), built once on first use and cached
    (:meth:`fused_factors`). Each factor is one batched matmul over
    ``8 x 8`` blocks reading and writing strided views of the data (no
    transposes): ``⌈L/3⌉`` passes over the data with BLAS throughput,
    instead of ``L`` passes of elementwise 2x2 updates (the level-by-level
    form, ``2 n L`` multiply-adds per column, is kept as the reference). The adjoint is the
    butterfly of opposite stride order with conjugate-transposed twiddles;
    the transpose likewise without conjugation.

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
        xp = aa.namespace_of(tw)
        if not isinstance(increasing_stride, bool | np.bool_):
            msg = f"increasing_stride must be a bool, got {type(increasing_stride).__name__}"
            raise TypeError(msg)
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
        aa.check_floating_dtype(xp, tw.dtype, "Butterfly twiddles")
        super().__init__(shape=(n, n), dtype=tw.dtype, xp=xp, device=aa.device_of(tw))
        # The fused factors are derived from tw: an owned copy (read-only on NumPy),
        # or a torch tensor tracked by its version counter, so they cannot go stale.
        tw = aa.owned(xp, tw)
        self.tw = tw
        self.n = n
        self.levels = L
        self.increasing_stride = bool(increasing_stride)
        # derived multiply data (fused KS factors per dtype), filled lazily
        self._fused_cache: dict[tuple[Any, ...], list[Any]] = {}
        # Per level the four entries, shaped (n/(2s), s, 1) to broadcast over columns.
        self._entries = []
        for ell in range(L):
            s = 2**ell
            t = xp.reshape(tw[ell, ...], (n // (2 * s), s, 2, 2))
            self._entries.append(tuple(t[:, :, j, k][:, :, None] for j in (0, 1) for k in (0, 1)))

    # ------------------------------------------------------------------ multiply
    def _level(self, ell: int, X: Any) -> Any:
        """Apply level ``ell`` to a stack ``X`` of shape (b, n, k)."""
        xp = self.xp
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
        """Level by level (DESIGN.md §5): ``L`` passes of 2x2 multiply-adds."""
        order = range(self.levels) if self.increasing_stride else range(self.levels - 1, -1, -1)
        for ell in order:
            X = self._level(ell, X)
        return X

    def fused_plan(self, levels_per_factor: int | None = None) -> list[tuple[int, int]]:
        """Level ranges ``[(start, stop), …]`` fused into one KS factor each, in application order.

        ``L`` levels are cut into ``⌈L/q⌉`` runs of nearly equal length
        (``q = levels_per_factor``, default ``3``: radix-8 factors), so each
        factor is ``KS(n/(c d), c, c, d)`` with ``c = 2^(stop-start)`` and
        ``d = 2^start``.
        """
        q = _FUSE_LEVELS
        if levels_per_factor is not None:
            q = integer(levels_per_factor, "levels_per_factor", "Butterfly.fused_plan")
        L = self.levels
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
        source = aa.source_key(self.tw)
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
    def _adjoint(self) -> LinearOperator:
        tw = _conj(self.xp, self.xp.permute_dims(self.tw, (0, 1, 3, 2)))
        return Butterfly(tw, increasing_stride=not self.increasing_stride)

    def _transpose(self) -> LinearOperator:
        tw = self.xp.permute_dims(self.tw, (0, 1, 3, 2))
        return Butterfly(tw, increasing_stride=not self.increasing_stride)

    def _map(self, convert: _Converter) -> LinearOperator:
        return Butterfly(convert(self.tw), increasing_stride=self.increasing_stride)

    def _parameter_count(self) -> int:
        return self.levels * (self.n // 2) * 4

    def _flops(self, k: int) -> int:
        return self.levels * (self.n // 2) * 4 * k

    def _repr_args(self) -> str:
        order = "increasing" if self.increasing_stride else "decreasing"
        return f"{self.n}x{self.n}, {order}, {aa.dtype_name(self.dtype)}"

    def to_dense(self) -> Any:
        xp = self.xp
        return self._matmat(xp.eye(self.n, dtype=self.dtype, device=self.device))

    # ------------------------------------------------------------------ KS and Monarch forms
    def level_values(self, ell: int) -> Any:
        """KS values ``T`` (shape ``(n/(2s), 2, 2, s)``) of level ``ell``.

        ``T[g, j, k, o] = tw[ell, g*s + o][j, k]``, so that
        ``structmat.ks.ks_matmat(T, x)`` applies level ``ell``.
        """
        if not 0 <= int(ell) < self.levels:
            msg = f"level must be in [0, {self.levels}), got {ell!r}"
            raise ValueError(msg)
        xp = self.xp
        s = 2 ** int(ell)
        t = xp.reshape(self.tw[int(ell), ...], (self.n // (2 * s), s, 2, 2))
        return xp.permute_dims(t, (0, 2, 3, 1))

    def _fused(self, start: int, stop: int, increasing: bool = True) -> Any:
        """KS values of the product of levels ``start..stop-1`` (applied in increasing order).

        ``increasing=False`` applies them in decreasing order (the runs of a
        decreasing-stride butterfly); the support is the same.

        The product of consecutive levels with strides ``s0 … s0 2^(m-1)`` is
        ``KS(n/(s0 2^m), 2^m, 2^m, s0)``; its values come from applying the
        levels to ``2^m`` probe columns (column ``k`` is 1 where
        ``(row // s0) % 2^m == k``): each output row meets one probe.
        """
        xp = self.xp
        n = self.n
        m = stop - start
        c, d = 2**m, 2**start
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
            With ``p = 2^⌈L/2⌉``, in DESIGN.md §4 layout:
            ``M[sig*J + j, a*p + t] = L[j, sig, a] R[a, j, t]`` with ``J = p``,
            ``K = s = n/p``.

        Notes
        -----
        Levels ``0 … ⌈L/2⌉-1`` multiply to the block-diagonal
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
        L1 = (self.levels + 1) // 2
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
        increasing_stride: bool = True,
        kind: str = "orthogonal",
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
        seed: Any = None,
    ) -> Butterfly:
        """A random butterfly of size ``n`` (a power of 2).

        Parameters
        ----------
        kind : {"orthogonal", "gaussian"}
            ``"orthogonal"``: each twiddle a random rotation/reflection
            (unitary for complex dtypes), so the butterfly is orthogonal
            (unitary) and preserves norms exactly. ``"gaussian"``: i.i.d.
            standard normal entries divided by ``√2`` (complex: real and
            imaginary parts each ``/ 2``), norm-preserving in expectation.
        dtype : float32, float64 (default), complex64 or complex128
        xp, device : target namespace (NumPy by default) and device.
        seed : seed of ``numpy.random.default_rng``.

        Examples
        --------
        >>> import numpy as np
        >>> B = Butterfly.random(8, seed=1)
        >>> bool(np.allclose(B.to_dense().T @ B.to_dense(), np.eye(8)))
        True
        """
        L = _log2(n, "Butterfly.random")
        xp = aa.default_namespace(xp)
        dtype = xp.float64 if dtype is None else aa.as_dtype(xp, dtype)
        cplx = aa.is_complex(xp, dtype)
        rng = np.random.default_rng(seed)
        shape = (L, n // 2)
        if kind == "orthogonal":
            if cplx:
                g = rng.standard_normal((*shape, 2, 2)) + 1j * rng.standard_normal((*shape, 2, 2))
            else:
                g = rng.standard_normal((*shape, 2, 2))
            q, r = np.linalg.qr(g)
            # Fix the phases so that the distribution is Haar.
            dr = np.diagonal(r, axis1=-2, axis2=-1)
            ph = dr / np.where(np.abs(dr) == 0, 1, np.abs(dr))
            tw = q * ph[..., None, :]
        elif kind == "gaussian":
            tw = rng.standard_normal((*shape, 2, 2)) / math.sqrt(2)
            if cplx:
                tw = (tw + 1j * rng.standard_normal((*shape, 2, 2)) / math.sqrt(2)) / math.sqrt(2)
        else:
            msg = f"kind must be 'orthogonal' or 'gaussian', got {kind!r}"
            raise ValueError(msg)
        arr = xp.asarray(np.ascontiguousarray(tw).astype(aa.dtype_name(dtype)))
        if device is not None:
            arr = aa.to_namespace(arr, xp, device)
        return cls(arr, increasing_stride=increasing_stride)

    @classmethod
    def identity(
        cls,
        n: int,
        *,
        increasing_stride: bool = True,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
    ) -> Butterfly:
        """The identity of size ``n`` as a butterfly (every twiddle ``I_2``).

        Examples
        --------
        >>> import numpy as np
        >>> bool(np.allclose(Butterfly.identity(4).to_dense(), np.eye(4)))
        True
        """
        L = _log2(n, "Butterfly.identity")
        xp = aa.default_namespace(xp)
        dtype = xp.float64 if dtype is None else aa.as_dtype(xp, dtype)
        eye = xp.eye(2, dtype=dtype, device=device)
        tw = xp.broadcast_to(eye, (L, n // 2, 2, 2))
        tw = xp.asarray(tw, copy=True)
        return cls(tw, increasing_stride=increasing_stride)

    # ------------------------------------------------------------------ projection
    @classmethod
    def project(
        cls, A: Any, /, *, permutation: Any = None, certificate: bool = True
    ) -> ProjectionResult:
        r"""Closest butterfly to ``A`` (hierarchical, with an error certificate).

        Parameters
        ----------
        A : array of shape (n, n) or LinearOperator
            ``n`` a power of 2. An operator is densified (``to_dense``).
        permutation : None, "bitrev" or integer array of shape (n,)
            Approximate ``A ≈ B P`` with ``P x = x[idx]`` (``"bitrev"``: the
            bit-reversal permutation): ``A Pᵀ`` is projected onto increasing
            butterflies and the result is ``Product(Butterfly, Permutation)``.
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

        So ``lower_bound = max(e_max, lower bounds on ε_t)`` and
        ``upper_bound = sqrt(Σ_t min(c_t, Gram bound)²)``, each widened for
        the worst-case rounding (``(8L + 2n) eps ||A||`` on the step errors;
        see ``_split_gram_bounds`` for the Gram). On Gaussian matrices they
        are within a few percent of ``max_t ε_t`` and ``sqrt(Σ_t ε_t²)``
        (``benchmarks/bench_butterfly.py`` prints both against exact block
        SVDs). With ``certificate=False`` no bound is computed:
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
        """
        from structmat.basic import Permutation

        if isinstance(A, LinearOperator):
            A = A.to_dense()
        xp = aa.namespace_of(A)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            msg = f"Butterfly.project expects a square matrix, got shape {tuple(A.shape)}"
            raise ValueError(msg)
        n = int(A.shape[0])
        L = _log2(n, "Butterfly.project")
        A = aa.floating_input(xp, A, "Butterfly.project input")
        if aa.is_numpy(xp):
            A = np.ascontiguousarray(A)  # the steps reshape blocks as views
        # Project A / 2^e (squares and the 2x2 solves' squared energies stay normal);
        # the last level takes the scale back: the other levels have unit columns.
        A, e, norm2 = normalize(xp, A, "Butterfly.project")  # a column permutation keeps norm2
        dev = aa.device_of(A)
        perm_op = None
        if permutation is not None:
            if isinstance(permutation, str):
                if permutation != "bitrev":
                    msg = (
                        f"permutation must be None, 'bitrev' or an index array, got {permutation!r}"
                    )
                    raise ValueError(msg)
                idx = xp.asarray(bit_reversal(n), device=dev)
            else:
                idx = permutation if hasattr(permutation, "shape") else np.asarray(permutation)
                if type(idx) is np.ndarray and not aa.is_numpy(xp):
                    idx = xp.asarray(idx, device=dev)
                elif type(idx) is np.ndarray:
                    idx = xp.asarray(idx)
                if idx.ndim != 1 or int(idx.shape[0]) != n:
                    msg = f"permutation must have shape ({n},), got {tuple(idx.shape)}"
                    raise ValueError(msg)
            perm_op = Permutation(idx, dtype=A.dtype)
        # A P^T is never formed: the first step gathers its columns per chunk
        cols = None if perm_op is None else perm_op.idx
        if cols is not None and L < 2:  # no step to fold the gather into (n = 2)
            A, cols = xp.take(A, cols, axis=1), None
        norm = math.sqrt(norm2)
        tw_levels: list[Any] = [None] * L
        H = xp.reshape(A, (1, n, n))
        step_err2: list[float] = []
        for t in range(1, L):
            tw_t, H, e2 = _hierarchy_step(xp, H, cols if t == 1 else None)
            tw_levels[L - t] = tw_t  # X_t is the level of stride n/2^t
            step_err2.append(e2)
        tw_levels[0] = ldexp(xp, H, e)  # (n/2, 2, 2): the last, block-diagonal level
        tw = xp.stack(tw_levels, axis=0)
        B = cls(tw, increasing_stride=True)
        error = math.sqrt(sum(step_err2))
        e_max = math.sqrt(max(step_err2)) if step_err2 else 0.0
        notes = "hierarchical (left to right, orthonormalized); error = sqrt(sum of step errors^2)"
        if certificate and L > 1:
            lower, upper = _certificate(xp, A, cols, step_err2, norm2)
        else:
            lower, upper = e_max, error
            if not certificate:
                notes += "; certificate=False: bounds from the step errors only"
        op: LinearOperator = B if perm_op is None else Product(B, perm_op)
        perm_param = (
            permutation if permutation is None or isinstance(permutation, str) else "indices"
        )
        return ProjectionResult(
            operator=op,
            error=unscale(error, e),
            norm=unscale(norm, e),
            lower_bound=unscale(lower, e),
            upper_bound=unscale(upper, e),
            exact=False,
            onto="butterfly",
            params={"permutation": perm_param},
            notes=notes,
        )

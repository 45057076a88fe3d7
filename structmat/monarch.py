r"""Monarch matrices: the operator, its constructors and its exact projection.

A Monarch matrix (Dao et al., 2022) is a product of two block-diagonal
matrices with a fixed reshape-transpose between them. structmat uses the
general form below (docs/conventions.md, "Monarch"), with the factor layout of the official Monarch
code so that trained weights move between the two unchanged:

- ``R`` of shape ``(K, q, p)``: ``K`` blocks applied first;
- ``L`` of shape ``(J, s, c)``: ``J`` blocks applied second, ``J*c == K*q``
  (rank ``r`` when ``q = r*J`` and ``c = K*r``);
- the input is zero-padded to ``K*p``, the output truncated to ``n_out <= s*J``.

Element formula (the definition): the intermediate index ``u = a*q + v``
is read as ``u = gamma*J + j``, and::

    M[sigma*J + j, a*p + t] = Σ_{v : a*q+v ≡ j (mod J)} L[j, sigma, (a*q+v) // J] * R[a, v, t]

which for the rank layout is ``Σ_{rho<r} L[j, sigma, a*r + rho] * R[a, rho*J + j, t]``.

The adjoint ``M.H`` is a :class:`MonarchAdjoint` (a subclass of
:class:`structmat.Adjoint`, repr ``Adjoint(Monarch(...); class M*)``): the
class M* of the paper, applied with the same two batched products in reverse
order. Products of Monarch operators and adjoints stay
:class:`structmat.Product` objects whose repr names their class, so
``M1 @ M2.H`` shows as ``Product(Monarch(...), Adjoint(Monarch(...); class M*);
class MM*)`` and ``(M1 @ M2.H) ** 2`` ends in ``class (MM*)^2``;
:func:`monarch_class` returns that name.

The multiply is the KS chain ``KS(1, s, c, J) · KS(K, q, p, 1)`` run by
:mod:`structmat.ks` (the column-tiled NumPy driver, one batched matmul per
factor elsewhere); the projection is the two-factor KS projection of
:mod:`structmat.ks` on the same chain (:mod:`structmat._monarch_project` reads
the factors off it), with its NumPy mixed-precision route in
:mod:`structmat.ks._mixed`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._args import ceil_div, int_or_pair, integer, shape_pair
from structmat._dense import ldexp, normalize, unscale
from structmat._monarch_project import ENGINES, project_factors
from structmat._operand import _Converter, apply_columns
from structmat._result import ProjectionResult, exact_result
from structmat.ks._multiply import chain_on_stack
from structmat.ks._tiled import chain_matvec
from structmat.linop import (
    REPR_NOTES,
    Adjoint,
    LinearOperator,
    Power,
    Product,
    Scaled,
    Transpose,
    _Conjugate,
)

__all__ = ["Monarch", "MonarchAdjoint", "MonarchTranspose", "default_nblocks", "monarch_class"]


# ---------------------------------------------------------------------- helpers
def default_nblocks(n: int) -> int:
    r"""The default number of blocks for a side of length ``n``.

    The divisor of ``n`` nearest :math:`\sqrt{n}` (the smaller one on a tie);
    when that divisor is below :math:`\sqrt{n}/2` (``n`` prime, or nearly so),
    :math:`\lceil\sqrt{n}\rceil` blocks instead, with zero padding.

    Examples
    --------
    >>> default_nblocks(4096), default_nblocks(12), default_nblocks(97)
    (64, 3, 10)
    """
    n = integer(n, "n", "default_nblocks")
    root = math.sqrt(n)
    divisors = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    divisors += [n // d for d in divisors]
    best = min(divisors, key=lambda d: (abs(d - root), d))
    if best < root / 2:
        return math.isqrt(n - 1) + 1 if n > 1 else 1
    return best


def monarch_class(op: LinearOperator) -> str | None:
    r"""The Monarch class ``op`` is built in (Dao et al., 2022), read from its structure.

    ``"M"`` for a :class:`Monarch`, ``"M*"`` for its adjoint (or transpose);
    a product spells the word of its factors (``M1 @ M2.H``: ``"MM*"``,
    ``M1.H @ M2``: ``"M*M"``), a repeated period as a power (``(MM*)^k``),
    and a scalar multiple keeps its operator's class. ``None`` when any
    factor is not a Monarch or a Monarch adjoint. The word is the class the
    construction certifies; a smaller one may hold the same matrix (every
    Monarch is in MM*, as ``M I*``). Reprs of such products end in
    ``; class ...``.

    Examples
    --------
    >>> import structmat as sm
    >>> M = sm.Monarch.square(16, nblocks=4, seed=0)
    >>> sm.monarch_class(M @ M.H), sm.monarch_class((M @ M.H) ** 2), sm.monarch_class(M.H)
    ('MM*', '(MM*)^2', 'M*')
    >>> M @ M.H  # doctest: +ELLIPSIS
    Product(Monarch(...), Adjoint(Monarch(...); class M*); class MM*)
    >>> sm.monarch_class(M @ sm.DFT(16)) is None
    True
    """
    if not isinstance(op, LinearOperator):
        msg = f"monarch_class expects a LinearOperator, got {type(op).__name__}"
        raise TypeError(msg)
    word = _class_word(op)
    return None if word is None else class_name(word)


def _class_word(op: LinearOperator) -> tuple[str, ...] | None:
    """The class word of ``op`` read from its expression, letter by letter (or ``None``)."""
    if isinstance(op, Monarch):
        return ("M",)
    if isinstance(op, _MonarchBackward):
        # Mᵀ = conj(Mᴴ) is in M* too: the class is closed under conjugating the factors.
        return ("M*",)
    if isinstance(op, _Conjugate) and isinstance(op.operator, Monarch):
        return ("M",)
    if isinstance(op, Scaled):
        return _class_word(op.operator)  # the classes are closed under scaling
    if isinstance(op, Power):
        word = _class_word(op.operator)
        return None if word is None else word * op.exponent
    if isinstance(op, Product):
        letters: list[str] = []
        for f in op.factors:
            word = _class_word(f)
            if word is None:
                return None
            letters.extend(word)
        return tuple(letters)
    return None


def class_name(word: tuple[str, ...]) -> str:
    """Spell a class word: letters joined, a repeated period written as a power.

    ``("M", "M*")`` is ``"MM*"``, ``("M", "M*") * 3`` is ``"(MM*)^3"``, ``("M",) * 2`` is ``"M^2"``.
    """
    n = len(word)
    for period in range(1, n // 2 + 1):
        if n % period == 0 and word == word[:period] * (n // period):
            base = "".join(word[:period])
            return f"{base if period == 1 else f'({base})'}^{n // period}"
    return "".join(word)


def _class_note(op: LinearOperator) -> str:
    """``"; class MM*"`` for the repr of a product or power built in a Monarch class."""
    word = _class_word(op)
    return f"; class {class_name(word)}" if word else ""


REPR_NOTES.append(_class_note)


def _parse_nblocks(nblocks: Any, shape: tuple[int, int], what: str) -> tuple[int, int]:
    """``(K, J)`` from ``None``, an int or a pair, checked against ``shape``."""
    m, n = shape
    if nblocks is None:
        return default_nblocks(n), default_nblocks(m)
    K, J = int_or_pair(nblocks, "nblocks", what)
    if not (1 <= K <= n and 1 <= J <= m):
        msg = (
            f"{what}: nblocks (K, J) = ({K}, {J}) does not tile a {m}x{n} matrix; "
            f"need 1 <= K <= {n} (input side) and 1 <= J <= {m} (output side)"
        )
        raise ValueError(msg)
    return K, J


def _check_rank(r: int, s: int, p: int, what: str) -> None:
    """``r <= min(s, p)``: a higher rank adds only zero (or redundant) components.

    Each of the ``J*K`` slices is ``s x p``, so its rank is at most ``min(s, p)``;
    the same rule as ``LowRank.project`` (``rank <= min(m, n)``) and the Kronecker
    projection, and it keeps ``r = 10**7`` from allocating factors of ``r`` columns.
    """
    if r > min(s, p):
        msg = (
            f"{what}: rank must be <= min(s, p) = {min(s, p)} (the {s}x{p} slices of "
            f"nblocks (K, J)), got {r}"
        )
        raise ValueError(msg)


# ---------------------------------------------------------------------- the operator
class Monarch(LinearOperator):
    r"""Monarch matrix ``M`` from its factors ``L`` and ``R``.

    Parameters
    ----------
    L : array of shape (J, s, c)
        The ``J`` output-side blocks, applied second (the official code's
        ``w2_bfly`` / ``blkdiag2``).
    R : array of shape (K, q, p)
        The ``K`` input-side blocks, applied first (``w1_bfly`` /
        ``blkdiag1``); ``J*c == K*q``.
    shape : (int, int), optional
        ``(n_out, n_in)`` with ``n_out <= s*J`` and ``n_in <= K*p``; defaults
        to ``(s*J, K*p)``. Inputs are zero-padded to ``K*p``; the first
        ``n_out`` entries of the result are kept.

    Attributes
    ----------
    L, R : arrays
        The factors (cast to a common dtype, in the operator's namespace).
    nblocks : (int, int)
        ``(K, J)``.
    rank : int or None
        ``r = q // J`` when ``J`` divides ``q`` and ``c == K*r`` (the rank
        layout: every ``s x p`` slice has rank at most ``r``), else ``None``
        (a general layout such as the official ``MonarchLinear(196, 384,
        nblocks=16)``: ``R`` (16, 13, 13), ``L`` (16, 24, 13)).

    Notes
    -----
    Element formula:

    .. math::

        M_{\sigma J + j,\; a p + t} = \sum_{\rho < r}
            L_{j, \sigma, a r + \rho}\, R_{a, \rho J + j, t}.

    ``M`` is the Kronecker-sparse chain ``KS(1, s, c, J) · KS(K, q, p, 1)``
    with values ``T_R[a, :, :, 0] = R[a]`` and ``T_L[0, sigma, gamma, j] =
    L[j, sigma, gamma]`` (KS factors: docs/conventions.md); multiply, adjoint, ``to_dense``,
    ``parameter_count`` and ``flops`` are the chain's. Multiply: view ``x``
    as ``(K, p)``, ``Y1[a] = R[a] @ x[a]`` (``(K, q)``); read ``Y1`` as
    ``(c, J)`` and ``Y3[j] = L[j] @ Y1[:, j]`` (``(J, s)``); flatten ``Y3``
    transposed, ``(s, J)``. On NumPy the columns of a matrix input run
    through both factors in cache-sized tiles (:mod:`structmat.ks`). The paper's square Monarch ``M = P L Pᵀ R``
    (``n = m²``) is ``K = J = p = s = m``, ``r = 1``.

    ``M.H`` is a :class:`MonarchAdjoint` (class M*), ``M.T`` of a complex
    ``M`` a :class:`MonarchTranspose`; both multiply at the same cost.

    References
    ----------
    T. Dao, B. Chen, N. Sohoni, A. Desai, M. Poli, J. Grogan, A. Liu, A. Rao,
    A. Rudra, C. Ré. "Monarch: Expressive Structured Matrices for Efficient
    and Accurate Training." ICML 2022.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> rng = np.random.default_rng(0)
    >>> L, R = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 2, 5))
    >>> M = sm.Monarch(L, R, shape=(5, 19))
    >>> M
    Monarch(5x19, nblocks=(4, 2), rank=1, float64)
    >>> D = np.einsum("jsa,ajt->sjat", L, R).reshape(6, 20)[:5, :19]
    >>> bool(np.allclose(M.to_dense(), D))
    True
    >>> x = rng.standard_normal(19)
    >>> bool(np.allclose(M @ x, D @ x)) and bool(np.allclose(M.H @ (M @ x), D.T @ (D @ x)))
    True
    """

    def __init__(self, L: Any, R: Any, /, shape: tuple[int, int] | None = None) -> None:
        xp = aa.namespace_of(L)
        aa.check_same_backend(xp, aa.device_of(L), aa.namespace_of(R), aa.device_of(R), "Monarch")
        for name, F in (("L", L), ("R", R)):
            if F.ndim != 3:
                msg = f"Monarch expects {name} as a 3-d array, got shape {tuple(F.shape)}"
                raise ValueError(msg)
            aa.check_floating_dtype(xp, F.dtype, f"Monarch factor {name}")
        J, s, c = (int(d) for d in L.shape)
        K, q, p = (int(d) for d in R.shape)
        if min(J, s, c, K, q, p) < 1:
            msg = f"Monarch factors must have no empty axis, got L {tuple(L.shape)} and R {tuple(R.shape)}"
            raise ValueError(msg)
        if J * c != K * q:
            msg = (
                f"Monarch: L (J, s, c) = {tuple(L.shape)} and R (K, q, p) = {tuple(R.shape)} "
                f"need J*c == K*q (the intermediate length), got J*c = {J * c} and K*q = {K * q}"
            )
            raise ValueError(msg)
        m, n = (s * J, K * p) if shape is None else shape_pair(shape, "shape", "Monarch")
        if not (1 <= m <= s * J and 1 <= n <= K * p):
            msg = (
                f"Monarch: shape must satisfy 1 <= n_out <= s*J = {s * J} and "
                f"1 <= n_in <= K*p = {K * p}, got shape {(m, n)}"
            )
            raise ValueError(msg)
        dtype = xp.result_type(L.dtype, R.dtype)
        L = xp.astype(L, dtype, copy=False) if L.dtype != dtype else L
        R = xp.astype(R, dtype, copy=False) if R.dtype != dtype else R
        super().__init__(shape=(m, n), dtype=dtype, xp=xp, device=aa.device_of(L))
        self.L = L
        self.R = R
        self.nblocks = (K, J)
        self.rank: int | None = q // J if q % J == 0 and c == K * (q // J) else None
        self._layout = (K, q, p, J, s, c)

    # ------------------------------------------------------------------ factors
    @property
    def block_shape(self) -> tuple[int, int]:
        """``(s, p)``: rows of an L block and columns of an R block."""
        _, _, p, _, s, _ = self._layout
        return s, p

    @property
    def patterns(self) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
        """The KS chain ``KS(1, s, c, J) · KS(K, q, p, 1)`` (leftmost first) of ``M``'s factors."""
        K, q, p, J, s, c = self._layout
        return (1, s, c, J), (K, q, p, 1)

    def _blocked(self, dtype: Any, kind: str) -> list[Any]:
        """The chain in :func:`structmat.ks.ks_blocked` layout, in the order applied.

        ``kind``: "fwd" (``R`` then ``L``), "adj" (``Lᴴ`` then ``Rᴴ``) or
        "tr" (``Lᵀ`` then ``Rᵀ``). The values of ``KS(K, q, p, 1)`` are
        ``R[:, :, :, None]`` and those of ``KS(1, s, c, J)`` are ``L``
        permuted to ``(1, s, c, J)``, so their blocked layouts are the views
        ``R[:, None]`` and ``L[None]``: read at every call (casts and
        conjugates are not kept), products follow in-place changes of ``L``
        and ``R``.
        """
        xp = self.xp
        L, R = self.L, self.R
        if L.dtype != dtype:
            L, R = xp.astype(L, dtype), xp.astype(R, dtype)
        if kind == "fwd":
            return [R[:, None, ...], L[None, ...]]
        if kind == "adj" and aa.is_complex(xp, L.dtype):
            L, R = xp.conj(L), xp.conj(R)
        return [xp.matrix_transpose(L)[None, ...], xp.matrix_transpose(R)[:, None, ...]]

    def _chain(self, X: Any, kind: str) -> Any:
        """The chain of ``kind`` on ``X`` (..., n, k): zero-padded input, truncated output."""
        xp = self.xp
        m = self.shape[0] if kind == "fwd" else self.shape[1]
        if (
            self._numpy
            and X.ndim == 2
            and X.shape[1] == 1
            and (X.dtype.kind != "c" or not self._real)
        ):
            # One vector, the common solver call: straight to the gemv path.
            return chain_matvec(self._blocked(X.dtype, kind), X[:, 0])[:m, None]
        *lead, n, k = (int(v) for v in X.shape)
        if self._numpy and lead and k == 1:
            # A stack of vectors is one matrix with the stack as columns.
            return apply_columns(xp, X, lambda Y: self._chain(Y, kind))
        X3 = xp.reshape(X, (math.prod(lead), n, k))
        Y = chain_on_stack(lambda dt: self._blocked(dt, kind), X3, self._real)
        if int(Y.shape[1]) != m:
            Y = Y[:, :m, :]
        return xp.reshape(Y, (*lead, m, k))

    # ------------------------------------------------------------------ LinearOperator API
    def _matmat(self, X: Any) -> Any:
        return self._chain(X, "fwd")

    def _rmatmat(self, X: Any) -> Any:
        return self._chain(X, "adj")

    def _adjoint(self) -> LinearOperator:
        return MonarchAdjoint(self)

    def _transpose(self) -> LinearOperator:
        return MonarchTranspose(self)

    def _map(self, convert: _Converter) -> LinearOperator:
        return Monarch(convert(self.L), convert(self.R), shape=self.shape)

    def _parameter_count(self) -> int:
        K, q, p, J, s, c = self._layout
        return J * s * c + K * q * p

    def _flops(self, k: int) -> int:
        return self._parameter_count() * k

    def _repr_args(self) -> str:
        m, n = self.shape
        return f"{m}x{n}, nblocks={self.nblocks}, rank={self.rank}, {aa.dtype_name(self.dtype)}"

    def to_dense(self) -> Any:
        """The dense matrix: the chain applied to the first ``n_in`` columns of the identity."""
        n = self.shape[1]
        return self._matmat(self.xp.eye(n, dtype=self.dtype, device=self.device))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def random(
        cls,
        shape: tuple[int, int],
        nblocks: Any = None,
        rank: int = 1,
        *,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
        seed: Any = None,
        init: str = "random",
    ) -> Monarch:
        r"""A random (or identity) Monarch of ``shape`` with ``nblocks = (K, J)``.

        Parameters
        ----------
        shape : (int, int)
            ``(n_out, n_in)``; ``p = ceil(n_in / K)``, ``s = ceil(n_out / J)``.
        nblocks : int or (int, int), optional
            ``(K, J)``; an int means ``K = J``; default :func:`default_nblocks`
            of each side.
        rank : int
            ``1 <= r <= min(s, p)`` (the rank of one ``s x p`` slice).
        dtype, xp, device
            NumPy by default; ``dtype`` defaults to the namespace's default
            floating dtype (float64 on NumPy, ``torch.get_default_dtype()``
            on torch).
        seed : int or numpy Generator, optional
            For ``init="random"``.
        init : {"random", "identity"}
            ``"random"``: Gaussian factors scaled so that
            :math:`E\|Mx\|^2 = \|x\|^2` for a square ``M``
            (``Var R = 1/(rJ)``, ``Var L = 1/s`` times ``sJ/n_out``).
            ``"identity"``: the identity (``n_out == n_in`` only); the rank
            must cover the identity's entries per slice (``ValueError``
            otherwise; rank 1 suffices when ``K = J`` and ``p = s = J``).

        Examples
        --------
        >>> import numpy as np, structmat as sm
        >>> M = sm.Monarch.random((6, 10), nblocks=(3, 2), rank=2, seed=0)
        >>> M, M.L.shape, M.R.shape
        (Monarch(6x10, nblocks=(3, 2), rank=2, float64), (2, 3, 6), (3, 4, 4))
        >>> I = sm.Monarch.random((12, 12), nblocks=3, rank=2, init="identity")
        >>> bool(np.array_equal(I.to_dense(), np.eye(12)))
        True
        """
        xp = aa.default_namespace(xp)
        dtype = aa.default_float(xp, device) if dtype is None else aa.as_dtype(xp, dtype)
        m, n = shape_pair(shape, "shape", "Monarch.random")
        K, J = _parse_nblocks(nblocks, (m, n), "Monarch.random")
        r = integer(rank, "rank", "Monarch.random")
        p, s = ceil_div(n, K), ceil_div(m, J)
        _check_rank(r, s, p, "Monarch.random")
        cplx = aa.is_complex(xp, dtype)
        np_dtype = np.complex128 if cplx else np.float64
        if init == "random":
            rng = np.random.default_rng(seed)

            def gauss(shape: tuple[int, ...], var: float) -> np.ndarray:
                if cplx:
                    z = rng.standard_normal((*shape, 2)) * math.sqrt(var / 2)
                    return z[..., 0] + 1j * z[..., 1]
                return rng.standard_normal(shape) * math.sqrt(var)

            Rn = gauss((K, r * J, p), 1.0 / (r * J))
            Ln = gauss((J, s, K * r), (s * J) / (s * m))
        elif init == "identity":
            if m != n:
                msg = f"Monarch.random: init='identity' needs a square shape, got {(m, n)}"
                raise ValueError(msg)
            Ln, Rn = _identity_factors(n, K, J, p, s, r)
            Ln, Rn = Ln.astype(np_dtype), Rn.astype(np_dtype)
        else:
            msg = f"Monarch.random: init must be 'random' or 'identity', got {init!r}"
            raise ValueError(msg)
        L = xp.asarray(Ln, dtype=dtype, device=device)
        R = xp.asarray(Rn, dtype=dtype, device=device)
        return cls(L, R, shape=(m, n))

    @classmethod
    def square(
        cls,
        n: int,
        nblocks: Any = None,
        rank: int = 1,
        *,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
        seed: Any = None,
        init: str = "random",
    ) -> Monarch:
        r"""A random or identity ``n x n`` Monarch (see :meth:`random`).

        ``nblocks`` defaults to the divisor of ``n`` nearest :math:`\sqrt{n}`
        (:func:`default_nblocks`; a prime ``n`` gets padding). Random factors
        keep :math:`\|Mx\| \approx \|x\|`.

        Examples
        --------
        >>> import numpy as np, structmat as sm
        >>> M = sm.Monarch.square(4096, seed=0)
        >>> M
        Monarch(4096x4096, nblocks=(64, 64), rank=1, float64)
        >>> x = np.random.default_rng(1).standard_normal(4096)
        >>> bool(0.8 < np.linalg.norm(M @ x) / np.linalg.norm(x) < 1.25)
        True
        >>> bool(np.array_equal(sm.Monarch.square(9, init="identity").to_dense(), np.eye(9)))
        True
        """
        n = integer(n, "n", "Monarch.square")
        return cls.random(
            (n, n), nblocks, rank, dtype=dtype, xp=xp, device=device, seed=seed, init=init
        )

    # ------------------------------------------------------------------ projection
    @classmethod
    def project(
        cls,
        A: Any,
        /,
        nblocks: Any = None,
        rank: int = 1,
        *,
        engine: str = "auto",
        method: str = "exact",
        oversample: int = 10,
        seed: Any = None,
        error_probes: int = 16,
    ) -> ProjectionResult:
        r"""The Frobenius-nearest Monarch to ``A`` (exact).

        Parameters
        ----------
        A : array of shape (m, n) or LinearOperator
            A LinearOperator is densified with ``A.to_dense()``.
        nblocks : int or (int, int), optional
            ``(K, J)``: ``K`` input-side blocks (of ``R``), ``J`` output-side
            blocks (of ``L``); an int sets both. Default: :func:`default_nblocks`
            of ``n`` and of ``m``. ``p = ceil(n/K)``, ``s = ceil(m/J)``.
        rank : int
            The Monarch rank, ``1 <= r <= min(s, p)`` (the rank of one
            ``s x p`` slice: a higher one could only add zero components).
        engine : {"auto", "mixed", "exact", "subspace", "eigh", "svd"}
            How the slices' truncated SVDs are computed (see Notes;
            :mod:`structmat._truncated_svd` is the engine). Every
            engine returns a minimizer with its error certified to ``1e-10``;
            the choice changes the speed and, where singular values tie, which
            minimizer comes back. ``"auto"`` (default): on a GPU (CuPy, torch
            CUDA) ``"svd"`` for slices of at most 32 x 32, where the backend's
            batched SVD is far faster than the iterations; on NumPy the
            mixed-precision path where it applies and pays; else the exact
            engine.
            ``"mixed"``: the mixed-precision path wherever it applies (NumPy
            input whose slices have both sides at least ``2b``,
            ``b = r + max(r, 7)``), elsewhere the exact engine. ``"exact"``:
            never the mixed path; subspace iteration or batched ``eigh``,
            whichever pays. ``"subspace"``: the exact engine with subspace
            iteration wherever its block fits (``2 (r + max(r, 6)) <=
            min(s, p)``), else ``eigh``. ``"eigh"``: the exact engine with a
            batched ``eigh`` of every slice's Gram matrix. ``"svd"``: one
            batched full SVD of the slices (``xp.linalg.svd``). Tests and
            benchmarks use these to run one route; users rarely need them.
        method : {"exact", "randomized"}
            ``"exact"`` (default): densify a LinearOperator (``n`` products) and
            project exactly, as above. ``"randomized"``: matrix-free, from about
            ``K k + J l + error_probes`` products (``k = min(r + oversample, p)``,
            ``l = min(k + oversample, s)``) with block-diagonal probes
            (:func:`structmat.ks.ks_project_two_sketched`, docs/monarch.md
            "Matrix-free projection"); ``exact=False``, ``error`` estimated,
            ``lower_bound`` rigorous, ``upper_bound = inf``; ``engine`` unused.
            An array is applied as a ``Dense`` operator.
        oversample, seed, error_probes
            Of ``method="randomized"`` only (see
            :func:`structmat.ks.ks_project_two_sketched`).

        Returns
        -------
        ProjectionResult
            ``onto="monarch"``, ``exact=True``, ``error == lower_bound ==
            upper_bound`` (the distance from ``A`` to the class), ``params``
            with ``nblocks=(K, J)`` and ``rank``.

        Raises
        ------
        ValueError
            NaN or Inf in ``A``, ``A`` not 2-d, ``rank`` outside
            ``[1, min(s, p)]``, ``nblocks`` that do not tile ``A`` or an unknown
            ``engine``.

        Notes
        -----
        View ``A`` zero-padded to ``(s*J, K*p)`` as ``T[sigma, j, a, t]``. The
        ``J*K`` slices :math:`S_{ja} = T[:, j, a, :]` (``s x p``) involve
        disjoint parameters, so the problem splits: the optimum takes the
        rank-``r`` truncated SVD :math:`U\Sigma V^H` of each slice and sets
        ``L[j, :, a*r+rho] = U[:, rho] sqrt(s_rho)``, ``R[a, rho*J+j, :] = sqrt(s_rho) Vᴴ[rho, :]``
        (Eckart-Young per slice); the squared error is the sum of the
        discarded :math:`\sigma^2`. Zero padding keeps the optimum on the
        original entries.

        ``error`` is the distance to the class to ``1e-10`` relative (to the input's
        precision for single-precision input), and it is the true error of the returned
        operator; both engines prove it per call. NumPy input whose slices have both sides
        at least ``2b`` (``b = r + max(r, 7)``) and at least 20 takes the mixed-precision
        route of the two-factor engine (``structmat/ks/_mixed.py``; the projection is
        :func:`structmat.ks.ks_project_two` of the chain ``KS(1, s, K*r, J) · KS(K, r*J,
        p, 1)``, with the singular values split evenly): the slices are read through strided views
        of ``A``, a block of ``b`` vectors is iterated in single precision on each slice's
        smaller Gram matrix (power steps, a Chebyshev filter), and double precision, on the
        slices themselves, does the Rayleigh-Ritz, one power step for the top ``r`` vectors
        and a Kato-Temple bound on the energy each slice misses; the slices with the largest
        bounds are redone by the exact engine until the rest sum to ``1e-10`` (single
        precision: ``eps``) of the squared error. Single-precision input is cast to double
        first (one copy of ``A``) and the factors are rounded back; ``error`` is that of the
        rounded factors. It certifies the *error*: where a slice's ``r``-th and ``(r+1)``-th
        singular values are close the factors may differ from the SVD's (the optimum is not
        unique there), by at most what that energy bound allows. The exact engine (every
        other backend and dtype, and the redone slices) certifies each slice's singular
        subspace to ``1e-10`` (Davis-Kahan) and its energy (Kato-Temple) from batched power
        steps in the input's precision, a Chebyshev filter, one shifted inverse step (one
        batched ``solve``) and Rayleigh-Ritz on the Gram matrices, with a batched full SVD
        for the slices it cannot certify (tiny gaps, repeated singular values); slices under
        ``28 x 28`` take a batched ``eigh``. Python loops only over cache-sized chunks of
        slices, on one worker thread per core on NumPy (BLAS limited to one thread
        meanwhile, with threadpoolctl); the chunks do not depend on the number of threads,
        nor does the result. A whose squared entries would overflow or underflow is
        projected as ``A / 2^e`` and scaled back. The reported error sums the discarded
        energy; when it is small against :math:`\|A\|_F^2` (where that subtraction would
        cancel) it is recomputed as :math:`\|A - \hat A\|_F` from the residual slices.
        Factors are unique only up to a per-slice scale and phase.

        References
        ----------
        T. Dao et al., "Monarch", ICML 2022 (projection via per-slice SVD).

        Examples
        --------
        >>> import numpy as np, structmat as sm
        >>> M = sm.Monarch.square(16, nblocks=4, seed=0)
        >>> res = sm.Monarch.project(M.to_dense(), nblocks=4)
        >>> res.exact, res.error < 1e-12
        (True, True)
        >>> A = np.random.default_rng(0).standard_normal((16, 16))
        >>> res = sm.Monarch.project(A, nblocks=4)
        >>> S = A.reshape(4, 4, 4, 4).transpose(1, 2, 0, 3)
        >>> sv = np.linalg.svd(S, compute_uv=False)
        >>> bool(np.isclose(res.error, np.sqrt((sv[..., 1:] ** 2).sum())))
        True
        >>> bool(np.isclose(np.linalg.norm(A - res.operator.to_dense()), res.error))
        True
        """
        sketch = {"oversample": oversample, "seed": seed, "error_probes": error_probes}
        return _project(cls, A, nblocks, rank, engine, adjoint=False, method=method, sketch=sketch)

    @classmethod
    def project_adjoint(
        cls,
        A: Any,
        /,
        nblocks: Any = None,
        rank: int = 1,
        *,
        engine: str = "auto",
        method: str = "exact",
        oversample: int = 10,
        seed: Any = None,
        error_probes: int = 16,
    ) -> ProjectionResult:
        r"""The Frobenius-nearest member of the class M* (adjoints of Monarchs).

        Projects :math:`A^H` onto Monarch (:meth:`project`, same ``nblocks``,
        ``rank`` and ``engine``; ``nblocks`` and ``rank`` describe the Monarch ``M`` with :math:`M^H
        \approx A`) and returns ``M.H`` (a :class:`MonarchAdjoint`);
        ``onto="monarch_adjoint"``. The Frobenius norm is invariant under
        :math:`(\cdot)^H`, so the result is exact. ``method="randomized"`` projects
        :math:`A^H` matrix-free (``A.H`` applied through ``A``'s products), as in
        :meth:`project`.

        Examples
        --------
        >>> import numpy as np, structmat as sm
        >>> A = np.random.default_rng(0).standard_normal((12, 8))
        >>> res = sm.Monarch.project_adjoint(A, nblocks=(3, 2))
        >>> res.operator
        Adjoint(Monarch(8x12, nblocks=(3, 2), rank=1, float64); class M*)
        >>> bool(np.isclose(np.linalg.norm(A - res.operator.to_dense()), res.error))
        True
        """
        sketch = {"oversample": oversample, "seed": seed, "error_probes": error_probes}
        return _project(cls, A, nblocks, rank, engine, adjoint=True, method=method, sketch=sketch)


class _MonarchBackward:
    """``_matmat`` of ``Mᴴ`` or ``Mᵀ`` through ``M``'s backward kernel."""

    operator: Monarch
    _numpy: bool
    _kind: str  # "adj" or "tr": conjugate the factors or not

    def _matmat(self, X: Any) -> Any:
        return self.operator._chain(X, self._kind)

    def __repr__(self) -> str:
        name = "Adjoint" if self._kind == "adj" else "Transpose"
        return f"{name}({self.operator!r}; class M*)"


class MonarchAdjoint(_MonarchBackward, Adjoint):
    r"""``Mᴴ`` of a :class:`Monarch` ``M`` (the class M*); ``operator`` is ``M``.

    ``repr`` is ``Adjoint(Monarch(...); class M*)``. Applying it costs what ``M`` costs:
    ``Mᴴ y``: pad ``y`` to ``s*J``, view as ``(s, J)`` and transpose,
    ``Z1[j] = L[j]ᴴ y[j]``, read ``(J, K*r)`` as ``(K, r*J)`` through one
    transpose, ``Z3[a] = R[a]ᴴ Z2[a]``, flatten and keep the first ``n``.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> M = sm.Monarch.square(16, nblocks=4, seed=0, dtype=np.complex128)
    >>> M.H
    Adjoint(Monarch(16x16, nblocks=(4, 4), rank=1, complex128); class M*)
    >>> bool(np.allclose(M.H.to_dense(), M.to_dense().conj().T)), M.H.H is M
    (True, True)
    """

    operator: Monarch
    _kind = "adj"

    def __init__(self, operator: Monarch) -> None:
        super().__init__(operator)

    def _map(self, convert: _Converter) -> LinearOperator:
        return MonarchAdjoint(self.operator._map(convert))

    def _transpose(self) -> LinearOperator:
        M = self.operator
        return _Conjugate(M) if aa.is_complex(M.xp, M.dtype) else M

    def to_dense(self) -> Any:
        xp = self.xp
        D = xp.matrix_transpose(self.operator.to_dense())
        return xp.conj(D) if aa.is_complex(xp, self.dtype) else D


class MonarchTranspose(_MonarchBackward, Transpose):
    r"""``Mᵀ`` of a complex :class:`Monarch` ``M``; ``operator`` is ``M``.

    Same kernel as :class:`MonarchAdjoint` without the conjugation; repr
    ``Transpose(Monarch(...); class M*)``, as :math:`M^T = \overline{M^H}` is
    in M* too. (For a real ``M``, ``M.T`` is ``M.H``.)

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> M = sm.Monarch.square(16, nblocks=4, seed=0, dtype=np.complex64)
    >>> M.T
    Transpose(Monarch(16x16, nblocks=(4, 4), rank=1, complex64); class M*)
    >>> bool(np.allclose(M.T.to_dense(), M.to_dense().T, atol=1e-6))
    True
    """

    operator: Monarch
    _kind = "tr"

    def __init__(self, operator: Monarch) -> None:
        super().__init__(operator)

    def _adjoint(self) -> LinearOperator:
        return _Conjugate(self.operator)

    def _map(self, convert: _Converter) -> LinearOperator:
        return MonarchTranspose(self.operator._map(convert))

    def to_dense(self) -> Any:
        return self.xp.matrix_transpose(self.operator.to_dense())


def _identity_factors(
    n: int, K: int, J: int, p: int, s: int, r: int
) -> tuple[np.ndarray, np.ndarray]:
    """0/1 factors of the ``n x n`` identity; each slice entry gets its own rank index."""
    i = np.arange(n)
    sigma, j = np.divmod(i, J)
    a, t = np.divmod(i, p)
    key = j * K + a
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    first = np.searchsorted(sorted_key, sorted_key, side="left")
    rho = np.empty(n, dtype=np.int64)
    rho[order] = np.arange(n) - first
    need = int(rho.max()) + 1 if n else 1
    if need > r:
        msg = (
            f"Monarch.random: the {n}x{n} identity with nblocks (K, J) = ({K}, {J}) needs "
            f"rank >= {need}, got rank {r}"
        )
        raise ValueError(msg)
    L = np.zeros((J, s, K * r))
    R = np.zeros((K, r * J, p))
    L[j, sigma, a * r + rho] = 1.0
    R[a, rho * J + j, t] = 1.0
    return L, R


# ---------------------------------------------------------------------- projection engine
def _project(
    cls: type,
    A: Any,
    nblocks: Any,
    rank: Any,
    engine: Any,
    *,
    adjoint: bool,
    method: Any = "exact",
    sketch: Any = None,
) -> ProjectionResult:
    what = "Monarch.project_adjoint" if adjoint else "Monarch.project"
    if method == "randomized":
        from structmat._monarch_sketch import project_randomized

        return project_randomized(cls, A, nblocks, rank, adjoint=adjoint, **(sketch or {}))
    if method != "exact":
        msg = f"{what}: unknown method={method!r}; valid names: exact, randomized"
        raise ValueError(msg)
    if not isinstance(engine, str) or engine not in ENGINES:
        msg = f"{what}: unknown engine={engine!r}; valid names: {', '.join(ENGINES)}"
        raise ValueError(msg)
    if isinstance(A, LinearOperator):
        A = A.H.to_dense() if adjoint else A.to_dense()
        xp = aa.namespace_of(A)
    else:
        xp = aa.namespace_of(A)
        if A.ndim != 2:
            msg = f"{what} expects a 2-d array, got shape {tuple(A.shape)}"
            raise ValueError(msg)
        if adjoint:
            A = xp.matrix_transpose(A)
            if aa.is_complex(xp, A.dtype):
                A = xp.conj(A)
    A = aa.floating_input(xp, A, what)
    r = integer(rank, "rank", what)
    m, n = (int(d) for d in A.shape)
    if m < 1 or n < 1:
        msg = f"{what} expects a non-empty matrix, got shape {(m, n)}"
        raise ValueError(msg)
    K, J = _parse_nblocks(nblocks, (m, n), what)
    _check_rank(r, ceil_div(m, J), ceil_div(n, K), what)
    # A finite sum of squares proves every entry finite; if it is huge or tiny (or
    # overflowed), project A / 2^e with its largest entry about 1 and scale back.
    A, e, _ = normalize(xp, A, what)
    L, R, err2, norm2 = project_factors(xp, A, K, J, r, engine)
    L, R = ldexp(xp, L, e - e // 2), ldexp(xp, R, e // 2)
    err = unscale(math.sqrt(max(err2, 0.0)), e)
    norm = unscale(math.sqrt(norm2), e)
    M = cls(L, R, shape=(m, n))
    op = M.H if adjoint else M
    params = {"nblocks": (K, J), "rank": r}
    notes = "Aᴴ projected onto Monarch; the operator is its adjoint" if adjoint else ""
    onto = "monarch_adjoint" if adjoint else "monarch"
    return exact_result(op, err, norm, onto, params, notes)

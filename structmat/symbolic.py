r"""Exact (SymPy) verification of :mod:`structmat.constructions`.

Every construction is rebuilt here with exact entries from the *same* index
and exponent formulas the numeric code uses (``structmat.constructions._formulas``),
multiplied exactly and compared with an independently written reference
matrix (the definition of the DFT, Sylvester's recursion for Hadamard, the
cosine sum for the DCT, ``c[i - j]`` for circulant/Toeplitz/convolution).

Exact arithmetic
----------------
Entries live in the cyclotomic field :math:`\mathbb{Q}(\zeta_N)`, written as
polynomials with rational coefficients in a symbol ``z`` that stands for
:math:`\omega_N = \exp(-2\pi i/N)` (``sympy.exp(-2*sympy.pi*sympy.I/N)``).
Products are computed in ``QQ[z]`` (SymPy ``DomainMatrix``) and reduced modulo
the cyclotomic polynomial :math:`\Phi_N(z)`, the minimal polynomial of
:math:`\omega_N`: two entries are equal as complex numbers **iff** their
reductions are equal, so "the difference reduces to the zero matrix" is an
exact decision, not a floating-point tolerance. Cosines enter through Euler's
formula, :math:`2\cos(2\pi e/N) = z^{e} + z^{-e}`.

API (used by ``structmat verify --symbolic``)
---------------------------------------------
``CONSTRUCTIONS``
    Names accepted by :func:`verify` and their default sizes.
``verify(name, n, *, corrupt=False) -> VerificationResult``
    Exact check of one construction at size ``n``. ``corrupt=True`` changes
    one twiddle (one factor entry multiplied by ``ω_N``); the result must then
    have ``exact=False`` (a self-test of the checker).
``verify_all(sizes=None) -> list[VerificationResult]``
    Every construction at its default sizes (or at ``sizes`` where valid).
``prove_dft_monarch_exponents() -> VerificationResult``
    For all ``J, K``: the exponent of ``ω_n`` in the Monarch factors minus the
    DFT exponent is ``n`` times an integer polynomial in the index variables.
``prove_dft_butterfly_exponents(max_levels=12) -> VerificationResult``
    The butterfly's induction step for every stride ``s`` (polynomial in
    ``o, b, q, c, s``), the bit-reversal recursion, and the whole chain for
    every ``L <= max_levels`` with bit variables.

``VerificationResult(name, n, exact, detail, seconds)``: ``exact`` is the
verdict, ``detail`` a human-readable account (the identity shown).

Examples
--------
>>> from structmat.symbolic import verify, prove_dft_monarch_exponents
>>> verify("dft_monarch", 6).exact
True
>>> verify("dft_monarch", 6, corrupt=True).exact
False
>>> prove_dft_monarch_exponents().exact
True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from structmat._args import integer
from structmat.constructions import _formulas
from structmat.constructions._common import _check_power_of_two, _default_split
from structmat.constructions._convolution import _convolution_window, _good_size
from structmat.constructions._monarch import _butterfly_monarch_factors

__all__ = [
    "CONSTRUCTIONS",
    "VerificationResult",
    "prove_dft_butterfly_exponents",
    "prove_dft_monarch_exponents",
    "verify",
    "verify_all",
]


@dataclass(frozen=True)
class VerificationResult:
    """Outcome of one exact check or proof.

    Attributes
    ----------
    name : str
        Construction or proof name.
    n : int or None
        Size (``None`` for an all-``n`` proof).
    exact : bool
        True when the identity holds exactly.
    detail : str
        What was checked and how (the identity, or the first mismatch).
    seconds : float
        Time taken.
    """

    name: str
    n: int | None
    exact: bool
    detail: str
    seconds: float = 0.0

    def __bool__(self) -> bool:
        return self.exact

    def summary(self) -> str:
        size = "all n" if self.n is None else f"n={self.n}"
        verdict = "exact" if self.exact else "NOT EQUAL"
        return f"{self.name} ({size}): {verdict} [{self.seconds:.2f} s] {self.detail}"


# ---------------------------------------------------------------------------------------
# Exact cyclotomic arithmetic
# ---------------------------------------------------------------------------------------
class _Field:
    """``QQ(ω_N)`` as ``QQ[z] / Φ_N(z)``, ``z = ω_N = exp(-2πi/N)``."""

    def __init__(self, N: int) -> None:
        import sympy
        from sympy import QQ

        self.N = N
        self.sym = sympy.Symbol("z")
        self.ring = QQ[self.sym]
        self.z = self.ring.from_sympy(self.sym)
        self.phi = self.ring.from_sympy(sympy.cyclotomic_poly(N, self.sym))
        self._pow = [self.ring.one]
        for _ in range(N - 1):
            self._pow.append(self._pow[-1] * self.z)

    def mono(self, e: int, coef: Any = 1) -> Any:
        """``coef * ω_N^e``."""
        import sympy

        return self.ring.from_sympy(sympy.sympify(coef)) * self._pow[int(e) % self.N]

    def reduce(self, x: Any) -> Any:
        return x % self.phi

    def matrix(self, rows: list[list[Any]]) -> Any:
        from sympy.polys.matrices import DomainMatrix

        m = len(rows)
        n = len(rows[0]) if m else 0
        return DomainMatrix(rows, (m, n), self.ring)

    def zeros(self, m: int, n: int) -> list[list[Any]]:
        return [[self.ring.zero] * n for _ in range(m)]

    def product(self, *mats: Any) -> Any:
        out = mats[-1]
        for M in reversed(mats[:-1]):
            out = (M * out).applyfunc(self.reduce)
        return out

    def compare(self, A: Any, B: Any) -> tuple[bool, str]:
        if A.shape != B.shape:
            return False, f"shapes differ: {A.shape} vs {B.shape}"
        D = (A - B).applyfunc(self.reduce)
        rows = D.to_Matrix()
        bad = [(i, j) for i in range(D.shape[0]) for j in range(D.shape[1]) if rows[i, j] != 0]
        if not bad:
            return True, (
                f"difference reduces to the zero {A.shape[0]}x{A.shape[1]} matrix "
                f"modulo Phi_{self.N}(z), z = exp(-2*pi*I/{self.N})"
            )
        i, j = bad[0]
        return False, (
            f"{len(bad)} entries differ, first at ({i}, {j}): "
            f"construction - reference = {rows[i, j]} (mod Phi_{self.N}(z))"
        )


def _perm_matrix(F: _Field, idx: np.ndarray) -> Any:
    """``P @ x == x[idx]``: ``P[i, idx[i]] = 1``."""
    n = len(idx)
    rows = F.zeros(n, n)
    for i, k in enumerate(idx):
        rows[i][int(k)] = F.ring.one
    return F.matrix(rows)


def _monarch_matrix(F: _Field, L: Any, R: Any, m: int, ncols: int) -> Any:
    """Dense Monarch from the element formula (rank 1, ``p = J``)."""
    J, s = len(L), len(L[0])
    K = len(R)
    p = len(R[0][0])
    rows = F.zeros(s * J, K * p)
    for sigma in range(s):
        for j in range(J):
            u = _formulas._monarch_row(sigma, j, J)
            for a in range(K):
                for t in range(p):
                    rows[u][_formulas._monarch_col(a, t, p)] = L[j][sigma][a] * R[a][j][t]
    return F.matrix([row[:ncols] for row in rows[:m]])


def _butterfly_matrix(F: _Field, tw: Any) -> Any:
    """Dense increasing-stride butterfly from its level-by-level definition."""
    nlev = len(tw)
    n = 2 * len(tw[0])
    mats = []
    for ell in range(nlev):
        s = 1 << ell
        rows = F.zeros(n, n)
        for g in range(n // (2 * s)):
            for o in range(s):
                for b in range(2):
                    for c in range(2):
                        rows[2 * g * s + b * s + o][2 * g * s + c * s + o] = tw[ell][g * s + o][b][
                            c
                        ]
        mats.append(F.matrix(rows))
    return F.product(*reversed(mats))  # level 0 applied first


# ---------------------------------------------------------------------------------------
# Builders: (field, list of factor matrices, reference matrix)
# ---------------------------------------------------------------------------------------
def _dft_monarch_factors(F: _Field, n: int, sign: int, coef: Any, corrupt: bool) -> list[Any]:
    K, J = _default_split(n)
    if K == 1 and n > 1:
        msg = f"dft_monarch needs a composite n, got {n}"
        raise ValueError(msg)
    L = [
        [
            [
                F.mono(sign * _formulas._dft_monarch_L_exponent(j, sg, a, J, K), coef)
                for a in range(K)
            ]
            for sg in range(K)
        ]
        for j in range(J)
    ]
    R = [
        [
            [F.mono(sign * _formulas._dft_monarch_R_exponent(a, j, t, J, K)) for t in range(J)]
            for j in range(J)
        ]
        for a in range(K)
    ]
    if corrupt:
        R[K - 1][J - 1][J - 1] = R[K - 1][J - 1][J - 1] * F.z
    idx = [_formulas._dft_monarch_input(a, t, K) for a in range(K) for t in range(J)]
    return [_monarch_matrix(F, L, R, n, n), _perm_matrix(F, np.asarray(idx))]


def _dft_reference(F: _Field, n: int, sign: int, coef: Any) -> Any:
    # F[u, v] = ω_n^{±uv}: the definition, written independently.
    return F.matrix([[F.mono(sign * u * v, coef) for v in range(n)] for u in range(n)])


def _dft_butterfly_tw(F: _Field, n: int, sign: int, corrupt: bool) -> list[Any]:
    nlev = n.bit_length() - 1
    tw = []
    for ell in range(nlev):
        s = 1 << ell
        unit = n // (2 * s)  # ω_{2s} = ω_n^{n/(2s)}
        level = [
            [
                [
                    F.mono(sign * unit * _formulas._butterfly_dft_exponent(i % s, b, c, s))
                    for c in range(2)
                ]
                for b in range(2)
            ]
            for i in range(n // 2)
        ]
        tw.append(level)
    if corrupt:
        tw[-1][-1][1][1] = tw[-1][-1][1][1] * F.z
    return tw


def _build(name: str, n: int, corrupt: bool) -> tuple[_Field, list[Any], Any]:
    from sympy import Rational

    if name in ("dft_monarch", "idft_monarch"):
        inv = name == "idft_monarch"
        F = _Field(n)
        # z = ω_n = exp(-2πi/n): the DFT has ω_n^{+e}, the inverse ω_n^{-e}
        sign, coef = (-1, Rational(1, n)) if inv else (1, 1)
        return F, _dft_monarch_factors(F, n, sign, coef, corrupt), _dft_reference(F, n, sign, coef)
    if name in ("dft_butterfly", "idft_butterfly"):
        inv = name == "idft_butterfly"
        _check_power_of_two(n, name, minimum=2)
        F = _Field(n)
        sign = -1 if inv else 1
        tw = _dft_butterfly_tw(F, n, sign, corrupt)
        if inv:  # the 1/n of numpy.fft.ifft as 1/2 on every level, as the code does
            tw = [
                [[[e * F.mono(0, Rational(1, 2)) for e in row] for row in blk] for blk in lev]
                for lev in tw
            ]
        idx = _formulas._bitrev(np.arange(n, dtype=np.int64), n.bit_length() - 1)
        ref = _dft_reference(F, n, sign, Rational(1, n) if inv else 1)
        return F, [_butterfly_matrix(F, tw), _perm_matrix(F, idx)], ref
    if name in ("hadamard_monarch", "hadamard_butterfly"):
        _check_power_of_two(n, name, minimum=2)
        F = _Field(2)
        ref = _sylvester(F, n)
        if name == "hadamard_butterfly":
            h = [[F.mono(0, 1), F.mono(0, 1)], [F.mono(0, 1), F.mono(0, -1)]]
            if corrupt:
                h = [[F.mono(0, 1), F.mono(0, 1)], [F.mono(0, 1), F.mono(0, 1)]]
            tw = [[h] * (n // 2) for _ in range(n.bit_length() - 1)]
            return F, [_butterfly_matrix(F, tw)], ref
        K, J = _default_split(n)

        def pm(u: int, v: int) -> Any:
            return F.mono(0, (-1) ** int(_formulas._hadamard_parity(np.int64(u), np.int64(v))))

        L = [[[pm(sg, a) for a in range(K)] for sg in range(K)] for _ in range(J)]
        R = [[[pm(j, t) for t in range(J)] for j in range(J)] for _ in range(K)]
        if corrupt:
            R[-1][-1][-1] = -R[-1][-1][-1]
        return F, [_monarch_matrix(F, L, R, n, n)], ref
    if name == "dct_butterfly":
        return _build_dct(n, corrupt)
    if name in ("circulant_monarch", "toeplitz_monarch", "convolution_monarch"):
        msg = f"{name} is checked over a basis; use verify()"
        raise ValueError(msg)
    msg = f"unknown construction {name!r}; valid: {sorted(CONSTRUCTIONS)}"
    raise ValueError(msg)


def _sylvester(F: _Field, n: int) -> Any:
    H = [[1]]
    while len(H) < n:
        H = [row + row for row in H] + [row + [-x for x in row] for row in H]
    return F.matrix([[F.mono(0, x) for x in row] for row in H])


def _build_dct(n: int, corrupt: bool) -> tuple[_Field, list[Any], Any]:
    _check_power_of_two(n, "dct_butterfly", minimum=2)
    N = 4 * n
    F = _Field(N)
    nlev = n.bit_length() - 1
    pair = _formulas._dct_pair_index(n)
    pos = np.empty(n, dtype=np.int64)
    pos[pair] = np.arange(n)
    one = F.mono(0)
    tw0 = [[[[one, F.ring.zero], [F.ring.zero, one]] for _ in range(n // 2)] for _ in range(nlev)]
    tw0[0] = [[[F.ring.zero, F.ring.zero], [F.ring.zero, F.ring.zero]] for _ in range(n // 2)]
    for row, col, e in _formulas._dct_combine_terms(n):
        pr, pc = int(pos[row]), int(pos[col])
        blk = tw0[0][pr // 2]
        blk[pr % 2][pc % 2] = blk[pr % 2][pc % 2] + F.mono(e)
    if corrupt:
        blk = tw0[0][-1]
        blk[0][0] = blk[0][0] * F.z
    # the DFT butterfly in ω_n = ω_{4n}^4
    twF = []
    for ell in range(nlev):
        s = 1 << ell
        unit = 4 * (n // (2 * s))
        twF.append(
            [
                [
                    [
                        F.mono(unit * _formulas._butterfly_dft_exponent(i % s, b, c, s))
                        for c in range(2)
                    ]
                    for b in range(2)
                ]
                for i in range(n // 2)
            ]
        )
    in_idx = _formulas._makhoul_index(n)[_formulas._bitrev(np.arange(n, dtype=np.int64), nlev)]
    factors = [
        _perm_matrix(F, pos),
        _butterfly_matrix(F, tw0),
        _perm_matrix(F, pair),
        _butterfly_matrix(F, twF),
        _perm_matrix(F, in_idx),
    ]
    # C[k, j] = 2 cos(π k (2j+1) / (2n)) = z^e + z^{-e}, e = k (2j+1), z = ω_{4n}
    ref = F.matrix(
        [[F.mono(k * (2 * j + 1)) + F.mono(-k * (2 * j + 1)) for j in range(n)] for k in range(n)]
    )
    return F, factors, ref


# ---------------------------------------------------------------------------------------
# Circulant / Toeplitz / convolution: C = G diag(d) G^H, checked on a basis (linearity)
# ---------------------------------------------------------------------------------------
def _mm_star(F: _Field, w: list[Any], m: int, ncols: int, corrupt: bool) -> Any:
    """``Monarch(shape=(m, N)) @ Monarch(shape=(ncols, N)).H`` of the circulant of ``w``."""
    from sympy import Rational

    N = len(w)
    K, J = _default_split(N)
    # G = conj(DFT Monarch): entries ω_N^{-e} (z = ω_N)
    Lg = [
        [[(_formulas._dft_monarch_L_exponent(j, sg, a, J, K)) for a in range(K)] for sg in range(K)]
        for j in range(J)
    ]
    Rg = [
        [[_formulas._dft_monarch_R_exponent(a, j, t, J, K) for t in range(J)] for j in range(J)]
        for a in range(K)
    ]
    idx = [_formulas._dft_monarch_input(a, t, K) for a in range(K) for t in range(J)]
    lam = [sum((F.mono(k * v) * w[v] for v in range(N)), F.ring.zero) for k in range(N)]  # F w
    d = [F.reduce(lam[idx[col]] * F.mono(0, Rational(1, N))) for col in range(N)]
    L = [[[F.mono(-e) for e in row] for row in blk] for blk in Lg]
    Rl = [
        [
            [F.mono(-Rg[a][j][t]) * d[_formulas._monarch_col(a, t, J)] for t in range(J)]
            for j in range(J)
        ]
        for a in range(K)
    ]
    if corrupt:
        Rl[-1][-1][-1] = Rl[-1][-1][-1] * F.z
    left = _monarch_matrix(F, L, Rl, m, N)
    # conj(G) (the DFT Monarch itself, conj(ω^-e) = ω^e), transposed: G^H
    Lc = [[[F.mono(e) for e in row] for row in blk] for blk in Lg]
    Rc = [[[F.mono(e) for e in row] for row in blk] for blk in Rg]
    right_h = _monarch_matrix(F, Lc, Rc, ncols, N).transpose()
    return F.product(left, right_h)


def _verify_basis(name: str, n: int, corrupt: bool) -> tuple[bool, str]:
    """Linear constructions: check every basis vector of the parameters."""
    if name == "circulant_monarch":
        K, _ = _default_split(n)
        if K in (1, n):
            msg = f"circulant_monarch symbolic check needs a composite n, got {n}"
            raise ValueError(msg)
        F = _Field(n)
        for i in range(n):
            w = [F.mono(0, int(v == i)) for v in range(n)]
            ref = F.matrix([[F.mono(0, int((u - v) % n == i)) for v in range(n)] for u in range(n)])
            ok, det = F.compare(_mm_star(F, w, n, n, corrupt and i == n - 1), ref)
            if not ok:
                return False, f"basis c = e_{i}: {det}"
        return True, f"for every basis vector c = e_i (i < {n}): {det}; by linearity for all c"
    if name == "toeplitz_monarch":
        m, ncols = n, max(n - 1, 1)
        N = _good_size(m + ncols - 1)
        F = _Field(N)
        # parameters: c[0..m-1] at w[k] = c[k]; r[1..ncols-1] at w[N-j] = r[j]
        for i in range(m + ncols - 1):
            w = [F.ring.zero] * N
            # parameter i < m is c[i] (entries u - v == i); else r[jj] (entries v - u == jj)
            diag = i if i < m else -(i - m + 1)
            w[diag % N] = F.mono(0)

            def entry(u: int, v: int, diag: int = diag) -> int:
                return int(u - v == diag)

            ref = F.matrix([[F.mono(0, entry(u, v)) for v in range(ncols)] for u in range(m)])
            ok, det = F.compare(_mm_star(F, w, m, ncols, corrupt and i == 0), ref)
            if not ok:
                return False, f"basis parameter {i}: {det}"
        return True, (
            f"toeplitz {m}x{ncols} (embedding N={N}) for every basis (c, r): {det}; "
            "by linearity for all c, r"
        )
    if name == "convolution_monarch":
        nh, nin = max(n // 2, 1), n
        out = []
        for mode in ("full", "same", "valid"):
            m, off = _convolution_window(nh, nin, mode)
            N = _good_size(nh + nin - 1)
            F = _Field(N)
            for i in range(nh):
                w = [F.mono(0, int(v == i)) for v in range(N)]
                w = w[off:] + w[:off]
                ref_np = np.array([np.convolve(np.eye(nh)[i], e, mode) for e in np.eye(nin)]).T
                ref = F.matrix([[F.mono(0, round(x)) for x in row] for row in ref_np])
                ok, det = F.compare(_mm_star(F, w, m, nin, corrupt and i == 0), ref)
                if not ok:
                    return False, f"mode={mode}, h = e_{i}: {det}"
            out.append(mode)
        return True, f"h of length {nh}, x of length {nin}, modes {out}, every basis h = e_i: exact"
    msg = f"unknown construction {name!r}"
    raise ValueError(msg)


def _verify_butterfly_to_monarch(n: int, corrupt: bool) -> tuple[bool, str]:
    """Symbolic twiddles: Monarch factors of the conversion equal the butterfly, for all twiddles."""
    import sympy

    _check_power_of_two(n, "butterfly_to_monarch", minimum=2)
    nlev = n.bit_length() - 1
    syms = np.empty((nlev, n // 2, 2, 2), dtype=object)
    for idx in np.ndindex(*syms.shape):
        syms[idx] = sympy.Symbol("t_{}_{}_{}{}".format(*idx))
    Lf, Rf = _butterfly_monarch_factors(syms)
    J, s, K = Lf.shape
    # B from its definition (product of the levels), entries polynomials in the twiddles
    B = sympy.eye(n)
    for ell in range(nlev):
        st = 1 << ell
        lev = sympy.zeros(n, n)
        for g in range(n // (2 * st)):
            for o in range(st):
                for b in range(2):
                    for c in range(2):
                        lev[2 * g * st + b * st + o, 2 * g * st + c * st + o] = syms[
                            ell, g * st + o, b, c
                        ]
        B = lev * B
    if corrupt:
        Lf = Lf.copy()
        Lf[0, 0, 0] = Lf[0, 0, 0] * 2
    p = Rf.shape[2]
    for sg in range(s):
        for j in range(J):
            for a in range(K):
                for t in range(p):
                    u, v = _formulas._monarch_row(sg, j, J), _formulas._monarch_col(a, t, p)
                    diff = sympy.expand(Lf[j, sg, a] * Rf[a, j, t] - B[u, v])
                    if diff != 0:
                        return False, f"entry ({u}, {v}) differs by {diff}"
    return True, (
        f"Monarch(L, R) from butterfly_to_monarch's conversion equals the butterfly for all "
        f"{syms.size} symbolic twiddles (polynomial identity, n={n})"
    )


CONSTRUCTIONS: dict[str, tuple[int, ...]] = {
    "dft_monarch": (4, 6, 8, 9, 12, 16),
    "idft_monarch": (4, 6, 8, 16),
    "hadamard_monarch": (2, 4, 8, 16),
    "dft_butterfly": (2, 4, 8, 16),
    "idft_butterfly": (2, 4, 8, 16),
    "hadamard_butterfly": (2, 4, 8, 16),
    "dct_butterfly": (2, 4, 8, 16),
    "circulant_monarch": (4, 6, 8),
    "toeplitz_monarch": (2, 3, 4),
    "convolution_monarch": (2, 4),
    "butterfly_to_monarch": (2, 4, 8, 16),
}


def verify(name: str, n: int, *, corrupt: bool = False) -> VerificationResult:
    """Check construction ``name`` at size ``n`` exactly (see the module docstring).

    Parameters
    ----------
    name : str
        One of :data:`CONSTRUCTIONS`.
    n : int
        Size (the constructions' own restrictions apply: composite for the DFT
        Monarch and circulant, a power of 2 for butterflies and Hadamard).
    corrupt : bool
        Multiply one twiddle (factor entry) by ``ω_N`` (by 2 or -1 where
        entries are real) before comparing: the check must then fail.

    Returns
    -------
    VerificationResult
    """
    if name not in CONSTRUCTIONS:
        msg = f"unknown construction {name!r}; valid: {sorted(CONSTRUCTIONS)}"
        raise ValueError(msg)
    n = integer(n, "n", f"verify({name!r})")
    t0 = time.perf_counter()
    if name in ("circulant_monarch", "toeplitz_monarch", "convolution_monarch"):
        ok, det = _verify_basis(name, n, corrupt)
    elif name == "butterfly_to_monarch":
        ok, det = _verify_butterfly_to_monarch(n, corrupt)
    else:
        F, factors, ref = _build(name, n, corrupt)
        ok, det = F.compare(F.product(*factors), ref)
    return VerificationResult(name, n, ok, det, time.perf_counter() - t0)


def verify_all(sizes: Any = None) -> list[VerificationResult]:
    """:func:`verify` every construction at its default sizes (or those of ``sizes`` it accepts).

    Examples
    --------
    >>> from structmat.symbolic import verify_all
    >>> all(r.exact for r in verify_all(sizes=(4,)))
    True
    """
    if sizes is not None:
        if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence):
            msg = f"verify_all: sizes must be a sequence of integers, got {type(sizes).__name__} {sizes!r}"
            raise TypeError(msg)
        sizes = [integer(n, "each of sizes", "verify_all") for n in sizes]
    out = []
    for name, defaults in CONSTRUCTIONS.items():
        for n in defaults if sizes is None else sizes:
            if sizes is not None and n not in _valid_sizes(name, n):
                continue
            out.append(verify(name, n))
    return out


def _valid_sizes(name: str, n: int) -> tuple[int, ...]:
    if "butterfly" in name or "hadamard" in name:
        return (n,) if n >= 2 and not n & (n - 1) else ()
    if name in ("dft_monarch", "idft_monarch", "circulant_monarch"):
        return (n,) if n > 1 and _default_split(n)[0] > 1 else ()
    return (n,)


# ---------------------------------------------------------------------------------------
# All-n proofs
# ---------------------------------------------------------------------------------------
def _integer_quotient(expr: Any, divisor: Any, gens: list[Any]) -> tuple[bool, Any]:
    """``(True, q)`` when ``expr = divisor * q`` with ``q`` an integer polynomial in ``gens``."""
    import sympy

    P = sympy.Poly(sympy.expand(expr), *gens, domain="QQ")
    Dv = sympy.Poly(divisor, *gens, domain="QQ")
    q, r = sympy.div(P, Dv)
    ok = r.is_zero and all(sympy.Rational(cf).q == 1 for cf in q.coeffs())
    return bool(ok), q.as_expr()


def prove_dft_monarch_exponents(
    L_exponent: Callable[..., Any] | None = None, R_exponent: Callable[..., Any] | None = None
) -> VerificationResult:
    r"""Prove, for every ``n = J*K``, that ``dft_as_monarch``'s factors give the DFT.

    With symbols ``j, sigma, a, t, J, K`` (nonnegative integers), output index
    ``u = sigmaJ + j`` (:func:`_formulas._monarch_row`) and input index ``v = a + Kt``
    (the stride permutation), show that

    .. math:: uv - (e_L(j, sigma, a) + e_R(a, j, t)) = JK \cdot q

    with ``q`` a polynomial with integer coefficients: then
    :math:`\omega_n^{uv} = \omega_n^{e_L}\omega_n^{e_R} = L[j,sigma,a] R[a,j,t]`
    for all indices. ``L_exponent``/``R_exponent`` default to the code's
    formulas; pass others to see a wrong one rejected.

    Examples
    --------
    >>> from structmat.symbolic import prove_dft_monarch_exponents
    >>> r = prove_dft_monarch_exponents()
    >>> r.exact, "J*K*(sigma*t)" in r.detail
    (True, True)
    """
    import sympy

    t0 = time.perf_counter()
    e_L = L_exponent or _formulas._dft_monarch_L_exponent
    e_R = R_exponent or _formulas._dft_monarch_R_exponent
    j, sg, a, t, J, K = sympy.symbols("j sigma a t J K", integer=True, nonnegative=True)
    u = _formulas._monarch_row(sg, j, J)
    v = _formulas._dft_monarch_input(a, t, K)
    diff = sympy.expand(u * v - (e_L(j, sg, a, J, K) + e_R(a, j, t, J, K)))
    ok, q = _integer_quotient(diff, J * K, [j, sg, a, t, J, K])
    # the stride permutation: v = a + K t is a bijection [0,K)x[0,J) -> [0,JK) (mixed radix)
    if ok:
        detail = (
            f"u*v - (e_L + e_R) = {diff} = J*K*({q}); u = {u}, v = {v}, "
            f"e_L = {e_L(j, sg, a, J, K)}, e_R = {e_R(a, j, t, J, K)}: "
            "omega_n^(u*v) = L[j, sigma, a] * R[a, j, t] for all J, K and indices"
        )
    else:
        detail = f"u*v - (e_L + e_R) = {diff} is not J*K times an integer polynomial"
    return VerificationResult("dft_monarch_exponents", None, ok, detail, time.perf_counter() - t0)


def prove_dft_butterfly_exponents(
    max_levels: int = 12, twiddle_exponent: Callable[..., Any] | None = None
) -> VerificationResult:
    r"""Prove that ``dft_as_butterfly`` equals the DFT: all strides, and chains up to ``2^max_levels``.

    1. Induction step, for every stride ``s`` (symbols ``o, b, q, c, s``): the
       size-``2s`` DFT entry :math:`\omega_{2s}^{(o+bs)(2q+c)}` equals the
       twiddle :math:`\omega_{2s}^{e(o,b,c,s)}` times the size-``s`` DFT entry
       :math:`\omega_s^{oq} = \omega_{2s}^{2oq}`:
       ``(o+bs)(2q+c) - e - 2oq = 2s * (integer polynomial)``. With the
       bit-reversal recursion ``bitrev_{2s}(b s + w) = 2 bitrev_s(w) + b`` (the
       even inputs feed the first half), level l turns ``n/s`` length-``s``
       DFTs into length-``2s`` DFTs, so by induction ``B P_br = F_n`` for all
       ``n = 2^L``.
    2. The bit-reversal recursion, checked on every integer for ``l < max_levels``.
    3. The closed chain for each ``L <= max_levels`` with bit variables
       ``u_i, v_i``: the unique path from input ``bitrev(v)`` to output ``u``
       crosses level l with ``o = Σ_{i<l} u_i 2^i``, ``b = u_l``,
       ``c = v_{L-1-l}``; the summed twiddle exponents (in ``ω_n``) differ from
       ``u v`` by ``n`` times an integer polynomial.

    Examples
    --------
    >>> from structmat.symbolic import prove_dft_butterfly_exponents
    >>> prove_dft_butterfly_exponents(max_levels=6).exact
    True
    """
    import sympy

    t0 = time.perf_counter()
    e_tw = twiddle_exponent or _formulas._butterfly_dft_exponent
    o, b, q, c, s = sympy.symbols("o b q c s", integer=True, nonnegative=True)
    step = sympy.expand((o + b * s) * (2 * q + c) - (e_tw(o, b, c, s) + 2 * o * q))
    ok1, q1 = _integer_quotient(step, 2 * s, [o, b, q, c, s])
    lines = [
        f"step: (o+b*s)*(2q+c) - (e_tw + 2*o*q) = {step} = 2*s*({q1})"
        if ok1
        else f"step fails: (o+b*s)*(2q+c) - (e_tw + 2*o*q) = {step} is not 2*s times an integer polynomial"
    ]
    # bit-reversal recursion, exhaustively
    ok2 = True
    for ell in range(max_levels):
        w = np.arange(1 << ell, dtype=np.int64)
        for top in (0, 1):
            lhs = _formulas._bitrev(top * (1 << ell) + w, ell + 1)
            if not np.array_equal(lhs, 2 * _formulas._bitrev(w, ell) + top):
                ok2 = False
    lines.append(f"bitrev recursion for l < {max_levels}: {'holds' if ok2 else 'FAILS'}")
    ok3 = True
    for nlev in range(1, max_levels + 1):
        ub = sympy.symbols(f"u0:{nlev}", integer=True)
        vb = sympy.symbols(f"v0:{nlev}", integer=True)
        n = 1 << nlev
        total = 0
        for ell in range(nlev):
            st = 1 << ell
            oo = sum(ub[i] * (1 << i) for i in range(ell))
            total += e_tw(oo, ub[ell], vb[nlev - 1 - ell], st) * (n // (2 * st))
        u = sum(ub[i] * (1 << i) for i in range(nlev))
        v = sum(vb[i] * (1 << i) for i in range(nlev))
        ok, _ = _integer_quotient(u * v - total, sympy.Integer(n), [*ub, *vb])
        if not ok:
            ok3 = False
            lines.append(f"chain fails at L={nlev}")
            break
    if ok3:
        lines.append(
            f"chain: u*v - sum of twiddle exponents = n*(integer polynomial) for L=1..{max_levels}"
        )
    exact = ok1 and ok2 and ok3
    return VerificationResult(
        "dft_butterfly_exponents", None, exact, "; ".join(lines), time.perf_counter() - t0
    )

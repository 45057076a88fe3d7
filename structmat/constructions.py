r"""Expressivity: classic transforms written exactly in the structured classes.

Every function returns a composite operator built only from :class:`Monarch`,
:class:`Butterfly`, :class:`~structmat.basic.Permutation` and
:class:`~structmat.basic.Diagonal` (with adjoints and scalars), from closed
forms: no SVD, no projection. Its ``to_dense()`` equals the reference matrix
to rounding (``1e-11`` relative in float64).

=========================  ===========================================  =============================
function                   returns                                      reference
=========================  ===========================================  =============================
``dft_as_monarch``         ``Product(Monarch, Permutation)``            ``numpy.fft.fft`` matrix
``idft_as_monarch``        ``Product(Monarch, Permutation)``            ``numpy.fft.ifft`` matrix
``hadamard_as_monarch``    ``Monarch``                                  ``scipy.linalg.hadamard``
``butterfly_to_monarch``   ``Monarch`` (``Adjoint`` for decreasing)     the butterfly
``dft_as_butterfly``       ``Product(Butterfly, Permutation)``          ``numpy.fft.fft`` matrix
``idft_as_butterfly``      ``Product(Butterfly, Permutation)``          ``numpy.fft.ifft`` matrix
``hadamard_as_butterfly``  ``Butterfly``                                ``scipy.linalg.hadamard``
``dct_as_butterfly``       ``P B P B P`` (two butterflies)              ``scipy.fft.dct(type=2)``
``circulant_as_monarch``   ``Product(Monarch, Adjoint(Monarch))``: MM*  ``scipy.linalg.circulant``
``toeplitz_as_monarch``    MM* with output truncation / input padding   ``scipy.linalg.toeplitz``
``convolution_as_monarch`` MM* as ``toeplitz_as_monarch``               ``numpy.convolve`` matrix
=========================  ===========================================  =============================

The index and exponent formulas (``_dft_monarch_*``, ``_butterfly_*``,
``_dct_*``, ``_hadamard_*``) are plain polynomial functions of their index
arguments: they evaluate on Python ints, NumPy integer arrays and SymPy
symbols alike. :mod:`structmat.symbolic` builds the same constructions from
these very functions with exact SymPy entries and proves them, so the proof
covers the code.

Real inputs (``circulant_as_monarch`` of a real ``c``, the DCT, ...): the
factors are complex, so the returned operator is complex; its dense matrix
equals the real reference to rounding (imaginary part at rounding level).
The complex operator is returned as is (no real-part wrapper): every
construction is an exact product of the structured classes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._args import integer
from structmat.basic import Permutation
from structmat.linop import LinearOperator, Product

__all__ = [
    "butterfly_to_monarch",
    "circulant_as_monarch",
    "convolution_as_monarch",
    "dct_as_butterfly",
    "dft_as_butterfly",
    "dft_as_monarch",
    "hadamard_as_butterfly",
    "hadamard_as_monarch",
    "idft_as_butterfly",
    "idft_as_monarch",
    "toeplitz_as_monarch",
]

_NORMS = ("backward", "ortho", "forward")


# ---------------------------------------------------------------------------------------
# Shared index / exponent formulas (used verbatim by structmat.symbolic)
# ---------------------------------------------------------------------------------------
def _monarch_row(sigma: Any, j: Any, J: Any) -> Any:
    """Monarch output index ``sigma*J + j`` (DESIGN §4)."""
    return sigma * J + j


def _monarch_col(a: Any, t: Any, p: Any) -> Any:
    """Monarch input index ``a*p + t`` (DESIGN §4)."""
    return a * p + t


def _dft_monarch_input(a: Any, t: Any, K: Any) -> Any:
    """DFT column fed to Monarch column ``a*J + t``: ``v = a + K*t``."""
    return a + K * t


def _dft_monarch_L_exponent(j: Any, sigma: Any, a: Any, J: Any, K: Any) -> Any:
    """Exponent of ``ω_n`` in ``L[j, sigma, a]``: ``J*sigma*a`` (an ``F_K`` block)."""
    return J * sigma * a


def _dft_monarch_R_exponent(a: Any, j: Any, t: Any, J: Any, K: Any) -> Any:
    """Exponent of ``ω_n`` in ``R[a, j, t]``: ``j*a + K*j*t`` (twiddled ``F_J``)."""
    return j * a + K * j * t


def _butterfly_dft_exponent(o: Any, b: Any, c: Any, s: Any) -> Any:
    """Exponent of ``ω_{2s}`` in ``tw[l, g*s + o][b, c]`` of the DFT butterfly.

    ``[[1, ω_{2s}^o], [1, -ω_{2s}^o]]`` is ``ω_{2s}^{c*(o + b*s)}`` since
    ``-1 = ω_{2s}^s``.
    """
    return c * (o + b * s)


def _bitrev(i: Any, L: int) -> Any:
    """Reverse the ``L`` low bits of ``i`` (ints or NumPy integer arrays)."""
    out = i * 0
    for bit in range(L):
        out = out + ((i >> bit) & 1) * (1 << (L - 1 - bit))
    return out


def _hadamard_parity(u: Any, v: Any) -> Any:
    """``popcount(u & v) mod 2``: ``H[u, v] = (-1)^parity`` (Sylvester order)."""
    w = u & v
    out = w * 0
    while np.any(w):
        out = out ^ (w & 1)
        w = w >> 1
    return out


def _makhoul_index(n: int) -> np.ndarray:
    """``v = x[idx]`` with ``v[j] = x[2j]``, ``v[n-1-j] = x[2j+1]`` (Makhoul 1980)."""
    idx = np.empty(n, dtype=np.int64)
    half = (n + 1) // 2
    idx[:half] = 2 * np.arange(half)
    idx[half:] = (2 * np.arange(n - half) + 1)[::-1]
    return idx


def _dct_combine_terms(n: int) -> list[tuple[int, int, int]]:
    """``(row k, column, exponent of ω_{4n})`` of the DCT-II post-step.

    ``y[k] = ω_{4n}^k V[k] + ω_{4n}^{-k} V[(n-k) mod n]``, ``V = F_n v``: the
    linear (over C) extension of Makhoul's ``y[k] = 2 Re(ω_{4n}^k V[k])``.
    """
    terms = []
    for k in range(n):
        terms.append((k, k, k % (4 * n)))
        terms.append((k, (n - k) % n, (-k) % (4 * n)))
    return terms


def _dct_pair_index(n: int) -> np.ndarray:
    """Order ``0, n/2, 1, n-1, 2, n-2, ...``: pairs ``{k, n-k}`` side by side."""
    idx = [0, n // 2]
    for k in range(1, n // 2):
        idx += [k, n - k]
    return np.asarray(idx, dtype=np.int64)


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def _roots(e: np.ndarray, N: int, sign: int = -1) -> np.ndarray:
    """``exp(sign 2πi e / N)`` for integer ``e``, reduced mod ``N`` first (accurate)."""
    r = np.mod(np.asarray(e, dtype=np.int64), N)
    ang = (2.0 * np.pi / N) * r
    return np.cos(ang) + (1j * sign) * np.sin(ang)


def _check_norm(norm: Any, what: str, allowed: tuple[Any, ...] = _NORMS) -> str:
    if norm is None:
        return "backward"
    if norm not in allowed:
        msg = f"{what}: norm must be one of {allowed}, got {norm!r}"
        raise ValueError(msg)
    return str(norm)


def _dtype(xp: Any, dtype: Any, default: str, *, complex_: bool) -> Any:
    dt = xp.complex128 if default == "complex128" else xp.float64
    if dtype is not None:
        dt = aa.as_dtype(xp, dtype)
    return aa.complex_dtype(xp, dt) if complex_ else dt


def _to_xp(a: np.ndarray, xp: Any, device: Any, dtype: Any = None) -> Any:
    out = aa.to_namespace(np.ascontiguousarray(a), xp, device)
    if dtype is not None:
        out = xp.astype(out, dtype)
    return out


def _default_split(n: int) -> tuple[int, int]:
    """``(K, J)`` with ``K`` the divisor of ``n`` nearest ``√n`` (ties: the smaller)."""
    root = math.sqrt(n)
    divisors = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    divisors += [n // d for d in divisors]
    K = min(sorted(set(divisors)), key=lambda d: abs(d - root))
    return K, n // K


def _split(n: int, nblocks: Any, what: str) -> tuple[int, int]:
    if nblocks is None:
        K, J = _default_split(n)
        if n > 1 and K == 1:
            msg = (
                f"{what}: n = {n} is prime, so no exact Monarch factorization with "
                "blocks smaller than n exists; pass nblocks=1 for the trivial (dense) one"
            )
            raise ValueError(msg)
        return K, J
    if isinstance(nblocks, tuple | list):
        if len(nblocks) != 2:
            msg = f"{what}: nblocks must be an int or a pair (K, J), got {nblocks!r}"
            raise ValueError(msg)
        K, J = (int(v) for v in nblocks)
    else:
        K = int(nblocks)
        J = n // K if K > 0 and n % K == 0 else -1
    if K < 1 or J < 1 or K * J != n:
        msg = f"{what}: nblocks must split n = {n} as K*J, got nblocks={nblocks!r}"
        raise ValueError(msg)
    return K, J


def _monarch_cls() -> Any:
    from structmat.monarch import Monarch

    return Monarch


def _butterfly_cls() -> Any:
    from structmat.butterfly import Butterfly

    return Butterfly


def _dft_monarch_arrays(
    n: int, K: int, J: int, sign: int, scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NumPy ``(L, R, idx)`` of ``F = Monarch(L, R) @ Permutation(idx)`` (sign -1: DFT)."""
    j = np.arange(J)[:, None, None]
    sig = np.arange(K)[None, :, None]
    a_L = np.arange(K)[None, None, :]
    eL = np.broadcast_to(_dft_monarch_L_exponent(j, sig, a_L, J, K), (J, K, K))
    L = scale * _roots(eL, n, sign)
    a = np.arange(K)[:, None, None]
    jr = np.arange(J)[None, :, None]
    t = np.arange(J)[None, None, :]
    R = _roots(np.broadcast_to(_dft_monarch_R_exponent(a, jr, t, J, K), (K, J, J)), n, sign)
    idx = _dft_monarch_input(np.arange(K)[:, None], np.arange(J)[None, :], K).reshape(-1)
    return L, R, idx.astype(np.int64)


def _dft_scale(n: int, norm: str, inverse: bool) -> float:
    if norm == "ortho":
        return 1.0 / math.sqrt(n)
    if (norm == "backward") == inverse:
        return 1.0 / n
    return 1.0


def _fourier_monarch(
    n: Any, norm: Any, nblocks: Any, dtype: Any, xp: Any, device: Any, inverse: bool
) -> LinearOperator:
    what = "idft_as_monarch" if inverse else "dft_as_monarch"
    n = integer(n, "n", what)
    norm = _check_norm(norm, what)
    K, J = _split(n, nblocks, what)
    xp = aa.default_namespace(xp)
    dt = _dtype(xp, dtype, "complex128", complex_=True)
    L, R, idx = _dft_monarch_arrays(n, K, J, 1 if inverse else -1, _dft_scale(n, norm, inverse))
    M = _monarch_cls()(_to_xp(L, xp, device, dt), _to_xp(R, xp, device, dt))
    return Product(M, Permutation(_to_xp(idx, xp, device), dtype=dt))


# ---------------------------------------------------------------------------------------
# DFT / Hadamard as Monarch
# ---------------------------------------------------------------------------------------
def dft_as_monarch(
    n: int,
    norm: str = "backward",
    *,
    nblocks: Any = None,
    dtype: Any = None,
    xp: Any = None,
    device: Any = None,
) -> LinearOperator:
    r"""The DFT matrix as a Monarch times a stride permutation (Cooley-Tukey).

    Parameters
    ----------
    n : int
        Size; any composite ``n = K*J`` (``K`` Monarch input blocks, ``J``
        output blocks).
    norm : {"backward", "ortho", "forward"}
        NumPy's convention: scale 1, ``1/√n`` or ``1/n`` (folded into ``L``).
    nblocks : int or (K, J), optional
        ``K`` (the number of ``R`` blocks; ``J = n / K``) or the pair with
        ``K*J = n`` (unlike ``Monarch.project``, where an int sets both ``K``
        and ``J``: here the blocks are forced to ``p = J``, ``s = K``).
        Default: ``K`` the divisor of ``n`` nearest ``√n``. ``nblocks=1`` gives
        the trivial (dense) Monarch and works for prime ``n``.
    dtype : optional
        complex64 or complex128 (default); a real dtype selects the precision.
    xp, device : optional
        Namespace (NumPy by default) and device of the factors.

    Returns
    -------
    Product(Monarch, Permutation)
        ``F = M P`` with ``F[u, v] = ω_n^{uv}``, ``ω_n = exp(-2πi/n)``:
        ``to_dense()`` equals ``numpy.fft.fft(numpy.eye(n), axis=0, norm=norm)``.

    Raises
    ------
    ValueError
        For a prime ``n`` (no exact split with blocks smaller than ``n``)
        unless ``nblocks=1`` is passed, a bad ``nblocks`` or ``norm``.

    Notes
    -----
    The Monarch element formula (DESIGN §4, rank ``r = 1``, ``p = J``,
    ``s = K``) is :math:`M[\sigma J + j,\ aJ + t] = L[j, \sigma, a]\,R[a, j, t]`
    with :math:`\sigma, a < K` and :math:`j, t < J`. Write the DFT output index
    :math:`u = \sigma J + j` and the input index :math:`v = a + K t`. Then

    .. math::

        uv = \sigma J a + \sigma J K t + j a + j K t
           \equiv J\sigma a + (j a + K j t) \pmod{n},

    because :math:`\sigma J K t = n\,\sigma t`. Hence
    :math:`\omega_n^{uv} = L[j, \sigma, a]\,R[a, j, t]` with

    - :math:`L[j, \sigma, a] = \omega_n^{J\sigma a} = \omega_K^{\sigma a}`: every
      ``L`` block is the DFT :math:`F_K`;
    - :math:`R[a, j, t] = \omega_n^{ja}\,\omega_J^{jt}`: ``R[a]`` is the twiddle
      diagonal :math:`\mathrm{diag}(\omega_n^{ja})_j` times :math:`F_J`.

    The Monarch's column :math:`aJ + t` must receive :math:`x[a + Kt]`: the
    stride permutation ``P @ x == x[idx]``, ``idx[a*J + t] = a + K*t``
    (``x.reshape(J, K).T.ravel()``). So :math:`F = M P` exactly.
    :func:`structmat.symbolic.prove_dft_monarch_exponents` proves the exponent
    identity for all ``J, K`` with SymPy.

    References
    ----------
    Cooley and Tukey, "An algorithm for the machine calculation of complex
    Fourier series", Math. Comp. 1965. Dao et al., "Monarch: expressive
    structured matrices for efficient and accurate training", ICML 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.constructions import dft_as_monarch
    >>> F = dft_as_monarch(12)
    >>> F
    Product(Monarch(...), Permutation(12))
    >>> x = np.random.default_rng(0).standard_normal(12)
    >>> bool(np.allclose(F @ x, np.fft.fft(x)))
    True
    """
    return _fourier_monarch(n, norm, nblocks, dtype, xp, device, inverse=False)


def idft_as_monarch(
    n: int,
    norm: str = "backward",
    *,
    nblocks: Any = None,
    dtype: Any = None,
    xp: Any = None,
    device: Any = None,
) -> LinearOperator:
    r"""The inverse DFT matrix as a Monarch times a stride permutation.

    Parameters and layout as :func:`dft_as_monarch`; equals the matrix of
    ``numpy.fft.ifft(·, norm=norm)``.

    Notes
    -----
    The same derivation as :func:`dft_as_monarch` with
    :math:`\omega_n = \exp(+2\pi i/n)` (conjugate factors) and NumPy's
    inverse scaling (``1/n`` for ``"backward"``, ``1/√n`` for ``"ortho"``,
    1 for ``"forward"``) folded into ``L``.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.constructions import idft_as_monarch
    >>> x = np.random.default_rng(0).standard_normal(10)
    >>> bool(np.allclose(idft_as_monarch(10, norm="ortho") @ x, np.fft.ifft(x, norm="ortho")))
    True
    """
    return _fourier_monarch(n, norm, nblocks, dtype, xp, device, inverse=True)


def _check_power_of_two(n: Any, what: str, minimum: int = 1) -> int:
    n = integer(n, "n", what)
    if n < minimum or n & (n - 1):
        msg = f"{what} expects n a power of 2 (n >= {minimum}), got {n}"
        raise ValueError(msg)
    return n


def hadamard_as_monarch(
    n: int,
    norm: str = "backward",
    *,
    nblocks: Any = None,
    dtype: Any = None,
    xp: Any = None,
    device: Any = None,
) -> LinearOperator:
    r"""The Sylvester Hadamard matrix as a Monarch (no permutation).

    Parameters
    ----------
    n : int
        A power of 2.
    norm : {"backward", "ortho"}
        ``"ortho"`` scales by ``1/√n`` (orthogonal).
    nblocks : int or (K, J), optional
        Powers of 2 with ``K*J = n``; default ``K`` the divisor nearest ``√n``.
    dtype : optional
        float64 by default (any floating dtype).
    xp, device : optional
        Namespace and device of the factors.

    Returns
    -------
    Monarch
        ``to_dense()`` equals ``scipy.linalg.hadamard(n)`` (times the norm).

    Notes
    -----
    :math:`H_n[u, v] = (-1)^{\mathrm{popcount}(u \wedge v)}`. With
    :math:`u = \sigma J + j`, :math:`v = aJ + t` and ``J`` a power of 2 the bits
    of ``sigma`` and ``j`` do not overlap, so
    :math:`\mathrm{popcount}(u\wedge v) = \mathrm{popcount}(\sigma\wedge a)
    + \mathrm{popcount}(j\wedge t)`, i.e. :math:`H_n = H_K \otimes H_J` and
    :math:`H[\sigma J + j, aJ + t] = L[j, \sigma, a] R[a, j, t]` with
    :math:`L[j] = H_K`, :math:`R[a] = H_J` for every block.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from structmat.constructions import hadamard_as_monarch
    >>> H = hadamard_as_monarch(16)
    >>> bool(np.array_equal(H.to_dense(), scipy.linalg.hadamard(16)))
    True
    """
    what = "hadamard_as_monarch"
    n = _check_power_of_two(n, what)
    norm = _check_norm(norm, what, ("backward", "ortho"))
    K, J = _split(n, nblocks, what) if nblocks is not None else _default_split(n)
    if K & (K - 1):
        msg = f"{what}: nblocks must be a power of 2, got K={K}"
        raise ValueError(msg)
    xp = aa.default_namespace(xp)
    dt = _dtype(xp, dtype, "float64", complex_=False)
    scale = 1.0 / math.sqrt(n) if norm == "ortho" else 1.0
    sig = np.arange(K)[None, :, None]
    a = np.arange(K)[None, None, :]
    L = np.broadcast_to(scale * (-1.0) ** _hadamard_parity(sig, a), (J, K, K))
    jr = np.arange(J)[None, :, None]
    t = np.arange(J)[None, None, :]
    R = np.broadcast_to((-1.0) ** _hadamard_parity(jr, t), (K, J, J))
    return _monarch_cls()(_to_xp(L, xp, device, dt), _to_xp(R, xp, device, dt))


# ---------------------------------------------------------------------------------------
# Butterflies
# ---------------------------------------------------------------------------------------
def _dft_twiddles(n: int, sign: int, level_scale: float) -> np.ndarray:
    """``tw`` of shape ``(L, n/2, 2, 2)``: ``tw[l, g*s+o] = [[1, ω^o], [1, -ω^o]]``."""
    L = n.bit_length() - 1
    tw = np.empty((L, n // 2, 2, 2), dtype=np.complex128)
    b = np.arange(2)[:, None, None]
    c = np.arange(2)[None, :, None]
    for ell in range(L):
        s = 1 << ell
        o = np.arange(s)[None, None, :]
        e = _butterfly_dft_exponent(o, b, c, s)  # (2, 2, s), units of ω_{2s}
        blk = level_scale * _roots(e, 2 * s, sign)
        # tw[l, g*s + o, b, c] for every g < n/(2s)
        tw[ell] = np.tile(np.moveaxis(blk, 2, 0), (n // (2 * s), 1, 1))
    return tw


def _fourier_butterfly(
    n: Any, norm: Any, dtype: Any, xp: Any, device: Any, inverse: bool
) -> LinearOperator:
    what = "idft_as_butterfly" if inverse else "dft_as_butterfly"
    n = _check_power_of_two(n, what, minimum=2)
    norm = _check_norm(norm, what)
    L = n.bit_length() - 1
    level_scale = _dft_scale(n, norm, inverse) ** (1.0 / L)
    xp = aa.default_namespace(xp)
    dt = _dtype(xp, dtype, "complex128", complex_=True)
    tw = _dft_twiddles(n, 1 if inverse else -1, level_scale)
    idx = _bitrev(np.arange(n, dtype=np.int64), L)
    B = _butterfly_cls()(_to_xp(tw, xp, device, dt), increasing_stride=True)
    return Product(B, Permutation(_to_xp(idx, xp, device), dtype=dt))


def dft_as_butterfly(
    n: int, norm: str = "backward", *, dtype: Any = None, xp: Any = None, device: Any = None
) -> LinearOperator:
    r"""The DFT as an increasing-stride butterfly times the bit-reversal permutation.

    Parameters
    ----------
    n : int
        A power of 2, ``n >= 2``.
    norm : {"backward", "ortho", "forward"}
        NumPy's convention; the scale ``c`` is spread as ``c^{1/L}`` over the
        ``L = log2 n`` levels (``"ortho"``: every level unitary).
    dtype, xp, device : optional
        complex128 by default; namespace and device of the twiddles.

    Returns
    -------
    Product(Butterfly, Permutation)
        ``F = B P_br``, ``(P_br x)[i] = x[bitrev(i)]``; equals the
        ``numpy.fft.fft`` matrix.

    Notes
    -----
    Radix-2 decimation in time (DESIGN §5): level l, stride ``s = 2^l``,
    ``tw[l, g*s + o] = [[1, ω_{2s}^o], [1, -ω_{2s}^o]]``. After bit reversal,
    level l merges pairs of length-``s`` DFTs ``E, O`` into a length-``2s`` DFT:
    :math:`X[o + bs] = E[o] + (-1)^b \omega_{2s}^o O[o]`, because
    :math:`\omega_{2s}^{(o+bs)(2q+c)} = \omega_{2s}^{c(o+bs)}\,\omega_s^{oq}`
    (the exponents differ by :math:`2s\,bq`).
    :func:`structmat.symbolic.prove_dft_butterfly_exponents` proves this step
    for every ``s`` and the whole chain for every ``L`` up to a bound.

    References
    ----------
    Dao et al., "Learning fast algorithms for linear transforms using
    butterfly factorizations", ICML 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.constructions import dft_as_butterfly
    >>> F = dft_as_butterfly(16)
    >>> F
    Product(Butterfly(...), Permutation(16))
    >>> x = np.random.default_rng(0).standard_normal(16)
    >>> bool(np.allclose(F @ x, np.fft.fft(x)))
    True
    """
    return _fourier_butterfly(n, norm, dtype, xp, device, inverse=False)


def idft_as_butterfly(
    n: int, norm: str = "backward", *, dtype: Any = None, xp: Any = None, device: Any = None
) -> LinearOperator:
    r"""The inverse DFT as a butterfly times the bit-reversal permutation.

    As :func:`dft_as_butterfly` with conjugate twiddles
    ``[[1, ω̄_{2s}^o], [1, -ω̄_{2s}^o]]`` and NumPy's inverse scaling; equals
    the ``numpy.fft.ifft`` matrix.

    Notes
    -----
    :math:`F^{-1} = \overline{F}/n = \overline{B}\,P_{br}/n`.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.constructions import idft_as_butterfly
    >>> x = np.random.default_rng(0).standard_normal(8)
    >>> bool(np.allclose(idft_as_butterfly(8) @ x, np.fft.ifft(x)))
    True
    """
    return _fourier_butterfly(n, norm, dtype, xp, device, inverse=True)


def hadamard_as_butterfly(
    n: int, norm: str = "backward", *, dtype: Any = None, xp: Any = None, device: Any = None
) -> LinearOperator:
    r"""The Sylvester Hadamard matrix as one butterfly (no permutation).

    Parameters
    ----------
    n : int
        A power of 2, ``n >= 2``.
    norm : {"backward", "ortho"}
        ``"ortho"`` gives every level the twiddle ``[[1, 1], [1, -1]]/√2``.
    dtype, xp, device : optional
        float64 by default.

    Notes
    -----
    Level l applies :math:`H_2` to bit l of the index, so the product of the
    levels is :math:`H_2^{\otimes L} = H_n` (Sylvester), in any level order.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from structmat.constructions import hadamard_as_butterfly
    >>> bool(np.allclose(hadamard_as_butterfly(8).to_dense(), scipy.linalg.hadamard(8)))
    True
    """
    what = "hadamard_as_butterfly"
    n = _check_power_of_two(n, what, minimum=2)
    norm = _check_norm(norm, what, ("backward", "ortho"))
    L = n.bit_length() - 1
    xp = aa.default_namespace(xp)
    dt = _dtype(xp, dtype, "float64", complex_=False)
    h = np.array([[1.0, 1.0], [1.0, -1.0]])
    if norm == "ortho":
        h = h / math.sqrt(2.0)
    tw = np.broadcast_to(h, (L, n // 2, 2, 2))
    return _butterfly_cls()(_to_xp(tw, xp, device, dt), increasing_stride=True)


def _dct_arrays(n: int, ortho: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(out_idx, tw0, pair_idx, in_idx)`` of ``DCT = P_out B0 P_pair (B_F) P_in``."""
    L = n.bit_length() - 1
    pair = _dct_pair_index(n)
    pos = np.empty(n, dtype=np.int64)
    pos[pair] = np.arange(n)  # position of V[k] (and of y[k]) in the paired order
    tw0 = np.zeros((L, n // 2, 2, 2), dtype=np.complex128)
    tw0[1:] = np.eye(2)
    rows = np.array([t[0] for t in _dct_combine_terms(n)])
    cols = np.array([t[1] for t in _dct_combine_terms(n)])
    exps = np.array([t[2] for t in _dct_combine_terms(n)])
    vals = _roots(exps, 4 * n, -1)
    if ortho:
        vals = vals * np.where(rows == 0, 1.0 / math.sqrt(4 * n), 1.0 / math.sqrt(2 * n))
    pr, pc = pos[rows], pos[cols]
    np.add.at(tw0[0], (pr // 2, pr % 2, pc % 2), vals)
    in_idx = _makhoul_index(n)[_bitrev(np.arange(n, dtype=np.int64), L)]
    return pos, tw0, pair, in_idx


def dct_as_butterfly(
    n: int, norm: str | None = None, *, dtype: Any = None, xp: Any = None, device: Any = None
) -> LinearOperator:
    r"""The DCT-II matrix as a product of two butterflies and three permutations.

    Parameters
    ----------
    n : int
        A power of 2, ``n >= 2``.
    norm : {None, "backward", "ortho"}
        SciPy's convention (``None`` = ``"backward"``: unscaled,
        :math:`y_k = 2\sum_j x_j \cos(\pi k(2j+1)/(2n))`).
    dtype, xp, device : optional
        complex128 by default.

    Returns
    -------
    Product(Permutation, Butterfly, Permutation, Butterfly, Permutation)
        Class :math:`P\,B\,P\,B\,P` (increasing-stride butterflies ``B``,
        permutations ``P``): a complex operator whose dense matrix equals the
        real ``scipy.fft.dct(numpy.eye(n), type=2, norm=norm, axis=0)`` to
        rounding. No real-part step: the operator is linear over C and equals
        the DCT on complex input too.

    Notes
    -----
    Makhoul's algorithm: ``v = x[idx]`` with :math:`v_j = x_{2j}`,
    :math:`v_{n-1-j} = x_{2j+1}`, :math:`V = F_n v`; for real ``x``,
    :math:`y_k = 2\,\mathrm{Re}(\omega_{4n}^k V_k)`. Since
    :math:`\overline{V_k} = V_{(n-k) \bmod n}` for real ``v``, the real part is
    replaced by its linear extension

    .. math:: y_k = \omega_{4n}^{k} V_k + \omega_{4n}^{-k} V_{(n-k) \bmod n},

    which couples ``k`` with ``n - k`` only: after the pairing permutation
    ``(0, n/2), (1, n-1), (2, n-2), ...`` it is block-diagonal with 2x2 blocks,
    i.e. the stride-1 level of a butterfly ``B0`` (its other levels are the
    identity). With :math:`F_n = B_F P_{br}` (:func:`dft_as_butterfly`):

    .. math:: C_{II} = P_{out}\,B_0\,P_{pair}\,B_F\,(P_{br} P_{mak}).

    ``"ortho"`` scales row 0 by :math:`1/\sqrt{4n}` and the others by
    :math:`1/\sqrt{2n}` inside ``B0``.

    References
    ----------
    J. Makhoul, "A fast cosine transform in one and two dimensions", IEEE
    Trans. ASSP 28(1), 1980.

    Examples
    --------
    >>> import numpy as np, scipy.fft
    >>> from structmat.constructions import dct_as_butterfly
    >>> C = dct_as_butterfly(8)
    >>> x = np.random.default_rng(0).standard_normal(8)
    >>> bool(np.allclose(C @ x, scipy.fft.dct(x, type=2)))
    True
    """
    what = "dct_as_butterfly"
    n = _check_power_of_two(n, what, minimum=2)
    norm = _check_norm(norm, what, ("backward", "ortho"))
    xp = aa.default_namespace(xp)
    dt = _dtype(xp, dtype, "complex128", complex_=True)
    out_idx, tw0, pair, in_idx = _dct_arrays(n, norm == "ortho")
    Bcls = _butterfly_cls()
    BF = Bcls(_to_xp(_dft_twiddles(n, -1, 1.0), xp, device, dt), increasing_stride=True)
    B0 = Bcls(_to_xp(tw0, xp, device, dt), increasing_stride=True)

    def perm(i: np.ndarray) -> Permutation:
        return Permutation(_to_xp(i, xp, device), dtype=dt)

    return Product(perm(out_idx), B0, perm(pair), BF, perm(in_idx))


# ---------------------------------------------------------------------------------------
# Butterfly -> Monarch
# ---------------------------------------------------------------------------------------
def _apply_level(xp: Any, X: Any, T: Any) -> Any:
    """``Y[..., g, b, o, q] = Σ_c T[..., g, o, b, c] X[..., g, c, o, q]``."""
    X0, X1 = X[..., 0, :, :], X[..., 1, :, :]
    rows = [T[..., b, 0][..., None] * X0 + T[..., b, 1][..., None] * X1 for b in range(2)]
    return xp.stack(rows, axis=-3)


def _butterfly_monarch_factors(tw: Any) -> tuple[Any, Any]:
    """Monarch ``(L, R)`` of the increasing-stride butterfly with twiddles ``tw``.

    The first ``L1 = ⌈L/2⌉`` levels act inside blocks of ``p = 2^{L1}``
    consecutive entries (the ``K = n/p`` blocks ``R[a]``); the later levels
    keep the offset ``j`` inside a block and act on the block index ``a``
    (the ``p`` blocks ``L[j]``, ``K x K``).
    """
    xp = aa.namespace_of(tw)
    nlev, half = tw.shape[0], tw.shape[1]
    n = 2 * half
    L1 = (nlev + 1) // 2
    p = 1 << L1
    K = n // p
    dev = aa.device_of(tw)
    eye_p = xp.eye(p, dtype=tw.dtype, device=dev)
    X = xp.broadcast_to(eye_p[None, :, :], (K, p, p))
    for ell in range(L1):
        s = 1 << ell
        G = p // (2 * s)
        T = xp.reshape(tw[ell, ...], (K, G, s, 2, 2))
        X = xp.reshape(_apply_level(xp, xp.reshape(X, (K, G, 2, s, p)), T), (K, p, p))
    R = X
    eye_k = xp.eye(K, dtype=tw.dtype, device=dev)
    Y = xp.broadcast_to(eye_k[None, :, :], (p, K, K))
    for ell in range(L1, nlev):
        s2 = 1 << (ell - L1)  # stride on the block index
        G = K // (2 * s2)
        T = xp.permute_dims(xp.reshape(tw[ell, ...], (G, s2, p, 2, 2)), (2, 0, 1, 3, 4))
        Y = xp.reshape(_apply_level(xp, xp.reshape(Y, (p, G, 2, s2, K)), T), (p, K, K))
    return Y, R


def butterfly_to_monarch(B: Any, /) -> LinearOperator:
    r"""An increasing-stride butterfly as an exact Monarch (from its twiddles).

    Parameters
    ----------
    B : Butterfly
        ``increasing_stride=True`` gives a ``Monarch``; a decreasing-stride
        butterfly (class B*) gives the ``Adjoint`` of the Monarch of ``B.H``
        (class M*).

    Returns
    -------
    Monarch (or its adjoint)
        ``K = n / 2^{⌈L/2⌉}`` blocks in ``R`` of size ``2^{⌈L/2⌉}``, rank 1.

    Notes
    -----
    Write ``i = a p + t`` with ``p = 2^{L1}``, ``L1 = ⌈L/2⌉``. Levels
    ``l < L1`` (strides ``< p``) pair indices inside one block ``a``: their
    product is block-diagonal, :math:`R[a]`. Levels ``l >= L1`` (strides
    ``s = s' p``) pair ``a p + j`` with ``(a + s') p + j``: the offset ``j`` is
    kept and they act on ``a`` as a butterfly of stride ``s'`` with twiddles
    ``tw[l, g s + o' p + j]``, one ``K x K`` matrix :math:`L[j]` per offset. So
    :math:`B[\sigma p + j, a p + t] = L[j][\sigma, a]\,R[a][j, t]`, the Monarch
    element formula with ``J = p``, ``r = 1`` (DESIGN §4, §5). Uses
    ``B.to_monarch()`` when the butterfly class provides it.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.constructions import butterfly_to_monarch, dft_as_butterfly
    >>> B = dft_as_butterfly(16).factors[0]
    >>> M = butterfly_to_monarch(B)
    >>> bool(np.allclose(M.to_dense(), B.to_dense()))
    True
    """
    if not isinstance(B, LinearOperator) or not hasattr(B, "increasing_stride"):
        msg = f"butterfly_to_monarch expects a Butterfly, got {type(B).__name__}"
        raise TypeError(msg)
    if not B.increasing_stride:
        return butterfly_to_monarch(B.H).H
    if hasattr(B, "to_monarch"):
        return B.to_monarch()
    Lf, Rf = _butterfly_monarch_factors(_twiddles_of(B))
    return _monarch_cls()(Lf, Rf)


def _twiddles_of(B: Any) -> Any:
    for name in ("tw", "twiddles"):
        tw = getattr(B, name, None)
        if tw is not None:
            return tw
    msg = f"{type(B).__name__} exposes no twiddles (.tw)"
    raise TypeError(msg)


# ---------------------------------------------------------------------------------------
# Circulant, Toeplitz, convolution in MM*
# ---------------------------------------------------------------------------------------
def _good_size(N_min: int) -> int:
    """Smallest composite 5-smooth ``N >= max(N_min, 4)`` (a balanced split exists)."""
    N = max(N_min, 4)
    while True:
        m = N
        for f in (2, 3, 5):
            while m % f == 0:
                m //= f
        if m == 1 and N not in (2, 3, 5):
            return N
        N += 1


def _check_vector(c: Any, what: str) -> tuple[Any, Any]:
    xp = aa.namespace_of(c)
    if c.ndim != 1 or c.shape[0] < 1:
        msg = f"{what} expects a non-empty 1-d array, got shape {tuple(c.shape)}"
        raise ValueError(msg)
    aa.check_floating_dtype(xp, c.dtype, what)
    return c, xp


def _circulant_core(w: Any, xp: Any, m: int, ncols: int) -> LinearOperator:
    r"""``circulant(w)[:m, :ncols]`` as ``Monarch(shape=(m, N)) @ Monarch(shape=(ncols, N)).H``.

    ``C = G diag(λ[idx]/N) G^H`` with ``G`` the conjugate DFT Monarch and
    ``λ = fft(w)``; the diagonal is folded into the columns of the left ``R``.
    """
    N = w.shape[0]
    K, J = _default_split(N)
    dt = w.dtype
    dev = aa.device_of(w)
    Lg, Rg, idx = _dft_monarch_arrays(N, K, J, +1, 1.0)
    lam = xp.fft.fft(w)
    d = xp.take(lam, _to_xp(idx, xp, dev), axis=0) / N
    Lx, Rx = _to_xp(Lg, xp, dev, dt), _to_xp(Rg, xp, dev, dt)
    Monarch = _monarch_cls()
    left = Monarch(Lx, Rx * xp.reshape(d, (K, 1, J)), shape=(m, N))
    right = Monarch(Lx, Rx, shape=(ncols, N))
    return Product(left, right.H)


def circulant_as_monarch(c: Any, /) -> LinearOperator:
    r"""The circulant matrix with first column ``c`` in the class MM*.

    Parameters
    ----------
    c : array of shape (n,)
        First column (``scipy.linalg.circulant(c)``), real or complex.

    Returns
    -------
    Product(Monarch, Adjoint(Monarch))
        Complex (``complex_dtype(c.dtype)``), in ``c``'s namespace and device.

    Notes
    -----
    With :math:`F = MP` (:func:`dft_as_monarch`) and :math:`F = F^T`:
    :math:`F^{-1} = \overline{F}/n = \overline{M} P/n` and
    :math:`F = P^T M^T`, so

    .. math::

        C = F^{-1}\,\mathrm{diag}(Fc)\,F
          = \tfrac1n\,\overline{M}\,(P\,\mathrm{diag}(\lambda)\,P^T)\,M^T
          = G\,\mathrm{diag}(\lambda[\mathrm{idx}]/n)\,G^H,
          \qquad G = \overline{M},\ \lambda = Fc,

    with no permutation left: the diagonal is folded into ``G``'s ``R``
    columns, giving exactly one Monarch times the adjoint of one Monarch.
    ``λ`` is computed with ``xp.fft.fft``. For ``n`` without a proper split
    (prime ``n``) the circulant is taken as a Toeplitz matrix
    (:func:`toeplitz_as_monarch`, padded Monarchs).

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from structmat.constructions import circulant_as_monarch
    >>> c = np.arange(1.0, 9.0)
    >>> C = circulant_as_monarch(c)
    >>> C
    Product(Monarch(...), ...)
    >>> bool(np.allclose(C.to_dense(), scipy.linalg.circulant(c)))
    True
    """
    c, xp = _check_vector(c, "circulant_as_monarch")
    n = c.shape[0]
    K, _ = _default_split(n)
    if K in (1, n):
        row = xp.concat([c[:1], xp.flip(c[1:])]) if n > 1 else c
        return toeplitz_as_monarch(c, row)
    w = xp.astype(c, aa.complex_dtype(xp, c.dtype))
    return _circulant_core(w, xp, n, n)


def toeplitz_as_monarch(c: Any, r: Any = None, /) -> LinearOperator:
    r"""The ``m x n`` Toeplitz matrix ``toeplitz(c, r)`` in MM*, by circulant embedding.

    Parameters
    ----------
    c : array of shape (m,)
        First column.
    r : array of shape (n,), optional
        First row (``r[0]`` is ignored, as in SciPy); default ``conj(c)``.

    Returns
    -------
    Product(Monarch, Adjoint(Monarch))
        ``Monarch(shape=(m, N)) @ Monarch(shape=(n, N)).H``: output truncation
        and input padding of the Monarch class do the embedding.

    Notes
    -----
    ``T[i, j] = c[i-j]`` (``i >= j``), ``r[j-i]`` (``i < j``). Let ``N`` be the
    smallest composite 5-smooth number ``>= m + n - 1`` and
    ``w = (c, 0, ..., 0, r[n-1], ..., r[1])`` (length ``N``). The circulant
    :math:`C_w[i, j] = w[(i-j) \bmod N]` has ``T`` as its top-left ``m x n``
    block, :math:`T = E_m^T C_w E_n`, and :math:`C_w = G D G^H`
    (:func:`circulant_as_monarch`): truncating ``G``'s output to ``m`` rows and
    ``G^H``'s input to ``n`` entries (the Monarch ``shape``) gives ``T``.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from structmat.constructions import toeplitz_as_monarch
    >>> c, r = np.arange(1.0, 6.0), np.arange(10.0, 13.0)
    >>> bool(np.allclose(toeplitz_as_monarch(c, r).to_dense(), scipy.linalg.toeplitz(c, r)))
    True
    """
    c, xp = _check_vector(c, "toeplitz_as_monarch")
    if r is None:
        r = xp.conj(c)
    r, xp_r = _check_vector(r, "toeplitz_as_monarch")
    aa.check_same_backend(xp, aa.device_of(c), xp_r, aa.device_of(r), "toeplitz_as_monarch")
    m, n = c.shape[0], r.shape[0]
    N = _good_size(m + n - 1)
    dt = aa.complex_dtype(xp, xp.result_type(c.dtype, r.dtype))
    dev = aa.device_of(c)
    parts = [xp.astype(c, dt), xp.zeros((N - m - n + 1,), dtype=dt, device=dev)]
    parts.append(xp.astype(xp.flip(r[1:]), dt))
    return _circulant_core(xp.concat(parts), xp, m, n)


def _convolution_window(nh: int, n: int, mode: str) -> tuple[int, int]:
    """``(rows, first row)`` of ``numpy.convolve(h, x, mode)`` inside the full convolution."""
    lo = min(nh, n)
    if mode == "full":
        return nh + n - 1, 0
    if mode == "same":
        return max(nh, n), (lo - 1) // 2
    if mode == "valid":
        return max(nh, n) - lo + 1, lo - 1
    msg = f"convolution_as_monarch: mode must be 'full', 'same' or 'valid', got {mode!r}"
    raise ValueError(msg)


def convolution_as_monarch(h: Any, n: int, mode: str = "full") -> LinearOperator:
    r"""The matrix of ``x -> numpy.convolve(h, x, mode)`` (``x`` of length ``n``) in MM*.

    Parameters
    ----------
    h : array of shape (nh,)
        The filter.
    n : int
        Input length.
    mode : {"full", "same", "valid"}
        Output lengths ``nh + n - 1``, ``max(nh, n)``, ``max - min + 1``.

    Returns
    -------
    Product(Monarch, Adjoint(Monarch))
        As :func:`toeplitz_as_monarch`.

    Notes
    -----
    The full convolution matrix is Toeplitz, ``T[i, k] = h[i-k]``; it is the
    top-left block of the circulant of ``w = (h, 0, ..., 0)`` of any length
    ``N >= nh + n - 1``. Modes ``"same"`` and ``"valid"`` keep rows
    ``off, off+1, ...`` with ``off = (min(nh, n) - 1) // 2`` and
    ``min(nh, n) - 1``; rows ``off..`` of a circulant are the top rows of the
    circulant of ``w`` rolled by ``-off``. Then as :func:`circulant_as_monarch`.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.constructions import convolution_as_monarch
    >>> h, x = np.array([1.0, -2.0, 0.5]), np.arange(6.0)
    >>> bool(np.allclose(convolution_as_monarch(h, 6) @ x, np.convolve(h, x)))
    True
    """
    h, xp = _check_vector(h, "convolution_as_monarch")
    n = integer(n, "n", "convolution_as_monarch")
    nh = h.shape[0]
    m, off = _convolution_window(nh, n, mode)
    N = _good_size(nh + n - 1)
    dt = aa.complex_dtype(xp, h.dtype)
    w = xp.concat([xp.astype(h, dt), xp.zeros((N - nh,), dtype=dt, device=aa.device_of(h))])
    if off:
        w = xp.concat([w[off:], w[:off]])
    return _circulant_core(w, xp, m, n)

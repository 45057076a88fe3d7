"""The DFT, its inverse, the Hadamard matrix and the DCT-II as butterfly products
(private; public names in :mod:`structmat.constructions`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat.basic import Permutation
from structmat.constructions import _formulas
from structmat.constructions._common import (
    _butterfly_cls,
    _check_norm,
    _check_power_of_two,
    _dft_scale,
    _dtype,
    _roots,
    _to_xp,
)
from structmat.linop import LinearOperator, Product


def _dft_twiddles(n: int, sign: int, level_scale: float) -> np.ndarray:
    """``tw`` of shape ``(L, n/2, 2, 2)``: ``tw[l, g*s+o] = [[1, ω^o], [1, -ω^o]]``."""
    L = n.bit_length() - 1
    tw = np.empty((L, n // 2, 2, 2), dtype=np.complex128)
    b = np.arange(2)[:, None, None]
    c = np.arange(2)[None, :, None]
    for ell in range(L):
        s = 1 << ell
        o = np.arange(s)[None, None, :]
        e = _formulas._butterfly_dft_exponent(o, b, c, s)  # (2, 2, s), units of ω_{2s}
        blk = level_scale * _roots(e, 2 * s, sign)
        # tw[l, g*s + o, b, c] for every g < n/(2s)
        tw[ell] = np.tile(np.moveaxis(blk, 2, 0), (n // (2 * s), 1, 1))
    return tw


def _mixed_dft_twiddles(n: int, radices: tuple[int, ...], sign: int, level_scale: float) -> list:
    """Per-level ``tw[l][g*s + o][j, k] = ω_{b s}^{k (o + j s)}`` (mixed-radix Cooley-Tukey)."""
    out = []
    s = 1
    for b in radices:
        o = np.arange(s)[:, None, None]
        j = np.arange(b)[None, :, None]
        k = np.arange(b)[None, None, :]
        blk = level_scale * _roots(k * (o + j * s), b * s, sign)  # (s, b, b)
        out.append(np.tile(blk, (n // (b * s), 1, 1)))
        s *= b
    return out


def _fourier_butterfly(
    n: Any, norm: Any, dtype: Any, xp: Any, device: Any, inverse: bool, radices: Any = None
) -> LinearOperator:
    from structmat.butterfly import _radices, digit_reversal

    what = "idft_as_butterfly" if inverse else "dft_as_butterfly"
    rad = _radices(n, radices, what)
    n = math.prod(rad)
    norm = _check_norm(norm, what)
    xp = aa.default_namespace(xp)
    dt = _dtype(xp, dtype, "complex128", complex_=True)
    L = len(rad)
    level_scale = _dft_scale(n, norm, inverse) ** (1.0 / L)
    sign = 1 if inverse else -1
    if all(b == 2 for b in rad):
        tw: Any = _to_xp(_dft_twiddles(n, sign, level_scale), xp, device, dt)
        idx = _formulas._bitrev(np.arange(n, dtype=np.int64), L)
    else:
        tw = [_to_xp(a, xp, device, dt) for a in _mixed_dft_twiddles(n, rad, sign, level_scale)]
        idx = digit_reversal(n, rad)
    B = _butterfly_cls()(tw, increasing_stride=True)
    return Product(B, Permutation(_to_xp(idx, xp, device), dtype=dt))


def dft_as_butterfly(
    n: int,
    norm: str = "backward",
    *,
    radices: Any = None,
    dtype: Any = None,
    xp: Any = None,
    device: Any = None,
) -> LinearOperator:
    r"""The DFT as an increasing-stride butterfly times the digit-reversal permutation.

    Parameters
    ----------
    n : int
        Any ``n >= 2``. A prime ``n`` gives a single dense level (the DFT
        matrix itself, identity permutation).
    radices : sequence of int, optional
        ``(b_0, b_1, …)`` with product ``n``; default radix 2 for a power of
        two (bit reversal), else the prime factors in increasing order.
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
    Radix-2 decimation in time: level l, stride ``s = 2^l``,
    ``tw[l, g*s + o] = [[1, ω_{2s}^o], [1, -ω_{2s}^o]]``. After bit reversal,
    level l merges pairs of length-``s`` DFTs ``E, O`` into a length-``2s`` DFT:
    :math:`X[o + bs] = E[o] + (-1)^b \omega_{2s}^o O[o]`, because
    :math:`\omega_{2s}^{(o+bs)(2q+c)} = \omega_{2s}^{c(o+bs)}\,\omega_s^{oq}`
    (the exponents differ by :math:`2s\,bq`).

    Mixed radix (Cooley-Tukey): level l (radix ``b``, stride
    ``s = b_0 ⋯ b_{l-1}``) has ``tw[l][g*s + o][j, k] = ω_{bs}^{k(o + js)}``
    and merges ``b`` DFTs ``Z_k`` of length ``s`` into one of length ``bs``,
    :math:`X[o + js] = \sum_k \omega_{bs}^{k(o+js)} Z_k[o]`, because
    :math:`\omega_{bs}^{(o+js)(k+bm)} = \omega_{bs}^{k(o+js)}\,\omega_s^{om}`
    (the exponents differ by :math:`bs\,jm`); the permutation is
    :func:`structmat.butterfly.digit_reversal`.
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
    >>> x = np.random.default_rng(0).standard_normal(12)
    >>> bool(np.allclose(dft_as_butterfly(12) @ x, np.fft.fft(x)))
    True
    """
    return _fourier_butterfly(n, norm, dtype, xp, device, inverse=False, radices=radices)


def idft_as_butterfly(
    n: int,
    norm: str = "backward",
    *,
    radices: Any = None,
    dtype: Any = None,
    xp: Any = None,
    device: Any = None,
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
    return _fourier_butterfly(n, norm, dtype, xp, device, inverse=True, radices=radices)


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
    pair = _formulas._dct_pair_index(n)
    pos = np.empty(n, dtype=np.int64)
    pos[pair] = np.arange(n)  # position of V[k] (and of y[k]) in the paired order
    tw0 = np.zeros((L, n // 2, 2, 2), dtype=np.complex128)
    tw0[1:] = np.eye(2)
    rows = np.array([t[0] for t in _formulas._dct_combine_terms(n)])
    cols = np.array([t[1] for t in _formulas._dct_combine_terms(n)])
    exps = np.array([t[2] for t in _formulas._dct_combine_terms(n)])
    vals = _roots(exps, 4 * n, -1)
    if ortho:
        vals = vals * np.where(rows == 0, 1.0 / math.sqrt(4 * n), 1.0 / math.sqrt(2 * n))
    pr, pc = pos[rows], pos[cols]
    np.add.at(tw0[0], (pr // 2, pr % 2, pc % 2), vals)
    in_idx = _formulas._makhoul_index(n)[_formulas._bitrev(np.arange(n, dtype=np.int64), L)]
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

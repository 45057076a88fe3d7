"""The DFT, its inverse and the Hadamard matrix as Monarch products, and the exact
Monarch of an increasing-stride butterfly (private; public names in
:mod:`structmat.constructions`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._args import integer
from structmat.basic import Permutation
from structmat.constructions import _formulas
from structmat.constructions._common import (
    _check_norm,
    _check_power_of_two,
    _default_split,
    _dft_scale,
    _dtype,
    _monarch_cls,
    _roots,
    _split,
    _to_xp,
)
from structmat.linop import LinearOperator, Product


def _dft_monarch_arrays(
    n: int, K: int, J: int, sign: int, scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NumPy ``(L, R, idx)`` of ``F = Monarch(L, R) @ Permutation(idx)`` (sign -1: DFT)."""
    j = np.arange(J)[:, None, None]
    sig = np.arange(K)[None, :, None]
    a_L = np.arange(K)[None, None, :]
    eL = np.broadcast_to(_formulas._dft_monarch_L_exponent(j, sig, a_L, J, K), (J, K, K))
    L = scale * _roots(eL, n, sign)
    a = np.arange(K)[:, None, None]
    jr = np.arange(J)[None, :, None]
    t = np.arange(J)[None, None, :]
    R = _roots(
        np.broadcast_to(_formulas._dft_monarch_R_exponent(a, jr, t, J, K), (K, J, J)), n, sign
    )
    idx = _formulas._dft_monarch_input(np.arange(K)[:, None], np.arange(J)[None, :], K).reshape(-1)
    return L, R, idx.astype(np.int64)


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
    nblocks : (K, J) or int, optional
        The numbers of ``R`` and ``L`` blocks, ``K*J = n`` (the blocks are
        then ``p = J`` and ``s = K`` wide); an int ``k`` means ``(k, k)``, as
        for every Monarch, so it needs ``n = k²``. Default: ``K`` the divisor
        of ``n`` nearest ``√n``. ``nblocks=(1, n)`` gives the trivial (dense)
        Monarch and works for prime ``n``.
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
        unless ``nblocks=(1, n)`` is passed, a bad ``nblocks`` or ``norm``.

    Notes
    -----
    The Monarch element formula (rank ``r = 1``, ``p = J``,
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
    nblocks : (K, J) or int, optional
        Powers of 2 with ``K*J = n`` (an int ``k`` means ``(k, k)``); default
        ``K`` the divisor nearest ``√n``.
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
    L = np.broadcast_to(scale * (-1.0) ** _formulas._hadamard_parity(sig, a), (J, K, K))
    jr = np.arange(J)[None, :, None]
    t = np.arange(J)[None, None, :]
    R = np.broadcast_to((-1.0) ** _formulas._hadamard_parity(jr, t), (K, J, J))
    return _monarch_cls()(_to_xp(L, xp, device, dt), _to_xp(R, xp, device, dt))


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
    element formula with ``J = p``, ``r = 1``. Uses
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

"""Circulant, Toeplitz and convolution matrices in the class MM* (private; public
names in :mod:`structmat.constructions`)."""

from __future__ import annotations

from typing import Any

from structmat import _array_api as aa
from structmat._args import integer
from structmat._fftcore import _fast_len
from structmat.constructions._common import _default_split, _monarch_cls, _to_xp
from structmat.constructions._monarch import _dft_monarch_arrays
from structmat.linop import LinearOperator, Product


def _good_size(N_min: int) -> int:
    """Smallest composite 5-smooth ``N >= max(N_min, 4)`` (a balanced split exists)."""
    N = _fast_len(max(N_min, 4))
    # scipy gives 5-smooth lengths but may give a prime one; past 4 only 5 is prime
    # (the Monarch split K x J needs K, J >= 2), and 6 is the next 5-smooth length
    return 6 if N == 5 else N


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

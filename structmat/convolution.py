r"""FFT-convolution operators: Circulant, Toeplitz, Convolution, Correlation.

Each is one circular convolution computed with FFTs (``rfft``/``irfft`` for
real data) through the same FFT routing as :mod:`structmat.fourier` (which
re-exports these classes); see that module's notes for the backends, dtypes
and flop counts. The 2-d operators are in :mod:`structmat.convolution2d`.
"""

from __future__ import annotations

from typing import Any

from structmat import _array_api as aa
from structmat._args import integer
from structmat._fftcore import (
    _check_choice,
    _fast_len,
    _fft,
    _fft_cost,
    _ints,
)
from structmat._operand import _Converter, by_parts
from structmat.linop import Adjoint, LinearOperator, Transpose

__all__ = ["Circulant", "Convolution", "Correlation", "Toeplitz"]

_MODES = ("full", "same", "valid", "circular")


def _vector(a: Any, what: str) -> tuple[Any, Any]:
    xp = aa.namespace_of(a)
    if a.ndim != 1:
        msg = f"{what} expects a 1-d array, got shape {tuple(a.shape)}"
        raise ValueError(msg)
    if a.shape[0] < 1:
        msg = f"{what} expects a non-empty array, got length 0"
        raise ValueError(msg)
    return aa.floating_input(xp, a, what), xp  # integers and booleans: float64


def _wrap(xp: Any, h: Any, n: int) -> Any:
    """``h`` folded to length ``n``: ``w[i] = sum_t h[i + t n]`` (zero-padded when shorter)."""
    L = h.shape[0]
    blocks = -(-L // n)
    if blocks * n > L:
        h = xp.concat((h, xp.zeros(blocks * n - L, dtype=h.dtype, device=aa.device_of(h))))
    return h if blocks == 1 else xp.sum(xp.reshape(h, (blocks, n)), axis=0)


def _reflect(xp: Any, c: Any) -> Any:
    """``c[-i mod n]``: the first column of the transposed circulant."""
    return xp.concat((c[:1], xp.flip(c[1:])))


def _geometry(mode: str, L: int, n: int, same: tuple[int, int]) -> tuple[int, int, int]:
    """Output length ``m``, row offset ``off`` and FFT length ``N`` of a 1-d ``mode``.

    ``same`` is the ``(m, off)`` of mode ``"same"``, which NumPy and SciPy define apart.
    """
    if mode == "circular":
        return n, 0, n
    lo, hi = min(L, n), max(L, n)
    m, off = {"full": (L + n - 1, 0), "same": same, "valid": (hi - lo + 1, lo - 1)}[mode]
    return m, off, _fast_len(max(L + n - 1 - off, off + m))


# ---------------------------------------------------------------------- convolution family
class _ConvBase(LinearOperator):
    r"""``y[i] = sum_j v[off + i - j] x[j]`` (``v`` zero outside ``[0, K)``), via FFT.

    One circular convolution of length ``N >= max(K + n - 1 - off, off + m)``
    computes the rows ``off .. off + m - 1`` of the full linear convolution
    without aliasing; a circulant is the case ``N = n``, ``off = 0`` (``cyclic``:
    then ``v`` has length ``n`` and indices wrap modulo ``n``).
    """

    def _setup(
        self,
        sources: tuple[Any, ...],
        off: int,
        shape: tuple[int, int],
        nfft: int,
        xp: Any,
        *,
        cyclic: bool = False,
    ) -> None:
        """``sources``: the stored arrays the kernel ``v`` is built from (owned or torch)."""
        self._sources, self._off, self._nfft, self._cyclic = sources, off, nfft, cyclic
        dtype = xp.result_type(*(a.dtype for a in sources))
        super().__init__(shape=shape, dtype=dtype, xp=xp, device=aa.device_of(sources[0]))
        self._spectra: dict[tuple[Any, ...], Any] = {}

    def _kernel(self, dtype: Any) -> Any:
        """The convolution kernel ``v`` in ``dtype``, built from the sources at each call."""
        raise NotImplementedError

    def _spectrum(self, dtype: Any) -> Any:
        """``fft(v, N)`` (``rfft`` for real dtype) in the precision of ``dtype``.

        Cached under the sources' keys (:func:`structmat._array_api.source_key`):
        recomputed whenever a source may have changed.
        """
        xp = self.xp
        keys = tuple(aa.source_key(a) for a in self._sources)
        key = (aa.dtype_name(dtype), *keys)
        got = self._spectra.get(key)
        if got is None:
            v = xp.astype(self._kernel(dtype), dtype)
            kind = "fft" if aa.is_complex(xp, dtype) else "rfft"
            got = _fft(xp, v[:, None], kind, n=self._nfft)[:, 0]
            if None not in keys:
                self._spectra[key] = got
        return got

    def _circular(self, X: Any, adjoint: bool) -> Any:
        """``C X`` (or ``C^H X``) for the length-``N`` circulant ``C`` of ``v``."""
        xp, N = self.xp, self._nfft
        if aa.is_complex(xp, self.dtype):
            V = self._spectrum(X.dtype)
            V = xp.conj(V) if adjoint else V
            return _fft(xp, V[:, None] * _fft(xp, X, "fft", n=N), "ifft", n=N)

        def real(Z: Any) -> Any:
            V = self._spectrum(Z.dtype)
            V = xp.conj(V) if adjoint else V
            return _fft(xp, V[:, None] * _fft(xp, Z, "rfft", n=N), "irfft", n=N)

        return by_parts(xp, X, real)

    def _matmat(self, X: Any) -> Any:
        off, m = self._off, self.shape[0]
        return self._circular(X, adjoint=False)[..., off : off + m, :]

    def _rmatmat(self, X: Any) -> Any:
        # A = rows off..off+m-1 of C restricted to the first n columns, so
        # A^H X = the first n rows of C^H applied to X placed at rows off..off+m-1.
        xp, N, off = self.xp, self._nfft, self._off
        m, n = self.shape
        lead, k = tuple(X.shape[:-2]), X.shape[-1]

        def zeros(rows: int) -> Any:
            return xp.zeros((*lead, rows, k), dtype=X.dtype, device=self.device)

        Z = xp.concat((zeros(off), X, zeros(N - off - m)), axis=-2)
        return self._circular(Z, adjoint=True)[..., :n, :]

    def _adjoint(self) -> LinearOperator:
        # Torch sources stay live: the adjoint reads them through ``_rmatmat``. Other
        # sources are owned read-only copies, so a structural adjoint cannot go stale.
        if aa.is_torch_array(self._sources[0]):
            return Adjoint(self)
        return self._structural(adjoint=True)

    def _transpose(self) -> LinearOperator:
        if aa.is_torch_array(self._sources[0]):
            return Transpose(self)
        return self._structural(adjoint=False)

    def _structural(self, adjoint: bool) -> LinearOperator:
        """The adjoint (or transpose) as an operator of the family, built from the sources.

        A cyclic operator's is the circulant of the reflected kernel, a linear
        one's the Toeplitz matrix of the swapped first column and row.
        """
        if self._cyclic:
            reflected = _reflect(self.xp, self._kernel(self.dtype))
            return Circulant(self._conj(reflected) if adjoint else reflected)
        c, r = self._toeplitz_cr()
        return Toeplitz(self._conj(r), self._conj(c)) if adjoint else Toeplitz(r, c)

    def _kernel_at(self, idx: Any) -> Any:
        """``v[idx]`` with zeros outside ``[0, K)``, for an integer array ``idx``."""
        xp = self.xp
        v = xp.astype(self._kernel(self.dtype), self.dtype, copy=False)
        K = v.shape[0]
        ext = xp.concat((v, xp.zeros(1, dtype=self.dtype, device=self.device)))
        inside = (idx >= 0) & (idx < K)
        flat = xp.reshape(xp.where(inside, idx, xp.full_like(idx, K)), (-1,))
        return xp.reshape(xp.take(ext, flat), idx.shape)

    def _toeplitz_cr(self) -> tuple[Any, Any]:
        """First column and first row of the (Toeplitz) matrix."""
        xp = self.xp
        m, n = self.shape
        c = self._kernel_at(self._off + _ints(xp, m, self.device))
        r = self._kernel_at(self._off - _ints(xp, n, self.device))
        return c, r

    def to_dense(self) -> Any:
        xp = self.xp
        m, n = self.shape
        i, j = _ints(xp, m, self.device), _ints(xp, n, self.device)
        idx = self._off + i[:, None] - j[None, :]
        return self._kernel_at(idx % n if self._cyclic else idx)

    def _flops(self, k: int) -> int:
        N = self._nfft
        if aa.is_complex(self.xp, self.dtype):
            return k * (2 * _fft_cost(N) + N)
        return k * (_fft_cost(N) + N // 2 + 1)

    def _conj(self, a: Any) -> Any:
        return self.xp.conj(a) if aa.is_complex(self.xp, self.dtype) else a


class Circulant(_ConvBase):
    r"""Circulant matrix with first column ``c``, equal to ``scipy.linalg.circulant(c)``.

    Parameters
    ----------
    c : array of shape (n,)
        First column (float32/64 or complex64/128; the operator's dtype).

    Notes
    -----
    :math:`C_{ij} = c_{(i-j) \bmod n}`, so :math:`Cx = c \circledast x =
    \mathrm{ifft}(\mathrm{fft}(c) \odot \mathrm{fft}(x))` (real FFTs for real
    ``c`` and ``x``). The spectrum is computed once per precision.
    :math:`C^H` is the circulant of :math:`\overline{c_{-i \bmod n}}`
    (a ``Circulant``), :math:`C^T` that of :math:`c_{-i \bmod n}`.

    Examples
    --------
    >>> import numpy as np, scipy.linalg, structmat as sm
    >>> c = np.array([1.0, 2.0, 0.0, -1.0, 3.0])
    >>> x = np.arange(5.0)
    >>> bool(np.allclose(sm.Circulant(c) @ x, scipy.linalg.circulant(c) @ x))
    True
    >>> sm.Circulant(c).H
    Circulant(5, float64)
    """

    def __init__(self, c: Any, /) -> None:
        c, xp = _vector(c, "Circulant")
        n = c.shape[0]
        self.c = aa.owned(xp, c)
        self._setup((self.c,), 0, (n, n), n, xp, cyclic=True)

    def _kernel(self, dtype: Any) -> Any:
        return self.c

    def _map(self, convert: _Converter) -> LinearOperator:
        return Circulant(convert(self.c))

    def _parameter_count(self) -> int:
        return self.shape[0]

    def to_dense(self) -> Any:
        xp = self.xp
        n = self.shape[0]
        i = _ints(xp, n, self.device)
        idx = (i[:, None] - i[None, :]) % n
        return xp.reshape(xp.take(self.c, xp.reshape(idx, (-1,))), (n, n))

    def _repr_args(self) -> str:
        return f"{self.shape[0]}, {aa.dtype_name(self.dtype)}"


class Toeplitz(_ConvBase):
    r"""Toeplitz matrix with first column ``c`` and first row ``r``, as ``scipy.linalg.toeplitz``.

    Parameters
    ----------
    c : array of shape (m,)
        First column.
    r : array of shape (n,), optional
        First row; ``r[0]`` is ignored (SciPy's rule: the first row is
        ``[c[0], r[1:]]``). Default ``conj(c)`` (a Hermitian matrix when
        ``c[0]`` is real), as in SciPy.

    Attributes
    ----------
    c, r : arrays
        The first column and the first row actually used (``r[0] == c[0]``),
        in the operator's dtype (the promoted dtype of ``c`` and ``r``).

    Notes
    -----
    :math:`T_{ij} = c_{i-j}` for :math:`i \ge j`, :math:`r_{j-i}` otherwise;
    any shape ``m x n``. Multiply by circulant embedding: with
    :math:`v = (r_{n-1}, \dots, r_1, c_0, \dots, c_{m-1})`,
    :math:`(Tx)_i = (v * x)_{i+n-1}`, one circular convolution of a fast length
    :math:`N \ge m + n - 1` (``2^a 3^b 5^c``). :math:`T^H` is
    ``Toeplitz(conj(r), conj(c))``, :math:`T^T` is ``Toeplitz(r, c)``.

    Examples
    --------
    >>> import numpy as np, scipy.linalg, structmat as sm
    >>> c, r = np.array([1.0, 2.0, 3.0]), np.array([9.0, 4.0, 5.0, 6.0])
    >>> T = sm.Toeplitz(c, r)
    >>> bool(np.allclose(T.to_dense(), scipy.linalg.toeplitz(c, r)))
    True
    >>> bool(np.allclose(T @ np.ones(4), scipy.linalg.toeplitz(c, r) @ np.ones(4)))
    True
    >>> T.H
    Toeplitz(4x3, float64)
    """

    def __init__(self, c: Any, /, r: Any = None) -> None:
        c, xp = _vector(c, "Toeplitz c")
        if r is None:
            r = xp.conj(c) if aa.is_complex(xp, c.dtype) else c
        r, xp_r = _vector(r, "Toeplitz r")
        aa.check_same_backend(xp, aa.device_of(c), xp_r, aa.device_of(r), "Toeplitz(c, r)")
        if not aa.is_torch_array(c):
            dtype = xp.result_type(c.dtype, r.dtype)
            c, r = xp.astype(c, dtype, copy=False), xp.astype(r, dtype, copy=False)
            r = xp.concat((c[:1], r[1:]))
        # torch tensors stay as given (live parameters; r[0] is never read)
        self.c, self.r = aa.owned(xp, c), aa.owned(xp, r)
        m, n = c.shape[0], r.shape[0]
        self._setup((self.c, self.r), n - 1, (m, n), _fast_len(m + n - 1), xp)

    def _kernel(self, dtype: Any) -> Any:
        xp = self.xp
        r, c = xp.astype(self.r, dtype, copy=False), xp.astype(self.c, dtype, copy=False)
        return xp.concat((xp.flip(r[1:]), c))

    def _structural(self, adjoint: bool) -> LinearOperator:
        if adjoint:
            return Toeplitz(self._conj(self.r), self._conj(self.c))
        return Toeplitz(self.r, self.c)

    def _map(self, convert: _Converter) -> LinearOperator:
        return Toeplitz(convert(self.c), convert(self.r))

    def solve(self, b: Any) -> Any:
        """``T^{-1} b`` for a square ``T`` and ``b`` of shape ``(n,)`` or ``(n, k)``.

        NumPy: ``scipy.linalg.solve_toeplitz`` (Levinson, :math:`O(n^2)`);
        other backends: ``xp.linalg.solve`` of the dense matrix. A singular
        ``T`` raises ``numpy.linalg.LinAlgError`` on NumPy.

        Examples
        --------
        >>> import numpy as np, structmat as sm
        >>> T = sm.Toeplitz(np.array([4.0, 1.0, 0.5]))
        >>> bool(np.allclose(T @ T.solve(np.ones(3)), np.ones(3)))
        True
        """
        m, n = self.shape
        if m != n:
            msg = f"Toeplitz.solve needs a square operator, got shape {self.shape}"
            raise ValueError(msg)
        xp = self.xp
        b = self._prepare(b, n, "Toeplitz.solve(b)")
        if b.ndim > 2:
            msg = f"Toeplitz.solve expects b of shape (n,) or (n, k), got {tuple(b.shape)}"
            raise ValueError(msg)
        if self._numpy:
            import scipy.linalg  # scipy is a dependency; imported here, only when solving

            return scipy.linalg.solve_toeplitz((self.c, self.r), b)
        A = self.to_dense()
        if b.ndim == 1:
            return xp.linalg.solve(A, b[:, None])[:, 0]
        return xp.linalg.solve(A, b)

    def _parameter_count(self) -> int:
        return self.shape[0] + self.shape[1] - 1

    def _repr_args(self) -> str:
        m, n = self.shape
        return f"{m}x{n}, {aa.dtype_name(self.dtype)}"


class Convolution(_ConvBase):
    r"""The matrix of ``numpy.convolve(h, x, mode)`` for ``x`` of length ``n``.

    Parameters
    ----------
    h : array of shape (L,)
        The filter (float32/64 or complex64/128; the operator's dtype).
    n : int
        Input length.
    mode : {"full", "same", "valid", "circular"}, optional
        NumPy's modes, output length ``L + n - 1``, ``max(L, n)`` and
        ``max(L, n) - min(L, n) + 1``; or ``"circular"``, output length ``n``:
        ``ifft(fft(h, n) * fft(x))``.

    Notes
    -----
    :math:`y_i = \sum_j h_{o + i - j} x_j` (``h`` zero outside ``[0, L)``),
    the rows ``o .. o + m - 1`` of the full convolution, with NumPy's offsets
    ``o = 0`` (full), ``(min(L, n) - 1) // 2`` (same) and ``min(L, n) - 1``
    (valid) - NumPy swaps its arguments so the longer one comes first, so
    these hold whether ``h`` or ``x`` is longer. The product is one FFT
    convolution of a fast length ``N >= max(L + n - 1 - o, o + m)``. The
    adjoint is a correlation, returned as a ``Toeplitz`` (as is the transpose
    of a complex filter).

    ``"circular"``: :math:`y_i = \sum_j w_{(i - j) \bmod n} x_j`, the
    circulant of ``h`` folded to length ``n``, :math:`w_i = \sum_t h_{i + tn}`:
    a filter longer than ``n`` has its aliases summed (``numpy.fft.fft(h, n)``
    would instead drop them), so ``y`` is the full convolution folded modulo
    ``n``. Its adjoint and transpose are ``Circulant`` operators.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> h, x = np.array([1.0, -2.0, 0.5]), np.arange(6.0)
    >>> bool(np.allclose(sm.Convolution(h, 6, "same") @ x, np.convolve(h, x, "same")))
    True
    >>> y = sm.Convolution(h, 6, "circular") @ x
    >>> bool(np.allclose(y, np.fft.ifft(np.fft.fft(h, 6) * np.fft.fft(x)).real))
    True
    >>> sm.Convolution(h, 6).H
    Toeplitz(6x8, float64)
    """

    def __init__(self, h: Any, /, n: int, mode: str = "full") -> None:
        h, xp = _vector(h, "Convolution h")
        n = integer(n, "n", "Convolution")
        self.mode = str(_check_choice(mode, _MODES, "Convolution mode"))
        self.h, self.n = aa.owned(xp, h), n
        L = h.shape[0]
        m, off, N = _geometry(self.mode, L, n, (max(L, n), (min(L, n) - 1) // 2))
        self._setup((self.h,), off, (m, n), N, xp, cyclic=self.mode == "circular")

    def _kernel(self, dtype: Any) -> Any:
        if self._cyclic:  # fold in the product's precision: the sum rounds
            return _wrap(self.xp, self.xp.astype(self.h, dtype), self.n)
        return self.h

    def _map(self, convert: _Converter) -> LinearOperator:
        return Convolution(convert(self.h), self.n, self.mode)

    def _parameter_count(self) -> int:
        return self.h.shape[0]

    def _repr_args(self) -> str:
        return f"{self.h.shape[0]}, {self.n}, mode={self.mode!r}, {aa.dtype_name(self.dtype)}"


class Correlation(_ConvBase):
    r"""The matrix of ``scipy.signal.correlate(x, h, mode)`` for ``x`` of length ``n``.

    Parameters
    ----------
    h : array of shape (L,)
        The filter, SciPy's second argument: conjugated when complex, as
        SciPy does (float32/64 or complex64/128; the operator's dtype).
    n : int
        Input length.
    mode : {"full", "same", "valid", "circular"}, optional
        SciPy's modes, output length ``L + n - 1``, ``n`` (the length of SciPy's
        first argument, ``x``) and ``max(L, n) - min(L, n) + 1``; or
        ``"circular"``, output length ``n``: ``ifft(fft(x) * conj(fft(h, n)))``.

    Notes
    -----
    The full correlation is :math:`z_k = \sum_j x_j \overline{h_{j - k + L - 1}}`,
    :math:`k = 0 .. L + n - 2` (lag :math:`k - L + 1`), i.e. the convolution of
    ``x`` with :math:`\overline{h}` reversed. The modes keep its entries
    ``o .. o + m - 1``, with SciPy's offsets ``o = 0`` (full),
    ``(L - 1) // 2`` (same: centred, the extra entry of an even ``L`` on the
    right) and ``min(L, n) - 1`` (valid, whichever of ``h`` and ``x`` is
    longer). The product is one FFT convolution; the adjoint is a
    convolution, returned as a ``Toeplitz``.

    ``"circular"``: :math:`y_k = \sum_j x_{(j + k) \bmod n} \overline{w_j}`
    (lag ``k``), with ``h`` folded to length ``n``,
    :math:`w_i = \sum_t h_{i + tn}`: the full correlation folded modulo ``n``
    by lag. Its adjoint and transpose are ``Circulant`` operators.

    Examples
    --------
    >>> import numpy as np, scipy.signal, structmat as sm
    >>> h, x = np.array([1.0, -2.0, 0.5, 3.0]), np.arange(7.0)
    >>> C = sm.Correlation(h, 7, "same")
    >>> bool(np.allclose(C @ x, scipy.signal.correlate(x, h, "same")))
    True
    >>> y = sm.Correlation(h, 7, "circular") @ x
    >>> bool(np.allclose(y, np.fft.ifft(np.fft.fft(x) * np.conj(np.fft.fft(h, 7))).real))
    True
    >>> C
    Correlation(4, 7, mode='same', float64)
    """

    def __init__(self, h: Any, /, n: int, mode: str = "full") -> None:
        h, xp = _vector(h, "Correlation h")
        n = integer(n, "n", "Correlation")
        self.mode = str(_check_choice(mode, _MODES, "Correlation mode"))
        self.h, self.n = aa.owned(xp, h), n
        L = h.shape[0]
        m, off, N = _geometry(self.mode, L, n, (n, (L - 1) // 2))
        self._setup((self.h,), off, (m, n), N, xp, cyclic=self.mode == "circular")

    def _kernel(self, dtype: Any) -> Any:
        xp = self.xp
        if self._cyclic:  # fold in the product's precision: the sum rounds
            return self._conj(_reflect(xp, _wrap(xp, xp.astype(self.h, dtype), self.n)))
        return self._conj(xp.flip(self.h))

    def _map(self, convert: _Converter) -> LinearOperator:
        return Correlation(convert(self.h), self.n, self.mode)

    def _parameter_count(self) -> int:
        return self.h.shape[0]

    def _repr_args(self) -> str:
        return f"{self.h.shape[0]}, {self.n}, mode={self.mode!r}, {aa.dtype_name(self.dtype)}"

r"""Fourier-family operators, fast and FFT-backed: DFT, IDFT, DCT, DST, Hadamard,
Circulant, Toeplitz, Convolution.

The FFT-convolution operators (``Circulant``, ``Toeplitz``, ``Convolution``)
are defined in :mod:`structmat.convolution` and re-exported here; the notes
below cover both modules.

Every operator multiplies in :math:`O(n \log n)` through the ``fft`` extension
of the array API (``xp.fft.fft/ifft/rfft/irfft``), so the same code runs on
NumPy, ``array_api_strict``, torch and CuPy, for every length ``n`` (primes
included: the FFT libraries handle them). Inputs of shape ``(n,)``, ``(n, k)``
and stacks ``(..., n, k)`` are transformed along the rows (axis ``-2``), i.e.
column by column, exactly like ``numpy.fft.fft(x, axis=0)`` on a matrix.

FFT routing
-----------
All transforms go through one private helper, :func:`_fft`
(in ``structmat._fftcore``). For NumPy arrays
it calls ``scipy.fft`` (pocketfft in C++, faster than ``numpy.fft`` and
single-precision preserving), with ``workers`` left to SciPy's context
(``with scipy.fft.set_workers(4): op @ X`` makes batched transforms use four
threads; the default is one, the same as a raw ``scipy.fft`` call: on a
shared machine more threads help little and their gain varies from run to
run). For an ``(n, k)`` input with ``k > 1`` it transforms the transposed view
along its last axis and transposes back: pocketfft writes a contiguous result
that way, faster than transforming along ``axis=0`` (the result is a
Fortran-ordered view; values are identical; see docs/benchmarks.md, "Design
measurements"). Other namespaces call
``xp.fft`` directly (complex transforms get complex input, as
``array_api_strict`` requires).

Dtypes
------
The DFT family is complex: ``DFT(n)`` has dtype complex128 unless
``dtype=complex64`` is asked for. Results follow array-API promotion of
operator and input dtypes: a float32 input to the default complex128 DFT
gives complex128; ``DFT(n, dtype=complex64) @ x32`` gives complex64. DCT, DST
and Hadamard have real entries (float64 by default, ``dtype=float32``
available; a complex dtype is accepted and only changes promotion, which is
what ``op.to(dtype=complex128)`` gives); a complex input is transformed by
linearity (real and imaginary parts in one call).
Circulant, Toeplitz and Convolution take the dtype of their parameters.

A real NumPy input of the operator's precision goes to the FFT as it is:
``DFT.__matmul__`` skips the real-to-complex copy that ``@`` makes for other
operators (a real FFT does half the work); ``_fft`` casts for backends whose
FFT wants complex input.

Flop counts
-----------
``op.flops(k)`` estimates multiply-adds of an ``(n, k)`` product with the
radix-2 count of a complex FFT of length ``N``, ``N * ceil(log2 N)`` (real
FFTs half of it), plus one pass for twiddles or spectra: DFT/IDFT
``N log N`` (+ ``N`` for a scaling norm), DCT/DST ``N log N / 2 + 2N``,
Hadamard ``N log2 N`` (+ ``N`` for ``"ortho"``), Circulant/Toeplitz/
Convolution two FFTs of the embedding length plus the spectrum product. For
lengths with large prime factors the real cost is a small constant higher
(Bluestein); the counts are estimates for comparisons, not measurements.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.fft

from structmat import _array_api as aa
from structmat._args import integer
from structmat._fftcore import (
    _by_parts,
    _Cache,
    _check_choice,
    _fft,
    _fft_cost,
    _ints,
)
from structmat.basic import Diagonal
from structmat.convolution import Circulant, Convolution, Toeplitz
from structmat.linop import LinearOperator, Product, _Converter

__all__ = [
    "DCT",
    "DFT",
    "DST",
    "IDFT",
    "Circulant",
    "Convolution",
    "Hadamard",
    "Toeplitz",
]

_NORMS = ("backward", "ortho", "forward")
_SWAP_NORM = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


# ---------------------------------------------------------------------- helpers
def _check_norm(norm: Any, what: str) -> str:
    return str(_check_choice("backward" if norm is None else norm, _NORMS, f"{what} norm"))


def _namespace_dtype(xp: Any, dtype: Any, default: str, what: str) -> Any:
    """Namespace and dtype of a formula operator; the DFT family must be complex."""
    xp = aa.default_namespace(xp)
    dtype = aa.as_dtype(xp, default if dtype is None else dtype)
    if default.startswith("complex") and not aa.is_complex(xp, dtype):
        msg = f"{what} has dtype complex64 or complex128, got {aa.dtype_name(dtype)}"
        raise TypeError(msg)
    return xp, dtype


def _cis(xp: Any, num: Any, den: int, dtype: Any) -> Any:
    """``exp(-2 pi i num / den)`` for an integer array ``num``, in complex ``dtype``.

    The exponent is reduced modulo ``den`` in integers first, so the angle is
    exact up to one rounding whatever the size of ``num``.
    """
    theta = xp.astype(num % den, xp.float64) * (-2.0 * math.pi / den)
    re = xp.astype(xp.cos(theta), dtype)
    im = xp.astype(xp.sin(theta), dtype)
    return re + im * xp.asarray(1j, dtype=dtype, device=aa.device_of(num))


# ---------------------------------------------------------------------- DFT / IDFT
class _DFTBase(LinearOperator):
    _inverse = False

    def __init__(
        self,
        n: int,
        norm: str | None = "backward",
        *,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
    ) -> None:
        what = type(self).__name__
        self.n = integer(n, "n", what)
        self.norm = _check_norm(norm, what)
        xp, dtype = _namespace_dtype(xp, dtype, "complex128", what)
        super().__init__(shape=(self.n, self.n), dtype=dtype, xp=xp, device=device)

    def _matmat(self, X: Any) -> Any:
        return _fft(self.xp, X, "ifft" if self._inverse else "fft", norm=self.norm)

    def __matmul__(self, x: Any) -> Any:
        # The FFT takes real input of the operator's precision as it is (half the
        # work, no complex copy); ``@`` would promote it first. A NumPy vector goes
        # to scipy.fft straight: a short FFT costs about as much as a Python call.
        if type(x) is np.ndarray and self._numpy and x.shape[:1] == (self.n,) and x.ndim <= 2:
            dtype = x.dtype
            if dtype is self._dtype or (
                dtype.kind == "f" and 2 * dtype.itemsize == self._dtype.itemsize
            ):
                if x.ndim == 1 and self.n:
                    fft = scipy.fft.ifft if self._inverse else scipy.fft.fft
                    return fft(x, None, -1, self.norm)
                return self._apply(x)
        return super().__matmul__(x)

    def _scale(self) -> float:
        n = self.n
        scale = {"backward": 1.0, "ortho": 1.0 / math.sqrt(n), "forward": 1.0 / n}
        return scale[self.norm if not self._inverse else _SWAP_NORM[self.norm]]

    def _adjoint(self) -> LinearOperator:
        # F^H = conj(F): the inverse transform with the scaling of the swapped norm.
        other = IDFT if not self._inverse else DFT
        return other(
            self.n, _SWAP_NORM[self.norm], dtype=self.dtype, xp=self.xp, device=self.device
        )

    def _transpose(self) -> LinearOperator:
        return self  # F[j, k] = w^{jk} is symmetric

    def _map(self, convert: _Converter) -> LinearOperator:
        return type(self)(
            self.n,
            self.norm,
            dtype=convert.cast_dtype(self.dtype),
            xp=convert.xp,
            device=convert.device,
        )

    def _parameter_count(self) -> int:
        return 0

    def _flops(self, k: int) -> int:
        return k * (_fft_cost(self.n) + (self.n if self._scale() != 1.0 else 0))

    def to_dense(self) -> Any:
        xp, n = self.xp, self.n
        j = _ints(xp, n, self.device)
        jk = j[:, None] * j[None, :]
        F = _cis(xp, -jk if self._inverse else jk, n, self.dtype)
        s = self._scale()
        return F if s == 1.0 else F * s

    def _repr_args(self) -> str:
        extra = "" if self.dtype == self.xp.complex128 else f", dtype={aa.dtype_name(self.dtype)}"
        return f"{self.n}, norm={self.norm!r}{extra}"


class DFT(_DFTBase):
    r"""The discrete Fourier transform: ``DFT(n) @ x == numpy.fft.fft(x, axis=0)``.

    Parameters
    ----------
    n : int
        Size (any ``n >= 1``, primes included).
    norm : {"backward", "ortho", "forward"}, optional
        NumPy's scaling: none, :math:`1/\sqrt{n}` or :math:`1/n` (``None``
        means ``"backward"``).
    dtype : complex64 or complex128, optional
        The operator's dtype (default complex128). Results promote with the
        input: use ``dtype=complex64`` to keep float32/complex64 input in
        single precision.
    xp, device : optional
        Array namespace (NumPy by default) and device.

    Notes
    -----
    :math:`F_{jk} = s\,\omega^{jk}`, :math:`\omega = e^{-2\pi i/n}`, with
    :math:`s = 1, n^{-1/2}, n^{-1}` for the three norms. :math:`F` is
    symmetric (``DFT(n).T is`` itself) and :math:`F^H = \overline{F}`, the
    inverse transform with the swapped scaling: ``DFT(n, norm).H`` is
    ``IDFT(n, swap(norm))`` with ``"backward" <-> "forward"`` (so
    ``DFT(n, "backward").H == n * IDFT(n, "backward")``), ``"ortho"`` staying
    (unitary). ``to_dense`` evaluates the formula with exponents reduced
    modulo ``n`` in integers.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> x = np.arange(5.0)
    >>> F = sm.DFT(5)
    >>> bool(np.allclose(F @ x, np.fft.fft(x)))
    True
    >>> F.H
    IDFT(5, norm='forward')
    >>> bool(np.allclose(F.H @ (F @ x), 5 * x))
    True
    """


class IDFT(_DFTBase):
    r"""The inverse DFT: ``IDFT(n) @ x == numpy.fft.ifft(x, axis=0)``.

    Parameters
    ----------
    n : int
        Size (any ``n >= 1``).
    norm : {"backward", "ortho", "forward"}, optional
        NumPy's scaling of the inverse: :math:`1/n`, :math:`1/\sqrt{n}` or
        none (``None`` means ``"backward"``).
    dtype : complex64 or complex128, optional
        The operator's dtype (default complex128).
    xp, device : optional
        Array namespace (NumPy by default) and device.

    Notes
    -----
    :math:`G_{jk} = s\,\omega^{-jk}` with :math:`s = 1/n, n^{-1/2}, 1`.
    ``IDFT(n, norm).H`` is ``DFT(n, swap(norm))``; ``IDFT(n, norm) @
    DFT(n, norm)`` is the identity for each norm.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> x = np.arange(6.0)
    >>> bool(np.allclose(sm.IDFT(6, "ortho") @ (sm.DFT(6, "ortho") @ x), x))
    True
    >>> sm.IDFT(6).H
    DFT(6, norm='forward')
    """

    _inverse = True


# ---------------------------------------------------------------------- DCT / DST
class _TrigBase(LinearOperator):
    r"""DCT/DST of type 2 or 3 via one real FFT of length ``n``.

    Write :math:`C` for the unnormalized DCT-II,
    :math:`C_{kj} = 2\cos(\pi k (2j+1) / 2n)`. With the Makhoul ordering
    ``v = [x_0, x_2, x_4, ..., x_5, x_3, x_1]`` and
    :math:`W_k = e^{-i\pi k/2n}`, :math:`(Cx)_k = 2\,\mathrm{Re}(W_k V_k)`,
    ``V = fft(v)``; only ``rfft(v)`` is needed because
    :math:`(Cx)_{n-k} = -2\,\mathrm{Im}(W_k V_k)`. Then

    - DCT-II :math:`= \mathrm{diag}(p)\,C`, DCT-III :math:`= C^T \mathrm{diag}(q)`,
    - DST-II :math:`= \mathrm{diag}(Jp)\,J C \Sigma`, DST-III :math:`= \Sigma C^T \mathrm{diag}(q) J`,

    with :math:`J` the reversal, :math:`\Sigma = \mathrm{diag}((-1)^j)`, and
    scalings ``p, q`` per norm: backward :math:`p = 1`, :math:`q = (1/2, 1,
    ..., 1)`; ortho :math:`p = q = (1/\sqrt{4n}, 1/\sqrt{2n}, ...)`; forward
    both of backward divided by :math:`2n`. :math:`C^T z` is computed with one
    ``irfft`` of the Hermitian spectrum :math:`H_k = \overline{W_k}(z_k - i
    z_{n-k})` (:math:`H_0 = 2 z_0`), then the inverse Makhoul ordering.
    """

    _sine = False

    def __init__(
        self,
        n: int,
        type: int = 2,
        norm: str | None = None,
        *,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
    ) -> None:
        what = self.__class__.__name__  # ``type`` is a parameter here (SciPy's name)
        self.n = integer(n, "n", what)
        # a choice, like norm: anything but the integers 2 and 3 (2.0 and '2' too) is refused
        if isinstance(type, bool) or not isinstance(type, int | np.integer) or type not in (2, 3):
            msg = (
                f"{what} type must be one of 2, 3 (types 1 and 4 are not provided); "
                f"got {type!r} ({type.__class__.__name__})"
            )
            raise ValueError(msg)
        self.type = int(type)
        self.norm = _check_norm(norm, what)
        xp, dtype = _namespace_dtype(xp, dtype, "float64", what)
        super().__init__(shape=(self.n, self.n), dtype=dtype, xp=xp, device=device)
        self._cache = _Cache()

    # scalings p (type-2 output) and q (type-3 input), in DCT index order
    def _pq(self) -> tuple[np.ndarray, np.ndarray]:
        n = self.n
        if self.norm == "ortho":
            p = np.full(n, 1.0 / math.sqrt(2 * n))
            p[0] = 1.0 / math.sqrt(4 * n)
            return p, p.copy()
        s = 1.0 if self.norm == "backward" else 1.0 / (2 * n)
        q = np.full(n, s)
        q[0] = s / 2
        return np.full(n, s), q

    def _twiddles(self, dtype: Any) -> tuple[Any, ...]:
        xp, n, dev = self.xp, self.n, self.device
        key = aa.dtype_name(dtype)

        def make() -> tuple[Any, ...]:
            c = aa.complex_dtype(xp, dtype)
            h = n // 2 + 1
            k = _ints(xp, h, dev)
            p, q = self._pq()
            if self.type == 2:
                scale = xp.asarray(2.0 * p[:h], dtype=c, device=dev)
                return (scale * _cis(xp, k, 4 * n, c),)
            # G_k = q_k conj(W_k) (G_0 = 2 q_0), G2_k = -i G_k
            qs = np.full(h, q[-1])
            qs[0] = 2 * q[0]
            qv = xp.asarray(qs, dtype=c, device=dev)
            G = qv * _cis(xp, -k, 4 * n, c)
            G2 = qv * _cis(xp, n - k, 4 * n, c)
            iperm = np.arange(n) // 2
            odd = np.arange(n) % 2 == 1
            iperm[odd] = n - 1 - iperm[odd]
            idx = xp.asarray(iperm, dtype=xp.int64, device=dev)
            sign = xp.asarray(1.0 - 2.0 * (np.arange(n) % 2), dtype=dtype, device=dev)
            return G, G2, idx, sign

        return self._cache.get(key, make)

    def _real_matmat(self, X: Any) -> Any:
        xp, n = self.xp, self.n
        h = n // 2 + 1
        if self.type == 2:
            (T,) = self._twiddles(X.dtype)
            odd = xp.flip(X[..., 1::2, :], axis=-2)
            v = xp.concat((X[..., 0::2, :], -odd if self._sine else odd), axis=-2)
            Z = T[:, None] * _fft(xp, v, "rfft")
            re, im = xp.real(Z), xp.imag(Z)
            if self._sine:
                return xp.concat((-im[..., 1 : n - h + 1, :], xp.flip(re, axis=-2)), axis=-2)
            return xp.concat((re, -xp.flip(im[..., 1 : n - h + 1, :], axis=-2)), axis=-2)
        G, G2, idx, sign = self._twiddles(X.dtype)
        if self._sine:
            X = xp.flip(X, axis=-2)
        rev = xp.concat(
            (xp.zeros_like(X[..., :1, :]), xp.flip(X[..., n - h + 1 :, :], axis=-2)), axis=-2
        )
        H = G[:, None] * X[..., :h, :] + G2[:, None] * rev
        u = _fft(xp, H, "irfft", n=n, norm="forward")
        Y = xp.take(u, idx, axis=u.ndim - 2)
        return Y * sign[:, None] if self._sine else Y

    def _matmat(self, X: Any) -> Any:
        return _by_parts(self.xp, X, self._real_matmat)

    def _adjoint(self) -> LinearOperator:
        kw = {"dtype": self.dtype, "xp": self.xp, "device": self.device}
        other = type(self)(self.n, 5 - self.type, self.norm, **kw)
        if self.norm == "ortho":
            return other  # orthogonal: the adjoint is the inverse, the other type
        # type 2: (diag(p) C)^T = C^T diag(q) diag(p/q); type 3: the transpose of that
        p, q = self._pq()
        d = p / q if self.type == 2 else q / p
        if self._sine:
            d = d[::-1].copy()
        D = Diagonal(self.xp.asarray(d, dtype=self.dtype, device=self.device))
        return Product(other, D) if self.type == 2 else Product(D, other)

    def _transpose(self) -> LinearOperator:
        return self.H  # real entries, also for a complex dtype

    def _map(self, convert: _Converter) -> LinearOperator:
        return type(self)(
            self.n,
            self.type,
            self.norm,
            dtype=convert.cast_dtype(self.dtype),
            xp=convert.xp,
            device=convert.device,
        )

    def _parameter_count(self) -> int:
        return 0

    def _flops(self, k: int) -> int:
        return k * (_fft_cost(self.n) // 2 + 2 * self.n)

    def to_dense(self) -> Any:
        xp, n, dev = self.xp, self.n, self.device
        j = _ints(xp, n, dev)
        c = aa.complex_dtype(xp, xp.float64)
        if self._sine:  # S[k, j] = 2 sin(pi (k+1)(2j+1) / 2n)
            base = -2.0 * xp.imag(_cis(xp, (j[:, None] + 1) * (2 * j[None, :] + 1), 4 * n, c))
        else:  # C[k, j] = 2 cos(pi k (2j+1) / 2n)
            base = 2.0 * xp.real(_cis(xp, j[:, None] * (2 * j[None, :] + 1), 4 * n, c))
        p, q = self._pq()
        if self._sine:
            p, q = p[::-1].copy(), q[::-1].copy()
        if self.type == 2:
            D = xp.asarray(p, device=dev)[:, None] * base
        else:
            D = xp.matrix_transpose(base) * xp.asarray(q, device=dev)[None, :]
        return xp.astype(D, self.dtype)

    def _repr_args(self) -> str:
        extra = "" if self.dtype == self.xp.float64 else f", dtype={aa.dtype_name(self.dtype)}"
        return f"{self.n}, type={self.type}, norm={self.norm!r}{extra}"


class DCT(_TrigBase):
    r"""Discrete cosine transform of type 2 or 3, equal to ``scipy.fft.dct(x, type, axis=0)``.

    Parameters
    ----------
    n : int
        Size (any ``n >= 1``).
    type : {2, 3}, optional
        DCT-II (default) or DCT-III.
    norm : {None, "backward", "ortho", "forward"}, optional
        SciPy's normalization (``None`` is ``"backward"``).
    dtype : optional
        The operator's dtype: float64 (default) or float32; complex64 or
        complex128 are accepted too (the entries stay real, only promotion
        changes). Complex input is transformed by linearity.
    xp, device : optional
        Array namespace (NumPy by default) and device.

    Notes
    -----
    DCT-II: :math:`y_k = 2\sum_j x_j \cos(\pi k(2j+1)/2n)`; DCT-III:
    :math:`y_k = x_0 + 2\sum_{j\ge1} x_j \cos(\pi (2k+1) j/2n)` (backward).
    Computed with one real FFT of length ``n`` (Makhoul's reordering), on
    ``xp.fft`` only. With ``norm="ortho"`` the matrices are orthogonal and
    ``DCT(n, 2, "ortho").H`` is ``DCT(n, 3, "ortho")``. Otherwise
    :math:`C_{II}^T = C_{III}\,\mathrm{diag}(2, 1, \dots, 1)`, so
    ``DCT(n, 2).H`` is ``Product(DCT(n, 3), Diagonal([2, 1, ..., 1]))`` and
    ``DCT(n, 3).H`` is ``Product(Diagonal([1/2, 1, ..., 1]), DCT(n, 2))``
    (the same for ``"forward"``).

    References
    ----------
    J. Makhoul, "A fast cosine transform in one and two dimensions", IEEE
    Trans. ASSP 28(1), 1980.

    Examples
    --------
    >>> import numpy as np, scipy.fft, structmat as sm
    >>> x = np.arange(7.0)
    >>> bool(np.allclose(sm.DCT(7) @ x, scipy.fft.dct(x)))
    True
    >>> C = sm.DCT(7, 2, "ortho")
    >>> C.H
    DCT(7, type=3, norm='ortho')
    >>> bool(np.allclose(C.H @ (C @ x), x))
    True
    """


class DST(_TrigBase):
    r"""Discrete sine transform of type 2 or 3, equal to ``scipy.fft.dst(x, type, axis=0)``.

    Parameters
    ----------
    n : int
        Size (any ``n >= 1``).
    type : {2, 3}, optional
        DST-II (default) or DST-III.
    norm : {None, "backward", "ortho", "forward"}, optional
        SciPy's normalization (``None`` is ``"backward"``).
    dtype : optional
        The operator's dtype: float64 (default), float32, or a complex dtype
        (entries stay real).
    xp, device : optional
        Array namespace (NumPy by default) and device.

    Notes
    -----
    DST-II: :math:`y_k = 2\sum_j x_j \sin(\pi (k+1)(2j+1)/2n)`; DST-III:
    :math:`y_k = (-1)^k x_{n-1} + 2\sum_{j<n-1} x_j \sin(\pi(2k+1)(j+1)/2n)`.
    Through the DCT: :math:`S_{II} = J C_{II} \Sigma` and
    :math:`S_{III} = \Sigma C_{III} J` (:math:`J` reversal,
    :math:`\Sigma = \mathrm{diag}((-1)^j)`). Adjoints: ``"ortho"`` gives the
    other type; otherwise
    ``DST(n, 2).H == Product(DST(n, 3), Diagonal([1, ..., 1, 2]))`` and
    ``DST(n, 3).H == Product(Diagonal([1, ..., 1, 1/2]), DST(n, 2))``.

    Examples
    --------
    >>> import numpy as np, scipy.fft, structmat as sm
    >>> x = np.arange(6.0)
    >>> bool(np.allclose(sm.DST(6, 3) @ x, scipy.fft.dst(x, type=3)))
    True
    """

    _sine = True


# ---------------------------------------------------------------------- Hadamard
class Hadamard(LinearOperator):
    r"""The Walsh-Hadamard matrix in Sylvester order, equal to ``scipy.linalg.hadamard(n)``.

    Parameters
    ----------
    n : int
        Size, a power of 2 (``1, 2, 4, ...``).
    norm : {None, "backward", "ortho"}, optional
        ``"ortho"`` scales by :math:`1/\sqrt{n}` (orthogonal); otherwise
        entries are :math:`\pm 1`.
    dtype : optional
        The operator's dtype: float64 (default), float32, or a complex dtype
        (entries stay real); complex input works.
    xp, device : optional
        Array namespace (NumPy by default) and device.

    Notes
    -----
    :math:`H_{ij} = (-1)^{\mathrm{popcount}(i \,\&\, j)}`,
    :math:`H_{2m} = H_2 \otimes H_m`. The fast Walsh-Hadamard transform
    applies the :math:`\log_2 n` Kronecker factors
    :math:`I \otimes H_2 \otimes I` two at a time (radix 4,
    :math:`I \otimes H_4 \otimes I`, one radix-2 level first when
    :math:`\log_2 n` is odd), each one reshape and one vectorized pass of sums
    and differences over all groups: :math:`n \log_2 n` additions per column,
    half as many memory passes as radix 2.
    :math:`H` is symmetric: ``Hadamard(n).H`` is itself.

    Examples
    --------
    >>> import numpy as np, scipy.linalg, structmat as sm
    >>> x = np.arange(8.0)
    >>> bool(np.allclose(sm.Hadamard(8) @ x, scipy.linalg.hadamard(8) @ x))
    True
    >>> H = sm.Hadamard(8, "ortho")
    >>> H.H is H
    True
    """

    def __init__(
        self,
        n: int,
        norm: str | None = None,
        *,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
    ) -> None:
        self.n = integer(n, "n", "Hadamard")
        if self.n & (self.n - 1):
            msg = f"Hadamard expects n a power of 2, got {self.n}"
            raise ValueError(msg)
        self.norm = str(
            _check_choice(
                "backward" if norm is None else norm, ("backward", "ortho"), "Hadamard norm"
            )
        )
        xp, dtype = _namespace_dtype(xp, dtype, "float64", "Hadamard")
        super().__init__(shape=(self.n, self.n), dtype=dtype, xp=xp, device=device)

    def _matmat(self, X: Any) -> Any:
        xp, n = self.xp, self.n
        lead, k = tuple(X.shape[:-2]), X.shape[-1]
        h = 1
        if (n.bit_length() - 1) % 2:  # one radix-2 level, then radix-4 (H_4 = H_2 (x) H_2)
            Y = xp.reshape(X, (*lead, n // 2, 2, 1, k))
            a, b = Y[..., 0, :, :], Y[..., 1, :, :]
            X = xp.stack((a + b, a - b), axis=-3)
            h = 2
        while h < n:
            Y = xp.reshape(X, (*lead, n // (4 * h), 4, h, k))
            a, b, c, d = (Y[..., i, :, :] for i in range(4))
            s, t, u, v = a + b, a - b, c + d, c - d
            X = xp.stack((s + u, t + v, s - u, t - v), axis=-3)
            h *= 4
        X = xp.reshape(X, (*lead, n, k))
        return X * (1.0 / math.sqrt(n)) if self.norm == "ortho" else X

    def _adjoint(self) -> LinearOperator:
        return self

    def _transpose(self) -> LinearOperator:
        return self

    def _map(self, convert: _Converter) -> LinearOperator:
        return Hadamard(
            self.n,
            self.norm,
            dtype=convert.cast_dtype(self.dtype),
            xp=convert.xp,
            device=convert.device,
        )

    def _parameter_count(self) -> int:
        return 0

    def _flops(self, k: int) -> int:
        n = self.n
        return k * (n * (n.bit_length() - 1) + (n if self.norm == "ortho" else 0))

    def to_dense(self) -> Any:
        xp = self.xp
        H = xp.ones((1, 1), dtype=self.dtype, device=self.device)
        while H.shape[0] < self.n:  # Sylvester doubling
            H = xp.concat((xp.concat((H, H), axis=1), xp.concat((H, -H), axis=1)), axis=0)
        return H * (1.0 / math.sqrt(self.n)) if self.norm == "ortho" else H

    def _repr_args(self) -> str:
        extra = "" if self.dtype == self.xp.float64 else f", dtype={aa.dtype_name(self.dtype)}"
        return f"{self.n}, norm={self.norm!r}{extra}"

r"""Fourier-family operators, fast and FFT-backed: DFT, IDFT, DCT, DST, Hadamard,
Circulant, Toeplitz, Convolution.

Every operator multiplies in :math:`O(n \log n)` through the ``fft`` extension
of the array API (``xp.fft.fft/ifft/rfft/irfft``), so the same code runs on
NumPy, ``array_api_strict``, torch and CuPy, for every length ``n`` (primes
included: the FFT libraries handle them). Inputs of shape ``(n,)``, ``(n, k)``
and stacks ``(..., n, k)`` are transformed along the rows (axis ``-2``), i.e.
column by column, exactly like ``numpy.fft.fft(x, axis=0)`` on a matrix.

FFT routing
-----------
All transforms go through one private helper, :func:`_fft`. For NumPy arrays
it calls ``scipy.fft`` (pocketfft in C++, faster than ``numpy.fft`` and
single-precision preserving), with ``workers`` left to SciPy's context
(``with scipy.fft.set_workers(4): op @ X`` makes batched transforms use four
threads; the default is one, the same as a raw ``scipy.fft`` call - on a
shared machine threads were measured to help little and vary a lot). For an
``(n, k)`` input with ``k > 1`` it transforms the transposed view along its
last axis and transposes back: pocketfft writes a contiguous result that way,
measured up to 1.3x faster than ``axis=0`` at ``n = 2^16, k = 64`` (the result
is a Fortran-ordered view; values are identical). Other namespaces call
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

A real input of the operator's precision goes to the FFT as it is: the DFT
sets the class attribute ``_real_input_ok``, so ``LinearOperator._prepare``
skips its real-to-complex copy (which made ``DFT(n) @ x_real`` 1.3-1.9x a raw
``scipy.fft.fft(x_real)``); ``_fft`` casts for backends whose FFT wants
complex input.

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
import numbers
from typing import Any

import numpy as np
import scipy.fft

from structmat import _array_api as aa
from structmat.basic import Diagonal
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
_MODES = ("full", "same", "valid")


# ---------------------------------------------------------------------- helpers
def _fft(xp: Any, x: Any, kind: str, *, n: int | None = None, norm: str = "backward") -> Any:
    """``kind`` in {"fft", "ifft", "rfft", "irfft"} of ``x`` along axis ``-2``.

    The one place that picks the FFT implementation (see the module notes):
    ``scipy.fft`` for NumPy arrays (on the transposed view when there is more
    than one column), ``xp.fft`` otherwise. ``n`` pads/crops the transformed
    axis as in ``numpy.fft``.
    """
    if aa.is_numpy(xp):
        f = getattr(scipy.fft, kind)
        if x.shape[-1] > 1:
            return np.swapaxes(f(np.swapaxes(x, -1, -2), n=n, axis=-1, norm=norm), -1, -2)
        # one column: the contiguous 1-d transform is a few percent faster than axis=-2
        return f(x[..., 0], n=n, axis=-1, norm=norm)[..., None]
    if kind in ("fft", "ifft") and not aa.is_complex(xp, x.dtype):
        x = xp.astype(x, aa.complex_dtype(xp, x.dtype))
    return getattr(xp.fft, kind)(x, n=n, axis=-2, norm=norm)


def _fft_cost(n: int) -> int:
    """Multiply-adds of a complex FFT of length ``n`` (radix-2 estimate)."""
    return n * math.ceil(math.log2(n)) if n > 1 else 0


def _fast_len(n: int) -> int:
    """The smallest ``2^a 3^b 5^c >= n`` (a fast FFT length on every backend)."""
    best = 1 << max(n - 1, 0).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _check_n(n: Any, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        msg = f"{what} expects an integer size n, got {type(n).__name__} {n!r}"
        raise TypeError(msg)
    if n < 1:
        msg = f"{what} expects a size n >= 1, got {n}"
        raise ValueError(msg)
    return int(n)


def _check_choice(value: Any, choices: tuple[Any, ...], what: str) -> Any:
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        msg = f"{what} must be one of {valid}; got {value!r}"
        raise ValueError(msg)
    return value


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


def _vector(a: Any, what: str) -> tuple[Any, Any]:
    xp = aa.namespace_of(a)
    if a.ndim != 1:
        msg = f"{what} expects a 1-d array, got shape {tuple(a.shape)}"
        raise ValueError(msg)
    if a.shape[0] < 1:
        msg = f"{what} expects a non-empty array, got length 0"
        raise ValueError(msg)
    aa.check_floating_dtype(xp, a.dtype, what)
    return a, xp


def _cis(xp: Any, num: Any, den: int, dtype: Any) -> Any:
    """``exp(-2 pi i num / den)`` for an integer array ``num``, in complex ``dtype``.

    The exponent is reduced modulo ``den`` in integers first, so the angle is
    exact up to one rounding whatever the size of ``num``.
    """
    theta = xp.astype(num % den, xp.float64) * (-2.0 * math.pi / den)
    re = xp.astype(xp.cos(theta), dtype)
    im = xp.astype(xp.sin(theta), dtype)
    return re + im * xp.asarray(1j, dtype=dtype, device=aa.device_of(num))


def _complex(xp: Any, re: Any, im: Any) -> Any:
    """``re + 1j * im`` for real arrays, in the complex dtype of their precision."""
    c = aa.complex_dtype(xp, re.dtype)
    return xp.astype(re, c) + xp.astype(im, c) * xp.asarray(1j, dtype=c, device=aa.device_of(re))


def _by_parts(xp: Any, X: Any, real_fn: Any) -> Any:
    """Apply a real linear map ``real_fn`` to ``X`` (complex: to both parts, in one call)."""
    if not aa.is_complex(xp, X.dtype):
        return real_fn(X)
    k = X.shape[-1]
    Y = real_fn(xp.concat((xp.real(X), xp.imag(X)), axis=-1))
    return _complex(xp, Y[..., :k], Y[..., k:])


def _ints(xp: Any, n: int, device: Any) -> Any:
    return xp.arange(n, dtype=xp.int64, device=device)


class _Cache:
    """Per-precision arrays (twiddles, spectra) computed on first use."""

    def __init__(self) -> None:
        self.store: dict[str, Any] = {}

    def get(self, key: str, make: Any) -> Any:
        out = self.store.get(key)
        if out is None:
            out = make()
            self.store[key] = out
        return out


# ---------------------------------------------------------------------- DFT / IDFT
class _DFTBase(LinearOperator):
    _inverse = False
    # ``_matmat`` accepts real input of the operator's precision as is (the FFT
    # takes real input natively), so a base class that honours this flag can skip
    # the real -> complex cast copy (see the module notes).
    _real_input_ok = True
    # no stored arrays: input of any floating dtype is transformed as it comes
    _promote_on_apply = False

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
        self.n = _check_n(n, what)
        self.norm = _check_norm(norm, what)
        xp, dtype = _namespace_dtype(xp, dtype, "complex128", what)
        super().__init__(shape=(self.n, self.n), dtype=dtype, xp=xp, device=device)

    def _matmat(self, X: Any) -> Any:
        return _fft(self.xp, X, "ifft" if self._inverse else "fft", norm=self.norm)

    _batched = _matmat

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
    # twiddles are cached per input precision: mixed dtypes are safe
    _promote_on_apply = False

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
        self.n = _check_n(n, what)
        if isinstance(type, bool) or type not in (2, 3):
            msg = f"{what} type must be one of 2, 3 (types 1 and 4 are not provided); got {type!r}"
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

    _batched = _matmat

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

    _promote_on_apply = False  # no stored arrays

    def __init__(
        self,
        n: int,
        norm: str | None = None,
        *,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
    ) -> None:
        self.n = _check_n(n, "Hadamard")
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

    _batched = _matmat

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


# ---------------------------------------------------------------------- convolution family
class _ConvBase(LinearOperator):
    r"""``y[i] = sum_j v[off + i - j] x[j]`` (``v`` zero outside ``[0, K)``), via FFT.

    One circular convolution of length ``N >= max(K + n - 1 - off, off + m)``
    computes the rows ``off .. off + m - 1`` of the full linear convolution
    without aliasing; a circulant is the case ``N = n``, ``off = 0``.
    """

    # the spectrum is cached per input precision: mixed dtypes are safe
    _promote_on_apply = False

    def _setup(self, v: Any, off: int, shape: tuple[int, int], nfft: int, xp: Any) -> None:
        self._v, self._off, self._nfft = v, off, nfft
        super().__init__(shape=shape, dtype=v.dtype, xp=xp, device=aa.device_of(v))
        self._cache = _Cache()

    def _spectrum(self, dtype: Any) -> Any:
        """``fft(v, N)`` (``rfft`` for real dtype) in the precision of ``dtype``."""
        xp = self.xp

        def make() -> Any:
            v = xp.astype(self._v, dtype)
            kind = "fft" if aa.is_complex(xp, dtype) else "rfft"
            return _fft(xp, v[:, None], kind, n=self._nfft)[:, 0]

        return self._cache.get(aa.dtype_name(dtype), make)

    def _real_conv(self, X: Any) -> Any:
        xp, N = self.xp, self._nfft
        V = self._spectrum(X.dtype)
        return _fft(xp, V[:, None] * _fft(xp, X, "rfft", n=N), "irfft", n=N)

    def _matmat(self, X: Any) -> Any:
        xp, N, off, m = self.xp, self._nfft, self._off, self.shape[0]
        if aa.is_complex(xp, self.dtype):
            V = self._spectrum(X.dtype)
            Y = _fft(xp, V[:, None] * _fft(xp, X, "fft", n=N), "ifft", n=N)
        else:
            Y = _by_parts(xp, X, self._real_conv)
        return Y[..., off : off + m, :]

    _batched = _matmat

    def _kernel_at(self, idx: Any) -> Any:
        """``v[idx]`` with zeros outside ``[0, K)``, for an integer array ``idx``."""
        xp = self.xp
        K = self._v.shape[0]
        ext = xp.concat((self._v, xp.zeros(1, dtype=self.dtype, device=self.device)))
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
        return self._kernel_at(self._off + i[:, None] - j[None, :])

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
        self.c = c
        self._setup(c, 0, (n, n), n, xp)

    def _reflected(self) -> Any:
        xp, c = self.xp, self.c
        return xp.concat((c[:1], xp.flip(c[1:])))

    def _adjoint(self) -> LinearOperator:
        return Circulant(self._conj(self._reflected()))

    def _transpose(self) -> LinearOperator:
        return Circulant(self._reflected())

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
        dtype = xp.result_type(c.dtype, r.dtype)
        c, r = xp.astype(c, dtype, copy=False), xp.astype(r, dtype, copy=False)
        r = xp.concat((c[:1], r[1:]))
        self.c, self.r = c, r
        m, n = c.shape[0], r.shape[0]
        v = xp.concat((xp.flip(r[1:]), c))
        self._setup(v, n - 1, (m, n), _fast_len(m + n - 1), xp)

    def _adjoint(self) -> LinearOperator:
        return Toeplitz(self._conj(self.r), self._conj(self.c))

    def _transpose(self) -> LinearOperator:
        return Toeplitz(self.r, self.c)

    def _map(self, convert: _Converter) -> LinearOperator:
        return Toeplitz(convert(self.c), convert(self.r))

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
    mode : {"full", "same", "valid"}, optional
        NumPy's modes. Output length ``L + n - 1``, ``max(L, n)`` and
        ``max(L, n) - min(L, n) + 1``.

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

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> h, x = np.array([1.0, -2.0, 0.5]), np.arange(6.0)
    >>> bool(np.allclose(sm.Convolution(h, 6, "same") @ x, np.convolve(h, x, "same")))
    True
    >>> sm.Convolution(h, 6).H
    Toeplitz(6x8, float64)
    """

    def __init__(self, h: Any, /, n: int, mode: str = "full") -> None:
        h, xp = _vector(h, "Convolution h")
        n = _check_n(n, "Convolution")
        self.mode = str(_check_choice(mode, _MODES, "Convolution mode"))
        self.h, self.n = h, n
        L = h.shape[0]
        lo, hi = min(L, n), max(L, n)
        m, off = {
            "full": (L + n - 1, 0),
            "same": (hi, (lo - 1) // 2),
            "valid": (hi - lo + 1, lo - 1),
        }[self.mode]
        self._setup(h, off, (m, n), _fast_len(max(L + n - 1 - off, off + m)), xp)

    def _adjoint(self) -> LinearOperator:
        c, r = self._toeplitz_cr()
        return Toeplitz(self._conj(r), self._conj(c))

    def _transpose(self) -> LinearOperator:
        c, r = self._toeplitz_cr()
        return Toeplitz(r, c)

    def _map(self, convert: _Converter) -> LinearOperator:
        return Convolution(convert(self.h), self.n, self.mode)

    def _parameter_count(self) -> int:
        return self.h.shape[0]

    def _repr_args(self) -> str:
        return f"{self.h.shape[0]}, {self.n}, mode={self.mode!r}, {aa.dtype_name(self.dtype)}"

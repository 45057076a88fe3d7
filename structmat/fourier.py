r"""Fourier-family operators, fast and FFT-backed: DFT, IDFT, DCT, DST, Hadamard,
Circulant, Toeplitz, Convolution, Correlation, Convolution2D, Correlation2D.

The FFT-convolution operators (``Circulant``, ``Toeplitz``, ``Convolution``,
``Correlation``) are defined in :mod:`structmat.convolution`, the 2-d ones
(``Convolution2D``, ``Correlation2D``) in :mod:`structmat.convolution2d`, and
re-exported here; the notes below cover these modules.

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
Built without ``dtype``, an operator of the family has a *weak* dtype
(``op.weak_dtype``), as ``numpy.fft`` and ``scipy.fft`` behave: results take
the input's precision, complex for the DFT family (``DFT(n) @ x32`` is
complex64, ``DCT(n) @ x32`` float32); ``op.dtype`` (complex128 for the DFT
family, float64 for DCT, DST and Hadamard) is that of ``to_dense()`` and of
integer input. In composites weak parts promote like Python scalars
(``Dense(A32) @ DFT(n)`` is complex64; composites of weak parts only stay
weak). A given ``dtype`` is strong: results follow array-API promotion
(``DFT(n, dtype=complex128) @ x32`` is complex128). DCT, DST and Hadamard
have real entries; a complex dtype is accepted and only changes promotion
(what ``op.to(dtype=complex128)`` gives); a complex input is transformed by
linearity (real and imaginary parts in one call).
Circulant, Toeplitz, Convolution, Correlation and the 2-d ones take the
dtype of their parameters.

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

DCT and DST (types 1-4, SciPy's ``norm`` and ``orthogonalize``) are defined
in :mod:`structmat.trig` and re-exported here; on NumPy they call
``scipy.fft.dct/dst`` directly, not the ``_fft`` helper (see that module).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.fft

from structmat import _array_api as aa
from structmat._args import integer
from structmat._fftcore import _check_choice, _cis, _fft, _fft_cost, _ints
from structmat._operand import _Converter
from structmat.convolution import Circulant, Convolution, Correlation, Toeplitz
from structmat.convolution2d import Convolution2D, Correlation2D
from structmat.linop import LinearOperator
from structmat.trig import DCT, DST

__all__ = [
    "DCT",
    "DFT",
    "DST",
    "IDFT",
    "Circulant",
    "Convolution",
    "Convolution2D",
    "Correlation",
    "Correlation2D",
    "Hadamard",
    "Toeplitz",
]

_NORMS = ("backward", "ortho", "forward")
_SWAP_NORM = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


# ---------------------------------------------------------------------- helpers
def _check_norm(norm: Any, what: str) -> str:
    return str(_check_choice("backward" if norm is None else norm, _NORMS, f"{what} norm"))


def _namespace_dtype(xp: Any, dtype: Any, default: str, what: str) -> tuple[Any, Any, bool]:
    """Namespace, dtype and weakness of a formula operator (weak: no ``dtype`` given);
    the DFT family must be complex."""
    xp = aa.default_namespace(xp)
    weak = dtype is None
    dtype = aa.as_dtype(xp, default if weak else dtype)
    if default.startswith("complex") and not aa.is_complex(xp, dtype):
        msg = f"{what} has dtype complex64 or complex128, got {aa.dtype_name(dtype)}"
        raise TypeError(msg)
    return xp, dtype, weak


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
        xp, dtype, weak = _namespace_dtype(xp, dtype, "complex128", what)
        super().__init__(shape=(self.n, self.n), dtype=dtype, xp=xp, device=device, weak=weak)

    def _matmat(self, X: Any) -> Any:
        return _fft(self.xp, X, "ifft" if self._inverse else "fft", norm=self.norm)

    def __matmul__(self, x: Any) -> Any:
        # The FFT takes real input of the operator's precision as it is (half the
        # work, no complex copy); ``@`` would promote it first. A NumPy vector goes
        # to scipy.fft straight: a short FFT costs about as much as a Python call.
        if type(x) is np.ndarray and self._numpy and x.shape[:1] == (self.n,) and x.ndim <= 2:
            dtype = x.dtype
            if (
                dtype is self._dtype
                or (self._weak and dtype.kind in "fc")
                or (dtype.kind == "f" and 2 * dtype.itemsize == self._dtype.itemsize)
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
            self.n, _SWAP_NORM[self.norm], dtype=self._dtype_arg(), xp=self.xp, device=self.device
        )

    def _transpose(self) -> LinearOperator:
        return self  # F[j, k] = w^{jk} is symmetric

    def _map(self, convert: _Converter) -> LinearOperator:
        return type(self)(
            self.n,
            self.norm,
            dtype=convert.formula_dtype(self),
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
        extra = "" if self._weak else f", dtype={aa.dtype_name(self.dtype)}"
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
        The operator's dtype. Default: a weak complex128 (``op.weak_dtype``):
        results take the input's precision, as ``numpy.fft.fft`` does
        (float32 or complex64 input gives complex64). A given dtype is
        strong: results promote with the input (array-API rules).
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
        As for :class:`DFT`: default a weak complex128.
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
        The operator's dtype: float32, float64 or a complex dtype (entries
        stay real); complex input works. Default: a weak float64 (results
        in the input's precision, as :class:`DFT`).
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
        xp, dtype, weak = _namespace_dtype(xp, dtype, "float64", "Hadamard")
        super().__init__(shape=(self.n, self.n), dtype=dtype, xp=xp, device=device, weak=weak)

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
            dtype=convert.formula_dtype(self),
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
        extra = "" if self._weak else f", dtype={aa.dtype_name(self.dtype)}"
        return f"{self.n}, norm={self.norm!r}{extra}"

r"""2-d FFT convolution operators: Convolution2D and Correlation2D.

Both act on an image ``X`` of shape ``(n1, n2)`` through its row-major
flattening ``X.reshape(-1)`` (the convention of ``Kronecker``; see
docs/fourier.md), and give the flattened result of
``scipy.signal.convolve2d(X, h, mode)`` or ``scipy.signal.correlate2d(X, h,
mode)`` with SciPy's default boundary (``boundary="fill"``,
``fillvalue=0``; the other boundaries are not provided). Columns ``(n1 * n2,
k)`` and stacks ``(..., n1 * n2, k)`` are images side by side.

The product is one 2-d circular convolution of fast lengths ``(N1, N2)``
(``2^a 3^b 5^c``), computed with ``scipy.fft.rfft2/irfft2`` (``fft2/ifft2``
for complex data) on NumPy and ``xp.fft.rfftn/irfftn`` (``fftn/ifftn``)
elsewhere, all through one helper, :func:`_fft2`. The kernel's spectrum is
computed once per precision (recomputed when a torch kernel changes). Both
classes are re-exported by :mod:`structmat.fourier`.
"""

from __future__ import annotations

from typing import Any

import scipy.fft

from structmat import _array_api as aa
from structmat._args import integer
from structmat._fftcore import _check_choice, _fast_len, _fft_cost, _ints
from structmat._operand import _Converter, by_parts
from structmat.linop import LinearOperator

__all__ = ["Convolution2D", "Correlation2D"]

_MODES = ("full", "same", "valid")


def _fft2(xp: Any, x: Any, kind: str, s: tuple[int, int], axes: tuple[int, int]) -> Any:
    """``kind`` in {"fft", "ifft", "rfft", "irfft"} of ``x`` over two ``axes``, sizes ``s``.

    ``scipy.fft.<kind>2`` for NumPy arrays, ``xp.fft.<kind>n`` otherwise (complex
    transforms get complex input, as ``array_api_strict`` requires). ``s``
    pads or crops as in ``numpy.fft.fft2``.
    """
    if aa.is_numpy(xp):
        return getattr(scipy.fft, f"{kind}2")(x, s=s, axes=axes)
    if kind in ("fft", "ifft") and not aa.is_complex(xp, x.dtype):
        x = xp.astype(x, aa.complex_dtype(xp, x.dtype))
    return getattr(xp.fft, f"{kind}n")(x, s=s, axes=axes)


def _pad(xp: Any, T: Any, axis: int, before: int, after: int) -> Any:
    """``T`` with ``before`` and ``after`` zeros along ``axis``."""

    def zeros(size: int) -> Any:
        shape = list(T.shape)
        shape[axis] = size
        return xp.zeros(tuple(shape), dtype=T.dtype, device=aa.device_of(T))

    return xp.concat((zeros(before), T, zeros(after)), axis=axis)


def _kernel_arg(h: Any, what: str) -> tuple[Any, Any]:
    xp = aa.namespace_of(h)
    if h.ndim != 2:
        msg = f"{what} expects a 2-d kernel, got shape {tuple(h.shape)}"
        raise ValueError(msg)
    if 0 in h.shape:
        msg = f"{what} expects a non-empty kernel, got shape {tuple(h.shape)}"
        raise ValueError(msg)
    return aa.floating_input(xp, h, what), xp  # integers and booleans: float64


def _image_arg(shape: Any, what: str) -> tuple[int, int]:
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
        msg = f"{what} shape must be a pair (n1, n2) of integers, got {shape!r}"
        raise ValueError(msg)
    return integer(shape[0], "n1", what), integer(shape[1], "n2", what)


class _Conv2DBase(LinearOperator):
    r"""``Y[i] = sum_j v[o + i - j] X[j]`` over 2-d indices (``v`` zero outside it), via FFT.

    One 2-d circular convolution of lengths ``N_a >= max(K_a + n_a - 1 - o_a,
    o_a + m_a)`` on each axis computes the window ``o .. o + m - 1`` of the full
    linear convolution without aliasing; the adjoint correlates the window,
    placed at ``o`` in an ``N1 x N2`` frame, with ``v`` and keeps the first
    ``n1 x n2`` entries.
    """

    mode: str
    h: Any

    @staticmethod
    def _same_offset(k: int) -> int:
        """The ``"same"`` window's offset for a kernel of length ``k`` (SciPy's differ)."""
        raise NotImplementedError

    def __init__(self, h: Any, /, shape: Any, mode: str = "full") -> None:
        what = type(self).__name__
        h, xp = _kernel_arg(h, what)
        image = _image_arg(shape, what)
        self.mode = str(_check_choice(mode, _MODES, f"{what} mode"))
        K = (h.shape[0], h.shape[1])
        if self.mode == "valid" and not (
            all(n >= k for n, k in zip(image, K, strict=True))
            or all(k >= n for n, k in zip(image, K, strict=True))
        ):
            msg = (
                f"{what} mode 'valid' needs the kernel {K} and the image {image} one at "
                "least as large as the other in every dimension (as SciPy does)"
            )
            raise ValueError(msg)
        out, off, nfft = [], [], []
        for a in range(2):
            n, k = image[a], K[a]
            m, o = {
                "full": (n + k - 1, 0),
                "same": (n, self._same_offset(k)),
                "valid": (abs(n - k) + 1, min(n, k) - 1),
            }[self.mode]
            out.append(m)
            off.append(o)
            nfft.append(_fast_len(max(k + n - 1 - o, o + m)))
        self.h = aa.owned(xp, h)
        self.image_shape: tuple[int, int] = image
        self.output_shape: tuple[int, int] = (out[0], out[1])
        self._off = (off[0], off[1])
        self._nfft = (nfft[0], nfft[1])
        size = (out[0] * out[1], image[0] * image[1])
        super().__init__(shape=size, dtype=h.dtype, xp=xp, device=aa.device_of(h))
        self._spectra: dict[tuple[Any, ...], Any] = {}

    def _kernel(self) -> Any:
        """The convolution kernel ``v``, built from ``h`` at each call."""
        raise NotImplementedError

    def _spectrum(self, dtype: Any, kind: str) -> Any:
        """``fft2(v, (N1, N2))`` (``rfft2`` for real dtype) in ``dtype``, cached by source key."""
        key = (aa.dtype_name(dtype), aa.source_key(self.h))
        got = self._spectra.get(key)
        if got is None:
            v = self.xp.astype(self._kernel(), dtype)
            got = _fft2(self.xp, v, kind, self._nfft, (0, 1))
            if key[1] is not None:
                self._spectra[key] = got
        return got

    def _matmat(self, X: Any) -> Any:
        return self._images(X, adjoint=False)

    def _rmatmat(self, X: Any) -> Any:
        return self._images(X, adjoint=True)

    def _images(self, X: Any, adjoint: bool) -> Any:
        xp = self.xp
        if aa.is_complex(xp, self.dtype):
            return self._filter(X, adjoint, "fft", "ifft")
        return by_parts(xp, X, lambda Z: self._filter(Z, adjoint, "rfft", "irfft"))

    def _filter(self, X: Any, adjoint: bool, forward: str, inverse: str) -> Any:
        """The product (``adjoint``: with ``A^H``) of the images in the columns of ``X``."""
        xp = self.xp
        image, out = self.image_shape, self.output_shape
        (a1, a2), (b1, b2) = (out, image) if adjoint else (image, out)
        lead, k = tuple(X.shape[:-2]), X.shape[-1]
        one = k == 1  # one column: the images in the last two axes, contiguous transforms
        T = xp.reshape(X, (*lead, a1, a2) if one else (*lead, a1, a2, k))
        axes = (-2, -1) if one else (-3, -2)
        if adjoint:  # the window goes back to its place in the N1 x N2 frame
            for a in range(2):
                o, N = self._off[a], self._nfft[a]
                T = _pad(xp, T, axes[a], o, N - o - (a1, a2)[a])
        V = self._spectrum(X.dtype, forward)
        V = xp.conj(V) if adjoint else V
        V = V if one else V[..., None]
        Y = _fft2(xp, V * _fft2(xp, T, forward, self._nfft, axes), inverse, self._nfft, axes)
        s1, s2 = (0, 0) if adjoint else self._off
        Y = Y[..., s1 : s1 + b1, s2 : s2 + b2] if one else Y[..., s1 : s1 + b1, s2 : s2 + b2, :]
        return xp.reshape(Y, (*lead, b1 * b2, k))

    def to_dense(self) -> Any:
        xp, dev = self.xp, self.device
        v = xp.astype(self._kernel(), self.dtype, copy=False)
        K1, K2 = v.shape
        (n1, n2), (m1, m2), (o1, o2) = self.image_shape, self.output_shape, self._off
        d1 = o1 + _ints(xp, m1, dev)[:, None] - _ints(xp, n1, dev)[None, :]  # (m1, n1)
        d2 = o2 + _ints(xp, m2, dev)[:, None] - _ints(xp, n2, dev)[None, :]  # (m2, n2)
        D1, D2 = d1[:, None, :, None], d2[None, :, None, :]  # (m1, m2, n1, n2) by broadcasting
        inside = (D1 >= 0) & (D1 < K1) & (D2 >= 0) & (D2 < K2)
        flat = xp.where(inside, D1 * K2 + D2, xp.full_like(D1 * K2 + D2, K1 * K2))
        ext = xp.concat((xp.reshape(v, (-1,)), xp.zeros(1, dtype=self.dtype, device=dev)))
        return xp.reshape(xp.take(ext, xp.reshape(flat, (-1,))), self.shape)

    def _flops(self, k: int) -> int:
        N1, N2 = self._nfft
        fft2 = N2 * _fft_cost(N1) + N1 * _fft_cost(N2)
        if aa.is_complex(self.xp, self.dtype):
            return k * (2 * fft2 + N1 * N2)
        return k * (fft2 + N1 * (N2 // 2 + 1))

    def _parameter_count(self) -> int:
        return self.h.shape[0] * self.h.shape[1]

    def _map(self, convert: _Converter) -> LinearOperator:
        return type(self)(convert(self.h), self.image_shape, self.mode)

    def _repr_args(self) -> str:
        K = (self.h.shape[0], self.h.shape[1])
        return f"{K}, {self.image_shape}, mode={self.mode!r}, {aa.dtype_name(self.dtype)}"


class Convolution2D(_Conv2DBase):
    r"""The matrix of ``scipy.signal.convolve2d(X, h, mode)`` on flattened images.

    Parameters
    ----------
    h : array of shape (L1, L2)
        The kernel (float32/64 or complex64/128; the operator's dtype).
    shape : (int, int)
        The image shape ``(n1, n2)``; the operator has ``n1 * n2`` columns and
        acts on ``X.reshape(-1)`` (row-major).
    mode : {"full", "same", "valid"}, optional
        SciPy's modes, output shape ``(n1 + L1 - 1, n2 + L2 - 1)``,
        ``(n1, n2)`` and ``(|n1 - L1| + 1, |n2 - L2| + 1)``; ``"valid"`` needs
        the kernel or the image at least as large as the other on both axes.

    Attributes
    ----------
    image_shape, output_shape : (int, int)
        The shapes of ``X`` and of the result before flattening.

    Notes
    -----
    :math:`Y_{i_1 i_2} = \sum_{j_1 j_2} h_{o_1 + i_1 - j_1,\, o_2 + i_2 - j_2}
    X_{j_1 j_2}` (``h`` zero outside its shape), the window at ``o`` of the
    full convolution: ``o_a = 0`` (full), ``(L_a - 1) // 2`` (same: centred,
    the extra row or column of an even kernel after the window, as SciPy's)
    and ``min(n_a, L_a) - 1`` (valid). Zero padding only: SciPy's
    ``boundary="fill"``, ``fillvalue=0``. The product is one 2-d FFT
    convolution (module notes). The adjoint, a 2-d correlation with the
    conjugated kernel, applies through the same FFTs (``op.H`` is an
    ``Adjoint``).

    Examples
    --------
    >>> import numpy as np, scipy.signal, structmat as sm
    >>> X = np.arange(20.0).reshape(4, 5)
    >>> h = np.array([[1.0, 2.0], [0.0, -1.0]])
    >>> A = sm.Convolution2D(h, (4, 5), "same")
    >>> Y = (A @ X.reshape(-1)).reshape(A.output_shape)
    >>> bool(np.allclose(Y, scipy.signal.convolve2d(X, h, "same")))
    True
    >>> A
    Convolution2D((2, 2), (4, 5), mode='same', float64)
    """

    @staticmethod
    def _same_offset(k: int) -> int:
        return (k - 1) // 2

    def _kernel(self) -> Any:
        return self.h


class Correlation2D(_Conv2DBase):
    r"""The matrix of ``scipy.signal.correlate2d(X, h, mode)`` on flattened images.

    Parameters
    ----------
    h : array of shape (L1, L2)
        The kernel, SciPy's second argument: conjugated when complex, as SciPy
        does (float32/64 or complex64/128; the operator's dtype).
    shape : (int, int)
        The image shape ``(n1, n2)``, flattened row-major.
    mode : {"full", "same", "valid"}, optional
        As for :class:`Convolution2D`.

    Attributes
    ----------
    image_shape, output_shape : (int, int)
        The shapes of ``X`` and of the result before flattening.

    Notes
    -----
    The full correlation is the full convolution of ``X`` with
    :math:`\overline{h}` flipped on both axes; the modes keep its window at
    ``o_a = 0`` (full), ``L_a // 2`` (same: ``correlate2d`` centres an even
    kernel one step later than ``convolve2d`` and the 1-d
    ``scipy.signal.correlate``, which use ``(L_a - 1) // 2``; matched here) and
    ``min(n_a, L_a) - 1`` (valid). Zero padding only (``boundary="fill"``,
    ``fillvalue=0``).

    With a kernel larger than the image, SciPy's ``correlate2d(X, h,
    "valid")`` swaps its arguments and returns the complex conjugate of
    ``scipy.signal.correlate(X, h, "valid")``, which is not linear in a
    complex ``X``. This operator gives ``scipy.signal.correlate(X, h,
    "valid")``: the same numbers for real data.

    Examples
    --------
    >>> import numpy as np, scipy.signal, structmat as sm
    >>> X = np.arange(20.0).reshape(4, 5)
    >>> h = np.array([[1.0, 2.0], [0.0, -1.0]])
    >>> A = sm.Correlation2D(h, (4, 5), "same")
    >>> Y = (A @ X.reshape(-1)).reshape(A.output_shape)
    >>> bool(np.allclose(Y, scipy.signal.correlate2d(X, h, "same")))
    True
    """

    @staticmethod
    def _same_offset(k: int) -> int:
        return k // 2

    def _kernel(self) -> Any:
        xp = self.xp
        v = xp.flip(self.h, axis=(0, 1))
        return xp.conj(v) if aa.is_complex(xp, self.dtype) else v

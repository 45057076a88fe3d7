"""FFT helpers shared by :mod:`structmat.fourier` and :mod:`structmat.convolution`.

:func:`_fft` is the one place that picks the FFT implementation (see the
notes of :mod:`structmat.fourier`); the rest are argument checks, the radix-2
cost estimate and small array utilities of both modules.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.fft

from structmat import _array_api as aa


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
        # one column: a contiguous 1-d transform, no strided pass along axis=-2
        return f(x[..., 0], n=n, axis=-1, norm=norm)[..., None]
    if kind in ("fft", "ifft") and not aa.is_complex(xp, x.dtype):
        x = xp.astype(x, aa.complex_dtype(xp, x.dtype))
    return getattr(xp.fft, kind)(x, n=n, axis=-2, norm=norm)


def _fft_cost(n: int) -> int:
    """Multiply-adds of a complex FFT of length ``n`` (radix-2 estimate)."""
    return n * math.ceil(math.log2(n)) if n > 1 else 0


def _fast_len(n: int) -> int:
    """The smallest ``2^a 3^b 5^c >= n`` (a fast FFT length on every backend).

    ``real=True`` is what asks SciPy for 5-smooth lengths; its complex lengths
    may hold factors 7 and 11, which pocketfft handles fast but others may not.
    """
    return int(scipy.fft.next_fast_len(max(n, 1), real=True))


def _check_choice(value: Any, choices: tuple[Any, ...], what: str) -> Any:
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        msg = f"{what} must be one of {valid}; got {value!r}"
        raise ValueError(msg)
    return value


def _cis(xp: Any, num: Any, den: int, dtype: Any) -> Any:
    """``exp(-2 pi i num / den)`` for an integer array ``num``, in complex ``dtype``.

    The exponent is reduced modulo ``den`` in integers first, so the angle is
    exact up to one rounding whatever the size of ``num``.
    """
    theta = xp.astype(num % den, xp.float64) * (-2.0 * math.pi / den)
    re = xp.astype(xp.cos(theta), dtype)
    im = xp.astype(xp.sin(theta), dtype)
    return re + im * xp.asarray(1j, dtype=dtype, device=aa.device_of(num))


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
            # arrays made while JAX traces (jit, grad, vmap) are tracers: never keep them
            if not any(_is_tracer(a) for a in (out if isinstance(out, tuple) else (out,))):
                self.store[key] = out
        return out


def _is_tracer(a: Any) -> bool:
    return any(c.__name__.endswith("Tracer") for c in type(a).__mro__)

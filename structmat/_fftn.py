"""N-d FFT dispatch of a ``Kronecker`` of FFT-family operators (one ``fftn``/``dctn`` call).

``Kronecker(A_1, ..., A_d) @ vec(X)`` with row-major ``vec`` (``X.reshape(-1)``
for ``X`` of shape ``(n_1, ..., n_d)``) applies ``A_i`` along axis ``i`` of
``X``. When every factor is a DFT (or every factor an IDFT) of one ``norm``, or
every factor a DCT (or DST) of one ``type``, ``norm`` and ``orthogonalize``,
that is one ``scipy.fft.fftn/ifftn/dctn/dstn`` call over the ``d`` axes
(NumPy; ``xp.fft.fftn/ifftn`` elsewhere for the DFT family). Other mixes take
Kronecker's generic factor-by-factor path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.fft

from structmat import _array_api as aa
from structmat._operand import _promote, _weak
from structmat.fourier import DFT, IDFT
from structmat.linop import LinearOperator
from structmat.trig import DCT, DST


class _Plan:
    """How to apply a Kronecker of same-kind transforms: one n-d call."""

    def __init__(
        self, kind: str, dims: tuple[int, ...], kw: dict[str, Any], xp: Any, dtype: Any
    ) -> None:
        self.kind, self.dims, self.kw, self.xp, self.dtype = kind, dims, kw, xp, dtype
        self.size = int(np.prod(dims))
        self.weak = False

    def apply(self, X: Any) -> Any:
        """The product with ``X`` of shape ``(..., N, k)`` (already promoted)."""
        xp, d = self.xp, len(self.dims)
        lead, k = tuple(X.shape[:-2]), X.shape[-1]
        if aa.is_numpy(xp):
            if k == 1:  # contiguous last axes
                T = np.reshape(X, (*lead, *self.dims))
                return np.reshape(self._numpy(T, tuple(range(-d, 0))), (*lead, self.size, 1))
            T = np.reshape(X, (*lead, *self.dims, k))
            Y = self._numpy(T, tuple(range(-d - 1, -1)))
            return np.reshape(Y, (*lead, self.size, k))
        T = xp.reshape(X, (*lead, *self.dims, k))
        if not aa.is_complex(xp, T.dtype):
            T = xp.astype(T, aa.complex_dtype(xp, T.dtype))
        f = xp.fft.ifftn if self.kind == "ifft" else xp.fft.fftn
        Y = f(T, axes=tuple(range(-d - 1, -1)), norm=self.kw["norm"])
        return xp.reshape(Y, (*lead, self.size, k))

    def _numpy(self, T: Any, axes: tuple[int, ...]) -> Any:
        if self.kind in ("fft", "ifft"):
            f = scipy.fft.ifftn if self.kind == "ifft" else scipy.fft.fftn
            return f(T, axes=axes, norm=self.kw["norm"])
        f = scipy.fft.dstn if self.kind == "dst" else scipy.fft.dctn
        kw = self.kw
        if np.iscomplexobj(T) and kw["orthogonalize"] != (kw["norm"] == "ortho"):
            # scipy.fft drops a non-default orthogonalize for complex input: by parts
            return self._numpy(T.real, axes) + 1j * self._numpy(T.imag, axes)
        return f(T, kw["type"], axes=axes, norm=kw["norm"], orthogonalize=kw["orthogonalize"])

    def matmul(self, x: Any) -> Any:
        """``K @ x`` for a real NumPy ``x`` the FFT takes as it is, else ``None``."""
        if not aa.is_numpy(self.xp) or type(x) is not np.ndarray:
            return None  # other namespaces: the generic path and its checks
        if x.ndim > 2 or x.shape[:1] != (self.size,):
            return None
        if self.kind not in ("fft", "ifft") or x.dtype.kind != "f" or self.size == 0:
            return None
        real = np.finfo(self.dtype).dtype  # the result has the operator's precision
        if x.dtype != np.result_type(x.dtype, real) and not self.weak:
            x = x.astype(real)  # (a weak dtype: the input's precision, as it is)
        if x.ndim == 1:
            T = np.reshape(x, self.dims)
            return np.reshape(self._numpy(T, tuple(range(len(self.dims)))), (-1,))
        if x.shape[1] == 0:
            return None
        return self.apply(x)


def plan(factors: tuple[LinearOperator, ...]) -> _Plan | None:
    """The n-d plan of a Kronecker of ``factors``, or ``None`` (generic path)."""
    if len(factors) < 2:
        return None
    first = factors[0]
    cls = type(first)
    if cls not in (DFT, IDFT, DCT, DST) or any(type(f) is not cls for f in factors):
        return None
    xp = first.xp
    if cls in (DFT, IDFT):
        if any(f.norm != first.norm for f in factors):
            return None
        kind = "ifft" if cls is IDFT else "fft"
        kw: dict[str, Any] = {"norm": first.norm}
    else:
        if not aa.is_numpy(xp):
            return None  # off NumPy the 1-d kernels per factor (see trig.py)
        key = (first.type, first.norm, first.orthogonalize)
        if any((f.type, f.norm, f.orthogonalize) != key for f in factors):
            return None
        kind = "dst" if cls is DST else "dct"
        kw = {"type": first.type, "norm": first.norm, "orthogonalize": first.orthogonalize}
    plan = _Plan(kind, tuple(f.shape[0] for f in factors), kw, xp, _promote(factors))
    plan.weak = _weak(factors)
    return plan

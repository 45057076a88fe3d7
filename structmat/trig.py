r"""The real trigonometric transforms: DCT and DST of types 1 to 4.

``DCT(n, type, norm, orthogonalize=...)`` and ``DST(...)`` are the matrices of
``scipy.fft.dct`` / ``scipy.fft.dst`` applied along axis ``-2`` (column by
column), with SciPy's ``norm`` and ``orthogonalize`` semantics; both are
re-exported by :mod:`structmat.fourier`.

Engines: ``scipy.fft.dct/dst`` (pocketfft) on NumPy; ``cupyx.scipy.fft``
on CuPy for the types and settings it implements (types 2 and 3 with the
default ``orthogonalize``, the DST only without it); elsewhere the ``xp.fft`` formulas written in
:class:`DCT`'s Notes, so every backend gives the same matrix.

Every variant is written as :math:`A = \mathrm{diag}(d_{out})\,B\,
\mathrm{diag}(d_{in})`, with :math:`B` SciPy's ``"backward"`` matrix without
orthogonalization and the two diagonals holding the norm's scalar and the
orthogonalization factors (:meth:`_TrigBase._scalings`). ``to_dense``,
the adjoints and the ``xp.fft`` kernels all read the scalings from there.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.fft

from structmat import _array_api as aa
from structmat._args import integer
from structmat._fftcore import (
    _Cache,
    _check_choice,
    _cis,
    _fft,
    _fft_cost,
    _ints,
)
from structmat._operand import _Converter, by_parts, complex_from_parts
from structmat.basic import Diagonal
from structmat.linop import LinearOperator, Product

__all__ = ["DCT", "DST"]

_NORMS = ("backward", "ortho", "forward")
_TYPES = (1, 2, 3, 4)


def _check_type(value: Any, what: str) -> int:
    # a choice, like norm: anything but the integers 1..4 (2.0 and '2' too) is refused
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value not in _TYPES:
        msg = f"{what} type must be one of 1, 2, 3, 4; got {value!r} ({type(value).__name__})"
        raise ValueError(msg)
    return int(value)


def _check_orthogonalize(value: Any, norm: str, what: str) -> bool:
    if value is None:
        return norm == "ortho"  # SciPy's default
    if not isinstance(value, bool | np.bool_):
        msg = f"{what} orthogonalize must be None, True or False; got {value!r} ({type(value).__name__})"
        raise TypeError(msg)
    return bool(value)


class _TrigBase(LinearOperator):
    r"""DCT/DST of types 1-4: the shared construction, scalings, kernels and adjoints.

    Kernels off NumPy and CuPy (real ``X`` of shape ``(..., n, k)``; complex
    input comes by linearity). Write :math:`C` for the unnormalized DCT-II,
    :math:`C_{kj} = 2\cos(\pi k (2j+1) / 2n)`, :math:`J` for the reversal
    and :math:`\Sigma = \mathrm{diag}((-1)^j)`.

    - Types 2 and 3 (Makhoul): with ``v = [x_0, x_2, x_4, ..., x_5, x_3, x_1]``
      and :math:`W_k = e^{-i\pi k/2n}`, :math:`(Cx)_k = 2\,\mathrm{Re}(W_k V_k)`,
      ``V = rfft(v)``, and :math:`(Cx)_{n-k} = -2\,\mathrm{Im}(W_k V_k)`.
      :math:`C^T z` is one ``irfft`` of the Hermitian spectrum
      :math:`H_k = \overline{W_k}(z_k - i z_{n-k})` (:math:`H_0 = 2 z_0`)
      followed by the inverse Makhoul ordering. DCT-II :math:`= \mathrm{diag}(p)
      C`, DCT-III :math:`= C^T \mathrm{diag}(q)`, DST-II :math:`= J\,
      \mathrm{diag}(p) C \Sigma`, DST-III :math:`= \Sigma C^T \mathrm{diag}(q) J`,
      where ``p`` and ``q`` (DCT index order) fold in the scalings; both are
      constant past index 0, which the spectra use.
    - DCT-I: the real FFT of the even extension
      ``[x_0, ..., x_{n-1}, x_{n-2}, ..., x_1]`` (length :math:`2(n-1)`), real part.
    - DST-I: minus the imaginary part of bins ``1..n`` of the real FFT of the
      odd extension ``[0, x_0, ..., x_{n-1}, 0, -x_{n-1}, ..., -x_0]``
      (length :math:`2(n+1)`).
    - DCT-IV, ``n = 2m`` even: :math:`t_j = (x_{2j} + i x_{n-1-2j})
      e^{-i\pi j/n}`, ``T = fft(t)`` of length ``m``,
      :math:`U_k = e^{-i\pi(4k+1)/4n} T_k`; then :math:`y_{2k} = 2\,\mathrm{Re}\,U_k`
      and :math:`y_{n-1-2k} = -2\,\mathrm{Im}\,U_k` (expand
      :math:`(4j+1)(4k+1) = 16jk + 4j + 4k + 1` in the DCT-IV kernel).
      Odd ``n``: :math:`y_k = 2\,\mathrm{Re}(e^{-i\pi(2k+1)/4n} R_{2k+1})`,
      ``R = rfft(x)`` zero-padded to length ``4n``.
    - DST-IV :math:`= J\,C_{IV}\,\Sigma` (from
      :math:`\cos(\pi(2n - 2k - 1)(2j+1)/4n) = (-1)^j \sin(\pi(2k+1)(2j+1)/4n)`).
    """

    _sine = False

    def __init__(
        self,
        n: int,
        type: int = 2,
        norm: str | None = None,
        *,
        orthogonalize: bool | None = None,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
    ) -> None:
        what = self.__class__.__name__  # ``type`` is a parameter here (SciPy's name)
        self.n = integer(n, "n", what)
        self.type = _check_type(type, what)
        if self.type == 1 and not self._sine and self.n < 2:
            msg = (
                f"DCT type 1 needs n >= 2 (its entries are cos(pi k j / (n - 1))), got n = {self.n}"
            )
            raise ValueError(msg)
        self.norm = str(_check_choice("backward" if norm is None else norm, _NORMS, f"{what} norm"))
        self.orthogonalize = _check_orthogonalize(orthogonalize, self.norm, what)
        xp = aa.default_namespace(xp)
        weak = dtype is None
        dtype = aa.as_dtype(xp, "float64" if weak else dtype)
        super().__init__(shape=(self.n, self.n), dtype=dtype, xp=xp, device=device, weak=weak)
        self._cupy = aa.namespace_name(xp) == "cupy"
        self._cache = _Cache()

    # ------------------------------------------------------------------ the matrix
    def _scalings(self) -> tuple[np.ndarray, np.ndarray]:
        """``(d_in, d_out)`` with ``A = diag(d_out) B diag(d_in)``, ``B`` the backward matrix.

        The norm's scalar ``1, 1/sqrt(N), 1/N`` for SciPy's logical size ``N``
        (``2(n-1)`` for DCT-I, ``2(n+1)`` for DST-I, else ``2n``) sits in
        ``d_out``; orthogonalization scales the first and last entries (DCT-I),
        output 0 / input 0 (DCT-II / DCT-III), output n-1 / input n-1 (DST-II
        / DST-III) by ``1/sqrt(2)`` and ``sqrt(2)``; it does not change types 4
        and DST-I (already orthogonal up to scale).
        """
        n, t = self.n, self.type
        N = 2 * (n + 1 if self._sine else n - 1) if t == 1 else 2 * n
        s = {"backward": 1.0, "ortho": 1.0 / math.sqrt(N), "forward": 1.0 / N}[self.norm]
        d_in, d_out = np.ones(n), np.full(n, s)
        if self.orthogonalize:
            r, edge = math.sqrt(2.0), (n - 1 if self._sine else 0)
            if t == 1 and not self._sine:
                d_in[[0, -1]] *= r
                d_out[[0, -1]] /= r
            elif t == 2:
                d_out[edge] /= r
            elif t == 3:
                d_in[edge] *= r
        return d_in, d_out

    def _backward_dense(self) -> Any:
        """SciPy's element formula of the backward matrix ``B`` (float64)."""
        xp, n, t, dev = self.xp, self.n, self.type, self.device
        k, j = _ints(xp, n, dev)[:, None], _ints(xp, n, dev)[None, :]
        c = aa.complex_dtype(xp, xp.float64)
        two = 2 * xp.ones(n, dtype=xp.float64, device=dev)
        ones = xp.ones(n, dtype=xp.float64, device=dev)
        at = _ints(xp, n, dev)
        if not self._sine:
            if t == 1:  # x_0 + (-1)^k x_{n-1} + 2 sum_{0<j<n-1} x_j cos(pi k j / (n-1))
                w = xp.where((at == 0) | (at == n - 1), ones, two)
                return w[None, :] * xp.real(_cis(xp, k * j, 2 * (n - 1), c))
            if t == 2:  # 2 cos(pi k (2j+1) / 2n)
                return 2.0 * xp.real(_cis(xp, k * (2 * j + 1), 4 * n, c))
            if t == 3:  # x_0 + 2 sum_{j>0} x_j cos(pi (2k+1) j / 2n)
                w = xp.where(at == 0, ones, two)
                return w[None, :] * xp.real(_cis(xp, (2 * k + 1) * j, 4 * n, c))
            return 2.0 * xp.real(_cis(xp, (2 * k + 1) * (2 * j + 1), 8 * n, c))
        # sin(a) = -Im exp(-i a)
        if t == 1:  # 2 sin(pi (k+1)(j+1) / (n+1))
            return -2.0 * xp.imag(_cis(xp, (k + 1) * (j + 1), 2 * (n + 1), c))
        if t == 2:  # 2 sin(pi (k+1)(2j+1) / 2n)
            return -2.0 * xp.imag(_cis(xp, (k + 1) * (2 * j + 1), 4 * n, c))
        if t == 3:  # (-1)^k x_{n-1} + 2 sum_{j<n-1} x_j sin(pi (2k+1)(j+1) / 2n)
            w = xp.where(at == n - 1, ones, two)
            return -w[None, :] * xp.imag(_cis(xp, (2 * k + 1) * (j + 1), 4 * n, c))
        return -2.0 * xp.imag(_cis(xp, (2 * k + 1) * (2 * j + 1), 8 * n, c))

    def to_dense(self) -> Any:
        xp, dev = self.xp, self.device
        d_in, d_out = self._scalings()
        B = self._backward_dense()
        D = xp.asarray(d_out, device=dev)[:, None] * B * xp.asarray(d_in, device=dev)[None, :]
        return xp.astype(D, self.dtype)

    # ------------------------------------------------------------------ multiply
    def __matmul__(self, x: Any) -> Any:
        # A real NumPy vector of the operator's dtype goes to scipy.fft straight: for
        # a short transform the checks and reshapes of ``@`` cost about as much.
        if type(x) is np.ndarray and self._numpy and x.ndim == 1:
            if (
                x.shape[0] == self.n
                and self._real
                and (x.dtype is self._dtype or (self._weak and x.dtype.kind == "f"))
            ):
                f = scipy.fft.dst if self._sine else scipy.fft.dct
                return f(x, self.type, None, -1, self.norm, orthogonalize=self.orthogonalize)
        return super().__matmul__(x)

    def _matmat(self, X: Any) -> Any:
        if self._numpy:
            if self.orthogonalize != (self.norm == "ortho") and np.iscomplexobj(X):
                # scipy.fft.dct/dst (1.17) drop ``orthogonalize`` for complex input
                # (they transform both parts with the default); keep the map linear
                return by_parts(np, X, self._scipy)
            return self._scipy(X)
        return by_parts(self.xp, X, self._real_matmat)

    def _scipy(self, X: Any) -> Any:
        f = scipy.fft.dst if self._sine else scipy.fft.dct
        t, norm, orth = self.type, self.norm, self.orthogonalize
        if X.shape[-1] == 1:
            return f(X[..., 0], t, None, -1, norm, orthogonalize=orth)[..., None]
        # along the last axis of the transposed view: pocketfft writes a contiguous
        # result that way (the same choice as structmat._fftcore._fft)
        Y = f(np.swapaxes(X, -1, -2), t, None, -1, norm, orthogonalize=orth)
        return np.swapaxes(Y, -1, -2)

    def _real_matmat(self, X: Any) -> Any:
        t = self.type
        default = self.orthogonalize == (self.norm == "ortho")
        if self._cupy and t in (2, 3) and default and not (self._sine and self.orthogonalize):
            # cupyx.scipy.fft has types 2 and 3, orthogonalized exactly for "ortho"; an
            # orthogonalized DST is left to the formulas (SciPy once scaled the wrong
            # entry there, scipy/scipy#21693, and CuPy could not be checked here)
            import cupyx.scipy.fft as cufft

            f = cufft.dst if self._sine else cufft.dct
            return f(X, type=t, axis=-2, norm=self.norm)
        if t == 2:
            return self._makhoul2(X)
        if t == 3:
            return self._makhoul3(X)
        xp = self.xp
        d_in, d_out = self._scaling_arrays(X.dtype)
        if d_in is not None:
            X = X * d_in[:, None]
        if t == 1:
            Y = self._dst1(X) if self._sine else self._dct1(X)
        elif self._sine:  # DST-IV = J C_IV Sigma
            Y = xp.flip(self._dct4(X * self._signs(X.dtype)[:, None]), axis=-2)
        else:
            Y = self._dct4(X)
        return Y if d_out is None else Y * d_out[:, None]

    # the kernels of the class notes; X real of shape (..., n, k)
    def _dct1(self, X: Any) -> Any:
        xp, n = self.xp, self.n
        v = xp.concat((X, xp.flip(X[..., 1 : n - 1, :], axis=-2)), axis=-2)
        return xp.real(_fft(xp, v, "rfft"))

    def _dst1(self, X: Any) -> Any:
        xp, n = self.xp, self.n
        z = xp.zeros_like(X[..., :1, :])
        v = xp.concat((z, X, z, -xp.flip(X, axis=-2)), axis=-2)
        return -xp.imag(_fft(xp, v, "rfft")[..., 1 : n + 1, :])

    def _dct4(self, X: Any) -> Any:
        xp, n = self.xp, self.n
        pre, post = self._dct4_twiddles(X.dtype)
        if n % 2:
            R = _fft(xp, X, "rfft", n=4 * n)[..., 1 : 2 * n : 2, :]
            return 2.0 * xp.real(post[:, None] * R)
        t = pre[:, None] * complex_from_parts(
            xp, X[..., 0::2, :], xp.flip(X[..., 1::2, :], axis=-2)
        )
        U = post[:, None] * _fft(xp, t, "fft")
        Y = xp.stack((2.0 * xp.real(U), -2.0 * xp.flip(xp.imag(U), axis=-2)), axis=-2)
        return xp.reshape(Y, (*Y.shape[:-3], n, Y.shape[-1]))

    def _makhoul2(self, X: Any) -> Any:
        xp, n = self.xp, self.n
        h = n // 2 + 1
        (T,) = self._makhoul_twiddles(X.dtype)
        odd = xp.flip(X[..., 1::2, :], axis=-2)
        v = xp.concat((X[..., 0::2, :], -odd if self._sine else odd), axis=-2)
        Z = T[:, None] * _fft(xp, v, "rfft")
        re, im = xp.real(Z), xp.imag(Z)
        if self._sine:
            return xp.concat((-im[..., 1 : n - h + 1, :], xp.flip(re, axis=-2)), axis=-2)
        return xp.concat((re, -xp.flip(im[..., 1 : n - h + 1, :], axis=-2)), axis=-2)

    def _makhoul3(self, X: Any) -> Any:
        xp, n = self.xp, self.n
        h = n // 2 + 1
        G, G2, idx, sign = self._makhoul_twiddles(X.dtype)
        if self._sine:
            X = xp.flip(X, axis=-2)
        rev = xp.concat(
            (xp.zeros_like(X[..., :1, :]), xp.flip(X[..., n - h + 1 :, :], axis=-2)), axis=-2
        )
        H = G[:, None] * X[..., :h, :] + G2[:, None] * rev
        u = _fft(xp, H, "irfft", n=n, norm="forward")
        Y = xp.take(u, idx, axis=u.ndim - 2)
        return Y * sign[:, None] if self._sine else Y

    # ------------------------------------------------------------------ cached arrays
    def _pq(self) -> tuple[np.ndarray, np.ndarray]:
        """``p`` (type-2 output) and ``q`` (type-3 input) of the Makhoul kernels, DCT order."""
        d_in, d_out = self._scalings()
        if self._sine:
            d_in, d_out = d_in[::-1], d_out[::-1]
        half = np.ones(self.n)
        half[0] = 0.5  # backward DCT-III = C^T diag(1/2, 1, ..., 1)
        # type 2 has d_in = 1; type 3 a uniform d_out, which moves to the input
        return d_out, half * d_in * d_out[0]

    def _makhoul_twiddles(self, dtype: Any) -> tuple[Any, ...]:
        xp, n, dev = self.xp, self.n, self.device

        def make() -> tuple[Any, ...]:
            c = aa.complex_dtype(xp, dtype)
            h = n // 2 + 1
            k = _ints(xp, h, dev)
            p, q = self._pq()
            if self.type == 2:
                scale = xp.asarray(2.0 * p[:h], dtype=c, device=dev)
                return (scale * _cis(xp, k, 4 * n, c),)
            # G_k = q_k conj(W_k) (G_0 = 2 q_0), G2_k = -i G_k (q constant past 0)
            qs = np.full(h, q[-1])
            qs[0] = 2 * q[0]
            qv = xp.asarray(qs, dtype=c, device=dev)
            G = qv * _cis(xp, -k, 4 * n, c)
            G2 = qv * _cis(xp, n - k, 4 * n, c)
            iperm = np.arange(n) // 2
            odd = np.arange(n) % 2 == 1
            iperm[odd] = n - 1 - iperm[odd]
            idx = xp.asarray(iperm, dtype=xp.int64, device=dev)
            return G, G2, idx, self._signs(dtype)

        return self._cache.get(f"makhoul {aa.dtype_name(dtype)}", make)

    def _dct4_twiddles(self, dtype: Any) -> tuple[Any, Any]:
        xp, n, dev = self.xp, self.n, self.device

        def make() -> tuple[Any, Any]:
            c = aa.complex_dtype(xp, dtype)
            if n % 2:
                return xp.empty(0, dtype=c, device=dev), _cis(
                    xp, 2 * _ints(xp, n, dev) + 1, 8 * n, c
                )
            k = _ints(xp, n // 2, dev)
            return _cis(xp, k, 2 * n, c), _cis(xp, 4 * k + 1, 8 * n, c)

        return self._cache.get(f"dct4 {aa.dtype_name(dtype)}", make)

    def _scaling_arrays(self, dtype: Any) -> tuple[Any, Any]:
        """``d_in`` and ``d_out`` in ``dtype`` (``None`` where all ones), for types 1 and 4."""
        xp, dev = self.xp, self.device

        def make() -> tuple[Any, Any]:
            d_in, d_out = self._scalings()
            a = None if np.all(d_in == 1.0) else xp.asarray(d_in, dtype=dtype, device=dev)
            b = None if np.all(d_out == 1.0) else xp.asarray(d_out, dtype=dtype, device=dev)
            return a, b

        return self._cache.get(f"scalings {aa.dtype_name(dtype)}", make)

    def _signs(self, dtype: Any) -> Any:
        n = self.n
        return self.xp.asarray(1.0 - 2.0 * (np.arange(n) % 2), dtype=dtype, device=self.device)

    # ------------------------------------------------------------------ structure
    def _adjoint(self) -> LinearOperator:
        # A = diag(d_out) B diag(d_in) is real: A^H = A^T = diag(d_in) B^T diag(d_out)
        n, t, xp = self.n, self.type, self.xp
        if t == 4 or (t == 1 and (self._sine or self.orthogonalize)):
            return self  # B symmetric and d_in, d_out proportional (see the Notes)
        if t == 1:  # B = S diag(w), S symmetric: A^T = diag(w) A diag(1/w)
            w = np.full(n, 2.0)
            w[[0, -1]] = 1.0
            return Product(self._diagonal(w), self, self._diagonal(1.0 / w))
        kw = {"dtype": self._dtype_arg(), "xp": xp, "device": self.device}
        other = type(self)(n, 5 - t, self.norm, orthogonalize=self.orthogonalize, **kw)
        if self.orthogonalize:
            return other  # (type 2)^T is exactly type 3 under the same settings
        # B_II^T = B_III diag(2, 1, ..., 1) (DCT; reversed for the DST)
        d = np.ones(n)
        d[-1 if self._sine else 0] = 2.0
        if t == 2:
            return Product(other, self._diagonal(d))
        return Product(self._diagonal(1.0 / d), other)

    def _diagonal(self, d: np.ndarray) -> Diagonal:
        return Diagonal(self.xp.asarray(d, dtype=self.dtype, device=self.device), _weak=self._weak)

    def _transpose(self) -> LinearOperator:
        return self.H  # real entries, also for a complex dtype

    def _map(self, convert: _Converter) -> LinearOperator:
        return type(self)(
            self.n,
            self.type,
            self.norm,
            orthogonalize=self.orthogonalize,
            dtype=convert.formula_dtype(self),
            xp=convert.xp,
            device=convert.device,
        )

    def _parameter_count(self) -> int:
        return 0

    def _flops(self, k: int) -> int:
        n = self.n
        if self.type == 1:  # a real FFT of the length-2(n -+ 1) extension
            return k * (_fft_cost(2 * (n + 1 if self._sine else n - 1)) // 2 + 2 * n)
        return k * (_fft_cost(n) // 2 + 2 * n)

    def _repr_args(self) -> str:
        extra = ""
        if self.orthogonalize != (self.norm == "ortho"):  # SciPy's default is left out
            extra = f", orthogonalize={self.orthogonalize}"
        if not self._weak:
            extra += f", dtype={aa.dtype_name(self.dtype)}"
        return f"{self.n}, type={self.type}, norm={self.norm!r}{extra}"


class DCT(_TrigBase):
    r"""Discrete cosine transform of type 1-4: ``DCT(n, type, norm) @ x == scipy.fft.dct(x, type, norm=norm, axis=0)``.

    Parameters
    ----------
    n : int
        Size: any ``n >= 1`` (``n >= 2`` for type 1, whose entries divide by
        ``n - 1``; SciPy fails there too).
    type : {1, 2, 3, 4}, optional
        DCT-I to DCT-IV; the default is 2.
    norm : {None, "backward", "ortho", "forward"}, optional
        SciPy's normalization (``None`` is ``"backward"``).
    orthogonalize : bool, optional
        SciPy's ``orthogonalize``: rescale the first/last rows and columns so
        that ``norm="ortho"`` gives an orthogonal matrix (types 1-3; types 4
        are orthogonal up to scale already). ``None`` (default) means ``True``
        for ``norm="ortho"`` and ``False`` otherwise, as in SciPy.
    dtype : optional
        The operator's dtype: float32 or float64; complex64 or complex128 are
        accepted too (the entries stay real, only promotion changes). Default:
        a weak float64 (``op.weak_dtype``): results in the input's precision,
        as ``scipy.fft.dct`` gives. Complex input is transformed by linearity.
    xp, device : optional
        Array namespace (NumPy by default) and device.

    Notes
    -----
    For ``norm="backward"`` without orthogonalization (SciPy's formulas):

    - DCT-I: :math:`y_k = x_0 + (-1)^k x_{n-1} + 2\sum_{0<j<n-1} x_j \cos(\pi kj/(n-1))`,
    - DCT-II: :math:`y_k = 2\sum_j x_j \cos(\pi k(2j+1)/2n)`,
    - DCT-III: :math:`y_k = x_0 + 2\sum_{j\ge1} x_j \cos(\pi (2k+1) j/2n)`,
    - DCT-IV: :math:`y_k = 2\sum_j x_j \cos(\pi (2k+1)(2j+1)/4n)`.

    ``"ortho"`` divides by :math:`\sqrt{N}` and ``"forward"`` by :math:`N`,
    SciPy's logical size (:math:`N = 2(n-1)` for type 1, :math:`2n`
    otherwise). ``orthogonalize`` divides :math:`y_0` and :math:`y_{n-1}`
    by :math:`\sqrt2` and multiplies :math:`x_0, x_{n-1}` by :math:`\sqrt2`
    (type 1), divides :math:`y_0` by :math:`\sqrt2` (type 2), multiplies
    :math:`x_0` by :math:`\sqrt2` (type 3).

    Engines: ``scipy.fft.dct`` on NumPy (the transposed view for more than
    one column, as for the DFT), ``cupyx.scipy.fft.dct`` on CuPy for types 2
    and 3 with the default ``orthogonalize``, and otherwise ``xp.fft``
    formulas, :math:`O(n \log n)`: Makhoul's real FFT of length ``n`` for
    types 2 and 3, the real FFT of the even extension (length
    :math:`2(n-1)`) for type 1, a complex FFT of length ``n/2`` with pre- and
    post-twiddles for type 4 (odd ``n``: a real FFT of length ``4n``, odd
    bins). ``flops`` counts :math:`N\log_2 N/2 + 2n` per column with ``N``
    that FFT length (``n`` for types 2-4).

    Adjoints (the matrices are real, so ``.H`` and ``.T`` are one operator):
    DCT-IV is symmetric, and so is DCT-I with ``orthogonalize``
    (:math:`B_I = S\,\mathrm{diag}(w)`, :math:`S` symmetric,
    :math:`w = (1, 2, \dots, 2, 1)`, and the orthogonalization factors turn
    :math:`w` into :math:`2\,\mathrm{diag}(1/\sqrt2, 1, \dots, 1, 1/\sqrt2)`
    on both sides): ``.H`` is the operator itself. Otherwise
    ``DCT(n, 1).H == Product(Diagonal(w), DCT(n, 1), Diagonal(1/w))``. With
    ``orthogonalize``, the transpose of type 2 is exactly type 3 with the same
    ``norm`` (for ``"ortho"`` the inverse); without,
    :math:`B_{II}^T = B_{III}\,\mathrm{diag}(2, 1, \dots, 1)`:
    ``DCT(n, 2).H`` is ``Product(DCT(n, 3), Diagonal([2, 1, ..., 1]))`` and
    ``DCT(n, 3).H`` is ``Product(Diagonal([1/2, 1, ..., 1]), DCT(n, 2))``.
    ``to_dense`` evaluates the formulas above (independent of the FFTs).

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
    >>> bool(np.allclose(sm.DCT(7, 1, "ortho") @ x, scipy.fft.dct(x, 1, norm="ortho")))
    True
    >>> C = sm.DCT(7, 2, "ortho")
    >>> C.H
    DCT(7, type=3, norm='ortho')
    >>> bool(np.allclose(C.H @ (C @ x), x))
    True
    >>> D = sm.DCT(7, 4)
    >>> D.H is D
    True
    """


class DST(_TrigBase):
    r"""Discrete sine transform of type 1-4: ``DST(n, type, norm) @ x == scipy.fft.dst(x, type, norm=norm, axis=0)``.

    Parameters
    ----------
    n : int
        Size (any ``n >= 1``).
    type : {1, 2, 3, 4}, optional
        DST-I to DST-IV; the default is 2.
    norm : {None, "backward", "ortho", "forward"}, optional
        SciPy's normalization (``None`` is ``"backward"``).
    orthogonalize : bool, optional
        SciPy's ``orthogonalize`` (types 2 and 3; DST-I and DST-IV are
        orthogonal up to scale already). ``None`` means ``norm == "ortho"``.
    dtype : optional
        As for :class:`DCT` (default: a weak float64).
    xp, device : optional
        Array namespace (NumPy by default) and device.

    Notes
    -----
    Backward, not orthogonalized:

    - DST-I: :math:`y_k = 2\sum_j x_j \sin(\pi (k+1)(j+1)/(n+1))`,
    - DST-II: :math:`y_k = 2\sum_j x_j \sin(\pi (k+1)(2j+1)/2n)`,
    - DST-III: :math:`y_k = (-1)^k x_{n-1} + 2\sum_{j<n-1} x_j \sin(\pi(2k+1)(j+1)/2n)`,
    - DST-IV: :math:`y_k = 2\sum_j x_j \sin(\pi (2k+1)(2j+1)/4n)`.

    ``"ortho"`` / ``"forward"`` divide by :math:`\sqrt N` / :math:`N` with
    :math:`N = 2(n+1)` for type 1 and :math:`2n` otherwise;
    ``orthogonalize`` divides :math:`y_{n-1}` by :math:`\sqrt2` (type 2) or
    multiplies :math:`x_{n-1}` by :math:`\sqrt2` (type 3). Through the DCT,
    with :math:`J` the reversal and :math:`\Sigma = \mathrm{diag}((-1)^j)`:
    :math:`S_{II} = J C_{II} \Sigma`, :math:`S_{III} = \Sigma C_{III} J`,
    :math:`S_{IV} = J C_{IV} \Sigma`; DST-I is the real FFT of the odd
    extension (length :math:`2(n+1)`). Engines as for :class:`DCT`, except
    that CuPy's ``dst`` serves types 2 and 3 only without orthogonalization
    (the orthogonalized ones use the formulas, whose scaled entry is checked).

    Adjoints: DST-I and DST-IV are symmetric (``.H`` is the operator
    itself); type 2 with ``orthogonalize`` transposes to type 3 with the same
    settings; otherwise
    ``DST(n, 2).H == Product(DST(n, 3), Diagonal([1, ..., 1, 2]))`` and
    ``DST(n, 3).H == Product(Diagonal([1, ..., 1, 1/2]), DST(n, 2))``.

    Examples
    --------
    >>> import numpy as np, scipy.fft, structmat as sm
    >>> x = np.arange(6.0)
    >>> bool(np.allclose(sm.DST(6, 3) @ x, scipy.fft.dst(x, type=3)))
    True
    >>> bool(np.allclose(sm.DST(6, 1) @ x, scipy.fft.dst(x, type=1)))
    True
    """

    _sine = True

r"""Closed-form inverses behind ``LinearOperator.inverse()``.

The rules for the core classes live here (they need ``basic`` and the
other families, which build on ``linop``): the base method calls
:func:`inverse`, which checks the shape, asks
the class's ``_invert()`` hook, then these rules, and raises a clear error
when none applies. Each inverse reads the operator's arrays at every
product (``Diagonal``: ``X / d``), or is built from arrays the operator owns
read-only (``Permutation``, ``Circulant`` on NumPy), so it never goes stale.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._solve import DenseInverse, ToeplitzInverse
from structmat.basic import Dense, Diagonal, Permutation
from structmat.blocks import BlockDiagonal, Kronecker
from structmat.butterfly import Butterfly
from structmat.convolution import Circulant, Convolution, Toeplitz
from structmat.fourier import DFT, IDFT, Hadamard
from structmat.linop import (
    Adjoint,
    Identity,
    LinearOperator,
    Power,
    Product,
    Scaled,
    Transpose,
    _Conjugate,
    power,
    scaled,
)
from structmat.monarch import Monarch, MonarchAdjoint
from structmat.trig import DCT, DST

__all__ = ["inverse"]

_SWAP_NORM = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


def inverse(op: LinearOperator) -> LinearOperator:
    """``op^{-1}`` in closed form; ``ValueError`` unless square, ``LinAlgError`` without one.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> A = sm.Kronecker(sm.Diagonal(np.array([1.0, 2.0])), sm.Hadamard(2))
    >>> bool(np.allclose(A.inverse().to_dense(), np.linalg.inv(A.to_dense())))
    True
    >>> sm.DFT(4, "ortho").inverse()
    IDFT(4, norm='ortho')
    """
    name = type(op).__name__
    if op.shape[0] != op.shape[1]:
        msg = f"{name}.inverse(): only a square operator has an inverse, got shape {op.shape}"
        raise ValueError(msg)
    got = op._invert()
    if got is None:
        got = _rule(op)
    if got is None:
        msg = (
            f"{name}.inverse(): no closed-form inverse is known for {name}; solve with "
            "scipy.sparse.linalg (gmres, cg, ... on op.to_scipy()) or invert op.to_dense()"
        )
        raise np.linalg.LinAlgError(msg)
    return got


def _singular(op: LinearOperator, why: str) -> np.linalg.LinAlgError:
    return np.linalg.LinAlgError(f"{type(op).__name__}.inverse(): singular operator, {why}")


def _rule(op: LinearOperator) -> LinearOperator | None:
    if isinstance(op, Identity):
        return op
    if isinstance(op, Diagonal):
        if op.shape[0] and not bool(op.xp.all(op.d != 0)):
            raise _singular(op, "the diagonal has a zero entry")
        return _DiagonalInverse(op)
    if isinstance(op, Permutation):
        return op.H
    if isinstance(op, DFT | IDFT):
        # The other transform with the swapped norm is F^H; F^{-1} keeps the norm.
        other = IDFT if isinstance(op, DFT) else DFT
        return other(op.n, op.norm, dtype=op._dtype_arg(), xp=op.xp, device=op.device)
    if isinstance(op, DCT | DST):
        # scipy.fft.idct(x, t, norm) is dct(x, inverse type, swapped norm), likewise DST.
        return type(op)(
            op.n,
            {1: 1, 2: 3, 3: 2, 4: 4}[op.type],
            _SWAP_NORM[op.norm],
            orthogonalize=op.orthogonalize,
            dtype=op._dtype_arg(),
            xp=op.xp,
            device=op.device,
        )
    if isinstance(op, Hadamard):
        # H H = n I; the orthonormal one is its own inverse.
        return op if op.norm == "ortho" else scaled(1.0 / op.n, op)
    if isinstance(op, Circulant):
        return _circulant_inverse(op)
    if isinstance(op, Product):
        return _product(*(f.inverse() for f in reversed(op.factors)))
    if isinstance(op, Scaled):
        if op.scalar == 0:
            raise _singular(op, "it is scaled by 0")
        return scaled(1 / op.scalar, op.operator.inverse())
    if isinstance(op, Power):
        return power(op.operator.inverse(), op.exponent)
    if isinstance(op, Adjoint):
        return op.operator.inverse().H
    if isinstance(op, Transpose):
        return op.operator.inverse().T
    if isinstance(op, _Conjugate):
        return op.operator.inverse().H.T
    if isinstance(op, Monarch):
        return _monarch_inverse(op)
    if isinstance(op, Kronecker):
        return Kronecker(*(f.inverse() for f in op.factors))
    if isinstance(op, BlockDiagonal):
        for b in op.blocks:
            if b.shape[0] != b.shape[1]:
                msg = f"BlockDiagonal.inverse(): every block must be square, got {b.shape}"
                raise np.linalg.LinAlgError(msg)
        return BlockDiagonal([b.inverse() for b in op.blocks])
    if isinstance(op, Butterfly):
        return _butterfly_inverse(op)
    if isinstance(op, Dense):
        return DenseInverse(op)
    if isinstance(op, Toeplitz):
        return ToeplitzInverse(op)
    if isinstance(op, Convolution):
        # square: a Toeplitz matrix (its first column and row)
        return ToeplitzInverse(Toeplitz(*op._toeplitz_cr()))
    return None


def _product(*ops: LinearOperator) -> LinearOperator:
    out = ops[0]
    for f in ops[1:]:
        out = out @ f
    return out


def _circulant_inverse(op: Circulant) -> LinearOperator | None:
    """The circulant of ``ifft(1 / fft(c))``: a circulant's inverse is one."""
    xp, c = op.xp, op.c
    if aa.is_torch_array(c):
        return None  # a live torch parameter: no snapshot that could go stale
    spectrum = xp.fft.fft(c)
    scale = aa.to_float(xp.max(xp.abs(spectrum)))
    if not bool(xp.all(xp.abs(spectrum) > 0)) or scale == 0:
        raise _singular(op, "its spectrum fft(c) has a zero")
    ci = xp.fft.ifft(1 / spectrum)
    if not aa.is_complex(xp, op.dtype):
        ci = xp.real(ci)
    return Circulant(xp.astype(ci, op.dtype))


class _DiagonalInverse(LinearOperator):
    """``diag(d)^{-1}``: divides by ``d`` read afresh at every product (live)."""

    def __init__(self, D: LinearOperator) -> None:
        self.operator = D
        super().__init__(shape=D.shape, dtype=D.dtype, xp=D.xp, device=D.device)

    def _matmat(self, X: Any) -> Any:
        d: Any = self.operator.d  # a Diagonal (or its adjoint, one too)
        return X / self._cast(d, X)[:, None]

    def _adjoint(self) -> LinearOperator:
        return _DiagonalInverse(self.operator.H)

    def _transpose(self) -> LinearOperator:
        return self

    def _invert(self) -> LinearOperator:
        return self.operator

    def _parameter_count(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"Inverse({self.operator!r})"


def _inverse_h(blocks: Any) -> Any:
    """``inv(B)^H`` of each block of a stack ``(k, b, b)``."""
    xp = aa.namespace_of(blocks)
    H = xp.matrix_transpose(xp.linalg.inv(blocks))
    return xp.conj(H) if aa.is_complex(xp, H.dtype) else H


def _monarch_inverse(M: Monarch) -> LinearOperator:
    """``M = L P R`` with square invertible blocks: ``M^{-1} = R^{-1} P^T L^{-1}``, in M*.

    That is the adjoint of the Monarch with blocks ``inv(L)^H`` and ``inv(R)^H``.
    """
    K, q, p, J, s, c = M._layout
    if q != p or s != c or M.shape != (s * J, K * p):
        msg = (
            "Monarch.inverse(): the blocks must be square and unpadded, got L blocks "
            f"{s}x{c}, R blocks {q}x{p} and shape {M.shape}"
        )
        raise np.linalg.LinAlgError(msg)
    for name, F in (("L", M.L), ("R", M.R)):
        try:
            _inverse_h(F)
        except Exception as exc:  # each backend names a singular matrix its own way
            raise _singular(M, f"a block of {name} is singular ({exc})") from None
    return MonarchAdjoint(_InverseBlocks(M))


class _InverseBlocks(Monarch):
    """The Monarch of blocks ``inv(L)^H``, ``inv(R)^H`` of ``M``, inverted at every read (live)."""

    def __init__(self, M: Monarch) -> None:
        self._of = M
        Monarch.__init__(self, M.L, M.R, shape=M.shape)

    @property
    def L(self) -> Any:
        return _inverse_h(self._of.L)

    @L.setter
    def L(self, value: Any) -> None:
        """Set by ``Monarch.__init__`` only: the blocks are read from ``M``."""

    @property
    def R(self) -> Any:
        return _inverse_h(self._of.R)

    @R.setter
    def R(self, value: Any) -> None:
        """Set by ``Monarch.__init__`` only: the blocks are read from ``M``."""


def _inverse_blocks(op: Butterfly, ell: int, blocks: Any) -> Any:
    """``inv`` of each twiddle block of level ``ell``; ``LinAlgError`` naming a singular one."""
    xp = op.xp
    try:
        inv = xp.linalg.inv(blocks)
        ok = bool(xp.all(xp.isfinite(inv)))
    except Exception:  # each backend names a singular matrix its own way
        ok = False
    if not ok:
        det = np.abs(aa.to_host(xp.linalg.det(blocks)))
        i = int(np.argmin(det))
        why = f"twiddle block {i} of level {ell} (radix {op.radices[ell]}) is singular"
        raise _singular(op, why)
    return inv


def _butterfly_inverse(B: Butterfly) -> LinearOperator:
    """``(B_{L-1} ... B_0)^{-1} = B_0^{-1} ... B_{L-1}^{-1}``: the butterfly of the opposite
    stride order whose twiddle blocks are the inverted blocks (each level is block diagonal
    up to a permutation, so its inverse has the same pattern)."""
    if B.mixed:
        tw: Any = tuple(_inverse_blocks(B, ell, t) for ell, t in enumerate(B.tw))
    else:
        tw = B.xp.stack([_inverse_blocks(B, ell, B.tw[ell, ...]) for ell in range(B.levels)])
    return ButterflyInverse(B, tw)


class ButterflyInverse(Butterfly):
    """The inverse of a butterfly: a butterfly of the other stride order (repr says so).

    Its twiddles are inverted once, from the owned twiddles of ``B`` (on
    torch, from the tensors as they are at the ``inverse()`` call; the
    inversion is differentiable).
    """

    def __init__(self, B: Butterfly, tw: Any) -> None:
        self.of = B
        Butterfly.__init__(self, tw, increasing_stride=not B.increasing_stride)

    def _invert(self) -> LinearOperator:
        return self.of

    def _map(self, convert: Any) -> LinearOperator:
        return self.of._map(convert).inverse()

    def __repr__(self) -> str:
        word = "B" if self.of.increasing_stride else "B*"
        return f"Butterfly({self._repr_args()}; inverse of a class-{word} butterfly)"

    def __reduce__(self) -> Any:
        return (_butterfly_inverse, (self.of,))

r"""Block structures: block-diagonal, Kronecker products and block matrices.

``BlockDiagonal`` takes a ``(k, m, n)`` stack of equal blocks (the
Kronecker-sparse factor ``KS(k, m, n, 1)``, applied by :mod:`structmat.ks`)
or a list of unequal blocks (arrays or operators).
``Kronecker(A, B, ...)`` multiplies factor by factor along the axes of the
reshaped input and never forms the dense product. ``hstack``, ``vstack`` and
``block`` arrange operators in a grid (``BlockMatrix``).

Every structure keeps its parts and gives structural adjoints:
``BlockDiagonal(A, B).H`` is ``BlockDiagonal(A.H, B.H)``,
``Kronecker(A, B).H`` is ``Kronecker(A.H, B.H)`` and the adjoint of a block
grid is the transposed grid of adjoints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from structmat import _array_api as aa
from structmat._operand import _Converter, _promote, _weak, apply_columns, dense_as
from structmat._parts import _as_operator, _cast, _check_backends, _is_array, _offsets
from structmat.basic import Dense
from structmat.ks._multiply import chain_on_stack, ks_to_dense
from structmat.ks._tiled import chain_matvec
from structmat.linop import LinearOperator

__all__ = ["BlockDiagonal", "BlockMatrix", "Kronecker", "block", "hstack", "vstack"]


# ---------------------------------------------------------------------- BlockDiagonal
class BlockDiagonal(LinearOperator):
    r"""Block-diagonal matrix :math:`\operatorname{diag}(B_0, \dots, B_{k-1})`.

    Parameters
    ----------
    blocks : array of shape (k, m, n), or sequence of blocks
        A stack of ``k`` equal ``m x n`` blocks (the KS factor
        ``KS(k, m, n, 1)``, applied with one batched ``matmul``), or a
        non-empty list of blocks of any shapes, each a 2-d array or a
        ``LinearOperator``. A list of 2-d arrays of one shape and namespace
        is stacked. The operator's dtype is the promotion of the
        blocks' dtypes.

    Attributes
    ----------
    stack : array of shape (k, m, n) or None
        The stacked blocks (``None`` for the list form).
    blocks : tuple of LinearOperator
        The blocks as operators (``Dense`` views of the stack in the stacked form).
    nblocks : int
        ``k``.
    block_shapes : tuple of (int, int)
        ``(m_i, n_i)`` of each block.
    patterns : tuple of (a, b, c, d) or None
        ``((k, m, n, 1),)``: the stacked form as a one-factor KS chain
        (``None`` for the list form).

    Notes
    -----
    With row offsets :math:`r_i = \sum_{j<i} m_j` and column offsets
    :math:`c_i = \sum_{j<i} n_j`,
    :math:`(Dx)[r_i : r_i + m_i] = B_i \, x[c_i : c_i + n_i]`, so
    ``D.to_dense()`` equals ``scipy.linalg.block_diag(B_0, ..., B_{k-1})``.
    :math:`D^H = \operatorname{diag}(B_0^H, \dots, B_{k-1}^H)` and
    :math:`D^T = \operatorname{diag}(B_0^T, \dots, B_{k-1}^T)`, structurally.
    The stacked form is the Kronecker-sparse factor ``KS(k, m, n, 1)`` with
    values ``T[i, :, :, 0] = stack[i]`` (docs/conventions.md) and multiplies
    through :mod:`structmat.ks` (:func:`~structmat.ks.ks_chain_matmat` with
    the one-factor chain, as Monarch runs its two): one batched ``matmul``
    over all columns (``k*m*n`` multiply-adds per column; a single factor
    gains nothing from the driver's column tiles) and, on NumPy, the gemv
    path for one vector. The stack is read at every product (casts and
    conjugates are not kept), so in-place changes show. The list form
    applies block by block.

    Examples
    --------
    >>> import numpy as np, scipy.linalg, structmat as sm
    >>> B = np.arange(12.0).reshape(3, 2, 2)
    >>> D = sm.BlockDiagonal(B)
    >>> D
    BlockDiagonal(3 blocks of 2x2, float64)
    >>> D.patterns
    ((3, 2, 2, 1),)
    >>> bool(np.array_equal(D.to_dense(), scipy.linalg.block_diag(*B)))
    True
    >>> E = sm.BlockDiagonal([np.ones((1, 2)), sm.Identity(3)])
    >>> E.shape
    (4, 5)
    >>> bool(np.allclose(E @ np.arange(5.0), [1.0, 2.0, 3.0, 4.0]))
    True
    """

    def __init__(self, blocks: Any, /, *, _conjugate: bool = False) -> None:
        self._source: Any = None
        if _is_array(blocks):
            self._init_stack(blocks, _conjugate)
            return
        if isinstance(blocks, LinearOperator) or not isinstance(blocks, Sequence):
            msg = (
                "BlockDiagonal expects a (k, m, n) array stack or a list of blocks, "
                f"got {type(blocks).__name__}"
            )
            raise TypeError(msg)
        if len(blocks) == 0:
            msg = "BlockDiagonal needs at least one block, got an empty list"
            raise ValueError(msg)
        if all(_is_array(b) for b in blocks):
            stackable = self._stackable(blocks)
            if stackable is not None:
                self._init_stack(stackable)
                return
        ops = tuple(_as_operator(b, f"BlockDiagonal block {i}") for i, b in enumerate(blocks))
        _check_backends(ops, "BlockDiagonal")
        self._blocks = ops
        self.block_shapes = tuple(op.shape for op in ops)
        self.nblocks = len(ops)
        self._rows = _offsets([s[0] for s in self.block_shapes])
        self._cols = _offsets([s[1] for s in self.block_shapes])
        super().__init__(
            shape=(self._rows[-1], self._cols[-1]),
            dtype=_promote(ops),
            xp=ops[0].xp,
            device=ops[0].device,
            weak=_weak(ops),
        )

    @staticmethod
    def _stackable(blocks: Sequence[Any]) -> Any:
        """The stack of a list of same-shape 2-d arrays of one namespace, else ``None``."""
        xp = aa.namespace_of(blocks[0])
        first = blocks[0]
        for b in blocks:
            if aa.namespace_of(b) is not xp or b.ndim != 2 or b.shape != first.shape:
                return None
            if aa.device_of(b) != aa.device_of(first):
                return None
            if not xp.isdtype(b.dtype, ("real floating", "complex floating")):
                return None
        dtype = xp.result_type(*(b.dtype for b in blocks))
        aa.check_floating_dtype(xp, dtype, "BlockDiagonal")
        return xp.stack([_cast(xp, b, dtype) for b in blocks])

    def _init_stack(self, stack: Any, conjugate: bool = False) -> None:
        xp = aa.namespace_of(stack)
        if stack.ndim != 3:
            msg = (
                "BlockDiagonal expects a (k, m, n) stack of blocks or a list of blocks, "
                f"got an array of shape {tuple(stack.shape)}"
            )
            raise ValueError(msg)
        k, m, n = (int(s) for s in stack.shape)
        if k == 0:
            msg = f"BlockDiagonal needs at least one block, got a stack of shape {(k, m, n)}"
            raise ValueError(msg)
        super().__init__(shape=(k * m, k * n), dtype=stack.dtype, xp=xp, device=aa.device_of(stack))
        self._source, self._conjugate = stack, conjugate
        self.nblocks = k
        self.block_shapes = ((m, n),) * k

    @property
    def stack(self) -> Any:
        """The stacked blocks, ``None`` for the list form (conjugated afresh for a complex adjoint)."""
        S = self._source
        if S is None or not self._conjugate:
            return S
        return self.xp.conj(S)

    @property
    def blocks(self) -> tuple[LinearOperator, ...]:
        """The blocks as operators, in order."""
        if self.stack is None:
            return self._blocks
        return tuple(Dense(self.stack[i, ...]) for i in range(self.nblocks))

    @property
    def patterns(self) -> tuple[tuple[int, int, int, int]] | None:
        """The one-factor KS chain ``(KS(k, m, n, 1),)`` of the stacked form, ``None`` for a list."""
        if self._source is None:
            return None
        k, m, n = (int(v) for v in self._source.shape)
        return ((k, m, n, 1),)

    # ------------------------------------------------------------------ multiply
    def _blocked(self, dtype: Any) -> list[Any]:
        """The one-factor chain in :func:`structmat.ks.ks_blocked` layout, in ``dtype``.

        The values of ``KS(k, m, n, 1)`` are ``stack[:, :, :, None]``, so the
        blocked layout ``(k, 1, m, n)`` is the view ``stack[:, None]``: read at
        every call (casts and conjugates are not kept), so products follow
        in-place changes of the stack.
        """
        S = self.stack
        if S.dtype != dtype:
            S = self.xp.astype(S, dtype)
        return [S[:, None, ...]]

    def _chain(self, X: Any) -> Any:
        """The stacked form on ``X`` (..., n, k) through the KS chain driver."""
        xp = self.xp
        *lead, n, k = X.shape
        if self._numpy:
            if not lead:
                if k == 1 and (X.dtype.kind != "c" or not self._real):
                    # One vector, the common solver call: straight to the gemv path.
                    return chain_matvec(self._blocked(X.dtype), X[:, 0])[:, None]
                return chain_on_stack(self._blocked, X[None], self._real)[0]
            # One matmul broadcast over the stack (a stack of vectors included).
            Y = chain_on_stack(self._blocked, X.reshape(-1, n, k), self._real)
            return Y.reshape(*lead, self.shape[0], k)
        Y = chain_on_stack(self._blocked, xp.reshape(X, (math.prod(lead), n, k)), self._real)
        return xp.reshape(Y, (*lead, self.shape[0], k))

    def _matmat(self, X: Any) -> Any:
        if self._source is not None:
            return self._chain(X)
        cols = self._cols
        parts = [op._apply(X[..., cols[i] : cols[i + 1], :]) for i, op in enumerate(self._blocks)]
        return self.xp.concat(parts, axis=-2)

    # ------------------------------------------------------------------ structure
    def _adjoint(self) -> LinearOperator:
        if self._source is None:
            return BlockDiagonal([op.H for op in self._blocks])
        # A transposed view, conjugated on every read: it follows in-place changes.
        flip = aa.is_complex(self.xp, self.dtype)
        S = self.xp.matrix_transpose(self._source)
        return BlockDiagonal(S, _conjugate=self._conjugate != flip)

    def _transpose(self) -> LinearOperator:
        if self._source is not None:
            S = self.xp.matrix_transpose(self._source)
            return BlockDiagonal(S, _conjugate=self._conjugate)
        return BlockDiagonal([op.T for op in self._blocks])

    def _map(self, convert: _Converter) -> LinearOperator:
        if self._source is not None:
            return BlockDiagonal(convert(self._source), _conjugate=self._conjugate)
        return BlockDiagonal([op._map(convert) for op in self._blocks])

    def _parameter_count(self) -> int:
        if self.stack is not None:
            k, m, n = self.stack.shape
            return int(k * m * n)
        return sum(op.parameter_count for op in self._blocks)

    def _flops(self, k: int) -> int:
        if self.stack is not None:
            nb, m, n = self.stack.shape
            return int(nb * m * n * k)
        return sum(op.flops(k) for op in self._blocks)

    def to_dense(self) -> Any:
        xp = self.xp
        if self._source is not None:
            # The KS factor's dense matrix: on NumPy the values scattered into place.
            return ks_to_dense(self.stack[..., None])
        rows = []
        n = self.shape[1]
        for i, op in enumerate(self._blocks):
            m_i = op.shape[0]
            left = xp.zeros((m_i, self._cols[i]), dtype=self.dtype, device=self.device)
            right = xp.zeros((m_i, n - self._cols[i + 1]), dtype=self.dtype, device=self.device)
            rows.append(xp.concat([left, dense_as(op, self.dtype), right], axis=1))
        return xp.concat(rows, axis=0)

    def __repr__(self) -> str:
        if self.stack is not None:
            k, m, n = self.stack.shape
            return f"BlockDiagonal({k} blocks of {m}x{n}, {aa.dtype_name(self.dtype)})"
        return f"BlockDiagonal([{', '.join(map(repr, self._blocks))}])"


# ---------------------------------------------------------------------- Kronecker
class Kronecker(LinearOperator):
    r"""Kronecker product :math:`A_1 \otimes A_2 \otimes \cdots \otimes A_d`.

    Parameters
    ----------
    *factors : LinearOperator or 2-d array
        At least one factor; arrays become ``Dense``. Nested ``Kronecker``
        factors are flattened (the product is associative). The operator's
        dtype is the promotion of the factors' dtypes.

    Attributes
    ----------
    factors : tuple of LinearOperator
        The factors, leftmost (slowest-varying index) first.

    Notes
    -----
    NumPy's ``np.kron`` convention: for two factors of shapes
    :math:`(m_1, n_1)` and :math:`(m_2, n_2)`,

    .. math:: (A \otimes B)[i_1 m_2 + i_2,\; j_1 n_2 + j_2] = A[i_1, j_1] \, B[i_2, j_2],

    so ``Kronecker(A, B).to_dense()`` equals ``np.kron(A, B)``.

    The multiply never forms the product: a column ``x`` of length
    :math:`\prod_i n_i` is viewed as a tensor of shape :math:`(n_1, \dots, n_d)`
    and each factor is applied along its own axis (the identity
    :math:`(A \otimes B)\operatorname{vec}(X) = \operatorname{vec}(A X B^T)`
    with row-major ``vec``, iterated). Each step is one ``A_i @ Z`` with the
    factor's own structured multiply followed by a transpose that brings the
    next axis to the front, so ``(m_1 ... m_d)`` costs
    :math:`\sum_i \text{flops}(A_i) \prod_{j<i} m_j \prod_{j>i} n_j` multiply-adds
    instead of :math:`\prod_i m_i n_i`.
    Adjoint and transpose are structural:
    :math:`(A \otimes B)^H = A^H \otimes B^H`, :math:`(A \otimes B)^T = A^T \otimes B^T`.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> A, B = np.arange(6.0).reshape(2, 3), np.arange(4.0).reshape(2, 2)
    >>> K = sm.Kronecker(A, B)
    >>> K.shape
    (4, 6)
    >>> bool(np.allclose(K.to_dense(), np.kron(A, B)))
    True
    >>> x = np.arange(6.0)
    >>> bool(np.allclose(K @ x, np.kron(A, B) @ x))
    True
    """

    factors: tuple[LinearOperator, ...]

    def __init__(self, *factors: Any) -> None:
        if not factors:
            msg = "Kronecker needs at least one factor, got none"
            raise ValueError(msg)
        flat: list[LinearOperator] = []
        for i, f in enumerate(factors):
            op = _as_operator(f, f"Kronecker factor {i}")
            flat.extend(op.factors if isinstance(op, Kronecker) else (op,))
        _check_backends(flat, "Kronecker")
        self.factors = tuple(flat)
        m = math.prod(f.shape[0] for f in self.factors)
        n = math.prod(f.shape[1] for f in self.factors)
        f0 = self.factors[0]
        super().__init__(
            shape=(m, n),
            dtype=_promote(self.factors),
            xp=f0.xp,
            device=f0.device,
            weak=_weak(self.factors),
        )
        from structmat import _fftn  # lazy: the Fourier family loads SciPy's FFT

        # same-kind DFT/DCT/DST factors: one fftn/dctn call (structmat._fftn)
        self._nd = _fftn.plan(self.factors)

    def __matmul__(self, x: Any) -> Any:
        if self._nd is not None and (y := self._nd.matmul(x)) is not None:
            return y
        return super().__matmul__(x)

    def _matmat(self, X: Any) -> Any:
        if self._nd is not None:
            return self._nd.apply(X)
        return apply_columns(self.xp, X, self._columns)

    def _columns(self, X: Any) -> Any:
        xp = self.xp
        k = X.shape[1]
        m, n = self.shape
        # Layout of Z: (n_i, ..., n_d, k, m_1, ..., m_{i-1}), flattened row-major.
        Z = X
        size = n * k
        for f in self.factors:
            m_i, n_i = f.shape
            Z = f._apply(xp.reshape(Z, (n_i, size // n_i)))
            size = size // n_i * m_i
            Z = xp.matrix_transpose(Z)
        return xp.matrix_transpose(xp.reshape(Z, (k, m)))

    def _adjoint(self) -> LinearOperator:
        return Kronecker(*(f.H for f in self.factors))

    def _transpose(self) -> LinearOperator:
        return Kronecker(*(f.T for f in self.factors))

    def _map(self, convert: _Converter) -> LinearOperator:
        return Kronecker(*(f._map(convert) for f in self.factors))

    def _parameter_count(self) -> int:
        return sum(f.parameter_count for f in self.factors)

    def _flops(self, k: int) -> int:
        total = 0
        ms = [f.shape[0] for f in self.factors]
        ns = [f.shape[1] for f in self.factors]
        for i, f in enumerate(self.factors):
            cols = k * math.prod(ms[:i]) * math.prod(ns[i + 1 :])
            total += f.flops(cols)
        return total

    def to_dense(self) -> Any:
        xp = self.xp
        D = dense_as(self.factors[0], self.dtype)
        for f in self.factors[1:]:
            F = dense_as(f, self.dtype)
            (m1, n1), (m2, n2) = D.shape, F.shape
            D = xp.reshape(D[:, None, :, None] * F[None, :, None, :], (m1 * m2, n1 * n2))
        return D

    def __repr__(self) -> str:
        return f"Kronecker({', '.join(map(repr, self.factors))})"


# the grids live in structmat/_grid.py; structmat.blocks is their public home
from structmat._grid import BlockMatrix, block, hstack, vstack  # noqa: E402

for _obj in (BlockMatrix, block, hstack, vstack):
    _obj.__module__ = __name__

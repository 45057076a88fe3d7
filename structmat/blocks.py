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
from structmat.basic import Dense, Zero
from structmat.ks._multiply import chain_on_stack, ks_to_dense
from structmat.ks._tiled import chain_matvec
from structmat.linop import LinearOperator

__all__ = ["BlockDiagonal", "BlockMatrix", "Kronecker", "block", "hstack", "vstack"]


# ---------------------------------------------------------------------- helpers
def _is_array(obj: Any) -> bool:
    try:
        aa.namespace_of(obj)
    except TypeError:
        return False
    return True


def _as_operator(obj: Any, what: str) -> LinearOperator:
    """``obj`` as an operator: operators pass, 2-d floating arrays become ``Dense``."""
    if isinstance(obj, LinearOperator):
        return obj
    if not _is_array(obj):
        msg = f"{what} must be a LinearOperator or a 2-d array, got {type(obj).__name__}"
        raise TypeError(msg)
    if obj.ndim != 2:
        msg = f"{what} must be a 2-d array, got shape {tuple(obj.shape)}"
        raise ValueError(msg)
    aa.check_floating_dtype(aa.namespace_of(obj), obj.dtype, what)
    return Dense(obj)


def _check_backends(ops: Sequence[LinearOperator], what: str) -> None:
    first = ops[0]
    for op in ops[1:]:
        aa.check_same_backend(first.xp, first.device, op.xp, op.device, what)


def _promoted(ops: Sequence[LinearOperator]) -> Any:
    return _promote(ops)  # weak dtypes promote as in the operator algebra


def _cast(xp: Any, a: Any, dtype: Any) -> Any:
    return a if a.dtype == dtype else xp.astype(a, dtype)


def _offsets(sizes: Sequence[int]) -> list[int]:
    out = [0]
    for s in sizes:
        out.append(out[-1] + s)
    return out


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
            dtype=_promoted(ops),
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
            dtype=_promoted(self.factors),
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


# ---------------------------------------------------------------------- block grids
class BlockMatrix(LinearOperator):
    r"""A grid of operators :math:`[[A_{00}, A_{01}, \dots], [A_{10}, \dots], \dots]`.

    Built by :func:`block`, :func:`hstack` and :func:`vstack`; see
    :func:`block` for the parameters.

    Attributes
    ----------
    blocks : tuple of tuple of LinearOperator
        The grid, row by row (``None`` entries given to :func:`block` are
        ``Zero`` operators here).

    Notes
    -----
    With row heights :math:`m_i` and column widths :math:`n_j`,
    :math:`(Ax)_i = \sum_j A_{ij} x_j` where :math:`x_j` is the slice of
    ``x`` of length :math:`n_j`. :math:`A^H` is the transposed grid of the
    :math:`A_{ij}^H` and :math:`A^T` the transposed grid of the :math:`A_{ij}^T`.
    """

    def __init__(self, blocks: Sequence[Sequence[LinearOperator]]) -> None:
        self.blocks = tuple(tuple(row) for row in blocks)
        if not self.blocks or any(
            len(row) != len(self.blocks[0]) or not row for row in self.blocks
        ):
            msg = (
                "BlockMatrix expects a non-empty grid with rows of one length, got row "
                f"lengths {[len(row) for row in self.blocks]}"
            )
            raise ValueError(msg)
        flat = [op for row in self.blocks for op in row]
        for op in flat:
            if not isinstance(op, LinearOperator):
                msg = f"BlockMatrix expects LinearOperator blocks, got {type(op).__name__}"
                raise TypeError(msg)
        _check_backends(flat, "BlockMatrix")
        grid: list[list[LinearOperator | None]] = [list(row) for row in self.blocks]
        self._heights = _common_sizes(grid, 0, "row", "rows")
        self._widths = _common_sizes(
            [list(c) for c in zip(*grid, strict=True)], 1, "column", "columns"
        )
        self._rows = _offsets(self._heights)
        self._cols = _offsets(self._widths)
        f0 = flat[0]
        super().__init__(
            shape=(self._rows[-1], self._cols[-1]),
            dtype=_promoted(flat),
            xp=f0.xp,
            device=f0.device,
            weak=_weak(flat),
        )

    def _matmat(self, X: Any) -> Any:
        cols = self._cols
        chunks = [X[..., cols[j] : cols[j + 1], :] for j in range(len(self._widths))]
        parts = []
        for row in self.blocks:
            Y = None
            for op, chunk in zip(row, chunks, strict=True):
                if type(op) is Zero:
                    continue
                Y = op._apply(chunk) if Y is None else Y + op._apply(chunk)
            if Y is None:
                shape = (*X.shape[:-2], row[0].shape[0], X.shape[-1])
                Y = self.xp.zeros(shape, dtype=X.dtype, device=self.device)
            parts.append(Y)
        return self.xp.concat(parts, axis=-2)

    def _grid(self, which: str) -> list[list[LinearOperator]]:
        cols = range(len(self._widths))
        return [[getattr(row[j], which) for row in self.blocks] for j in cols]

    def _adjoint(self) -> LinearOperator:
        return BlockMatrix(self._grid("H"))

    def _transpose(self) -> LinearOperator:
        return BlockMatrix(self._grid("T"))

    def _map(self, convert: _Converter) -> LinearOperator:
        return BlockMatrix([[op._map(convert) for op in row] for row in self.blocks])

    def _parameter_count(self) -> int:
        return sum(op.parameter_count for row in self.blocks for op in row)

    def _flops(self, k: int) -> int:
        total = 0
        for row, m in zip(self.blocks, self._heights, strict=True):
            live = [op for op in row if type(op) is not Zero]
            total += sum(op.flops(k) for op in live) + max(len(live) - 1, 0) * m * k
        return total

    def to_dense(self) -> Any:
        xp = self.xp
        rows = [xp.concat([dense_as(op, self.dtype) for op in row], axis=1) for row in self.blocks]
        return xp.concat(rows, axis=0)

    def __repr__(self) -> str:
        rows = ", ".join("[" + ", ".join(map(repr, row)) + "]" for row in self.blocks)
        return f"BlockMatrix([{rows}])"


def block(blocks: Sequence[Sequence[Any]], /) -> LinearOperator:
    r"""Assemble operators in a grid, like ``np.block`` for matrices.

    Parameters
    ----------
    blocks : sequence of sequences
        Rows of blocks, each a ``LinearOperator``, a 2-d array, or ``None``
        for a zero block (its size comes from its row and column). Every row
        has the same number of blocks; blocks of one row share their number of
        rows, blocks of one column share their number of columns.

    Returns
    -------
    LinearOperator
        A ``BlockMatrix`` (a single block is returned as an operator).

    Notes
    -----
    ``block([[A, B], [C, D]]).to_dense()`` equals
    ``np.block([[A, B], [C, D]])``. Each row and each column needs at least
    one block that is not ``None`` (to know its size).

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> A, B = np.ones((2, 2)), np.arange(6.0).reshape(2, 3)
    >>> M = sm.block([[A, B], [None, sm.Identity(3)]])
    >>> M.shape
    (5, 5)
    >>> bool(np.array_equal(M.to_dense(), np.block([[A, B], [np.zeros((3, 2)), np.eye(3)]])))
    True
    """
    if isinstance(blocks, LinearOperator) or _is_array(blocks) or not isinstance(blocks, Sequence):
        msg = (
            f"block expects a list of rows (a list of lists of blocks), got {type(blocks).__name__}"
        )
        raise TypeError(msg)
    if len(blocks) == 0:
        msg = "block expects at least one row, got an empty list"
        raise ValueError(msg)
    grid: list[list[LinearOperator | None]] = []
    for i, row in enumerate(blocks):
        if isinstance(row, LinearOperator) or _is_array(row) or not isinstance(row, Sequence):
            msg = f"block expects each row to be a list of blocks, row {i} is {type(row).__name__}"
            raise TypeError(msg)
        if len(row) == 0:
            msg = f"block expects non-empty rows, row {i} is empty"
            raise ValueError(msg)
        if len(row) != len(blocks[0]):
            msg = (
                f"block expects every row to have the same number of blocks, row 0 has "
                f"{len(blocks[0])} and row {i} has {len(row)}"
            )
            raise ValueError(msg)
        grid.append(
            [None if b is None else _as_operator(b, f"block[{i}][{j}]") for j, b in enumerate(row)]
        )
    ops = [op for row in grid for op in row if op is not None]
    if not ops:
        msg = "block needs at least one block that is not None"
        raise ValueError(msg)
    _check_backends(ops, "block")
    heights = _common_sizes(grid, 0, "row", "rows")
    widths = _common_sizes([list(col) for col in zip(*grid, strict=True)], 1, "column", "columns")
    if len(grid) == 1 and len(grid[0]) == 1:
        return ops[0]
    dtype, weak, first = _promoted(ops), _weak(ops), ops[0]
    filled = [
        [
            Zero((heights[i], widths[j]), dtype=dtype, xp=first.xp, device=first.device, weak=weak)
            if op is None
            else op
            for j, op in enumerate(row)
        ]
        for i, row in enumerate(grid)
    ]
    return BlockMatrix(filled)


def _common_sizes(
    lines: list[list[LinearOperator | None]], axis: int, line: str, dim: str
) -> list[int]:
    """The shared size along ``axis`` of the blocks of each row (axis 0) or column (axis 1)."""
    sizes = []
    for i, ops in enumerate(lines):
        found = {j: op.shape[axis] for j, op in enumerate(ops) if op is not None}
        if not found:
            msg = f"block: {line} {i} has only None blocks, so its size is unknown"
            raise ValueError(msg)
        if len(set(found.values())) > 1:
            detail = ", ".join(
                f"{'block' if axis == 0 else 'row'} {j}: {s}" for j, s in found.items()
            )
            msg = (
                f"block: the blocks of {line} {i} must have the same number of {dim}, got {detail}"
            )
            raise ValueError(msg)
        sizes.append(next(iter(found.values())))
    return sizes


def _stack_parts(ops: Sequence[Any], what: str, axis: int) -> list[LinearOperator]:
    """The parts of ``hstack``/``vstack`` as operators, all of one size along ``axis``."""
    ops = _check_list(ops, what)
    converted = [_as_operator(op, f"{what} operator {i}") for i, op in enumerate(ops)]
    _check_backends(converted, what)
    sizes = [op.shape[axis] for op in converted]
    if len(set(sizes)) > 1:
        dim = ("rows", "columns")[axis]
        msg = f"{what} expects operators with the same number of {dim}, got {dim} {sizes}"
        raise ValueError(msg)
    return converted


def hstack(ops: Sequence[Any], /) -> LinearOperator:
    r"""Operators side by side, ``[A_0, A_1, ...]`` (like ``np.hstack`` of matrices).

    Parameters
    ----------
    ops : sequence of LinearOperator or 2-d arrays
        All with the same number of rows.

    Notes
    -----
    :math:`[A_0, A_1] x = A_0 x_0 + A_1 x_1` with ``x`` split by the column
    counts. A single operator is returned as it is.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> A, B = np.ones((2, 1)), np.arange(4.0).reshape(2, 2)
    >>> bool(np.array_equal(sm.hstack([A, B]).to_dense(), np.hstack([A, B])))
    True
    """
    converted = _stack_parts(ops, "hstack", axis=0)
    return converted[0] if len(converted) == 1 else BlockMatrix([converted])


def vstack(ops: Sequence[Any], /) -> LinearOperator:
    r"""Operators stacked vertically, ``[[A_0], [A_1], ...]`` (like ``np.vstack``).

    Parameters
    ----------
    ops : sequence of LinearOperator or 2-d arrays
        All with the same number of columns.

    Notes
    -----
    :math:`\begin{bmatrix} A_0 \\ A_1 \end{bmatrix} x = (A_0 x, A_1 x)`
    concatenated. A single operator is returned as it is.

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> A, B = np.ones((1, 2)), np.arange(4.0).reshape(2, 2)
    >>> bool(np.array_equal(sm.vstack([A, B]).to_dense(), np.vstack([A, B])))
    True
    """
    converted = _stack_parts(ops, "vstack", axis=1)
    return converted[0] if len(converted) == 1 else BlockMatrix([[op] for op in converted])


def _check_list(ops: Any, what: str) -> Sequence[Any]:
    if isinstance(ops, LinearOperator) or _is_array(ops) or not isinstance(ops, Sequence):
        msg = f"{what} expects a list of operators or 2-d arrays, got {type(ops).__name__}"
        raise TypeError(msg)
    if len(ops) == 0:
        msg = f"{what} expects at least one operator, got an empty list"
        raise ValueError(msg)
    return ops

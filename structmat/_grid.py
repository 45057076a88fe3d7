r"""Block grids: ``BlockMatrix`` and the builders ``block``, ``hstack``, ``vstack``.

Re-exported by :mod:`structmat.blocks` (their public home, as the classes'
``__module__`` says); kept apart so that each module holds one structure.
The adjoint of a grid is the transposed grid of adjoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from structmat._operand import _Converter, _promote, _weak, dense_as
from structmat._parts import _as_operator, _check_backends, _is_array, _offsets
from structmat.basic import Zero
from structmat.linop import LinearOperator

__all__ = ["BlockMatrix", "block", "hstack", "vstack"]


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
            dtype=_promote(flat),
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
    dtype, weak, first = _promote(ops), _weak(ops), ops[0]
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

"""Operator market for block structures: ``BlockDiagonal``, ``Kronecker``, block grids.

``MARKET`` maps a name to a factory that takes an array namespace ``xp`` and
returns a Hypothesis strategy of small (at most 64 x 64) random operators of
that family in ``xp``, covering float32, float64, complex64 and complex128,
both forms of ``BlockDiagonal`` (stack and list of unequal blocks, arrays and
operators mixed), Kronecker products of two or three factors (dense and
structured factors), ``hstack``, ``vstack`` and ``block`` (with ``None``
zero blocks).

Examples
--------
>>> import numpy as np
>>> from hypothesis import given, settings
>>> from structmat.testing.market_blocks import MARKET
>>> from structmat.testing import to_numpy
>>> @settings(max_examples=5, database=None)
... @given(MARKET["kronecker"](np))
... def check(op):
...     assert to_numpy(op.to_dense()).shape == op.shape
>>> check()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from structmat import _array_api as aa
from structmat.basic import Dense, Diagonal
from structmat.blocks import BlockDiagonal, Kronecker, block, hstack, vstack
from structmat.linop import LinearOperator

__all__ = ["MARKET"]


def _array(xp: Any, rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> Any:
    xp = aa.default_namespace(xp)
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return xp.asarray(a.astype(dtype))


@st.composite
def _dtype_and_rng(draw: Any) -> tuple[str, np.random.Generator]:
    dtype = draw(st.sampled_from(["float32", "float64", "complex64", "complex128"]))
    seed = draw(st.integers(0, 2**32 - 1))
    return dtype, np.random.default_rng(seed)


def _piece(draw: Any, xp: Any, rng: Any, shape: tuple[int, int], dtype: str) -> Any:
    """A block of ``shape``: a raw array, a ``Dense`` or (square) a ``Diagonal``."""
    kinds = ["array", "dense"] + (["diagonal"] if shape[0] == shape[1] else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "diagonal":
        return Diagonal(_array(xp, rng, (shape[0],), dtype))
    a = _array(xp, rng, shape, dtype)
    return a if kind == "array" else Dense(a)


def _size() -> Any:
    return st.integers(1, 5)


def _block_diagonal_stack(xp: Any) -> Any:
    @st.composite
    def strategy(draw: Any) -> LinearOperator:
        dtype, rng = draw(_dtype_and_rng())
        k, m, n = draw(st.integers(1, 4)), draw(_size()), draw(_size())
        return BlockDiagonal(_array(xp, rng, (k, m, n), dtype))

    return strategy()


def _block_diagonal_list(xp: Any) -> Any:
    @st.composite
    def strategy(draw: Any) -> LinearOperator:
        dtype, rng = draw(_dtype_and_rng())
        count = draw(st.integers(1, 4))
        shapes = [(draw(_size()), draw(_size())) for _ in range(count)]
        pieces = [_piece(draw, xp, rng, s, dtype) for s in shapes]
        return BlockDiagonal(pieces)

    return strategy()


def _kronecker(xp: Any) -> Any:
    @st.composite
    def strategy(draw: Any) -> LinearOperator:
        dtype, rng = draw(_dtype_and_rng())
        count = draw(st.integers(2, 3))
        factors = []
        for _ in range(count):
            shape = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
            if draw(st.booleans()) and count == 2:
                # a structured factor: a 2-block stack of shape (2*m, 2*n)
                factors.append(BlockDiagonal(_array(xp, rng, (2, *shape), dtype)))
            else:
                factors.append(_piece(draw, xp, rng, shape, dtype))
        return Kronecker(*factors)

    return strategy()


def _hstack(xp: Any) -> Any:
    @st.composite
    def strategy(draw: Any) -> LinearOperator:
        dtype, rng = draw(_dtype_and_rng())
        m = draw(_size())
        widths = draw(st.lists(_size(), min_size=2, max_size=3))
        return hstack([_piece(draw, xp, rng, (m, w), dtype) for w in widths])

    return strategy()


def _vstack(xp: Any) -> Any:
    @st.composite
    def strategy(draw: Any) -> LinearOperator:
        dtype, rng = draw(_dtype_and_rng())
        n = draw(_size())
        heights = draw(st.lists(_size(), min_size=2, max_size=3))
        return vstack([_piece(draw, xp, rng, (h, n), dtype) for h in heights])

    return strategy()


def _block(xp: Any) -> Any:
    @st.composite
    def strategy(draw: Any) -> LinearOperator:
        dtype, rng = draw(_dtype_and_rng())
        heights = draw(st.lists(_size(), min_size=1, max_size=3))
        widths = draw(st.lists(_size(), min_size=1, max_size=3))
        grid: list[list[Any]] = [
            [_piece(draw, xp, rng, (h, w), dtype) for w in widths] for h in heights
        ]
        if len(heights) > 1 and len(widths) > 1 and draw(st.booleans()):
            # one zero block: its row and column keep another block to size them
            grid[draw(st.integers(0, len(heights) - 1))][draw(st.integers(0, len(widths) - 1))] = (
                None
            )
        return block(grid)

    return strategy()


MARKET: dict[str, Callable[[Any], Any]] = {
    "block_diagonal_stack": _block_diagonal_stack,
    "block_diagonal_list": _block_diagonal_list,
    "kronecker": _kronecker,
    "hstack": _hstack,
    "vstack": _vstack,
    "block": _block,
}

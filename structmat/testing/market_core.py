"""Operator market entries for the core operators (see ``structmat.testing.strategies``).

``MARKET`` maps a name to a factory ``f(xp)`` returning a Hypothesis strategy
of small random operators in namespace ``xp`` (sides 1 to 8): the basic
operators ``Dense``, ``Identity``, ``Zero``, ``Diagonal``, ``Permutation``,
and the composites ``Sum``, ``Product``, ``Scaled``, ``Adjoint``,
``Transpose``, conjugate, ``Power`` built from them, plus random algebraic
expressions. Dtypes cover float32, float64, complex64 and complex128, and
composites mix them (a float32 factor in a complex128 product...).

Examples
--------
>>> import numpy as np
>>> from hypothesis import given, settings
>>> from structmat.testing import check_linear_operator
>>> from structmat.testing.market_core import MARKET
>>> @settings(max_examples=5, database=None)
... @given(MARKET["product"](np))
... def test(op):
...     check_linear_operator(op)
>>> test()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from structmat import _array_api as aa
from structmat.basic import Dense, Diagonal, Identity, Permutation, Zero
from structmat.linop import Adjoint, LinearOperator, Power, Product, Scaled, Sum, Transpose
from structmat.testing.strategies import DTYPE_NAMES, arrays

__all__ = ["MARKET", "leaves"]

MAX_SIDE = 8

_side = st.integers(1, MAX_SIDE)
_dtype_names = st.sampled_from(DTYPE_NAMES)


def _dense(xp: Any, shape: tuple[int, int], dtype: str) -> st.SearchStrategy[LinearOperator]:
    return arrays(xp, shape, dtype).map(Dense)


def _diagonal(xp: Any, n: int, dtype: str) -> st.SearchStrategy[LinearOperator]:
    return arrays(xp, (n,), dtype).map(Diagonal)


def _permutation(xp: Any, n: int, dtype: str) -> st.SearchStrategy[LinearOperator]:
    return st.permutations(range(n)).map(
        lambda p: Permutation(xp.asarray(list(p), dtype=xp.int64), dtype=dtype)
    )


def leaves(
    xp: Any, shape: tuple[int, int], dtype: str | None = None
) -> st.SearchStrategy[LinearOperator]:
    """A basic operator of ``shape`` in ``xp`` (dtype drawn unless given).

    Square shapes draw from every basic class, rectangular ones from
    ``Dense`` and ``Zero``; ``Dense`` is drawn most often.
    """
    ns = aa.default_namespace(xp)
    m, n = shape

    @st.composite
    def build(draw: Any) -> LinearOperator:
        name = dtype or draw(_dtype_names)
        kinds = ["dense", "dense", "zero"]
        if m == n:
            kinds += ["dense", "diagonal", "permutation", "identity"]
        kind = draw(st.sampled_from(kinds))
        if kind == "dense":
            return draw(_dense(ns, shape, name))
        if kind == "diagonal":
            return draw(_diagonal(ns, n, name))
        if kind == "permutation":
            return draw(_permutation(ns, n, name))
        if kind == "identity":
            return Identity(n, dtype=name, xp=ns)
        return Zero(shape, dtype=name, xp=ns)

    return build()


def _shaped(build: Callable[[Any, Any, tuple[int, int], str], Any], *, square: bool = False):
    """Factory ``f(xp)`` drawing a shape and dtype and passing them to ``build``."""

    def factory(xp: Any) -> st.SearchStrategy[LinearOperator]:
        ns = aa.default_namespace(xp)

        @st.composite
        def strategy(draw: Any) -> LinearOperator:
            m = draw(_side)
            n = m if square else draw(_side)
            return build(draw, ns, (m, n), draw(_dtype_names))

        return strategy()

    return factory


def _dense_entry(draw: Any, xp: Any, shape: tuple[int, int], dtype: str) -> LinearOperator:
    return draw(_dense(xp, shape, dtype))


def _identity_entry(draw: Any, xp: Any, shape: tuple[int, int], dtype: str) -> LinearOperator:
    return Identity(shape[0], dtype=dtype, xp=xp)


def _zero_entry(draw: Any, xp: Any, shape: tuple[int, int], dtype: str) -> LinearOperator:
    return Zero(shape, dtype=dtype, xp=xp)


def _diagonal_entry(draw: Any, xp: Any, shape: tuple[int, int], dtype: str) -> LinearOperator:
    return draw(_diagonal(xp, shape[0], dtype))


def _permutation_entry(draw: Any, xp: Any, shape: tuple[int, int], dtype: str) -> LinearOperator:
    return draw(_permutation(xp, shape[0], dtype))


def _sum_entry(draw: Any, xp: Any, shape: tuple[int, int], dtype: str) -> LinearOperator:
    count = draw(st.integers(2, 3))
    # Terms of independently drawn dtypes: the sum's dtype is their promotion.
    return Sum(*(draw(leaves(xp, shape)) for _ in range(count)))


def _product_entry(draw: Any, xp: Any, shape: tuple[int, int], dtype: str) -> LinearOperator:
    count = draw(st.integers(2, 3))
    sides = [shape[0], *(draw(_side) for _ in range(count - 1)), shape[1]]
    factors = [draw(leaves(xp, (sides[i], sides[i + 1]))) for i in range(count)]
    return Product(*factors)


# Magnitudes in [1/8, 4] (or exactly 0): products of several stay far from
# under- and overflow, where relative error bounds mean nothing.
_magnitudes = st.one_of(st.just(0.0), st.floats(0.125, 4.0))
_scalars = st.one_of(
    st.tuples(_magnitudes, st.sampled_from([1.0, -1.0])).map(lambda t: t[0] * t[1]),
    st.tuples(_magnitudes, st.floats(-3.2, 3.2)).map(lambda t: complex(t[0] * np.exp(1j * t[1]))),
    st.integers(-3, 3),
)


def _scaled_entry(draw: Any, xp: Any, shape: tuple[int, int], dtype: str) -> LinearOperator:
    return Scaled(draw(_scalars), draw(leaves(xp, shape, dtype)))


def _adjoint_entry(draw: Any, xp: Any, shape: tuple[int, int], dtype: str) -> LinearOperator:
    # The class itself (A.H of a basic operator is structural, not an Adjoint).
    return Adjoint(draw(leaves(xp, shape[::-1], dtype)))


def _transpose_entry(draw: Any, xp: Any, shape: tuple[int, int], dtype: str) -> LinearOperator:
    return Transpose(draw(leaves(xp, shape[::-1], dtype)))


def _conjugate_entry(draw: Any, xp: Any, shape: tuple[int, int], dtype: str) -> LinearOperator:
    op = draw(leaves(xp, shape, dtype))
    # Adjoint(op).T is the generic conjugate operator; op.conj() the structural one.
    return Adjoint(op).T if draw(st.booleans()) else op.conj()


def _power_entry(draw: Any, xp: Any, shape: tuple[int, int], dtype: str) -> LinearOperator:
    return Power(draw(leaves(xp, shape, dtype)), draw(st.integers(0, 3)))


def _expression_entry(draw: Any, xp: Any, shape: tuple[int, int], dtype: str) -> LinearOperator:
    """A random algebraic expression of square basic operators (through the builders)."""
    n = shape[0]

    def grow(depth: int) -> LinearOperator:
        if depth == 0 or draw(st.integers(0, 3)) == 0:
            return draw(leaves(xp, (n, n)))
        op = draw(
            st.sampled_from(["add", "sub", "matmul", "scale", "neg", "H", "T", "conj", "pow"])
        )
        a = grow(depth - 1)
        if op in ("add", "sub", "matmul"):
            b = grow(depth - 1)
            return a + b if op == "add" else a - b if op == "sub" else a @ b
        if op == "scale":
            return draw(_scalars) * a
        if op == "neg":
            return -a
        if op == "pow":
            return a ** draw(st.integers(0, 2))
        return a.H if op == "H" else a.T if op == "T" else a.conj()

    return grow(3)


MARKET: dict[str, Callable[[Any], st.SearchStrategy[LinearOperator]]] = {
    "dense": _shaped(_dense_entry),
    "identity": _shaped(_identity_entry, square=True),
    "zero": _shaped(_zero_entry),
    "diagonal": _shaped(_diagonal_entry, square=True),
    "permutation": _shaped(_permutation_entry, square=True),
    "sum": _shaped(_sum_entry),
    "product": _shaped(_product_entry),
    "scaled": _shaped(_scaled_entry),
    "adjoint": _shaped(_adjoint_entry),
    "transpose": _shaped(_transpose_entry),
    "conjugate": _shaped(_conjugate_entry),
    "power": _shaped(_power_entry, square=True),
    "expression": _shaped(_expression_entry, square=True),
}

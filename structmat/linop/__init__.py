r"""The ``LinearOperator`` base class, its algebra, ``Identity`` and ``Zero``.

A subclass gives ``shape`` and ``dtype`` (and optionally ``xp``, ``device``)
to ``__init__`` and implements ``_matmat(X)`` for ``X`` of shape
``(..., n, k)``; for the adjoint it implements ``_rmatmat(X)`` (returns
:math:`A^H X`) or ``_adjoint()`` (returns an operator). Everything else
derives: vectors, batches, empty inputs, ``x @ op``, ``to_dense``, ``.H``,
``.T``, ``.conj()``, sums, products, scalars and powers.

Composites keep their parts (``Product.factors``, ``Sum.terms``,
``Scaled.operator``, ``Adjoint.operator``, ``Transpose.operator``,
``Power.operator``) and give structural adjoints:
``(A @ B).H`` is ``B.H @ A.H`` and ``A.H.H is A``. ``Identity`` and ``Zero``
live here, beside the builders that absorb them.

The package has two modules: ``_base`` (the contract: ``LinearOperator``)
and ``_algebra`` (the composites, ``Identity``, ``Zero`` and the simplifying
builders). They form one circle of definitions, closed at the end of
``_base``: the composites subclass ``LinearOperator``, whose ``.H``, ``@``,
``+``, ``*`` and ``**`` build them.
"""

from structmat._operand import apply_columns
from structmat.linop._base import REPR_NOTES, LinearOperator

# isort: split
# _algebra after _base (see the docstring)
from structmat.linop._algebra import (
    MAX_POWER,
    Adjoint,
    Identity,
    Power,
    Product,
    Scaled,
    Sum,
    Transpose,
    Zero,
    _Conjugate,
    power,
    product,
    scaled,
    sum_of,
)

__all__ = [
    "MAX_POWER",
    "REPR_NOTES",
    "Adjoint",
    "Identity",
    "LinearOperator",
    "Power",
    "Product",
    "Scaled",
    "Sum",
    "Transpose",
    "Zero",
    "_Conjugate",
    "apply_columns",
    "power",
    "product",
    "scaled",
    "sum_of",
]

# One home for pickles, reprs and the API docs: ``structmat.linop.Sum``.
for _cls in (LinearOperator, Adjoint, Identity, Power, Product, Scaled, Sum, Transpose, Zero):
    _cls.__module__ = __name__
del _cls

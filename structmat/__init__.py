"""structmat: structured matrices (Monarch, butterfly, Fourier, low rank) as linear operators."""

from structmat.basic import Dense, Diagonal, Identity, Permutation, Zero
from structmat.linop import Adjoint, LinearOperator, Power, Product, Scaled, Sum, Transpose

__all__ = [
    "Adjoint",
    "Dense",
    "Diagonal",
    "Identity",
    "LinearOperator",
    "Permutation",
    "Power",
    "Product",
    "Scaled",
    "Sum",
    "Transpose",
    "Zero",
]

"""structmat: structured matrices (Monarch, butterfly, Fourier, low rank) as linear operators.

Public names only. Names of modules still being built resolve lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

from structmat._result import ProjectionResult
from structmat.basic import Dense, Diagonal, Identity, Permutation, Zero
from structmat.linop import Adjoint, LinearOperator, Power, Product, Scaled, Sum, Transpose

# name -> module, resolved on first use
_LAZY = {
    "BlockDiagonal": "structmat.blocks",
    "Kronecker": "structmat.blocks",
    "block": "structmat.blocks",
    "hstack": "structmat.blocks",
    "vstack": "structmat.blocks",
    "aslinearoperator": "structmat.interop",
    "Monarch": "structmat.monarch",
    "Butterfly": "structmat.butterfly",
    "DFT": "structmat.fourier",
    "IDFT": "structmat.fourier",
    "DCT": "structmat.fourier",
    "DST": "structmat.fourier",
    "Hadamard": "structmat.fourier",
    "Circulant": "structmat.fourier",
    "Toeplitz": "structmat.fourier",
    "Convolution": "structmat.fourier",
    "LowRank": "structmat.lowrank",
    "project": "structmat.projection",
    "compare": "structmat.projection",
    "load": "structmat.io",
    "save": "structmat.io",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module 'structmat' has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
    "Adjoint",
    "Dense",
    "Diagonal",
    "Identity",
    "LinearOperator",
    "Permutation",
    "Power",
    "Product",
    "ProjectionResult",
    "Scaled",
    "Sum",
    "Transpose",
    "Zero",
    *_LAZY,
]

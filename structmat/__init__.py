"""structmat: structured matrices (Monarch, butterfly, Fourier, low rank) as linear operators.

Public names only. The operator core is imported eagerly; the families,
projections and I/O resolve on first use (PEP 562), so ``import structmat``
stays fast and SciPy's sparse/optimize modules load only when needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from structmat._result import ProjectionResult
from structmat.basic import Dense, Diagonal, Identity, Permutation, Zero

# Eager, and after nothing that imports it: importing the submodule
# ``structmat.compare`` binds that name on the package, and this line rebinds it
# to the function for good (a lazy name would stay shadowed by the module).
# The module is light; it imports the projections on first call.
from structmat.compare import compare
from structmat.linop import Adjoint, LinearOperator, Power, Product, Scaled, Sum, Transpose

if TYPE_CHECKING:  # the lazy names below, spelled out for type checkers and IDEs
    from structmat import constructions, symbolic, testing
    from structmat.blocks import BlockDiagonal, Kronecker, block, hstack, vstack
    from structmat.butterfly import Butterfly
    from structmat.fourier import (
        DFT,
        IDFT,
        Circulant,
        Convolution,
        Convolution2D,
        Correlation,
        Correlation2D,
        Hadamard,
        Toeplitz,
    )
    from structmat.interop import aslinearoperator
    from structmat.io import load, save
    from structmat.lowrank import LowRank
    from structmat.monarch import Monarch, monarch_class
    from structmat.projection import project
    from structmat.trig import DCT, DST

__version__ = "0.1.0"

# name -> module that defines it, imported on first use
_LAZY = {
    "BlockDiagonal": "structmat.blocks",
    "Kronecker": "structmat.blocks",
    "block": "structmat.blocks",
    "hstack": "structmat.blocks",
    "vstack": "structmat.blocks",
    "aslinearoperator": "structmat.interop",
    "Monarch": "structmat.monarch",
    "monarch_class": "structmat.monarch",
    "Butterfly": "structmat.butterfly",
    "DFT": "structmat.fourier",
    "IDFT": "structmat.fourier",
    "DCT": "structmat.trig",
    "DST": "structmat.trig",
    "Hadamard": "structmat.fourier",
    "Circulant": "structmat.convolution",
    "Toeplitz": "structmat.convolution",
    "Convolution": "structmat.convolution",
    "Correlation": "structmat.convolution",
    "Convolution2D": "structmat.convolution2d",
    "Correlation2D": "structmat.convolution2d",
    "LowRank": "structmat.lowrank",
    "project": "structmat.projection",
    "load": "structmat.io",
    "save": "structmat.io",
}
# submodules reachable as attributes: ``sm.constructions.dft_as_monarch(8)``
_SUBMODULES = ("constructions", "symbolic", "testing")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"structmat.{name}")
    msg = f"module 'structmat' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "DCT",
    "DFT",
    "DST",
    "IDFT",
    "Adjoint",
    "BlockDiagonal",
    "Butterfly",
    "Circulant",
    "Convolution",
    "Convolution2D",
    "Correlation",
    "Correlation2D",
    "Dense",
    "Diagonal",
    "Hadamard",
    "Identity",
    "Kronecker",
    "LinearOperator",
    "LowRank",
    "Monarch",
    "Permutation",
    "Power",
    "Product",
    "ProjectionResult",
    "Scaled",
    "Sum",
    "Toeplitz",
    "Transpose",
    "Zero",
    "aslinearoperator",
    "block",
    "compare",
    "constructions",
    "hstack",
    "load",
    "monarch_class",
    "project",
    "save",
    "symbolic",
    "testing",
    "vstack",
]

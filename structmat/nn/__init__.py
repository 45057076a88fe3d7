"""PyTorch layers over structmat operators, official Monarch checkpoints, model conversion.

Optional: needs torch (``pip install 'structmat[torch]'``); ``import structmat``
never imports this package.
"""

from structmat.nn._convert import StructureReport, structure
from structmat.nn._layers import ButterflyLinear, KSLinear, LowRankLinear, butterfly_size
from structmat.nn._monarch import MonarchLinear

__all__ = [
    "ButterflyLinear",
    "KSLinear",
    "LowRankLinear",
    "MonarchLinear",
    "StructureReport",
    "butterfly_size",
    "structure",
]

"""Helpers of the block structures (private): operands, backends, dtypes, offsets.

Shared by :mod:`structmat.blocks` and :mod:`structmat._grid`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from structmat import _array_api as aa
from structmat.basic import Dense
from structmat.linop import LinearOperator


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


def _cast(xp: Any, a: Any, dtype: Any) -> Any:
    return a if a.dtype == dtype else xp.astype(a, dtype)


def _offsets(sizes: Sequence[int]) -> list[int]:
    out = [0]
    for s in sizes:
        out.append(out[-1] + s)
    return out

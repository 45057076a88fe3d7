"""Tolerances and comparisons, defined once for every test and check.

Comparisons are norm-wise: ``||actual - desired||_F <= rtol * ||desired||_F``
(plus ``rtol`` times a floor of the dtype's tiny so that zero matches zero).
``rtol`` scales with the unit roundoff of the dtype and the square root of the
size of the computation: rounding errors of a length-``n`` inner product grow
like ``sqrt(n) * eps`` for random data, and the constant 64 leaves room for
the few roundings of a structured multiply chain.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from structmat import _array_api as aa

__all__ = ["assert_close", "to_numpy", "tolerance"]

_SAFETY = 64.0


def tolerance(dtype: Any, size: int = 1) -> float:
    """Relative tolerance for results of ``dtype`` from size-``size`` work.

    Examples
    --------
    >>> import numpy as np
    >>> tolerance(np.float64, 1024) < 1e-12 < tolerance(np.float32, 1)
    True
    """
    name = aa.dtype_name(dtype)
    unit = {"float32": 2.0**-23, "complex64": 2.0**-23, "float64": 2.0**-52, "complex128": 2.0**-52}
    if name not in unit:
        msg = f"tolerance is defined for float32/64 and complex64/128, got {name}"
        raise TypeError(msg)
    return _SAFETY * unit[name] * math.sqrt(max(int(size), 1))


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy copy of an array of any backend (host transfer for GPU arrays)."""
    if isinstance(x, np.ndarray | np.generic):
        return np.asarray(x)
    if hasattr(x, "get"):  # CuPy: explicit device-to-host copy
        return np.asarray(x.get())
    if hasattr(x, "detach"):  # torch: leave autograd, move to host
        x = x.detach().cpu()
    try:
        return np.from_dlpack(x)
    except Exception:  # not every library exports DLPack; go through the buffer
        return np.asarray(x)


def assert_close(
    actual: Any, desired: Any, *, rtol: float | None = None, size: int = 1, what: str = "result"
) -> None:
    """Assert ``actual`` matches ``desired`` in shape and relative Frobenius norm.

    ``rtol`` defaults to :func:`tolerance` of the coarser dtype of the two.

    Examples
    --------
    >>> import numpy as np
    >>> assert_close(np.ones(3), np.ones(3) + 1e-17)
    >>> assert_close(np.ones(3), 2 * np.ones(3))
    Traceback (most recent call last):
    ...
    AssertionError: result differs: relative error 0.5 > ...
    """
    a, d = to_numpy(actual), to_numpy(desired)
    if a.shape != d.shape:
        msg = f"{what} has shape {a.shape}, expected {d.shape}"
        raise AssertionError(msg)
    if not np.issubdtype(d.dtype, np.inexact):
        d = d.astype(np.float64)
    if not np.issubdtype(a.dtype, np.inexact):
        a = a.astype(np.float64)
    if rtol is None:
        coarse = a.dtype if np.finfo(a.dtype).eps > np.finfo(d.dtype).eps else d.dtype
        rtol = tolerance(coarse, size)
    scale = float(np.linalg.norm(d.ravel()))
    err = float(np.linalg.norm((a.astype(np.complex128) - d).ravel()))
    if not err <= rtol * max(scale, np.finfo(d.dtype).tiny):
        rel = err / scale if scale else math.inf
        msg = f"{what} differs: relative error {rel:.3g} > {rtol:.3g} (absolute {err:.3g})"
        raise AssertionError(msg)

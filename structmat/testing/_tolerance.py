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

__all__ = ["EXACT_RTOL", "assert_close", "to_numpy", "tolerance"]

_SAFETY = 64.0

#: What an exact projection promises (DESIGN.md §4a): its ``error`` is the distance
#: to the class within this relative tolerance, and an exact member comes back to it.
EXACT_RTOL = 1e-10


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


def _as_array(x: Any) -> Any:
    """``x`` itself if it is an array of an array-API library, else ``numpy.asarray(x)``
    (Python numbers, lists and NumPy scalars count as NumPy)."""
    if isinstance(x, np.generic) or not hasattr(x, "dtype"):
        return np.asarray(x)
    return x


def assert_close(
    actual: Any,
    desired: Any,
    *,
    rtol: float | None = None,
    size: int = 1,
    what: str = "result",
    check_dtype: bool = True,
    check_namespace: bool = True,
) -> None:
    """Assert ``actual`` matches ``desired`` in namespace, dtype, shape and value.

    As SciPy's ``xp_assert_close``: ``actual`` must be an array of the same
    array namespace as ``desired`` and of the same dtype, so that a result
    that comes back in NumPy from a torch operator, or in float64 from a
    float32 one, fails. Python numbers, lists and NumPy scalars count as NumPy
    arrays (``numpy.asarray``). Values are compared norm-wise (module
    docstring): ``||actual - desired||_F <= rtol * ||desired||_F``.

    Parameters
    ----------
    actual, desired : array
        The result under test and the expected value (the oracle).
    rtol : float, optional
        Default: :func:`tolerance` of the coarser dtype of the two, for ``size``.
    size : int
        The size of the computation (e.g. the inner dimension of a product).
    what : str
        Names the result in the message.
    check_dtype : bool
        ``False`` compares values only across dtypes. Prefer an oracle of the
        expected dtype (``desired.astype(...)``): the check is part of the test.
    check_namespace : bool
        ``False`` compares arrays of different namespaces (e.g. a torch result
        against a NumPy oracle). Prefer the oracle in the result's namespace
        (``xp.asarray(desired)``).

    Raises
    ------
    AssertionError
        Naming both namespaces, both dtypes, both shapes or the relative error.

    Examples
    --------
    >>> import numpy as np
    >>> assert_close(np.ones(3), np.ones(3) + 1e-17)
    >>> assert_close(np.ones(3), 2 * np.ones(3))
    Traceback (most recent call last):
    ...
    AssertionError: result differs: relative error 0.5 > ...
    >>> assert_close(np.ones(3, dtype=np.float32), np.ones(3))
    Traceback (most recent call last):
    ...
    AssertionError: result has dtype float32, expected float64 (the desired's)
    >>> assert_close(np.ones(3, dtype=np.float32), np.ones(3), check_dtype=False)
    """
    actual, desired = _as_array(actual), _as_array(desired)
    if check_namespace:
        a_ns, d_ns = aa.namespace_of(actual), aa.namespace_of(desired)
        if a_ns is not d_ns:
            msg = (
                f"{what} is in namespace {aa.namespace_name(a_ns)}, expected "
                f"{aa.namespace_name(d_ns)} (the desired's)"
            )
            raise AssertionError(msg)
    if check_dtype:
        a_dt, d_dt = aa.dtype_name(actual.dtype), aa.dtype_name(desired.dtype)
        if a_dt != d_dt:
            msg = f"{what} has dtype {a_dt}, expected {d_dt} (the desired's)"
            raise AssertionError(msg)
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

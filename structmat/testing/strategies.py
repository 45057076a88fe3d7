"""Hypothesis strategies: dtypes, shapes, arrays, namespaces and the operator market.

Every strategy is bound to one array namespace ``xp`` (NumPy, ``array_api_strict``,
torch, CuPy, ... or a plain module such as ``numpy``), as Hypothesis'
``extra.array_api`` does. Sizes are small: law checks build a dense oracle.

The operator market is one catalogue of example operators that every law test
runs over. It merges the ``MARKET`` dicts of every ``structmat.testing.market_*``
module (name -> factory ``f(xp)`` returning a strategy of operators), so a new
operator family joins the laws by adding ``market_<family>.py``.

Examples
--------
>>> import numpy as np
>>> from hypothesis import given, settings
>>> from structmat.testing import check_linear_operator
>>> from structmat.testing.strategies import operators
>>> @settings(max_examples=5, database=None)
... @given(operators(np, families=["dense", "product"]))
... def test(op):
...     check_linear_operator(op)
>>> test()
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from structmat import _array_api as aa

__all__ = [
    "DTYPE_NAMES",
    "arrays",
    "dtypes",
    "market",
    "namespaces",
    "operators",
    "shapes",
]

DTYPE_NAMES = ("float32", "float64", "complex64", "complex128")

_ARRAY_KINDS = ("normal", "integers", "sparse")


def _namespace(xp: Any) -> Any:
    return aa.default_namespace(xp)


def dtypes(xp: Any = None, *, real: bool = True, complex: bool = True) -> st.SearchStrategy[Any]:
    """The operator dtypes of ``xp`` (float32, float64, complex64, complex128).

    Parameters
    ----------
    xp : array namespace or module, optional
        Default NumPy.
    real, complex : bool
        Which kinds to include (at least one).

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import find
    >>> find(dtypes(np, complex=False), lambda d: True) == np.float32
    True
    """
    names = [
        n
        for n in DTYPE_NAMES
        if (real and n.startswith("float")) or (complex and n.startswith("complex"))
    ]
    if not names:
        msg = f"dtypes() needs real=True or complex=True, got real={real!r}, complex={complex!r}"
        raise ValueError(msg)
    ns = _namespace(xp)
    return st.sampled_from([getattr(ns, n) for n in names])


def shapes(
    *, min_side: int = 1, max_side: int = 8, square: bool | None = None
) -> st.SearchStrategy[tuple[int, int]]:
    """Operator shapes ``(m, n)`` with ``min_side <= m, n <= max_side``.

    ``square=True`` gives ``m == n`` only, ``False`` only ``m != n``, ``None`` both.

    Examples
    --------
    >>> from hypothesis import find
    >>> find(shapes(max_side=4, square=True), lambda s: s[0] > 2)
    (3, 3)
    """
    if not 0 <= min_side <= max_side:
        msg = f"shapes() needs 0 <= min_side <= max_side, got min_side={min_side}, max_side={max_side}"
        raise ValueError(msg)
    side = st.integers(min_side, max_side)
    if square:
        return side.map(lambda s: (s, s))
    pairs = st.tuples(side, side)
    if square is False:
        if min_side == max_side:
            msg = f"shapes(square=False) needs min_side < max_side, got both {min_side}"
            raise ValueError(msg)
        pairs = pairs.filter(lambda mn: mn[0] != mn[1])
    return pairs


def _numpy_data(kind: str, seed: int, shape: tuple[int, ...], is_complex: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)

    def real() -> np.ndarray:
        if kind == "integers":
            return rng.integers(-3, 4, size=shape).astype(np.float64)
        a = rng.standard_normal(shape)
        if kind == "sparse":
            a = a * (rng.random(shape) < 0.3)
        return a

    a = real()
    return a + 1j * real() if is_complex else a


def arrays(
    xp: Any,
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]],
    dtype: Any,
    *,
    kinds: Sequence[str] = _ARRAY_KINDS,
) -> st.SearchStrategy[Any]:
    """Arrays of ``shape`` and ``dtype`` in namespace ``xp``.

    Values come from a drawn seed and a drawn kind: ``"normal"`` (Gaussian),
    ``"integers"`` (small integers, exact arithmetic) or ``"sparse"``
    (Gaussian with about 70% zeros). Complex dtypes get independent real and
    imaginary parts. Drawing a seed instead of every entry keeps large
    arrays cheap; shrinking goes to seed 0 of the first kind.

    Parameters
    ----------
    xp : array namespace or module
    shape : tuple of int, or a strategy of them
    dtype : dtype of ``xp`` or its name
    kinds : sequence of str
        A subset of ``("normal", "integers", "sparse")``.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import find
    >>> a = find(arrays(np, (2, 3), np.complex64), lambda a: True)
    >>> a.shape, a.dtype
    ((2, 3), dtype('complex64'))
    """
    ns = _namespace(xp)
    dt = aa.as_dtype(ns, dtype)
    bad = [k for k in kinds if k not in _ARRAY_KINDS]
    if bad or not kinds:
        msg = f"arrays() kinds must be a non-empty subset of {_ARRAY_KINDS}, got {tuple(kinds)!r}"
        raise ValueError(msg)
    shape_st = shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))

    @st.composite
    def build(draw: Any) -> Any:
        shp = draw(shape_st)
        kind = draw(st.sampled_from(tuple(kinds)))
        seed = draw(st.integers(0, 2**32 - 1))
        a = _numpy_data(kind, seed, tuple(shp), aa.is_complex(ns, dt))
        return ns.astype(aa.to_namespace(a, ns), dt)

    return build()


def namespaces() -> st.SearchStrategy[Any]:
    """The installed array namespaces: NumPy, ``array_api_strict`` and torch (when importable)."""
    found = [aa.default_namespace(None)]
    for name in ("array_api_strict", "torch"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        found.append(aa.default_namespace(mod) if name == "torch" else mod)
    return st.sampled_from(found)


@functools.cache
def market() -> dict[str, Callable[[Any], st.SearchStrategy[Any]]]:
    """Name -> factory ``f(xp)`` of every ``structmat.testing.market_*`` module, merged.

    Raises ``ValueError`` when two modules define the same name.

    Examples
    --------
    >>> {"dense", "product", "permutation"} <= set(market())
    True
    """
    import structmat.testing as pkg

    merged: dict[str, Callable[[Any], st.SearchStrategy[Any]]] = {}
    origin: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if not info.name.startswith("market_"):
            continue
        module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        entries = getattr(module, "MARKET", None)
        if not isinstance(entries, dict):
            msg = f"{module.__name__} must define a dict MARKET, got {type(entries).__name__}"
            raise TypeError(msg)
        for name, factory in entries.items():
            if name in merged:
                msg = (
                    f"operator market name {name!r} is defined twice: in "
                    f"{origin[name]} and {module.__name__}"
                )
                raise ValueError(msg)
            merged[name] = factory
            origin[name] = module.__name__
    return merged


def operators(xp: Any = None, families: Sequence[str] | None = None) -> st.SearchStrategy[Any]:
    """Operators of the market in namespace ``xp`` (default NumPy).

    Parameters
    ----------
    xp : array namespace or module, optional
    families : sequence of str, optional
        Market names to draw from (default: all of them, see :func:`market`).

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import find
    >>> op = find(operators(np, families=["diagonal"]), lambda op: op.shape[0] > 1)
    >>> type(op).__name__, op.shape
    ('Diagonal', (2, 2))
    """
    entries = market()
    names = sorted(entries) if families is None else list(families)
    unknown = [n for n in names if n not in entries]
    if unknown or not names:
        msg = f"unknown operator families {unknown!r}; valid names: {sorted(entries)}"
        raise ValueError(msg)
    ns = _namespace(xp)
    return st.one_of([entries[n](ns) for n in names])

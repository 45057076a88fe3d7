"""The class table of operator files: how each savable class is written and rebuilt.

Each entry maps a class name to ``encode(op) -> (params, arrays, children)`` and
``decode(node) -> op``. A decoder reads its fields only through the checked
accessors of the node (``_tree._Node``), so a tampered file gives
:class:`~structmat.io.FileFormatError` naming the field, never a ``KeyError``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from structmat import _array_api as aa
from structmat.linop import LinearOperator

if TYPE_CHECKING:
    from structmat.io._tree import _Node

#: The largest ``Power`` exponent a file may hold: a file's exponent is checked here
#: (an integer, 0 <= k <= 2**20), so a tampered ``10**12`` is a FileFormatError
#: before any operator is built.
MAX_FILE_EXPONENT = 2**20


def _scalar_to_json(c: complex | float) -> Any:
    if isinstance(c, complex):
        return [c.real, c.imag]
    return float(c)


# name -> (encode(op) -> (params, arrays, children), decode(node) -> op). A decoder reads
# its fields only through the checked accessors of ``_Node`` (``_tree.py``): a tampered file
# gives FileFormatError naming the field, never a KeyError or TypeError from here.
Encoder = Callable[[Any], tuple[dict[str, Any], dict[str, Any], list[LinearOperator]]]
Decoder = Callable[["_Node"], LinearOperator]
REGISTRY: dict[str, tuple[Encoder, Decoder]] = {}


def _register(name: str, encode: Encoder, decode: Decoder) -> None:
    REGISTRY[name] = (encode, decode)


def _cls(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def _dtype_param(op: Any) -> dict[str, Any]:
    if op.weak_dtype:  # kept weak across save and load; files without the key are strong
        return {"dtype": aa.dtype_name(op.dtype), "weak": True}
    return {"dtype": aa.dtype_name(op.dtype)}


def _weak(n: _Node) -> bool:
    return bool(n.params.get("weak", "true or false", lambda v: isinstance(v, bool), False))


def _formula_dtype(n: _Node) -> Any:
    """``dtype=`` of a formula operator: ``None`` (weak) when the file says so."""
    dtype = n.params.dtype("dtype", optional=True)
    return None if _weak(n) else dtype


# basic operators
_register(
    "Dense",
    lambda op: ({}, {"A": op.A}, []),
    lambda n: _cls("structmat.basic", "Dense")(n.array("A", ndim=2)),
)
_register(
    "Diagonal",
    lambda op: ({}, {"d": op.d}, []),
    lambda n: _cls("structmat.basic", "Diagonal")(n.array("d", ndim=1)),
)
_register(
    "Permutation",
    lambda op: (_dtype_param(op), {"idx": op.idx}, []),
    lambda n: _cls("structmat.basic", "Permutation")(
        n.array("idx", ndim=1), dtype=n.params.dtype("dtype", optional=True)
    ),
)
_register(
    "Identity",
    lambda op: ({"n": op.shape[0], **_dtype_param(op)}, {}, []),
    lambda n: _cls("structmat.basic", "Identity")(
        n.params.integer("n", low=0), dtype=n.params.dtype("dtype", optional=True), weak=_weak(n)
    ),
)
_register(
    "Zero",
    lambda op: ({"shape": list(op.shape), **_dtype_param(op)}, {}, []),
    lambda n: _cls("structmat.basic", "Zero")(
        n.params.pair("shape", low=0), dtype=n.params.dtype("dtype", optional=True), weak=_weak(n)
    ),
)

# the algebra (children rebuilt with the plain constructors: the structure is kept as saved)
_register(
    "Sum",
    lambda op: ({}, {}, list(op.terms)),
    lambda n: _cls("structmat.linop", "Sum")(*n.children(low=1)),
)
_register(
    "Product",
    lambda op: ({}, {}, list(op.factors)),
    lambda n: _cls("structmat.linop", "Product")(*n.children(low=1)),
)
_register(
    "Scaled",
    lambda op: ({"scalar": _scalar_to_json(op.scalar)}, {}, [op.operator]),
    lambda n: _cls("structmat.linop", "Scaled")(n.params.scalar("scalar"), n.child()),
)
_register(
    "Adjoint",
    lambda op: ({"structural": type(op).__name__ != "Adjoint"}, {}, [op.operator]),
    lambda n: (
        n.child().H
        if n.params.boolean("structural")
        else _cls("structmat.linop", "Adjoint")(n.child())
    ),
)
_register(
    "Transpose",
    lambda op: ({"structural": type(op).__name__ != "Transpose"}, {}, [op.operator]),
    lambda n: (
        n.child().T
        if n.params.boolean("structural")
        else _cls("structmat.linop", "Transpose")(n.child())
    ),
)
_register(
    "Conjugate",
    lambda op: ({}, {}, [op.operator]),
    lambda n: n.child().conj(),
)
_register(
    "Power",
    lambda op: ({"exponent": op.exponent}, {}, [op.operator]),
    lambda n: _cls("structmat.linop", "Power")(
        n.child(), n.params.integer("exponent", low=0, high=MAX_FILE_EXPONENT)
    ),
)

# structured families
_register(
    "Monarch",
    lambda op: ({"shape": list(op.shape)}, {"L": op.L, "R": op.R}, []),
    lambda n: _cls("structmat.monarch", "Monarch")(
        n.array("L", ndim=3), n.array("R", ndim=3), shape=n.params.pair("shape", low=1)
    ),
)
# A butterfly: radix 2 as one (L, n/2, 2, 2) array ``tw``; mixed radix as one
# (n/b, b, b) array ``tw{l}`` per level, with the radices stored to check them against.
# A file may hold at most 64 levels (a radix is >= 2 and n = prod(radices)).
_MAX_LEVELS = 64


def _encode_butterfly(op: Any) -> tuple[dict[str, Any], dict[str, Any], list[LinearOperator]]:
    params: dict[str, Any] = {"increasing_stride": bool(op.increasing_stride)}
    if not op.mixed:
        return params, {"tw": op.tw}, []
    params["radices"] = list(op.radices)
    return params, {f"tw{ell}": t for ell, t in enumerate(op.tw)}, []


def _decode_butterfly(n: _Node) -> LinearOperator:
    cls = _cls("structmat.butterfly", "Butterfly")
    increasing = n.params.boolean("increasing_stride")
    if "radices" not in n.params.obj:
        return cls(n.array("tw", ndim=4), increasing_stride=increasing)
    radices = n.params.integers("radices", low=2, most=_MAX_LEVELS)
    levels = []
    for ell, b in enumerate(radices):
        t = n.array(f"tw{ell}", ndim=3)
        if t.shape[1:] != (b, b):
            msg = f"array 'tw{ell}' must have shape (n/{b}, {b}, {b}) for radix {b}, got {t.shape}"
            raise n.error(msg)
        levels.append(t)
    return cls(levels, increasing_stride=increasing)


_register("Butterfly", _encode_butterfly, _decode_butterfly)


def _encode_lowrank(op: Any) -> tuple[dict[str, Any], dict[str, Any], list[LinearOperator]]:
    arrays = {"U": op.U, "V": op.V}
    if getattr(op, "s", None) is not None:
        arrays["s"] = op.s
    return {}, arrays, []


_register(
    "LowRank",
    _encode_lowrank,
    lambda n: _cls("structmat.lowrank", "LowRank")(
        n.array("U", ndim=2), n.array("V", ndim=2), n.array("s", ndim=1, optional=True)
    ),
)


def _encode_blockdiag(op: Any) -> tuple[dict[str, Any], dict[str, Any], list[LinearOperator]]:
    if op.stack is not None:
        return {"stacked": True}, {"stack": op.stack}, []
    return {"stacked": False}, {}, list(op.blocks)


def _decode_blockdiag(n: _Node) -> LinearOperator:
    cls = _cls("structmat.blocks", "BlockDiagonal")
    if n.params.boolean("stacked"):
        return cls(n.array("stack", ndim=3))
    return cls(n.children(low=1))


def _encode_blockmatrix(op: Any) -> tuple[dict[str, Any], dict[str, Any], list[LinearOperator]]:
    rows, cols = len(op.blocks), len(op.blocks[0])
    return {"grid": [rows, cols]}, {}, [b for row in op.blocks for b in row]


def _decode_blockmatrix(n: _Node) -> LinearOperator:
    rows, cols = n.params.pair("grid", low=1)
    c = n.children(exactly=rows * cols, why=f"grid {rows}x{cols}")
    grid = [list(c[i * cols : (i + 1) * cols]) for i in range(rows)]
    return _cls("structmat.blocks", "BlockMatrix")(grid)


_register("BlockDiagonal", _encode_blockdiag, _decode_blockdiag)
_register("BlockMatrix", _encode_blockmatrix, _decode_blockmatrix)
_register(
    "Kronecker",
    lambda op: ({}, {}, list(op.factors)),
    lambda n: _cls("structmat.blocks", "Kronecker")(*n.children(low=1)),
)


# Fourier family: a few integers and a normalization, or one defining vector
def _fourier_decoder(name: str) -> Decoder:
    def decode(n: _Node) -> LinearOperator:
        return _cls("structmat.fourier", name)(
            n.params.integer("n", low=0),
            norm=n.params.string("norm"),
            dtype=_formula_dtype(n),
        )

    return decode


def _trig_decoder(name: str) -> Decoder:
    def decode(n: _Node) -> LinearOperator:
        norm = n.params.string("norm")
        # files written before orthogonalize was stored hold SciPy's default
        orth = n.params.get(
            "orthogonalize", "true or false", lambda v: isinstance(v, bool), norm == "ortho"
        )
        return _cls("structmat.trig", name)(
            n.params.integer("n", low=0),
            n.params.integer("type", low=1),
            norm,
            orthogonalize=orth,
            dtype=_formula_dtype(n),
        )

    return decode


for _name in ("DFT", "IDFT", "Hadamard"):
    _register(
        _name,
        lambda op: ({"n": op.shape[0], "norm": op.norm, **_dtype_param(op)}, {}, []),
        _fourier_decoder(_name),
    )
for _name in ("DCT", "DST"):
    _register(
        _name,
        lambda op: (
            {
                "n": op.shape[0],
                "type": op.type,
                "norm": op.norm,
                "orthogonalize": op.orthogonalize,
                **_dtype_param(op),
            },
            {},
            [],
        ),
        _trig_decoder(_name),
    )
_register(
    "Circulant",
    lambda op: ({}, {"c": op.c}, []),
    lambda n: _cls("structmat.convolution", "Circulant")(n.array("c", ndim=1)),
)
_register(
    "Toeplitz",
    lambda op: ({}, {"c": op.c, "r": op.r}, []),
    lambda n: _cls("structmat.convolution", "Toeplitz")(n.array("c", ndim=1), n.array("r", ndim=1)),
)
_register(
    "Convolution",
    lambda op: ({"n": op.shape[1], "mode": op.mode}, {"h": op.h}, []),
    lambda n: _cls("structmat.convolution", "Convolution")(
        n.array("h", ndim=1), n.params.integer("n", low=0), mode=n.params.string("mode")
    ),
)

#: Names of the operator classes :func:`save` knows how to write.
SAVABLE: tuple[str, ...] = tuple(sorted(REGISTRY))

"""What ``structmat verify`` checks: every construction against an independent reference.

Each :class:`Case` builds one construction of :mod:`structmat.constructions`
and computes its reference matrix here, from ``numpy.fft``, ``scipy.fft``,
``scipy.linalg``, ``numpy.convolve`` or a dense butterfly written from the
element formula of DESIGN.md §5 - never from the construction's own code.
:func:`run_case` compares both the operator's multiply (``op @ I``) and its
``to_dense()`` with the reference and reports the larger relative error.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.fft
import scipy.linalg

from structmat.linop import LinearOperator

__all__ = [
    "TOLERANCE",
    "Case",
    "CaseResult",
    "ProofResult",
    "cases",
    "dense_butterfly",
    "leaf_classes",
    "run_case",
    "run_proofs",
]

#: Relative Frobenius error a float64 construction must stay below.
TOLERANCE = 1e-11

# The classes a construction may be built from (DESIGN.md §9), and the composites joining them.
STRUCTURED = {"Monarch", "Butterfly", "Permutation", "Diagonal", "Identity", "Kronecker"}


@dataclass(frozen=True)
class Case:
    """One construction at one size, with its independent reference."""

    label: str
    function: str
    n: int
    build: Callable[[], LinearOperator]
    reference: Callable[[], np.ndarray]


@dataclass
class CaseResult:
    case: Case
    structure: str = ""
    monarch_class: str = ""  # "MM*" etc. for products of Monarchs and adjoints
    error: float = math.nan
    seconds: float = 0.0
    failure: str = ""

    @property
    def ok(self) -> bool:
        return not self.failure and self.error <= TOLERANCE


@dataclass
class ProofResult:
    name: str
    n: str
    exact: bool
    detail: str = ""
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------- references
def _eye(n: int) -> np.ndarray:
    return np.eye(n)


def dense_butterfly(tw: np.ndarray, increasing_stride: bool = True) -> np.ndarray:
    """Dense butterfly from twiddles of shape ``(L, n/2, 2, 2)`` (DESIGN.md §5, written here).

    Level ``l`` (stride ``s = 2**l``) maps the pair ``(x[2gs+o], x[2gs+s+o])``
    by ``tw[l, g*s+o]``; increasing stride applies ``l = 0`` first.
    """
    L, half = tw.shape[0], tw.shape[1]
    n = 2 * half
    out = np.eye(n, dtype=np.result_type(tw.dtype, np.float64))
    levels = range(L) if increasing_stride else range(L - 1, -1, -1)
    for lev in levels:
        s = 2**lev
        g = n // (2 * s)
        # rows 2gs + j*s + o, j in {0, 1}: the pair (x[2gs+o], x[2gs+s+o]) times tw[lev, g*s+o]
        T = tw[lev].reshape(g, s, 2, 2)
        X = out.reshape(g, 2, s, n)
        out = np.einsum("gojk,gkoc->gjoc", T, X).reshape(n, n)
    return out


def _convolution_matrix(h: np.ndarray, n: int, mode: str) -> np.ndarray:
    cols = [np.convolve(h, e, mode=mode) for e in np.eye(n)]  # type: ignore[call-overload]
    return np.stack(cols, axis=1)


def _random_twiddles(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    L = int(math.log2(n))
    return rng.standard_normal((L, n // 2, 2, 2)) / math.sqrt(2.0)


# ---------------------------------------------------------------------- the cases
def _constructions() -> Any:
    return importlib.import_module("structmat.constructions")


def _is_pow2(n: int) -> bool:
    return n >= 2 and n & (n - 1) == 0


def _is_composite(n: int) -> bool:
    return n >= 4 and any(n % d == 0 for d in range(2, math.isqrt(n) + 1))


def _vec(m: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(m)


_KERNEL = np.array([1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0])


def _random_butterfly(n: int) -> LinearOperator:
    from structmat.butterfly import Butterfly

    return Butterfly(_random_twiddles(n, n))


# (label, construction, which n it takes, its arguments for n, the reference for n)
_SPECS: list[
    tuple[str, str, Callable[[int], bool], Callable[[int], tuple], Callable[[int], np.ndarray]]
] = [
    ("DFT", "dft_as_monarch", _is_composite, lambda n: (n,), lambda n: np.fft.fft(_eye(n), axis=0)),
    (
        "IDFT",
        "idft_as_monarch",
        _is_composite,
        lambda n: (n,),
        lambda n: np.fft.ifft(_eye(n), axis=0),
    ),
    (
        "Hadamard",
        "hadamard_as_monarch",
        _is_pow2,
        lambda n: (n,),
        lambda n: scipy.linalg.hadamard(n).astype(np.float64),
    ),
    ("DFT", "dft_as_butterfly", _is_pow2, lambda n: (n,), lambda n: np.fft.fft(_eye(n), axis=0)),
    ("IDFT", "idft_as_butterfly", _is_pow2, lambda n: (n,), lambda n: np.fft.ifft(_eye(n), axis=0)),
    (
        "Hadamard",
        "hadamard_as_butterfly",
        _is_pow2,
        lambda n: (n,),
        lambda n: scipy.linalg.hadamard(n).astype(np.float64),
    ),
    (
        "DCT-II",
        "dct_as_butterfly",
        _is_pow2,
        lambda n: (n,),
        lambda n: scipy.fft.dct(_eye(n), type=2, axis=0),
    ),
    (
        "circulant",
        "circulant_as_monarch",
        lambda n: n >= 2,
        lambda n: (_vec(n, n),),
        lambda n: scipy.linalg.circulant(_vec(n, n)),
    ),
    (
        "Toeplitz",
        "toeplitz_as_monarch",
        lambda n: n >= 2,
        lambda n: (_vec(n, n + 1), _vec(n, n + 2)),
        lambda n: scipy.linalg.toeplitz(_vec(n, n + 1), _vec(n, n + 2)),
    ),
    (
        "convolution",
        "convolution_as_monarch",
        lambda n: n >= 2,
        lambda n: (_KERNEL, n),
        lambda n: _convolution_matrix(_KERNEL, n, "full"),
    ),
    (
        "butterfly",
        "butterfly_to_monarch",
        _is_pow2,
        lambda n: (),
        lambda n: dense_butterfly(_random_twiddles(n, n)),
    ),
]


def _case(
    label: str,
    function: str,
    n: int,
    args: Callable[[int], tuple],
    ref: Callable[[int], np.ndarray],
) -> Case:
    def build() -> LinearOperator:
        if function == "butterfly_to_monarch":
            return _constructions().butterfly_to_monarch(_random_butterfly(n))
        return getattr(_constructions(), function)(*args(n))

    return Case(label, function, n, build, lambda: ref(n))


#: Default sizes per construction function.
DEFAULT_SIZES: dict[str, tuple[int, ...]] = {
    "dft_as_monarch": (256, 1000),
    "idft_as_monarch": (256, 1000),
    "hadamard_as_monarch": (256,),
    "dft_as_butterfly": (256, 1024),
    "idft_as_butterfly": (256,),
    "hadamard_as_butterfly": (256,),
    "dct_as_butterfly": (256,),
    "circulant_as_monarch": (256, 300),
    "toeplitz_as_monarch": (200,),
    "convolution_as_monarch": (256,),
    "butterfly_to_monarch": (256, 1024),
}


def cases(sizes: Sequence[int] | None = None) -> list[Case]:
    """Every construction at the default sizes, or at each of ``sizes`` where it applies."""
    out: list[Case] = []
    for label, function, valid, args, ref in _SPECS:
        ns = DEFAULT_SIZES[function] if sizes is None else tuple(sizes)
        out.extend(_case(label, function, n, args, ref) for n in ns if valid(n))
    return out


# ---------------------------------------------------------------------- running
def leaf_classes(op: LinearOperator) -> list[str]:
    """The non-composite classes an operator is built from, in order of first appearance.

    Adjoints are marked ``^H`` and transposes ``^T`` (``Monarch Monarch^H`` is the class MM*).
    """
    from structmat.linop import Adjoint, Power, Product, Scaled, Sum, Transpose, _Conjugate

    seen: list[str] = []

    def walk(o: Any, mark: str) -> None:
        if isinstance(o, Product):
            for f in o.factors:
                walk(f, mark)
        elif isinstance(o, Sum):
            for t in o.terms:
                walk(t, mark)
        elif isinstance(o, Adjoint):
            walk(o.operator, "" if mark == "^H" else "^H")
        elif isinstance(o, Transpose):
            walk(o.operator, "" if mark == "^T" else "^T")
        elif isinstance(o, Scaled | Power | _Conjugate):
            walk(o.operator, mark)
        else:
            name = type(o).__name__ + mark
            if name not in seen:
                seen.append(name)

    walk(op, "")
    return seen


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy copy of an array of any backend (DLPack where possible, host copy for CuPy)."""
    if isinstance(x, np.ndarray | np.generic):
        return np.asarray(x)
    if hasattr(x, "get"):  # CuPy
        return np.asarray(x.get())
    if hasattr(x, "detach"):  # torch: leave the autograd graph, come to the host
        x = x.detach().cpu()
    try:
        return np.from_dlpack(x)
    except (TypeError, RuntimeError, BufferError, ValueError):
        return np.asarray(x)


def _relative(a: np.ndarray, ref: np.ndarray) -> float:
    if a.shape != ref.shape:
        msg = f"shape {a.shape}, the reference has shape {ref.shape}"
        raise ValueError(msg)
    scale = float(np.linalg.norm(ref))
    err = float(np.linalg.norm(a - ref))
    return err / scale if scale else err


def run_case(case: Case, xp: Any = None) -> CaseResult:
    """Build ``case``, move it to ``xp``, compare ``op @ I`` and ``to_dense()`` with the reference."""
    res = CaseResult(case)
    t0 = time.perf_counter()
    try:
        op = case.build()
        leaves = leaf_classes(op)
        res.structure = " ".join(leaves)
        from structmat.monarch import monarch_class

        res.monarch_class = monarch_class(op) or ""
        unstructured = [name for name in leaves if name.split("^")[0] not in STRUCTURED]
        ref = case.reference()
        if xp is not None:
            op = op.to(xp=xp)
        n = op.shape[1]
        eye = op.xp.eye(n, dtype=op.dtype, device=op.device)
        by_multiply = to_numpy(op @ eye)
        by_dense = to_numpy(op.to_dense())
        res.error = max(_relative(by_multiply, ref), _relative(by_dense, ref))
        if unstructured:
            res.failure = f"built from {', '.join(unstructured)}, not only structured classes"
        elif not res.error <= TOLERANCE:
            res.failure = f"relative error {res.error:.3g} > {TOLERANCE:.0e}"
    except Exception as exc:  # a broken construction is reported, not raised
        res.failure = f"{type(exc).__name__}: {exc}".splitlines()[0]
    res.seconds = time.perf_counter() - t0
    return res


def run_proofs(sizes: Sequence[int] | None = None) -> list[ProofResult]:
    """The SymPy checks of :mod:`structmat.symbolic`: exact entries at small n and all-n proofs."""
    sym = importlib.import_module("structmat.symbolic")
    out: list[ProofResult] = []
    for name in ("prove_dft_monarch_exponents", "prove_dft_butterfly_exponents"):
        fn = getattr(sym, name, None)
        if fn is None:
            continue
        t0 = time.perf_counter()
        try:
            r = fn()
            exact = bool(getattr(r, "exact", getattr(r, "proved", r)))
            detail = str(getattr(r, "detail", getattr(r, "statement", "")))
        except Exception as exc:
            exact, detail = False, f"{type(exc).__name__}: {exc}".splitlines()[0]
        out.append(ProofResult(name, "all", exact, detail, time.perf_counter() - t0))
    verify_all = getattr(sym, "verify_all", None)
    if verify_all is not None:
        results = verify_all() if sizes is None else verify_all(sizes=tuple(sizes))
        items = results.items() if isinstance(results, dict) else enumerate(results)
        for _, r in items:
            out.append(
                ProofResult(
                    str(getattr(r, "name", "?")),
                    str(getattr(r, "n", "?")),
                    bool(getattr(r, "exact", False)),
                    str(getattr(r, "detail", "")),
                    float(getattr(r, "seconds", 0.0)),
                )
            )
    return out

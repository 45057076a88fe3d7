"""What ``structmat verify`` checks: every construction against an independent reference.

Each :class:`Case` builds one construction of :mod:`structmat.constructions`
and carries its reference as a function applying the matrix to a block of
columns, computed here from ``numpy.fft``, ``scipy.fft``, ``scipy.linalg``,
``numpy.convolve``, Sylvester's Hadamard recursion or a butterfly written
from the element formula of docs/conventions.md - never from the construction's own
code. :func:`run_case` compares the operator with its reference:

- densely for ``n <= DENSE_MAX_N``: ``op @ I`` and ``op.to_dense()`` against
  the reference applied to ``I``;
- matrix-free above: ``op @ X`` against the reference applied to the same
  ``PROBES`` random columns ``X``, so memory and time grow with the
  construction, never with ``n**2`` (``n = 100000`` needs no ``n x n`` array).

A construction that does not exist for an ``n`` (a Hadamard matrix needs a
power of 2) is a :class:`Case` with a ``reason`` and is listed, not run.
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
    "DENSE_MAX_N",
    "PROBES",
    "TOLERANCE",
    "Case",
    "CaseResult",
    "ProofResult",
    "apply_butterfly",
    "apply_hadamard",
    "cases",
    "dense_butterfly",
    "leaf_classes",
    "run_case",
    "run_proofs",
]

#: Relative Frobenius error a float64 construction must stay below.
TOLERANCE = 1e-11

#: Largest n checked with dense matrices (an n x n complex128 array is 16 MiB at 1024).
DENSE_MAX_N = 1024

#: Random columns a matrix-free check applies both sides to.
PROBES = 4

# The classes a construction may be built from (DESIGN.md §9), and the composites joining them.
STRUCTURED = {"Monarch", "Butterfly", "Permutation", "Diagonal", "Identity", "Kronecker"}


@dataclass(frozen=True)
class Case:
    """One construction at one size, with its independent reference.

    ``reference(X)`` is the reference matrix times ``X`` (shape ``(n, k)``);
    ``reason`` says why the construction does not exist at this ``n`` (then
    ``build`` and ``reference`` are not called).
    """

    label: str
    function: str
    n: int
    build: Callable[[], LinearOperator]
    reference: Callable[[np.ndarray], np.ndarray]
    reason: str = ""


@dataclass
class CaseResult:
    case: Case
    structure: str = ""
    monarch_class: str = ""  # "MM*" etc. for products of Monarchs and adjoints
    check: str = ""  # "dense" or "4 probes"
    error: float = math.nan
    seconds: float = 0.0
    failure: str = ""

    @property
    def applies(self) -> bool:
        return not self.case.reason

    @property
    def ok(self) -> bool:
        return not self.applies or (not self.failure and self.error <= TOLERANCE)


@dataclass
class ProofResult:
    name: str
    n: str
    exact: bool
    detail: str = ""
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------- references
def apply_butterfly(tw: np.ndarray, X: np.ndarray, increasing_stride: bool = True) -> np.ndarray:
    """A butterfly from twiddles of shape ``(L, n/2, 2, 2)`` times ``X`` (element formula).

    Level ``l`` (stride ``s = 2**l``) maps the pair ``(x[2gs+o], x[2gs+s+o])``
    by ``tw[l, g*s+o]``; increasing stride applies ``l = 0`` first.
    """
    L, half = tw.shape[0], tw.shape[1]
    n, k = 2 * half, X.shape[1]
    out = X.astype(np.result_type(tw.dtype, X.dtype, np.float64))
    levels = range(L) if increasing_stride else range(L - 1, -1, -1)
    for lev in levels:
        s = 2**lev
        g = n // (2 * s)
        # rows 2gs + j*s + o, j in {0, 1}: the pair (x[2gs+o], x[2gs+s+o]) times tw[lev, g*s+o]
        T = tw[lev].reshape(g, s, 2, 2)
        out = np.einsum("gojk,gkoc->gjoc", T, out.reshape(g, 2, s, k)).reshape(n, k)
    return out


def dense_butterfly(tw: np.ndarray, increasing_stride: bool = True) -> np.ndarray:
    """The dense matrix of :func:`apply_butterfly`: the butterfly times the identity."""
    return apply_butterfly(tw, np.eye(2 * tw.shape[1]), increasing_stride)


def apply_hadamard(X: np.ndarray) -> np.ndarray:
    """Sylvester's Hadamard matrix ``H_n = H_2 ⊗ ... ⊗ H_2`` times ``X``, without forming it.

    ``H_2 = [[1, 1], [1, -1]]`` acts on each binary digit of the row index
    (``scipy.linalg.hadamard`` is the same matrix, built densely).
    """
    n, k = X.shape
    L = n.bit_length() - 1
    Y = np.asarray(X, dtype=np.result_type(X.dtype, np.float64)).reshape((2,) * L + (k,))
    for axis in range(L):
        a, b = np.take(Y, 0, axis=axis), np.take(Y, 1, axis=axis)
        Y = np.stack([a + b, a - b], axis=axis)
    return Y.reshape(n, k)


def _hadamard(X: np.ndarray) -> np.ndarray:
    n = X.shape[0]
    if n <= DENSE_MAX_N:  # the library's own matrix where it is cheap
        return scipy.linalg.hadamard(n).astype(np.float64) @ X
    return apply_hadamard(X)


def _convolve(h: np.ndarray, X: np.ndarray, mode: str) -> np.ndarray:
    cols = [np.convolve(h, x, mode=mode) for x in X.T]  # type: ignore[call-overload]
    return np.stack(cols, axis=1)


def _circulant(c: np.ndarray, X: np.ndarray) -> np.ndarray:
    # a circulant matrix is the Toeplitz matrix of column c and row (c0, c[n-1], ..., c1)
    return scipy.linalg.matmul_toeplitz((c, np.roll(c[::-1], 1)), X)


def _random_twiddles(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    L = int(math.log2(n))
    return rng.standard_normal((L, n // 2, 2, 2)) / math.sqrt(2.0)


# ---------------------------------------------------------------------- the cases
def _constructions() -> Any:
    return importlib.import_module("structmat.constructions")


def _pow2(n: int) -> str:
    return "" if n >= 2 and n & (n - 1) == 0 else "needs n a power of 2"


def _composite(n: int) -> str:
    if n >= 4 and any(n % d == 0 for d in range(2, math.isqrt(n) + 1)):
        return ""
    return "needs a composite n (Monarch blocks K x J = n with K, J >= 2)"


def _at_least_2(n: int) -> str:
    return "" if n >= 2 else "needs n >= 2"


def _vec(m: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(m)


_KERNEL = np.array([1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0])


def _random_butterfly(n: int) -> LinearOperator:
    from structmat.butterfly import Butterfly

    return Butterfly(_random_twiddles(n, n))


def _fft(X: np.ndarray) -> np.ndarray:
    return np.fft.fft(X, axis=0)


def _ifft(X: np.ndarray) -> np.ndarray:
    return np.fft.ifft(X, axis=0)


_Reference = Callable[[int, np.ndarray], np.ndarray]

# (label, construction, why it does not exist for n ("" when it does), its arguments for n,
#  the reference for n applied to columns X)
_SPECS: list[tuple[str, str, Callable[[int], str], Callable[[int], tuple], _Reference]] = [
    ("DFT", "dft_as_monarch", _composite, lambda n: (n,), lambda n, X: _fft(X)),
    ("IDFT", "idft_as_monarch", _composite, lambda n: (n,), lambda n, X: _ifft(X)),
    ("Hadamard", "hadamard_as_monarch", _pow2, lambda n: (n,), lambda n, X: _hadamard(X)),
    ("DFT", "dft_as_butterfly", _pow2, lambda n: (n,), lambda n, X: _fft(X)),
    ("IDFT", "idft_as_butterfly", _pow2, lambda n: (n,), lambda n, X: _ifft(X)),
    ("Hadamard", "hadamard_as_butterfly", _pow2, lambda n: (n,), lambda n, X: _hadamard(X)),
    (
        "DCT-II",
        "dct_as_butterfly",
        _pow2,
        lambda n: (n,),
        lambda n, X: scipy.fft.dct(X, type=2, axis=0),
    ),
    (
        "circulant",
        "circulant_as_monarch",
        _at_least_2,
        lambda n: (_vec(n, n),),
        lambda n, X: _circulant(_vec(n, n), X),
    ),
    (
        "Toeplitz",
        "toeplitz_as_monarch",
        _at_least_2,
        lambda n: (_vec(n, n + 1), _vec(n, n + 2)),
        lambda n, X: scipy.linalg.matmul_toeplitz((_vec(n, n + 1), _vec(n, n + 2)), X),
    ),
    (
        "convolution",
        "convolution_as_monarch",
        _at_least_2,
        lambda n: (_KERNEL, n),
        lambda n, X: _convolve(_KERNEL, X, "full"),
    ),
    (
        "butterfly",
        "butterfly_to_monarch",
        _pow2,
        lambda n: (),
        lambda n, X: apply_butterfly(_random_twiddles(n, n), X),
    ),
]


def _case(
    label: str,
    function: str,
    n: int,
    reason: str,
    args: Callable[[int], tuple],
    ref: _Reference,
) -> Case:
    def build() -> LinearOperator:
        if function == "butterfly_to_monarch":
            return _constructions().butterfly_to_monarch(_random_butterfly(n))
        return getattr(_constructions(), function)(*args(n))

    return Case(label, function, n, build, lambda X: ref(n, X), reason)


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
    """Every construction at the default sizes, or at each of ``sizes``.

    With ``sizes``, a construction that does not exist at a size is still a
    case, with the ``reason`` (nothing is dropped silently).
    """
    out: list[Case] = []
    for label, function, why_not, args, ref in _SPECS:
        ns = DEFAULT_SIZES[function] if sizes is None else tuple(sizes)
        out.extend(_case(label, function, n, why_not(n), args, ref) for n in ns)
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


def _probes(n: int, k: int = PROBES) -> np.ndarray:
    # a fixed seed per n: a failure reproduces; real columns suffice, both sides being linear
    return np.random.default_rng(n).standard_normal((n, k))


def run_case(case: Case, xp: Any = None) -> CaseResult:
    """Build ``case``, move it to ``xp`` and compare it with its reference.

    Dense for ``n <= DENSE_MAX_N`` (``op @ I`` and ``op.to_dense()``), else
    on ``PROBES`` random columns (``op @ X``); the error is the larger
    relative Frobenius error. A case with a ``reason`` is returned unrun.

    Notes
    -----
    A probe check is as strict as the dense one in practice: for a wrong
    operator ``A != R``, ``(A - R) X = 0`` for Gaussian ``X`` has probability
    zero, and one wrong entry ``e`` of a unit-modulus DFT gives a relative
    error near ``|e| / n`` (``1e-5`` at ``n = 100000``), far above
    ``TOLERANCE``.
    """
    res = CaseResult(case)
    if case.reason:
        return res
    t0 = time.perf_counter()
    try:
        op = case.build()
        leaves = leaf_classes(op)
        res.structure = " ".join(leaves)
        from structmat.monarch import monarch_class

        res.monarch_class = monarch_class(op) or ""
        unstructured = [name for name in leaves if name.split("^")[0] not in STRUCTURED]
        if xp is not None:
            op = op.to(xp=xp)
        n = op.shape[1]
        if n <= DENSE_MAX_N:
            res.check = "dense"
            ref = case.reference(np.eye(n))
            by_multiply = to_numpy(op @ op.xp.eye(n, dtype=op.dtype, device=op.device))
            by_dense = to_numpy(op.to_dense())
            res.error = max(_relative(by_multiply, ref), _relative(by_dense, ref))
        else:
            res.check = f"{PROBES} probes"
            X = _probes(n)
            ref = case.reference(X)
            # float64 columns: the operator promotes them to its own dtype
            res.error = _relative(to_numpy(op @ op.xp.asarray(X, device=op.device)), ref)
        if unstructured:
            res.failure = f"built from {', '.join(unstructured)}, not only structured classes"
        elif not res.error <= TOLERANCE:
            res.failure = f"relative error {res.error:.2e} > {TOLERANCE:.0e}"
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

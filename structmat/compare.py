r"""``compare(A, budget)``: which structured class fits a matrix best at a parameter budget.

The structure search fits every applicable class (low rank, Monarch over a
grid of blocks and ranks, butterfly, Kronecker, block-diagonal, Toeplitz,
circulant, diagonal) with the largest parameters its budget allows, through
the projections of :func:`structmat.project`, and returns the fits as a
:class:`Comparison` table sorted by relative error.

The module imports the projections on first call, so ``import structmat``
(which re-exports :func:`compare`) stays light. Because the function and this
module share the name ``compare``, ``structmat.compare`` is the function; the
module is ``importlib.import_module("structmat.compare")`` (or
``from structmat.compare import Comparison``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from structmat import _array_api as aa
from structmat._args import ceil_div
from structmat._result import ProjectionResult

__all__ = ["Comparison", "ComparisonRow", "compare"]


# ---------------------------------------------------------------------- the table
@dataclass(frozen=True)
class ComparisonRow:
    """One fitted class in a :class:`Comparison`."""

    onto: str
    params: dict[str, Any]
    parameter_count: int
    relative_error: float
    exact: bool
    result: ProjectionResult = field(repr=False)


@dataclass(frozen=True)
class Comparison:
    """Fitted classes sorted by relative error (ties at rounding level: fewer parameters first).

    Attributes
    ----------
    rows : list of ComparisonRow
        ``onto``, ``params``, ``parameter_count``, ``relative_error``,
        ``exact`` and the full ``result`` of each fit.
    budget : float
        The parameter budget as a fraction of ``m * n``.
    shape : (int, int)
        Shape of the compared matrix.
    """

    rows: list[ComparisonRow]
    budget: float
    shape: tuple[int, int]

    @property
    def best(self) -> ComparisonRow | None:
        """The first row (the lowest relative error), or ``None`` when no class fits the budget.

        An empty table is an answer, not an error: a tiny budget or a tiny
        matrix (``1x1`` at budget 0.25 allows no parameter) admits no
        candidate, and ``str()`` says so in one line.
        """
        return self.rows[0] if self.rows else None

    def __iter__(self) -> Iterator[ComparisonRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> ComparisonRow:
        return self.rows[i]

    def __str__(self) -> str:
        m, n = self.shape
        head = f"structure search, {m}x{n}, budget {self.budget:.3g} ({self.cap} parameters)"
        if not self.rows:
            return f"{head}\n{self.nothing_fits()}"
        cells = [("class", "parameters", "count", "compression", "rel. error", "exact")]
        for r in self.rows:
            params = ", ".join(f"{k}={v!r}" for k, v in r.params.items() if k != "method")
            cells.append(
                (
                    r.onto,
                    params,
                    str(r.parameter_count),
                    f"{r.parameter_count / (m * n):.2%}",
                    f"{r.relative_error:.4g}",
                    "yes" if r.exact else "no",
                )
            )
        widths = [max(len(c[i]) for c in cells) for i in range(6)]
        lines = [head]
        for k, c in enumerate(cells):
            lines.append("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())
            if k == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    @property
    def cap(self) -> int:
        """The budget in stored numbers: ``floor(budget * m * n)``."""
        m, n = self.shape
        return int(self.budget * m * n)

    def nothing_fits(self) -> str:
        """The one-line message of an empty table."""
        m, n = self.shape
        return (
            f"no class fits the {m}x{n} matrix within {self.cap} parameters "
            f"(budget {self.budget:.3g} of {m * n}); try a larger budget"
        )

    def __repr__(self) -> str:
        best = self.best
        if best is None:
            return f"Comparison(0 fits: nothing fits within {self.cap} parameters)"
        return f"Comparison({len(self.rows)} fits, best: {best.onto}, relative_error={best.relative_error:.3g})"


_COMPARE_CLASSES = (
    "lowrank",
    "monarch",
    "butterfly",
    "kronecker",
    "block_diagonal",
    "toeplitz",
    "circulant",
    "diagonal",
)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _candidates(name: str, m: int, n: int, cap: float) -> list[dict[str, Any]]:
    """Parameter sets of class ``name`` with at most ``cap`` stored numbers."""
    out: list[dict[str, Any]] = []
    if name == "lowrank":
        r = min(int(cap // (m + n + 1)), m, n)
        if r >= 1:
            out.append({"rank": r})
    elif name == "monarch":
        # K | n and J | m (no padding); for fixed blocks a larger rank is never worse
        # (the classes are nested), so each (K, J) takes its largest rank in budget.
        pairs = [(k, k) for k in _divisors(math.gcd(m, n)) if 1 < k < min(m, n)]
        if m != n:
            from structmat.monarch import default_nblocks

            pairs.append((default_nblocks(n), default_nblocks(m)))
        for K, J in dict.fromkeys(pairs):
            p, s = ceil_div(n, K), ceil_div(m, J)
            r = min(int(cap // (K * J * (s + p))), s, p)
            if r >= 1:
                out.append({"nblocks": (K, J), "rank": r})
    elif name == "butterfly":
        if m == n and n >= 2 and n & (n - 1) == 0 and 2 * n * (n.bit_length() - 1) <= cap:
            out.append({"certificate": False})
    elif name == "kronecker":
        shapes = [
            ((m1, n1), (m // m1, n // n1))
            for m1 in _divisors(m)
            for n1 in _divisors(n)
            if 1 < m1 * n1 < m * n
        ]
        # balanced factors first; at most 16 shapes (one SVD of m*n entries each)
        shapes.sort(key=lambda sh: abs(math.log(sh[0][0] * sh[0][1] / (sh[1][0] * sh[1][1]))))
        for sh in shapes[:16]:
            per = sh[0][0] * sh[0][1] + sh[1][0] * sh[1][1]
            r = min(int(cap // per), sh[0][0] * sh[0][1], sh[1][0] * sh[1][1])
            if r >= 1:
                out.append({"shapes": sh, "rank": r})
    elif name == "block_diagonal":
        for k in _divisors(math.gcd(m, n)):
            if k > 1 and m * n // k <= cap:
                out.append({"nblocks": k})
    elif name == "toeplitz":
        if m + n - 1 <= cap:
            out.append({})
    elif name in ("circulant", "diagonal"):
        if (m == n or name == "diagonal") and min(m, n) <= cap:
            out.append({})
    return out


# Tie-break of fits equal in error and size (a diagonal is also 1x1 blocks).
_SIMPLER_FIRST = (
    "diagonal",
    "circulant",
    "toeplitz",
    "block_diagonal",
    "lowrank",
    "kronecker",
    "butterfly",
    "monarch",
)


def compare(A: Any, /, budget: float = 0.25, *, classes: Any = None) -> Comparison:
    r"""Which structure fits ``A`` best with at most ``budget * m * n`` parameters?

    Parameters
    ----------
    A : array of shape (m, n) or LinearOperator
        Densified once (``A.to_dense()``) if an operator.
    budget : float
        ``0 < budget <= 1``: the parameter budget as a fraction of the dense
        count ``m * n``.
    classes : sequence of str, optional
        Classes to fit (default: all of ``lowrank``, ``monarch``,
        ``butterfly``, ``kronecker``, ``block_diagonal``, ``toeplitz``,
        ``circulant``, ``diagonal``). Classes whose module cannot be imported
        are skipped.

    Returns
    -------
    Comparison
        Rows sorted by relative error; ``str()`` is a table and ``.best`` the
        winner. When no candidate fits the budget the table is empty,
        ``.best`` is ``None`` and ``str()`` says that nothing fits.

    Raises
    ------
    ValueError
        A budget outside ``(0, 1]``, an empty or unknown ``classes``, a class
        the search does not cover, NaN or Inf in ``A``.

    Notes
    -----
    Candidates within the budget:

    - low rank: the largest rank ``r`` with ``r (m + n + 1)`` parameters;
    - Monarch: ``nblocks=(k, k)`` for every common divisor ``1 < k <
      min(m, n)`` of ``m`` and ``n`` (plus the default blocks when
      rectangular), each with its largest rank in budget (for fixed blocks
      the rank classes are nested, so a larger rank is never worse);
    - butterfly: square ``n = 2^L`` with ``2 n L`` parameters (hierarchical
      projection, ``exact=False``);
    - Kronecker: every factorization ``m = m1 m2``, ``n = n1 n2``
      (at most 16, the most balanced first), each with its largest number of
      terms in budget;
    - block-diagonal: every common divisor ``k > 1`` with ``m n / k``
      parameters in budget;
    - Toeplitz, circulant (square), diagonal: when within budget.

    Every fit is the class's projection (exact except butterfly), so each
    row's error is the distance of ``A`` to that class at those parameters.
    Relative errors below the rounding level
    :math:`16\sqrt{mn}\,\epsilon` count as equal; ties go to fewer
    parameters, then to the simpler class (diagonal, circulant, Toeplitz,
    block-diagonal, low rank, Kronecker, butterfly, Monarch).

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> rng = np.random.default_rng(0)
    >>> A = np.kron(rng.standard_normal((4, 4)), rng.standard_normal((8, 8)))
    >>> table = sm.compare(A, budget=0.25)
    >>> table.best.onto
    'kronecker'
    >>> print(str(table).splitlines()[0])
    structure search, 32x32, budget 0.25 (256 parameters)
    """
    if isinstance(budget, bool) or not isinstance(budget, numbers.Real):
        msg = f"compare: budget must be a number in (0, 1], got {budget!r}"
        raise ValueError(msg)
    if not 0 < budget <= 1:
        msg = f"compare: budget must be in (0, 1], got {budget!r}"
        raise ValueError(msg)
    from structmat._dense import dense_input
    from structmat.projection import _METHODS, _resolve

    if classes is None:
        names: Sequence[str] = _COMPARE_CLASSES
    else:
        if isinstance(classes, str) or not isinstance(classes, Sequence):
            msg = f"compare: classes must be a list of names, got {classes!r}"
            raise ValueError(msg)
        if len(classes) == 0:
            msg = f"compare: classes is empty; give at least one of {', '.join(_COMPARE_CLASSES)}"
            raise ValueError(msg)
        names = [_resolve(c) for c in classes]
        bad = [c for c in names if c not in _COMPARE_CLASSES]
        if bad:
            msg = f"compare: cannot search over {bad}; valid: {', '.join(_COMPARE_CLASSES)}"
            raise ValueError(msg)
    A = dense_input(A, "compare")
    m, n = (int(d) for d in A.shape)
    cap = budget * m * n
    rows = []
    for name in names:
        for params in _candidates(name, m, n, cap):
            res = _METHODS[name].fn(A, **params)
            shown = {k: v for k, v in params.items() if k != "certificate"}
            rows.append(
                ComparisonRow(
                    onto=name,
                    params=shown,
                    parameter_count=res.parameter_count,
                    relative_error=res.relative_error,
                    exact=res.exact,
                    result=res,
                )
            )
    floor = 16 * math.sqrt(m * n) * aa.eps(aa.namespace_of(A), A.dtype)
    simpler = {name: i for i, name in enumerate(_SIMPLER_FIRST)}
    rows.sort(key=lambda r: (max(r.relative_error, floor), r.parameter_count, simpler[r.onto]))
    return Comparison(rows=rows, budget=float(budget), shape=(m, n))

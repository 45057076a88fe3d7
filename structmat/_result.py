"""``ProjectionResult``: what every projection returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from structmat.linop import LinearOperator

__all__ = ["ProjectionResult"]


@dataclass(frozen=True, repr=False)
class ProjectionResult:
    """The closest member of a structured class to a matrix ``A``, with its error.

    Attributes
    ----------
    operator : LinearOperator
        The projection ``Â``.
    error : float
        ``||A - Â||_F``.
    norm : float
        ``||A||_F`` (so ``relative_error = error / norm``).
    lower_bound : float
        No member of the class is closer to ``A`` than this.
    upper_bound : float
        The smallest guarantee on ``error`` known: ``error`` itself (widened
        for rounding) where the residual is known, as for the exact
        projections and :meth:`structmat.Butterfly.project`; ``inf`` where
        ``error`` is estimated. ``[lower_bound, min(error, upper_bound)]``
        brackets the distance to the class.
    exact : bool
        ``True`` when ``error`` is the distance from ``A`` to the class.
    onto : str
        The class name, e.g. ``"monarch"``.
    params : dict
        The class parameters used (``nblocks``, ``rank``, ...).
    notes : str
        Anything the reader must know (e.g. "error is estimated").

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> r = ProjectionResult(sm.Identity(2), error=0.0, norm=1.0, lower_bound=0.0,
    ...                      upper_bound=0.0, exact=True, onto="diagonal")
    >>> r.relative_error, r.compression
    (0.0, 0.0)
    """

    operator: LinearOperator
    error: float
    norm: float
    lower_bound: float
    upper_bound: float
    exact: bool
    onto: str
    params: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    @property
    def relative_error(self) -> float:
        """``error / ||A||_F`` (0 for a zero ``A`` matched exactly)."""
        if self.norm == 0:
            return 0.0 if self.error == 0 else float("inf")
        return self.error / self.norm

    @property
    def parameter_count(self) -> int:
        return self.operator.parameter_count

    @property
    def compression(self) -> float:
        """Stored numbers of the projection over those of the dense matrix."""
        m, n = self.operator.shape
        return self.parameter_count / (m * n) if m * n else 0.0

    def summary(self) -> str:
        """A few readable lines: class, parameters, size and errors."""
        m, n = self.operator.shape
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        lines = [
            f"projection onto {self.onto}({params}) of a {m}x{n} matrix",
            f"  parameters     {self.parameter_count} of {m * n} ({self.compression:.2%})",
            f"  error          {self.error:.6g} (relative {self.relative_error:.6g})",
        ]
        if self.exact:
            lines.append("  exact          yes: no member of the class is closer")
        else:
            if math.isfinite(self.upper_bound):
                lines.append(f"  certificate    {self.lower_bound:.6g} <= distance <= error")
                lines.append(f"  guarantee      error <= {self.upper_bound:.6g}")
            else:  # the error itself is an estimate: only the lower bound is certain
                lines.append(f"  lower bound    {self.lower_bound:.6g} <= distance")
                lines.append("  guarantee      none (error is estimated)")
        if self.notes:
            lines.append(f"  note           {self.notes}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return (
            f"ProjectionResult(onto={self.onto!r}, params=({params}), "
            f"relative_error={self.relative_error:.3g}, exact={self.exact}, "
            f"parameters={self.parameter_count})"
        )


def exact_result(
    operator: LinearOperator,
    error: float,
    norm: float,
    onto: str,
    params: dict[str, Any],
    notes: str = "",
) -> ProjectionResult:
    """The result of an exact projection: both bounds equal ``error``."""
    return ProjectionResult(
        operator=operator,
        error=error,
        norm=norm,
        lower_bound=error,
        upper_bound=error,
        exact=True,
        onto=onto,
        params=params,
        notes=notes,
    )

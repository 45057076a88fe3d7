"""Verification kit: operator laws (:func:`check_linear_operator`) and Hypothesis strategies.

``structmat.testing.strategies`` (Hypothesis, imported on demand so that the
kit works without Hypothesis installed) holds the operator market.
"""

from structmat.testing._tolerance import EXACT_RTOL, assert_close, to_numpy, tolerance
from structmat.testing.checks import CheckReport, check_linear_operator

__all__ = [
    "EXACT_RTOL",
    "CheckReport",
    "assert_close",
    "check_linear_operator",
    "to_numpy",
    "tolerance",
]

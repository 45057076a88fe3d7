"""Verification kit: operator laws (:func:`check_linear_operator`) and Hypothesis strategies."""

from structmat.testing._tolerance import assert_close, to_numpy, tolerance

__all__ = ["assert_close", "to_numpy", "tolerance"]

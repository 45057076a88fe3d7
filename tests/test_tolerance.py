"""assert_close checks namespace and dtype along with values; the named tolerances."""

from __future__ import annotations

import array_api_strict
import numpy as np
import pytest
from _helpers import oracle_as

from structmat.testing import EXACT_RTOL, assert_close, tolerance


def test_namespace_must_match():
    a = array_api_strict.asarray([1.0, 2.0])
    with pytest.raises(
        AssertionError, match=r"result is in namespace array_api_strict, expected numpy"
    ):
        assert_close(a, np.array([1.0, 2.0]))
    with pytest.raises(AssertionError, match=r"in namespace numpy, expected array_api_strict"):
        assert_close(np.array([1.0, 2.0]), a)
    assert_close(a, np.array([1.0, 2.0]), check_namespace=False)
    assert_close(a, oracle_as([1.0, 2.0], array_api_strict))


def test_dtype_must_match():
    with pytest.raises(AssertionError, match=r"x has dtype complex64, expected complex128"):
        assert_close(np.ones(2, np.complex64), np.ones(2, np.complex128), what="x")
    assert_close(np.ones(2, np.complex64), np.ones(2, np.complex128), check_dtype=False)
    # Python values count as NumPy arrays (float64 here)
    assert_close(np.array([1.0, 2.0]), [1.0, 2.0])
    with pytest.raises(AssertionError, match=r"dtype float32, expected float64"):
        assert_close(np.array([1.0, 2.0], np.float32), [1.0, 2.0])


def test_values_still_compared_when_checks_are_off():
    with pytest.raises(AssertionError, match=r"relative error"):
        assert_close(np.ones(2, np.float32), np.zeros(2) + 2, check_dtype=False)


def test_oracle_as_refuses_to_drop_an_imaginary_part():
    assert oracle_as(np.array([1.0 + 0j]), np, "float64").dtype == np.float64
    with pytest.raises(AssertionError, match=r"imaginary part"):
        oracle_as(np.array([1.0 + 1j]), np, "float64")


def test_named_tolerances():
    assert tolerance(np.float64, 1) < EXACT_RTOL < tolerance(np.float32, 1)

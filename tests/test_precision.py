"""Library helpers behind precision and FFT lengths: dtype names, 5-smooth lengths."""

from __future__ import annotations

import numpy as np
import pytest

from structmat import _array_api as aa
from structmat._fftcore import _fast_len
from structmat.constructions._convolution import _good_size


def _smooth(n: int) -> bool:
    for f in (2, 3, 5):
        while n % f == 0:
            n //= f
    return n == 1


def test_fast_len_is_the_smallest_5_smooth_length():
    for n in range(1, 400):
        expected = next(m for m in range(n, 2 * n + 2) if _smooth(m))
        assert _fast_len(n) == expected


def test_good_size_is_composite_5_smooth():
    for n in range(0, 400):
        expected = next(m for m in range(max(n, 4), 2 * n + 8) if _smooth(m) and m != 5)
        assert _good_size(n) == expected


@pytest.mark.parametrize("name", ["float32", "float64", "complex64", "complex128"])
def test_dtype_name_by_comparison(name):
    assert aa.dtype_name(getattr(np, name)) == name
    assert aa.dtype_name(np.dtype(name)) == name
    strict = pytest.importorskip("array_api_strict")
    assert aa.dtype_name(getattr(strict, name)) == name


def test_dtype_name_of_non_floating_and_none():
    assert aa.dtype_name(np.int32) == "int32"
    assert aa.dtype_name(None) == "None"
    with pytest.raises(TypeError, match="got int32"):
        aa.as_dtype(aa.default_namespace(None), np.int32)

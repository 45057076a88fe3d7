"""Extreme scales: every projection of ``c * A`` is ``c`` times that of ``A``.

Squared entries, singular values and block energies overflow above about
``1e154`` and underflow below about ``1e-154`` in double precision; the
projections work on ``A / 2^e`` and scale back (``structmat/_dense.py``). Each
class is checked against its own scale-1 result and against the residual
``c * ||A - Â/c||`` computed here with NumPy, on both sides of the window in
which nothing is rescaled (``1e±60``) and far outside it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _helpers import random_array

import structmat as sm
from structmat.testing import to_numpy, tolerance

SCALES = [1e300, 1e-300, 1e154, 1e-154, 2.0**1000, 2.0**-1000, 1e60, 1e-60]
FLOAT32_SCALES = [1e30, 1e-30, 2.0**-100, 1e10, 1e-10]

# id: (onto, params, shape of A, A given as an operator)
CASES: dict[str, tuple[str, dict, tuple[int, int], bool]] = {
    "lowrank": ("lowrank", {"rank": 2}, (12, 18), False),
    "lowrank-operator": ("lowrank", {"rank": 3}, (18, 12), True),
    "randomized": ("lowrank", {"rank": 2, "method": "randomized", "seed": 0}, (12, 18), False),
    "randomized-operator": (
        "lowrank",
        {"rank": 2, "method": "randomized", "seed": 0, "power_iterations": 1},
        (12, 18),
        True,
    ),
    "kronecker": ("kronecker", {"shapes": ((3, 6), (4, 3)), "rank": 2}, (12, 18), False),
    "circulant": ("circulant", {}, (16, 16), False),
    "toeplitz": ("toeplitz", {}, (12, 18), False),
    "diagonal": ("diagonal", {}, (12, 18), False),
    "diagonal-tall": ("diagonal", {}, (18, 12), False),
    "block_diagonal": ("block_diagonal", {"nblocks": 3}, (12, 18), False),
    "block_diagonal-sizes": ("block_diagonal", {"sizes": [(5, 8), (7, 10)]}, (12, 18), False),
    "butterfly": ("butterfly", {}, (16, 16), False),
    "butterfly-bitrev": ("butterfly", {"permutation": "bitrev"}, (16, 16), False),
    "butterfly-2": ("butterfly", {}, (2, 2), False),
    "butterfly-no-certificate": ("butterfly", {"certificate": False}, (32, 32), False),
    "monarch": ("monarch", {"nblocks": (3, 4), "rank": 2}, (12, 18), False),
    "monarch_adjoint": ("monarch_adjoint", {"nblocks": (3, 4)}, (18, 12), False),
    "ks": ("ks", {"patterns": [(1, 2, 2, 6), (2, 2, 2, 3), (4, 3, 3, 1)]}, (12, 12), False),
    "ks-rectangular": (
        "ks",
        {"patterns": [(1, 3, 3, 4), (3, 2, 3, 2), (9, 2, 2, 1)]},
        (12, 18),
        False,
    ),
    "ks-one": ("ks", {"patterns": [(2, 3, 4, 2)]}, (12, 16), False),
}


def _project(xp, A: np.ndarray, case: str):
    onto, params, _, as_operator = CASES[case]
    a = xp.asarray(A)
    return sm.project(sm.Dense(a) if as_operator else a, onto, **params)


def _assert_scaled(res_c, res_1, c: float, A: np.ndarray, rtol: float, estimated: bool) -> None:
    """``res_c`` (of ``c * A``) is ``c`` times ``res_1`` (of ``A``): bounds, error, operator."""
    for name in ("error", "norm", "lower_bound", "upper_bound"):
        got, want = getattr(res_c, name), getattr(res_1, name)
        if math.isinf(want):  # the randomized estimate on an operator has no upper guarantee
            assert got == want, (name, got)
            continue
        assert math.isfinite(got), (name, got)
        assert math.isclose(got, c * want, rel_tol=rtol), (name, got / c, want)
    assert math.isclose(res_c.relative_error, res_1.relative_error, rel_tol=rtol)
    Dc, D1 = to_numpy(res_c.operator.to_dense()), to_numpy(res_1.operator.to_dense())
    assert np.all(np.isfinite(Dc))
    assert np.linalg.norm(Dc / c - D1) <= rtol * np.linalg.norm(D1)
    if not estimated:  # the error is that of the operator returned: ||cA - Â|| = c ||A - Â/c||
        direct = c * float(np.linalg.norm(A - Dc / c))
        # rounding of Â is relative to ||A|| (an exact fit, e.g. n = 2 butterflies, is 0)
        assert abs(res_c.error - direct) <= rtol * c * np.linalg.norm(A), (res_c.error, direct)
    assert res_c.lower_bound <= res_c.error * (1 + rtol)
    assert res_c.error <= res_c.upper_bound * (1 + rtol)


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize("c", SCALES)
@pytest.mark.parametrize("case", list(CASES))
def test_projection_scales(case, c, dtype):
    """``project(c * A) == c * project(A)`` for every class, far beyond the float range
    of the squares, with nothing infinite or NaN."""
    shape = CASES[case][2]
    A = random_array(np.random.default_rng(7), shape, dtype)
    res_1 = _project(np, A, case)
    res_c = _project(np, c * A, case)
    estimated = case == "randomized-operator"
    _assert_scaled(res_c, res_1, c, A, tolerance(dtype, A.size), estimated)


@pytest.mark.parametrize("c", [1e300, 1e-300, 1e-154])
@pytest.mark.parametrize("case", list(CASES))
def test_projection_scales_on_backends(xp, case, c):
    shape = CASES[case][2]
    A = random_array(np.random.default_rng(8), shape)
    res_1 = _project(xp, A, case)
    res_c = _project(xp, c * A, case)
    assert res_c.operator.xp is res_1.operator.xp
    estimated = case == "randomized-operator"
    _assert_scaled(res_c, res_1, c, A, tolerance("float64", A.size), estimated)


@pytest.mark.parametrize("c", FLOAT32_SCALES)
@pytest.mark.parametrize("case", list(CASES))
def test_projection_scales_float32(case, c):
    """Single precision: squares overflow above about ``1e19`` and underflow below ``1e-19``."""
    shape = CASES[case][2]
    A = random_array(np.random.default_rng(9), shape, "float32")
    cA = (np.float32(c) * A).astype(np.float32)
    res_1 = _project(np, A, case)
    res_c = _project(np, cA, case)
    assert res_c.operator.dtype == np.float32
    estimated = case == "randomized-operator"
    # c * A is rounded to single precision, so the two inputs differ by that rounding
    _assert_scaled(
        res_c,
        res_1,
        float(np.float32(c)),
        A.astype(np.float64),
        tolerance("float32", A.size),
        estimated,
    )


@pytest.mark.parametrize("c", SCALES)
def test_permutation_scales(c):
    """The nearest permutation of ``c * A`` is that of ``A`` (``c > 0``), and the error is
    ``||cA - P||_F``, computed here without overflow: ``c ||A - P/c||`` or ``||cA - P||``."""
    rng = np.random.default_rng(5)
    n = 12
    A = rng.standard_normal((n, n)) + 3 * np.eye(n)[rng.permutation(n)]
    res_1 = sm.project(A, "permutation")
    res_c = sm.project(c * A, "permutation")
    idx = to_numpy(res_c.operator.idx)
    assert np.array_equal(idx, to_numpy(res_1.operator.idx))
    P = np.eye(n)[idx]  # (P x)[i] = x[idx[i]]
    assert np.array_equal(res_c.operator.to_dense(), P)
    if c >= 1:
        direct, norm = c * np.linalg.norm(A - P / c), c * np.linalg.norm(A)
    else:
        direct, norm = np.linalg.norm(c * A - P), c * np.linalg.norm(A)
    rtol = tolerance("float64", n * n)
    assert math.isclose(res_c.error, direct, rel_tol=rtol)
    assert math.isclose(res_c.norm, norm, rel_tol=rtol)
    assert res_c.error == res_c.lower_bound == res_c.upper_bound
    assert math.isclose(res_c.relative_error, direct / norm, rel_tol=rtol)


@pytest.mark.parametrize("c", [*SCALES, 1.0])
def test_butterfly_certificate_at_scale(c):
    """``lower_bound`` never exceeds the distance of a known butterfly (at ``1e-154`` it
    did: 1.19e-153 against a butterfly at 1.13e-153)."""
    rng = np.random.default_rng(11)
    B0 = sm.Butterfly.random(16, seed=3).to_dense()
    N = 0.3 * rng.standard_normal((16, 16))
    res = sm.project(c * (B0 + N), "butterfly")
    known = c * np.linalg.norm(N)  # the distance from c(B0 + N) to the butterfly c B0
    assert res.lower_bound <= known
    assert res.lower_bound <= res.error <= res.upper_bound
    assert res.error <= known * math.sqrt(3)  # quasi-optimal: error <= sqrt(L - 1) dist


@pytest.mark.parametrize("c", SCALES)
def test_compare_scales(c):
    """``compare`` ranks the classes of ``c * A`` as those of ``A``."""
    rng = np.random.default_rng(4)
    A = np.kron(rng.standard_normal((4, 4)), rng.standard_normal((4, 4)))
    A = A + 0.05 * rng.standard_normal((16, 16))
    table_1 = sm.compare(A, budget=0.3)
    table_c = sm.compare(c * A, budget=0.3)
    assert table_1.best.onto == table_c.best.onto == "kronecker"
    rtol = tolerance("float64", A.size)
    # rows of equal error (e.g. kronecker ((1, 16), (16, 1)) and ((16, 1), (1, 16))) may
    # swap: compare each fit by its class and parameters, and the sorted errors
    fits_1 = {(r.onto, repr(r.params)): r.relative_error for r in table_1}
    fits_c = {(r.onto, repr(r.params)): r.relative_error for r in table_c}
    assert fits_c.keys() == fits_1.keys()
    for key, rel in fits_1.items():
        assert math.isclose(fits_c[key], rel, rel_tol=rtol), key
    errors_1 = [r.relative_error for r in table_1]
    errors_c = [r.relative_error for r in table_c]
    assert all(math.isclose(a, b, rel_tol=rtol) for a, b in zip(errors_c, errors_1, strict=True))


KS_PAIRS = [
    ((1, 4, 4, 4), (4, 4, 4, 1)),
    ((1, 2, 2, 8), (2, 8, 8, 1)),
    ((2, 4, 2, 2), (4, 2, 4, 1)),
]


@pytest.mark.parametrize("c", SCALES)
@pytest.mark.parametrize("pair", KS_PAIRS)
def test_ks_two_factor_scales(pair, c):
    """The two-factor KS projection and its error bounds at any scale, and a batch of
    problems of very different scales (each rescaled on its own)."""
    from structmat.ks import ks_project_two, ks_project_two_error, ks_to_dense

    left, right = pair
    A = random_array(np.random.default_rng(2), (16, 16))
    rtol = tolerance("float64", A.size)
    TL1, TR1, err1 = ks_project_two(A, left, right)
    TL, TR, err = ks_project_two(c * A, left, right)
    D1 = ks_to_dense(TL1) @ ks_to_dense(TR1)
    D = ks_to_dense(TL) @ ks_to_dense(TR)
    assert np.all(np.isfinite(D))
    assert np.linalg.norm(D / c - D1) <= rtol * np.linalg.norm(D1)
    assert math.isclose(err, c * err1, rel_tol=rtol)
    assert math.isclose(err, c * float(np.linalg.norm(A - D / c)), rel_tol=rtol)
    for exact in (True, False):
        if not exact and left[1] != 2:
            continue  # the power-iteration bounds need groups of size one
        got = ks_project_two_error(c * A, left, right, exact=exact)
        want = ks_project_two_error(A, left, right, exact=exact)
        for g, w in zip(got, want, strict=True):
            assert math.isclose(g, c * w, rel_tol=rtol), (got, want)
    scales = np.array([1.0, c, 1 / c if math.isfinite(1 / c) else 1e-300])
    TLb, TRb, errb = ks_project_two(scales[:, None, None] * A, left, right)
    assert np.allclose(errb / scales, err1, rtol=rtol, atol=0)
    for i, s in enumerate(scales):
        Di = ks_to_dense(TLb[i]) @ ks_to_dense(TRb[i])
        assert np.linalg.norm(Di / s - D1) <= rtol * np.linalg.norm(D1)

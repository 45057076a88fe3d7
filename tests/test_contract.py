"""The subclass contract of DESIGN §3, as docs/operators.md states it to users."""

from __future__ import annotations

import numpy as np
import pytest

import structmat as sm
from structmat.testing import assert_close, check_linear_operator


class Tridiagonal(sm.LinearOperator):
    """docs/operators.md's example: __init__ without xp, _matmat and _rmatmat only."""

    def __init__(self, lo, di, up):
        super().__init__(shape=(di.shape[0],) * 2, dtype=np.result_type(lo, di, up))
        self.lo, self.di, self.up = lo, di, up

    def _matmat(self, X):
        Y = self.di[:, None] * X
        Y[..., 1:, :] += self.lo[:, None] * X[..., :-1, :]
        Y[..., :-1, :] += self.up[:, None] * X[..., 1:, :]
        return Y

    def _rmatmat(self, X):
        return Tridiagonal(self.up.conj(), self.di.conj(), self.lo.conj())._matmat(X)


def _dense(lo, di, up):
    return np.diag(di) + np.diag(lo, -1) + np.diag(up, 1)


def test_minimal_subclass_passes_the_laws():
    rng = np.random.default_rng(0)
    lo, di, up = (rng.standard_normal(k) + 1j * rng.standard_normal(k) for k in (5, 6, 5))
    op = Tridiagonal(lo, di, up)
    assert op.xp is sm.DFT(2).xp  # xp=None is NumPy
    report = check_linear_operator(op)
    assert {name for name, _ in report.not_defined} == {"parameter_count", "to()"}
    D = _dense(lo, di, up)
    x = rng.standard_normal((2, 3, 6, 4))
    assert_close(op @ x, D @ x)  # batch dimensions reach _matmat
    assert_close(op.H @ x, D.conj().T @ x)
    assert_close(x[..., :6, :].swapaxes(-1, -2) @ op, x[..., :6, :].swapaxes(-1, -2) @ D)
    assert_close(op.T.to_dense(), D.T)
    assert (op @ np.zeros((6, 0))).shape == (6, 0)  # never reaches _matmat


def test_base_has_no_other_hooks():
    hooks = {
        name
        for name in vars(sm.LinearOperator)
        if name.startswith("_") and not name.startswith("__")
    }
    contract = {"_matmat", "_rmatmat", "_adjoint", "_transpose", "_map", "_parameter_count"}
    contract |= {"_flops", "_repr_args", "_invert"}
    helpers = {"_cast", "_dtype_arg", "_apply", "_prepare", "_what", "_check_ndim"}
    helpers |= {"_UNPICKLED"}
    annotations = {"_shape", "_dtype", "_xp", "_device", "_numpy", "_nonempty", "_real"}
    annotations |= {"_weak"}
    assert hooks - annotations <= contract | helpers
    for gone in (
        "_batched",
        "_call",
        "_at",
        "_promote_on_apply",
        "_real_input_ok",
        "_matvec_numpy",
    ):
        assert not hasattr(sm.LinearOperator, gone)


def test_missing_matmat_is_named():
    class Nothing(sm.LinearOperator):
        def __init__(self):
            super().__init__(shape=(2, 2), dtype=np.float64)

    with pytest.raises(NotImplementedError, match="Nothing must implement _matmat"):
        Nothing() @ np.ones(2)
    with pytest.raises(NotImplementedError, match="implements neither _rmatmat nor _adjoint"):
        Nothing().H @ np.ones(2)


def test_read_only_attributes_and_not_an_array():
    D = sm.Dense(np.eye(3))
    for name, value in (("shape", (2, 2)), ("dtype", np.float32), ("xp", None), ("device", "cpu")):
        with pytest.raises(AttributeError, match=rf"Dense\.{name} is read-only"):
            setattr(D, name, value)
    with pytest.raises(TypeError, match=r"call op\.to_dense\(\)"):
        np.asarray(D)
    with pytest.raises(TypeError, match="expected an array of an array-API library, got list"):
        D.matvec([1.0, 2.0, 3.0])


def test_power_and_scalar_bounds():
    A = sm.Dense(np.eye(2))
    assert (A**sm.linop.MAX_POWER).shape == (2, 2)
    with pytest.raises(ValueError, match="at most MAX_POWER"):
        A ** (10**20)
    with pytest.raises(ValueError, match="within the float range"):
        10**400 * A
    with pytest.raises(ValueError, match=r"k must be an integer >= 0"):
        A.flops(-1)
    with pytest.raises(TypeError, match=r"k must be an integer >= 0, got str"):
        A.flops("a")

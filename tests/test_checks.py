"""The verification kit catches deliberately broken operators, with precise messages."""

from __future__ import annotations

import re

import array_api_strict
import numpy as np
import pytest

import structmat as sm
from structmat import _array_api as aa
from structmat.testing import check_linear_operator


def _array(xp, shape, dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return xp.astype(aa.to_namespace(a, xp), getattr(xp, dtype))


class WrongAdjoint(sm.Dense):
    """Adjoint forgets the transpose (only visible for non-symmetric A)."""

    def _adjoint(self):
        return sm.Dense(self.xp.conj(self.A))


class MissingConjugate(sm.Dense):
    """Adjoint is the plain transpose: right for real A, wrong for complex A."""

    def _adjoint(self):
        return sm.Dense(self.xp.matrix_transpose(self.A))


class WrongRmatmat(sm.LinearOperator):
    """Only _matmat/_rmatmat (no _adjoint): the rmatmat is off by a factor 2."""

    def __init__(self, A):
        super().__init__(shape=A.shape, dtype=A.dtype, xp=aa.namespace_of(A))
        self.A = A

    def _matmat(self, X):
        return self.A @ X

    def _rmatmat(self, X):
        xp = self.xp
        return 2 * (xp.conj(xp.matrix_transpose(self.A)) @ X)

    def _parameter_count(self):
        return self.shape[0] * self.shape[1]


class WrongShape(sm.Dense):
    """Returns one row too many."""

    def _matmat(self, X):
        xp = self.xp
        Y = self.A @ X
        return xp.concat([Y, Y[:1, :]], axis=0)


class Upcast(sm.Dense):
    """Returns float64/complex128 whatever the operator's precision."""

    def _matmat(self, X):
        xp = self.xp
        wide = xp.complex128 if aa.is_complex(xp, X.dtype) else xp.float64
        return xp.astype(self.A, wide) @ xp.astype(X, wide)


class DropsImaginary(sm.Dense):
    """A complex operator whose multiply drops the imaginary part of the input."""

    def _matmat(self, X):
        xp = self.xp
        return self.A @ xp.astype(xp.real(X), self.dtype)


class WrongDense(sm.Dense):
    """to_dense() off in one entry."""

    def to_dense(self):
        xp = self.xp
        return self.A + xp.astype(xp.eye(*self.shape, dtype=xp.float64), self.dtype)


class WrongBatch(sm.Dense):
    """Batched path applies the transpose."""

    def _matmat(self, X):
        A = self.A if X.ndim == 2 else self.xp.matrix_transpose(self.A)
        return A @ X


class WrongTranspose(sm.Dense):
    """.T returns the adjoint (forgets to undo the conjugate)."""

    def _transpose(self):
        xp = self.xp
        return sm.Dense(xp.conj(xp.matrix_transpose(self.A)))


class Affine(sm.Dense):
    """Not linear: adds one to every entry of the result."""

    def _matmat(self, X):
        return self.A @ X + 1


class Raises(sm.Dense):
    def _matmat(self, X):
        if X.ndim > 2:
            msg = "boom"
            raise RuntimeError(msg)
        return self.A @ X


class NegativeCount(sm.Dense):
    def _parameter_count(self):
        return -1


class WrongNamespace(sm.Dense):
    """Returns NumPy arrays whatever the backend."""

    def _matmat(self, X):
        return aa.to_host(self.A) @ aa.to_host(X)


LAW_MESSAGE = re.compile(r"check_linear_operator\(.*\): law '.*' failed: ")


def test_good_operators_pass(xp):
    check_linear_operator(sm.Dense(_array(xp, (4, 3), "complex64")))
    check_linear_operator(sm.Dense(_array(xp, (4, 3), "float32")))


def test_wrong_adjoint(xp):
    op = WrongAdjoint(_array(xp, (3, 3)))
    with pytest.raises(
        AssertionError, match=r"law 'adjoint dot test <y, A x> == <A\^H y, x> \(complex data\)'"
    ) as info:
        check_linear_operator(op)
    assert LAW_MESSAGE.search(str(info.value))
    assert "relative error" in str(info.value)
    assert "> tolerance" in str(info.value)
    assert "A (3, 3), x (3,), y (3,)" in str(info.value)


def test_missing_conjugate_caught_for_complex_only(xp):
    check_linear_operator(MissingConjugate(_array(xp, (3, 2), "float64")))
    with pytest.raises(AssertionError, match=r"adjoint dot test .* \(complex data\)' failed"):
        check_linear_operator(MissingConjugate(_array(xp, (3, 2), "complex128")))


def test_wrong_rmatmat(xp):
    with pytest.raises(AssertionError, match=r"adjoint dot test .*relative error"):
        check_linear_operator(WrongRmatmat(_array(xp, (3, 4))))


def test_wrong_shape(xp):
    with pytest.raises(
        AssertionError,
        match=r"law 'dense oracle: op @ e_j has shape \(m,\)' failed: result has shape \(4,\), expected \(3,\)",
    ):
        check_linear_operator(WrongShape(_array(xp, (3, 2))))


@pytest.mark.parametrize("dtype", ["float32", "complex64"])
def test_dtype_not_preserved(xp, dtype):
    with pytest.raises(
        AssertionError, match=rf"result has dtype (float64|complex128), expected {dtype}"
    ):
        check_linear_operator(Upcast(_array(xp, (3, 2), dtype)))


def test_complex_operator_on_real_input_kept(xp):
    # the column oracle (real e_j) cannot see it; complex data can
    with pytest.raises(AssertionError, match=r"relative error"):
        check_linear_operator(DropsImaginary(_array(xp, (3, 3), "complex128")))


def test_wrong_to_dense(xp):
    with pytest.raises(
        AssertionError,
        match=r"law 'to_dense\(\) == \[op @ e_0, ..., op @ e_\{n-1\}\]' failed: A \(3, 3\): relative error",
    ):
        check_linear_operator(WrongDense(_array(xp, (3, 3))))


def test_wrong_batch(xp):
    with pytest.raises(
        AssertionError,
        match=r"law 'op @ X \(batch \(b, n, k\)\)' failed: A \(3, 3\), x \(2, 3, 3\)",
    ):
        check_linear_operator(WrongBatch(_array(xp, (3, 3))))


def test_wrong_transpose(xp):
    with pytest.raises(AssertionError, match=r"law 'op.T.to_dense\(\) == A.T' failed"):
        check_linear_operator(WrongTranspose(_array(xp, (3, 2), "complex64")))


def test_not_linear(xp):
    with pytest.raises(AssertionError, match=r"relative error"):
        check_linear_operator(Affine(_array(xp, (3, 3))))


def test_exception_becomes_assertion_naming_the_law(xp):
    with pytest.raises(
        AssertionError, match=r"law 'op @ X \(batch \(b, n, k\)\)' raised RuntimeError: boom"
    ) as info:
        check_linear_operator(Raises(_array(xp, (2, 2))))
    assert isinstance(info.value.__cause__, RuntimeError)


def test_negative_parameter_count():
    with pytest.raises(
        AssertionError, match=r"law 'parameter_count' failed: expected a non-negative int, got -1"
    ):
        check_linear_operator(NegativeCount(np.eye(2)))


def test_wrong_namespace():
    # an operator outside NumPy whose results come back as NumPy arrays
    with pytest.raises(AssertionError, match=r"result is in namespace numpy, expected"):
        check_linear_operator(WrongNamespace(_array(array_api_strict, (2, 2))))


def test_tolerance_override():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])

    # a sloppy operator passes under a loose rtol, fails under the default one
    class Sloppy(sm.Dense):
        def _matmat(self, X):
            return self.A @ X * (1 + 1e-9)

    check_linear_operator(Sloppy(A), rtol=1e-6)
    with pytest.raises(AssertionError, match=r"relative error 1e-09 > tolerance"):
        check_linear_operator(Sloppy(A))


def test_rejects_non_operators():
    with pytest.raises(TypeError, match=r"expects a structmat LinearOperator, got ndarray"):
        check_linear_operator(np.eye(2))


def test_seed_changes_data_not_verdict():
    op = sm.Dense(np.arange(6.0).reshape(3, 2))
    for seed in range(3):
        check_linear_operator(op, seed=seed)


# ---------------------------------------------------------------------- arguments and hooks
@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        (
            {"rtol": -1},
            ValueError,
            r"check_linear_operator: rtol must be None or a number in \[0, 1\), got -1",
        ),
        ({"rtol": float("nan")}, ValueError, r"rtol must be None or a number in \[0, 1\), got nan"),
        ({"rtol": 1.0}, ValueError, r"got 1.0"),
        ({"rtol": "x"}, TypeError, r"rtol must be None or a number in \[0, 1\), got str 'x'"),
        ({"rtol": True}, TypeError, r"got bool True"),
        ({"seed": -1}, ValueError, r"check_linear_operator: seed must be an integer >= 0, got -1"),
        ({"seed": 1.5}, TypeError, r"seed must be an integer >= 0, got float 1.5"),
    ],
)
def test_arguments_are_validated(kw, error, match):
    with pytest.raises(error, match=match):
        check_linear_operator(sm.Dense(np.eye(2)), **kw)


class Minimal(sm.LinearOperator):
    """The smallest correct subclass: ``__init__``, ``_matmat`` and ``_rmatmat`` only."""

    def __init__(self, A):
        # xp=np works with the current base and with one where xp=None means NumPy
        super().__init__(shape=A.shape, dtype=A.dtype, xp=np)
        self.A = A

    def _matmat(self, X):
        return self.A @ X

    def _rmatmat(self, X):
        return self.A.conj().T @ X


@pytest.mark.parametrize("dtype", ["float64", "complex128", "float32"])
def test_a_minimal_subclass_passes_with_missing_hooks_reported(dtype):
    A = _array(np, (3, 4), dtype)
    report = check_linear_operator(Minimal(A))
    assert isinstance(report, sm.testing.CheckReport)
    hooks = dict(report.not_defined)
    assert "parameter_count" in hooks  # optional: not defined, not a failed law
    assert "to()" in hooks  # no _map
    assert all(note.startswith("not defined") for note in hooks.values())
    assert "parameter_count" not in report.laws
    for law in (
        "to_dense() == [op @ e_0, ..., op @ e_{n-1}]",
        "op @ X (batch (2, b, n, k))",
        "adjoint dot test <y, A x> == <A^H y, x> (complex data)",
        "op.rmatmat(Y) == conj(A).T @ Y",
    ):
        assert law in report.laws
    assert repr(report).startswith(f"CheckReport({len(report.laws)} laws hold; not defined: ")


def test_defined_hooks_are_checked_and_listed():
    report = check_linear_operator(sm.Dense(np.arange(6.0).reshape(2, 3)))
    assert report.not_defined == ()
    assert {"attributes", "parameter_count", "flops", "repr", "op.to(dtype=<complex>) == A"} <= set(
        report.laws
    )
    assert repr(report) == f"CheckReport({len(report.laws)} laws hold)"


def test_a_hook_that_is_defined_but_wrong_still_fails():
    class BadFlops(Minimal):
        def flops(self, k=1):
            return "many"

    with pytest.raises(
        AssertionError, match=r"law 'flops' failed: flops\(1\) must be a non-negative int"
    ):
        check_linear_operator(BadFlops(np.eye(2)))

    class NoFlops(Minimal):
        def flops(self, k=1):
            msg = "NoFlops does not count its flops"
            raise NotImplementedError(msg)

    report = check_linear_operator(NoFlops(np.eye(2)))
    assert dict(report.not_defined)["flops"] == "not defined (NoFlops does not count its flops)"

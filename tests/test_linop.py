"""The operator algebra (structmat.linop) against dense NumPy oracles.

Composites, structural adjoints and transposes, simplifications (scalars fold,
Identity absorbed, Zero dropped, products and sums flatten), powers, repr,
flops and parameter counts, ``to()`` between backends and dtypes, ``x @ op``
deferral, batch dimensions and dtype promotion.
"""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest
from _helpers import oracle_as, random_pair

import structmat as sm
from structmat import _array_api as aa
from structmat.linop import Product, Scaled, Sum
from structmat.testing import assert_close, to_numpy, tolerance

NP = aa.default_namespace(None)


def dense(xp, shape, dtype="float64", seed=0):
    x, a = random_pair(xp, shape, dtype, seed)
    return sm.Dense(x), a


def name(dtype):
    return aa.dtype_name(dtype)


# ---------------------------------------------------------------------- composites
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_composites_match_dense(xp, dtype):
    A, a = dense(xp, (4, 3), dtype, 1)
    B, b = dense(xp, (3, 5), dtype, 2)
    C, c = dense(xp, (4, 3), dtype, 3)
    S, s = dense(xp, (4, 4), dtype, 4)
    x, xn = random_pair(xp, (5, 2), dtype, 5)
    cases = [
        (A @ B, a @ b),
        (A + C, a + c),
        (A - C, a - c),
        (-A, -a),
        (2.5 * A, 2.5 * a),
        (A * 2.5, 2.5 * a),
        (A / 4, a / 4),
        ((1 - 2j) * A, (1 - 2j) * a),
        (A.H, a.conj().T),
        (A.T, a.T),
        (A.conj(), a.conj()),
        (sm.Adjoint(A), a.conj().T),
        (sm.Transpose(A), a.T),
        (S**3, np.linalg.matrix_power(s, 3)),
        ((A @ B).H, (a @ b).conj().T),
        ((A @ B).T, (a @ b).T),
        ((S @ S + 2 * S).H @ S, (s @ s + 2 * s).conj().T @ s),
    ]
    for op, want in cases:
        assert_close(op.to_dense(), oracle_as(want, xp), size=16, what=repr(op))
        if op.shape[1] == 5:
            assert_close(op @ x, oracle_as(want @ xn, xp), size=16, what=f"{op!r} @ x")


def test_composites_expose_parts():
    A, B, C = (sm.Dense(np.eye(2) * k) for k in (1.0, 2.0, 3.0))
    P = A @ B @ C
    assert isinstance(P, Product)
    assert P.factors == (A, B, C)
    S = A + B + C
    assert isinstance(S, Sum)
    assert S.terms == (A, B, C)
    T = 3 * A
    assert isinstance(T, Scaled)
    assert (T.scalar, T.operator) == (3.0, A)
    assert sm.Adjoint(A).operator is A
    assert sm.Transpose(A).operator is A
    Pw = sm.Power(A, 4)
    assert (Pw.operator, Pw.exponent) == (A, 4)


# ---------------------------------------------------------------------- structure
def test_structural_adjoints(xp):
    A, _ = dense(xp, (3, 4), "complex128", 1)
    B, _ = dense(xp, (4, 2), "complex128", 2)
    C, _ = dense(xp, (3, 4), "complex128", 3)
    P = A @ B
    assert isinstance(P.H, Product)
    assert P.H.factors == (B.H, A.H)
    assert P.H.factors[0] is B.H
    assert P.H.H is P
    assert A.H.H is A
    assert A.T.T is A
    assert A.H is A.H  # cached
    S = A + C
    assert isinstance(S.H, Sum)
    assert S.H.terms[0] is A.H
    assert S.H.terms[1] is C.H
    T = 2j * A
    assert isinstance(T.H, Scaled)
    assert T.H.scalar == -2j
    assert T.H.operator is A.H
    assert (P.T.factors[0], P.T.factors[1]) == (B.T, A.T)
    Q, _ = dense(xp, (3, 3), "complex128", 4)
    Pw = Q**3
    assert isinstance(Pw.H, sm.Power)
    assert Pw.H.operator is Q.H
    assert Pw.H.exponent == 3


def test_adjoint_and_transpose_classes_round_trip(xp):
    A, a = dense(xp, (3, 2), "complex64", 1)
    assert sm.Adjoint(A).H is A
    assert sm.Transpose(A).T is A
    conj = sm.Transpose(A).H
    assert_close(conj.to_dense(), oracle_as(a.conj(), xp), size=4)
    assert_close(sm.Adjoint(A).T.to_dense(), oracle_as(a.conj(), xp), size=4)
    assert_close(conj.H.to_dense(), oracle_as(a.T, xp), size=4)


def test_real_transpose_is_adjoint_and_conj_is_self(xp):
    A, _ = dense(xp, (3, 2), "float32")
    assert A.T is A.H
    assert A.conj() is A


def test_scalars_fold(xp):
    A, a = dense(xp, (2, 2), "float64", 1)
    B, b = dense(xp, (2, 2), "float64", 2)
    S = 2 * (3 * A)
    assert isinstance(S, Scaled)
    assert S.scalar == 6.0
    assert S.operator is A
    P = (2 * A) @ (3 * B)
    assert isinstance(P, Scaled)
    assert P.scalar == 6.0
    assert isinstance(P.operator, Product)
    assert P.operator.factors == (A, B)
    assert 1 * A is A
    assert A / 1 is A
    assert (A / 4).scalar == 0.25
    assert isinstance(-A, Scaled)
    assert (-A).scalar == -1.0
    assert +A is A
    D = A - B
    assert isinstance(D, Sum)
    assert D.terms[1].scalar == -1.0
    assert_close(D.to_dense(), oracle_as(a - b, xp))


def test_numpy_scalars_are_python_numbers():
    A = sm.Dense(np.eye(2, dtype=np.float32))
    S = np.float32(2) * A
    assert isinstance(S, Scaled)
    assert type(S.scalar) is float
    assert S.dtype == np.float32
    C = np.complex64(1j) * A
    assert type(C.scalar) is complex
    assert C.dtype == np.complex64


def test_complex_scalar_kind_by_type():
    A = sm.Dense(np.eye(2))
    S = (1 + 0j) * A
    assert S is not A
    assert S.dtype == np.complex128
    assert (S @ np.ones(2)).dtype == np.complex128
    Z = sm.Dense(np.eye(2, dtype=np.complex64))
    assert (1 + 0j) * Z is Z


def test_identity_absorbed(xp):
    A, _ = dense(xp, (3, 4), "float64")
    I3 = sm.Identity(3, xp=xp)
    I4 = sm.Identity(4, xp=xp)
    assert I3 @ A is A
    assert A @ I4 is A
    P = I3 @ (2 * A) @ I4
    assert isinstance(P, Scaled)
    assert P.operator is A
    # an identity of a wider dtype is kept: it changes the result dtype
    A32, a32 = dense(xp, (3, 3), "float32")
    P = sm.Identity(3, xp=xp, dtype="float64") @ A32
    assert isinstance(P, Product)
    assert P.dtype == xp.float64
    assert_close(P.to_dense(), oracle_as(a32.astype(np.float64), xp))


def test_zero_simplifies(xp):
    A, _ = dense(xp, (3, 4), "float64")
    Z = sm.Zero((3, 4), xp=xp)
    assert A + Z is A
    assert Z + A is A
    P = sm.Zero((2, 3), xp=xp) @ A
    assert isinstance(P, sm.Zero)
    assert P.shape == (2, 4)


def test_products_and_sums_flatten(xp):
    A, B, C, D = (dense(xp, (2, 2), "float64", k)[0] for k in range(4))
    assert ((A @ B) @ C).factors == (A, B, C)
    assert (A @ (B @ C)).factors == (A, B, C)
    assert ((A @ B) @ (C @ D)).factors == (A, B, C, D)
    assert ((A + B) + (C + D)).terms == (A, B, C, D)
    assert Product(Product(A, B), C).factors == (A, B, C)
    assert Sum(Sum(A, B), C).terms == (A, B, C)


def test_power(xp):
    S, s = dense(xp, (3, 3), "complex128", 1)
    assert S**1 is S
    Id = S**0
    assert isinstance(Id, sm.Identity)
    assert Id.dtype == S.dtype
    for k in (2, 3, 5):
        P = S**k
        assert isinstance(P, sm.Power)
        assert_close(P.to_dense(), oracle_as(np.linalg.matrix_power(s, k), xp), size=64)
        x, xn = random_pair(xp, (3,), "complex128", 2)
        assert_close(P @ x, oracle_as(np.linalg.matrix_power(s, k) @ xn, xp), size=64)
    assert_close(sm.Power(S, 0).to_dense(), oracle_as(np.eye(3), xp, S.dtype))


# ---------------------------------------------------------------------- repr, counts
def test_repr_strings():
    A = sm.Dense(np.ones((2, 3)))
    B = sm.Dense(np.ones((3, 3), dtype=np.complex64))
    assert repr(A) == "Dense(2x3, float64)"
    assert repr(A @ B) == "Product(Dense(2x3, float64), Dense(3x3, complex64))"
    assert repr(2 * A) == "Scaled(2, Dense(2x3, float64))"
    assert repr(0.5j * A) == "Scaled(0.5j, Dense(2x3, float64))"
    assert repr(A + A) == "Sum(Dense(2x3, float64), Dense(2x3, float64))"
    assert repr(B**2) == "Power(Dense(3x3, complex64), 2)"
    assert repr(sm.Adjoint(A)) == "Adjoint(Dense(2x3, float64))"
    assert repr(sm.Transpose(B)) == "Transpose(Dense(3x3, complex64))"
    assert repr(sm.Identity(3)) == "Identity(3, float64)"
    assert repr(sm.Zero((2, 3), dtype=np.float32)) == "Zero(2x3, float32)"
    assert repr(sm.Diagonal(np.ones(4))) == "Diagonal(4, float64)"
    assert repr(sm.Permutation(np.array([1, 0]))) == "Permutation(2)"
    assert repr(sm.Transpose(B).H) == "Conjugate(Dense(3x3, complex64))"


def test_flops_and_parameter_count():
    m, n, k = 4, 3, 5
    A = sm.Dense(np.ones((m, n)))
    B = sm.Dense(np.ones((n, n)))
    d = sm.Diagonal(np.ones(n))
    P = sm.Permutation(np.arange(n))
    assert (A.parameter_count, A.flops(k)) == (m * n, m * n * k)
    assert A.flops() == m * n
    assert (d.parameter_count, d.flops(k)) == (n, n * k)
    assert (P.parameter_count, P.flops(k)) == (n, 0)
    assert (sm.Identity(n).parameter_count, sm.Identity(n).flops(k)) == (0, 0)
    assert (sm.Zero((m, n)).parameter_count, sm.Zero((m, n)).flops(k)) == (0, 0)
    prod = A @ B @ d
    assert prod.parameter_count == m * n + n * n + n
    assert prod.flops(k) == m * n * k + n * n * k + n * k
    s = A + A
    assert s.parameter_count == 2 * m * n
    assert s.flops(k) == 2 * m * n * k + m * k
    assert (3 * A).parameter_count == m * n + 1
    assert (3 * A).flops(k) == m * n * k + m * k
    assert (B**3).flops(k) == 3 * n * n * k
    assert (B**3).parameter_count == n * n
    assert sm.Adjoint(A).flops(k) == A.flops(k)
    assert sm.Transpose(A).parameter_count == A.parameter_count


# ---------------------------------------------------------------------- to()
def _namespaces():
    import array_api_strict

    out = [NP, array_api_strict]
    torch = pytest.importorskip("torch")
    out.append(array_api_compat.array_namespace(torch.empty(0)))
    return out


def test_to_between_backends():
    A, _a = dense(NP, (3, 4), "complex64", 1)
    d = sm.Diagonal(np.arange(1.0, 4.0))
    op = d @ A + 2 * (d @ sm.Permutation(np.array([2, 0, 1])) @ A) - sm.Identity(3) @ A
    want = to_numpy(op.to_dense())
    for src in _namespaces():
        moved = op.to(xp=src)
        assert moved.xp is src
        for dst in _namespaces():
            back = moved.to(xp=dst)
            assert back.xp is dst
            assert name(back.dtype) == "complex128"
            assert aa.namespace_of(back.to_dense()) is dst
            assert_close(back.to_dense(), oracle_as(want, dst))


def test_to_accepts_plain_modules():
    torch = pytest.importorskip("torch")
    op = sm.Dense(np.eye(2)).to(xp=torch)
    assert op.xp is array_api_compat.array_namespace(torch.empty(0))
    assert op.dtype == torch.float64
    assert sm.Identity(2).to(xp=torch).dtype == torch.float64
    assert sm.Dense(np.eye(2)).to(xp=torch).to(xp=np).xp is NP


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        ("float64", "float32"),
        ("float32", "float64"),
        ("float32", "complex64"),
        ("complex128", "complex64"),
    ],
)
def test_to_dtype(xp, src, dst):
    A, _a = dense(xp, (3, 3), src)
    ops = [A, sm.Diagonal(random_pair(xp, (3,), src)[0]), sm.Identity(3, xp=xp, dtype=src)]
    ops.append(sm.Permutation(xp.asarray(np.array([1, 2, 0])), dtype=src))
    ops.append(sm.Zero((3, 3), xp=xp, dtype=src))
    ops.append(A @ A.H + 2 * A)
    for op in ops:
        out = op.to(dtype=dst)
        assert name(out.dtype) == dst, repr(op)
        assert out.xp is xp
        assert name(out.to_dense().dtype) == dst
        # the original was computed in the source precision
        coarse = src if np.finfo(src).eps > np.finfo(dst).eps else dst
        assert_close(
            out.to_dense(),
            oracle_as(to_numpy(op.to_dense()).astype(dst), xp),
            rtol=tolerance(coarse, 16),
            what=repr(op),
        )
    # names of another namespace work too
    assert name(A.to(dtype=np.dtype(dst)).dtype) == dst
    assert name(A.to(dtype=dst).dtype) == dst


# ---------------------------------------------------------------------- applying
def test_ndarray_matmul_defers():
    A, a = dense(NP, (3, 4))
    x = np.arange(3.0)
    X = np.ones((2, 3))
    assert_close(x @ A, x @ a)
    assert_close(X @ A, X @ a)
    assert_close(np.ones((5, 2, 3)) @ A, np.ones((5, 2, 3)) @ a)
    assert (x @ A).shape == (4,)


def test_torch_matmul_defers():
    torch = pytest.importorskip("torch")
    tx = array_api_compat.array_namespace(torch.empty(0))
    A, a = dense(tx, (3, 4), "complex64")
    x = torch.arange(3.0).to(torch.complex64)
    y = x @ A
    assert isinstance(y, torch.Tensor)
    assert_close(y, oracle_as(to_numpy(x) @ a, tx))
    X = torch.ones((2, 5, 3), dtype=torch.complex64)
    assert_close(X @ A, oracle_as(to_numpy(X) @ a, tx))


def test_rmatmul_for_every_backend(xp):
    # array_api_strict arrays do not defer x @ op, so call __rmatmul__ directly
    A, a = dense(xp, (3, 4), "complex128")
    Y, y = random_pair(xp, (2, 2, 3), "complex128", 1)
    assert_close(A.__rmatmul__(Y), oracle_as(y @ a, xp))


def test_batch_dimensions(xp):
    A, a = dense(xp, (3, 4), "float64")
    for shape in [(4,), (4, 2), (5, 4, 2), (2, 3, 4, 1), (1, 1, 4, 3), (0, 4, 2)]:
        x, xn = random_pair(xp, shape, "float64", 1)
        y = A @ x
        assert tuple(y.shape) == np.matmul(a, xn).shape
        assert_close(y, oracle_as(np.matmul(a, xn), xp))
    for op in (
        A @ A.H @ A,
        2 * A + A,
        sm.Adjoint(A.H),
        sm.Permutation(xp.asarray(np.array([2, 0, 1]))) @ A,
    ):
        x, xn = random_pair(xp, (2, 3, 4, 2), "float64", 2)
        assert_close(op @ x, oracle_as(np.matmul(to_numpy(op.to_dense()), xn), xp))


def test_matvec_matmat_rmatvec_rmatmat(xp):
    A, a = dense(xp, (3, 4), "complex64")
    x, xn = random_pair(xp, (4,), "complex64", 1)
    y, yn = random_pair(xp, (3,), "complex64", 2)
    X, Xn = random_pair(xp, (4, 2), "complex64", 3)
    Y, Yn = random_pair(xp, (3, 2), "complex64", 4)
    assert_close(A.matvec(x), oracle_as(a @ xn, xp))
    assert tuple(A.matvec(X[:, :1]).shape) == (3, 1)
    assert_close(A.matmat(X), oracle_as(a @ Xn, xp))
    assert_close(A.rmatvec(y), oracle_as(a.conj().T @ yn, xp))
    assert_close(A.rmatmat(Y), oracle_as(a.conj().T @ Yn, xp))
    assert A.ndim == 2


# ---------------------------------------------------------------------- dtypes
PROMOTION = [
    # operator, input, result
    ("float32", "float32", "float32"),
    ("float32", "float64", "float64"),
    ("float64", "float32", "float64"),
    ("float32", "complex64", "complex64"),
    ("float32", "complex128", "complex128"),
    ("complex64", "float32", "complex64"),
    ("complex64", "float64", "complex128"),
    ("complex128", "complex64", "complex128"),
    ("float32", "int64", "float32"),
    ("complex64", "int32", "complex64"),
    ("float64", "bool", "float64"),
]


@pytest.mark.parametrize(("op_dtype", "x_dtype", "result"), PROMOTION)
def test_dtype_promotion(xp, op_dtype, x_dtype, result):
    A, _a = dense(xp, (3, 4), op_dtype)
    xn = np.arange(8).reshape(4, 2) % 2 == 0 if x_dtype == "bool" else None
    if xn is None:
        xn = (np.arange(8.0).reshape(4, 2) + (1j if x_dtype.startswith("complex") else 0)).astype(
            x_dtype
        )
    x = xp.asarray(xn)
    ops = [
        A,
        sm.Diagonal(random_pair(xp, (3,), op_dtype)[0]) @ A,
        A + A,
        2 * A,
        A.H.H,
        sm.Adjoint(A.H),
    ]
    ops += [sm.Transpose(A.T), sm.Permutation(xp.asarray(np.array([1, 2, 0])), dtype=op_dtype) @ A]
    for op in ops:
        y = op @ x
        assert name(y.dtype) == result, f"{op!r} @ {x_dtype}"
        assert aa.namespace_of(y) is aa.default_namespace(xp)
        want = to_numpy(op.to_dense()).astype(np.complex128) @ xn.astype(np.complex128)
        assert_close(
            y, oracle_as(want, xp, result), rtol=1e-5, what=f"{op!r} @ {x_dtype}"
        )  # float32 is the coarsest


def test_float32_stays_float32_through_composites(xp):
    A, _ = dense(xp, (4, 4), "float32")
    op = (2.5 * A @ A.H - A) ** 2 + sm.Diagonal(random_pair(xp, (4,), "float32")[0])
    assert name(op.dtype) == "float32"
    x, _ = random_pair(xp, (4, 3), "float32")
    assert name((op @ x).dtype) == "float32"
    assert name(op.to_dense().dtype) == "float32"
    assert name(op.H.to_dense().dtype) == "float32"


def test_complex_operator_on_real_input(xp):
    A, _a = dense(xp, (3, 3), "complex64")
    for op in (A, A.T, A.conj(), sm.Transpose(A), sm.Adjoint(A), A @ A):
        x, xn = random_pair(xp, (3, 2), "float32")
        y = op @ x
        assert name(y.dtype) == "complex64"
        assert_close(y, oracle_as(to_numpy(op.to_dense()) @ xn, xp), what=repr(op))


def test_mixed_dtype_composites_on_torch_style_backends(xp):
    """Real float32 parts of a complex128 composite: every backend gets it right."""
    A, a = dense(xp, (3, 3), "float32", 1)
    C, c = dense(xp, (3, 3), "complex128", 2)
    op = A @ C + A - 1j * A
    assert name(op.dtype) == "complex128"
    want = a.astype(np.complex128) @ c + a - 1j * a
    assert_close(op.to_dense(), oracle_as(want, xp))
    x, xn = random_pair(xp, (3, 2), "float64", 3)
    assert_close(op @ x, oracle_as(want @ xn, xp))


class MatmatOnly(sm.LinearOperator):
    """A user operator with _matmat/_rmatmat only (no _map): mixed dtypes must still work."""

    def __init__(self, A):
        super().__init__(shape=tuple(A.shape), dtype=A.dtype, xp=aa.namespace_of(A))
        self.A = A

    def _matmat(self, X):
        return self.A @ X

    def _rmatmat(self, X):
        xp = self.xp
        return xp.conj(xp.matrix_transpose(self.A)) @ X

    def _parameter_count(self):
        return self.shape[0] * self.shape[1]


def test_user_operator_without_map_on_complex_input(xp):
    Aarr, a = random_pair(xp, (3, 4), "float32")
    op = MatmatOnly(Aarr)
    x, xn = random_pair(xp, (4, 2), "complex64", 1)
    y, yn = random_pair(xp, (3, 2), "complex64", 2)
    assert_close(op @ x, oracle_as(a @ xn, xp))
    assert_close(op.H @ y, oracle_as(a.T @ yn, xp))
    assert isinstance(op.H, sm.Adjoint)
    with pytest.raises(NotImplementedError, match=r"does not support \.to\(\)"):
        op.to(dtype="float64")


def test_empty_operators(xp):
    A, _a = dense(xp, (3, 0))
    assert tuple((A @ xp.zeros((0,), dtype=xp.float64)).shape) == (3,)
    assert_close(A @ xp.zeros((0, 2), dtype=xp.float64), oracle_as(np.zeros((3, 2)), xp))
    assert tuple(A.H.to_dense().shape) == (0, 3)
    assert tuple(sm.Zero((0, 0), xp=xp).to_dense().shape) == (0, 0)

"""Bad input raises ValueError/TypeError naming the expected and the actual value."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

import structmat as sm
from structmat.linop import Power, Product, Scaled, Sum


def A34(xp=None):
    xp = xp or np
    return sm.Dense(xp.asarray(np.arange(12.0).reshape(3, 4)))


# ---------------------------------------------------------------------- construction
def test_dense_wrong_ndim(xp):
    with pytest.raises(ValueError, match=r"Dense expects a 2-d array, got shape \(3,\)"):
        sm.Dense(xp.asarray(np.ones(3)))
    with pytest.raises(ValueError, match=r"Dense expects a 2-d array, got shape \(1, 2, 2\)"):
        sm.Dense(xp.asarray(np.ones((1, 2, 2))))


def test_dense_not_an_array():
    with pytest.raises(TypeError, match=r"expected an array of an array-API library, got list"):
        sm.Dense([[1.0, 2.0]])


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_integer_operator_data_becomes_float64(xp, dtype):
    # as scipy.sparse.linalg.aslinearoperator accepts integer matrices
    a = xp.asarray(np.ones((2, 2), dtype=dtype))
    assert sm.Dense(a).dtype == xp.float64
    assert sm.Diagonal(a[0, ...]).dtype == xp.float64


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_float16_operators_refused(backend):
    if backend == "torch":
        torch = pytest.importorskip("torch")
        a = torch.ones((2, 2), dtype=torch.float16)
    else:
        a = np.ones((2, 2), dtype=np.float16)
    with pytest.raises(TypeError, match=r"Dense must have dtype float32, .* got float16"):
        sm.Dense(a)


@pytest.mark.parametrize("dtype", ["int64", "bool", "float16", "complex256"])
def test_unsupported_dtype_arguments(dtype):
    msg = rf"unsupported dtype for numpy: dtype must be float32, float64, complex64 or complex128, got {dtype}"
    with pytest.raises(TypeError, match=msg):
        sm.Identity(3, dtype=dtype)
    with pytest.raises(TypeError, match=msg):
        sm.Zero((2, 3), dtype=dtype)
    with pytest.raises(TypeError, match=msg):
        sm.Permutation(np.arange(3), dtype=dtype)


def test_diagonal_not_1d(xp):
    with pytest.raises(ValueError, match=r"Diagonal expects a 1-d array, got shape \(2, 2\)"):
        sm.Diagonal(xp.asarray(np.ones((2, 2))))
    with pytest.raises(ValueError, match=r"Diagonal expects a 1-d array, got shape \(\)"):
        sm.Diagonal(xp.asarray(np.float64(1.0)))


def test_permutation_repeats(xp):
    with pytest.raises(ValueError, match=r"expects each index 0..3 exactly once, got 2 repeated"):
        sm.Permutation(xp.asarray(np.array([0, 0, 0, 3])))


def test_permutation_out_of_range(xp):
    with pytest.raises(ValueError, match=r"expects indices in \[0, 3\), got values from 0 to 3"):
        sm.Permutation(xp.asarray(np.array([0, 3, 1])))
    with pytest.raises(ValueError, match=r"expects indices in \[0, 2\), got values from -1 to 0"):
        sm.Permutation(xp.asarray(np.array([-1, 0])))


@pytest.mark.parametrize(("values", "shown"), [([0.0, 1.0], "float64"), ([True, False], "bool")])
def test_permutation_not_integer(xp, values, shown):
    with pytest.raises(
        TypeError, match=rf"Permutation expects an integer index array, got dtype {shown}"
    ):
        sm.Permutation(xp.asarray(np.array(values)))


def test_permutation_not_1d(xp):
    with pytest.raises(ValueError, match=r"Permutation expects a 1-d array, got shape \(2, 2\)"):
        sm.Permutation(xp.asarray(np.zeros((2, 2), dtype=np.int64)))


@pytest.mark.parametrize("n", [-1, 2.5, "3", True])
def test_identity_bad_size(n):
    with pytest.raises(
        ValueError, match=r"shape must be a pair of non-negative ints \(m, n\), got"
    ):
        sm.Identity(n)


@pytest.mark.parametrize("shape", [3, (3,), (2, -1), (2, 3, 4), (2.0, 3)])
def test_zero_bad_shape(shape):
    with pytest.raises(
        ValueError, match=r"shape must be a pair of non-negative ints \(m, n\), got"
    ):
        sm.Zero(shape)


# ---------------------------------------------------------------------- applying
def test_wrong_input_shape(xp):
    A = A34(xp)
    msg = r"Dense of shape \(3, 4\) expects input with 4 rows \(shape \(4,\), \(4, k\) or \(\.\.\., 4, k\)\), got shape "
    for shape in [(3,), (3, 2), (2, 3, 5), ()]:
        x = xp.asarray(np.ones(shape))
        with pytest.raises(ValueError, match=msg + re_shape(shape)):
            A @ x


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_wrong_left_input_shape():
    A = A34()
    with pytest.raises(
        ValueError,
        match=r"x @ Dense of shape \(3, 4\) expects input with 3 columns .* got shape \(2, 4\)",
    ):
        np.ones((2, 4)) @ A
    with pytest.raises(ValueError, match=r"expects input with 3 columns .* got shape \(4,\)"):
        np.ones(4) @ A


def test_matvec_matmat_shapes():
    A = A34()
    with pytest.raises(ValueError, match=r"matvec expects shape \(4,\) or \(4, 1\), got \(4, 2\)"):
        A.matvec(np.ones((4, 2)))
    with pytest.raises(
        ValueError, match=r"matmat expects a 2-d array of shape \(4, k\), got \(4,\)"
    ):
        A.matmat(np.ones(4))
    with pytest.raises(ValueError, match=r"matvec expects shape \(3,\) or \(3, 1\), got \(3, 2\)"):
        A.rmatvec(np.ones((3, 2)))


@pytest.mark.parametrize(
    "bad", [np.array(["a", "b", "c", "d"]), np.array([1, 2, 3, 4], dtype=object)]
)
def test_unsupported_input_dtype(bad):
    with pytest.raises(
        TypeError,
        match=r"Dense @ x: unsupported input dtype .*, expected a real or complex floating",
    ):
        A34() @ bad


def test_non_array_input():
    with pytest.raises(
        TypeError, match=r"Dense @ x: expected an array of an array-API library, got list"
    ):
        A34() @ [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(TypeError, match=r"unsupported operand type\(s\) for @"):
        A34() @ 2.0


# ---------------------------------------------------------------------- composition
def test_mismatched_composition(xp):
    A = A34(xp)
    with pytest.raises(
        ValueError,
        match=r"cannot compose Dense of shape \(3, 4\) with Dense of shape \(3, 4\): inner dimensions 4 != 3",
    ):
        A @ A
    with pytest.raises(
        ValueError,
        match=r"Product: inner dimensions differ, Dense of shape \(3, 4\) @ Dense of shape \(3, 4\)",
    ):
        Product(A, A)
    with pytest.raises(ValueError, match=r"cannot add operators of shapes \(3, 4\) and \(4, 3\)"):
        A + A.H
    with pytest.raises(ValueError, match=r"cannot add operators of shapes \(3, 4\) and \(4, 3\)"):
        A - A.T
    with pytest.raises(
        ValueError, match=r"Sum terms must share one shape, got \[\(3, 4\), \(4, 3\)\]"
    ):
        Sum(A, A.H)
    with pytest.raises(ValueError, match="Sum needs at least one term"):
        Sum()
    with pytest.raises(ValueError, match="Product needs at least one factor"):
        Product()


def test_bad_powers():
    A = A34()
    S = sm.Dense(np.eye(2))
    with pytest.raises(ValueError, match=r"only a square operator has powers, got shape \(3, 4\)"):
        A**2
    with pytest.raises(
        ValueError, match=r"operator powers: exponent must be an integer >= 0, got -1"
    ):
        S**-1
    with pytest.raises(TypeError, match=r"exponent must be an integer >= 0, got float 1.5"):
        S**1.5
    with pytest.raises(TypeError, match=r"exponent must be an integer >= 0, got bool True"):
        S**True
    with pytest.raises(ValueError, match=r"only a square operator has powers, got shape \(3, 4\)"):
        Power(A, 2)


def test_bad_scalars():
    A = A34()
    with pytest.raises(ValueError, match=r"cannot compose .* inner dimensions 4 != 3"):
        A * A  # SciPy's meaning: a product
    with pytest.raises(TypeError, match=r"expected an array"):
        A * None
    with pytest.raises(ZeroDivisionError, match="cannot divide an operator by zero"):
        A / 0
    with pytest.raises(TypeError, match="Scaled expects a Python number, got ndarray"):
        Scaled(np.ones(2), A)
    with pytest.raises(TypeError, match="Scaled expects a LinearOperator, got ndarray"):
        Scaled(2.0, np.ones(2))
    with pytest.raises(TypeError, match="Sum expects LinearOperator arguments, got ndarray"):
        Sum(A, np.ones((3, 4)))


# ---------------------------------------------------------------------- backends
def _torch_namespace():
    torch = pytest.importorskip("torch")
    return torch, array_api_compat.array_namespace(torch.empty(0))


def test_mixed_backends_apply():
    torch, tx = _torch_namespace()
    import array_api_strict as xs

    with pytest.raises(
        TypeError,
        match=r"Dense @ x: cannot mix array namespaces, operator uses numpy but got torch",
    ):
        A34() @ torch.ones(4, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"operator uses array_api_strict but got numpy"):
        A34(xs) @ np.ones(4)
    with pytest.raises(TypeError, match=r"operator uses torch but got array_api_strict"):
        A34(tx) @ xs.ones(4, dtype=xs.float64)
    with pytest.raises(
        TypeError,
        match=r"x @ Dense: cannot mix array namespaces, operator uses torch but got numpy",
    ):
        A34(tx).__rmatmul__(np.ones(3))


def test_mixed_backends_compose():
    _torch, tx = _torch_namespace()
    with pytest.raises(
        TypeError, match=r"Product: cannot mix array namespaces, operator uses numpy but got torch"
    ):
        A34() @ A34(tx).H
    with pytest.raises(
        TypeError, match=r"Sum: cannot mix array namespaces, operator uses torch but got numpy"
    ):
        A34(tx) + A34()
    with pytest.raises(
        TypeError, match=r"Sum: cannot mix array namespaces, operator uses numpy but got torch"
    ):
        Sum(A34(), A34(tx))


def test_mismatched_devices():
    import array_api_strict as xs

    other = xs.Device("device1")
    A = sm.Dense(xs.asarray(np.eye(2), device=other))
    with pytest.raises(
        ValueError, match=r"cannot mix devices, operator is on .*device1.* but got .*CPU_DEVICE"
    ):
        A @ xs.ones(2, dtype=xs.float64)
    B = sm.Dense(xs.asarray(np.eye(2)))
    with pytest.raises(ValueError, match=r"Product: cannot mix devices"):
        A @ B


def test_to_bad_dtypes():
    C = sm.Dense(np.eye(2, dtype=np.complex64))
    with pytest.raises(TypeError, match=r"cannot convert a complex operator to real dtype float32"):
        C.to(dtype=np.float32)
    with pytest.raises(
        TypeError,
        match=r"to\(dtype=...\) must have dtype float32, float64, complex64 or complex128, got int32",
    ):
        C.to(dtype="int32")


# ---------------------------------------------------------------------- integer-like arguments
# One parser for every integer, shape pair and nblocks (structmat._args): a float,
# a bool or a string is refused by type, never truncated (3.7 -> 3) or split ('44').
def _monarch_factors():
    return np.ones((2, 2, 2)), np.ones((2, 2, 2))


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (
            lambda: sm.Monarch(*_monarch_factors(), shape=(3.7, 4)),
            TypeError,
            r"Monarch: shape must be a pair of integers >= 1, got \(3.7, 4\) \(float 3.7 is no integer\)",
        ),
        (
            lambda: sm.Monarch(*_monarch_factors(), shape=(True, 4)),
            TypeError,
            r"Monarch: shape must be a pair of integers >= 1, got \(True, 4\) \(bool True",
        ),
        (
            lambda: sm.Monarch(*_monarch_factors(), shape=(4, 4, 1)),
            ValueError,
            r"Monarch: shape must be a pair of integers >= 1, got 3 entries",
        ),
        (
            lambda: sm.Monarch(*_monarch_factors(), shape="44"),
            TypeError,
            r"Monarch: shape must be a pair of integers >= 1, got str '44'",
        ),
        (
            lambda: sm.Monarch.square(2.5),
            TypeError,
            r"Monarch.square: n must be an integer >= 1, got float 2.5",
        ),
        (
            lambda: sm.Monarch.random((8.0, 8)),
            TypeError,
            r"Monarch.random: shape must be a pair of integers >= 1, got \(8.0, 8\)",
        ),
        (
            lambda: sm.Monarch.random((8, 8), nblocks=(2.7, 3.2)),
            TypeError,
            r"Monarch.random: nblocks must be an integer or a pair \(K, J\) of integers, got \(2.7, 3.2\)",
        ),
        (
            lambda: sm.Monarch.random((16, 16), nblocks="44"),
            TypeError,
            r"Monarch.random: nblocks must be an integer or a pair \(K, J\) of integers, got str '44'",
        ),
        (
            lambda: sm.Monarch.random((16, 16), nblocks=4.0),
            TypeError,
            r"nblocks must be an integer or a pair \(K, J\) of integers, got float 4.0",
        ),
        (
            lambda: sm.Monarch.project(np.ones((16, 16)), nblocks=(True, 4)),
            TypeError,
            r"Monarch.project: nblocks must be an integer or a pair",
        ),
        (
            lambda: sm.constructions.dft_as_monarch(16, nblocks=2.0),
            TypeError,
            r"dft_as_monarch: nblocks must be an integer or a pair \(K, J\) of integers, got float 2.0",
        ),
        (
            lambda: sm.constructions.dft_as_monarch(16, nblocks=(4, 4.0)),
            TypeError,
            r"dft_as_monarch: nblocks must be an integer or a pair",
        ),
        (
            lambda: sm.DCT(8, type=2.0),
            ValueError,
            r"DCT type must be one of 1, 2, 3, 4; got 2.0 \(float\)",
        ),
        (
            lambda: sm.DST(8, type=True),
            ValueError,
            r"DST type must be one of 1, 2, 3, 4; got True \(bool\)",
        ),
        (
            lambda: sm.Butterfly.random(8.0),
            TypeError,
            r"Butterfly.random: n must be an integer >= 2, got float 8.0",
        ),
        (
            lambda: sm.Butterfly.identity(8.5),
            TypeError,
            r"Butterfly.identity: n must be an integer >= 2, got float 8.5",
        ),
        (
            lambda: sm.symbolic.verify_all(sizes=[2.5]),
            TypeError,
            r"verify_all: each of sizes must be an integer >= 1, got float 2.5",
        ),
        (
            lambda: sm.symbolic.verify_all(sizes=4),
            TypeError,
            r"verify_all: sizes must be a sequence of integers, got int 4",
        ),
        (
            lambda: sm.project(np.ones((4, 4)), "block_diagonal", sizes=[(2.0, 2), (2, 2)]),
            TypeError,
            r"each block size must be a pair of integers >= 1, got \(2.0, 2\)",
        ),
    ],
)
def test_integer_arguments_are_never_truncated(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_integer_like_values_that_are_integers_still_work():
    L, R = _monarch_factors()
    M = sm.Monarch(L, R, shape=(np.int64(3), 4))
    assert M.shape == (3, 4)
    assert type(M.shape[0]) is int
    assert sm.Monarch.random((8, 8), nblocks=np.array([2, 4])).to_dense().shape == (8, 8)
    assert sm.Monarch.square(np.int32(4), nblocks=(2, 2)).shape == (4, 4)
    assert sm.DCT(4, type=np.int64(3)).type == 3


# ---------------------------------------------------------------------- array namespaces
@pytest.mark.parametrize(
    ("xp", "shown"),
    [
        ("torch", r"got str 'torch'; pass the module itself \(import torch; xp=torch\)"),
        ("numpy", r"got str 'numpy'; pass the module itself"),
        (np.linalg, r"got module numpy.linalg \(it has no asarray, float64, isdtype\)"),
        (42, r"got int 42 \(it has no asarray"),
    ],
)
@pytest.mark.parametrize(
    "build",
    [
        lambda xp: sm.DFT(4, xp=xp),
        lambda xp: sm.DCT(4, xp=xp),
        lambda xp: sm.Identity(3, xp=xp),
        lambda xp: sm.Monarch.random((4, 4), xp=xp),
        lambda xp: sm.Butterfly.random(4, xp=xp),
        lambda xp: sm.Dense(np.eye(2)).to(xp=xp),
    ],
)
def test_xp_must_be_an_array_namespace(build, xp, shown):
    # a TypeError naming the argument, never an AttributeError or a dtype complaint
    with pytest.raises(
        TypeError,
        match=r"xp must be an array namespace such as numpy, torch or array_api_strict, " + shown,
    ):
        build(xp)


def test_a_device_the_backend_cannot_reach_is_named():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the move succeeds")
    with pytest.raises(
        ValueError, match=r"cannot move an array to device 'cuda' of torch: AssertionError"
    ):
        sm.Dense(np.eye(2)).to(xp=torch, device="cuda")

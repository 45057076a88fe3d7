"""SciPy / PyLops interop: real solvers against dense NumPy/SciPy answers.

Every ``scipy.sparse.linalg`` solver runs twice: with the structmat operator
passed directly and with ``op.to_scipy()``. Oracles: ``numpy.linalg.solve``,
``lstsq``, ``eigvalsh``, ``svd`` and ``scipy.linalg.expm`` on the dense matrix
built with NumPy from the operator's raw parts.

Iterative solvers stop at their own tolerance, so their comparisons use an
explicit ``rtol`` (``SOLVER_RTOL``) instead of the roundoff-based default.
"""

from __future__ import annotations

import inspect

import array_api_strict
import numpy as np
import pytest
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg as sla
from _helpers import oracle_as

import structmat as sm
from structmat.blocks import BlockDiagonal, Kronecker, vstack
from structmat.interop import FromSciPy, SciPyLinearOperator, aslinearoperator, to_scipy
from structmat.testing import assert_close, to_numpy

SOLVER_RTOL = 1e-6  # the solvers below run to rtol=1e-10 on well-conditioned systems


def spd(rng, n, dtype="float64"):
    G = rng.standard_normal((n, n))
    if dtype.startswith("complex"):
        G = G + 1j * rng.standard_normal((n, n))
    return (G @ G.conj().T / n + np.eye(n)).astype(dtype)


def operators(dtype="float64"):
    """(name, structured operator, dense NumPy oracle) of square SPD operators."""
    rng = np.random.default_rng(0)
    S = np.stack([spd(rng, 4, dtype) for _ in range(3)])
    A, B = spd(rng, 3, dtype), spd(rng, 4, dtype)
    D = spd(rng, 12, dtype)
    return [
        ("block_diagonal", BlockDiagonal(S), scipy.linalg.block_diag(*S)),
        ("kronecker", Kronecker(A, B), np.kron(A, B)),
        ("dense_sum", sm.Dense(D) + sm.Identity(12), D + np.eye(12)),
    ]


SQUARE = operators()
IDS = [name for name, _, _ in SQUARE]


def tall():
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((6, 4)), rng.standard_normal((5, 4))
    C = rng.standard_normal((2, 3, 2)) + 1j * rng.standard_normal((2, 3, 2))
    return [
        ("vstack", vstack([A, sm.Dense(B)]), np.vstack([A, B])),
        ("block_diagonal_complex", BlockDiagonal(C), scipy.linalg.block_diag(*C)),
    ]


TALL = tall()
TALL_IDS = [name for name, _, _ in TALL]


def route(op, via):
    return op if via == "direct" else op.to_scipy()


VIA = ["direct", "to_scipy"]


# ---------------------------------------------------------------------- solvers
@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize(("name", "op", "D"), SQUARE, ids=IDS)
def test_cg_minres(via, name, op, D):
    b = np.arange(1.0, D.shape[0] + 1)
    x, info = sla.cg(route(op, via), b, rtol=1e-10, maxiter=500)
    assert info == 0
    assert_close(x, np.linalg.solve(D, b), rtol=SOLVER_RTOL)
    x, info = sla.minres(route(op, via), b, rtol=1e-10, maxiter=500)
    assert info == 0
    assert_close(x, np.linalg.solve(D, b), rtol=SOLVER_RTOL)


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize(("name", "op", "D"), SQUARE, ids=IDS)
def test_gmres_nonsymmetric(via, name, op, D):
    n = D.shape[0]
    rng = np.random.default_rng(2)
    N = rng.standard_normal((n, n)) / n
    A = op + sm.Dense(N)
    b = rng.standard_normal(n)
    x, info = sla.gmres(route(A, via), b, rtol=1e-10, restart=n, maxiter=200)
    assert info == 0
    assert_close(x, np.linalg.solve(D + N, b), rtol=SOLVER_RTOL)


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize(("name", "op", "D"), TALL, ids=TALL_IDS)
def test_lsqr_lsmr(via, name, op, D):
    rng = np.random.default_rng(3)
    b = rng.standard_normal(D.shape[0])
    if np.iscomplexobj(D):  # lsmr needs a complex right-hand side for a complex operator
        b = b + 1j * rng.standard_normal(D.shape[0])
    expected = np.linalg.lstsq(D, b, rcond=None)[0]
    x = sla.lsqr(route(op, via), b, atol=1e-12, btol=1e-12, iter_lim=500)[0]
    assert_close(x, expected, rtol=SOLVER_RTOL)
    x = sla.lsmr(route(op, via), b, atol=1e-12, btol=1e-12, maxiter=500)[0]
    assert_close(x, expected, rtol=SOLVER_RTOL)


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize(("name", "op", "D"), SQUARE, ids=IDS)
def test_eigsh(via, name, op, D):
    w = sla.eigsh(route(op, via), k=3, return_eigenvectors=False, tol=1e-12)
    assert_close(np.sort(w), np.linalg.eigvalsh(D)[-3:], rtol=SOLVER_RTOL)


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize(("name", "op", "D"), TALL, ids=TALL_IDS)
def test_svds(via, name, op, D):
    s = sla.svds(route(op, via), k=2, return_singular_vectors=False, tol=1e-12, random_state=0)
    assert_close(np.sort(s), np.sort(np.linalg.svd(D, compute_uv=False))[-2:], rtol=SOLVER_RTOL)


def _expm_multiply(A, b, D):
    with np.errstate(all="ignore"):
        y = sla.expm_multiply(A, b, traceA=float(np.trace(D)))
    assert_close(y, scipy.linalg.expm(D) @ b, rtol=SOLVER_RTOL)


@pytest.mark.parametrize(("name", "op", "D"), SQUARE, ids=IDS)
def test_expm_multiply_to_scipy(name, op, D):
    _expm_multiply(op.to_scipy(), np.ones(D.shape[0]), D)
    _expm_multiply(op.to_scipy(), np.ones((D.shape[0], 2)), D)


def test_expm_multiply_direct():
    _, op, D = SQUARE[0]
    _expm_multiply(op, np.ones(D.shape[0]), D)


def test_float32_and_complex_through_scipy():
    rng = np.random.default_rng(4)
    S32 = np.stack([spd(rng, 3, "float32") for _ in range(2)])
    A = BlockDiagonal(S32).to_scipy()
    assert A.dtype == np.float32
    assert (A @ np.ones(6, dtype=np.float32)).dtype == np.float32
    b = np.ones(6, dtype=np.float32)
    x, info = sla.cg(A, b, rtol=1e-6)
    assert info == 0
    assert_close(
        x,
        oracle_as(
            np.linalg.solve(scipy.linalg.block_diag(*S32).astype(np.float64), b), np, "float32"
        ),
        rtol=1e-4,
    )
    C = spd(rng, 5, "complex128")
    x, info = sla.cg(sm.Dense(C).to_scipy(), np.ones(5), rtol=1e-12)
    assert info == 0
    assert_close(x, np.linalg.solve(C, np.ones(5)), rtol=SOLVER_RTOL)


# ---------------------------------------------------------------------- the wrapper
class Counting(sm.LinearOperator):
    """A dense operator that counts calls of its kernels."""

    def __init__(self, A):
        super().__init__(shape=A.shape, dtype=A.dtype, xp=sm.Dense(A).xp)
        self.A = A
        self.calls = {"matmat": 0, "rmatmat": 0}

    def _matmat(self, X):
        self.calls["matmat"] += 1
        return self.A @ X

    def _rmatmat(self, X):
        self.calls["rmatmat"] += 1
        return self.A.conj().T @ X


def test_block_products_use_one_matmat():
    A = np.arange(12.0).reshape(4, 3)
    op = Counting(A)
    S = to_scipy(op)
    X = np.ones((3, 7))
    assert_close(S.matmat(X), A @ X)
    assert_close(S @ X, A @ X)
    assert op.calls["matmat"] == 2
    Y = np.ones((4, 5))
    assert_close(S.rmatmat(Y), A.T @ Y)
    assert_close(S.H.matmat(Y), A.T @ Y)
    assert op.calls["rmatmat"] == 2


def test_wrapper_structure():
    rng = np.random.default_rng(5)
    M = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    op = sm.Dense(M)
    S = op.to_scipy()
    assert isinstance(S, sla.LinearOperator)
    assert isinstance(S, SciPyLinearOperator)
    assert S.operator is op
    assert S.dtype == np.complex128
    assert S.shape == (3, 2)
    assert S.H.H is S
    assert S.T.T is S
    assert S.H.operator is op.H
    x, y = rng.standard_normal(2), rng.standard_normal(3)
    assert_close(S.matvec(x), M @ x)
    assert_close(S.rmatvec(y), M.conj().T @ y)
    assert_close(S.T.matvec(y), M.T @ y)
    assert_close(S.H.matmat(np.eye(3)), M.conj().T)
    assert_close((2 * S + S) @ x, 3 * M @ x)


def test_wrapper_vector_conventions_of_scipy_117_and_118():
    A = np.arange(6.0).reshape(3, 2)
    S = sm.Dense(A).to_scipy()
    # SciPy <= 1.17: a column (n, 1)
    assert_close(S._matvec(np.ones((2, 1))), A @ np.ones((2, 1)))
    # SciPy >= 1.18: a batch of row vectors (..., n)
    rows = np.arange(8.0).reshape(2, 2, 2)
    assert_close(S._matvec(rows), np.einsum("ij,abj->abi", A, rows))
    assert_close(S._rmatvec(np.ones((4, 3))), np.ones((4, 3)) @ A)
    # batched matmat (..., n, k)
    Xb = np.ones((2, 2, 3))
    assert_close(S._matmat(Xb), A @ Xb)


def test_to_scipy_bad_input(xp):
    with pytest.raises(TypeError, match="expects a structmat LinearOperator, got ndarray"):
        to_scipy(np.eye(2))
    op = sm.Dense(xp.eye(2, dtype=xp.float64))
    if sm.Dense(np.eye(1)).xp is op.xp:
        assert isinstance(op.to_scipy(), SciPyLinearOperator)
    elif "cupy" in op.xp.__name__:
        pass  # covered by test_cupy_to_scipy
    else:
        with pytest.raises(TypeError, match=r"NumPy- or CuPy-backed operator.*op\.to\(xp=numpy\)"):
            op.to_scipy()


def test_cupy_to_scipy():
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("CuPy needs a GPU")
    except Exception:  # no driver means no GPU here
        pytest.skip("CuPy needs a GPU")
    import cupyx.scipy.sparse.linalg as csla

    rng = np.random.default_rng(6)
    S = np.stack([spd(rng, 4) for _ in range(2)])
    op = BlockDiagonal(cupy.asarray(S))
    C = op.to_scipy()
    assert isinstance(C, csla.LinearOperator)
    b = cupy.ones(8)
    # CuPy 14 renamed tol to rtol, as SciPy did
    tol = "rtol" if "rtol" in inspect.signature(csla.cg).parameters else "tol"
    x, info = csla.cg(C, b, **{tol: 1e-10})
    assert int(info) == 0
    assert_close(x, np.linalg.solve(scipy.linalg.block_diag(*S), np.ones(8)), rtol=SOLVER_RTOL)
    X = cupy.ones((8, 3))
    assert_close(C.matmat(X), scipy.linalg.block_diag(*S) @ np.ones((8, 3)))
    assert_close(C.H.matvec(b), scipy.linalg.block_diag(*S).T @ np.ones(8))


# ---------------------------------------------------------------------- aslinearoperator
def test_aslinearoperator_arrays(xp):
    A = np.arange(6.0).reshape(2, 3)
    op = aslinearoperator(xp.asarray(A))
    assert isinstance(op, sm.Dense)
    assert op.xp is not None
    assert_close(op.to_dense(), oracle_as(A, xp))
    assert aslinearoperator(op) is op


def test_aslinearoperator_scipy_objects():
    rng = np.random.default_rng(7)
    M = rng.standard_normal((4, 3))
    op = aslinearoperator(sla.aslinearoperator(M))
    assert isinstance(op, FromSciPy)
    assert op.dtype == np.float64
    assert op.parameter_count == 12
    x, y = rng.standard_normal(3), rng.standard_normal(4)
    assert_close(op @ x, M @ x)
    assert_close(op.H @ y, M.T @ y)
    assert_close(op.to_dense(), M)
    assert_close((2 * op + sm.Dense(M)) @ x, 3 * M @ x)
    assert_close(x @ op.H, M @ x)
    # a SciPy operator made from matvec/rmatvec callables
    custom = sla.LinearOperator((4, 3), matvec=lambda v: M @ v, rmatvec=lambda v: M.T @ v)
    assert_close(aslinearoperator(custom) @ np.eye(3), M)
    # sparse matrices and arrays
    Sp = scipy.sparse.random(5, 4, density=0.5, random_state=0, format="csr")
    sop = aslinearoperator(Sp)
    assert sop.parameter_count == Sp.nnz
    assert_close(sop.to_dense(), Sp.toarray())
    D = sm.Diagonal(np.arange(1.0, 4.0))
    assert aslinearoperator(D.to_scipy()) is D


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_aslinearoperator_np_matrix():
    M = np.arange(6.0).reshape(2, 3)
    op = aslinearoperator(np.asmatrix(M))
    assert isinstance(op, sm.Dense)
    assert type(op.A) is np.ndarray
    assert_close(op @ np.ones(3), M @ np.ones(3))


def test_from_scipy_dtypes_and_to():
    Mi = np.arange(6, dtype=np.int64).reshape(2, 3)
    op = aslinearoperator(sla.aslinearoperator(Mi))
    assert op.dtype == np.float64
    y = op @ np.ones(3, dtype=np.float32)
    assert y.dtype == np.float64
    assert_close(y, Mi @ np.ones(3))
    op32 = op.to(dtype=np.float32)
    assert op32.dtype == np.float32
    assert (op32 @ np.ones(3, dtype=np.float32)).dtype == np.float32
    with pytest.raises(TypeError, match=r"runs on NumPy only.*array_api_strict"):
        op.to(xp=array_api_strict)
    assert repr(op).startswith("FromSciPy(<2x3 MatrixLinearOperator")


def test_aslinearoperator_bad_input():
    with pytest.raises(TypeError, match="got list"):
        aslinearoperator([[1.0, 2.0]])
    with pytest.raises(TypeError, match="got str"):
        aslinearoperator("A")
    with pytest.raises(ValueError, match=r"2-d array, got shape \(3,\)"):
        aslinearoperator(np.ones(3))
    assert aslinearoperator(np.ones((2, 2), dtype=np.int64)).dtype == np.float64
    with pytest.raises(TypeError, match="got float16"):
        aslinearoperator(np.ones((2, 2), dtype=np.float16))
    with pytest.raises(
        TypeError,
        match=r"expects a scipy\.sparse\.linalg\.LinearOperator or a PyLops operator, got ndarray",
    ):
        FromSciPy(np.eye(2))


def test_lazy_public_name():
    assert sm.aslinearoperator is aslinearoperator


# ---------------------------------------------------------------------- PyLops
@pytest.mark.parametrize(
    "op",
    [
        BlockDiagonal(np.arange(24.0).reshape(2, 3, 4) / 10),
        Kronecker(np.arange(6.0).reshape(2, 3), np.eye(2) + 1j),
        vstack([np.ones((2, 3)), sm.Dense(np.arange(3.0)[None, :])]),
    ],
    ids=["block_diagonal", "kronecker_complex", "vstack"],
)
def test_pylops_dottest_and_apply(op):
    pylops = pytest.importorskip("pylops")
    P = pylops.aslinearoperator(op.to_scipy())
    m, n = op.shape
    complexflag = 3 if np.iscomplexobj(np.zeros(1, dtype=op.dtype)) else 0
    assert pylops.utils.dottest(P, m, n, complexflag=complexflag, rtol=1e-10)
    x = np.arange(1.0, n + 1)
    D = to_numpy(op.to_dense())
    assert_close(P @ x, D @ x)
    assert_close(P.H @ np.ones(m), D.conj().T @ np.ones(m))


def test_pylops_solver():
    pylops = pytest.importorskip("pylops")
    _, op, D = SQUARE[1]
    P = pylops.aslinearoperator(op.to_scipy())
    b = np.ones(D.shape[0])
    x = pylops.optimization.basic.cg(P, b, niter=200, tol=1e-12)[0]
    assert_close(x, np.linalg.solve(D, b), rtol=SOLVER_RTOL)

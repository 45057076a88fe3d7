"""BlockDiagonal, Kronecker, hstack/vstack/block against independent NumPy/SciPy oracles.

Oracles: ``scipy.linalg.block_diag``, ``np.kron``, ``np.hstack``/``np.vstack``/
``np.block`` built from the parts' raw arrays (never ``to_dense`` of the
operator under test), and ``np.einsum`` for batched products.
"""

from __future__ import annotations

import functools

import array_api_strict
import numpy as np
import pytest
import scipy.linalg
from _helpers import oracle_as, random_array
from hypothesis import given
from hypothesis import strategies as st

import structmat as sm
from structmat.blocks import BlockDiagonal, BlockMatrix, Kronecker, block, hstack, vstack
from structmat.testing import assert_close, to_numpy
from structmat.testing.market_blocks import MARKET

DTYPES = ["float32", "float64", "complex64", "complex128"]


def oracle(op) -> np.ndarray:
    """Dense NumPy matrix of ``op`` built from its parts with NumPy/SciPy only."""
    name = type(op).__name__
    if name == "Dense":
        return to_numpy(op.A)
    if name == "Diagonal":
        return np.diag(to_numpy(op.d))
    if name == "Identity":
        return np.eye(op.shape[0])
    if name == "Zero":
        return np.zeros(op.shape)
    if name == "BlockDiagonal":
        if op.stack is not None:
            return scipy.linalg.block_diag(*to_numpy(op.stack))
        return scipy.linalg.block_diag(*(oracle(b) for b in op.blocks))
    if name == "Kronecker":
        return functools.reduce(np.kron, [oracle(f) for f in op.factors])
    if name == "BlockMatrix":
        return np.block([[oracle(b) for b in row] for row in op.blocks])
    msg = f"no oracle for {name}"
    raise AssertionError(msg)


def check_against(op, D: np.ndarray, xp, seed: int = 0) -> None:
    """Every way of applying ``op`` (and its H, T) agrees with the dense oracle ``D``."""
    rng = np.random.default_rng(seed)
    m, n = op.shape
    dt = to_numpy(xp.zeros(1, dtype=op.dtype)).dtype.name
    size = max(m, n, 1)
    assert tuple(op.shape) == D.shape
    assert_close(op.to_dense(), oracle_as(D, xp, op.dtype), size=size, what="to_dense")
    x, X = random_array(rng, (n,), dt), random_array(rng, (n, 3), dt)
    Xb = random_array(rng, (2, 2, n, 3), dt)
    assert_close(op @ xp.asarray(x), oracle_as(D @ x, xp, op.dtype), size=size, what="op @ x")
    assert_close(op @ xp.asarray(X), oracle_as(D @ X, xp, op.dtype), size=size, what="op @ X")
    assert_close(
        op @ xp.asarray(Xb),
        oracle_as(np.einsum("ij,abjk->abik", D, Xb), xp, op.dtype),
        size=size,
        what="batched op @ X",
    )
    y, Y = random_array(rng, (m,), dt), random_array(rng, (m, 2), dt)
    assert_close(
        op.H @ xp.asarray(y), oracle_as(D.conj().T @ y, xp, op.dtype), size=size, what="op.H @ y"
    )
    assert_close(op.T @ xp.asarray(Y), oracle_as(D.T @ Y, xp, op.dtype), size=size, what="op.T @ Y")
    assert_close(
        op.rmatmat(xp.asarray(Y)),
        oracle_as(D.conj().T @ Y, xp, op.dtype),
        size=size,
        what="rmatmat",
    )
    assert_close(
        op.conj() @ xp.asarray(x), oracle_as(D.conj() @ x, xp, op.dtype), size=size, what="conj"
    )
    # columns one at a time: the matrix the operator applies
    cols = np.stack([to_numpy(op @ xp.asarray(np.eye(n, dtype=dt)[:, j])) for j in range(n)], 1)
    assert_close(cols.reshape(m, n), oracle_as(D, np, op.dtype), size=size, what="columns")
    assert op.H.H is op
    assert (op @ xp.asarray(x)).dtype == op.dtype


def arr(xp, a):
    return xp.asarray(a)


# ---------------------------------------------------------------------- market laws
@pytest.mark.parametrize("name", sorted(MARKET))
def test_market_against_oracle(xp, name):
    @given(op=MARKET[name](xp))
    def run(op):
        assert op.xp is xp or to_numpy(op.to_dense()) is not None
        check_against(op, oracle(op), xp)

    run()


@given(data=st.data())
def test_market_structural_adjoints(data):
    name = data.draw(st.sampled_from(sorted(MARKET)))
    op = data.draw(MARKET[name](np))
    kind = type(op)
    assert type(op.H) is kind
    assert type(op.T) is kind
    assert_close(op.H.to_dense(), oracle(op).conj().T, size=64)


# ---------------------------------------------------------------------- BlockDiagonal
@pytest.mark.parametrize("dtype", DTYPES)
def test_block_diagonal_stack(xp, dtype):
    rng = np.random.default_rng(1)
    S = random_array(rng, (4, 3, 2), dtype)
    op = BlockDiagonal(arr(xp, S))
    assert op.shape == (12, 8)
    assert op.nblocks == 4
    assert op.block_shapes == ((3, 2),) * 4
    assert op.parameter_count == 24
    assert op.flops(5) == 4 * 3 * 2 * 5
    check_against(op, scipy.linalg.block_diag(*S), xp)
    assert isinstance(op.H, BlockDiagonal)
    assert op.H.stack is not None
    assert_close(op.blocks[2].to_dense(), oracle_as(S[2], xp))


def test_block_diagonal_list_unequal(xp):
    rng = np.random.default_rng(2)
    A, B, d = random_array(rng, (2, 3)), random_array(rng, (4, 1)), random_array(rng, (3,))
    op = BlockDiagonal([arr(xp, A), sm.Dense(arr(xp, B)), sm.Diagonal(arr(xp, d))])
    assert op.stack is None
    assert op.shape == (9, 7)
    assert op.block_shapes == ((2, 3), (4, 1), (3, 3))
    assert op.parameter_count == 6 + 4 + 3
    assert op.flops(2) == (6 + 4 + 3) * 2
    check_against(op, scipy.linalg.block_diag(A, B, np.diag(d)), xp)
    assert isinstance(op.H, BlockDiagonal)
    assert [type(b).__name__ for b in op.H.blocks] == ["Dense", "Dense", "Diagonal"]


def test_block_diagonal_list_of_equal_arrays_is_stacked(xp):
    rng = np.random.default_rng(3)
    blocks = [random_array(rng, (2, 2)) for _ in range(3)]
    op = BlockDiagonal([arr(xp, b) for b in blocks])
    assert op.stack is not None
    check_against(op, scipy.linalg.block_diag(*blocks), xp)


# Inputs that take each path of the KS driver: one vector (gemv), one and two columns,
# a wide matrix, stacks of vectors, narrow and wide stacks, and non-contiguous views.
INPUT_SHAPES = [(), (1,), (2,), (64,), (3, 1), (2, 2, 1), (4, 2), (2, 9), (2, 3, 64)]


def _oracle_product(D: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``D @ X`` for ``X`` of shape (n,), (n, k) or (..., n, k), in NumPy."""
    return D @ X if X.ndim == 1 else np.einsum("ij,...jk->...ik", D, X)


def _shaped(rng, n: int, tail: tuple, dtype: str) -> np.ndarray:
    if not tail:
        return random_array(rng, (n,), dtype)
    *lead, k = tail
    return random_array(rng, (*lead, n, k), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tail", INPUT_SHAPES)
def test_block_diagonal_stack_products_every_input_shape(xp, dtype, tail):
    # the stack as KS(k, m, n, 1) through structmat.ks, against scipy's block_diag
    rng = np.random.default_rng(11)
    S = random_array(rng, (5, 7, 3), dtype)
    D = scipy.linalg.block_diag(*S)
    op = BlockDiagonal(arr(xp, S))
    assert op.patterns == ((5, 7, 3, 1),)
    X = _shaped(rng, 15, tail, dtype)
    Y = op @ arr(xp, X)
    assert_close(Y, oracle_as(_oracle_product(D, X), xp, op.dtype), size=15, what=f"op @ X{tail}")
    Z = _shaped(rng, 35, tail, dtype)
    for got, want, what in (
        (op.H @ arr(xp, Z), _oracle_product(D.conj().T, Z), "op.H @ Z"),
        (op.T @ arr(xp, Z), _oracle_product(D.T, Z), "op.T @ Z"),
        (op.conj() @ arr(xp, X), _oracle_product(D.conj(), X), "op.conj() @ X"),
    ):
        assert_close(got, oracle_as(want, xp, op.dtype), size=35, what=f"{what}{tail}")
    if len(tail) == 1:
        assert_close(
            op.rmatmat(arr(xp, Z)), oracle_as(D.conj().T @ Z, xp, op.dtype), size=35, what="rmatmat"
        )


@pytest.mark.parametrize(
    ("op_dtype", "x_dtype"),
    [
        ("float32", "float64"),
        ("float64", "complex128"),
        ("float32", "complex64"),
        ("complex64", "float32"),
        ("complex64", "complex128"),
    ],
)
@pytest.mark.parametrize("tail", [(), (1,), (16,), (2, 3, 2)])
def test_block_diagonal_stack_mixed_dtypes(xp, op_dtype, x_dtype, tail):
    # casts of the stack and a real stack on complex data (2k real columns on NumPy)
    rng = np.random.default_rng(12)
    S = random_array(rng, (4, 3, 5), op_dtype)
    op = BlockDiagonal(arr(xp, S))
    X = _shaped(rng, 20, tail, x_dtype)
    Y = op @ arr(xp, X)
    want = np.result_type(S.dtype, X.dtype).name
    assert_close(
        Y,
        oracle_as(_oracle_product(scipy.linalg.block_diag(*S), X), xp, want),
        size=20,
        what=f"{op_dtype} op @ {x_dtype} X{tail}",
    )


def test_block_diagonal_stack_strided_inputs():
    rng = np.random.default_rng(13)
    S = random_array(rng, (3, 4, 2), "complex128")
    D = scipy.linalg.block_diag(*S)
    op = BlockDiagonal(S)
    W = random_array(rng, (12, 40), "complex128")
    for X in (W[::2, ::3], np.asfortranarray(W[:6, :9]), W[:6, 5], W[:6, ::4].T.copy().T):
        assert_close(op @ X, D @ X, size=6, what=f"strides {X.strides}")
    # the stack itself a transposed view (the adjoint's layout) or sliced
    big = random_array(rng, (3, 2, 8), "float64")
    for T in (np.swapaxes(big, 1, 2), big[:, :, ::2], big[::-1]):
        op = BlockDiagonal(T)
        X = random_array(rng, (op.shape[1], 10), "float64")
        assert_close(op @ X, scipy.linalg.block_diag(*T) @ X, size=8, what="strided stack")
        assert_close(op.to_dense(), scipy.linalg.block_diag(*T), what="strided to_dense")


@pytest.mark.parametrize("dtype", ["float32", "complex64", "float64", "complex128"])
def test_block_diagonal_stack_follows_in_place_changes(dtype):
    # no cast, conjugate or layout of the stack is kept between products
    rng = np.random.default_rng(14)
    S = random_array(rng, (4, 3, 3), dtype)
    op = BlockDiagonal(S)
    x = random_array(rng, (12, 9), dtype)
    xs = [x, x[:, 0], x[None, :, :2], random_array(rng, (12, 3), "complex128")]
    for x in xs:  # every path once, with the original values
        _ = op @ x, op.H @ x, op.T @ x, op.conj() @ x
    S *= -1.5
    S[1, 0, 2] = 7.0
    D = scipy.linalg.block_diag(*S)
    assert_close(op.to_dense(), D, what="to_dense after a change")
    for x in xs:
        for got, want, what in (
            (op @ x, _oracle_product(D, x), "op @ x"),
            (op.H @ x, _oracle_product(D.conj().T, x), "op.H @ x"),
            (op.T @ x, _oracle_product(D.T, x), "op.T @ x"),
            (op.conj() @ x, _oracle_product(D.conj(), x), "op.conj() @ x"),
        ):
            dt = np.result_type(S.dtype, x.dtype).name
            assert_close(got, oracle_as(want, np, dt), size=12, what=f"{what} after a change")


def test_block_diagonal_torch_parameter_stays_live():
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    W = torch.nn.Parameter(torch.randn(4, 3, 2, dtype=torch.float64, generator=gen))
    op = BlockDiagonal(W)
    X = torch.randn(8, 5, dtype=torch.float64, generator=gen)
    opt = torch.optim.SGD([W], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        loss = (op @ X).square().sum()
        loss.backward()
        opt.step()
        D = scipy.linalg.block_diag(*W.detach().numpy())
        with torch.no_grad():
            assert_close(op @ X, oracle_as(D @ X.numpy(), op.xp), size=8, what="after a step")
            assert_close(op.H @ (op @ X), oracle_as(D.T @ D @ X.numpy(), op.xp), size=12)
    assert W.grad is not None


def test_block_diagonal_patterns_and_bad_length():
    assert BlockDiagonal(np.ones((2, 3, 4))).patterns == ((2, 3, 4, 1),)
    assert BlockDiagonal(np.ones((2, 3, 4))).H.patterns == ((2, 4, 3, 1),)
    assert BlockDiagonal([np.ones((1, 2)), np.ones((2, 2))]).patterns is None
    op = BlockDiagonal(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"expects input with 8 rows.*got shape \(9,\)"):
        op @ np.ones(9)
    with pytest.raises(ValueError, match=r"expects input with 8 rows.*got shape \(2, 7, 3\)"):
        op @ np.ones((2, 7, 3))


def _ks_dense_loops(T: np.ndarray) -> np.ndarray:
    """DESIGN §4a element formula, entry by entry: F[i b d + j d + l, i c d + k d + l] = T[i, j, k, l]."""
    a, b, c, d = T.shape
    F = np.zeros((a * b * d, a * c * d), dtype=T.dtype)
    for i, j, k, ll in np.ndindex(a, b, c, d):
        F[i * b * d + j * d + ll, i * c * d + k * d + ll] = T[i, j, k, ll]
    return F


@pytest.mark.parametrize("pattern", [(3, 2, 4, 1), (2, 3, 2, 3), (1, 4, 5, 2)])
@pytest.mark.parametrize(("batch", "k"), [(1, 1), (1, 5), (3, 1), (2, 9)])
@pytest.mark.parametrize("cut", [0, 1])
def test_ks_one_factor_chain(pattern, batch, k, cut):
    # the one-factor route of ks_chain_matmat (one matmul), with zero-padded short input
    from structmat.ks import ks_blocked, ks_chain_matmat

    rng = np.random.default_rng(16)
    T = random_array(rng, pattern)
    F = _ks_dense_loops(T)
    X = random_array(rng, (batch, F.shape[1] - cut, k))
    want = np.einsum("ij,bjk->bik", F[:, : F.shape[1] - cut], X)
    assert_close(ks_chain_matmat([ks_blocked(T)], X), want, size=F.shape[1])


@pytest.mark.parametrize("pattern", [(3, 2, 4, 1), (1, 5, 2, 1), (2, 3, 2, 3), (4, 1, 1, 2)])
def test_ks_support_mask_and_off_support(xp, pattern):
    from structmat.ks._support import off_support, support_mask

    a, b, c, d = pattern
    mask = np.kron(np.kron(np.eye(a), np.ones((b, c))), np.eye(d)) != 0
    got = support_mask(xp, pattern)
    assert_close(xp.astype(got, xp.float64), oracle_as(mask.astype(np.float64), xp))
    A = random_array(np.random.default_rng(15), mask.shape)
    assert_close(off_support(arr(xp, A), pattern), oracle_as(np.where(mask, 0.0, A), xp))


def test_block_diagonal_promotes_and_keeps_float32(xp):
    rng = np.random.default_rng(4)
    S32 = random_array(rng, (2, 2, 2), "float32")
    op = BlockDiagonal(arr(xp, S32))
    assert op.dtype == xp.float32
    assert (op @ xp.ones(4, dtype=xp.float32)).dtype == xp.float32
    x = random_array(rng, (4,), "complex64")
    y = op @ arr(xp, x)
    assert y.dtype == xp.complex64
    assert_close(y, oracle_as(scipy.linalg.block_diag(*S32) @ x, xp), size=4)
    mixed = BlockDiagonal([arr(xp, S32[0]), arr(xp, random_array(rng, (1, 3), "complex64"))])
    assert mixed.dtype == xp.complex64


def test_block_diagonal_to_other_backend():
    S = np.arange(12.0).reshape(3, 2, 2)
    op = BlockDiagonal(S)
    moved = op.to(xp=array_api_strict, dtype=array_api_strict.float32)
    assert moved.xp is array_api_strict
    assert moved.dtype == array_api_strict.float32
    assert_close(
        moved.to_dense(), oracle_as(scipy.linalg.block_diag(*S), array_api_strict, "float32")
    )
    listed = BlockDiagonal([S[0], np.ones((1, 3))]).to(dtype=np.float32)
    assert listed.dtype == np.float32
    assert_close(
        listed.to_dense(), oracle_as(scipy.linalg.block_diag(S[0], np.ones((1, 3))), np, "float32")
    )


def test_block_diagonal_repr():
    assert repr(BlockDiagonal(np.zeros((3, 2, 4)))) == "BlockDiagonal(3 blocks of 2x4, float64)"
    assert repr(BlockDiagonal([np.zeros((1, 1)), sm.Identity(2)])) == (
        "BlockDiagonal([Dense(1x1, float64), Identity(2, float64)])"
    )


def test_block_diagonal_bad_input():
    with pytest.raises(ValueError, match=r"\(k, m, n\).*got an array of shape \(2, 2\)"):
        BlockDiagonal(np.ones((2, 2)))
    with pytest.raises(ValueError, match="at least one block"):
        BlockDiagonal(np.ones((0, 2, 2)))
    with pytest.raises(ValueError, match="at least one block"):
        BlockDiagonal([])
    with pytest.raises(TypeError, match="int64"):
        BlockDiagonal(np.ones((2, 2, 2), dtype=np.int64))
    with pytest.raises(TypeError, match=r"block 1 .*got str"):
        BlockDiagonal([np.ones((2, 2)), "no"])
    with pytest.raises(ValueError, match=r"block 0 must be a 2-d array, got shape \(3,\)"):
        BlockDiagonal([np.ones(3), np.ones((2, 2))])
    with pytest.raises(TypeError, match=r"block 0 must have dtype .* got int64"):
        BlockDiagonal([np.ones((2, 2), dtype=np.int64), np.ones((1, 2))])
    with pytest.raises(TypeError, match="got int"):
        BlockDiagonal(3)
    with pytest.raises(TypeError, match="got Dense"):
        BlockDiagonal(sm.Dense(np.eye(2)))
    with pytest.raises(TypeError, match=r"numpy.*array_api_strict|array_api_strict.*numpy"):
        BlockDiagonal([np.eye(2), array_api_strict.eye(2)])
    op = BlockDiagonal(np.ones((2, 2, 3)))
    with pytest.raises(ValueError, match="expects input with 6 rows"):
        op @ np.ones(5)


# ---------------------------------------------------------------------- Kronecker
@pytest.mark.parametrize("dtype", DTYPES)
def test_kronecker_two_factors(xp, dtype):
    rng = np.random.default_rng(5)
    A, B = random_array(rng, (2, 3), dtype), random_array(rng, (4, 2), dtype)
    op = Kronecker(arr(xp, A), arr(xp, B))
    assert op.shape == (8, 6)
    check_against(op, np.kron(A, B), xp)
    assert isinstance(op.H, Kronecker)
    assert_close(op.H.factors[0].to_dense(), oracle_as(A.conj().T, xp))


def test_kronecker_three_factors_structured(xp):
    rng = np.random.default_rng(6)
    A, d, S = (
        random_array(rng, (2, 3)),
        random_array(rng, (3,)),
        random_array(rng, (2, 2, 1), "complex128"),
    )
    op = Kronecker(arr(xp, A), sm.Diagonal(arr(xp, d)), BlockDiagonal(arr(xp, S)))
    assert op.dtype == xp.complex128
    assert len(op.factors) == 3
    check_against(op, np.kron(np.kron(A, np.diag(d)), scipy.linalg.block_diag(*S)), xp)


def test_kronecker_flattens_and_counts():
    A, B, C = np.ones((2, 3)), np.ones((4, 5)), np.ones((6, 7))
    op = Kronecker(Kronecker(A, B), C)
    assert len(op.factors) == 3
    assert op.parameter_count == 6 + 20 + 42
    # factor i sees k * prod(m_<i) * prod(n_>i) columns
    assert op.flops(1) == 6 * (5 * 7) + 20 * (2 * 7) + 42 * (2 * 4)
    assert op.flops(1) < op.shape[0] * op.shape[1]
    assert repr(Kronecker(A, B)) == "Kronecker(Dense(2x3, float64), Dense(4x5, float64))"


class _NoDense(sm.LinearOperator):
    """A Dense-like operator whose ``to_dense`` must not be called."""

    def __init__(self, A):
        super().__init__(shape=A.shape, dtype=A.dtype, xp=sm.Dense(A).xp)
        self.A = A

    def _matmat(self, X):
        return self.A @ X

    def _rmatmat(self, X):
        return self.A.conj().T @ X

    def to_dense(self):
        msg = "Kronecker formed a dense factor"
        raise AssertionError(msg)


def test_kronecker_never_forms_the_product():
    rng = np.random.default_rng(7)
    A, B = random_array(rng, (3, 3)), random_array(rng, (5, 4))
    op = Kronecker(_NoDense(A), _NoDense(B))
    X = random_array(rng, (12, 2))
    assert_close(op @ X, np.kron(A, B) @ X, size=15)
    y = random_array(rng, (15,))
    assert_close(op.H @ y, np.kron(A, B).T @ y, size=15)


def test_kronecker_single_factor_and_to():
    A = np.arange(6.0).reshape(2, 3)
    op = Kronecker(A)
    assert_close(op @ np.ones(3), A @ np.ones(3))
    moved = Kronecker(A, np.eye(2)).to(xp=array_api_strict)
    assert_close(moved.to_dense(), oracle_as(np.kron(A, np.eye(2)), array_api_strict))


def test_kronecker_bad_input():
    with pytest.raises(ValueError, match="at least one factor"):
        Kronecker()
    with pytest.raises(
        TypeError, match="factor 1 must be a LinearOperator or a 2-d array, got list"
    ):
        Kronecker(np.eye(2), [[1.0]])
    with pytest.raises(ValueError, match=r"factor 0 must be a 2-d array, got shape \(2, 2, 2\)"):
        Kronecker(np.ones((2, 2, 2)))
    with pytest.raises(TypeError, match=r"factor 0 must have dtype .* got bool"):
        Kronecker(np.ones((2, 2), dtype=bool))
    with pytest.raises(TypeError, match="cannot mix array namespaces"):
        Kronecker(np.eye(2), array_api_strict.eye(2))
    with pytest.raises(ValueError, match="expects input with 4 rows"):
        Kronecker(np.eye(2), np.eye(2)) @ np.ones(3)


# ---------------------------------------------------------------------- hstack / vstack / block
def test_hstack_vstack(xp):
    rng = np.random.default_rng(8)
    A, B, C = (
        random_array(rng, (3, 2)),
        random_array(rng, (3, 4), "complex128"),
        random_array(rng, (3, 1)),
    )
    op = hstack([arr(xp, A), sm.Dense(arr(xp, B)), arr(xp, C)])
    assert isinstance(op, BlockMatrix)
    assert op.dtype == xp.complex128
    check_against(op, np.hstack([A, B, C]), xp)
    assert isinstance(op.H, BlockMatrix)
    assert len(op.H.blocks) == 3
    V = vstack([arr(xp, A.T), arr(xp, C.T)])
    check_against(V, np.vstack([A.T, C.T]), xp)
    assert op.parameter_count == 6 + 12 + 3
    assert op.flops(1) == 6 + 12 + 3 + 2 * 3


def test_block_grid_with_zero_blocks(xp):
    rng = np.random.default_rng(9)
    A, B, D = random_array(rng, (2, 3)), random_array(rng, (2, 1)), random_array(rng, (4, 1))
    op = block([[arr(xp, A), arr(xp, B)], [None, sm.Dense(arr(xp, D))]])
    check_against(op, np.block([[A, B], [np.zeros((4, 3)), D]]), xp)
    # a row made of one live block and a zero block: the zero adds no flops
    assert op.flops(1) == 6 + 2 + 2 + 4


def test_block_zero_row_of_live_columns(xp):
    rng = np.random.default_rng(10)
    A, B = random_array(rng, (2, 2)), random_array(rng, (3, 2))
    op = block([[arr(xp, A), None], [None, arr(xp, B)]])
    check_against(op, scipy.linalg.block_diag(A, B), xp)


def test_single_block_is_returned():
    D = sm.Diagonal(np.ones(2))
    assert block([[D]]) is D
    assert hstack([D]) is D
    assert vstack([D]) is D
    assert isinstance(hstack([np.eye(2)]), sm.Dense)


def test_block_repr():
    op = hstack([np.eye(2), sm.Identity(2)])
    assert repr(op) == "BlockMatrix([[Dense(2x2, float64), Identity(2, float64)]])"


def test_stack_bad_input():
    with pytest.raises(ValueError, match=r"same number of rows, got rows \[2, 3\]"):
        hstack([np.eye(2), np.eye(3)])
    with pytest.raises(ValueError, match=r"same number of columns, got columns \[2, 3\]"):
        vstack([np.eye(2), np.ones((2, 3))])
    with pytest.raises(ValueError, match="at least one operator"):
        hstack([])
    with pytest.raises(TypeError, match=r"expects a list .* got Dense"):
        vstack(sm.Dense(np.eye(2)))
    with pytest.raises(TypeError, match=r"expects a list .* got ndarray"):
        hstack(np.eye(2))
    with pytest.raises(TypeError, match=r"hstack operator 1 .* got float"):
        hstack([np.eye(2), 1.0])
    with pytest.raises(TypeError, match="cannot mix array namespaces"):
        vstack([np.eye(2), array_api_strict.eye(2)])


def test_block_bad_input():
    I2, I3 = np.eye(2), np.eye(3)
    with pytest.raises(ValueError, match="row 0 has 2 and row 1 has 1"):
        block([[I2, I2], [I2]])
    with pytest.raises(
        ValueError,
        match=r"blocks of row 0 must have the same number of rows, got block 0: 2, block 1: 3",
    ):
        block([[I2, I3]])
    with pytest.raises(
        ValueError, match=r"column 1 must have the same number of columns, got row 0: 2, row 1: 3"
    ):
        block([[I2, I2], [I2, np.ones((2, 3))]])
    with pytest.raises(ValueError, match="row 1 has only None"):
        block([[I2, I2], [None, None]])
    with pytest.raises(ValueError, match="at least one row"):
        block([])
    with pytest.raises(ValueError, match="row 0 is empty"):
        block([[]])
    with pytest.raises(TypeError, match="row 0 is ndarray"):
        block([I2, I2])
    with pytest.raises(TypeError, match=r"list of rows .* got Dense"):
        block(sm.Dense(I2))
    with pytest.raises(TypeError, match=r"block\[0\]\[1\] .* got str"):
        block([[I2, "x"]])
    with pytest.raises(TypeError, match=r"must have dtype .* got int64"):
        block([[I2, np.eye(2, dtype=np.int64)]])
    with pytest.raises(TypeError, match="BlockMatrix expects LinearOperator blocks, got ndarray"):
        BlockMatrix([[I2]])
    with pytest.raises(ValueError, match="row lengths"):
        BlockMatrix([[sm.Dense(I2)], []])


def test_lazy_public_names():
    assert sm.BlockDiagonal is BlockDiagonal
    assert sm.Kronecker is Kronecker
    assert sm.block is block
    assert sm.hstack is hstack
    assert sm.vstack is vstack

"""Dense, Identity, Zero, Diagonal, Permutation against dense NumPy oracles."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import oracle_as, random_pair
from hypothesis import given
from hypothesis import strategies as st

import structmat as sm
from structmat import _array_api as aa
from structmat.testing import assert_close, to_numpy
from structmat.testing.strategies import arrays, dtypes, shapes

DTYPES = ["float32", "float64", "complex64", "complex128"]


def name(dtype):
    return aa.dtype_name(dtype)


# ---------------------------------------------------------------------- Dense
@pytest.mark.parametrize("dtype", DTYPES)
def test_dense(xp, dtype):
    A, a = random_pair(xp, (4, 3), dtype)
    D = sm.Dense(A)
    assert D.shape == (4, 3)
    assert name(D.dtype) == dtype
    assert D.A is A
    assert D.to_dense() is A
    assert_close(D @ xp.asarray(np.ones(3, dtype=dtype)), oracle_as(a.sum(axis=1), xp))
    assert_close(D.H.to_dense(), oracle_as(a.conj().T, xp))
    assert_close(D.T.to_dense(), oracle_as(a.T, xp))
    assert isinstance(D.H, sm.Dense)
    assert isinstance(D.T, sm.Dense)


@given(data=st.data())
def test_dense_property(xp, data):
    shape = data.draw(shapes(max_side=6), label="shape")
    dtype = data.draw(dtypes(xp), label="dtype")
    A = data.draw(arrays(xp, shape, dtype), label="A")
    x = data.draw(arrays(xp, (shape[1], 2), dtype), label="x")
    a, xn = to_numpy(A), to_numpy(x)
    assert_close(sm.Dense(A) @ x, oracle_as(a.astype(np.complex128) @ xn, xp, dtype), size=shape[1])


# ---------------------------------------------------------------------- Identity / Zero
@pytest.mark.parametrize("dtype", DTYPES)
def test_identity(xp, dtype):
    Id = sm.Identity(4, dtype=dtype, xp=xp)
    assert Id.shape == (4, 4)
    assert name(Id.dtype) == dtype
    assert Id.xp is aa.default_namespace(xp)
    assert_close(Id.to_dense(), oracle_as(np.eye(4), xp, dtype))
    x, xn = random_pair(xp, (4, 2), dtype)
    assert_close(Id @ x, oracle_as(xn, xp))
    assert Id.H is Id
    assert Id.T is Id


def test_identity_defaults():
    Id = sm.Identity(3)
    assert Id.dtype == np.float64
    assert Id.xp is aa.default_namespace(None)
    assert sm.Identity(3, dtype=np.float32, xp=np).dtype == np.float32
    assert sm.Identity(0).to_dense().shape == (0, 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero(xp, dtype):
    Z = sm.Zero((2, 5), dtype=dtype, xp=xp)
    assert Z.shape == (2, 5)
    assert_close(Z.to_dense(), oracle_as(np.zeros((2, 5)), xp, dtype))
    x, _ = random_pair(xp, (3, 5, 2), dtype)
    y = Z @ x
    assert tuple(y.shape) == (3, 2, 2)
    assert not np.any(to_numpy(y))
    assert Z.H.shape == (5, 2)
    assert Z.T.shape == (5, 2)


# ---------------------------------------------------------------------- Diagonal
@pytest.mark.parametrize("dtype", DTYPES)
def test_diagonal(xp, dtype):
    d, dn = random_pair(xp, (5,), dtype)
    D = sm.Diagonal(d)
    assert D.d is d
    assert_close(D.to_dense(), oracle_as(np.diag(dn), xp))
    x, xn = random_pair(xp, (5, 3), dtype, 1)
    assert_close(D @ x, oracle_as(dn[:, None] * xn, xp))
    assert_close(D.H.to_dense(), oracle_as(np.diag(dn.conj()), xp))
    assert D.T is D
    if dtype.startswith("float"):
        assert D.H is D


@given(data=st.data())
def test_diagonal_property(xp, data):
    n = data.draw(st.integers(1, 10), label="n")
    dtype = data.draw(dtypes(xp), label="dtype")
    d = data.draw(arrays(xp, (n,), dtype), label="d")
    x = data.draw(arrays(xp, (2, n, 3), dtype), label="x")
    dn, xn = to_numpy(d), to_numpy(x)
    want = np.einsum("i,bij->bij", dn.astype(np.complex128), xn)
    assert_close(sm.Diagonal(d) @ x, oracle_as(want, xp, dtype))


# ---------------------------------------------------------------------- Permutation
@pytest.mark.parametrize("dtype", DTYPES)
def test_permutation(xp, dtype):
    idx_np = np.array([3, 0, 4, 1, 2])
    idx = xp.asarray(idx_np)
    P = sm.Permutation(idx, dtype=dtype)
    assert name(P.dtype) == dtype
    x, xn = random_pair(xp, (5, 2), dtype, 1)
    assert_close(P @ x, oracle_as(xn[idx_np], xp))
    v, vn = random_pair(xp, (5,), dtype, 2)
    assert_close(P @ v, oracle_as(vn[idx_np], xp))
    # element definition P[i, idx[i]] = 1
    want = np.zeros((5, 5))
    for i, j in enumerate(idx_np):
        want[i, j] = 1
    assert_close(P.to_dense(), oracle_as(want, xp, dtype))
    # inverse: inverse[idx] = arange(n), and P.H applies it
    inv = to_numpy(P.inverse_idx)
    assert np.array_equal(inv[idx_np], np.arange(5))
    assert np.array_equal(inv, np.argsort(idx_np))
    assert_close(P.H @ (P @ x), oracle_as(xn, xp))
    assert_close(P.H @ x, oracle_as(xn[inv], xp))
    assert isinstance(P.H, sm.Permutation)
    assert np.array_equal(to_numpy(P.H.idx), inv)
    assert P.T is P.H
    assert P.H.H is P


def test_permutation_default_dtype_and_int32(xp):
    P = sm.Permutation(xp.asarray(np.array([1, 2, 0], dtype=np.int32)))
    assert name(P.dtype) == "float64"
    assert_close(P @ xp.asarray(np.array([10.0, 11.0, 12.0])), oracle_as([11.0, 12.0, 10.0], xp))
    assert_close(P.to_dense(), oracle_as(np.eye(3)[[1, 2, 0]], xp))


@given(perm=st.integers(1, 12).flatmap(lambda n: st.permutations(range(n))))
def test_permutation_property(xp, perm):
    idx = np.array(perm)
    n = idx.shape[0]
    P = sm.Permutation(xp.asarray(idx))
    x = xp.asarray(np.arange(float(n)) * 1.5)
    assert np.array_equal(to_numpy(P @ x), np.arange(float(n))[idx] * 1.5)
    assert np.array_equal(to_numpy(P.inverse_idx)[idx], np.arange(n))
    assert np.array_equal(to_numpy(P.H @ (P @ x)), to_numpy(x))


def test_permutation_empty():
    P = sm.Permutation(np.zeros(0, dtype=np.int64))
    assert P.shape == (0, 0)
    assert P.inverse_idx.shape == (0,)

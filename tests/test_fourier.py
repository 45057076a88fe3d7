"""Tests of ``structmat.fourier`` against independent oracles.

Oracles: ``numpy.fft.fft/ifft``, ``scipy.fft.dct/dst``, ``scipy.linalg.hadamard``,
``scipy.linalg.circulant``, ``scipy.linalg.toeplitz`` and ``numpy.convolve``
(column by column), all on NumPy copies of the inputs; never the code under
test. The laws (adjoint dot test, structured adjoints and transposes, dtypes,
batches: ``check_linear_operator``) run once, over ``market_fourier.MARKET`` on
every backend, in ``tests/test_laws.py``; this file tests what they do not.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.fft
import scipy.linalg
from _helpers import oracle_as, random_array
from hypothesis import given
from hypothesis import strategies as st

import structmat as sm
import structmat.testing as smt
from structmat import _array_api as aa
from structmat._fftcore import _fast_len
from structmat.basic import Diagonal
from structmat.fourier import (
    DCT,
    DFT,
    DST,
    IDFT,
    Circulant,
    Convolution,
    Hadamard,
    Toeplitz,
)
from structmat.linop import Product
from structmat.testing import assert_close, to_numpy
from structmat.testing.market_fourier import MARKET

REAL = ["float32", "float64"]
ALL = ["float32", "float64", "complex64", "complex128"]
# sizes: 1, 2, small primes and powers of 2 often, anything up to 70 sometimes
SIZES = st.one_of(
    st.sampled_from([1, 2, 3, 4, 5, 7, 8, 11, 13, 16, 17, 31, 32, 64]), st.integers(1, 70)
)
# input layouts: vector (None), matrix (k,), batch of matrices (b, k)
LAYOUTS = st.sampled_from([None, (1,), (3,), (2, 2)])
SEEDS = st.integers(0, 2**32 - 1)


def _structural(cls, xp, attr):
    """The class of an FFT operator's adjoint or transpose: torch keeps parameters live,
    so there it is the generic ``Adjoint``/``Transpose`` reading them (documented)."""
    if xp.__name__.endswith("torch"):
        return (sm.Adjoint,) if attr == "H" else (sm.Adjoint, sm.Transpose)
    return (cls,)


def conv_rtol(y, kernel, x, expected, size):
    """Tolerance for FFT convolutions: rounding scales with ``||kernel|| ||x||``.

    The documented exception to ``assert_close``'s default: an FFT convolution's
    error is about ``eps log N ||kernel|| ||x||``, which exceeds ``eps ||y||`` when
    the exact result cancels (seen with Hypothesis' thorough profile: a length-1
    'valid' output).
    """
    scale = np.linalg.norm(kernel) * np.linalg.norm(x) / max(np.linalg.norm(expected), 1e-300)
    return smt.tolerance(to_numpy(y).dtype, size) * max(1.0, scale)


def rand(seed, shape, dtype):
    return random_array(np.random.default_rng(seed), shape, dtype)


def make_input(seed, n, layout, dtype):
    """A NumPy input of length n in the layout; the transform axis of the oracle."""
    if layout is None:
        return rand(seed, (n,), dtype), -1
    if len(layout) == 1:
        return rand(seed, (n, layout[0]), dtype), 0
    return rand(seed, (layout[0], n, layout[1]), dtype), -2


def promoted(op_dtype: str, x_dtype: str) -> str:
    return str(np.result_type(np.dtype(op_dtype), np.dtype(x_dtype)))


def columns(fn, x, axis):
    """Apply a 1-d map ``fn`` along ``axis`` (the oracle for matrix/batch input)."""
    return np.apply_along_axis(fn, axis, x)


# ---------------------------------------------------------------------- DFT / IDFT
@given(
    n=SIZES,
    norm=st.sampled_from(["backward", "ortho", "forward"]),
    inverse=st.booleans(),
    op_dtype=st.sampled_from(["complex64", "complex128"]),
    x_dtype=st.sampled_from(ALL),
    layout=LAYOUTS,
    seed=SEEDS,
)
def test_dft_matches_numpy_fft(xp, n, norm, inverse, op_dtype, x_dtype, layout, seed):
    x, axis = make_input(seed, n, layout, x_dtype)
    op = (IDFT if inverse else DFT)(n, norm, dtype=op_dtype, xp=xp)
    y = op @ xp.asarray(x)
    oracle = np.fft.ifft if inverse else np.fft.fft
    expected = oracle(x.astype(np.complex128), axis=axis, norm=norm)
    assert aa.dtype_name(y.dtype) == promoted(op_dtype, x_dtype)
    assert_close(y, oracle_as(expected, xp, promoted(op_dtype, x_dtype)), size=n)


@given(n=SIZES, norm=st.sampled_from(["backward", "ortho", "forward"]))
def test_dft_to_dense_is_the_formula(xp, n, norm):
    eye = np.eye(n)
    assert_close(
        DFT(n, norm, xp=xp).to_dense(), oracle_as(np.fft.fft(eye, axis=0, norm=norm), xp), size=n
    )
    assert_close(
        IDFT(n, norm, xp=xp).to_dense(), oracle_as(np.fft.ifft(eye, axis=0, norm=norm), xp), size=n
    )


def test_dft_to_dense_large_n_is_accurate():
    # exponents reduced mod n in integers: entries exact to a few ulps even for large j*k
    n = 1031
    j = np.arange(n)
    angle = 2 * np.pi * ((j[:, None] * j[None, :]) % n) / n
    D = DFT(n).to_dense()
    assert np.max(np.abs(D - (np.cos(angle) - 1j * np.sin(angle)))) < 1e-15


def test_float32_gives_complex64_on_a_complex64_dft():
    x = np.arange(8, dtype=np.float32)
    assert (DFT(8, dtype="complex64") @ x).dtype == np.complex64
    assert (DFT(8, dtype=np.complex64) @ x).dtype == np.complex64
    # a given complex128 is strong: array-API promotion
    assert (DFT(8, dtype="complex128") @ x).dtype == np.complex128
    # the default is weak: the input's precision, as scipy.fft gives
    assert (DFT(8) @ x).dtype == scipy.fft.fft(x).dtype == np.complex64
    assert (IDFT(8, dtype="complex64") @ x.astype(np.complex64)).dtype == np.complex64


@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
def test_dft_structured_adjoint_and_transpose(xp, norm):
    n = 6
    swap = {"backward": "forward", "ortho": "ortho", "forward": "backward"}[norm]
    F, G = DFT(n, norm, xp=xp), IDFT(n, norm, xp=xp)
    assert type(F.H) is IDFT
    assert F.H.norm == swap
    assert type(G.H) is DFT
    assert G.H.norm == swap
    assert F.H.H is F
    assert F.T is F
    assert G.T is G
    dense = np.fft.fft(np.eye(n), axis=0, norm=norm)
    assert_close(F.H.to_dense(), oracle_as(dense.conj().T, xp))
    assert_close(G.H.to_dense(), oracle_as(np.fft.ifft(np.eye(n), axis=0, norm=norm).conj().T, xp))
    assert_close(F.conj().to_dense(), oracle_as(dense.conj(), xp))


@pytest.mark.parametrize("cls", [DFT, IDFT])
def test_dft_kernel_takes_real_input_directly(xp, cls):
    # ``_real_input_ok``: the kernel handles real input of the operator's precision
    x = rand(3, (2, 9, 3), "float64")
    oracle = np.fft.ifft if cls is IDFT else np.fft.fft
    y = cls(9, "ortho", xp=xp)._matmat(xp.asarray(x))
    assert aa.dtype_name(y.dtype) == "complex128"
    assert_close(y, oracle_as(oracle(x, axis=-2, norm="ortho"), xp), size=9)
    y32 = cls(9, dtype="complex64", xp=xp)._matmat(xp.asarray(x[0].astype(np.float32)))
    assert aa.dtype_name(y32.dtype) == "complex64"
    assert_close(y32, oracle_as(oracle(x[0], axis=0), xp, "complex64"), size=9)


def test_dft_backward_adjoint_is_n_times_the_inverse():
    n = 12
    assert_close((DFT(n).H).to_dense(), (n * IDFT(n)).to_dense())
    assert_close((IDFT(n).H).to_dense(), (DFT(n) / n).to_dense())


# ---------------------------------------------------------------------- DCT / DST
TRIG = [
    (kind, t, norm, orth)
    for kind in ("dct", "dst")
    for t in (1, 2, 3, 4)
    for norm in (None, "backward", "ortho", "forward")
    for orth in (None, True, False)
]
TRIG_SIZES = (1, 2, 3, 4, 5, 7, 8, 11, 16)


def trig(kind):
    return (DCT, scipy.fft.dct) if kind == "dct" else (DST, scipy.fft.dst)


def trig_oracle(oracle, x, type_, norm, orth, axis):
    """``scipy.fft.dct/dst`` of ``x``; complex input part by part.

    SciPy 1.17 ignores ``orthogonalize`` for complex input (both parts get the
    default), so the oracle of the linear map transforms the parts itself.
    """
    if np.iscomplexobj(x):
        re = oracle(x.real.astype(np.float64), type_, norm=norm, orthogonalize=orth, axis=axis)
        im = oracle(x.imag.astype(np.float64), type_, norm=norm, orthogonalize=orth, axis=axis)
        return re + 1j * im
    return oracle(x.astype(np.float64), type_, norm=norm, orthogonalize=orth, axis=axis)


def trig_sizes(kind, t):
    # DCT-I needs n >= 2 (SciPy fails at n = 1 too)
    return [n for n in TRIG_SIZES if n >= 2 or not (kind == "dct" and t == 1)]


@pytest.mark.parametrize(("kind", "type_", "norm", "orth"), TRIG)
def test_dct_dst_every_variant_matches_scipy(xp, kind, type_, norm, orth):
    # Every size in float64, every dtype pair at one size: the dtype rules do
    # not depend on n, and the full cross product is 8x the work for nothing.
    cls, oracle = trig(kind)
    rng = np.random.default_rng(type_)
    cases = [(n, "float64", "float64") for n in trig_sizes(kind, type_)]
    cases += [(7, op_dtype, x_dtype) for op_dtype in REAL for x_dtype in ALL]
    for n, op_dtype, x_dtype in cases:
        op = cls(n, type_, norm, orthogonalize=orth, dtype=op_dtype, xp=xp)
        x = random_array(rng, (2, n, 3), x_dtype)
        y = op @ xp.asarray(x)
        expected = trig_oracle(oracle, x, type_, norm, orth, -2)
        want = promoted(op_dtype, x_dtype)
        assert aa.dtype_name(y.dtype) == want
        assert_close(y, oracle_as(expected, xp, want), size=n)
        v = op @ xp.asarray(x[0, :, 0])  # a vector
        assert_close(v, oracle_as(expected[0, :, 0], xp, want), size=n)


@pytest.mark.parametrize(("kind", "type_", "norm", "orth"), TRIG)
def test_dct_dst_dense_and_adjoint_match_scipy(xp, kind, type_, norm, orth):
    cls, oracle = trig(kind)
    # n = 1 edge, even, odd prime, power of two, odd: the parities every type's algorithm splits on
    for n in [n for n in trig_sizes(kind, type_) if n in (1, 2, 5, 8, 11)]:
        op = cls(n, type_, norm, orthogonalize=orth, xp=xp)
        dense = oracle(np.eye(n), type_, norm=norm, orthogonalize=orth, axis=0)
        assert_close(op.to_dense(), oracle_as(dense, xp), size=n)
        assert_close(op.H.to_dense(), oracle_as(dense.T, xp), size=n)
        assert_close(op.H @ xp.asarray(np.eye(n)), oracle_as(dense.T, xp), size=n)
        assert op.T is op.H
        assert op.H.H is op


@given(
    n=SIZES,
    kind=st.sampled_from(["dct", "dst"]),
    type_=st.sampled_from([1, 2, 3, 4]),
    norm=st.sampled_from([None, "backward", "ortho", "forward"]),
    orth=st.sampled_from([None, True, False]),
    op_dtype=st.sampled_from(REAL),
    x_dtype=st.sampled_from(ALL),
    layout=LAYOUTS,
    seed=SEEDS,
)
def test_dct_dst_match_scipy(xp, n, kind, type_, norm, orth, op_dtype, x_dtype, layout, seed):
    if kind == "dct" and type_ == 1:
        n = max(n, 2)
    x, axis = make_input(seed, n, layout, x_dtype)
    cls, oracle = trig(kind)
    op = cls(n, type_, norm, orthogonalize=orth, dtype=op_dtype, xp=xp)
    y = op @ xp.asarray(x)
    expected = trig_oracle(oracle, x, type_, norm, orth, axis)
    assert aa.dtype_name(y.dtype) == promoted(op_dtype, x_dtype)
    assert_close(y, oracle_as(expected, xp, promoted(op_dtype, x_dtype)), size=n)


@pytest.mark.parametrize("n", [64, 65, 127, 128])
@pytest.mark.parametrize(("kind", "type_"), [(k, t) for k in ("dct", "dst") for t in (1, 2, 3, 4)])
def test_dct_dst_longer_sizes(xp, kind, type_, n):
    # the xp.fft kernels split even and odd n (type 4) and extend to 2(n -+ 1) (type 1)
    cls, oracle = trig(kind)
    x = rand(n, (n, 2), "float64")
    for norm in ("backward", "ortho"):
        y = cls(n, type_, norm, xp=xp) @ xp.asarray(x)
        assert_close(y, oracle_as(oracle(x, type_, norm=norm, axis=0), xp), size=n)


def test_dct_dst_smallest_sizes_by_hand():
    # DCT-I at n = 2 is [[1, 1], [1, -1]]; DST-I at n = 1 is [2]; DCT-IV at n = 1 is [2 cos(pi/4)]
    np.testing.assert_allclose(DCT(2, 1).to_dense(), [[1.0, 1.0], [1.0, -1.0]])
    np.testing.assert_allclose(DST(1, 1).to_dense(), [[2.0]])
    np.testing.assert_allclose(DCT(1, 4).to_dense(), [[math.sqrt(2.0)]])
    np.testing.assert_allclose(
        DCT(2, 1, "ortho").to_dense() @ DCT(2, 1, "ortho").to_dense(), np.eye(2), atol=1e-15
    )


@pytest.mark.parametrize("cls", [DCT, DST])
def test_dct_dst_ortho_adjoint_is_the_other_type(xp, cls):
    C = cls(9, 2, "ortho", xp=xp)
    assert type(C.H) is cls
    assert (C.H.type, C.H.norm, C.H.orthogonalize) == (3, "ortho", True)
    x = np.random.default_rng(0).standard_normal(9)
    assert_close(C.H @ (C @ xp.asarray(x)), oracle_as(x, xp))


@pytest.mark.parametrize("norm", [None, "forward"])
@pytest.mark.parametrize("cls", [DCT, DST])
def test_dct_dst_orthogonalized_adjoint_is_the_other_type_for_every_norm(cls, norm):
    # with orthogonalize the diagonal of B_II^T = B_III diag(2, 1, ..., 1) disappears
    A = cls(7, 2, norm, orthogonalize=True)
    assert type(A.H) is cls
    assert (A.H.type, A.H.norm, A.H.orthogonalize) == (3, A.norm, True)
    oracle = scipy.fft.dct if cls is DCT else scipy.fft.dst
    dense = oracle(np.eye(7), 2, norm=norm, orthogonalize=True, axis=0)
    assert_close(A.H.to_dense(), dense.T)


@pytest.mark.parametrize("norm", [None, "forward", "ortho"])
@pytest.mark.parametrize("cls", [DCT, DST])
def test_dct_dst_unnormalized_adjoint_is_other_type_times_diagonal(cls, norm):
    n = 7
    d = np.ones(n)
    d[0 if cls is DCT else -1] = 2.0
    orth = False if norm == "ortho" else None  # "ortho" without orthogonalization
    A2, A3 = cls(n, 2, norm, orthogonalize=orth), cls(n, 3, norm, orthogonalize=orth)
    adj2, adj3 = A2.H, A3.H
    assert isinstance(adj2, Product)
    assert isinstance(adj3, Product)
    other, diag = adj2.factors
    assert type(other) is cls
    assert other.type == 3
    assert isinstance(diag, Diagonal)
    np.testing.assert_allclose(diag.d, d)
    diag3, other3 = adj3.factors
    assert isinstance(diag3, Diagonal)
    assert other3.type == 2
    np.testing.assert_allclose(diag3.d, 1 / d)
    oracle = scipy.fft.dct if cls is DCT else scipy.fft.dst
    assert_close(
        adj2.to_dense(), oracle(np.eye(n), type=2, norm=norm, orthogonalize=orth, axis=0).T
    )


@pytest.mark.parametrize(
    ("cls", "type_", "orth"),
    [
        (DCT, 1, True),
        (DCT, 4, None),
        (DCT, 4, True),
        (DST, 1, None),
        (DST, 4, None),
        (DST, 1, True),
    ],
)
def test_symmetric_dct_dst_are_their_own_adjoint(xp, cls, type_, orth):
    for norm in ("backward", "ortho", "forward"):
        A = cls(6, type_, norm, orthogonalize=orth, xp=xp)
        assert A.H is A
        D = to_numpy(A.to_dense())
        assert_close(A.to_dense(), oracle_as(D.T, xp))


@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
def test_dct1_without_orthogonalization_adjoint_is_diagonally_similar(norm):
    # B_I = S diag(w), S symmetric, w = (1, 2, ..., 2, 1): B_I^T = diag(w) B_I diag(1/w)
    A = DCT(6, 1, norm, orthogonalize=False)
    adj = A.H
    assert isinstance(adj, Product)
    left, middle, right = adj.factors
    assert middle is A
    w = np.array([1.0, 2, 2, 2, 2, 1])
    np.testing.assert_array_equal(left.d, w)
    np.testing.assert_array_equal(right.d, 1 / w)
    dense = scipy.fft.dct(np.eye(6), 1, norm=norm, orthogonalize=False, axis=0)
    assert_close(adj.to_dense(), dense.T)


def test_dct_dst_orthogonalize_default_follows_norm():
    assert DCT(4).orthogonalize is False
    assert DCT(4, norm="ortho").orthogonalize is True
    assert DST(4, 3, "forward").orthogonalize is False
    assert DCT(4, norm="ortho", orthogonalize=np.bool_(False)).orthogonalize is False
    # ortho without orthogonalization is 1/sqrt(2n) times the backward matrix
    assert_close(
        DCT(5, 2, "ortho", orthogonalize=False).to_dense(), DCT(5).to_dense() / math.sqrt(10)
    )


@pytest.mark.parametrize("cls", [DCT, DST])
def test_complex_input_is_transformed_by_linearity(xp, cls):
    # also where scipy.fft's complex path would drop orthogonalize (DCT-I, ortho off)
    rng = np.random.default_rng(5)
    re, im = rng.standard_normal((2, 7, 3))
    for dtype in ("float64", "complex128"):
        for t in (1, 2, 3, 4):
            for norm, orth in (("backward", True), ("ortho", False), ("ortho", None)):
                A = cls(7, t, norm, orthogonalize=orth, dtype=dtype, xp=xp)
                y = A @ xp.asarray(re + 1j * im)
                expected = to_numpy(A @ xp.asarray(re)) + 1j * to_numpy(A @ xp.asarray(im))
                assert_close(y, oracle_as(expected, xp), size=7)
                v = A @ xp.asarray(re[:, 0] + 1j * im[:, 0])
                assert_close(v, oracle_as(expected[:, 0], xp), size=7)


def test_dct_dst_float32_stays_float32():
    x = np.arange(9, dtype=np.float32)
    for t in (1, 2, 3, 4):
        assert (DCT(9, t, dtype="float32") @ x).dtype == np.float32
        assert (DST(9, t, dtype="float32") @ x.astype(np.complex64)).dtype == np.complex64
        assert (DCT(9, t, dtype="float64") @ x).dtype == np.float64  # strong: promotion
        assert (DCT(9, t) @ x).dtype == scipy.fft.dct(x, t).dtype == np.float32  # weak


# ---------------------------------------------------------------------- Hadamard
@given(
    e=st.integers(0, 7),
    norm=st.sampled_from([None, "ortho"]),
    op_dtype=st.sampled_from(REAL),
    x_dtype=st.sampled_from(ALL),
    layout=LAYOUTS,
    seed=SEEDS,
)
def test_hadamard_matches_scipy(xp, e, norm, op_dtype, x_dtype, layout, seed):
    n = 2**e
    x, axis = make_input(seed, n, layout, x_dtype)
    op = Hadamard(n, norm, dtype=op_dtype, xp=xp)
    H = scipy.linalg.hadamard(n) / (math.sqrt(n) if norm == "ortho" else 1.0)
    y = op @ xp.asarray(x)
    assert aa.dtype_name(y.dtype) == promoted(op_dtype, x_dtype)
    assert_close(
        y,
        oracle_as(
            columns(lambda v: H @ v, x.astype(np.complex128), axis), xp, promoted(op_dtype, x_dtype)
        ),
        size=n,
    )
    assert_close(op.to_dense(), oracle_as(H, xp, op_dtype))
    assert op.H is op
    assert op.T is op


# ---------------------------------------------------------------------- Circulant / Toeplitz
@given(
    n=SIZES,
    c_dtype=st.sampled_from(ALL),
    x_dtype=st.sampled_from(ALL),
    layout=LAYOUTS,
    seed=SEEDS,
)
def test_circulant_matches_scipy(xp, n, c_dtype, x_dtype, layout, seed):
    c = rand(seed + 1, (n,), c_dtype)
    x, axis = make_input(seed, n, layout, x_dtype)
    op = Circulant(xp.asarray(c))
    C = scipy.linalg.circulant(c.astype(np.complex128))
    y = op @ xp.asarray(x)
    assert aa.dtype_name(y.dtype) == promoted(c_dtype, x_dtype)
    expected = columns(lambda v: C @ v, x.astype(np.complex128), axis)
    assert_close(
        y, oracle_as(expected, xp, promoted(c_dtype, x_dtype)), rtol=conv_rtol(y, c, x, expected, n)
    )
    assert_close(op.to_dense(), oracle_as(C, xp, op.dtype))
    assert type(op.H) in _structural(Circulant, xp, "H")
    assert_close(op.H.to_dense(), oracle_as(C.conj().T, xp, op.dtype))
    assert type(op.T) in _structural(Circulant, xp, "T")
    assert_close(op.T.to_dense(), oracle_as(C.T, xp, op.dtype))


@given(
    m=SIZES,
    n=SIZES,
    c_dtype=st.sampled_from(ALL),
    r_dtype=st.sampled_from([None, *ALL]),
    x_dtype=st.sampled_from(ALL),
    layout=LAYOUTS,
    seed=SEEDS,
)
def test_toeplitz_matches_scipy(xp, m, n, c_dtype, r_dtype, x_dtype, layout, seed):
    c = rand(seed + 1, (m,), c_dtype)
    r = None if r_dtype is None else rand(seed + 2, (n,), r_dtype)
    op = Toeplitz(xp.asarray(c)) if r is None else Toeplitz(xp.asarray(c), xp.asarray(r))
    T = scipy.linalg.toeplitz(c) if r is None else scipy.linalg.toeplitz(c, r)
    assert op.shape == T.shape
    assert aa.dtype_name(op.dtype) == str(T.dtype)
    x, axis = make_input(seed, T.shape[1], layout, x_dtype)
    y = op @ xp.asarray(x)
    assert aa.dtype_name(y.dtype) == promoted(str(T.dtype), x_dtype)
    expected = columns(lambda v: T @ v, x.astype(np.complex128), axis)
    assert_close(
        y,
        oracle_as(expected, xp, promoted(str(T.dtype), x_dtype)),
        rtol=conv_rtol(y, np.concatenate((T[:, 0], T[0, 1:])), x, expected, m + n),
    )
    assert_close(op.to_dense(), oracle_as(T, xp))
    assert type(op.H) in _structural(Toeplitz, xp, "H")
    assert_close(op.H.to_dense(), oracle_as(T.conj().T, xp))
    assert type(op.T) in _structural(Toeplitz, xp, "T")
    assert_close(op.T.to_dense(), oracle_as(T.T, xp))


def test_toeplitz_ignores_r0_like_scipy():
    c, r = np.array([1.0, 2.0, 3.0]), np.array([99.0, 4.0, 5.0])
    T = Toeplitz(c, r=r)
    np.testing.assert_array_equal(T.to_dense(), scipy.linalg.toeplitz(c, r))
    np.testing.assert_array_equal(T.r, [1.0, 4.0, 5.0])


def test_toeplitz_default_row_is_conjugate_column():
    c = np.array([1.0 + 0j, 2.0 + 1j, 3.0 - 2j])
    T = Toeplitz(c)
    np.testing.assert_allclose(T.to_dense(), scipy.linalg.toeplitz(c))
    np.testing.assert_allclose(T.to_dense(), T.to_dense().conj().T)  # Hermitian


# ---------------------------------------------------------------------- Convolution
@given(
    L=st.integers(1, 24),
    n=st.integers(1, 24),
    mode=st.sampled_from(["full", "same", "valid"]),
    h_dtype=st.sampled_from(ALL),
    x_dtype=st.sampled_from(ALL),
    layout=LAYOUTS,
    seed=SEEDS,
)
def test_convolution_matches_numpy_convolve(xp, L, n, mode, h_dtype, x_dtype, layout, seed):
    h = rand(seed + 1, (L,), h_dtype)
    x, axis = make_input(seed, n, layout, x_dtype)
    op = Convolution(xp.asarray(h), n, mode)
    y = op @ xp.asarray(x)
    hw = h.astype(np.complex128)
    expected = columns(lambda v: np.convolve(hw, v, mode), x.astype(np.complex128), axis)
    assert aa.dtype_name(y.dtype) == promoted(h_dtype, x_dtype)
    assert_close(
        y,
        oracle_as(expected, xp, promoted(h_dtype, x_dtype)),
        rtol=conv_rtol(y, h, x, expected, L + n),
    )
    eye = np.eye(n)
    dense = np.stack([np.convolve(hw, eye[:, j], mode) for j in range(n)], axis=1)
    assert_close(op.to_dense(), oracle_as(dense, xp, h_dtype))
    assert type(op.H) in _structural(Toeplitz, xp, "H")
    assert_close(op.H.to_dense(), oracle_as(dense.conj().T, xp, h_dtype))
    assert_close(op.T.to_dense(), oracle_as(dense.T, xp, h_dtype))


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize(("L", "n"), [(3, 8), (8, 3), (4, 4), (1, 5), (5, 1), (6, 7), (7, 6)])
def test_convolution_both_orders_of_sizes(mode, L, n):
    # numpy swaps its arguments so the longer comes first; "same"/"valid" follow that
    rng = np.random.default_rng(L * 10 + n)
    h, x = rng.standard_normal(L), rng.standard_normal(n)
    y = Convolution(h, n=n, mode=mode) @ x
    expected = np.convolve(h, x, mode)
    assert y.shape == expected.shape
    assert_close(y, expected)


# ---------------------------------------------------------------------- structure on the market
@pytest.mark.parametrize("name", sorted(MARKET))
@given(data=st.data())
def test_market_double_adjoint_is_the_operator(name, data):
    # the laws (tests/test_laws.py) compare op.H.H by value; here it is the same object
    op = data.draw(MARKET[name](np), label=name)
    assert op.H.H is op


def test_batched_input_equals_per_slice(xp):
    x = rand(0, (3, 2, 10, 4), "complex128")
    for op in (DFT(10, xp=xp), DCT(10, 3, xp=xp), Circulant(xp.asarray(rand(1, (10,), "float64")))):
        Y = to_numpy(op @ xp.asarray(x))
        D = to_numpy(op.to_dense())
        assert Y.shape == (3, 2, 10, 4)
        assert_close(Y, D @ x, size=10)


# ---------------------------------------------------------------------- bookkeeping
def test_repr():
    assert repr(DFT(8)) == "DFT(8, norm='backward')"
    assert repr(IDFT(8, "ortho", dtype="complex64")) == "IDFT(8, norm='ortho', dtype=complex64)"
    assert repr(DCT(8)) == "DCT(8, type=2, norm='backward')"
    assert repr(DCT(8, 1, "ortho")) == "DCT(8, type=1, norm='ortho')"
    assert (
        repr(DCT(8, 4, "ortho", orthogonalize=False))
        == "DCT(8, type=4, norm='ortho', orthogonalize=False)"
    )
    assert (
        repr(DST(8, 3, orthogonalize=True)) == "DST(8, type=3, norm='backward', orthogonalize=True)"
    )
    assert (
        repr(DST(8, 3, "ortho", dtype="float32")) == "DST(8, type=3, norm='ortho', dtype=float32)"
    )
    assert repr(Hadamard(8)) == "Hadamard(8, norm='backward')"
    assert repr(Circulant(np.ones(4))) == "Circulant(4, float64)"
    assert repr(Toeplitz(np.ones(3), np.ones(5))) == "Toeplitz(3x5, float64)"
    assert repr(Convolution(np.ones(3), 5, "valid")) == "Convolution(3, 5, mode='valid', float64)"


def test_parameter_count_and_flops():
    assert DFT(16).parameter_count == 0
    assert IDFT(16).parameter_count == 0
    assert DCT(16).parameter_count == 0
    assert Hadamard(16).parameter_count == 0
    assert Circulant(np.ones(5)).parameter_count == 5
    assert Toeplitz(np.ones(3), np.ones(5)).parameter_count == 7
    assert Convolution(np.ones(3), 5).parameter_count == 3
    assert DFT(1024).flops(1) == 1024 * 10
    assert DFT(1024, "ortho").flops(2) == 2 * (1024 * 10 + 1024)
    assert Hadamard(1024).flops(3) == 3 * 1024 * 10
    assert DCT(1024).flops(1) == 1024 * 5 + 2 * 1024
    assert DCT(1024, 4).flops(2) == 2 * (1024 * 5 + 2 * 1024)
    assert DCT(1025, 1).flops(1) == 2048 * 11 // 2 + 2 * 1025  # real FFT of length 2(n - 1)
    assert DST(1023, 1).flops(1) == 2048 * 11 // 2 + 2 * 1023  # real FFT of length 2(n + 1)
    assert DST(16, 1).parameter_count == 0
    # FFT counts grow like n log n: far below dense for large n
    for op in (DFT(4096), DCT(4096), Hadamard(4096), Circulant(np.ones(4096))):
        assert op.flops(1) < 4096**2 / 50
    T = Toeplitz(np.ones(300), np.ones(200))
    assert T.flops(1) < 300 * 200


def test_to_moves_backend_and_precision():
    import array_api_strict

    op = DFT(8).to(dtype=np.complex64)
    assert op.dtype == np.complex64
    assert repr(op) == "DFT(8, norm='backward', dtype=complex64)"
    assert DCT(8).to(dtype=np.float32).dtype == np.float32
    moved = DST(8, 3, "ortho", orthogonalize=False).to(xp=array_api_strict)
    assert (moved.type, moved.norm, moved.orthogonalize) == (3, "ortho", False)
    assert_close(
        moved.to_dense(),
        oracle_as(
            scipy.fft.dst(np.eye(8), 3, norm="ortho", orthogonalize=False, axis=0), array_api_strict
        ),
    )
    assert DCT(8).to(dtype=np.complex128).dtype == np.complex128  # entries stay real
    assert_close(
        DCT(8).to(dtype=np.complex128).to_dense(),
        oracle_as(scipy.fft.dct(np.eye(8), axis=0), np, "complex128"),
    )
    assert Hadamard(8).to(dtype=np.float32).dtype == np.float32
    c = rand(0, (6,), "float64")
    s = Circulant(c).to(xp=array_api_strict)
    assert s.xp is array_api_strict
    assert_close(s.to_dense(), oracle_as(scipy.linalg.circulant(c), array_api_strict))
    t = Toeplitz(c, c[:4]).to(dtype=np.float32)
    assert t.dtype == np.float32
    assert_close(t.to_dense(), oracle_as(scipy.linalg.toeplitz(c, c[:4]), np, "float32"))
    v = Convolution(c, 5, "same").to(dtype=np.complex64)
    assert v.dtype == np.complex64
    assert v.mode == "same"


def test_public_names():
    assert sm.DFT is DFT
    assert sm.Convolution is Convolution
    assert sm.Hadamard is Hadamard


def test_fast_len_is_the_smallest_5_smooth_length():
    def smooth(k):
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        return k == 1

    for n in range(1, 400):
        N = _fast_len(n)
        assert N >= n
        assert smooth(N)
        assert not any(smooth(j) for j in range(n, N))


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("cls", [DFT, IDFT, DCT, DST, Hadamard])
def test_bad_size(cls):
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        cls(0)
    with pytest.raises(ValueError, match="got -3"):
        cls(-3)
    with pytest.raises(TypeError, match=r"integer >= 1, got float 4\.0"):
        cls(4.0)
    with pytest.raises(TypeError, match="integer >= 1, got bool True"):
        cls(True)


def test_hadamard_needs_a_power_of_two():
    with pytest.raises(ValueError, match="power of 2, got 12"):
        Hadamard(12)
    with pytest.raises(ValueError, match="power of 2, got 3"):
        Hadamard(3)


@pytest.mark.parametrize("cls", [DFT, IDFT])
def test_bad_dft_norm_and_dtype(cls):
    with pytest.raises(ValueError, match="'backward', 'ortho', 'forward'; got 'unitary'"):
        cls(4, "unitary")
    with pytest.raises(TypeError, match="complex64 or complex128, got float64"):
        cls(4, dtype="float64")
    with pytest.raises(TypeError, match="int32"):
        cls(4, dtype="int32")


@pytest.mark.parametrize("cls", [DCT, DST])
def test_bad_dct_type_norm_dtype(cls):
    for bad in (0, 5, -1):
        with pytest.raises(ValueError, match=rf"type must be one of 1, 2, 3, 4; got {bad} \(int\)"):
            cls(4, bad)
    with pytest.raises(ValueError, match=r"one of 1, 2, 3, 4; got '2' \(str\)"):
        cls(4, "2")
    with pytest.raises(ValueError, match=r"one of 1, 2, 3, 4; got 2.0 \(float\)"):
        cls(4, 2.0)
    with pytest.raises(ValueError, match="'backward', 'ortho', 'forward'; got 'bad'"):
        cls(4, 2, "bad")
    with pytest.raises(
        TypeError, match=r"orthogonalize must be None, True or False; got 'yes' \(str\)"
    ):
        cls(4, 2, orthogonalize="yes")
    with pytest.raises(
        TypeError, match=r"orthogonalize must be None, True or False; got 1 \(int\)"
    ):
        cls(4, 2, orthogonalize=1)
    with pytest.raises(TypeError, match="int64"):
        cls(4, dtype="int64")


def test_dct1_needs_two_points_dst1_does_not():
    with pytest.raises(ValueError, match=r"DCT type 1 needs n >= 2 .*got n = 1"):
        DCT(1, 1)
    with pytest.raises(RuntimeError):  # SciPy's own failure, which DCT turns into a ValueError
        scipy.fft.dct(np.ones(1), 1)
    assert_close(DST(1, 1) @ np.array([3.0]), scipy.fft.dst(np.array([3.0]), 1))


def test_bad_hadamard_norm():
    with pytest.raises(ValueError, match="'backward', 'ortho'; got 'forward'"):
        Hadamard(4, "forward")


def test_bad_parameters():
    with pytest.raises(ValueError, match="1-d array, got shape \\(2, 2\\)"):
        Circulant(np.ones((2, 2)))
    with pytest.raises(ValueError, match="non-empty"):
        Circulant(np.ones(0))
    assert Circulant(np.arange(3)).dtype == np.float64  # integer data: float64
    with pytest.raises(TypeError, match="float32, float64, complex64 or complex128, got float16"):
        Circulant(np.arange(3, dtype=np.float16))
    with pytest.raises(ValueError, match="Toeplitz c expects a 1-d array"):
        Toeplitz(np.ones((2, 2)))
    with pytest.raises(ValueError, match="Toeplitz r expects a 1-d array"):
        Toeplitz(np.ones(2), np.ones((2, 2)))
    with pytest.raises(ValueError, match="Convolution h expects a 1-d array"):
        Convolution(np.ones((2, 2)), 3)
    with pytest.raises(ValueError, match="'full', 'same', 'valid', 'circular'; got 'periodic'"):
        Convolution(np.ones(2), 3, "periodic")
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        Convolution(np.ones(2), 0)


def test_toeplitz_refuses_mixed_namespaces():
    import array_api_strict

    with pytest.raises(TypeError, match="cannot mix array namespaces"):
        Toeplitz(np.ones(3), array_api_strict.asarray([1.0, 2.0]))


def test_wrong_input_length_names_both_sizes(xp):
    with pytest.raises(ValueError, match="expects input with 8 rows"):
        DFT(8, xp=xp) @ xp.ones(7, dtype=xp.complex128)
    with pytest.raises(ValueError, match="expects input with 5 rows"):
        Convolution(xp.ones(3, dtype=xp.float64), 5) @ xp.ones(4, dtype=xp.float64)


@pytest.mark.parametrize("cls", [DCT, DST, Hadamard])
def test_real_transforms_with_a_complex_dtype(cls):
    n = 8
    op = cls(n, dtype="complex64")
    assert op.dtype == np.complex64
    assert (op @ np.ones(n, dtype=np.float32)).dtype == np.complex64
    real = cls(n).to_dense()
    assert_close(op.to_dense(), oracle_as(real, np, "complex64"))
    assert_close(op.T.to_dense(), oracle_as(real.T, np, "complex64"))
    assert_close(op.H.to_dense(), oracle_as(real.T, np, "complex64"))


@pytest.mark.parametrize(
    ("op_dtype", "x_dtype", "expected"),
    [
        ("complex128", "float64", "complex128"),
        ("complex128", "float32", "complex128"),  # promotion, not the input's precision
        ("complex64", "float32", "complex64"),
        ("complex64", "float64", "complex128"),
    ],
)
def test_dft_real_input_promotes_like_the_array_api(xp, op_dtype, x_dtype, expected):
    # The DFT takes real input of its precision without a complex copy; the
    # result dtype must still be the array-API promotion of the two dtypes.
    n = 12
    x = np.random.default_rng(3).standard_normal((n, 2)).astype(x_dtype)
    F = sm.DFT(n, dtype=getattr(xp, op_dtype), xp=xp)
    y = F @ xp.asarray(x)
    assert y.dtype == getattr(xp, expected)
    assert_close(
        y,
        oracle_as(np.fft.fft(x.astype(np.float64), axis=0), xp, expected),
        rtol=smt.tolerance(expected, n),
    )
    assert_close(
        F @ xp.asarray(x[:, 0]),
        oracle_as(np.fft.fft(x[:, 0].astype(np.float64)), xp, expected),
        rtol=smt.tolerance(expected, n),
    )

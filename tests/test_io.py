"""Saving/loading operators and reading matrix files (structmat.io), never with pickle."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import scipy.fft
import scipy.linalg
from _helpers import monarch_oracle, oracle_as

import structmat as sm
from structmat import io
from structmat._verify import dense_butterfly
from structmat.linop import LinearOperator
from structmat.testing import assert_close

RNG = np.random.default_rng(0)


def rand(*shape, dtype=np.float64):
    a = RNG.standard_normal(shape)
    if np.issubdtype(dtype, np.complexfloating):
        a = a + 1j * RNG.standard_normal(shape)
    return a.astype(dtype)


def roundtrip(tmp_path, op, name="op.npz"):
    path = tmp_path / name
    io.save(path, op)
    return io.load(path)


# ---------------------------------------------------------------------- basic classes and algebra
def _basic_cases():
    A = rand(4, 3)
    B = rand(3, 3, dtype=np.complex128)
    d = rand(3)
    idx = np.array([2, 0, 1])
    P = np.eye(3)[idx]
    S = rand(3, 3)
    return [
        ("dense", lambda: sm.Dense(A), A),
        ("dense-f32", lambda: sm.Dense(A.astype(np.float32)), A.astype(np.float32)),
        ("diagonal", lambda: sm.Diagonal(d), np.diag(d)),
        ("permutation", lambda: sm.Permutation(idx), P),
        ("identity", lambda: sm.Identity(3, dtype=np.complex64), np.eye(3)),
        ("zero", lambda: sm.Zero((2, 5)), np.zeros((2, 5))),
        ("product", lambda: sm.Dense(A) @ sm.Diagonal(d) @ sm.Permutation(idx), A @ np.diag(d) @ P),
        ("sum", lambda: sm.Dense(S) + sm.Diagonal(d), S + np.diag(d)),
        ("scaled-complex", lambda: (2 - 3j) * sm.Dense(S), (2 - 3j) * S),
        ("scaled-real", lambda: -0.5 * sm.Dense(S), -0.5 * S),
        ("adjoint", lambda: sm.Adjoint(sm.Dense(B)), B.conj().T),
        ("transpose", lambda: sm.Dense(A).T, A.T),
        ("conjugate", lambda: (sm.Dense(B) @ sm.Diagonal(d)).conj(), (B @ np.diag(d)).conj()),
        ("power", lambda: sm.Dense(S) ** 3, S @ S @ S),
        (
            "nested",
            lambda: (sm.Dense(B) @ (sm.Dense(S) + 2 * sm.Identity(3))).H,
            (B @ (S + 2 * np.eye(3))).conj().T,
        ),
    ]


@pytest.mark.parametrize(
    ("name", "make", "dense"), _basic_cases(), ids=[c[0] for c in _basic_cases()]
)
def test_roundtrip_basic_and_algebra(tmp_path, name, make, dense):
    op = make()
    back = roundtrip(tmp_path, op)
    assert type(back) is type(op)
    assert repr(back) == repr(op)
    assert back.shape == op.shape
    assert back.dtype == op.dtype
    assert_close(back.to_dense(), oracle_as(dense, np, op.dtype), what=name)
    x = rand(op.shape[1])
    assert_close(
        back @ x, oracle_as(dense @ x, np, np.result_type(op.dtype, x.dtype)), what=f"{name} @ x"
    )


def test_roundtrip_blocks(tmp_path):
    stack = rand(3, 2, 4)
    bd = sm.BlockDiagonal(stack)
    assert_close(roundtrip(tmp_path, bd).to_dense(), scipy.linalg.block_diag(*stack))
    mixed = sm.BlockDiagonal([rand(1, 2), sm.Identity(3)])
    back = roundtrip(tmp_path, mixed)
    assert repr(back) == repr(mixed)
    assert_close(back.to_dense(), scipy.linalg.block_diag(mixed.blocks[0].to_dense(), np.eye(3)))
    A, B = rand(2, 3), rand(4, 2, dtype=np.complex128)
    kron = roundtrip(tmp_path, sm.Kronecker(A, B))
    assert_close(kron.to_dense(), np.kron(A, B))
    grid = sm.block([[sm.Dense(A), None], [None, sm.Dense(B)]])
    assert_close(roundtrip(tmp_path, grid).to_dense(), scipy.linalg.block_diag(A, B))


def test_roundtrip_structured_families(tmp_path):
    """Monarch, Butterfly, LowRank and the Fourier family."""
    K, J, p, s, r = 3, 4, 2, 5, 2
    L, R = rand(J, s, K * r), rand(K, r * J, p, dtype=np.complex128)
    M = sm.Monarch(L, R)
    dense = monarch_oracle(L, R)  # element formula of DESIGN.md §4
    back = roundtrip(tmp_path, M)
    assert isinstance(back, sm.Monarch)
    assert_close(back.to_dense(), dense)
    cut = sm.Monarch(L, R, shape=(17, 5))
    assert_close(roundtrip(tmp_path, cut).to_dense(), dense[:17, :5])
    assert_close(roundtrip(tmp_path, M.H @ M).to_dense(), dense.conj().T @ dense)
    tw = rand(3, 4, 2, 2)
    for inc in (True, False):
        B = sm.Butterfly(tw, increasing_stride=inc)
        back = roundtrip(tmp_path, B)
        assert isinstance(back, sm.Butterfly)
        assert_close(back.to_dense(), dense_butterfly(tw, increasing_stride=inc))
    U, V, s = rand(6, 2), rand(5, 2, dtype=np.complex128), rand(2)
    assert_close(roundtrip(tmp_path, sm.LowRank(U, V)).to_dense(), U @ V.conj().T)
    assert_close(roundtrip(tmp_path, sm.LowRank(U, V, s)).to_dense(), U @ np.diag(s) @ V.conj().T)
    c, r, h = rand(5), rand(4), rand(3)
    cases = [
        (sm.DFT(8, norm="ortho"), np.fft.fft(np.eye(8), axis=0, norm="ortho")),
        (sm.IDFT(6), np.fft.ifft(np.eye(6), axis=0)),
        (sm.Hadamard(8), scipy.linalg.hadamard(8)),
        (sm.DFT(8, dtype=np.complex64), np.fft.fft(np.eye(8), axis=0)),
        (
            sm.DCT(8, type=3, norm="ortho"),
            scipy.fft.dct(np.eye(8), type=3, norm="ortho", axis=0),
        ),
        (sm.DST(8), scipy.fft.dst(np.eye(8), type=2, axis=0)),
        (sm.Circulant(c), scipy.linalg.circulant(c)),
        (sm.Toeplitz(c, r), scipy.linalg.toeplitz(c, r)),
        (sm.Convolution(h, 6), np.stack([np.convolve(h, e) for e in np.eye(6)], axis=1)),
    ]
    for op, dense in cases:
        back = roundtrip(tmp_path, op)
        assert type(back) is type(op)
        assert back.dtype == op.dtype
        assert_close(back.to_dense(), oracle_as(dense, np, op.dtype), what=type(op).__name__)


def test_result_roundtrip(tmp_path):
    r = sm.ProjectionResult(
        sm.Diagonal(np.arange(1.0, 4.0)),
        error=0.5,
        norm=2.0,
        lower_bound=0.25,
        upper_bound=0.75,
        exact=False,
        onto="diagonal",
        params={"nblocks": (2, 3), "rank": 1},
        notes="a note",
    )
    path = tmp_path / "r.npz"
    io.save(path, r)
    back = io.load_result(path)
    assert (back.error, back.norm, back.lower_bound, back.upper_bound) == (0.5, 2.0, 0.25, 0.75)
    assert (back.exact, back.onto, back.notes) == (False, "diagonal", "a note")
    assert back.params == {"nblocks": (2, 3), "rank": 1}
    assert_close(back.operator.to_dense(), np.diag([1.0, 2.0, 3.0]))
    assert_close(io.load(path).to_dense(), np.diag([1.0, 2.0, 3.0]))  # plain load: the operator


def test_load_onto_another_backend(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "d.npz"
    io.save(path, sm.Diagonal(np.arange(3.0)) @ sm.Dense(np.eye(3)[[1, 2, 0]]))
    op = io.load(path, xp=torch)
    y = op @ torch.ones(3, dtype=torch.float64)
    assert isinstance(y, torch.Tensor)
    assert y.tolist() == [0.0, 1.0, 2.0]
    # and back: a torch operator saves through a host copy
    io.save(path, op)
    assert io.load(path).xp is not op.xp


def test_files_load_without_pickle(tmp_path):
    path = tmp_path / "op.npz"
    io.save(path, sm.Dense(rand(2, 2)) + sm.Diagonal(rand(2)))
    with np.load(path, allow_pickle=False) as z:  # every entry is a plain array
        assert all(z[k].dtype != object for k in z.files)
        meta = json.loads(bytes(z["__structmat__"]).decode())
    assert meta["format"] == "structmat-operator"
    assert meta["version"] == 1
    assert meta["operator"]["class"] == "Sum"


# ---------------------------------------------------------------------- errors
class _Custom(LinearOperator):
    def __init__(self):
        super().__init__(shape=(2, 2), dtype=np.float64, xp=sm.Identity(1).xp)

    def _matmat(self, X):
        return X


def test_save_errors(tmp_path):
    with pytest.raises(
        ValueError, match=r"cannot save an operator of class _Custom; savable classes: .*Monarch"
    ):
        io.save(tmp_path / "x.npz", _Custom())
    with pytest.raises(
        TypeError, match="save expects a structmat LinearOperator or ProjectionResult, got ndarray"
    ):
        io.save(tmp_path / "x.npz", np.eye(2))


def _rewrite_meta(path, change):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays["__structmat__"]).decode())
    change(meta)
    arrays["__structmat__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        io.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(io.FileFormatError, match=r"not a readable .npz file"):
        io.load(bad)
    single = tmp_path / "single.npy"
    np.save(single, np.eye(2))
    with pytest.raises(io.FileFormatError, match=r"a single .npy array"):
        io.load(single)
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.eye(2))
    with pytest.raises(io.FileFormatError, match="holds no structmat operator"):
        io.load(plain)
    path = tmp_path / "op.npz"
    io.save(path, sm.Diagonal(np.ones(2)) @ sm.Dense(np.eye(2)))

    def unknown(meta):
        meta["operator"]["children"][0]["class"] = "Nonesuch"

    _rewrite_meta(path, unknown)
    with pytest.raises(
        ValueError,
        match=r"unknown operator class 'Nonesuch' at operator/Product\[0\]; known classes: ",
    ):
        io.load(path)
    io.save(path, sm.Diagonal(np.ones(2)))
    _rewrite_meta(path, lambda m: m.update(version=99))
    with pytest.raises(
        io.FileFormatError, match="format version 99, this structmat reads version 1"
    ):
        io.load(path)
    io.save(path, sm.Diagonal(np.ones(2)))
    _rewrite_meta(path, lambda m: m["operator"]["arrays"].update(d="a7"))
    with pytest.raises(io.FileFormatError, match="missing array 'a7' needed by Diagonal"):
        io.load(path)
    io.save(path, sm.Diagonal(np.ones(2)))
    with pytest.raises(io.FileFormatError, match="holds an operator but no projection result"):
        io.load_result(path)
    # corrupt JSON
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["__structmat__"] = np.frombuffer(b"{not json", dtype=np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(io.FileFormatError, match="metadata is corrupt"):
        io.load(path)


# ---------------------------------------------------------------------- reading matrices
def test_read_npy_and_npz(tmp_path):
    A, B = rand(3, 4), rand(2, 2, dtype=np.complex64)
    np.save(tmp_path / "w.npy", A)
    got = io.read_matrices(tmp_path / "w.npy")
    assert list(got) == ["w"]
    np.testing.assert_array_equal(got["w"], A)
    np.savez(tmp_path / "m.npz", a=A, bias=np.ones(3), b=B, cube=np.ones((2, 2, 2)))
    got = io.read_matrices(tmp_path / "m.npz")
    assert list(got) == ["a", "b"]  # 2-d arrays only, in file order
    np.testing.assert_array_equal(got["b"], B)
    assert got["b"].dtype == np.complex64
    got = io.read_matrices(tmp_path / "m.npz", key="b")
    assert list(got) == ["b"]


def test_read_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    A, B = rand(4, 3).astype(np.float32), rand(5, 5)
    path = tmp_path / "model.safetensors"
    st.save_file(
        {"layer.0.weight": A, "layer.0.bias": np.ones(4, dtype=np.float32), "layer.1.weight": B},
        str(path),
    )
    got = io.read_matrices(path)
    assert sorted(got) == ["layer.0.weight", "layer.1.weight"]
    np.testing.assert_array_equal(got["layer.0.weight"], A)
    assert got["layer.0.weight"].dtype == np.float32
    got = io.read_matrices(path, key="layer.1.weight")
    np.testing.assert_array_equal(got["layer.1.weight"], B)
    with pytest.raises(io.FileFormatError, match=r"has no array 'nope'; it holds .*layer.0.bias"):
        io.read_matrices(path, key="nope")
    with pytest.raises(
        io.FileFormatError, match=r"array 'layer.0.bias' has shape \(4,\), expected a 2-d matrix"
    ):
        io.read_matrices(path, key="layer.0.bias")
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(io.FileFormatError, match=r"not a readable .safetensors file"):
        io.read_matrices(corrupt)


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        io.read_matrices(tmp_path / "missing.npy")
    with pytest.raises(
        io.FileFormatError,
        match=r"unsupported file type '.txt'; expected one of .npy, .npz, .safetensors",
    ):
        io.read_matrices(tmp_path / "w.txt")
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(io.FileFormatError, match=r"not a readable .npy file"):
        io.read_matrices(obj)  # would need pickle: refused
    trunc = tmp_path / "trunc.npy"
    np.save(trunc, np.eye(50))
    trunc.write_bytes(trunc.read_bytes()[:200])
    with pytest.raises(io.FileFormatError, match=r"not a readable .npy file"):
        io.read_matrices(trunc)
    vec = tmp_path / "vec.npy"
    np.save(vec, np.ones(3))
    with pytest.raises(io.FileFormatError, match=r"has shape \(3,\), expected a 2-d matrix"):
        io.read_matrices(vec)
    np.save(tmp_path / "w.npy", np.eye(2))
    with pytest.raises(
        io.FileFormatError, match=r"--key selects an array in a .npz or .safetensors file"
    ):
        io.read_matrices(tmp_path / "w.npy", key="w")
    np.savez(tmp_path / "v.npz", v=np.ones(3))
    with pytest.raises(io.FileFormatError, match="holds no 2-d array"):
        io.read_matrices(tmp_path / "v.npz")
    with pytest.raises(io.FileFormatError, match="has no array 'w'"):
        io.read_matrices(tmp_path / "v.npz", key="w")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(io.FileFormatError, match=r"not a readable .npz file"):
        io.read_matrices(bad)
    with zipfile.ZipFile(tmp_path / "junk.npz", "w") as z:
        z.writestr("a.npy", b"\x93NUMPY garbage")
    with pytest.raises(io.FileFormatError):
        io.read_matrices(tmp_path / "junk.npz")
    np.save(tmp_path / "s.npy", np.array([["a", "b"]]))
    with pytest.raises(io.FileFormatError, match="expected numbers"):
        io.read_matrices(tmp_path / "s.npy")

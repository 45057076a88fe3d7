"""Saving/loading operators and reading matrix files (structmat.io), never with pickle."""

from __future__ import annotations

import json
import sys
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
        (sm.DCT(8, type=1), scipy.fft.dct(np.eye(8), type=1, axis=0)),
        (
            sm.DST(7, type=4, norm="forward"),
            scipy.fft.dst(np.eye(7), 4, norm="forward", axis=0),
        ),
        (
            sm.DCT(6, type=2, norm="ortho", orthogonalize=False),
            scipy.fft.dct(np.eye(6), 2, norm="ortho", orthogonalize=False, axis=0),
        ),
        (
            sm.DST(6, type=3, orthogonalize=True, dtype=np.float32),
            scipy.fft.dst(np.eye(6), 3, orthogonalize=True, axis=0),
        ),
        (sm.Circulant(c), scipy.linalg.circulant(c)),
        (sm.Toeplitz(c, r), scipy.linalg.toeplitz(c, r)),
        (sm.Convolution(h, 6), np.stack([np.convolve(h, e) for e in np.eye(6)], axis=1)),
    ]
    for op, dense in cases:
        back = roundtrip(tmp_path, op)
        assert type(back) is type(op)
        assert back.dtype == op.dtype
        assert_close(back.to_dense(), oracle_as(dense, np, op.dtype), what=type(op).__name__)


@pytest.mark.parametrize("norm", ["backward", "ortho"])
def test_dct_files_without_orthogonalize_load_with_scipy_default(tmp_path, norm):
    # files written before DCT/DST stored orthogonalize: the default of their norm
    meta, arrays = _meta_and_arrays(tmp_path, sm.DCT(6, type=2, norm=norm))
    params = meta["operator"]["params"]
    assert params["orthogonalize"] is (norm == "ortho")
    del params["orthogonalize"]
    path = tmp_path / "old.npz"
    _write(path, meta, arrays)
    back = io.load(path)
    assert back.orthogonalize is (norm == "ortho")
    assert_close(back.to_dense(), scipy.fft.dct(np.eye(6), 2, norm=norm, axis=0))


def test_dct_file_with_a_bad_orthogonalize_is_refused(tmp_path):
    meta, arrays = _meta_and_arrays(tmp_path, sm.DST(4, type=1))
    meta["operator"]["params"]["orthogonalize"] = "yes"
    path = tmp_path / "bad.npz"
    _write(path, meta, arrays)
    with pytest.raises(
        io.FileFormatError, match=r"'params.orthogonalize' must be true or false, got string 'yes'"
    ):
        io.load(path)


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
    single = tmp_path / "single.npz"
    with open(single, "wb") as f:
        np.save(f, np.eye(2))
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
    with pytest.raises(
        io.FileFormatError,
        match=r"at operator \(Diagonal\): 'arrays.d' names array 'a7', which the file does not hold",
    ):
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


# ---------------------------------------------------------------------- tampered files
def _every_savable_class():
    """One operator of every class in io.SAVABLE (some nested), for the tampering tests."""
    S, c = rand(4, 4), rand(4)
    ops = [
        sm.Dense(rand(3, 2)),
        sm.Diagonal(rand(3)),
        sm.Permutation(np.array([2, 0, 1])),
        sm.Identity(3, dtype=np.complex64),
        sm.Zero((2, 3)),
        sm.Dense(S) + sm.Diagonal(c),
        sm.Dense(S) @ sm.Diagonal(c),
        (1 - 2j) * sm.Dense(S),
        sm.Adjoint(sm.Dense(S)),
        sm.Transpose(sm.Dense(S)),
        sm.Transpose(sm.Dense(S)).H,  # a _Conjugate, saved as Conjugate
        sm.Dense(S) ** 2,
        sm.Monarch(rand(2, 3, 4), rand(2, 4, 3), shape=(5, 6)),
        sm.Monarch(rand(2, 2, 2), rand(2, 2, 2)).H,
        sm.Butterfly(rand(2, 2, 2, 2)),
        sm.Butterfly((rand(2, 3, 3), rand(3, 2, 2)), increasing_stride=False),
        sm.LowRank(rand(4, 2), rand(3, 2), rand(2)),
        sm.BlockDiagonal(rand(2, 2, 3)),
        sm.BlockDiagonal([sm.Dense(rand(1, 2)), sm.Identity(2)]),
        sm.block([[sm.Dense(rand(2, 2)), None], [None, sm.Dense(rand(1, 1))]]),
        sm.Kronecker(rand(2, 2), rand(2, 3)),
        sm.DFT(4, norm="ortho"),
        sm.IDFT(4),
        sm.Hadamard(4),
        sm.DCT(4, type=3),
        sm.DST(4),
        sm.Circulant(c),
        sm.Toeplitz(c, rand(3)),
        sm.Convolution(rand(3), 4, mode="same"),
    ]
    return ops


def _meta_and_arrays(tmp_path, obj):
    path = tmp_path / "op.npz"
    io.save(path, obj)
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(bytes(arrays.pop("__structmat__")).decode()), arrays


def _write(path, meta, arrays):
    text = meta if isinstance(meta, str) else json.dumps(meta)
    np.savez(path, __structmat__=np.frombuffer(text.encode(), dtype=np.uint8), **arrays)


_WRONG = (None, 5, -1, 2.7, 10**12, True, "x", [], [1, 2, 3], {}, {"k": 1})


def _nodes(node):
    yield node
    for child in node.get("children", []):
        yield from _nodes(child)


def _mutations(meta):
    """Every single-field change: each key of each operator node and its params and
    arrays deleted, or set to each wrong value."""
    for k, node in enumerate(_nodes(meta["operator"])):
        for holder in ("node", "params", "arrays"):
            fields = node if holder == "node" else node[holder]
            for key in list(fields):
                yield f"node {k} {holder}.{key} deleted", (k, holder, key, "delete")
                for v in _WRONG:
                    yield f"node {k} {holder}.{key} = {v!r}", (k, holder, key, v)


def _apply(meta, change):
    k, holder, key, value = change
    meta = json.loads(json.dumps(meta))
    node = list(_nodes(meta["operator"]))[k]
    fields = node if holder == "node" else node[holder]
    if value == "delete":
        del fields[key]
    else:
        fields[key] = value
    return meta


def test_every_tampered_field_gives_file_format_error(tmp_path):
    """Each field of each class's file deleted or given a wrong value: the loader answers
    FileFormatError (naming a field) or a valid operator, never another exception."""
    checked = 0
    for op in _every_savable_class():
        meta, arrays = _meta_and_arrays(tmp_path, op)
        for what, change in _mutations(meta):
            tampered = _apply(meta, change)
            try:
                back = io._decode(tampered["operator"], arrays, "'f'", "operator", 0)
            except io.FileFormatError as exc:
                message = str(exc)
                checked += 1
                if "'f': " not in message:  # every message names the file
                    pytest.fail(f"{type(op).__name__}, {what}: {message}")
                continue
            except Exception as exc:  # the class of failure this test exists for
                pytest.fail(f"{type(op).__name__}, {what}: {type(exc).__name__}: {exc}")
            # a change that still describes a valid operator must rebuild a consistent one
            assert_close(back @ np.eye(back.shape[1], dtype=back.dtype), back.to_dense(), what=what)
    assert checked > 2000  # the sweep ran (deleting or breaking most fields is an error)
    names = {io._class_name(op) for op in _every_savable_class()}
    assert names >= set(io.SAVABLE), set(io.SAVABLE) - names


def test_tampered_arrays_give_file_format_error(tmp_path):
    bad_arrays = (
        np.array(["a", "b"]),
        np.zeros(()),
        np.zeros((2, 2, 2, 2, 2)),
        np.zeros((0, 3)),
        np.zeros(7),
        np.ones((3, 3), dtype=np.int64),
    )
    for op in _every_savable_class():
        meta, arrays = _meta_and_arrays(tmp_path, op)
        for key in arrays:
            for bad in bad_arrays:
                changed = {**arrays, key: bad}
                try:
                    io._decode(meta["operator"], changed, "'f'", "operator", 0)
                except io.FileFormatError:
                    continue
                except Exception as exc:
                    pytest.fail(f"{type(op).__name__}, array {key} = {bad!r}: {exc!r}")


@pytest.mark.parametrize(
    ("op", "change", "match"),
    [
        (
            sm.Monarch(rand(2, 2, 2), rand(2, 2, 2)),
            lambda m: m["operator"]["params"].pop("shape"),
            r"operator \(Monarch\): 'params.shape' must be a pair of integers >= 1, got nothing",
        ),
        (
            sm.Dense(rand(2, 2)),
            lambda m: m["operator"].pop("shape"),
            r"'shape' must be a pair of integers >= 0, got nothing \(the field is missing\)",
        ),
        (
            sm.DFT(4),
            lambda m: m["operator"]["params"].pop("n"),
            r"'params.n' must be an integer >= 0, got nothing",
        ),
        (
            sm.DFT(4),
            lambda m: m["operator"]["params"].pop("norm"),
            r"'params.norm' must be a string",
        ),
        (
            sm.Convolution(rand(3), 4),
            lambda m: m["operator"]["params"].pop("mode"),
            r"'params.mode' must be a string",
        ),
        (
            sm.Dense(rand(2, 2)),
            lambda m: m["operator"].update(arrays=["a0"]),
            r"'arrays' must be an object, got array of 1",
        ),
        (
            sm.Dense(rand(2, 2)),
            lambda m: m["operator"].update(params=None),
            r"'params' must be an object, got null",
        ),
        (
            sm.Dense(rand(2, 2)) + sm.Identity(2),
            lambda m: m["operator"].update(children=5),
            r"operator \(Sum\): 'children' must be an array, got number 5",
        ),
        (
            sm.block([[sm.Dense(rand(2, 2)), None], [None, sm.Dense(rand(1, 1))]]),
            lambda m: m["operator"]["params"].update(grid="ab"),
            r"'params.grid' must be a pair of integers >= 1, got string 'ab'",
        ),
        (
            sm.block([[sm.Dense(rand(2, 2)), None], [None, sm.Dense(rand(1, 1))]]),
            lambda m: m["operator"]["params"].update(grid=[3, 3]),
            r"BlockMatrix needs 9 children \(grid 3x3\), got 4",
        ),
        (
            2.0 * sm.Dense(rand(2, 2)),
            lambda m: m["operator"].update(children=[]),
            r"operator \(Scaled\): Scaled needs 1 children, got 0",
        ),
        (
            sm.Dense(rand(2, 2)),
            lambda m: m["operator"].update(children=[m["operator"].copy()]),
            r"Dense takes no children, got 1",
        ),
        (
            sm.Dense(rand(2, 2)) ** 2,
            lambda m: m["operator"]["params"].update(exponent=2.7),
            r"'params.exponent' must be an integer >= 0 and <= 1048576, got number 2.7",
        ),
        (
            sm.Dense(rand(2, 2)) ** 2,
            lambda m: m["operator"]["params"].update(exponent=10**12),
            r"'params.exponent' must be an integer >= 0 and <= 1048576, got number 1000000000000",
        ),
        (
            sm.Dense(rand(2, 2)) ** 2,
            lambda m: m["operator"]["params"].update(exponent=True),
            r"'params.exponent' must be an integer >= 0 and <= 1048576, got boolean True",
        ),
        (
            sm.Butterfly(rand(2, 2, 2, 2)),
            lambda m: m["operator"]["params"].update(increasing_stride="no"),
            r"'params.increasing_stride' must be true or false, got string 'no'",
        ),
        (
            sm.Dense(rand(2, 2)),
            lambda m: m["operator"].update(dtype="float32"),
            r"rebuilt Dense has shape \(2, 2\) and dtype float64, the file says \(2, 2\) and float32",
        ),
        (
            sm.Dense(rand(2, 2)),
            lambda m: m["operator"].update(dtype="U8"),
            r"'dtype' must be a dtype name, got string 'U8'",
        ),
        (
            sm.DCT(4),
            lambda m: m["operator"]["params"].update(type=9),
            r"operator \(DCT\): the stored values do not make a DCT \(",
        ),
        (sm.Dense(rand(2, 2)), lambda m: m.pop("operator"), r"'the description' must be an object"),
    ],
)
def test_the_reported_tampered_files(tmp_path, op, change, match):
    meta, arrays = _meta_and_arrays(tmp_path, op)
    change(meta)
    path = tmp_path / "bad.npz"
    _write(path, meta, arrays)
    with pytest.raises(io.FileFormatError, match=match) as info:
        io.load(path)
    assert str(path) in str(info.value)  # the message names the file


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("error", "delete", r"the top level: 'result.error' must be a number, got nothing"),
        ("norm", "big", r"'result.norm' must be a number, got string 'big'"),
        ("exact", 1, r"'result.exact' must be true or false, got number 1"),
        ("params", None, r"'result.params' must be an object, got null"),
        ("onto", 3, r"'result.onto' must be a string, got number 3"),
    ],
)
def test_tampered_result_fields(tmp_path, field, value, match):
    res = sm.project(rand(4, 4), "diagonal")
    meta, arrays = _meta_and_arrays(tmp_path, res)
    if value == "delete":
        del meta["result"][field]
    else:
        meta["result"][field] = value
    path = tmp_path / "bad.npz"
    _write(path, meta, arrays)
    with pytest.raises(io.FileFormatError, match=match):
        io.load_result(path)
    assert io.load(path).shape == (4, 4)  # the operator part is still fine


def test_nesting_is_bounded(tmp_path):
    meta, arrays = _meta_and_arrays(tmp_path, sm.Dense(rand(2, 2)))
    path = tmp_path / "deep.npz"
    # 100,000 nested brackets: the JSON parser alone would raise RecursionError
    text = json.dumps(meta).replace(
        '"children": []', '"children": ' + "[" * 100_000 + "]" * 100_000
    )
    _write(path, text, arrays)
    with pytest.raises(
        io.FileFormatError,
        match=r"nests deeper than 136 levels \(operators may nest MAX_DEPTH = 64 deep\)",
    ):
        io.load(path)
    # valid JSON, operators nested past MAX_DEPTH: refused by the operator reader
    node = meta["operator"]
    for _ in range(io.MAX_DEPTH + 1):
        node = {
            "class": "Scaled",
            "shape": [2, 2],
            "dtype": "float64",
            "params": {"scalar": 1.0},
            "arrays": {},
            "children": [node],
        }
    with pytest.raises(io.FileFormatError, match=r"operators nested deeper than MAX_DEPTH = 64"):
        io._decode(node, arrays, "'f'", "operator", 0)
    # one level less is a valid file, and save refuses what load would refuse
    op = sm.Dense(rand(2, 2))
    for _ in range(io.MAX_DEPTH):
        op = sm.Transpose(op)
    io.save(path, op)
    assert_close(io.load(path).to_dense(), op.to_dense())
    with pytest.raises(ValueError, match="cannot save operators nested deeper than MAX_DEPTH = 64"):
        io.save(path, sm.Transpose(op))


def test_a_directory_is_not_a_missing_file(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"is a directory, not a file"):
        io.load(tmp_path)
    with pytest.raises(IsADirectoryError, match=r"is a directory, not a file"):
        io.load_result(tmp_path)
    folder = tmp_path / "w.npy"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match=r"'.*w.npy' is a directory, not a file"):
        io.read_matrices(folder)


# ---------------------------------------------------------------------- safetensors files
def _mixed_butterflies():
    tw34 = (rand(4, 3, 3), rand(3, 4, 4))
    tw223 = (
        rand(6, 2, 2, dtype=np.complex64),
        rand(6, 2, 2, dtype=np.complex64),
        rand(4, 3, 3, dtype=np.complex64),
    )
    return [
        (sm.Butterfly(tw34), tw34, True),
        (sm.Butterfly(tw223, increasing_stride=False), tw223, False),
    ]


def _dense_mixed_butterfly(levels, increasing):
    """Oracle (the element formula): B_l[g b s + j s + o, g b s + k s + o] = tw[l][g s + o][j, k]."""
    n = levels[0].shape[0] * levels[0].shape[1]
    dtype = np.result_type(*levels)
    factors, s = [], 1
    for t in levels:
        b = t.shape[1]
        B = np.zeros((n, n), dtype)
        for g in range(n // (b * s)):
            for o in range(s):
                for j in range(b):
                    for k in range(b):
                        B[g * b * s + j * s + o, g * b * s + k * s + o] = t[g * s + o, j, k]
        factors.append(B)
        s *= b
    out = np.eye(n, dtype=dtype)
    for B in factors if increasing else factors[::-1]:
        out = B @ out
    return out


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_mixed_radix_butterflies_roundtrip(tmp_path, suffix):
    pytest.importorskip("safetensors")
    for op, levels, increasing in _mixed_butterflies():
        back = roundtrip(tmp_path, op, "b" + suffix)
        assert back.radices == op.radices
        assert back.increasing_stride is increasing
        for got, want in zip(back.tw, levels, strict=True):
            np.testing.assert_array_equal(got, want)  # bit for bit, also complex64
            assert got.dtype == want.dtype
        assert_close(back.to_dense(), _dense_mixed_butterfly(levels, increasing))


def test_every_class_roundtrips_exactly_through_safetensors(tmp_path):
    pytest.importorskip("safetensors")
    complex_ops = [
        sm.Dense(rand(3, 2, dtype=np.complex64)),
        sm.Monarch(rand(2, 2, 2, dtype=np.complex128), rand(2, 2, 2, dtype=np.complex128)),
        (2 - 1j) * sm.Diagonal(rand(0)),  # a zero-size tensor
    ]
    ops = _every_savable_class() + complex_ops + [op for op, _, _ in _mixed_butterflies()]
    for op in ops:
        path = tmp_path / "op.safetensors"
        io.save(path, op)
        back = io.load(path)
        what = repr(op)
        assert repr(back) == repr(roundtrip(tmp_path, op)), what  # the structure .npz rebuilds
        assert (back.shape, back.dtype) == (op.shape, op.dtype), what
        np.testing.assert_array_equal(back.to_dense(), op.to_dense(), err_msg=what)


def test_safetensors_file_as_other_tools_read_it(tmp_path):
    """The bytes on disk, parsed by the safetensors library itself: the tensors are the
    document's arrays (complex ones as trailing (re, im) pairs) and the metadata holds it."""
    safetensors = pytest.importorskip("safetensors")
    L, R = rand(2, 3, 2, dtype=np.complex128), rand(2, 2, 3, dtype=np.complex128)
    d = rand(6).astype(np.float32)
    path = tmp_path / "m.safetensors"
    io.save(path, sm.Monarch(L, R) @ sm.Diagonal(d))
    with safetensors.safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    doc = json.loads(meta["structmat"])
    assert (doc["format"], doc["version"]) == ("structmat-operator", 1)
    monarch, diag = doc["operator"]["children"]
    assert [monarch["class"], diag["class"]] == ["Monarch", "Diagonal"]
    keys = {**monarch["arrays"], **diag["arrays"]}
    assert set(tensors) == set(keys.values())
    assert sorted(json.loads(meta["structmat.complex"])) == sorted([keys["L"], keys["R"]])
    np.testing.assert_array_equal(tensors[keys["L"]], np.stack([L.real, L.imag], axis=-1))
    np.testing.assert_array_equal(tensors[keys["R"]], np.stack([R.real, R.imag], axis=-1))
    assert tensors[keys["L"]].dtype == np.float64
    np.testing.assert_array_equal(tensors[keys["d"]], d)
    assert tensors[keys["d"]].dtype == np.float32


def test_the_suffix_picks_the_format(tmp_path):
    safetensors = pytest.importorskip("safetensors.numpy")
    op = sm.Diagonal(np.arange(3.0))
    io.save(tmp_path / "w.safetensors", op)
    assert (tmp_path / "w.safetensors").read_bytes()[8:9] == b"{"  # a safetensors header
    io.save(tmp_path / "w.NPZ", op)
    assert zipfile.is_zipfile(tmp_path / "w.NPZ")
    for name in ("w.npy", "w", "w.safetensor"):
        with pytest.raises(
            ValueError, match=r"unsupported file type .*expected one of .npz, .safetensors"
        ) as info:
            io.save(tmp_path / name, op)
        assert not isinstance(info.value, io.FileFormatError)  # nothing was read
        assert not (tmp_path / name).exists()
    (tmp_path / "w.bin").write_bytes((tmp_path / "w.NPZ").read_bytes())
    with pytest.raises(io.FileFormatError, match=r"cannot load .*unsupported file type '.bin'"):
        io.load(tmp_path / "w.bin")
    # misnamed files say what they are, never "header too large"
    (tmp_path / "npz.safetensors").write_bytes((tmp_path / "w.NPZ").read_bytes())
    (tmp_path / "st.npz").write_bytes((tmp_path / "w.safetensors").read_bytes())
    match = r"is a .npz file named .safetensors; rename it to npz.npz"
    with pytest.raises(io.FileFormatError, match=match):
        io.load(tmp_path / "npz.safetensors")
    with pytest.raises(io.FileFormatError, match=match):
        io.read_matrices(tmp_path / "npz.safetensors")
    with pytest.raises(io.FileFormatError, match=r"is a .safetensors file named .npz"):
        io.load(tmp_path / "st.npz")
    # a safetensors file of Hugging Face tooling, without our metadata
    hf = tmp_path / "model.safetensors"
    safetensors.save_file({"w": np.eye(2)}, str(hf), metadata={"format": "pt"})
    with pytest.raises(
        io.FileFormatError,
        match=r"holds 1 tensors but no structmat operator .*read_matrices reads its tensors",
    ):
        io.load(hf)
    np.testing.assert_array_equal(io.read_matrices(hf)["w"], np.eye(2))


def test_without_safetensors_a_clear_import_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(
        ImportError, match=r"needs the safetensors package \(pip install safetensors\)"
    ):
        io.save(tmp_path / "w.safetensors", sm.Identity(2))
    io.save(tmp_path / "w.npz", sm.Identity(2))  # .npz needs nothing


def _rewrite_safetensors(src, dst, *, metadata=None, tensors=None):
    safetensors = pytest.importorskip("safetensors")
    with safetensors.safe_open(str(src), framework="numpy") as f:
        meta = {**f.metadata(), **(metadata or {})}
        arrays = {k: f.get_tensor(k) for k in f.keys()}
    arrays.update(tensors or {})
    safetensors.numpy.save_file(arrays, str(dst), metadata=meta)


@pytest.mark.parametrize(
    ("metadata", "tensors", "match"),
    [
        ({"structmat": "{not json"}, None, r"metadata is corrupt"),
        ({"structmat": "[" * 100_000}, None, r"nests deeper than 136 levels"),
        ({"structmat": '{"format": "x"}'}, None, r"not a structmat operator file"),
        ({"structmat.complex": "5"}, None, r"'structmat.complex' metadata must be a JSON array"),
        ({"structmat.complex": '["nope"]'}, None, r"must be a JSON array of distinct tensor names"),
        ({"structmat.complex": '["a0", "a0"]'}, None, r"distinct tensor names"),
        ({"structmat.complex": "[" * 100_000}, None, r"must be a JSON array"),
        ({"structmat.complex": '["a2"]'}, None, r"tensor 'a2' is listed as complex, so it must"),
        (None, {"a0": np.zeros((4, 4, 4, 2))}, r"array 'tw0' must have shape \(n/3, 3, 3\)"),
        (None, {"a1": np.zeros((3, 4, 2))}, r"array 'tw1' must be a 3-d array of numbers"),
        (None, {"a1": np.zeros((3, 4, 4, 2), np.float16)}, r"tensor 'a1' is listed as complex"),
    ],
)
def test_tampered_safetensors_files(tmp_path, metadata, tensors, match):
    pytest.importorskip("safetensors")
    tw = (rand(4, 3, 3), rand(3, 4, 4, dtype=np.complex128))
    op = sm.Butterfly((tw[0].astype(np.complex128), tw[1])) @ sm.Permutation(np.arange(12))
    path = tmp_path / "b.safetensors"
    io.save(path, op)
    _rewrite_safetensors(path, path, metadata=metadata, tensors=tensors)
    with pytest.raises(io.FileFormatError, match=match) as info:
        io.load(path)
    assert str(path) in str(info.value)


def test_tampered_mixed_radix_parameters(tmp_path):
    op, _, _ = _mixed_butterflies()[0]
    meta, arrays = _meta_and_arrays(tmp_path, op)
    cases = [
        ([3], r"the stored values do not make a Butterfly \(.*multiply to 3, not n = 12"),
        ([4, 3], r"array 'tw0' must have shape \(n/4, 4, 4\) for radix 4"),
        ([3, 4, 2], r"'arrays.tw2' is missing"),
        ([3, 1], r"'params.radices' must be a list of 1 to 64 integers >= 2"),
        ([], r"'params.radices' must be a list of 1 to 64 integers >= 2"),
        ([2] * 65, r"'params.radices' must be a list of 1 to 64 integers >= 2"),
    ]
    for radices, match in cases:
        tampered = json.loads(json.dumps(meta))
        tampered["operator"]["params"]["radices"] = radices
        with pytest.raises(io.FileFormatError, match=match):
            io._decode(tampered["operator"], arrays, "'f'", "operator", 0)

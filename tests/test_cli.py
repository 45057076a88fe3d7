"""The ``structmat`` command: run in-process through ``main([...])``, and once as a subprocess."""

from __future__ import annotations

import importlib.util
import io as stdio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import structmat
from structmat import _cli_bench, _cli_output, _verify, cli, constructions, io
from structmat.testing import EXACT_RTOL, assert_close

NA = _cli_output.NOT_APPLICABLE  # what a table shows where a value does not apply


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(("structmat ", "structmat:"))
    assert "error:" in lines[0]
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


@pytest.fixture
def matrix_file(tmp_path):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((64, 64))
    path = tmp_path / "A.npy"
    np.save(path, A)
    return path, A


# ---------------------------------------------------------------------- help and version
@pytest.mark.parametrize("command", ["verify", "project", "compare", "bench"])
def test_help_has_examples(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert f"usage: structmat {command}" in out
    assert "examples:" in out
    assert f"structmat {command}" in out.split("examples:")[1]


def test_main_help_version_and_no_command(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("verify", "project", "compare", "bench"):
        assert command in out
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.startswith("structmat ")
    code, out, err = run(capsys)  # no command: the usage goes to stderr, not stdout
    assert code == 2
    assert out == ""
    assert err.startswith("usage: structmat")
    assert err.strip().splitlines()[-1] == (
        "structmat: error: give a command (structmat --help lists them)"
    )


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["project", "x.npy"], ["structmat project: error:", "required: --onto, -o/--output"]),
        (["project", "x.npy", "--onto", "lowrank"], ["required: -o/--output"]),
        (
            ["project", "x.npy", "--onto", "lowrank", "-o", "y.npz", "--rank", "2.5"],
            ["argument --rank: invalid int value: '2.5'"],
        ),
        (["verify", "--backend", "jax"], ["structmat verify: error:", "invalid choice: 'jax'"]),
        (["verify", "--n", "x"], ["argument --n: invalid int value: 'x'"]),
        (["compare", "W.npy", "--budget", "lots"], ["invalid float value: 'lots'"]),
        (["frobnicate"], ["structmat: error:", "invalid choice: 'frobnicate'"]),
        (["--no-such-flag"], ["unrecognized arguments: --no-such-flag"]),
    ],
)
def test_argparse_errors_are_one_line_without_usage(capsys, argv, fragments):
    code, out, err = run(capsys, *argv)
    assert out == ""
    assert "usage:" not in err
    assert_one_line_error(code, err, *fragments)


@pytest.mark.parametrize(
    "value",
    [
        "-" * 5000 + "1",  # thousands of unary minus signs: the literal parser recurses
        "(" * 300 + ")" * 300,
        "[" * 100_000 + "]" * 100_000,
        "not a literal",
        "\x00",
    ],
)
def test_param_values_never_raise_out_of_main(capsys, tmp_path, matrix_file, value):
    path, _ = matrix_file
    out = str(tmp_path / "o.npz")
    code, _, err = run(
        capsys, "project", str(path), "--onto", "lowrank", "-o", out, "-p", f"rank={value}"
    )
    assert_one_line_error(code, err, "structmat project: error:")
    assert "rank" in err


def test_param_value_length_is_bounded(capsys, tmp_path, matrix_file):
    path, _ = matrix_file
    value = "1" * (cli.MAX_PARAM_LENGTH + 1)
    code, _, err = run(
        capsys,
        "project",
        str(path),
        "--onto",
        "lowrank",
        "-o",
        str(tmp_path / "o.npz"),
        "-p",
        f"rank={value}",
    )
    assert_one_line_error(code, err, f"at most {cli.MAX_PARAM_LENGTH} are read")


@pytest.mark.parametrize(
    "error", [RuntimeError("boom"), IndexError("list index out of range"), RecursionError()]
)
def test_an_unexpected_exception_is_one_line_with_its_type(capsys, monkeypatch, tmp_path, error):
    def broken(args):
        raise error

    monkeypatch.setattr(cli, "_cmd_compare", broken)
    code, _, err = run(capsys, "compare", str(tmp_path / "W.npy"))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"structmat compare: internal error: {type(error).__name__}")
    assert str(error) in lines[0]


# ---------------------------------------------------------------------- verify
def test_verify_small_sizes(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # one line per row, to read the columns back
    code, out, _ = run(capsys, "verify", "--n", "16", "-q", "--no-symbolic")
    assert "construction" in out
    assert "rel. error" in out
    for name in (
        "dft_as_monarch",
        "dft_as_butterfly",
        "hadamard_as_monarch",
        "circulant_as_monarch",
        "butterfly_to_monarch",
    ):
        assert name in out
    assert "FAILED" not in out, out
    assert code == 0
    # the Monarch class column: circulant matrices are built in MM*, the DFT with a permutation
    # outside any Monarch class
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.endswith("yes")}
    assert rows["circulant_as_monarch"][1:4] == ["Monarch", "Monarch^H", "MM*"]
    assert rows["hadamard_as_monarch"][1:3] == ["Monarch", "M"]
    assert rows["dft_as_monarch"][3] == NA
    assert all(row[-3] == "dense" for row in rows.values())


def test_verify_large_n_is_matrix_free_and_lists_what_does_not_exist(capsys, monkeypatch):
    """n = 4096 on random probes: a quarter of one n x n float64 array (128 MiB) in all.

    The constructions whose own size is far below ``n**2`` numbers, so the
    peak measures the check, not the operator.
    """
    import tracemalloc

    light = {
        "dft_as_butterfly",
        "hadamard_as_butterfly",
        "dct_as_butterfly",
        "hadamard_as_monarch",
        "butterfly_to_monarch",
        "convolution_as_monarch",
    }
    every = _verify.cases
    monkeypatch.setattr(
        _verify, "cases", lambda sizes: [c for c in every(sizes) if c.function in light]
    )
    monkeypatch.setenv("COLUMNS", "80")
    tracemalloc.start()
    try:
        code, out, err = run(capsys, "verify", "--n", "12", "4096", "--no-symbolic")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0, out
    assert peak < 32 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert err == ""  # stderr is not a terminal: no progress bar
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "nan" not in out
    rows = [line.split() for line in out.splitlines() if line.endswith(("yes", "NO", "n/a"))]
    big = [r for r in rows if "4096" in r]
    assert len(big) == 6
    assert all(r[-4:-2] == ["4", "probes"] for r in big)
    # 12 is no power of 2: those constructions are listed with the reason, not dropped
    for name in ("hadamard_as_monarch", "dft_as_butterfly", "butterfly_to_monarch"):
        assert f"not applicable: {name}(n=12) needs n a power of 2" in out
        assert [name, NA, NA, "12", NA, NA, "n/a"] in rows
    assert "7 of 7 constructions within 1e-11" in out


def test_verify_probes_catch_one_wrong_entry(capsys, monkeypatch):
    """A DFT reference with one entry off by 1e-6 fails on the four probes at n = 2048."""

    def wrong_fft(X):
        Y = np.fft.fft(X, axis=0)
        Y[5] += 1e-6 * X[7]
        return Y

    case = _verify.Case(
        "DFT", "dft_as_monarch", 2048, lambda: constructions.dft_as_monarch(2048), wrong_fft
    )
    monkeypatch.setattr(_verify, "cases", lambda sizes=None: [case])
    code, out, _ = run(capsys, "verify", "-q", "--no-symbolic")
    assert code == 1
    assert "FAILED dft_as_monarch(n=2048): relative error" in out


def test_verify_sizes_that_nothing_takes(capsys):
    code, _, err = run(capsys, "verify", "--n", "1", "--no-symbolic")
    assert_one_line_error(code, err, "no construction applies to the sizes [1]")
    code, _, err = run(capsys, "verify", "--n", "0", "--no-symbolic")
    assert_one_line_error(code, err, "--n takes sizes >= 1, got 0")


def _fake_case(reference):
    import structmat as sm

    return _verify.Case(
        "fake", "fake_as_diagonal", 3, lambda: sm.Diagonal(np.arange(1.0, 4.0)), reference
    )


def test_verify_reports_failure_with_exit_1(capsys, monkeypatch):
    good = _fake_case(lambda X: np.diag([1.0, 2.0, 3.0]) @ X)
    bad = _fake_case(lambda X: np.diag([1.0, 2.0, 3.0 + 1e-6]) @ X)
    monkeypatch.setattr(_verify, "cases", lambda sizes=None: [good, bad])
    code, out, _ = run(capsys, "verify", "-q", "--no-symbolic")
    assert code == 1
    assert "FAILED fake_as_diagonal(n=3): relative error" in out
    assert "1 of 2 constructions within" in out
    monkeypatch.setattr(_verify, "cases", lambda sizes=None: [good])
    code, out, _ = run(capsys, "verify", "-q", "--no-symbolic")
    assert code == 0
    assert "1 of 1 constructions within" in out


def test_verify_flags_unstructured_and_broken_constructions(capsys, monkeypatch):
    import structmat as sm

    dense = _verify.Case("dense", "dense_cheat", 2, lambda: sm.Dense(np.eye(2)), lambda X: X)

    def boom():
        msg = "no such construction"
        raise RuntimeError(msg)

    broken = _verify.Case("broken", "broken_one", 2, boom, lambda X: X)
    monkeypatch.setattr(_verify, "cases", lambda sizes=None: [dense, broken])
    code, out, _ = run(capsys, "verify", "-q", "--no-symbolic")
    assert code == 1
    assert "FAILED dense_cheat(n=2): built from Dense, not only structured classes" in out
    assert "FAILED broken_one(n=2): RuntimeError: no such construction" in out


def test_verify_unknown_sizes_and_missing_backend(capsys, monkeypatch):
    monkeypatch.setattr(_verify, "cases", lambda sizes=None: [])
    code, _, err = run(capsys, "verify", "--n", "1")
    assert_one_line_error(code, err, "no construction applies to the sizes [1]")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "cupy" else real(name, *a)
    )
    code, _, err = run(capsys, "verify", "--backend", "cupy")
    assert_one_line_error(code, err, "backend 'cupy' is not installed")


def test_verify_backend_torch(capsys, monkeypatch):
    pytest.importorskip("torch")
    import structmat as sm

    case = _verify.Case(
        "fake",
        "fake_perm",
        3,
        lambda: sm.Diagonal(np.arange(1.0, 4.0)) @ sm.Diagonal(np.ones(3)),
        lambda X: np.diag([1.0, 2.0, 3.0]) @ X,
    )
    monkeypatch.setattr(_verify, "cases", lambda sizes=None: [case])
    code, out, _ = run(capsys, "verify", "-q", "--no-symbolic", "--backend", "torch")
    assert code == 0, out
    assert "(torch)" in out


def test_dense_butterfly_reference_is_the_dft_with_bitrev():
    """The independent butterfly oracle of `structmat verify`, checked against numpy.fft."""
    n, L = 16, 4
    tw = np.zeros((L, n // 2, 2, 2), dtype=complex)
    for lev in range(L):
        s = 2**lev
        for g in range(n // (2 * s)):
            for o in range(s):
                w = np.exp(-2j * np.pi * o / (2 * s))
                tw[lev, g * s + o] = [[1, w], [1, -w]]
    bitrev = [int(format(i, "04b")[::-1], 2) for i in range(n)]
    assert_close(_verify.dense_butterfly(tw) @ np.eye(n)[bitrev], np.fft.fft(np.eye(n), axis=0))


# ---------------------------------------------------------------------- project
def test_project_saves_a_loadable_operator(capsys, tmp_path, matrix_file):
    path, A = matrix_file
    out_path = tmp_path / "lr.npz"
    code, out, err = run(
        capsys, "project", str(path), "--onto", "lowrank", "--rank", "8", "-o", str(out_path)
    )
    assert code == 0, err
    assert "rel. error" in out
    assert "parameters" in out
    assert "compression" in out
    op = structmat.load(out_path)
    U, s, Vh = np.linalg.svd(A)  # oracle: truncated SVD
    best = (U[:, :8] * s[:8]) @ Vh[:8]
    assert_close(op.to_dense(), best, rtol=EXACT_RTOL)
    rel = np.linalg.norm(A - best) / np.linalg.norm(A)
    assert f"{rel:.2e}" in out
    assert out.startswith("projection onto lowrank(rank=8, method='svd')\n")
    result = io.load_result(out_path)
    assert result.onto == "lowrank"
    assert abs(result.relative_error - rel) < 1e-12


def test_project_writes_the_format_its_output_suffix_names(capsys, tmp_path, matrix_file):
    safetensors = pytest.importorskip("safetensors")
    path, A = matrix_file
    out_path = tmp_path / "lr.safetensors"
    code, _, err = run(
        capsys, "project", str(path), "--onto", "lowrank", "--rank", "2", "-o", str(out_path)
    )
    assert code == 0, err
    with safetensors.safe_open(str(out_path), framework="numpy") as f:  # a real safetensors file
        assert '"onto": "lowrank"' in f.metadata()["structmat"]
    U, s, Vh = np.linalg.svd(A)  # oracle: truncated SVD
    assert_close(structmat.load(out_path).to_dense(), (U[:, :2] * s[:2]) @ Vh[:2], rtol=EXACT_RTOL)
    code, _, err = run(capsys, "project", str(path), "--onto", "lowrank", "-o", "w.txt")
    assert_one_line_error(code, err, "give a .npz or .safetensors file name")


def test_project_monarch_nblocks_pair(capsys, tmp_path, matrix_file):
    path, A = matrix_file
    out_path = tmp_path / "m.npz"
    code, out, err = run(capsys, "project", str(path), "--onto", "monarch", "-o", str(out_path))
    assert code == 0, err
    assert out.startswith("projection onto monarch(nblocks=(8, 8), rank=1)\n")
    op = structmat.load(out_path)
    assert type(op).__name__ == "Monarch"
    # oracle: per-slice rank-1 SVD error of DESIGN.md §4 (K = J = 8, s = p = 8)
    T = A.reshape(8, 8, 8, 8)  # [sigma, j, a, t]
    err2 = sum(
        np.sum(np.linalg.svd(T[:, j, a, :], compute_uv=False)[1:] ** 2)
        for j in range(8)
        for a in range(8)
    )
    assert abs(np.linalg.norm(A - op.to_dense()) - np.sqrt(err2)) < 1e-9 * np.linalg.norm(A)


def test_project_many_matrices_to_a_directory(capsys, tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    mats = {"layer.0/w": rng.standard_normal((8, 8)), "layer.1/w": rng.standard_normal((8, 6))}
    src = tmp_path / "w.npz"
    np.savez(src, **mats, bias=np.ones(8))
    out_dir = tmp_path / "out"
    code, out, err = run(
        capsys, "project", str(src), "--onto", "lowrank", "--rank", "2", "-o", str(out_dir)
    )
    assert code == 0, err
    assert err == ""  # stderr is no terminal here: no progress bar
    assert out.startswith("projection onto lowrank(rank=2, method='svd')\n")
    files = sorted(p.name for p in out_dir.iterdir())
    assert files == ["layer.0_w.npz", "layer.1_w.npz"]
    assert structmat.load(out_dir / "layer.1_w.npz").shape == (8, 6)
    code, _, err = run(
        capsys,
        "project",
        str(src),
        "--onto",
        "lowrank",
        "--rank",
        "2",
        "-o",
        str(tmp_path / "one.npz"),
    )
    assert_one_line_error(code, err, "holds 2 matrices: give a directory for -o")
    # default blocks differ by shape: the header keeps what was given, a column each resolution
    np.savez(src, a=rng.standard_normal((16, 16)), b=rng.standard_normal((4, 4)))
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = run(capsys, "project", str(src), "--onto", "monarch", "-o", str(out_dir))
    assert code == 0, err
    assert out.startswith("projection onto monarch()\n")
    assert "monarch(nblocks=(4, 4), rank=1)" in out
    assert "monarch(nblocks=(2, 2), rank=1)" in out


def test_project_missing_and_corrupt_files(capsys, tmp_path):
    code, _, err = run(
        capsys,
        "project",
        str(tmp_path / "nope.npy"),
        "--onto",
        "lowrank",
        "-o",
        str(tmp_path / "o.npz"),
    )
    assert_one_line_error(code, err, "no such file", "nope.npy")
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"\x93NUMPY\x01\x00garbage")
    code, _, err = run(
        capsys, "project", str(bad), "--onto", "lowrank", "-o", str(tmp_path / "o.npz")
    )
    assert_one_line_error(code, err, "not a readable .npy file")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 20)
    code, _, err = run(
        capsys, "project", str(bad), "--onto", "lowrank", "-o", str(tmp_path / "o.npz")
    )
    assert_one_line_error(code, err, "not a readable .safetensors file")
    txt = tmp_path / "w.csv"
    txt.write_text("1,2\n3,4\n")
    code, _, err = run(
        capsys, "project", str(txt), "--onto", "lowrank", "-o", str(tmp_path / "o.npz")
    )
    assert_one_line_error(code, err, "unsupported file type '.csv'")


def test_project_bad_parameters_before_any_work(capsys, tmp_path, matrix_file):
    path, _ = matrix_file
    o = str(tmp_path / "o.npz")
    code, _, err = run(
        capsys, "project", str(path), "--onto", "monarch", "--nblocks", "a,b", "-o", o
    )
    assert_one_line_error(code, err, "--nblocks takes an integer K or a pair K,J, got 'a,b'")
    code, _, err = run(
        capsys, "project", str(path), "--onto", "monarch", "--param", "oops", "-o", o
    )
    assert_one_line_error(code, err, "--param takes KEY=VALUE, got 'oops'")
    code, _, err = run(capsys, "project", str(path), "--onto", "lowrank", "--key", "k", "-o", o)
    assert_one_line_error(code, err, "--key selects an array")
    code, _, err = run(
        capsys,
        "project",
        str(path),
        "--onto",
        "lowrank",
        "-o",
        str(tmp_path / "no" / "dir" / "o.npz"),
    )
    assert_one_line_error(code, err, "does not exist")


def test_project_bad_class_and_values(capsys, tmp_path, matrix_file):
    path, _ = matrix_file
    o = str(tmp_path / "o.npz")
    code, _, err = run(capsys, "project", str(path), "--onto", "hexagonal", "-o", o)
    assert_one_line_error(code, err, "hexagonal", "lowrank")
    code, _, err = run(capsys, "project", str(path), "--onto", "lowrank", "--rank", "0", "-o", o)
    assert_one_line_error(code, err, "rank")
    code, _, err = run(
        capsys, "project", str(path), "--onto", "lowrank", "--param", "colour=3", "-o", o
    )
    assert_one_line_error(code, err, "colour")
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((4, 4), np.nan))
    code, _, err = run(capsys, "project", str(nan), "--onto", "lowrank", "--rank", "1", "-o", o)
    assert_one_line_error(code, err)
    assert not Path(o).exists()


# ---------------------------------------------------------------------- compare
def test_compare_prints_the_table(capsys, tmp_path):
    rng = np.random.default_rng(3)
    A = rng.standard_normal((64, 4)) @ rng.standard_normal((4, 64))  # rank 4: low rank must win
    path = tmp_path / "A.npz"
    np.savez(path, lowrank=A)
    code, out, err = run(capsys, "compare", str(path), "--budget", "0.25")
    assert code == 0, err
    assert "best: lowrank(rank=" in out  # a rank-4 matrix: low rank must win
    assert "rel. error" in out
    assert "== lowrank" not in out  # one matrix: no per-matrix header
    np.savez(path, a=A, b=A.T)
    code, out, err = run(capsys, "compare", str(path), "-q")
    assert code == 0, err
    assert out.count("best: lowrank(rank=") == 2
    assert "== a" in out
    assert "== b" in out
    code, _, err = run(capsys, "compare", str(path), "--budget", "1.5")
    assert_one_line_error(code, err, "--budget is a fraction")


def test_compare_when_nothing_fits_prints_one_line(capsys, tmp_path):
    path = tmp_path / "one.npy"
    np.save(path, np.ones((1, 1)))  # budget 0.25 of one entry: no parameter at all
    code, out, err = run(capsys, "compare", str(path))
    assert code == 0, err
    assert out.strip().splitlines() == [
        "no class fits the 1x1 matrix within 0 parameters (budget 0.25 of 1); try a larger budget"
    ]
    assert "Traceback" not in err


def test_compare_missing_file(capsys, tmp_path):
    code, _, err = run(capsys, "compare", str(tmp_path / "none.npz"))
    assert_one_line_error(code, err, "no such file")


# ---------------------------------------------------------------------- bench
def _fake_benchmarks(folder: Path, fail: bool = False) -> None:
    folder.mkdir()
    ok = textwrap.dedent(
        """
        import sys
        print("table of", __file__.rsplit("/", 1)[-1], "quick" if "--quick" in sys.argv else "full")
        """
    )
    (folder / "bench_core.py").write_text(ok)
    (folder / "bench_zeta.py").write_text(ok)
    (folder / "bench_monarch.py").write_text(ok + ("\nsys.exit(3)\n" if fail else ""))


def test_bench_runs_scripts_in_order(tmp_path, capfd):
    folder = tmp_path / "benchmarks"
    _fake_benchmarks(folder)
    code = cli.main(["bench", "--quick", "--dir", str(folder)])
    out = capfd.readouterr().out
    assert code == 0
    order = [
        out.index(f"== {name}.py --quick\n")
        for name in ("bench_core", "bench_monarch", "bench_zeta")
    ]
    assert order == sorted(order)
    assert "table of bench_monarch.py quick" in out
    code = cli.main(["bench", "--only", "bench_zeta", "--dir", str(folder)])
    out = capfd.readouterr().out
    assert code == 0
    assert "table of bench_zeta.py full" in out
    assert "bench_core" not in out


def test_bench_failures_and_missing_folder(tmp_path, capfd, monkeypatch):
    folder = tmp_path / "benchmarks"
    _fake_benchmarks(folder, fail=True)
    code = cli.main(["bench", "--dir", str(folder)])
    out = capfd.readouterr().out
    assert code == 1
    assert "bench_monarch.py: FAILED (exit 3)" in out
    code = cli.main(["bench", "--only", "bench_nope", "--dir", str(folder)])
    err = capfd.readouterr().err
    assert_one_line_error(code, err, "no benchmark named bench_nope")
    monkeypatch.setattr(_cli_bench, "find_benchmarks", lambda: None)
    code = cli.main(["bench"])
    err = capfd.readouterr().err
    assert_one_line_error(code, err, "no benchmarks/ folder found")


def test_bench_reports_a_script_that_cannot_run_as_skipped(tmp_path, capfd):
    folder = tmp_path / "benchmarks"
    _fake_benchmarks(folder)
    (folder / "bench_gpu.py").write_text(
        f"import sys\nprint('needs a GPU')\nsys.exit({_cli_bench.SKIPPED})\n"
    )
    code = cli.main(["bench", "--dir", str(folder)])
    out = capfd.readouterr().out
    assert code == 0
    assert "bench_gpu.py: skipped (cannot run here)" in out
    assert "1 benchmark(s) skipped: bench_gpu.py" in out
    assert "failed" not in out


def test_find_benchmarks_env(tmp_path, monkeypatch):
    folder = tmp_path / "b"
    _fake_benchmarks(folder)
    monkeypatch.setenv("STRUCTMAT_BENCHMARKS", str(folder))
    assert _cli_bench.find_benchmarks() == folder


# ---------------------------------------------------------------------- helpers
def test_table_wraps_at_spaces_and_never_cuts_a_word():
    rows = [["dft", "1.0e-15", "Monarch Permutation Monarch^H"], ["hadamard_long", NA, "M"]]
    text = cli.format_table(["name", "error", "built from"], rows, width=36)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 36
    assert lines[0].split() == ["name", "error", "built", "from"]
    column = lines[0].index("built")
    words = " ".join(line[column:] for line in lines[2:]).split()
    assert words == ["Monarch", "Permutation", "Monarch^H", "M"]  # whole words, in order
    (last,) = [line for line in lines if line.startswith("hadamard_long")]
    assert lines[2].index("1.0e-15") + 7 == last.index(NA) + 1  # numbers right-aligned
    # a word longer than the width is kept whole: the table is then wider than asked
    text = cli.format_table(["a"], [["supercalifragilistic"]], width=5)
    assert "supercalifragilistic" in text.splitlines()[2]


class _Terminal(stdio.StringIO):
    def isatty(self):
        return True


def test_progress_on_a_terminal_fits_80_columns(capsys, monkeypatch, tmp_path):
    rng = np.random.default_rng(4)
    src = tmp_path / "w.npz"
    np.savez(src, a=rng.standard_normal((16, 16)), b=rng.standard_normal((16, 16)))
    monkeypatch.setattr(_cli_output, "PROGRESS_DELAY", 0.0)  # show it at once
    monkeypatch.setenv("COLUMNS", "120")
    argv = ["project", str(src), "--onto", "lowrank", "--rank", "2", "-o", str(tmp_path / "o")]
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main(argv) == 0
    shown = [s for s in terminal.getvalue().replace("\x1b[A", "").split("\r") if s.strip()]
    assert any(s.startswith("project onto lowrank:") and "/2 [" in s for s in shown), shown
    assert max(len(s) for s in shown) <= 80
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main([*argv, "-q"]) == 0
    assert terminal.getvalue() == ""
    capsys.readouterr()


def test_progress_keeps_counting_during_one_long_step(capsys, monkeypatch, tmp_path):
    """One projection is one step: the bar is redrawn while it runs, not only after."""
    import time

    np.save(tmp_path / "W.npy", np.eye(8))
    real = structmat.project

    def slow(*args, **kwargs):
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(structmat, "project", slow)
    monkeypatch.setattr(_cli_output, "PROGRESS_DELAY", 0.0)
    monkeypatch.setattr(_cli_output, "PROGRESS_TICK", 0.05)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    argv = ["project", str(tmp_path / "W.npy"), "--onto", "lowrank", "--rank", "1"]
    assert cli.main([*argv, "-o", str(tmp_path / "o.npz")]) == 0
    running = [s for s in terminal.getvalue().split("\r") if " 0/1 [" in s]
    assert len(running) >= 3, running  # drawn at the start, then by the ticks
    capsys.readouterr()


def test_progress_shows_nothing_for_short_work(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with _cli_output.progress(3, "work") as steps:
        for name in "abc":
            steps.doing(name)
            steps.done()
    assert terminal.getvalue() == ""  # done before PROGRESS_DELAY: silent


def test_relative_errors_have_one_format():
    assert _cli_output.relative(3.7e-16) == "3.70e-16"
    assert _cli_output.relative(0.5) == "5.00e-01"
    assert _cli_output.relative(float("nan")) == NA


def test_verify_references_against_scipy():
    """The matrix-free Hadamard and butterfly of `structmat verify`, against dense oracles."""
    import scipy.linalg

    X = np.random.default_rng(5).standard_normal((16, 3))
    assert_close(_verify.apply_hadamard(X), scipy.linalg.hadamard(16) @ X, rtol=EXACT_RTOL)
    tw = np.random.default_rng(6).standard_normal((4, 8, 2, 2))
    assert_close(_verify.apply_butterfly(tw, X), _verify.dense_butterfly(tw) @ X)


def test_tqdm_is_imported_only_inside_functions():
    """``import structmat`` (and ``structmat.cli``) never imports tqdm: no module-level import."""
    import ast

    package = Path(structmat.__file__).parent
    for path in sorted(package.rglob("*.py")):
        for node in ast.parse(
            path.read_text(encoding="utf-8")
        ).body:  # module level only; imports inside functions are lazy
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "tqdm" for n in names), path


# ---------------------------------------------------------------------- as a subprocess
def test_python_m_structmat_verify_subprocess():
    has_sympy = importlib.util.find_spec("sympy") is not None
    symbolic = ["--symbolic", "--symbolic-n", "4"] if has_sympy else ["--no-symbolic"]
    env = dict(os.environ)
    root = str(Path(structmat.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "structmat", "verify", "--n", "16", *symbolic],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "dft_as_monarch" in proc.stdout
    if symbolic:
        assert "exact checks hold" in proc.stdout
        assert "dft_monarch_exponents" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_python_m_structmat_error_subprocess(tmp_path):
    env = dict(os.environ)
    root = str(Path(structmat.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "structmat",
            "project",
            str(tmp_path / "x.npy"),
            "--onto",
            "monarch",
            "-o",
            "o.npz",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "no such file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_python_m_structmat_hostile_param_subprocess(tmp_path):
    """A real process: thousands of unary minus signs give one line on stderr, exit 2."""
    env = dict(os.environ)
    root = str(Path(structmat.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    np.save(tmp_path / "W.npy", np.eye(8))
    argv = ["project", str(tmp_path / "W.npy"), "--onto", "lowrank", "-o", str(tmp_path / "o.npz")]
    proc = subprocess.run(
        [sys.executable, "-m", "structmat", *argv, "-p", "rank=" + "-" * 20000 + "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "nests too deeply" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr) < 1200  # long values are cut in the message

"""The ``structmat`` command: verify constructions, project and compare matrices, run benchmarks.

Run ``structmat --help`` (or ``python -m structmat --help``) for the commands;
each has its own ``--help`` with examples. Exit codes: 0 success, 1 a check
or benchmark failed, 2 bad input (missing or corrupt file, unknown class,
bad parameters, an argparse error) - reported as one line on stderr, without
a traceback or usage block. An unexpected exception is one line with its
type, exit code 1: no input prints a traceback.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib
import importlib.util
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from structmat._cli_output import (
    NOT_APPLICABLE,
    UsageError,
    format_table,
    progress,
    relative,
    write_atomically,
)

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors raised (one line, exit 2) instead of printed with the usage.

    The subcommand parsers are made of the same class (``add_subparsers``
    uses the parent's type), so every parse error comes through here.
    """

    def error(self, message: str) -> Any:  # argparse's own hook; it must not return
        msg = f"{self.prog}: error: {message}"
        raise _ArgumentError(msg)


class _ArgumentError(Exception):
    """An argparse error, already formatted as the one line to print."""


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("structmat")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _namespace(name: str) -> Any:
    """The array namespace of a backend name, or a UsageError when it is not installed."""
    if name == "numpy":
        return None
    module = {"torch": "torch", "array_api_strict": "array_api_strict", "cupy": "cupy"}[name]
    if importlib.util.find_spec(module) is None:
        msg = f"backend {name!r} is not installed (pip install {module.replace('_', '-')})"
        raise UsageError(msg)
    if name == "array_api_strict":
        return importlib.import_module("array_api_strict")
    import array_api_compat

    mod = importlib.import_module(module)
    return array_api_compat.array_namespace(mod.empty(0))


# ---------------------------------------------------------------------- verify
def _cmd_verify(args: argparse.Namespace) -> int:
    from structmat import _verify

    xp = _namespace(args.backend)
    want_symbolic = args.symbolic
    if want_symbolic is None:  # default: run the proofs when SymPy is installed
        want_symbolic = importlib.util.find_spec("sympy") is not None
        skipped_symbolic = not want_symbolic
    else:
        skipped_symbolic = False
        if want_symbolic and importlib.util.find_spec("sympy") is None:
            msg = "--symbolic needs SymPy: pip install 'structmat[verify]'"
            raise UsageError(msg)

    if args.n is not None and min(args.n) < 1:
        msg = f"--n takes sizes >= 1, got {min(args.n)}"
        raise UsageError(msg)
    cases = _verify.cases(args.n)
    if not any(not c.reason for c in cases):
        msg = f"no construction applies to the sizes {args.n}"
        raise UsageError(msg)
    from structmat._cli_verify import report

    return report(args, cases, xp, _version(), symbolic=want_symbolic, skipped=skipped_symbolic)


# ---------------------------------------------------------------------- project / compare
# A --param value is a Python literal: an index list of a large permutation is long,
# but nothing a user types needs more. The parser recurses on nesting (thousands of
# unary minus signs), so both length and recursion are bounded.
MAX_PARAM_LENGTH = 1_000_000


def _parse_value(text: str, key: str = "VALUE") -> Any:
    """A ``--param`` value: a Python literal, or the text itself when it is none."""
    if len(text) > MAX_PARAM_LENGTH:
        msg = f"--param {key}=...: the value has {len(text)} characters, at most {MAX_PARAM_LENGTH} are read"
        raise UsageError(msg)
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError):
        return text
    except (RecursionError, MemoryError):  # CPython's parser gives either, by depth
        msg = f"--param {key}=...: the value nests too deeply to read as a Python literal"
        raise UsageError(msg) from None


def _parse_nblocks(text: str) -> int | tuple[int, int]:
    parts = [p for p in re.split(r"[,x ]+", text.strip()) if p]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        return values[0]
    if len(values) == 2:
        return (values[0], values[1])
    msg = f"--nblocks takes an integer K or a pair K,J, got {text!r}"
    raise UsageError(msg)


def _project_params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if args.nblocks is not None:
        params["nblocks"] = _parse_nblocks(args.nblocks)
    if args.rank is not None:
        params["rank"] = args.rank
    if args.method is not None:
        params["method"] = args.method
    if args.permutation is not None:
        params["permutation"] = args.permutation
    for item in args.param or []:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            msg = f"--param takes KEY=VALUE, got {item!r}"
            raise UsageError(msg)
        params[key] = _parse_value(value, key)
    return params


def _read(path: str, key: str | None) -> dict[str, np.ndarray]:
    from structmat import io

    matrices = io.read_matrices(path, key)
    return {name: io._finite_float(a) for name, a in matrices.items()}


def _save(path: Path, result: Any) -> None:
    from structmat import io

    io.save(path, result)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "matrix"


def _cmd_project(args: argparse.Namespace) -> int:
    import structmat
    from structmat import _cli_dask

    params = _project_params(args)
    lazy = _cli_dask.wants_dask(args)  # a zarr store or a large .npy: opened lazily, on Dask
    matrices = _cli_dask.open_lazy(args.file, args.key) if lazy else _read(args.file, args.key)
    many = len(matrices) > 1
    out = Path(args.output)
    if not many and out.suffix.lower() not in (".npz", ".safetensors"):
        msg = f"-o {args.output!r}: give a .npz or .safetensors file name (the suffix picks the format)"
        raise UsageError(msg)
    if many:
        if out.suffix.lower() in (".npz", ".safetensors"):
            msg = f"{args.file!r} holds {len(matrices)} matrices: give a directory for -o (not {args.output!r}), or pick one with --key"
            raise UsageError(msg)
        out.mkdir(parents=True, exist_ok=True)
    elif out.parent and not out.parent.exists():
        msg = f"cannot write {args.output!r}: folder {str(out.parent)!r} does not exist"
        raise UsageError(msg)

    rows = []
    written = []
    resolved = []
    running = _cli_dask.computing(args, matrices) if lazy else None
    with running or progress(len(matrices), f"project onto {args.onto}", quiet=args.quiet) as steps:
        for name, A in matrices.items():
            steps.doing(f"{name} {A.shape[0]}x{A.shape[1]}")
            result = structmat.project(A, args.onto, **params)
            target = out / f"{_safe_name(name)}.npz" if many else out
            write_atomically(target, functools.partial(_save, result=result))
            written.append(str(target))
            resolved.append(_call_text(args.onto, result.params))
            rows.append(
                [
                    name,
                    f"{A.shape[0]}x{A.shape[1]}",
                    relative(result.relative_error),
                    _certificate(result),
                    result.parameter_count,
                    f"{result.compression:.2%}",
                ]
            )
            steps.done()
    headers = ["matrix", "shape", "rel. error", "certificate", "parameters", "compression"]
    if len(set(resolved)) == 1:
        print(f"projection onto {resolved[0]}")
    else:  # parameters resolved per shape (default blocks, ranks): one column each
        print(f"projection onto {_call_text(args.onto, params)}")
        headers.insert(2, "projection")
        for row, text in zip(rows, resolved, strict=True):
            row.insert(2, text)
    print(format_table(headers, rows))
    if many:
        print(
            f"wrote {len(written)} operators to {str(out)!r} (structmat.load(path) rebuilds each)"
        )
    else:
        print(f"wrote {written[0]!r} (structmat.load({written[0]!r}) rebuilds the operator)")
    return EXIT_OK


def _call_text(onto: str, params: dict[str, Any]) -> str:
    """``monarch(nblocks=(8, 8), rank=1)``: a class with the parameters a projection used."""
    return f"{onto}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


def _certificate(result: Any) -> str:
    """``exact``, or the relative ``[lower, upper]`` bounds on the distance to the class."""
    if result.exact:
        return "exact"
    lo, hi = (
        b / result.norm if result.norm else 0.0 for b in (result.lower_bound, result.upper_bound)
    )
    return f"[{relative(lo)}, {relative(hi)}]"


def _comparison_text(comparison: Any) -> str:
    m, n = comparison.shape
    head = (
        f"structure search, {m}x{n}, budget {comparison.budget:.3g} ({comparison.cap} parameters)"
    )
    rows = [
        [
            r.onto,
            ", ".join(f"{k}={v!r}" for k, v in r.params.items() if k != "method") or NOT_APPLICABLE,
            r.parameter_count,
            f"{r.parameter_count / (m * n):.2%}",
            relative(r.relative_error),
            "yes" if r.exact else "no",
        ]
        for r in comparison.rows
    ]
    headers = ["class", "parameters", "count", "compression", "rel. error", "exact"]
    return f"{head}\n{format_table(headers, rows)}"


def _cmd_compare(args: argparse.Namespace) -> int:
    import structmat

    if not 0 < args.budget <= 1:
        msg = f"--budget is a fraction of the dense parameter count in (0, 1], got {args.budget}"
        raise UsageError(msg)
    matrices = _read(args.file, args.key)
    blocks = []  # printed once the bar is gone: stdout and stderr share the terminal
    with progress(len(matrices), "compare", quiet=args.quiet) as steps:
        for name, A in matrices.items():
            steps.doing(f"{name} {A.shape[0]}x{A.shape[1]}")
            comparison = structmat.compare(A, budget=args.budget)
            lines = [f"== {name}"] if len(matrices) > 1 else []
            best = comparison.best
            if best is None:  # an answer, not an error: one line, exit 0
                lines.append(comparison.nothing_fits())
            else:
                lines.append(_comparison_text(comparison))
                lines.append(
                    f"best: {_call_text(best.onto, best.params)}, relative error "
                    f"{relative(best.relative_error)} with {best.parameter_count} parameters"
                )
            blocks.append("\n".join(lines))
            steps.done()
    print("\n\n".join(blocks))
    return EXIT_OK


# ---------------------------------------------------------------------- the parser
_RAW = argparse.RawDescriptionHelpFormatter

VERIFY_EPILOG = """\
examples:
  structmat verify                    every construction at default sizes, plus SymPy proofs
  structmat verify --n 64 1024        at n = 64 and 1024 (where each construction applies)
  structmat verify --n 100000         matrix-free: random probes above n = 1024
  structmat verify --no-symbolic      numerical checks only
  structmat verify --backend torch    run the operators on PyTorch

Exit code 1 if any construction differs from its reference by more than 1e-11
(relative Frobenius norm) or an exact check fails.
"""

PROJECT_EPILOG = """\
examples:
  structmat project W.npy --onto monarch --nblocks 16 -o W_monarch.npz
  structmat project W.npy --onto lowrank --rank 32 -o W_lr.npz
  structmat project W.npy --onto butterfly --permutation bitrev -o W_bf.npz
  structmat project weights.npz --key fc1 --onto monarch -o fc1.npz
  structmat project model.safetensors --onto monarch --nblocks 4,4 -o out_dir/
  structmat project W.npy --onto kronecker --param "shapes=((16, 16), (32, 32))" -o W_kron.npz

Then in Python: op = structmat.load("W_monarch.npz").
Classes: monarch, monarch_adjoint, butterfly, lowrank, kronecker, circulant, toeplitz,
diagonal, block_diagonal, permutation.  A file with several 2-d arrays (and no --key)
projects each of them; -o is then a directory, one .npz per matrix.
"""

COMPARE_EPILOG = """\
examples:
  structmat compare W.npy                        which structure fits W best at 25% of its parameters
  structmat compare W.npy --budget 0.1
  structmat compare model.safetensors --key encoder.layer.0.output.dense.weight
"""

BENCH_EPILOG = """\
examples:
  structmat bench --quick                 every benchmark, small sizes (a minute or two)
  structmat bench                         the full tables (several minutes)
  structmat bench --only bench_monarch    one script

The scripts live in benchmarks/ of the source checkout (not in the installed package).
"""

MAIN_EPILOG = """\
examples:
  structmat verify
  structmat project W.npy --onto monarch -o W_monarch.npz
  structmat compare W.npy --budget 0.25
  structmat bench --quick

Run 'structmat COMMAND --help' for each command.
"""


def _cmd_bench(args: argparse.Namespace) -> int:
    from structmat._cli_bench import run_benchmarks

    return run_benchmarks(args.dir, quick=args.quick, only=args.only)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="structmat",
        description="Structured matrices (Monarch, butterfly, Fourier, low rank) as linear operators.",
        epilog=MAIN_EPILOG,
        formatter_class=_RAW,
    )
    parser.add_argument("--version", action="version", version=f"structmat {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    quiet = _Parser(add_help=False)
    quiet.add_argument("-q", "--quiet", action="store_true", help="no progress output on stderr")

    p = sub.add_parser(
        "verify",
        parents=[quiet],
        help="check every construction against independent references",
        description="Build every construction of structmat.constructions (DFT, IDFT, Hadamard, "
        "DCT, circulant, Toeplitz, convolution as Monarch and as butterfly; butterfly -> Monarch) "
        "and compare each with numpy.fft, scipy.fft, scipy.linalg and numpy.convolve: densely "
        "(its multiply and its to_dense()) up to n = 1024, on random probes above. Then check "
        "the constructions exactly with SymPy.",
        epilog=VERIFY_EPILOG,
        formatter_class=_RAW,
    )
    p.add_argument(
        "--n", type=int, nargs="+", metavar="N", help="sizes to check (default: per construction)"
    )
    sym = p.add_mutually_exclusive_group()
    sym.add_argument(
        "--symbolic",
        dest="symbolic",
        action="store_true",
        default=None,
        help="run the SymPy proofs (default: when SymPy is installed)",
    )
    sym.add_argument(
        "--no-symbolic", dest="symbolic", action="store_false", help="skip the SymPy proofs"
    )
    p.add_argument(
        "--symbolic-n",
        type=int,
        nargs="+",
        metavar="N",
        help="sizes of the exact SymPy checks (default 2 4 8 16)",
    )
    p.add_argument(
        "--backend",
        choices=["numpy", "torch", "array_api_strict", "cupy"],
        default="numpy",
        help="array backend the operators run on (default numpy)",
    )
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser(
        "project",
        parents=[quiet],
        help="project a matrix from a file onto a structured class and save the result",
        description="Read a matrix (.npy, .npz or .safetensors, never with pickle), project it "
        "onto a structured class (structmat.project), print the relative error, parameter count "
        "and compression, and save the operator (structmat.load rebuilds it). A zarr store or "
        "a .npy file over a quarter of the available memory is read lazily and projected on Dask.",
        epilog=PROJECT_EPILOG,
        formatter_class=_RAW,
    )
    p.add_argument("file", help="a .npy, .npz or .safetensors file, or a zarr store")
    p.add_argument(
        "--onto", required=True, metavar="CLASS", help="the class: monarch, lowrank, butterfly, ..."
    )
    p.add_argument(
        "--key",
        help="the array to read from a .npz or .safetensors file (default: every 2-d array)",
    )
    p.add_argument("--nblocks", help="Monarch/block-diagonal blocks: K, or K,J")
    p.add_argument("--rank", type=int, help="rank (Monarch, low rank, Kronecker)")
    p.add_argument("--method", help="low rank: svd or randomized")
    p.add_argument("--permutation", help="butterfly: bitrev")
    p.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="any other parameter of structmat.project (a Python literal); repeatable",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="the .npz or .safetensors file to write (a directory, of .npz files, when the file holds several matrices)",
    )
    from structmat._cli_dask import add_arguments  # imports no Dask

    add_arguments(p)
    p.set_defaults(func=_cmd_project)

    p = sub.add_parser(
        "compare",
        parents=[quiet],
        help="which structured class fits a matrix best at a parameter budget",
        description="Fit every applicable class (low rank, Monarch over a grid of blocks and "
        "ranks, butterfly, Kronecker, block-diagonal) within a parameter budget and print the "
        "table sorted by relative error (structmat.compare).",
        epilog=COMPARE_EPILOG,
        formatter_class=_RAW,
    )
    p.add_argument("file", help="a .npy, .npz or .safetensors file")
    p.add_argument(
        "--budget",
        type=float,
        default=0.25,
        help="fraction of the dense parameter count (default 0.25)",
    )
    p.add_argument(
        "--key",
        help="the array to read from a .npz or .safetensors file (default: every 2-d array)",
    )
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser(
        "bench",
        help="run the benchmark scripts and print their tables",
        description="Run the scripts of benchmarks/ (bench_core, bench_monarch, bench_fourier, "
        "bench_butterfly, bench_projection - those present), each printing a table of ratios "
        "measured in one run next to its target.",
        epilog=BENCH_EPILOG,
        formatter_class=_RAW,
    )
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    p.add_argument(
        "--only", nargs="+", metavar="NAME", help="run only these scripts (e.g. bench_monarch)"
    )
    p.add_argument(
        "--dir", help="the benchmarks folder (default: benchmarks/ of the source checkout)"
    )
    p.set_defaults(func=_cmd_bench)
    return parser


_MAX_MESSAGE = 1000  # characters of an error line (a message may quote a huge value)


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    text = " ".join(text.split())
    if len(text) > _MAX_MESSAGE:
        half = _MAX_MESSAGE // 2
        text = f"{text[:half]} ... ({len(text) - 2 * half} characters left out) ... {text[-half:]}"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``structmat`` command with ``argv`` (``sys.argv[1:]`` by default); return the exit code.

    Never prints a traceback: bad input is one line on stderr and exit code 2
    (argparse errors included, without the usage block), and any other
    exception - a bug - is one line with its type and exit code 1.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _ArgumentError as exc:
        print(_one_line(exc), file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help or --version (argparse exits 0 after printing)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("structmat: error: give a command (structmat --help lists them)", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except (UsageError, OSError, ValueError, TypeError, KeyError, ImportError) as exc:
        sys.stdout.flush()
        print(f"structmat {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"structmat {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: still one line, never a traceback
        sys.stdout.flush()
        print(
            f"structmat {args.command}: internal error: {type(exc).__name__}: {_one_line(exc)}",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

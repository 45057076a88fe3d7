#!/usr/bin/env python
"""Dask benchmarks: out-of-core Monarch projection and products from zarr.

1. Monarch projection (``nblocks 256``; ``--quick``: 64) of an ``N x N`` float32
   matrix stored as zarr, on a ``LocalCluster`` of 2 workers with a 3 GiB
   memory limit each, against the in-memory NumPy projection of the same
   matrix in the same run: wall time, throughput ratio (in-memory time /
   Dask time; target >= 0.5) and the peak resident memory of this process,
   the scheduler and the workers together (psutil, sampled every 0.1 s;
   target < 8 GiB). ``--n`` sets N (default 8192; the target size is 32768);
   ``--headline`` is N = 65536 (16 GiB on disk), without the in-memory run
   (it does not fit).
2. ``dft_as_monarch(4096)`` (complex64) and a random float32 Monarch applied to a
   ``4096 x K`` float32 Dask array from zarr, written to zarr (``--k``; the
   target K is 2**20, 16 GiB), against the in-memory product of a
   ``4096 x 8192`` slice: columns per second and their ratio.
3. ``--part butterfly``: only the butterfly (radix 2) and KS-chain
   (``square_dyadic``) projections of an ``N x N`` float32 zarr matrix
   (``--n``, default 4096 here) on the same cluster: wall time, and the peak
   memory of this process alone, the client (:mod:`tracemalloc`, which sees
   NumPy's buffers, and the sampled resident memory over its value before
   the call), against ``N² * 4`` bytes, the matrix.

The inputs are written with Dask from a seeded generator into a temporary
directory (``--tmp DIR``; never the repository) and deleted afterwards.

Usage: ``python benchmarks/bench_dask.py [--quick] [--n N] [--k K] [--headline]
[--part both|projection|products|butterfly] [--tmp DIR]``.
"""

from __future__ import annotations

import _common

_common.setup_blas(_common.flag_value("--threads"))
_common.use_checkout()

import argparse  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import structmat as sm  # noqa: E402

GiB = 2**30


class PeakRSS:
    """The peak of the summed resident memory of this process and all its children.

    ``children=False``: of this process alone.
    """

    def __init__(self, every: float = 0.1, children: bool = True) -> None:
        import psutil

        self.me, self.every, self.peak = psutil.Process(), every, 0
        self.children = children
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        total = 0
        family = self.me.children(recursive=True) if self.children else []
        for p in [self.me, *family]:
            try:
                total += p.memory_info().rss
            except Exception:  # a process that just exited
                pass
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, self._sample())

    def __enter__(self) -> PeakRSS:
        self.peak = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def once(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()``'s result and its seconds, one call (runs of seconds that read or write zarr).

    The collector stays on: the peak memory of this process is part of the table.
    """
    out = []
    t = _common.time_call(lambda: out.append(fn()), repeats=1, warmup=False, keep_gc=True)
    return out[0], t


def write_matrix(path: Path, shape: tuple[int, int], chunks: tuple[int, int]) -> None:
    import dask.array as da

    X = da.random.default_rng(0).standard_normal(shape, dtype=np.float32, chunks=chunks)
    X.to_zarr(str(path), overwrite=True)


def projection_section(tmp: Path, n: int, nblocks: int, in_memory: bool) -> list[list[str]]:
    import dask.array as da
    import zarr

    p = n // nblocks
    path = tmp / f"A{n}.zarr"
    write_matrix(path, (n, n), (n, max(p, (1 << 26) // (4 * n) // p * p)))
    rows = []
    with PeakRSS() as mem:
        res, t_dask = once(lambda: sm.project(da.from_zarr(str(path)), "monarch", nblocks=nblocks))
    rows.append(
        [
            "Dask, 2 workers x 3 GiB",
            f"{t_dask:.1f} s",
            f"{mem.peak / GiB:.2f} GiB",
            f"{res.relative_error:.6f}",
        ]
    )
    if in_memory:
        A = np.asarray(zarr.open_array(str(path), mode="r")[:])
        with PeakRSS() as mem:
            ref, t_np = once(lambda: sm.project(A, "monarch", nblocks=nblocks))
        rows.append(
            [
                "in memory, NumPy",
                f"{t_np:.1f} s",
                f"{mem.peak / GiB:.2f} GiB",
                f"{ref.relative_error:.6f}",
            ]
        )
        rows.append(["throughput Dask / NumPy (target >= 0.5)", f"{t_np / t_dask:.2f}", "", ""])
        del A
    shutil.rmtree(path)
    return rows


def apply_section(tmp: Path, k: int) -> list[list[str]]:
    import dask.array as da
    import zarr

    n = 4096
    path = tmp / "X.zarr"
    write_matrix(path, (n, k), (n, 2048))
    need = n * k * (4 + 8)  # the float32 input and the largest output (complex64)
    free = shutil.disk_usage(tmp).free
    if free < 1.1 * need:
        msg = (
            f"--k {k} needs about {need / GiB:.0f} GiB free under {tmp}, there are {free / GiB:.0f}"
        )
        raise SystemExit(msg)
    ops = {
        # complex64, as scipy.fft gives for float32 input (complex128 would double the output)
        "dft_as_monarch(4096), complex64": sm.constructions.dft_as_monarch(n, dtype=np.complex64),
        "Monarch.square(4096), float32": sm.Monarch.square(n, seed=0, dtype=np.float32),
    }
    width = min(k, 8192)
    X_slice = np.asarray(zarr.open_array(str(path), mode="r")[:, :width])
    rows = []
    for name, op in ops.items():
        _, t_dask = once(
            lambda op=op: (op @ da.from_zarr(str(path))).to_zarr(
                str(tmp / "Y.zarr"), overwrite=True
            )
        )
        _, t_np = once(lambda op=op: op @ X_slice)
        rate_dask, rate_np = k / t_dask, width / t_np
        rows.append(
            [name, f"{rate_dask:,.0f}/s", f"{rate_np:,.0f}/s", f"{rate_dask / rate_np:.2f}"]
        )
        shutil.rmtree(tmp / "Y.zarr")
    shutil.rmtree(path)
    return rows


def butterfly_section(tmp: Path, n: int) -> list[list[str]]:
    """Butterfly and KS-chain projection from zarr: the client's peak memory."""
    import dask.array as da

    import structmat.ks as smks

    path = tmp / f"B{n}.zarr"
    write_matrix(path, (n, n), (n, max(1, (1 << 24) // (4 * n))))
    MiB = 2**20
    rows = []
    for name, onto, params in (
        ("butterfly, radix 2", "butterfly", {}),
        ("ks, square_dyadic", "ks", {"patterns": smks.square_dyadic(n)}),
    ):
        tracemalloc.start()
        with PeakRSS(every=0.02, children=False) as mem:
            base = mem.peak
            res, t = once(
                lambda onto=onto, params=params: sm.project(da.from_zarr(str(path)), onto, **params)
            )
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append(
            [
                name,
                f"{t:.1f} s",
                f"{traced / MiB:.0f} MiB",
                f"{(mem.peak - base) / MiB:.0f} MiB",
                f"{res.relative_error:.6f}",
            ]
        )
    shutil.rmtree(path)
    rows.append(["the matrix, N² x 4 bytes", "", f"{n * n * 4 / MiB:.0f} MiB", "", ""])
    return rows


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--k", type=int, default=1 << 16)
    parser.add_argument("--headline", action="store_true", help="N = 65536, no in-memory run")
    parser.add_argument(
        "--part",
        choices=("both", "projection", "products", "butterfly"),
        default="both",
        help="what to run (butterfly: only the butterfly / KS client-memory table)",
    )
    parser.add_argument("--tmp", help="folder for the zarr inputs (default: the system's)")
    parser.add_argument("--threads")
    parser.add_argument("--keep-openblas-env", action="store_true")
    args = parser.parse_args()
    try:
        import dask.distributed  # noqa: F401
        import psutil  # noqa: F401
        import zarr  # noqa: F401
    except ImportError as exc:
        _common.skip(f"needs structmat[dask] ({exc})")
    n, k, nblocks = (2048, 1 << 14, 64) if args.quick else (args.n or 8192, args.k, 256)
    if args.headline:
        n = 65536

    from distributed import Client, LocalCluster

    tmp = Path(tempfile.mkdtemp(prefix="bench_dask_", dir=args.tmp))
    try:
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                memory_limit="3GiB",
                processes=True,
                dashboard_address=None,
                scheduler_kwargs={"dashboard_address": ":0"},
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster),
        ):
            if args.part == "butterfly":
                n = args.n or 4096
                rows = butterfly_section(tmp, n)
                print(f"\nButterfly / KS projection, {n}x{n} float32 from zarr: client memory\n")
                heads = ["run", "time", "client peak (tracemalloc)", "client peak RSS - start"]
                print(table([*heads, "rel. error"], rows))
                return
            if args.part != "products":
                rows = projection_section(tmp, n, nblocks, in_memory=not args.headline)
                print(f"\nMonarch projection, {n}x{n} float32 from zarr, nblocks {nblocks}\n")
                print(table(["run", "time", "peak RSS (all processes)", "rel. error"], rows))
            if args.part != "projection" and not args.headline:
                rows = apply_section(tmp, k)
                print(f"\nProducts with a 4096x{k} float32 zarr array, written to zarr\n")
                print(table(["operator", "Dask columns", "in memory columns", "ratio"], rows))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Fourier-family operators against the raw library calls they wrap.

Rows (NumPy inputs, C-contiguous, one process, ratios measured in one run):

- ``DFT(n) @ X`` vs ``scipy.fft.fft(X, axis=0)``, complex128, n = 2^10, 2^16,
  batch 1 and 64 - target: overhead <= 5% (ratio <= 1.05); the same
  for ``IDFT`` vs ``scipy.fft.ifft``; and (information) float64 input, which
  the operator base class casts to complex128 before the FFT.
- ``DCT(n, t) @ X`` and ``DST(n, t) @ X`` for types ``t = 1..4`` vs
  ``scipy.fft.dct/dst(X, t, axis=0)``, float64, n = 2^10, 2^16, batch 1 and
  64 - target: ratio <= 1.10 (the operators call ``scipy.fft`` on NumPy).
- ``Hadamard(n) @ X`` (fast Walsh-Hadamard) vs the dense
  ``scipy.linalg.hadamard(n) @ X`` (matrix built outside the timing) and vs a
  plain radix-2 NumPy FWHT loop written here.
- ``Circulant(c) @ X`` and ``Toeplitz(c, r) @ X`` vs the dense matrix product.

Timing: ``_common.time_ratio``: a warm-up call each, then timed loops of the
two contenders of a row alternate round by round (so drifting load on a shared
machine hits both alike); times are medians over rounds, and ``ratio`` (structmat
/ reference, below 1 is faster) the median of the rounds' ratios. ``--quick`` uses fewer repeats and skips the largest
dense references; ``--only GROUP`` (dft, trig, nd, hadamard, convolution) runs
one group of rows.

If OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set, the script re-executes itself
without them (pass ``--keep-openblas-env`` to keep them), as
``shared/bench/peers.py`` does. ``--blas-threads=N`` runs with N BLAS /
OpenMP threads, e.g. ``--blas-threads=1`` for a one-thread-each comparison of
the dense rows (on a loaded 2-core machine multi-threaded BLAS was seen to
vary 100x between runs).
"""

from __future__ import annotations

import sys

import _common

_BLAS_THREADS = next(
    (a.split("=", 1)[1] for a in sys.argv if a.startswith("--blas-threads=")), None
)
_common.setup_blas(_BLAS_THREADS)
_common.use_checkout()

import argparse  # noqa: E402 - after the BLAS set-up on purpose
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import scipy.fft  # noqa: E402
import scipy.linalg  # noqa: E402
import scipy.signal  # noqa: E402

import structmat as sm  # noqa: E402


def fwht_numpy(X: np.ndarray) -> np.ndarray:
    """A plain radix-2 fast Walsh-Hadamard transform along axis 0 (reference)."""
    n, k = X.shape
    h = 1
    while h < n:
        Y = X.reshape(n // (2 * h), 2, h, k)
        X = np.concatenate((Y[:, :1] + Y[:, 1:], Y[:, :1] - Y[:, 1:]), axis=1)
        h *= 2
    return X.reshape(n, k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller dense rows")
    parser.add_argument("--keep-openblas-env", action="store_true")
    parser.add_argument(
        "--blas-threads",
        metavar="N",
        help="=N: BLAS/OpenMP threads of the dense references (the FFTs use one thread)",
    )
    parser.add_argument(
        "--only",
        choices=["dft", "trig", "nd", "hadamard", "convolution"],
        help="run one group of rows (trig: the DCT/DST rows)",
    )
    args = parser.parse_args()

    def want(group: str) -> bool:
        return args.only in (None, group)

    # rounds and loop length per side: about 0.15 s (quick) and 1.5 s per row
    repeats, min_time = (3, 0.02) if args.quick else (9, 0.08)
    rng = np.random.default_rng(0)
    rows: list[tuple[str, str, float, float, str, float]] = []

    def row(name: str, size: str, ours: Callable, ref: Callable, target: str) -> None:
        t_ours, t_ref, ratio = _common.time_ratio(ours, ref, repeats=repeats, min_time=min_time)
        rows.append((name, size, t_ours, t_ref, target, ratio))
        r = rows[-1]
        print(
            f"  {r[0]:<42} {r[1]:<13} {r[2] * 1e3:10.3f} {r[3] * 1e3:10.3f} {r[5]:7.3f}  {r[4]}",
            flush=True,
        )

    print(
        f"{'operation (structmat vs reference)':<44} {'n x batch':<13} "
        f"{'ours ms':>10} {'ref ms':>10} {'ratio':>7}  target"
    )
    if want("dft"):
        for n in (2**10, 2**16):
            for k in (1, 64):
                X = rng.standard_normal((n, k)) + 1j * rng.standard_normal((n, k))
                x = X[:, 0].copy() if k == 1 else X
                F, G = sm.DFT(n), sm.IDFT(n)
                row(
                    "DFT @ x vs scipy.fft.fft",
                    f"2^{n.bit_length() - 1} x {k}",
                    lambda F=F, x=x: F @ x,
                    lambda x=x: scipy.fft.fft(x, axis=0),
                    "<= 1.05",
                )
                row(
                    "IDFT @ x vs scipy.fft.ifft",
                    f"2^{n.bit_length() - 1} x {k}",
                    lambda G=G, x=x: G @ x,
                    lambda x=x: scipy.fft.ifft(x, axis=0),
                    "<= 1.05",
                )
        for n in (2**10, 2**16):
            for k in (1, 64):
                Xr = rng.standard_normal((n, k) if k > 1 else (n,))
                F = sm.DFT(n)
                row(
                    "DFT @ x (float64 input) vs scipy.fft.fft",
                    f"2^{n.bit_length() - 1} x {k}",
                    lambda F=F, x=Xr: F @ x,
                    lambda x=Xr: scipy.fft.fft(x, axis=0),
                    "info",
                )
        for n in (2**10, 2**16):
            # a weak DFT keeps float32 input in single precision, as scipy.fft does
            x32 = rng.standard_normal((n, 64)).astype(np.float32)
            F = sm.DFT(n)
            row(
                "DFT @ x (float32 input) vs scipy.fft.fft",
                f"2^{n.bit_length() - 1} x 64",
                lambda F=F, x=x32: F @ x,
                lambda x=x32: scipy.fft.fft(x, axis=0),
                "<= 1.05",
            )
    if want("trig"):
        for n in (2**10, 2**16):
            for k in (1, 64):
                Xr = rng.standard_normal((n, k) if k > 1 else (n,))
                for cls, ref in ((sm.DCT, scipy.fft.dct), (sm.DST, scipy.fft.dst)):
                    for t in (1, 2, 3, 4):
                        C = cls(n, t)
                        row(
                            f"{cls.__name__}-{'I' * t if t < 4 else 'IV'} @ x vs scipy.fft.{ref.__name__}",
                            f"2^{n.bit_length() - 1} x {k}",
                            lambda C=C, x=Xr: C @ x,
                            lambda x=Xr, t=t, ref=ref: ref(x, t, axis=0),
                            "<= 1.10",
                        )
    if want("nd"):
        # Kronecker of same-kind factors on vec(X) (row-major) vs the n-d SciPy call
        for n in (64, 256) if args.quick else (64, 256, 1024):
            for k in (1, 8) if n < 1024 else (1,):
                Xr = rng.standard_normal((n * n, k) if k > 1 else (n * n,))
                Xc = Xr + 1j * rng.standard_normal(Xr.shape)
                K, C = sm.Kronecker(sm.DFT(n), sm.DFT(n)), sm.Kronecker(sm.DCT(n), sm.DCT(n))
                img = (n, n, k) if k > 1 else (n, n)
                row(
                    "Kronecker(DFT, DFT) @ vec(X) vs fft2",
                    f"{n}x{n} x {k}",
                    lambda K=K, x=Xc: K @ x,
                    lambda x=Xc, s=img: scipy.fft.fft2(x.reshape(s), axes=(0, 1)).reshape(x.shape),
                    "<= 1.10",
                )
                row(
                    "Kronecker(DCT, DCT) @ vec(X) vs dctn",
                    f"{n}x{n} x {k}",
                    lambda C=C, x=Xr: C @ x,
                    lambda x=Xr, s=img: scipy.fft.dctn(x.reshape(s), axes=(0, 1)).reshape(x.shape),
                    "<= 1.10",
                )
    if want("hadamard"):
        for e in (10, 12) if args.quick else (10, 12, 13):
            n = 2**e
            Hd = scipy.linalg.hadamard(n).astype(np.float64)
            H = sm.Hadamard(n)
            for k in (1, 64):
                Xr = rng.standard_normal((n, k))
                row(
                    "Hadamard @ x vs dense hadamard(n) @ x",
                    f"2^{e} x {k}",
                    lambda H=H, x=Xr: H @ x,
                    lambda D=Hd, x=Xr: D @ x,
                    "< 1 (faster)",
                )
                row(
                    "Hadamard @ x vs numpy radix-2 FWHT",
                    f"2^{e} x {k}",
                    lambda H=H, x=Xr: H @ x,
                    lambda x=Xr: fwht_numpy(x),
                    "info",
                )
    if want("convolution"):
        for n in (2**10, 2**12):
            c, r = rng.standard_normal(n), rng.standard_normal(n)
            Cd, Td = scipy.linalg.circulant(c), scipy.linalg.toeplitz(c, r)
            Cop, Top = sm.Circulant(c), sm.Toeplitz(c, r)
            for k in (1, 64):
                Xr = rng.standard_normal((n, k))
                row(
                    "Circulant @ x vs dense circulant(c) @ x",
                    f"2^{n.bit_length() - 1} x {k}",
                    lambda A=Cop, x=Xr: A @ x,
                    lambda D=Cd, x=Xr: D @ x,
                    "< 1 (faster)",
                )
                row(
                    "Toeplitz @ x vs dense toeplitz(c, r) @ x",
                    f"2^{n.bit_length() - 1} x {k}",
                    lambda A=Top, x=Xr: A @ x,
                    lambda D=Td, x=Xr: D @ x,
                    "< 1 (faster)",
                )
        # the modes of scipy.signal: 1-d correlation, 2-d convolution (FFT methods)
        n, L = 100_000, 301
        h, x = rng.standard_normal(L), rng.standard_normal(n)
        Cor = sm.Correlation(h, n, "same")
        row(
            "Correlation @ x vs signal.correlate (fft)",
            f"{n}, L={L}",
            lambda A=Cor, x=x: A @ x,
            lambda x=x, h=h: scipy.signal.correlate(x, h, "same", method="fft"),
            "info",
        )
        for mode in ("full", "same", "valid"):
            img, ker = rng.standard_normal((256, 256)), rng.standard_normal((9, 9))
            C2 = sm.Convolution2D(ker, img.shape, mode)
            v = img.reshape(-1)
            row(
                f"Convolution2D({mode}) @ vec(X) vs fftconvolve",
                "256x256, 9x9",
                lambda A=C2, v=v: A @ v,
                lambda X=img, h=ker, m=mode: scipy.signal.fftconvolve(X, h, m),
                "info",
            )
    ok = [r for r in rows if r[4] == "<= 1.05"]
    if ok:
        worst = max(r[5] for r in ok)
        at16 = [r[5] for r in ok if r[1] == "2^16 x 1" and r[0].startswith("DFT")]
        print(
            f"\nDFT/IDFT overhead: worst ratio {worst:.3f} over {len(ok)} rows; "
            f"DFT at 2^16 x 1 (the target row): {at16[0]:.3f} (target <= 1.05)"
        )
    for title, prefix in (("DCT/DST vs scipy.fft", "D"), ("n-d Kronecker vs fft2/dctn", "Kron")):
        sel = [r[5] for r in rows if r[4] == "<= 1.10" and r[0].startswith(prefix)]
        if sel:
            print(f"{title}: worst ratio {max(sel):.3f} over {len(sel)} rows (target <= 1.10)")


if __name__ == "__main__":
    main()

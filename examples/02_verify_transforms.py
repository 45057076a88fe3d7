"""Verify the structured representations of the DFT and of convolution, and print the errors.

- the DFT as a Monarch matrix times a permutation (Cooley-Tukey, any composite n);
- the DFT as a butterfly times the bit-reversal permutation (n a power of 2);
- convolution with a kernel ``h`` as a product of Monarch matrices (class MM*);
- a random butterfly converted exactly to a Monarch matrix.

Each is compared with ``numpy.fft.fft`` / ``numpy.convolve`` on a random signal
and as a dense matrix; then, when SymPy is installed, checked exactly at small n.
Run: ``python examples/02_verify_transforms.py``.
"""

from __future__ import annotations

import importlib.util

import numpy as np
from _output import output_dir, pyplot

import structmat as sm
from structmat import constructions as C

rng = np.random.default_rng(0)
rows = []


def check(
    name: str, op: sm.LinearOperator, dense_ref: np.ndarray, x: np.ndarray, y_ref: np.ndarray
) -> None:
    """Relative errors of ``op @ x`` and ``op.to_dense()`` against independent references."""
    err_apply = np.linalg.norm(op @ x - y_ref) / np.linalg.norm(y_ref)
    err_dense = np.linalg.norm(op.to_dense() - dense_ref) / np.linalg.norm(dense_ref)
    rows.append((name, op.shape[1], err_apply, err_dense, op.parameter_count))
    assert err_apply < 1e-11, (name, err_apply)
    assert err_dense < 1e-11, (name, err_dense)


for n in (64, 1000, 4096):  # 1000 = 2^3 * 5^3: not a power of two
    x = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    F = C.dft_as_monarch(n)
    check(f"DFT as Monarch  {F!r:.40}", F, np.fft.fft(np.eye(n), axis=0), x, np.fft.fft(x))

for n in (64, 1024):
    x = rng.standard_normal(n)
    F = C.dft_as_butterfly(n)
    check(f"DFT as butterfly {F!r:.40}", F, np.fft.fft(np.eye(n), axis=0), x, np.fft.fft(x))
    Fi = C.idft_as_butterfly(n)
    check("IDFT as butterfly", Fi, np.fft.ifft(np.eye(n), axis=0), x, np.fft.ifft(x))

h = np.array([0.25, 0.5, 0.25, -0.1, 0.05])  # a small smoothing kernel
for n in (100, 512):
    x = rng.standard_normal(n)
    K = C.convolution_as_monarch(h, n)
    ref = np.stack([np.convolve(h, e) for e in np.eye(n)], axis=1)
    check("convolution as Monarch (MM*)", K, ref, x, np.convolve(h, x))

n = 256
tw = rng.standard_normal((8, n // 2, 2, 2)) / np.sqrt(2)
Bf = sm.Butterfly(tw)
Mo = C.butterfly_to_monarch(Bf)
x = rng.standard_normal(n)
check("butterfly -> Monarch", Mo, Bf.to_dense(), x, Bf @ x)

header = f"{'representation':<58} {'n':>5} {'err(op @ x)':>12} {'err(dense)':>11} {'params':>8}"
lines = [header, "-" * len(header)]
lines += [f"{name:<58} {n:>5} {ea:>12.1e} {ed:>11.1e} {p:>8}" for name, n, ea, ed, p in rows]
table = "\n".join(lines)
print(table)
(output_dir() / "02_errors.txt").write_text(table + "\n")

plt = pyplot()
if plt is not None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = [f"{name.split(' Product')[0].strip()} (n={n})" for name, n, *_ in rows]
    eps = np.finfo(np.float64).eps
    ax.barh(range(len(rows)), [max(ea, eps / 10) for _, _, ea, _, _ in rows], color="#3949ab")
    ax.axvline(1e-11, color="crimson", ls="--", label="tolerance 1e-11")
    ax.axvline(eps, color="gray", ls=":", label="float64 eps")
    ax.set_xscale("log")
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.set_xlabel("relative error of op @ x")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = output_dir() / "02_errors.png"
    fig.savefig(path, dpi=120)
    print("saved", path)

if importlib.util.find_spec("sympy") is not None:
    from structmat import symbolic

    for name in ("dft_monarch", "dft_butterfly", "convolution_monarch"):
        for n in (4, 8):
            res = symbolic.verify(name, n)  # exact cyclotomic arithmetic, no floats
            print(f"SymPy: {name}(n={n}) exact: {res.exact}")
            assert res.exact
    for proof in (symbolic.prove_dft_monarch_exponents(), symbolic.prove_dft_butterfly_exponents()):
        print(f"SymPy, all n: {proof.name}: {proof.exact}")
        assert proof.exact
else:
    print("SymPy is not installed: exact checks skipped (pip install 'structmat[verify]')")
print("OK")

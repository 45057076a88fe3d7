"""Project a dense layer onto Monarch, low-rank and butterfly matrices; error against parameter count.

The "layer" is a 1024 x 1024 matrix with the kind of structure trained layers
show: a smooth kernel ``exp(-|x_i - y_j| / 0.2)`` (fast-decaying spectrum) plus
a random part with a slowly decaying spectrum. For each class we sweep the
size parameter (rank; number of blocks) and record the relative Frobenius
error of the projection and its parameter count.

The Monarch and low-rank projections are exact (no member of the class is
closer); the butterfly projection comes with a certificate
``lower_bound <= distance to the class <= error <= upper_bound``. The example
asserts both, and that each curve falls as parameters grow.
Run: ``python examples/03_compress_layer.py``.
"""

from __future__ import annotations

import itertools

import numpy as np
from _output import output_dir, pyplot

import structmat as sm

rng = np.random.default_rng(0)
n = 1024
t = np.linspace(0.0, 1.0, n)
smooth = np.exp(-np.abs(t[:, None] - t[None, :]) / 0.2)
U, _ = np.linalg.qr(rng.standard_normal((n, n)))
V, _ = np.linalg.qr(rng.standard_normal((n, n)))
spectrum = 1.0 / (1.0 + np.arange(n)) ** 0.7
A = smooth / np.linalg.norm(smooth) + (U * spectrum) @ V.T / np.linalg.norm(spectrum)
norm_A = np.linalg.norm(A)
print(f"layer: {n}x{n}, {n * n} parameters")

curves: dict[str, list[tuple[int, float]]] = {}


def record(label: str, result: sm.ProjectionResult) -> None:
    # check the reported error independently
    err = np.linalg.norm(A - result.operator.to_dense()) / norm_A
    assert abs(err - result.relative_error) < 1e-8, (label, err, result.relative_error)
    if result.exact:
        assert abs(result.lower_bound - result.error) <= 1e-8 * norm_A
    else:
        assert result.lower_bound <= result.error * (1 + 1e-9) + 1e-12
        assert result.error <= result.upper_bound * (1 + 1e-9) + 1e-12
    curves.setdefault(label, []).append((result.parameter_count, result.relative_error))
    print(
        f"  {label:<22} {result.params!s:<32} params {result.parameter_count:>8}  rel. error {result.relative_error:.4f}"
    )


for rank in (4, 16, 64, 128, 256):
    record("low rank", sm.project(A, "lowrank", rank=rank))
for nblocks in (32, 16, 8, 4):
    record("Monarch (rank 1)", sm.project(A, "monarch", nblocks=nblocks, rank=1))
for rank in (2, 4, 8):
    record("Monarch (32 blocks)", sm.project(A, "monarch", nblocks=32, rank=rank))
for name, perm in (("butterfly", None), ("butterfly (bit-rev.)", "bitrev")):
    record(name, sm.project(A, "butterfly", permutation=perm))

for label, pts in curves.items():
    pts.sort()
    errs = [e for _, e in pts]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(errs)), (label, pts)

lines = ["class,parameters,relative_error"]
lines += [f"{label},{p},{e:.6g}" for label, pts in curves.items() for p, e in pts]
(output_dir() / "03_errors.csv").write_text("\n".join(lines) + "\n")

plt = pyplot()
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, pts in curves.items():
        p, e = zip(*pts, strict=True)
        ax.plot(np.array(p) / n**2, e, "o-" if len(p) > 1 else "s", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("parameters / dense parameters")
    ax.set_ylabel("relative Frobenius error")
    ax.set_title(f"projections of a {n}x{n} layer")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = output_dir() / "03_error_vs_parameters.png"
    fig.savefig(path, dpi=120)
    print("saved", path)
print("OK")

"""Compose structured operators in a script and solve systems with SciPy's Krylov solvers.

1. ``A = M M^H + I`` with ``M`` a random Monarch matrix (class MM*): symmetric
   positive definite, so ``scipy.sparse.linalg.cg`` solves ``A x = b`` using
   only the two batched matmuls of ``M`` and ``M^H`` per iteration; the dense
   ``A`` is never formed.
2. ``B = I + 0.5 C P`` with ``C`` a circulant (FFT-backed) and ``P`` a
   permutation: non-symmetric, solved with ``gmres``.

Both answers are checked against ``numpy.linalg.solve`` on the dense matrix.
Run: ``python examples/01_compose_and_solve.py``.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse.linalg as spla
from _output import output_dir, pyplot

import structmat as sm

rng = np.random.default_rng(0)
n, nb = 1024, 32  # n = 32 * 32: the paper's square Monarch with 32 blocks of 32 x 32

# ---------------------------------------------------------------- 1. MM* + I with cg
# Monarch factors in paper order (DESIGN.md §4): L of shape (J, s, K*r), R of shape (K, r*J, p)
L = rng.standard_normal((nb, nb, nb)) / np.sqrt(nb)
R = rng.standard_normal((nb, nb, nb)) / np.sqrt(nb)
M = sm.Monarch(L, R)
A = M @ M.H + sm.Identity(n)  # a Sum of a Product and the identity: nothing dense
print("A =", A)
print(
    f"A stores {A.parameter_count} numbers; dense would be {n * n} ({A.parameter_count / n**2:.1%})"
)

b = rng.standard_normal(n)
residuals: list[float] = []
t0 = time.perf_counter()
x, info = spla.cg(
    A.to_scipy(),
    b,
    rtol=1e-10,
    callback=lambda xk: residuals.append(float(np.linalg.norm(b - A @ xk))),
)
t_cg = time.perf_counter() - t0
assert info == 0, f"cg did not converge (info={info})"

dense = A.to_dense()
x_ref = np.linalg.solve(dense, b)
err = np.linalg.norm(x - x_ref) / np.linalg.norm(x_ref)
print(
    f"cg: {len(residuals)} iterations in {t_cg * 1e3:.1f} ms, relative error vs numpy.linalg.solve {err:.2e}"
)
assert err < 1e-8, err

# ---------------------------------------------------------------- 2. I + 0.5 C P with gmres
c = rng.standard_normal(n) / np.sqrt(n)
C = sm.Circulant(c)
P = sm.Permutation(rng.permutation(n))
B = sm.Identity(n) + 0.5 * (C @ P)
print("B =", B)
y, info = spla.gmres(B.to_scipy(), b, rtol=1e-10, restart=50, maxiter=200)
assert info == 0, f"gmres did not converge (info={info})"
y_ref = np.linalg.solve(B.to_dense(), b)
err_b = np.linalg.norm(y - y_ref) / np.linalg.norm(y_ref)
print(f"gmres: relative error vs numpy.linalg.solve {err_b:.2e}")
assert err_b < 1e-8, err_b

# the adjoint is structural too: (C P)^H = P^H C^H, and C^H is again a circulant
print("(C @ P).H =", (C @ P).H)

plt = pyplot()
if plt is not None:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.semilogy(np.arange(1, len(residuals) + 1), np.array(residuals) / np.linalg.norm(b))
    ax.set_xlabel("cg iteration")
    ax.set_ylabel("relative residual")
    ax.set_title(f"cg on M M^H + I, n = {n}, M Monarch")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path = output_dir() / "01_cg_convergence.png"
    fig.savefig(path, dpi=120)
    print("saved", path)
print("OK")

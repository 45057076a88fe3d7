"""One operator on NumPy, PyTorch, array_api_strict and CuPy (each skipped when absent).

A Monarch-times-DFT product built on NumPy is moved with ``op.to(xp=...)``;
the multiply then runs on the other library's arrays (on the GPU for CuPy),
and the result is compared with the NumPy one.
Run: ``python examples/05_backends.py``.
"""

from __future__ import annotations

import importlib.util

import numpy as np

import structmat as sm
from structmat._verify import to_numpy  # DLPack-based: works for array_api_strict too

rng = np.random.default_rng(0)
n, nb = 256, 16
M = sm.Monarch(rng.standard_normal((nb, nb, nb)) / 4, rng.standard_normal((nb, nb, nb)) / 4)
op = M @ sm.DFT(n, norm="ortho")
X = rng.standard_normal((n, 8))
Y = op @ X
print(f"numpy: {op!r}")


def run(name: str, xp, make_input) -> None:
    moved = op.to(xp=xp)
    Xb = make_input(X)
    Yb = moved @ Xb
    err = np.linalg.norm(to_numpy(Yb) - Y) / np.linalg.norm(Y)
    adj = moved.H @ Yb  # the structured adjoint runs on the backend too
    err_adj = np.linalg.norm(to_numpy(adj) - op.H @ Y) / np.linalg.norm(op.H @ Y)
    print(
        f"{name:<17} result {type(Yb).__module__}.{type(Yb).__name__}, rel. error vs NumPy {err:.1e}, adjoint {err_adj:.1e}"
    )
    assert err < 1e-12
    assert err_adj < 1e-12


ran = ["numpy"]
if importlib.util.find_spec("torch") is not None:
    import torch

    run("torch (CPU)", torch, lambda a: torch.asarray(a))
    ran.append("torch")
else:
    print("torch: not installed, skipped")

if importlib.util.find_spec("array_api_strict") is not None:
    import array_api_strict as xps

    run("array_api_strict", xps, lambda a: xps.asarray(a))
    ran.append("array_api_strict")
else:
    print("array_api_strict: not installed, skipped")

try:
    import cupy

    has_gpu = cupy.cuda.runtime.getDeviceCount() > 0
except Exception as exc:  # no CuPy, or CuPy without a driver/GPU
    print(f"cupy: unavailable here ({type(exc).__name__}), skipped")
    has_gpu = False
if has_gpu:
    import array_api_compat

    run("cupy (GPU)", array_api_compat.array_namespace(cupy.empty(0)), lambda a: cupy.asarray(a))
    ran.append("cupy")
print("ran on:", ", ".join(ran))
print("OK")

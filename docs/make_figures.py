"""Draw the documentation's figures with matplotlib (run by docs/hooks.py at every build).

Every figure is drawn from the index formulas of DESIGN.md (Kronecker-sparse
supports, the Monarch element formula, the butterfly pairing), with NumPy
only, so the pictures show the conventions rather than the code that
implements them. Run by hand: ``python docs/make_figures.py OUT_DIR``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def ks_support(a: int, b: int, c: int, d: int) -> np.ndarray:
    """Support of the Kronecker-sparse pattern ``I_a kron ones(b, c) kron I_d`` (DESIGN.md §4a)."""
    return np.kron(np.kron(np.eye(a), np.ones((b, c))), np.eye(d)).astype(bool)


def monarch_dense(L: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``M[sig*J + j, a*p + t] = sum_rho L[j, sig, a*r + rho] R[a, rho*J + j, t]`` (DESIGN.md §4)."""
    J, s, Kr = L.shape
    K, _, p = R.shape
    r = Kr // K
    L5 = L.reshape(J, s, K, r)  # [j, sig, a, rho]
    R5 = R.reshape(K, r, J, p)  # [a, rho, j, t]
    M = np.einsum("jsar,arjt->sjat", L5, R5)
    return M.reshape(s * J, K * p)


def butterfly_level(n: int, level: int) -> np.ndarray:
    """Support of butterfly level ``level`` (stride ``2**level``): ``KS(n/(2s), 2, 2, s)``."""
    s = 2**level
    return ks_support(n // (2 * s), 2, 2, s)


def _spy(ax, mask: np.ndarray, title: str, color: str = "#3f51b5") -> None:
    from matplotlib.colors import ListedColormap

    ax.imshow(mask, cmap=ListedColormap(["white", color]), vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.5)


def fig_monarch(plt, out: Path) -> None:
    n, m = 16, 4  # square Monarch: K = J = p = s = 4, r = 1
    right = ks_support(m, m, m, 1)  # R: block diagonal, K blocks of (rJ x p)
    left = ks_support(1, m, m, m)  # L: after the index convention, 1_{s x Kr} ⊗ I_J
    rng = np.random.default_rng(0)
    M = monarch_dense(rng.standard_normal((m, m, m)), rng.standard_normal((m, m, m)))
    perm = np.zeros((n, n), dtype=bool)  # the reshape-transpose permutation P of the paper
    for i in range(m):
        for j in range(m):
            perm[i * m + j, j * m + i] = True
    fig, axes = plt.subplots(1, 5, figsize=(11, 2.6))
    _spy(axes[0], M != 0, "M (dense: full support)", "#7b1fa2")
    _spy(axes[1], perm, "P (reshape-transpose)", "#757575")
    _spy(axes[2], ks_support(m, m, m, 1), "paper's L: block-diagonal", "#3949ab")
    _spy(axes[3], left, "P L P^T = KS(1, s, K r, J)", "#00897b")
    _spy(axes[4], right, "R as KS(K, r J, p, 1)", "#f4511e")
    fig.suptitle("Monarch, n = 16 = 4 x 4:  M = P L P^T R = KS(1,4,4,4) · KS(4,4,4,1)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "monarch_supports.png", dpi=110)
    plt.close(fig)


def fig_butterfly(plt, out: Path) -> None:
    n, levels = 16, 4
    fig, axes = plt.subplots(1, levels + 1, figsize=(11, 2.6))
    prod = np.eye(n, dtype=bool)
    for lev in range(levels):
        sup = butterfly_level(n, lev)
        prod = (sup.astype(int) @ prod.astype(int)) > 0
        _spy(axes[lev], sup, f"level {lev} (stride {2**lev})", "#00897b")
    _spy(axes[levels], prod, "product (dense)", "#7b1fa2")
    fig.suptitle(
        "Butterfly, n = 16: increasing stride applies level 0 first; B = B3 B2 B1 B0", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(out / "butterfly_supports.png", dpi=110)
    plt.close(fig)


def fig_ks(plt, out: Path) -> None:
    patterns = [(4, 2, 2, 1), (1, 2, 2, 4), (2, 2, 2, 2), (2, 4, 2, 1), (1, 3, 2, 2)]
    fig, axes = plt.subplots(1, len(patterns), figsize=(11, 2.6))
    for ax, pat in zip(axes, patterns, strict=True):
        _spy(ax, ks_support(*pat), f"KS{pat}", "#3949ab")
    fig.suptitle(
        "Kronecker-sparse supports I_a kron ones(b, c) kron I_d, shape (a b d, a c d)", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(out / "ks_supports.png", dpi=110)
    plt.close(fig)


def fig_cost(plt, out: Path) -> None:
    n = 2.0 ** np.arange(6, 17)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.loglog(n, n**2, "k-", label="dense: n²")
    ax.loglog(n, 2 * n**1.5, "o-", label="Monarch, √n blocks: 2 n^1.5")
    ax.loglog(n, 2 * n * np.log2(n), "s-", label="butterfly: 2 n log₂ n")
    ax.loglog(n, 2 * 32 * n, "^-", label="low rank 32: 64 n")
    ax.set_xlabel("n")
    ax.set_ylabel("parameters = multiply-adds per matvec")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("cost of an n x n structured matrix", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "cost.png", dpi=110)
    plt.close(fig)


def fig_benchmarks(plt, out: Path) -> None:
    """Measured figure over its target for each benchmark (docs/benchmarks.json).

    ``margin`` is measured/target for speed-ups and target/measured for times
    and ratios that should stay small, so 1 is the target and right is better.
    """
    import json

    rows = json.loads(Path(__file__).with_name("benchmarks.json").read_text())["rows"]
    labels = [r["label"] for r in rows]
    margin = np.array([r["margin"] for r in rows])
    y = np.arange(len(rows))[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(rows) + 1.2))
    ax.barh(y, margin, color=["#2e7d32" if m >= 1 else "#c62828" for m in margin], height=0.6)
    ax.axvline(1.0, color="k", lw=1)
    ax.set_xscale("log")
    ticks = [0.25, 0.5, 1, 2, 4, 8]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter("")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel(
        "margin over target (> 1: met)\nspeed-ups: measured / target; times: target / measured"
    )
    ax.grid(True, axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "benchmarks.png", dpi=110)
    plt.close(fig)


def main(out: str | Path) -> list[Path]:
    """Write every figure to ``out``; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for fig in (fig_monarch, fig_butterfly, fig_ks, fig_cost, fig_benchmarks):
        fig(plt, out)
    return sorted(out.glob("*.png"))


if __name__ == "__main__":
    for path in main(sys.argv[1] if len(sys.argv) > 1 else "site-figures"):
        print(path)

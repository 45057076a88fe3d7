"""examples/06_compress_minilm.py in small: the real model, one layer, a few distillation steps.

The full run (36 layers, minutes of training per configuration) is a documented
command (docs/minilm.md); here the example's own functions run on a two-layer
truncation of all-MiniLM-L6-v2. Skips when
transformers or the model package is absent (as on CI).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _example():
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))  # for its `from _output import ...`
    spec = importlib.util.spec_from_file_location(
        "compress_minilm", EXAMPLES / "06_compress_minilm.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ex = _example()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A one-layer truncation of the dense model, its tokenizer, and the sentence split."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    why = ex.missing()
    if why is not None:
        pytest.skip(why)
    import torch

    torch.manual_seed(0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STRUCTMAT_EXAMPLES_OUTPUT", str(tmp_path_factory.mktemp("minilm")))
        folder = ex.model_folder()
    teacher, tokenizer = ex.load(folder, num_hidden_layers=1)
    for p in teacher.parameters():
        p.requires_grad_(False)
    train, held = ex.split(ex.sentences())
    return teacher, tokenizer, train[:32], held[:16]


def test_sentences_and_split_are_fixed_and_disjoint():
    texts = ex.sentences()
    assert len(texts) > 2000
    assert all(40 <= len(s) <= 200 for s in texts)
    assert len(set(texts)) == len(texts)
    train, held = ex.split(texts)
    assert ex.split(texts) == (train, held)  # seeded
    assert not set(train) & set(held)
    assert len(held) == round(0.2 * len(texts))


def test_agreement_matches_numpy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    A = rng.standard_normal((30, 8))
    B = A + 0.7 * rng.standard_normal((30, 8))
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    B /= np.linalg.norm(B, axis=1, keepdims=True)
    cos, top = ex.agreement(torch.from_numpy(A), torch.from_numpy(B), k=10)

    def neighbours(E):
        S = E @ E.T
        np.fill_diagonal(S, -np.inf)
        return [set(np.argsort(-row, kind="stable")[:10]) for row in S]

    kept = [len(a & b) / 10 for a, b in zip(neighbours(A), neighbours(B), strict=True)]
    assert cos == pytest.approx(np.mean(np.sum(A * B, axis=1)), rel=1e-12)
    assert top == pytest.approx(np.mean(kept), rel=1e-12)
    assert 0 < top < 1  # the noise moves some neighbours, not all
    assert ex.agreement(torch.from_numpy(A), torch.from_numpy(A)) == (1.0, 1.0)


@pytest.mark.parametrize("onto", ["monarch", "lowrank"])
def test_distillation_loss_falls(small, onto):
    teacher, tokenizer, train, held = small
    train_t = ex.encode(teacher, tokenizer, train)
    held_t = ex.encode(teacher, tokenizer, held)
    record = ex.run_config(
        teacher,
        tokenizer,
        train,
        train_t,
        ex.scorer(tokenizer, held, held_t),
        onto=onto,
        budget=0.5,
        minutes=1.0,
        eval_every=4,
        batch_size=8,
        lr=1e-3,
        max_steps=8,
    )
    assert record["layers"] == 6  # query, key, value, attention output, two feed-forward
    assert record["params_after"] <= 0.5 * record["params_before"]
    assert 0 < record["mean_rel_error"] < 1
    assert record["step"] == [0, 4, 8]
    values = record["cos"] + record["top10"] + record["loss"][1:] + record["train_s"]
    assert all(math.isfinite(v) for v in values), record
    assert all(-1 <= v <= 1 for v in record["cos"] + record["top10"])
    assert math.isnan(record["loss"][0])  # no training before step 0
    # loss = 1 - cos on the training batches: steps 5-8 beat steps 1-4
    assert record["loss"][-1] < record["loss"][1], record["loss"]
    assert record["cos"][0] < 1  # the projection changed the embeddings
    assert record["cos"][-1] > record["cos"][0], record["cos"]  # and training won some back
    # the teacher is left dense and untouched
    assert type(teacher.encoder.layer[0].intermediate.dense).__name__ == "Linear"

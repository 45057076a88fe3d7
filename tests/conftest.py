"""Shared fixtures: the backends every law runs on, and Hypothesis profiles."""

from __future__ import annotations

import importlib.util
import os

import array_api_compat
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _backends() -> list:
    names = ["numpy", "array_api_strict"]
    if importlib.util.find_spec("torch") is not None:
        names.append("torch")
    names.append("cupy")
    return names


def _load(name: str):
    if name == "cupy":
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() < 1:
                pytest.skip("CuPy needs a GPU; none present")
        except Exception as exc:  # any import or driver failure means no GPU here
            pytest.skip(f"CuPy unavailable: {type(exc).__name__}")
        return array_api_compat.array_namespace(cupy.empty(0))
    if name == "torch":
        import torch

        return array_api_compat.array_namespace(torch.empty(0))
    if name == "array_api_strict":
        import array_api_strict

        return array_api_strict
    return array_api_compat.array_namespace(np.empty(0))


@pytest.fixture(scope="session", params=_backends())
def xp(request):
    """Array namespace of each available backend (numpy, strict, torch, cupy)."""
    return _load(request.param)

"""The common part of the structured layers: the ``nn.Linear`` interface, bias, state-dict checks."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

_HALF = (torch.float16, torch.bfloat16)


def check_features(n: Any, what: str, cls: str) -> int:
    """``n`` as an int >= 1, else ``TypeError``/``ValueError`` naming ``what``."""
    if isinstance(n, bool) or not isinstance(n, int):
        msg = f"{cls}: {what} must be an int, got {type(n).__name__}"
        raise TypeError(msg)
    if n < 1:
        msg = f"{cls}: {what} must be >= 1, got {n}"
        raise ValueError(msg)
    return n


def check_linear(linear: Any, cls: str) -> nn.Linear:
    """``linear`` if it is an ``nn.Linear``, else ``TypeError``."""
    if not isinstance(linear, nn.Linear):
        msg = f"{cls}.from_linear expects an nn.Linear, got {type(linear).__name__}"
        raise TypeError(msg)
    return linear


def weight_for_projection(linear: nn.Linear) -> torch.Tensor:
    """The detached weight, in float32 when it is a half dtype (projections need float32/64)."""
    W = linear.weight.detach()
    return W.float() if W.dtype in _HALF else W


def uniform_(p: torch.Tensor, variance: float) -> None:
    """Fill ``p`` in place with uniform entries of mean 0 and the given variance."""
    bound = math.sqrt(3.0 * variance)
    with torch.no_grad():
        if p.is_complex():
            # half the variance in each of the real and imaginary parts
            bound /= math.sqrt(2.0)
            re = torch.empty(p.shape, dtype=p.real.dtype, device=p.device).uniform_(-bound, bound)
            im = torch.empty(p.shape, dtype=p.real.dtype, device=p.device).uniform_(-bound, bound)
            p.copy_(torch.complex(re, im))
        else:
            p.uniform_(-bound, bound)


class StructuredLinear(nn.Module):
    """Base class: ``y = x Mᵀ + b`` on inputs ``(..., in_features)`` like ``nn.Linear``.

    Subclasses hold the factors of ``M`` as parameters and implement
    :meth:`_apply_rows` (``x`` of shape ``(B, in_features)`` to ``x Mᵀ`` of
    shape ``(B, out_features)``, with torch operations on the parameters, so
    every dtype torch supports, autograd, autocast and ``torch.compile`` work)
    and :attr:`operator` (the structmat operator over the same live
    parameters).
    """

    in_features: int
    out_features: int

    def __init__(
        self, in_features: int, out_features: int, bias: bool, device: Any, dtype: Any
    ) -> None:
        super().__init__()
        cls = type(self).__name__
        self.in_features = check_features(in_features, "in_features", cls)
        self.out_features = check_features(out_features, "out_features", cls)
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, device=device, dtype=dtype))
            # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
            uniform_(self.bias, 1.0 / (3.0 * in_features))
        else:
            self.register_parameter("bias", None)

    # ------------------------------------------------------------------ subclass API
    def _apply_rows(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def operator(self) -> Any:
        """The structmat operator ``M`` (``out_features x in_features``) over the live parameters."""
        raise NotImplementedError

    def _structure_repr(self) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------------ nn.Module API
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            msg = (
                f"{type(self).__name__} expects input of shape (..., {self.in_features}), "
                f"got {tuple(x.shape)}"
            )
            raise ValueError(msg)
        lead = x.shape[:-1]
        y = self._apply_rows(x.reshape(-1, self.in_features))
        y = y.reshape(*lead, self.out_features)
        # under autocast the products come in the autocast dtype: add the bias in it too
        return y if self.bias is None else y + self.bias.to(y.dtype)

    def parameter_count(self) -> int:
        """Parameters of ``M`` (the bias not included)."""
        return sum(p.numel() for name, p in self.named_parameters() if name != "bias")

    def extra_repr(self) -> str:
        dense = self.in_features * self.out_features
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"{self._structure_repr()}, bias={self.bias is not None}, "
            f"params={self.parameter_count()} ({self.parameter_count() / dense:.3g} of dense)"
        )

    def _load_from_state_dict(
        self,
        state_dict: Any,
        prefix: str,
        local_metadata: Any,
        strict: bool,
        missing_keys: Any,
        unexpected_keys: Any,
        error_msgs: Any,
    ) -> None:
        # torch only collects shape mismatches into a RuntimeError at the end;
        # a wrong factor shape is a caller error that deserves its own message.
        # named_parameters: the factors held in a ParameterList too (KSLinear, ButterflyLinear)
        for name, p in self.named_parameters():
            key = prefix + name
            if key not in state_dict:
                continue
            got = tuple(state_dict[key].shape)
            if got != tuple(p.shape):
                msg = (
                    f"{type(self).__name__}({self.extra_repr()}): state dict entry {key!r} "
                    f"has shape {got}, expected {tuple(p.shape)}"
                )
                raise ValueError(msg)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def _copy_bias(self, linear: nn.Linear) -> None:
        if self.bias is not None and linear.bias is not None:
            with torch.no_grad():
                self.bias.copy_(linear.bias)

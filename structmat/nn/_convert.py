"""``structure``: replace a model's ``nn.Linear`` layers by structured ones within a budget."""

from __future__ import annotations

import copy
import fnmatch
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from structmat.nn._base import StructuredLinear
from structmat.nn._layers import LowRankLinear
from structmat.nn._monarch import MonarchLinear, monarch_parameter_count

_ONTO = ("monarch", "lowrank")


@dataclass(frozen=True)
class LayerReport:
    """One converted layer: qualified name, ``(out, in)``, class, parameters, relative error."""

    name: str
    shape: tuple[int, int]
    cls: str
    structure: str
    before: int
    after: int
    relative_error: float


@dataclass
class StructureReport:
    """What :func:`structure` did; ``str(report)`` is a table."""

    onto: str
    budget: float
    layers: list[LayerReport] = field(default_factory=list)

    @property
    def before(self) -> int:
        return sum(r.before for r in self.layers)

    @property
    def after(self) -> int:
        return sum(r.after for r in self.layers)

    def __str__(self) -> str:
        head = ("layer", "shape", "class", "structure", "params before", "after", "rel. error")
        rows = [
            (
                r.name,
                f"{r.shape[0]}x{r.shape[1]}",
                r.cls,
                r.structure,
                str(r.before),
                str(r.after),
                f"{r.relative_error:.4f}",
            )
            for r in self.layers
        ]
        rows.append(("total", "", "", "", str(self.before), str(self.after), ""))
        widths = [max(len(x[i]) for x in [head, *rows]) for i in range(len(head))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in [head, *rows]
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def _patterns(arg: Any, what: str) -> list[str] | None:
    if arg is None:
        return None
    if isinstance(arg, str):
        return [arg]
    pats = list(arg)
    if not all(isinstance(p, str) for p in pats):
        msg = f"structure: {what} must be a glob pattern or a list of them, got {arg!r}"
        raise TypeError(msg)
    return pats


def _monarch_choices(m: int, n: int, budget: float) -> list[tuple[tuple[int, int], int]]:
    """``((K, J), rank)`` candidates within the budget: blocks tiling both sides, largest rank."""
    out = []
    for b in (2, 3, 4, 6, 8, 12, 16):
        if n % b or m % b:
            continue
        s, p = m // b, n // b
        r = math.floor(budget * m * n / monarch_parameter_count((m, n), (b, b), 1))
        r = min(r, s, p)
        if r >= 1:
            out.append(((b, b), r))
    return out


def _convert(linear: nn.Linear, onto: str, budget: float) -> StructuredLinear | None:
    m, n = linear.out_features, linear.in_features
    if onto == "lowrank":
        r = min(math.floor(budget * m * n / (m + n)), m, n)
        return None if r < 1 else LowRankLinear.from_linear(linear, rank=r)[0]
    best: tuple[float, StructuredLinear] | None = None
    for nblocks, r in _monarch_choices(m, n, budget):
        layer, res = MonarchLinear.from_linear(linear, nblocks=nblocks, rank=r)
        if best is None or res.relative_error < best[0]:
            best = (res.relative_error, layer)
    return None if best is None else best[1]


def structure(
    model: nn.Module,
    onto: str = "monarch",
    budget: float = 0.5,
    *,
    include: Any = None,
    exclude: Any = None,
    inplace: bool = True,
) -> tuple[nn.Module, StructureReport]:
    r"""Replace the ``nn.Linear`` layers of ``model`` by structured layers (exact projections).

    Parameters
    ----------
    model : nn.Module
    onto : {"monarch", "lowrank"}
    budget : float in (0, 1]
        Each layer keeps at most ``budget`` times its weight's parameters
        (biases are kept as they are and not counted).
    include, exclude : str or list of str, optional
        Glob patterns (:mod:`fnmatch`) on the qualified module names
        (``model.named_modules()``); default: every ``nn.Linear``.
    inplace : bool
        ``True``: swap the layers in ``model``; ``False``: convert a deep copy.

    Returns
    -------
    model : nn.Module
        ``model`` itself or the converted copy.
    report : StructureReport
        Per layer: shape, class, parameters before and after, relative error
        ``||W - M||_F / ||W||_F``; ``print(report)`` prints a table.

    Raises
    ------
    TypeError
        ``model`` not an ``nn.Module``; an ``include`` pattern whose matches
        are all modules other than ``nn.Linear`` (a pattern that also matches
        ``nn.Linear`` layers, such as ``"encoder.*"``, skips the others).
    ValueError
        ``onto`` unknown, ``budget`` outside ``(0, 1]``, ``include`` matching
        no layer, a layer too small for the budget.

    Notes
    -----
    Monarch: for every block count ``b`` dividing both sides (2 to 16), the
    largest rank within the budget (``b r (m + n)`` parameters), projected
    exactly; the candidate of smallest error wins. Low rank: rank
    ``floor(budget m n / (m + n))``. All new layers are built before the first
    swap, so a failure leaves ``model`` unchanged.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from structmat.nn import structure
    >>> net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 16))
    >>> net, report = structure(net, onto="monarch", budget=0.5)
    >>> [type(m).__name__ for m in net]
    ['MonarchLinear', 'ReLU', 'MonarchLinear']
    >>> report.after <= 0.5 * report.before
    True
    """
    if not isinstance(model, nn.Module):
        msg = f"structure expects an nn.Module, got {type(model).__name__}"
        raise TypeError(msg)
    if onto not in _ONTO:
        msg = f"structure: onto must be one of {_ONTO}, got {onto!r}"
        raise ValueError(msg)
    if isinstance(budget, bool) or not isinstance(budget, int | float) or not 0 < budget <= 1:
        msg = f"structure: budget must be a number in (0, 1], got {budget!r}"
        raise ValueError(msg)
    inc, exc = _patterns(include, "include"), _patterns(exclude, "exclude")

    def matches(name: str, pats: list[str] | None) -> bool:
        return pats is not None and any(fnmatch.fnmatchcase(name, p) for p in pats)

    targets = []
    # a glob such as "encoder.*" also matches dropouts and norms: those are skipped, and
    # only a pattern whose every match is a non-Linear leaf is a caller error
    hit_linear: set[str] = set()
    other: dict[str, tuple[str, str]] = {}
    for name, mod in model.named_modules():
        if not name or matches(name, exc):
            continue
        hits = [] if inc is None else [p for p in inc if fnmatch.fnmatchcase(name, p)]
        if inc is not None and not hits:
            continue
        if isinstance(mod, nn.Linear):
            targets.append(name)
            hit_linear.update(hits)
        elif not any(True for _ in mod.children()):
            for p in hits:
                other.setdefault(p, (name, type(mod).__name__))
    for p, (name, kind) in other.items():
        if p not in hit_linear:
            msg = f"structure: include pattern {p!r} matched {name!r}, a {kind}, and no nn.Linear"
            raise TypeError(msg)
    if not targets:
        what = f"include={include!r}" if include is not None else "the model"
        msg = f"structure: {what} matched no nn.Linear layer (exclude={exclude!r})"
        raise ValueError(msg)
    if not inplace:
        model = copy.deepcopy(model)
    report = StructureReport(onto, float(budget))
    new: dict[str, StructuredLinear] = {}
    for name in targets:
        linear = model.get_submodule(name)
        assert isinstance(linear, nn.Linear)
        layer = _convert(linear, onto, float(budget))
        if layer is None:
            msg = (
                f"structure: layer {name!r} ({linear.out_features}x{linear.in_features}) has no "
                f"{onto} structure within budget {budget}"
            )
            raise ValueError(msg)
        W = linear.weight.detach()
        with torch.no_grad():
            err = float((layer.operator.to_dense() - W).norm() / W.norm())
        report.layers.append(
            LayerReport(
                name,
                (linear.out_features, linear.in_features),
                type(layer).__name__,
                layer._structure_repr(),
                W.numel(),
                layer.parameter_count(),
                err,
            )
        )
        new[name] = layer
    # all layers built: now swap (nothing above touched the model)
    for name, layer in new.items():
        parent_name, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent_name), attr, layer)
    return model, report

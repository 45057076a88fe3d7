"""``LowRankLinear``, ``ButterflyLinear`` and ``KSLinear``: the other structured layers."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from structmat._args import integer
from structmat._result import ProjectionResult, exact_result
from structmat.basic import Dense
from structmat.butterfly import Butterfly
from structmat.ks import KSChain, chain_shape, ks_project_two
from structmat.ks._patterns import _prime_factors
from structmat.linop import LinearOperator
from structmat.lowrank import LowRank
from structmat.nn._base import StructuredLinear, check_linear, uniform_, weight_for_projection


class LowRankLinear(StructuredLinear):
    r"""Drop-in ``nn.Linear`` with a rank-``r`` weight ``M = U Vᴴ``.

    Parameters
    ----------
    in_features, out_features, bias, device, dtype
        As for ``nn.Linear``.
    rank : int
        ``1 <= rank <= min(in_features, out_features)``.

    Attributes
    ----------
    U : Parameter of shape (out_features, rank)
    V : Parameter of shape (in_features, rank)

    Notes
    -----
    ``y = x conj(V) Uᵀ + b``: ``r (m + n)`` multiply-adds per row instead of
    ``m n``; ``layer.operator`` is ``structmat.LowRank(U, V)``. ``U`` entries
    have variance ``1/(3r)`` and ``V`` entries ``1/n``, so ``E||M||_F^2``
    equals ``nn.Linear``'s default.

    Examples
    --------
    >>> import torch
    >>> from structmat.nn import LowRankLinear
    >>> layer = LowRankLinear(64, 32, rank=4, dtype=torch.float64)
    >>> x = torch.randn(3, 64, dtype=torch.float64)
    >>> bool(torch.allclose(layer(x), x @ (layer.U @ layer.V.T).T + layer.bias))
    True
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        rank: int,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features, bias, device, dtype)
        if isinstance(rank, bool) or not isinstance(rank, int):
            msg = f"LowRankLinear: rank must be an int, got {type(rank).__name__}"
            raise TypeError(msg)
        top = min(self.in_features, self.out_features)
        if not 1 <= rank <= top:
            msg = f"LowRankLinear: rank must be in [1, min(in, out)] = [1, {top}], got {rank}"
            raise ValueError(msg)
        self.rank = rank
        self.U = nn.Parameter(torch.empty(out_features, rank, device=device, dtype=dtype))
        self.V = nn.Parameter(torch.empty(in_features, rank, device=device, dtype=dtype))
        uniform_(self.U, 1.0 / (3.0 * rank))
        uniform_(self.V, 1.0 / in_features)

    def _apply_rows(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.V.conj()) @ self.U.transpose(0, 1)

    @property
    def operator(self) -> LowRank:
        """``structmat.LowRank(U, V)`` over the live parameters."""
        return LowRank(self.U, self.V)

    def _structure_repr(self) -> str:
        return f"rank={self.rank}"

    @classmethod
    def from_linear(cls, linear: nn.Linear, *, rank: int) -> tuple[LowRankLinear, ProjectionResult]:
        """The layer of the best rank-``rank`` weight (truncated SVD, exact).

        ``U diag(s) Vᴴ`` is stored as ``U = U√s``, ``V = V√s``.
        """
        linear = check_linear(linear, cls.__name__)
        res = LowRank.project(weight_for_projection(linear), rank=rank)
        op = res.operator
        assert isinstance(op, LowRank)
        layer = cls(
            linear.in_features,
            linear.out_features,
            linear.bias is not None,
            rank=rank,
            device=linear.weight.device,
            dtype=linear.weight.dtype,
        )
        root = torch.sqrt(op.s)
        with torch.no_grad():
            layer.U.copy_(op.U * root)
            layer.V.copy_(op.V * root.conj())
        layer._copy_bias(linear)
        return layer, res


def _selection(rows: int, cols: int, like: torch.Tensor) -> Dense:
    """The 0/1 matrix keeping the first ``min(rows, cols)`` entries (a pad or a truncation)."""
    E = torch.zeros(rows, cols, dtype=like.dtype, device=like.device)
    k = min(rows, cols)
    E[:k, :k] = torch.eye(k, dtype=like.dtype, device=like.device)
    return Dense(E)


# Sizes whose prime factors are all at most this are used as they are (see ButterflyLinear).
MAX_RADIX = 16


def _smooth(n: int) -> bool:
    """Whether every prime factor of ``n`` is at most :data:`MAX_RADIX`."""
    return max(_prime_factors(n), default=1) <= MAX_RADIX


def butterfly_size(in_features: int, out_features: int) -> int:
    """The size ``n`` of ``ButterflyLinear``'s butterfly when no radices are given.

    The smallest ``n >= max(in_features, out_features, 2)`` whose prime factors
    are all at most :data:`MAX_RADIX` (never above the next power of two).

    Examples
    --------
    >>> butterfly_size(768, 768), butterfly_size(96, 40), butterfly_size(17, 17)
    (768, 96, 18)
    """
    n = max(in_features, out_features, 2)
    while not _smooth(n):
        n += 1
    return n


def _butterfly_radices(radices: Any, need: int) -> tuple[int, ...]:
    """The user's radices, checked: ints >= 2 whose product is at least ``need``."""
    what = "ButterflyLinear"
    if isinstance(radices, str | bytes) or not hasattr(radices, "__iter__"):
        msg = f"{what}: radices must be a sequence of ints, got {type(radices).__name__}"
        raise TypeError(msg)
    b = tuple(integer(r, "each radix", what, low=2) for r in radices)
    n = math.prod(b)
    if not b or n < need:
        msg = (
            f"{what}: the radices {b} multiply to n = {n}, expected n >= "
            f"max(in_features, out_features) = {need}"
        )
        raise ValueError(msg)
    return b


class ButterflyLinear(StructuredLinear):
    r"""Drop-in ``nn.Linear`` with a butterfly weight of any size ``n = ∏_l b_l``.

    Parameters
    ----------
    in_features, out_features, bias, device, dtype
        As for ``nn.Linear``.
    increasing_stride : bool
        The level order of :class:`structmat.Butterfly`.
    radices : sequence of int, optional
        ``(b_0, b_1, …)``, each ``>= 2``, in the order the increasing
        butterfly applies them; ``n = ∏ b_l`` must be at least
        ``max(in_features, out_features)``. Default: ``n`` =
        :func:`butterfly_size` (``max(in, out)`` itself when its prime factors
        are all ``<= 16``, else the next such size) and its prime factors in
        increasing order (radix 2 for a power of two), as
        :class:`structmat.Butterfly` does.

    Attributes
    ----------
    n : int
        The butterfly's size.
    radices : tuple of int
    twiddle : Parameter of shape (L, n/2, 2, 2)
        When every radix is 2 (``n = 2^L``): the radix-2 layout of
        :class:`structmat.Butterfly`.
    twiddles : ParameterList
        Otherwise: one Parameter per level ``l``, of shape ``(n/b_l, b_l, b_l)``
        (Butterfly's mixed-radix twiddles).

    Notes
    -----
    Level ``l`` has stride ``s_l = ∏_{i<l} b_i`` and maps the ``b_l`` entries
    ``x[g b_l s_l + k s_l + o]`` (``k < b_l``) by the ``b_l x b_l`` matrix
    ``tw[l][g s_l + o]``: the KS factor ``KS(n/(b_l s_l), b_l, b_l, s_l)``.
    The forward applies the levels one after another, one ``einsum`` each.

    **Sizes.** ``n = max(in, out)`` is used as it is when its prime factors
    are all at most 16: a level of radix ``b`` costs ``b`` parameters and
    multiply-adds per entry, so a large prime factor makes one level nearly
    dense, and 16 is the largest block that :class:`structmat.Butterfly`'s
    multiply fuses levels into. Otherwise ``n`` is the smallest larger size
    with such factors (at most the next power of two): 768 and 3072 need no
    padding, 1023 = 3·11·31 is padded to 1024, 17 to 18. When ``n`` exceeds
    a side, the input is zero-padded to ``n`` and/or the first
    ``out_features`` entries are kept, ``M = S_out B S_in``; ``layer.operator``
    is ``B`` itself when ``in == out == n``, else the product with the two
    0/1 selection matrices (as dense operators). ``radices=(2,) * L``
    gives the power-of-two padding of earlier versions (and loads their
    checkpoints).

    **Initialization.** Every entry of ``B`` is one product of one twiddle
    entry per level, so ``E|B_ij|² = ∏_l var_l``. Twiddle entries of level
    ``l`` have variance ``1/b_l`` (each level keeps ``E||x||²``) except the
    first level applied, ``n/(3 b in)``: then ``E|M_ij|² = 1/(3 in)``, the
    variance of ``nn.Linear``'s default weight, for every size.

    Examples
    --------
    >>> import torch
    >>> from structmat.nn import ButterflyLinear
    >>> layer = ButterflyLinear(16, 16, dtype=torch.float64)
    >>> x = torch.randn(3, 16, dtype=torch.float64)
    >>> W = torch.as_tensor(layer.operator.to_dense())
    >>> bool(torch.allclose(layer(x), x @ W.T + layer.bias))
    True
    >>> layer = ButterflyLinear(96, 40, dtype=torch.float64)
    >>> layer.n, layer.radices, [tuple(t.shape) for t in layer.twiddles][-1]
    (96, (2, 2, 2, 2, 2, 3), (32, 3, 3))
    >>> W = torch.as_tensor(layer.operator.to_dense())
    >>> x = torch.randn(3, 96, dtype=torch.float64)
    >>> bool(torch.allclose(layer(x), x @ W.T + layer.bias))
    True
    """

    n: int
    radices: tuple[int, ...]
    twiddle: nn.Parameter
    twiddles: nn.ParameterList

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        increasing_stride: bool = True,
        radices: Any = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features, bias, device, dtype)
        if not isinstance(increasing_stride, bool):
            msg = f"ButterflyLinear: increasing_stride must be a bool, got {type(increasing_stride).__name__}"
            raise TypeError(msg)
        need = max(self.in_features, self.out_features)
        if radices is None:
            n = butterfly_size(self.in_features, self.out_features)
            rad = tuple(_prime_factors(n))
        else:
            rad = _butterfly_radices(radices, need)
            n = math.prod(rad)
        self.n = n
        self.radices = rad
        self.strides = tuple(math.prod(rad[:ell]) for ell in range(len(rad)))
        self.increasing_stride = increasing_stride
        L = len(rad)
        first = 0 if increasing_stride else L - 1
        if self.mixed:
            self.twiddles = nn.ParameterList(
                [nn.Parameter(torch.empty(n // b, b, b, device=device, dtype=dtype)) for b in rad]
            )
            for ell, t in enumerate(self.twiddles):
                b = rad[ell]
                uniform_(t, n / (3.0 * b * self.in_features) if ell == first else 1.0 / b)
        else:
            self.twiddle = nn.Parameter(torch.empty(L, n // 2, 2, 2, device=device, dtype=dtype))
            uniform_(self.twiddle, 0.5)
            uniform_(self.twiddle[first], n / (6.0 * self.in_features))

    @property
    def mixed(self) -> bool:
        """Whether some radix is not 2 (the parameters are ``twiddles``, one per level)."""
        return any(b != 2 for b in self.radices)

    def level_twiddles(self) -> list[torch.Tensor]:
        """The live twiddles of each level ``l``, shape ``(n/b_l, b_l, b_l)`` (views for radix 2)."""
        if self.mixed:
            return list(self.twiddles)
        return list(self.twiddle.unbind(0))

    def _apply_rows(self, x: torch.Tensor) -> torch.Tensor:
        n, B = self.n, x.shape[0]
        if n != self.in_features:
            x = nn.functional.pad(x, (0, n - self.in_features))
        levels = self.level_twiddles()
        order = range(len(levels)) if self.increasing_stride else range(len(levels) - 1, -1, -1)
        for ell in order:
            b, s = self.radices[ell], self.strides[ell]
            g = n // (b * s)
            t = levels[ell].reshape(g, s, b, b)
            x = torch.einsum("gojk,bgko->bgjo", t, x.reshape(B, g, b, s)).reshape(B, n)
        return x if n == self.out_features else x[:, : self.out_features]

    @property
    def operator(self) -> LinearOperator:
        """The butterfly over the live twiddles (with the pad/truncation when padded)."""
        tw: Any = list(self.twiddles) if self.mixed else self.twiddle
        B = Butterfly(tw, increasing_stride=self.increasing_stride)
        n, m, k = self.n, self.out_features, self.in_features
        if (m, k) == (n, n):
            return B
        like = self.level_twiddles()[0].detach()
        return _selection(m, n, like) @ B @ _selection(n, k, like)

    def _structure_repr(self) -> str:
        order = "increasing" if self.increasing_stride else "decreasing"
        radices = f", radices={self.radices}" if self.mixed else ""
        return f"n={self.n}{radices}, {order}"

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
        # a checkpoint of the other layout: say which radices would load it
        other = prefix + ("twiddle" if self.mixed else "twiddles.0")
        if strict and other in state_dict:
            if self.mixed:
                L = int(state_dict[other].shape[0])
                hint = f"radix 2, n = {2**L}: build the layer with radices=(2,) * {L}"
            else:
                got = [
                    int(v.shape[-1])
                    for k, v in state_dict.items()
                    if k.startswith(prefix + "twiddles.")
                ]
                hint = f"radices {tuple(got)}: build the layer with radices={tuple(got)}"
            msg = (
                f"ButterflyLinear({self.extra_repr()}): the state dict holds {other!r}, a "
                f"butterfly of {hint}"
            )
            raise ValueError(msg)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    @classmethod
    def from_linear(
        cls, linear: nn.Linear, *, radices: Any = None
    ) -> tuple[ButterflyLinear, ProjectionResult]:
        """The layer of ``Butterfly.project`` of the weight, zero-padded to ``n x n``.

        ``radices`` (and the size ``n``) as in the constructor; the projection
        uses the layer's radices. The result's error and bounds are those of
        the padded ``n x n`` problem (padding entries included; when
        ``in == out == n``, of the weight itself). Half-precision weights are
        projected in float32.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> from structmat.nn import ButterflyLinear
        >>> layer, res = ButterflyLinear.from_linear(nn.Linear(12, 12, dtype=torch.float64))
        >>> layer.radices, bool(res.lower_bound <= res.error <= res.upper_bound)
        ((2, 2, 3), True)
        """
        linear = check_linear(linear, cls.__name__)
        layer = cls(
            linear.in_features,
            linear.out_features,
            linear.bias is not None,
            radices=radices,
            device=linear.weight.device,
            dtype=linear.weight.dtype,
        )
        W = weight_for_projection(linear)
        n, (m, k) = layer.n, W.shape
        if (m, k) != (n, n):
            W = nn.functional.pad(W, (0, n - k, 0, n - m))
        res = Butterfly.project(W, radices=layer.radices)
        op = res.operator
        assert isinstance(op, Butterfly)
        with torch.no_grad():
            if layer.mixed:
                for p, t in zip(layer.twiddles, op.tw, strict=True):
                    p.copy_(t)
            else:
                layer.twiddle.copy_(op.tw)
        layer._copy_bias(linear)
        return layer, res


class KSLinear(StructuredLinear):
    r"""Drop-in ``nn.Linear`` whose weight is a chain of Kronecker-sparse factors.

    Parameters
    ----------
    in_features, out_features, bias, device, dtype
        As for ``nn.Linear``.
    patterns : sequence of (a, b, c, d)
        The chain, **leftmost first** (:class:`structmat.ks.KSChain`); its
        shape must be ``(out_features, in_features)``.

    Attributes
    ----------
    factors : ParameterList
        The values ``T_i`` of shape ``(a, b, c, d)``, leftmost first.

    Notes
    -----
    Factor ``(a, b, c, d)`` maps a row viewed as ``(a, c, d)`` to
    ``y[i, j, l] = Σ_k T[i, j, k, l] x[i, k, l]`` (docs/conventions.md); the
    forward applies the factors right to left. ``layer.operator`` is the
    ``KSChain`` of the live values. Factor ``i`` gets entries of variance
    ``1/c_i`` (the rightmost ``1/(3 c_m)``), so ``E||y||^2`` per output is
    ``nn.Linear``'s ``1/3`` for unit inputs.

    Examples
    --------
    >>> import torch
    >>> from structmat.nn import KSLinear
    >>> from structmat.ks import square_dyadic
    >>> layer = KSLinear(8, 8, patterns=square_dyadic(8), dtype=torch.float64)
    >>> x = torch.randn(3, 8, dtype=torch.float64)
    >>> W = torch.as_tensor(layer.operator.to_dense())
    >>> bool(torch.allclose(layer(x), x @ W.T + layer.bias))
    True
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        patterns: Any,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features, bias, device, dtype)
        shape = chain_shape(patterns)
        if shape != (self.out_features, self.in_features):
            msg = (
                f"KSLinear: the chain {list(patterns)} has shape {shape}, expected "
                f"(out_features, in_features) = {(self.out_features, self.in_features)}"
            )
            raise ValueError(msg)
        pats = [tuple(int(v) for v in p) for p in patterns]
        self.patterns = pats
        self.factors = nn.ParameterList(
            [nn.Parameter(torch.empty(p, device=device, dtype=dtype)) for p in pats]
        )
        for i, T in enumerate(self.factors):
            c = pats[i][2]
            uniform_(T, 1.0 / (3.0 * c) if i == len(pats) - 1 else 1.0 / c)

    def _apply_rows(self, x: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        for T in reversed(list(self.factors)):
            a, b, c, d = T.shape
            x = torch.einsum("ijkl,bikl->bijl", T, x.reshape(B, a, c, d)).reshape(B, a * b * d)
        return x

    @property
    def operator(self) -> KSChain:
        """``structmat.ks.KSChain`` over the live factor values."""
        return KSChain(list(self.factors))

    def _structure_repr(self) -> str:
        return f"patterns={self.patterns}"

    @classmethod
    def from_linear(cls, linear: nn.Linear, *, patterns: Any) -> tuple[KSLinear, ProjectionResult]:
        """The layer of the exact two-factor KS projection of the weight (``ks_project_two``).

        Only chains of two factors have an exact projection; longer chains
        raise ``ValueError``.
        """
        linear = check_linear(linear, cls.__name__)
        pats = list(patterns)
        if len(pats) != 2:
            msg = f"KSLinear.from_linear projects onto chains of 2 factors, got {len(pats)}"
            raise ValueError(msg)
        layer = cls(
            linear.in_features,
            linear.out_features,
            linear.bias is not None,
            patterns=pats,
            device=linear.weight.device,
            dtype=linear.weight.dtype,
        )
        W = weight_for_projection(linear)
        T1, T2, err = ks_project_two(W, pats[0], pats[1])
        with torch.no_grad():
            layer.factors[0].copy_(T1)
            layer.factors[1].copy_(T2)
        params = {"patterns": [tuple(p) for p in layer.patterns]}
        norm = float(torch.linalg.norm(W))
        res = exact_result(KSChain([T1, T2]), float(err), norm, "ks", params)
        layer._copy_bias(linear)
        return layer, res

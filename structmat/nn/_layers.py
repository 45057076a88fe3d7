"""``LowRankLinear``, ``ButterflyLinear`` and ``KSLinear``: the other structured layers."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from structmat._result import ProjectionResult, exact_result
from structmat.basic import Dense
from structmat.butterfly import Butterfly
from structmat.ks import KSChain, chain_shape, ks_project_two
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


class ButterflyLinear(StructuredLinear):
    r"""Drop-in ``nn.Linear`` with a radix-2 butterfly weight.

    Parameters
    ----------
    in_features, out_features, bias, device, dtype
        As for ``nn.Linear``.
    increasing_stride : bool
        The level order of :class:`structmat.Butterfly`.

    Attributes
    ----------
    twiddle : Parameter of shape (L, n/2, 2, 2)
        ``n = 2^L``, the smallest power of two ``>= max(in, out, 2)``.

    Notes
    -----
    Sizes that are not one power of two are **padded**: the input is
    zero-padded to ``n``, the ``n x n`` butterfly is applied and the first
    ``out_features`` entries are kept, ``M = S_out B S_in``. ``layer.operator``
    is ``B`` itself when ``in == out == n``, else the product with the two 0/1
    selection matrices (as dense operators). The forward applies the ``L``
    levels one after another (level ``l`` maps the pair
    ``(x[2gs+o], x[2gs+s+o])`` by ``twiddle[l, g s + o]``). Twiddle entries
    have variance ``1/2`` (each level keeps ``E||x||^2``), the first level
    applied ``n/(6 in)``, so ``E||M||_F^2`` is ``nn.Linear``'s default for
    square power-of-two sizes.

    Examples
    --------
    >>> import torch
    >>> from structmat.nn import ButterflyLinear
    >>> layer = ButterflyLinear(16, 16, dtype=torch.float64)
    >>> x = torch.randn(3, 16, dtype=torch.float64)
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
        increasing_stride: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features, bias, device, dtype)
        if not isinstance(increasing_stride, bool):
            msg = f"ButterflyLinear: increasing_stride must be a bool, got {type(increasing_stride).__name__}"
            raise TypeError(msg)
        n = 2 ** max(1, math.ceil(math.log2(max(self.in_features, self.out_features))))
        levels = int(math.log2(n))
        self.n = n
        self.increasing_stride = increasing_stride
        self.twiddle = nn.Parameter(torch.empty(levels, n // 2, 2, 2, device=device, dtype=dtype))
        uniform_(self.twiddle, 0.5)
        first = 0 if increasing_stride else levels - 1
        uniform_(self.twiddle[first], n / (6.0 * self.in_features))

    def _order(self) -> range:
        L = self.twiddle.shape[0]
        return range(L) if self.increasing_stride else range(L - 1, -1, -1)

    def _apply_rows(self, x: torch.Tensor) -> torch.Tensor:
        n, B = self.n, x.shape[0]
        if n != self.in_features:
            x = nn.functional.pad(x, (0, n - self.in_features))
        for ell in self._order():
            s = 2**ell
            t = self.twiddle[ell].reshape(n // (2 * s), s, 2, 2)
            x = torch.einsum("gojk,bgko->bgjo", t, x.reshape(B, n // (2 * s), 2, s))
            x = x.reshape(B, n)
        return x if n == self.out_features else x[:, : self.out_features]

    @property
    def operator(self) -> LinearOperator:
        """The butterfly over the live twiddles (with the pad/truncation when padded)."""
        B = Butterfly(self.twiddle, increasing_stride=self.increasing_stride)
        n, m, k = self.n, self.out_features, self.in_features
        if (m, k) == (n, n):
            return B
        tw = self.twiddle.detach()
        return _selection(m, n, tw) @ B @ _selection(n, k, tw)

    def _structure_repr(self) -> str:
        order = "increasing" if self.increasing_stride else "decreasing"
        return f"n={self.n}, {order}"

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> tuple[ButterflyLinear, ProjectionResult]:
        """The layer of ``Butterfly.project`` of the weight, zero-padded to ``n x n``.

        The result's error and bounds are those of the padded ``n x n``
        problem (padding entries included; for power-of-two square sizes, of
        the weight itself).
        """
        linear = check_linear(linear, cls.__name__)
        layer = cls(
            linear.in_features,
            linear.out_features,
            linear.bias is not None,
            device=linear.weight.device,
            dtype=linear.weight.dtype,
        )
        W = weight_for_projection(linear)
        n, (m, k) = layer.n, W.shape
        if (m, k) != (n, n):
            W = nn.functional.pad(W, (0, n - k, 0, n - m))
        res = Butterfly.project(W)
        op = res.operator
        assert isinstance(op, Butterfly)
        with torch.no_grad():
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

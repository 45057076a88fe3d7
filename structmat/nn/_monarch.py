"""``MonarchLinear``: a Monarch layer in the official factor layout (docs/nn.md)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from structmat._result import ProjectionResult
from structmat.monarch import Monarch, default_nblocks
from structmat.nn._base import StructuredLinear, check_linear, uniform_, weight_for_projection


def _blocks(nblocks: Any, what: str) -> tuple[int, int]:
    if isinstance(nblocks, int) and not isinstance(nblocks, bool):
        K = J = nblocks
    else:
        try:
            K, J = nblocks
        except (TypeError, ValueError):
            msg = f"{what}: nblocks must be an int or a pair (K, J), got {nblocks!r}"
            raise TypeError(msg) from None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (K, J)):
            msg = f"{what}: nblocks must hold ints, got {nblocks!r}"
            raise TypeError(msg)
    if min(K, J) < 1:
        msg = f"{what}: nblocks must be >= 1, got {nblocks!r}"
        raise ValueError(msg)
    return K, J


def _tile(n: int, k: int, side: str, what: str) -> int:
    """Block size ``ceil(n/k)``; ``ValueError`` when some of the ``k`` blocks would be all padding."""
    size = -(-n // k)
    if (k - 1) * size >= n:
        msg = (
            f"{what}: {k} blocks of size ceil({n}/{k}) = {size} do not tile {side} = {n} "
            f"(the last block would be padding only); use at most {-(-n // size) - 1 or 1} "
            f"or a number of blocks that divides {n}"
        )
        raise ValueError(msg)
    return size


class MonarchLinear(StructuredLinear):
    r"""Drop-in ``nn.Linear`` whose weight is a Monarch matrix.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    nblocks : int or (int, int), optional
        ``(K, J)``: blocks of ``R`` (input side) and of ``L`` (output side).
        Default: 4 in the official layout, :func:`structmat.monarch.default_nblocks`
        of each side with ``rank``.
    rank : int, optional
        ``None`` (default): the layout of the official ``MonarchLinear``
        (``nblocks`` an int ``b``, ``blkdiag1`` of shape ``(b, q, ceil(in/b))``,
        ``blkdiag2`` of shape ``(b, ceil(out/b), c)`` with square blocks on the
        smaller side), so its state dicts load unchanged. An int ``r``: the
        structmat layout of rank ``r``, ``blkdiag1 = R`` of shape
        ``(K, r*J, p)`` and ``blkdiag2 = L`` of shape ``(J, s, K*r)``,
        ``p = ceil(in/K)``, ``s = ceil(out/J)`` (what :meth:`from_linear` and
        ``Monarch.project`` produce).
    device, dtype
        As for ``nn.Linear``; float16, bfloat16, float32, float64 and the
        complex dtypes work (the forward computes in the factors' dtype).

    Attributes
    ----------
    blkdiag1 : Parameter of shape (K, q, p)
        ``R``, applied first (the official ``blkdiag1`` = ``w1_bfly``).
    blkdiag2 : Parameter of shape (J, s, c)
        ``L``, applied second (the official ``blkdiag2`` = ``w2_bfly``), ``J*c == K*q``.
    bias : Parameter of shape (out_features,) or None

    Notes
    -----
    For a row ``x`` zero-padded to ``K*p``: ``u[a] = R[a] x[a]`` (``x`` viewed
    as ``(K, p)``, ``u`` flattened to length ``K*q``), ``u`` read as ``(c, J)``,
    ``z[j] = L[j] u[:, j]`` and ``y[t J + j] = z[j, t]``, truncated to
    ``out_features``: two ``torch.bmm`` and two transposes, the official
    multiply. It is the Monarch element formula
    ``M[t*J + j, a*p + u] = sum_k L[j, t, a*r + k] R[a, k*J + j, u]``, so
    ``layer.operator`` (``structmat.Monarch(blkdiag2, blkdiag1)``) has the
    same matrix. The initialization gives ``E||M||_F^2`` of ``nn.Linear``'s
    default (entries of variance ``1/(3 in_features)``): ``R`` entries of
    variance ``1/(3p)`` and ``L`` entries of variance ``p J/(in q)``, since
    an entry of ``M`` is a sum of ``q/J`` products on average.

    Examples
    --------
    >>> import torch
    >>> from structmat.nn import MonarchLinear
    >>> layer = MonarchLinear(196, 384, nblocks=16)
    >>> tuple(layer.blkdiag1.shape), tuple(layer.blkdiag2.shape)
    ((16, 13, 13), (16, 24, 13))
    >>> layer = MonarchLinear(64, 32, nblocks=4, rank=2, dtype=torch.float64)
    >>> x = torch.randn(5, 64, dtype=torch.float64)
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
        nblocks: Any = None,
        rank: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features, bias, device, dtype)
        what = "MonarchLinear"
        n, m = self.in_features, self.out_features
        if rank is None:
            b = 4 if nblocks is None else nblocks
            if isinstance(b, bool) or not isinstance(b, int):
                msg = f"{what}: the official layout (rank=None) takes nblocks as an int, got {b!r}"
                raise TypeError(msg)
            K, J = _blocks(b, what)
            p, s = -(-n // b), -(-m // b)
            if K * p < J * s:
                shape1, shape2 = (K, p, p), (J, s, p)
            else:
                shape1, shape2 = (K, s, p), (J, s, s)
        else:
            if isinstance(rank, bool) or not isinstance(rank, int):
                msg = f"{what}: rank must be an int or None, got {type(rank).__name__}"
                raise TypeError(msg)
            if nblocks is None:
                K, J = default_nblocks(n), default_nblocks(m)
            else:
                K, J = _blocks(nblocks, what)
            p = _tile(n, K, "in_features", what)
            s = _tile(m, J, "out_features", what)
            if not 1 <= rank <= min(s, p):
                msg = f"{what}: rank must be in [1, min(s, p)] = [1, {min(s, p)}], got {rank}"
                raise ValueError(msg)
            shape1, shape2 = (K, rank * J, p), (J, s, K * rank)
        self.rank = rank
        self.blkdiag1 = nn.Parameter(torch.empty(shape1, device=device, dtype=dtype))
        self.blkdiag2 = nn.Parameter(torch.empty(shape2, device=device, dtype=dtype))
        q, c = shape1[1], shape2[2]
        uniform_(self.blkdiag1, 1.0 / (3.0 * p))
        uniform_(self.blkdiag2, p * J / (n * q))
        del c

    # ------------------------------------------------------------------ structure
    @property
    def nblocks(self) -> tuple[int, int]:
        """``(K, J)``."""
        return int(self.blkdiag1.shape[0]), int(self.blkdiag2.shape[0])

    def _apply_rows(self, x: torch.Tensor) -> torch.Tensor:
        R, L = self.blkdiag1, self.blkdiag2
        K, _, p = R.shape
        J, s, c = L.shape
        B = x.shape[0]
        if K * p != self.in_features:
            x = nn.functional.pad(x, (0, K * p - self.in_features))
        u = torch.bmm(x.reshape(B, K, p).transpose(0, 1), R.transpose(-1, -2))  # (K, B, q)
        # one copy into (B, J, c), then a (J, B, c) view: bmm reads each block contiguously
        u = u.transpose(0, 1).reshape(B, c, J).transpose(-1, -2).contiguous().transpose(0, 1)
        z = torch.bmm(u, L.transpose(-1, -2))  # (J, B, s)
        y = z.permute(1, 2, 0).reshape(B, s * J)
        return y if s * J == self.out_features else y[:, : self.out_features]

    @property
    def operator(self) -> Monarch:
        """``structmat.Monarch(blkdiag2, blkdiag1, shape=(out, in))`` over the live parameters.

        float32/64 and complex only (``TypeError`` for half dtypes: cast the
        layer with ``.float()`` first).
        """
        return Monarch(self.blkdiag2, self.blkdiag1, shape=(self.out_features, self.in_features))

    def _structure_repr(self) -> str:
        layout = "official" if self.rank is None else f"rank={self.rank}"
        return (
            f"nblocks={self.nblocks}, {layout}, blkdiag1={tuple(self.blkdiag1.shape)}, "
            f"blkdiag2={tuple(self.blkdiag2.shape)}"
        )

    # ------------------------------------------------------------------ conversion
    @classmethod
    def from_linear(
        cls, linear: nn.Linear, *, nblocks: Any = None, rank: int = 1
    ) -> tuple[MonarchLinear, ProjectionResult]:
        """The layer of the Frobenius-nearest Monarch weight (``Monarch.project``, exact).

        Returns the layer (structmat layout of ``rank``, same bias, device and
        dtype as ``linear``) and the :class:`structmat.ProjectionResult` of its
        weight. Half-precision weights are projected in float32.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> from structmat.nn import MonarchLinear
        >>> dense = nn.Linear(64, 64, dtype=torch.float64)
        >>> layer, res = MonarchLinear.from_linear(dense, nblocks=4, rank=16)
        >>> res.relative_error < 1e-12  # rank 16 = the full rank of a 16 x 16 slice
        True
        """
        linear = check_linear(linear, cls.__name__)
        W = weight_for_projection(linear)
        res = Monarch.project(W, nblocks=nblocks, rank=rank)
        op = res.operator
        assert isinstance(op, Monarch)
        layer = cls(
            linear.in_features,
            linear.out_features,
            linear.bias is not None,
            nblocks=op.nblocks,
            rank=rank,
            device=linear.weight.device,
            dtype=linear.weight.dtype,
        )
        with torch.no_grad():
            layer.blkdiag1.copy_(op.R)
            layer.blkdiag2.copy_(op.L)
        layer._copy_bias(linear)
        return layer, res


def monarch_parameter_count(shape: tuple[int, int], nblocks: tuple[int, int], rank: int) -> int:
    """Parameters of ``MonarchLinear(shape[1], shape[0], nblocks=nblocks, rank=rank)``."""
    m, n = shape
    K, J = nblocks
    p, s = math.ceil(n / K), math.ceil(m / J)
    return K * rank * J * (p + s)

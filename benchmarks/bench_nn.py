"""MonarchLinear forward+backward vs a plain torch.bmm implementation of the official multiply (CPU).

Run: ``PYTHONPATH=. python benchmarks/bench_nn.py [--full]`` (default, or
``--quick``: the n in {768, 1024} x tokens = 512 subset; ``--full`` adds n = 4096
and 8192 tokens).
Old and new sides are interleaved in one run (``_common.time_ratio``); medians
of three rounds.
"""

from __future__ import annotations

import argparse

import _common

try:
    import torch
except ImportError as exc:
    _common.skip(f"needs structmat[torch] ({exc})")

from structmat.nn import MonarchLinear


def reference(x, w1, w2):
    """The official multiply written with torch.bmm (pad-free square case)."""
    B = x.shape[0]
    k, _, p = w1.shape
    nl, s, r = w2.shape
    u = torch.bmm(x.reshape(B, k, p).transpose(0, 1), w1.transpose(-1, -2))
    u = u.transpose(0, 1).reshape(B, r, nl).transpose(-1, -2).contiguous().transpose(0, 1)
    return torch.bmm(u, w2.transpose(-1, -2)).permute(1, 2, 0).reshape(B, s * nl)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the default subset")
    parser.add_argument("--full", action="store_true", help="add n = 4096 and 8192 tokens")
    full = parser.parse_args().full
    sizes = [768, 1024, 4096] if full else [768, 1024]
    tokens = [512, 8192] if full else [512]
    print("| n | tokens | bmm reference (ms) | MonarchLinear (ms) | ratio |")
    print("|---|---|---|---|---|")
    for n in sizes:
        for t in tokens:
            layer = MonarchLinear(n, n, nblocks=4, bias=False)
            w1 = layer.blkdiag1.detach().clone().requires_grad_()
            w2 = layer.blkdiag2.detach().clone().requires_grad_()
            x = torch.randn(t, n, requires_grad=True)

            def old(x=x, w1=w1, w2=w2):
                reference(x, w1, w2).sum().backward()

            def new(x=x, layer=layer):
                layer(x).sum().backward()

            t_new, t_old, ratio = _common.time_ratio(new, old, repeats=3, min_time=0.05)
            print(
                f"| {n} | {t} | {t_old * 1e3:.1f} | {t_new * 1e3:.1f} | {ratio:.2f} |", flush=True
            )


if __name__ == "__main__":
    main()

"""MonarchLinear forward+backward vs a plain torch.bmm implementation of the official multiply (CPU).

Run: ``PYTHONPATH=. python benchmarks/bench_nn.py [--full] [--noise] [--butterfly]``
(default, or ``--quick``: the n in {768, 1024} x tokens = 512 subset; ``--full``
adds n = 4096 and 8192 tokens). ``--noise`` adds a column timing the reference
against itself (the noise floor of the ratio on this machine). ``--butterfly``
adds a table: ``ButterflyLinear`` of a size that is not a power of two (mixed
radix, no padding) against the same layer padded to the next power of two
(``radices=(2,) * L``), forward+backward.
Old and new sides are interleaved in one run (``_common.time_ratio``); medians
of three rounds.
"""

from __future__ import annotations

import argparse
import math

import _common

try:
    import torch
except ImportError as exc:
    _common.skip(f"needs structmat[torch] ({exc})")

from structmat.nn import ButterflyLinear, MonarchLinear


def reference(x, w1, w2):
    """The official multiply written with torch.bmm (pad-free square case)."""
    B = x.shape[0]
    k, _, p = w1.shape
    nl, s, r = w2.shape
    u = torch.bmm(x.reshape(B, k, p).transpose(0, 1), w1.transpose(-1, -2))
    u = u.transpose(0, 1).reshape(B, r, nl).transpose(-1, -2).contiguous().transpose(0, 1)
    return torch.bmm(u, w2.transpose(-1, -2)).permute(1, 2, 0).reshape(B, s * nl)


def monarch_table(sizes: list[int], tokens: list[int], noise: bool) -> None:
    head = "| n | tokens | bmm reference (ms) | MonarchLinear (ms) | ratio |"
    rule = "|---|---|---|---|---|"
    if noise:
        head, rule = head + " reference / reference |", rule + "---|"
    print(head)
    print(rule)
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
            row = f"| {n} | {t} | {t_old * 1e3:.1f} | {t_new * 1e3:.1f} | {ratio:.2f} |"
            if noise:
                _, _, aa = _common.time_ratio(old, old, repeats=3, min_time=0.05)
                row += f" {aa:.2f} |"
            print(row, flush=True)


def butterfly_table(sizes: list[int], tokens: list[int]) -> None:
    print()
    print("| n | tokens | radix 2, padded to (ms) | mixed radix, n (ms) | ratio | parameters |")
    print("|---|---|---|---|---|---|")
    for n in sizes:
        L = math.ceil(math.log2(n))
        mixed = ButterflyLinear(n, n, bias=False)
        padded = ButterflyLinear(n, n, bias=False, radices=(2,) * L)
        for t in tokens:
            x = torch.randn(t, n, requires_grad=True)

            def old(x=x, layer=padded):
                layer(x).sum().backward()

            def new(x=x, layer=mixed):
                layer(x).sum().backward()

            t_new, t_old, ratio = _common.time_ratio(new, old, repeats=3, min_time=0.05)
            print(
                f"| {n} (radices {mixed.radices}) | {t} | {2**L}: {t_old * 1e3:.1f} | "
                f"{t_new * 1e3:.1f} | {ratio:.2f} | "
                f"{mixed.parameter_count()} vs {padded.parameter_count()} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the default subset")
    parser.add_argument("--full", action="store_true", help="add n = 4096 and 8192 tokens")
    parser.add_argument("--noise", action="store_true", help="time the reference against itself")
    parser.add_argument("--butterfly", action="store_true", help="mixed radix vs padded radix 2")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    sizes = [768, 1024, 4096] if args.full else [768, 1024]
    tokens = [512, 8192] if args.full else [512]
    monarch_table(sizes, tokens, args.noise)
    if args.butterfly:
        butterfly_table([768, 3072], tokens)


if __name__ == "__main__":
    main()

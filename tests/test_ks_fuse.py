"""Fusing consecutive Kronecker-sparse factors: the two product rules, the plan, KSChain's use.

Oracles: the element formula of DESIGN.md §4a written as a loop (``dense_oracle``)
and NumPy dense products of it; the fused values are checked entry by entry
against that product, for both index cases, real and complex.
"""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import ks_oracle, oracle_as, random_array

from structmat import _array_api as aa
from structmat.ks import KSChain, chainable, mixed_radix, monarch, square_dyadic
from structmat.ks._fuse import (
    fuse_blocked,
    fuse_values,
    fused_pattern,
    fusion_plan,
    run_pattern,
)
from structmat.testing import assert_close

DTYPES = ["float32", "float64", "complex64", "complex128"]


def case_i(a2, b2, c2, b1, c1, d1):
    """(left, right) with a1 = a2 c2 and d2 = b1 d1: the product is KS(a2, b2 b1, c2 c1, d1)."""
    return (a2, b2, c2, b1 * d1), (a2 * c2, b1, c1, d1), (a2, b2 * b1, c2 * c1, d1)


def case_ii(a1, b1, c1, b2, c2, d2):
    """(left, right) with a2 = a1 b1 and d1 = c2 d2: the product is KS(a1, b1 b2, c1 c2, d2)."""
    return (a1 * b1, b2, c2, d2), (a1, b1, c1, c2 * d2), (a1, b1 * b2, c1 * c2, d2)


SIZES = [
    (1, 2, 2, 2, 2, 1),
    (2, 3, 2, 2, 3, 2),
    (3, 1, 2, 4, 1, 3),
    (2, 2, 3, 1, 2, 1),
    (1, 4, 1, 3, 5, 2),
]
PAIRS = [case_i(*s) for s in SIZES] + [case_ii(*s) for s in SIZES]


@pytest.mark.parametrize(("left", "right", "fused"), PAIRS)
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_fused_pair_is_the_dense_product(left, right, fused, dtype):
    rng = np.random.default_rng(sum(left) + 7 * sum(right))
    TL, TR = random_array(rng, left, dtype), random_array(rng, right, dtype)
    D = ks_oracle(TL) @ ks_oracle(TR)
    assert fused_pattern(left, right) == fused
    T = fuse_values([TL, TR])
    assert T.shape == fused
    assert T.dtype == np.dtype(dtype)
    # the product has exactly this support and these values (no entry lost or added)
    assert_close(ks_oracle(np.asarray(T)), D, size=2)
    M = fuse_blocked([TL, TR])
    assert M.flags.c_contiguous
    assert np.array_equal(M, np.transpose(T, (0, 3, 1, 2)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "patterns",
    [
        square_dyadic(16),  # case (i) three times
        [(a, c, b, d) for a, b, c, d in reversed(square_dyadic(16))],  # decreasing: case (ii)
        mixed_radix(12),
        chainable((24, 60))[1:],  # rectangular, unequal radices
    ],
)
def test_fused_run_is_the_dense_product(patterns, dtype):
    rng = np.random.default_rng(3)
    Ts = [random_array(rng, p, dtype) for p in patterns]
    D = ks_oracle(Ts[0])
    for T in Ts[1:]:
        D = D @ ks_oracle(T)
    F = fuse_values(Ts)
    assert F.shape == run_pattern(patterns)
    assert_close(ks_oracle(np.asarray(F)), D, size=len(Ts))


def test_non_fusable_pairs_are_left_alone():
    # low rank: a sum over the rank; Monarch's L R with rank 2; blocks that straddle
    for left, right in [
        ((1, 3, 2, 1), (1, 2, 3, 1)),
        ((1, 4, 8, 2), (4, 4, 4, 1)),
        ((2, 2, 2, 1), (1, 4, 2, 1)),
    ]:
        assert fused_pattern(left, right) is None
        with pytest.raises(ValueError, match=r"is not a KS factor"):
            fuse_values([np.ones(left), np.ones(right)])
        with pytest.raises(ValueError, match=r"is not a KS factor"):
            run_pattern([left, right])
        assert fusion_plan([left, right], max_block=10**6) == [(0, 1), (1, 2)]
    # non-fusable pairs cut the chain there; the fusable pair on the left still fuses
    chain = [(1, 2, 2, 2), (2, 2, 2, 1), (1, 4, 2, 1), (1, 2, 2, 1)]
    assert fusion_plan(chain) == [(0, 2), (2, 3), (3, 4)]
    assert run_pattern(chain[:2]) == (1, 4, 4, 1)
    with pytest.raises(ValueError, match=r"do not chain"):
        fused_pattern((1, 2, 2, 1), (1, 3, 3, 1))


def test_fusion_plan_rule():
    assert fusion_plan(square_dyadic(4096)) == [(0, 3), (3, 6), (6, 9), (9, 12)]
    assert fusion_plan(square_dyadic(4096), max_block=4) == [(2 * i, 2 * i + 2) for i in range(6)]
    assert fusion_plan(square_dyadic(8), max_block=1) == [(0, 1), (1, 2), (2, 3)]
    # Monarch's two factors would fuse into one dense 64 x 64 block: over the limit
    assert fusion_plan(monarch((64, 64), 8, 8)) == [(0, 1), (1, 2)]
    assert fusion_plan(monarch((64, 64), 8, 8), max_block=64) == [(0, 2)]
    for pats in [square_dyadic(1024), mixed_radix(3072), mixed_radix(360), chainable((96, 40))]:
        plan = fusion_plan(pats)
        assert [i for run in plan for i in range(*run)] == list(range(len(pats)))
        for start, stop in plan:
            _, b, c, _ = run_pattern(pats[start:stop])
            assert stop - start == 1 or max(b, c) <= 8
    with pytest.raises(ValueError, match="max_block"):
        fusion_plan(square_dyadic(8), max_block=0)
    with pytest.raises(ValueError, match="at least one array"):
        fuse_values([])
    with pytest.raises(ValueError, match="dtype"):
        fuse_values([np.ones((1, 2, 2, 1)), np.ones((2, 1, 1, 1), dtype=np.float32)])


# ---------------------------------------------------------------------- KSChain
FUSING_CHAINS = [
    square_dyadic(64),
    mixed_radix(96),
    [(a, c, b, d) for a, b, c, d in reversed(square_dyadic(32))],
    chainable((24, 60)),
]


def chain_oracle(Ts):
    D = ks_oracle(Ts[0])
    for T in Ts[1:]:
        D = D @ ks_oracle(T)
    return D


@pytest.mark.parametrize("patterns", FUSING_CHAINS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 5, 40])
def test_kschain_fused_multiply(xp, patterns, dtype, k):
    """Wide inputs run the fused chain, narrow ones factor by factor: both the product."""
    rng = np.random.default_rng(11)
    Ts = [random_array(rng, p, dtype) for p in patterns]
    C = KSChain([xp.asarray(T) for T in Ts])
    assert len(C.fused_patterns) < len(C.patterns)
    D = chain_oracle(Ts)
    m, n = D.shape
    size = n * len(Ts)
    X = random_array(rng, (n, k), dtype)
    assert_close(C @ xp.asarray(X), oracle_as(D @ X, xp, dtype), size=size)
    Y = random_array(rng, (2, m, k), dtype)
    assert_close(C.H @ xp.asarray(Y), oracle_as(D.conj().T @ Y, xp, dtype), size=size)
    assert_close(C.T @ xp.asarray(Y), oracle_as(D.T @ Y, xp, dtype), size=size)
    assert isinstance(C.H, KSChain)
    assert C.H.fused_patterns == tuple(run_pattern(C.H.patterns[s:e]) for s, e in C.H._plan)
    # nominal multiply-adds: the factors' own, not the fused ones
    assert C.flops(k) == k * sum(T.size for T in Ts)


def test_kschain_real_chain_on_complex_data_fused():
    rng = np.random.default_rng(5)
    Ts = [random_array(rng, p, "float64") for p in square_dyadic(32)]
    C = KSChain(Ts)
    X = random_array(rng, (32, 40), "complex128")
    assert_close(C @ X, chain_oracle(Ts) @ X, size=5 * 32)


def test_kschain_fused_follows_in_place_changes_numpy():
    """Writeable arrays: nothing is cached, every wide multiply fuses the current values."""
    rng = np.random.default_rng(6)
    Ts = [random_array(rng, p, "complex128") for p in square_dyadic(64)]
    C = KSChain(Ts)
    H = C.H
    X = random_array(rng, (64, 40), "complex128")
    C @ X, H @ X  # fill any cache
    Ts[1][0, 1, 0, 3] += 2.0 - 1.0j
    Ts[5][7, 0, 1, 0] -= 1.5  # d = 1
    D = chain_oracle(Ts)
    assert_close(C @ X, D @ X, size=6 * 64)
    assert_close(H @ X, D.conj().T @ X, size=6 * 64)
    assert not C._fused_cache


def test_kschain_fused_cached_for_read_only_values():
    rng = np.random.default_rng(7)
    Ts = [aa.private_copy(np, random_array(rng, p, "float64")) for p in square_dyadic(64)]
    C = KSChain(Ts)
    first = C._fused_blocked(np.dtype(np.float64))
    assert C._fused_blocked(np.dtype(np.float64)) is first
    # cached: even a single column runs the fused chain, and it is the product
    x = rng.standard_normal(64)
    assert_close(C @ x, chain_oracle(Ts) @ x, size=6 * 64)
    assert_close(C.to_dense(), chain_oracle(Ts), size=6 * 64)


def test_kschain_fused_follows_torch_versions():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    Ts = [torch.asarray(random_array(rng, p, "float64")) for p in square_dyadic(64)]
    C = KSChain(Ts)
    X = torch.asarray(rng.standard_normal((64, 40)))
    x = torch.asarray(rng.standard_normal(64))
    C @ X, C @ x, C.H @ X  # caches the fused values under the tensors' versions
    assert C._fused_cache
    with torch.no_grad():
        Ts[2].mul_(3.0)
        Ts[4][1, 0, 1, 0] += 1.0
    D = chain_oracle([T.numpy() for T in Ts])
    assert_close((C @ X).numpy(), D @ X.numpy(), size=6 * 64)
    assert_close((C @ x).numpy(), D @ x.numpy(), size=6 * 64)
    assert_close((C.H @ X).numpy(), D.T @ X.numpy(), size=6 * 64)


def test_kschain_fused_torch_gradients():
    """Values that require grad are never cached, and the fused multiply is differentiable."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    Ts = [
        torch.asarray(random_array(rng, p, "float64"), requires_grad=True)
        for p in square_dyadic(16)
    ]
    C = KSChain(Ts)
    X = torch.asarray(rng.standard_normal((16, 40)))
    (C @ X).sum().backward()
    assert not C._fused_cache
    grads = [T.grad.clone() for T in Ts]
    for T in Ts:
        T.grad = None
    # the same gradients through the unfused product of the factors (torch's own matmuls)
    ref = X
    for T in reversed(Ts):
        a, b, c, d = T.shape
        ref = torch.einsum("ijkl,ikln->ijln", T, ref.reshape(a, c, d, -1)).reshape(a * b * d, -1)
    ref.sum().backward()
    for g, T in zip(grads, Ts, strict=True):
        assert_close(g, T.grad, size=64)


def test_kschain_fused_promotes_mixed_dtypes():
    rng = np.random.default_rng(10)
    pats = square_dyadic(32)
    Ts = [random_array(rng, p, "float32" if i % 2 else "complex128") for i, p in enumerate(pats)]
    C = KSChain(Ts)
    assert C.dtype == np.complex128
    X = random_array(rng, (32, 40), "float64")
    Y = C @ X
    assert Y.dtype == np.complex128
    assert_close(Y, chain_oracle([T.astype(np.complex128) for T in Ts]) @ X, size=5 * 32)

"""Operators never contradict themselves after a stored array changes in place.

The rule (DESIGN §3): products always agree with the operator's own
``to_dense()``; derived data is recomputed or cached under a key that changes
with its source. Each market operator is used (filling every cache: products,
adjoints, transposes), then every writable floating array it stores is changed
in place, and its products are compared with its own ``to_dense()`` and with
a freshly built copy. Torch parameters updated by an optimizer stay live.
"""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import oracle_as
from hypothesis import given, settings
from hypothesis import strategies as st

import structmat as sm
from structmat.testing import assert_close, to_numpy, tolerance
from structmat.testing.strategies import arrays, market

MARKET = market()


def _nodes(op, seen=None):
    """Every operator reachable from ``op`` through its parts (not its cached adjoints)."""
    seen = {} if seen is None else seen
    if id(op) in seen:
        return seen
    seen[id(op)] = op
    for key, value in vars(op).items():
        if key in ("_H", "_T"):
            continue
        parts = value if isinstance(value, tuple | list) else (value,)
        for part in parts:
            if isinstance(part, tuple | list):
                for p in part:
                    if isinstance(p, sm.LinearOperator):
                        _nodes(p, seen)
            elif isinstance(part, sm.LinearOperator):
                _nodes(part, seen)
    return seen


def _writable_arrays(op):
    found = {}
    for node in _nodes(op).values():
        for value in vars(node).values():
            if (
                isinstance(value, np.ndarray)
                and value.flags.writeable
                and np.issubdtype(value.dtype, np.inexact)
                and value.size
            ):
                base = value if value.base is None else value.base
                found[id(base)] = value
    return list(found.values())


def _use(op, x, y):
    return op @ x, op.H @ y, op.T @ y.conj()


@pytest.mark.parametrize("name", sorted(MARKET))
@settings(max_examples=4)
@given(data=st.data())
def test_products_follow_in_place_changes(name, data):
    op = data.draw(MARKET[name](np), label=name)
    m, n = op.shape
    x = data.draw(arrays(np, (n, 2), op.dtype), label="x")
    y = data.draw(arrays(np, (m, 2), op.dtype), label="y")
    _use(op, x, y)
    _ = op.H.H, op.T.T, op.conj()
    changed = _writable_arrays(op)
    for a in changed:
        a *= -1.5
        a += 0.25
    D = to_numpy(op.to_dense()).astype(np.complex128)
    scale = max(np.linalg.norm(D), 1.0) * 4
    rtol = tolerance(op.dtype, max(m, n) + 1) * scale
    for got, want, what in (
        (op @ x, D @ x, "@ x"),
        (op.H @ y, D.conj().T @ y, ".H @ y"),
        (op.T @ y, D.T @ y, ".T @ y"),
    ):
        assert_close(
            got, oracle_as(want, np, got.dtype), rtol=rtol, what=f"{op!r}{what} after a change"
        )
    try:
        fresh = op.to()
    except NotImplementedError:
        return
    dense = fresh.to_dense()
    assert_close(dense, oracle_as(D, np, dense.dtype), rtol=rtol, what=f"fresh {op!r}")


def test_owned_copies_refuse_changes():
    # Operators that derive data once own a read-only copy of their arrays (NumPy).
    c = np.arange(1.0, 6.0)
    C = sm.Circulant(c)
    c[1] = 99.0  # the caller's array: the operator is not affected
    assert_close(C.to_dense()[:, 0], np.arange(1.0, 6.0))
    with pytest.raises(ValueError, match="read-only"):
        C.c[1] = 99.0
    idx = np.array([2, 0, 1])
    P = sm.Permutation(idx)
    idx[0] = idx[1]  # would make a non-permutation
    assert (P @ np.arange(3.0)).tolist() == [2.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="read-only"):
        P.idx[0] = 1
    B = sm.Butterfly.random(8, seed=0)
    with pytest.raises(ValueError, match="read-only"):
        B.tw[0, 0, 0, 0] = 1.0


def test_complex_monarch_adjoint_follows_its_factors():
    # the reported case: M.H used a cached conjugate after L[0, 0, 0] = 99
    M = sm.Monarch.square(16, nblocks=4, seed=0, dtype=np.complex128)
    x = np.random.default_rng(0).standard_normal(16)
    _ = M.H @ x, M.T @ x, M.H.T @ x
    M.L[0, 0, 0] = 99
    D = M.to_dense()
    assert_close(M.H @ x, D.conj().T @ x)
    assert_close(M.T @ x, D.T @ x)
    assert_close(M.H.T @ x, D.conj() @ x)
    M32 = sm.Monarch.square(16, nblocks=4, seed=0, dtype=np.float32)
    _ = M32 @ x  # float64 input: a cast of the factors, not kept
    M32.R[1, 0, 0] = 7
    assert_close(M32 @ x, M32.to_dense().astype(np.float64) @ x, rtol=1e-6)


@pytest.mark.parametrize("family", ["monarch", "butterfly", "circulant", "lowrank", "dense"])
def test_torch_parameters_stay_live_through_optimizer_steps(family):
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)

    def param(*shape):
        return torch.nn.Parameter(torch.randn(*shape, dtype=torch.float64, generator=gen) / 4)

    if family == "monarch":
        params = [param(4, 4, 4), param(4, 4, 4)]
        op = sm.Monarch(*params)
    elif family == "butterfly":
        params = [param(4, 8, 2, 2)]
        op = sm.Butterfly(params[0])
    elif family == "circulant":
        params = [param(16)]
        op = sm.Circulant(params[0])
    elif family == "lowrank":
        params = [param(16, 3), param(16, 3)]
        op = sm.LowRank(*params)
    else:
        params = [param(16, 16)]
        op = sm.Dense(params[0])
    opt = torch.optim.SGD(params, lr=0.05)
    x = torch.randn(16, 3, dtype=torch.float64, generator=gen)
    for _ in range(3):
        loss = (op @ x).square().sum() + (op.H @ x).square().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            D = op.to_dense()
            assert_close(op @ x, D @ x)
            assert_close(op.H @ x, D.T @ x)
    # the gradient flows to the current values (no stale graph or cache)
    loss = (op @ x).sum()
    grads = torch.autograd.grad(loss, params)
    dense_grads = torch.autograd.grad((op.to_dense() @ x).sum(), params)
    for g, h in zip(grads, dense_grads, strict=True):
        assert_close(g, h)


@pytest.mark.parametrize("name", sorted(MARKET))
@settings(max_examples=2)
@given(data=st.data())
def test_empty_inputs_give_empty_results(name, data):
    op = data.draw(MARKET[name](np), label=name)
    m, n = op.shape
    dtype = op.dtype
    assert (op @ np.zeros((n, 0), dtype=dtype)).shape == (m, 0)
    assert (op.H @ np.zeros((m, 0), dtype=dtype)).shape == (n, 0)
    assert (op.T @ np.zeros((3, m, 0), dtype=dtype)).shape == (3, n, 0)
    assert (np.zeros((0, m), dtype=dtype) @ op).shape == (0, n)


@pytest.mark.parametrize(
    "op",
    [
        sm.Identity(0),
        sm.Zero((0, 3)),
        sm.Dense(np.ones((3, 0))),
        sm.Identity(1),
        sm.DFT(1),
        sm.Monarch.square(1),
        sm.Diagonal(np.ones(1)),
    ],
    ids=repr,
)
def test_sizes_zero_and_one(op):
    m, n = op.shape
    x = np.ones((n, 2))
    assert_close(op @ x, to_numpy(op.to_dense()) @ x, what=repr(op))
    assert (op @ np.ones(n)).shape == (m,)


def test_unavailable_device_is_refused():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="device 'cuda' is not available"):
        sm.Identity(2, xp=torch, device="cuda")
    with pytest.raises(ValueError, match="device 'cuda' is not available"):
        sm.DFT(4, xp=torch, device="cuda")

"""structmat.nn: layers against dense oracles, the official Monarch forward, conversion, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from _helpers import monarch_oracle  # noqa: E402
from torch import nn  # noqa: E402

from structmat.nn import (  # noqa: E402
    ButterflyLinear,
    KSLinear,
    LowRankLinear,
    MonarchLinear,
    structure,
)

F64 = torch.float64


def official_forward(x, blkdiag1, blkdiag2, bias, out_features):
    """The official MonarchLinear forward from its published math, by explicit indices.

    Pad x to k*p; u[a*q + v] = sum_t w1[a, v, t] x[a*p + t]; read u as
    u[g*l + j] (intermediate index, l = number of w2 blocks);
    y[sigma*l + j] = sum_g w2[j, sigma, g] u[g*l + j]; keep out_features; add bias.
    """
    k, q, p = blkdiag1.shape
    nl, s, r = blkdiag2.shape
    B, n = x.shape
    xp = torch.zeros(B, k * p, dtype=x.dtype)
    xp[:, :n] = x
    u = torch.zeros(B, k * q, dtype=x.dtype)
    for a in range(k):
        u[:, a * q : (a + 1) * q] = xp[:, a * p : (a + 1) * p] @ blkdiag1[a].T
    y = torch.zeros(B, s * nl, dtype=x.dtype)
    for j in range(nl):
        idx = torch.arange(r) * nl + j
        y[:, torch.arange(s) * nl + j] = u[:, idx] @ blkdiag2[j].T
    return y[:, :out_features] + bias


def official_shapes(n_in, n_out, b):
    """Shapes of the official MonarchLinear parameters (published constructor rule)."""
    pi, po = math.ceil(n_in / b), math.ceil(n_out / b)
    if pi * b < po * b:
        return (b, pi, pi), (b, po, pi)
    return (b, po, pi), (b, po, po)


def official_state(n_in, n_out, b, seed=0):
    g = torch.Generator().manual_seed(seed)
    s1, s2 = official_shapes(n_in, n_out, b)
    return {
        "blkdiag1": torch.randn(s1, generator=g) / math.sqrt(s1[2]),
        "blkdiag2": torch.randn(s2, generator=g) / math.sqrt(s2[2]),
        "bias": torch.randn(n_out, generator=g),
    }


@pytest.mark.parametrize(
    ("n_in", "n_out", "b"), [(64, 64, 4), (64, 256, 4), (256, 64, 4), (48, 96, 4), (196, 384, 16)]
)
def test_official_checkpoint_forward(n_in, n_out, b):
    sd = official_state(n_in, n_out, b)
    layer = MonarchLinear(n_in, n_out, nblocks=b)
    layer.load_state_dict(sd)
    x = torch.randn(7, n_in, generator=torch.Generator().manual_seed(1))
    want = official_forward(
        x.double(), *(sd[k].double() for k in ("blkdiag1", "blkdiag2", "bias")), n_out
    )
    got = layer(x)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("n_in", "n_out", "b"), [(64, 64, 4), (64, 256, 4), (196, 384, 16)])
def test_official_checkpoint_operator(n_in, n_out, b):
    """layer.operator has the official matrix (196 -> 384 needs Monarch's general layout)."""
    sd = official_state(n_in, n_out, b)
    layer = MonarchLinear(n_in, n_out, nblocks=b).double()
    layer.load_state_dict({k: v.double() for k, v in sd.items()})
    eye = torch.eye(n_in, dtype=F64)
    want = official_forward(eye, sd["blkdiag1"].double(), sd["blkdiag2"].double(), 0.0, n_out).T
    np.testing.assert_allclose(
        np.asarray(layer.operator.to_dense().detach()), want.numpy(), rtol=1e-12, atol=1e-12
    )


def test_state_dict_wrong_shape():
    layer = MonarchLinear(64, 64, nblocks=4)
    sd = official_state(64, 64, 8)
    with pytest.raises(ValueError, match=r"blkdiag1.*\(8, 8, 8\).*expected \(4, 16, 16\)"):
        layer.load_state_dict(sd)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.complex64, torch.complex128])
def test_monarch_rank_layout_matches_element_formula(dtype):
    layer = MonarchLinear(30, 21, nblocks=(4, 3), rank=2, dtype=dtype)
    assert tuple(layer.blkdiag1.shape) == (4, 6, 8)
    assert tuple(layer.blkdiag2.shape) == (3, 7, 8)
    D = monarch_oracle(layer.blkdiag2.detach(), layer.blkdiag1.detach())[:21, :30]
    x = torch.randn(2, 5, 30, dtype=dtype)
    want = x.numpy() @ D.T + layer.bias.detach().numpy()
    got = layer(x)
    assert got.dtype == dtype
    assert got.shape == (2, 5, 21)
    tol = 1e-5 if dtype in (torch.float32, torch.complex64) else 1e-12
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=tol, atol=tol)


def _layers(dtype=F64):
    from structmat.ks import square_dyadic

    return [
        MonarchLinear(12, 10, nblocks=(3, 2), rank=2, dtype=dtype),
        MonarchLinear(16, 16, nblocks=4, dtype=dtype),
        LowRankLinear(12, 10, rank=3, dtype=dtype),
        ButterflyLinear(16, 16, dtype=dtype),
        ButterflyLinear(12, 10, radices=(2,) * 4, dtype=dtype),
        ButterflyLinear(12, 12, dtype=dtype),
        ButterflyLinear(96, 40, dtype=dtype),
        ButterflyLinear(10, 12, radices=(3, 4), increasing_stride=False, dtype=dtype),
        KSLinear(8, 8, patterns=square_dyadic(8), dtype=dtype),
    ]


@pytest.mark.parametrize("layer", _layers(), ids=lambda m: type(m).__name__)
def test_forward_equals_operator(layer):
    """The torch forward and the structmat operator (an independent multiply) agree."""
    x = torch.randn(4, layer.in_features, dtype=F64)
    W = torch.as_tensor(np.asarray(layer.operator.to_dense().detach()))
    torch.testing.assert_close(layer(x), x @ W.T + layer.bias, rtol=1e-12, atol=1e-12)
    # the operator follows in-place updates of the parameters
    with torch.no_grad():
        for p in layer.parameters():
            p.mul_(2.0)
    op = layer.operator
    y = torch.randn(layer.in_features, dtype=F64)
    torch.testing.assert_close(op @ y, (layer(y) - layer.bias).detach(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layer", _layers(), ids=lambda m: type(m).__name__)
def test_gradcheck(layer):
    x = torch.randn(3, layer.in_features, dtype=F64, requires_grad=True)
    params = tuple(layer.parameters())

    def f(x, *ps):
        return torch.func.functional_call(
            layer, dict(zip([n for n, _ in layer.named_parameters()], ps, strict=False)), (x,)
        )

    assert torch.autograd.gradcheck(f, (x, *params))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_dtypes(dtype):
    layer = MonarchLinear(64, 64, nblocks=4, dtype=dtype)
    ref = MonarchLinear(64, 64, nblocks=4, dtype=F64)
    ref.load_state_dict({k: v.double() for k, v in layer.state_dict().items()})
    x = torch.randn(8, 64, dtype=dtype)
    y = layer(x)
    assert y.dtype == dtype
    want = ref(x.double())
    tol = 2e-2 if dtype == torch.bfloat16 else 4e-3
    torch.testing.assert_close(y.double(), want, rtol=tol, atol=tol)
    with pytest.raises(TypeError, match="float32"):
        layer.operator  # noqa: B018


def test_autocast_bf16():
    layer = MonarchLinear(64, 64, nblocks=4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(torch.randn(8, 64))
    assert y.dtype == torch.bfloat16


@pytest.mark.parametrize("layer", _layers(torch.float32), ids=lambda m: type(m).__name__)
def test_compile_fullgraph(layer):
    compiled = torch.compile(layer, fullgraph=True, backend="eager")
    x = torch.randn(4, layer.in_features)
    torch.testing.assert_close(compiled(x), layer(x))
    torch._dynamo.reset()


@pytest.mark.parametrize(
    "make",
    [
        lambda: MonarchLinear(256, 256, nblocks=4),
        lambda: MonarchLinear(256, 128, nblocks=(4, 4), rank=4),
        lambda: LowRankLinear(256, 128, rank=8),
        lambda: ButterflyLinear(256, 256),
        lambda: ButterflyLinear(768, 768),
        lambda: ButterflyLinear(96, 40),
        lambda: ButterflyLinear(40, 96, increasing_stride=False),
        lambda: ButterflyLinear(200, 17, radices=(3, 3, 5, 5)),
    ],
)
def test_init_variance_matches_linear(make):
    """E||W||_F^2 of the default init equals nn.Linear's out/3 (average over draws).

    32 draws: the spread of the mean is then about 3% for these sizes, so a first
    level of the wrong variance (off by 3/2 for a radix-3 first level) fails.
    """
    torch.manual_seed(0)
    layers = [make() for _ in range(32)]
    m = layers[0].out_features
    energy = np.mean([float(lay.operator.to_dense().detach().pow(2).sum()) for lay in layers])
    assert abs(energy / (m / 3) - 1) < 0.1


def test_from_linear_monarch_exact():
    lin = nn.Linear(48, 32, dtype=F64)
    layer, res = MonarchLinear.from_linear(lin, nblocks=(4, 2), rank=3)
    W = lin.weight.detach()
    got = layer.operator.to_dense().detach()
    # the error is the Frobenius distance, and equals the sum of discarded slice sigma^2
    assert abs(float((got - W).norm()) - res.error) < 1e-10 * float(W.norm())
    T = W.reshape(16, 2, 4, 12).permute(1, 2, 0, 3)
    sv = torch.linalg.svdvals(T)
    assert abs(float(sv[..., 3:].pow(2).sum().sqrt()) - res.error) < 1e-10
    torch.testing.assert_close(layer.bias, lin.bias)


def test_from_linear_lowrank_exact():
    lin = nn.Linear(30, 20, dtype=F64)
    layer, res = LowRankLinear.from_linear(lin, rank=5)
    sv = torch.linalg.svdvals(lin.weight.detach())
    assert abs(float(sv[5:].pow(2).sum().sqrt()) - res.error) < 1e-10
    W = (layer.U @ layer.V.T).detach()
    assert abs(float((W - lin.weight.detach()).norm()) - res.error) < 1e-10


def test_from_linear_butterfly_and_ks():
    from structmat.ks import monarch as monarch_chain

    lin = nn.Linear(16, 16, dtype=F64)
    layer, res = ButterflyLinear.from_linear(lin)
    W = lin.weight.detach()
    assert abs(float((layer.operator.to_dense().detach() - W).norm()) - res.error) < 1e-10
    assert res.lower_bound <= res.error <= res.upper_bound + 1e-12
    pats = monarch_chain((16, 16), 4, 4)
    kl, kres = KSLinear.from_linear(lin, patterns=pats)
    assert abs(float((kl.operator.to_dense().detach() - W).norm()) - kres.error) < 1e-10


def test_training_recovers_target():
    torch.manual_seed(0)
    target = MonarchLinear(16, 16, nblocks=4, bias=False, dtype=F64)
    student = MonarchLinear(16, 16, nblocks=4, bias=False, dtype=F64)
    X = torch.randn(64, 16, dtype=F64)
    Y = target(X).detach()
    opt = torch.optim.Adam(student.parameters(), lr=3e-2)
    for _ in range(3000):
        opt.zero_grad()
        loss = (student(X) - Y).pow(2).mean()
        loss.backward()
        opt.step()
        if loss.item() < 1e-10:
            break
    assert loss.item() < 1e-10


def test_structure_report_and_budget():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 64), nn.Linear(64, 10))
    x = torch.randn(5, 64)
    copy_, rep = structure(net, onto="monarch", budget=0.5, exclude="2", inplace=False)
    assert isinstance(net[0], nn.Linear)  # inplace=False leaves the original
    assert type(copy_[0]).__name__ == "MonarchLinear"
    assert isinstance(copy_[2], nn.Linear)
    for row in rep.layers:
        assert row.after <= 0.5 * row.before
        W = dict(net.named_modules())[row.name].weight.detach()
        M = dict(copy_.named_modules())[row.name].operator.to_dense().detach()
        assert abs(float((M - W).norm() / W.norm()) - row.relative_error) < 1e-5
    assert "params before" in str(rep)
    assert "total" in str(rep)
    _, rep2 = structure(net, onto="lowrank", budget=0.25, include=["0", "3"])
    assert [r.name for r in rep2.layers] == ["0", "3"]
    assert type(net[3]).__name__ == "LowRankLinear"
    assert net[3](x[:, :64]).isfinite().all()


def test_structure_bad_input_leaves_model_unchanged():
    net = nn.Sequential(nn.Linear(64, 64), nn.Linear(64, 1))
    with pytest.raises(ValueError, match=r"budget must be a number in \(0, 1\], got 1.5"):
        structure(net, budget=1.5)
    with pytest.raises(ValueError, match=r"budget must be a number in \(0, 1\], got 0"):
        structure(net, budget=0)
    with pytest.raises(ValueError, match="onto must be one of"):
        structure(net, onto="fourier")
    with pytest.raises(ValueError, match=r"include='x\*' matched no nn.Linear"):
        structure(net, include="x*")
    with pytest.raises(TypeError, match=r"expects an nn\.Module, got int"):
        structure(3)
    # the 64 -> 1 layer has no Monarch within budget: the first layer must not be swapped either
    with pytest.raises(ValueError, match=r"layer '1' \(1x64\) has no monarch structure"):
        structure(net, budget=0.5)
    assert all(isinstance(m, nn.Linear) for m in net)


def test_layer_bad_input():
    from structmat.ks import square_dyadic

    with pytest.raises(TypeError, match=r"from_linear expects an nn\.Linear, got Conv1d"):
        MonarchLinear.from_linear(nn.Conv1d(2, 2, 1))
    with pytest.raises(ValueError, match="do not tile in_features = 5"):
        MonarchLinear(5, 8, nblocks=4, rank=1)
    with pytest.raises(ValueError, match=r"rank must be in \[1, min\(s, p\)\] = \[1, 4\], got 5"):
        MonarchLinear(16, 16, nblocks=4, rank=5)
    with pytest.raises(TypeError, match=r"official layout .* takes nblocks as an int"):
        MonarchLinear(16, 16, nblocks=(4, 2))
    with pytest.raises(ValueError, match=r"in_features must be >= 1, got 0"):
        LowRankLinear(0, 4, rank=1)
    with pytest.raises(
        ValueError, match=r"rank must be in \[1, min\(in, out\)\] = \[1, 4\], got 9"
    ):
        LowRankLinear(8, 4, rank=9)
    with pytest.raises(ValueError, match=r"has shape \(8, 8\), expected .* \(4, 8\)"):
        KSLinear(8, 4, patterns=square_dyadic(8))
    with pytest.raises(ValueError, match=r"expects input of shape \(\.\.\., 16\), got \(3, 8\)"):
        MonarchLinear(16, 16)(torch.randn(3, 8))
    with pytest.raises(ValueError, match="chains of 2 factors, got 3"):
        KSLinear.from_linear(nn.Linear(8, 8), patterns=square_dyadic(8))


def test_import_structmat_does_not_import_torch_nn():
    import subprocess
    import sys

    code = (
        "import structmat, structmat.io, sys; assert 'structmat.nn' not in sys.modules"
        " and 'torch' not in sys.modules and 'safetensors' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_structure_glob_skips_non_linear_leaves():
    """``include="block.*"`` on a block with a dropout and a norm converts just its Linears."""
    torch.manual_seed(0)
    block = nn.Sequential(nn.Linear(32, 32), nn.Dropout(0.1), nn.LayerNorm(32), nn.Linear(32, 32))
    net = nn.Sequential()
    net.add_module("block", block)
    net.add_module("head", nn.Linear(32, 4))
    _, rep = structure(net, onto="lowrank", budget=0.5, include="block.*")
    assert [r.name for r in rep.layers] == ["block.0", "block.3"]
    assert [type(m).__name__ for m in block] == [
        "LowRankLinear",
        "Dropout",
        "LayerNorm",
        "LowRankLinear",
    ]
    assert isinstance(net.head, nn.Linear)
    # a pattern that matches only non-Linear modules is still a TypeError, and nothing changes
    net2 = nn.Sequential(nn.Linear(32, 32), nn.ReLU())
    with pytest.raises(TypeError, match=r"pattern '1' matched '1', a ReLU, and no nn\.Linear"):
        structure(net2, include=["0", "1"])
    assert isinstance(net2[0], nn.Linear)


# ---------------------------------------------------------------------------- mixed-radix butterfly


def butterfly_oracle(levels, radices, increasing=True):
    """Dense butterfly from the element formula, built level by level.

    Level l (radix b, stride s = prod of the radices before it) has
    B_l[g b s + j s + o, g b s + k s + o] = tw[l][g s + o][j, k]; the increasing
    butterfly is B_{L-1} ... B_0, the decreasing one B_0 ... B_{L-1}.
    """
    n = math.prod(radices)
    mats, s = [], 1
    for tw, b in zip(levels, radices, strict=True):
        tw = np.asarray(tw.detach())
        g, j, k, o = np.indices((n // (b * s), b, b, s))
        B = np.zeros((n, n), dtype=tw.dtype)
        B[g * b * s + j * s + o, g * b * s + k * s + o] = tw[g * s + o, j, k]
        mats.append(B)
        s *= b
    M = np.eye(n)
    for B in mats if increasing else mats[::-1]:
        M = B @ M
    return M


def smallest_smooth(n, bound=16):
    """The smallest m >= n whose prime factors are all <= bound, by trial division."""
    m = n
    while True:
        r, p = m, 2
        while p <= bound:
            while r % p == 0:
                r //= p
            p += 1
        if r == 1:
            return m
        m += 1


@pytest.mark.parametrize(
    ("n_in", "n_out", "n", "radices"),
    [
        (12, 12, 12, (2, 2, 3)),
        (96, 40, 96, (2, 2, 2, 2, 2, 3)),
        (40, 96, 96, (2, 2, 2, 2, 2, 3)),
        (768, 768, 768, (2,) * 8 + (3,)),
        (17, 5, 18, (2, 3, 3)),
        (1000, 1000, 1000, (2, 2, 2, 5, 5, 5)),
        (1023, 1023, 1024, (2,) * 10),
    ],
)
def test_butterfly_size_rule(n_in, n_out, n, radices):
    from structmat.nn import butterfly_size

    layer = ButterflyLinear(n_in, n_out)
    assert (layer.n, layer.radices) == (n, radices)
    assert butterfly_size(n_in, n_out) == smallest_smooth(max(n_in, n_out)) == n
    assert layer.mixed == (set(radices) != {2})
    if layer.mixed:
        shapes = [tuple(t.shape) for t in layer.twiddles]
        assert shapes == [(n // b, b, b) for b in radices]
        assert not hasattr(layer, "twiddle")
    else:
        assert tuple(layer.twiddle.shape) == (len(radices), n // 2, 2, 2)


def test_butterfly_size_never_above_next_power_of_two():
    from structmat.nn import butterfly_size

    for n in range(2, 2049):
        got = butterfly_size(n, 1)
        assert got == smallest_smooth(n)
        assert n <= got <= 2 ** math.ceil(math.log2(n))


@pytest.mark.parametrize(
    "make",
    [
        lambda: ButterflyLinear(12, 12, dtype=F64),
        lambda: ButterflyLinear(96, 40, dtype=F64),
        lambda: ButterflyLinear(40, 96, increasing_stride=False, dtype=F64),
        lambda: ButterflyLinear(768, 768, dtype=F64),
        lambda: ButterflyLinear(12, 10, radices=(4, 3), dtype=F64),
        lambda: ButterflyLinear(20, 30, radices=(2,) * 5, dtype=F64),
        lambda: ButterflyLinear(6, 6, dtype=torch.complex128),
    ],
    ids=["12", "96to40", "40to96dec", "768", "12to10r43", "20to30r2", "6c"],
)
def test_butterfly_forward_matches_element_formula(make):
    torch.manual_seed(1)
    layer = make()
    m, k = layer.out_features, layer.in_features
    D = butterfly_oracle(layer.level_twiddles(), layer.radices, layer.increasing_stride)[:m, :k]
    np.testing.assert_allclose(
        np.asarray(layer.operator.to_dense().detach()), D, rtol=1e-12, atol=1e-12
    )
    x = torch.randn(2, 3, k, dtype=layer.level_twiddles()[0].dtype)
    want = x.numpy() @ D.T + layer.bias.detach().numpy()
    np.testing.assert_allclose(layer(x).detach().numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_butterfly_mixed_half_dtypes(dtype):
    """Each of the L levels rounds once: relative error within (L + 1) unit roundoffs."""
    torch.manual_seed(0)
    layer = ButterflyLinear(96, 40, dtype=dtype)
    ref = ButterflyLinear(96, 40, dtype=F64)
    ref.load_state_dict({k: v.double() for k, v in layer.state_dict().items()})
    x = torch.randn(64, 96, dtype=dtype)
    with torch.no_grad():
        y = layer(x)
        want = ref(x.double())
    assert y.dtype == dtype
    u = 2.0**-8 if dtype == torch.bfloat16 else 2.0**-11
    assert float((y.double() - want).norm() / want.norm()) < (len(layer.radices) + 1) * u
    with pytest.raises(TypeError, match="float32"):
        layer.operator  # noqa: B018


def test_butterfly_mixed_autocast_and_compile():
    layer = ButterflyLinear(768, 768)
    x = torch.randn(8, 768)
    with torch.no_grad():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = layer(x)
        want = layer.double()(x.double())
        layer.float()
    assert y.dtype == torch.bfloat16
    # each level and the input cast round once in bfloat16 (unit roundoff 2^-8)
    assert float((y.double() - want).norm() / want.norm()) < (len(layer.radices) + 1) * 2.0**-8
    compiled = torch.compile(layer, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(x), layer(x))
    torch._dynamo.reset()


def test_butterfly_mixed_backward_matches_dense():
    """The twiddle gradients equal those of the element-formula matrix built with torch."""
    torch.manual_seed(2)
    layer = ButterflyLinear(12, 10, bias=False, dtype=F64)
    x = torch.randn(5, 12, dtype=F64)
    g = torch.randn(5, 10, dtype=F64)
    (layer(x) * g).sum().backward()
    got = [p.grad.clone() for p in layer.twiddles]
    # the same loss through the dense matrix (a differentiable torch copy of the oracle)
    levels = [p.detach().clone().requires_grad_() for p in layer.twiddles]
    M, s = torch.eye(12, dtype=F64), 1
    for tw, b in zip(levels, layer.radices, strict=True):
        gi, j, k, o = (torch.as_tensor(a) for a in np.indices((12 // (b * s), b, b, s)))
        B = torch.zeros(12, 12, dtype=F64)
        B = B.index_put((gi * b * s + j * s + o, gi * b * s + k * s + o), tw[gi * s + o, j, k])
        M = B @ M
        s *= b
    ((x @ M[:10].T) * g).sum().backward()
    for a, t in zip(got, levels, strict=True):
        torch.testing.assert_close(a, t.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("n_in", "n_out", "radices"),
    [(12, 12, None), (96, 40, None), (12, 12, (3, 4)), (17, 5, None), (16, 16, None)],
)
def test_butterfly_from_linear_mixed(n_in, n_out, radices):
    from structmat.butterfly import Butterfly

    torch.manual_seed(3)
    lin = nn.Linear(n_in, n_out, dtype=F64)
    layer, res = ButterflyLinear.from_linear(lin, radices=radices)
    n = layer.n
    W = lin.weight.detach().numpy()
    Wpad = np.zeros((n, n))
    Wpad[:n_out, :n_in] = W
    want = Butterfly.project(Wpad, radices=layer.radices)
    assert abs(res.error - want.error) <= 1e-12 * np.linalg.norm(W)
    assert res.lower_bound <= res.error <= res.upper_bound
    full = butterfly_oracle(layer.level_twiddles(), layer.radices)
    assert abs(np.linalg.norm(full - Wpad) - res.error) <= 1e-10 * np.linalg.norm(W)
    np.testing.assert_allclose(
        np.asarray(layer.operator.to_dense().detach()), full[:n_out, :n_in], atol=1e-12
    )
    torch.testing.assert_close(layer.bias, lin.bias)


def test_butterfly_from_linear_recovers_exact_mixed():
    """A weight that is a size-12 butterfly is projected with error at rounding level."""
    torch.manual_seed(4)
    target = ButterflyLinear(12, 12, radices=(3, 2, 2), bias=False, dtype=F64)
    lin = nn.Linear(12, 12, bias=False, dtype=F64)
    with torch.no_grad():
        lin.weight.copy_(torch.as_tensor(np.asarray(target.operator.to_dense().detach())))
    layer, res = ButterflyLinear.from_linear(lin, radices=(3, 2, 2))
    assert res.relative_error < 1e-12
    x = torch.randn(4, 12, dtype=F64)
    torch.testing.assert_close(layer(x), target(x), rtol=1e-12, atol=1e-12)


def test_butterfly_mixed_state_dict_round_trip():
    torch.manual_seed(5)
    a = ButterflyLinear(96, 40)
    b = ButterflyLinear(96, 40)
    sd = a.state_dict()
    assert sorted(sd) == ["bias"] + [f"twiddles.{i}" for i in range(6)]
    b.load_state_dict(sd)
    x = torch.randn(3, 96)
    torch.testing.assert_close(b(x), a(x), rtol=0, atol=0)
    # a wrong level shape names the entry, the shape and the expected one
    bad = dict(sd)
    bad["twiddles.5"] = torch.zeros(48, 2, 2)
    with pytest.raises(
        ValueError, match=r"'twiddles\.5' has shape \(48, 2, 2\), expected \(32, 3, 3\)"
    ):
        b.load_state_dict(bad)


def test_butterfly_radix2_checkpoint_of_a_mixed_size():
    """A power-of-two padded checkpoint (the earlier default for 12) says how to load it."""
    old = ButterflyLinear(12, 12, radices=(2,) * 4)
    assert tuple(old.twiddle.shape) == (4, 8, 2, 2)
    with pytest.raises(
        ValueError, match=r"radix 2, n = 16: build the layer with radices=\(2,\) \* 4"
    ):
        ButterflyLinear(12, 12).load_state_dict(old.state_dict())
    with pytest.raises(
        ValueError, match=r"radices \(2, 2, 3\): build the layer with radices=\(2, 2, 3\)"
    ):
        ButterflyLinear(12, 12, radices=(2,) * 4).load_state_dict(
            ButterflyLinear(12, 12).state_dict()
        )
    new = ButterflyLinear(12, 12, radices=[2, 2, 2, 2])
    new.load_state_dict(old.state_dict())
    x = torch.randn(2, 12)
    torch.testing.assert_close(new(x), old(x), rtol=0, atol=0)


def test_butterfly_bad_radices():
    with pytest.raises(
        ValueError,
        match=r"radices \(2, 3\) multiply to n = 6, expected n >= max\(in_features, out_features\) = 12",
    ):
        ButterflyLinear(12, 10, radices=(2, 3))
    with pytest.raises(ValueError, match=r"multiply to n = 1, expected n >= .* = 4"):
        ButterflyLinear(4, 4, radices=())
    with pytest.raises(TypeError, match=r"each radix must be an integer >= 2, got float 2\.0"):
        ButterflyLinear(12, 12, radices=(2, 2.0, 3))
    with pytest.raises(ValueError, match=r"each radix must be an integer >= 2, got 1"):
        ButterflyLinear(12, 12, radices=(1, 12))
    with pytest.raises(TypeError, match=r"radices must be a sequence of ints, got int"):
        ButterflyLinear(12, 12, radices=12)
    with pytest.raises(TypeError, match=r"radices must be a sequence of ints, got str"):
        ButterflyLinear(12, 12, radices="223")
    with pytest.raises(TypeError, match=r"each radix must be an integer >= 2, got bool True"):
        ButterflyLinear(4, 4, radices=(2, True))


def test_ks_state_dict_wrong_factor_shape():
    """The shape check covers ParameterList entries (KSLinear's factors) too."""
    from structmat.ks import square_dyadic

    layer = KSLinear(8, 8, patterns=square_dyadic(8))
    sd = layer.state_dict()
    sd["factors.1"] = torch.zeros(2, 2, 2, 1)
    with pytest.raises(
        ValueError, match=r"'factors\.1' has shape \(2, 2, 2, 1\), expected \(2, 2, 2, 2\)"
    ):
        layer.load_state_dict(sd)

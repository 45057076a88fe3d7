"""The operator laws over the whole operator market, on every backend.

Every entry of ``structmat.testing.strategies.market()`` (the core market and
every ``structmat.testing.market_*`` module of the other families) is drawn
in each namespace of the ``xp`` fixture and checked with
``check_linear_operator`` (dense oracle built column by column, adjoint dot
test, batches, ``.H``/``.T``/``.conj()``, dtypes, namespaces), plus linearity.

With about fifty entries on three backends, each entry gets a fifth of the
profile's examples (5 in ``ci``, 100 with ``HYPOTHESIS_PROFILE=thorough``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from structmat import _array_api as aa
from structmat.testing import assert_close, check_linear_operator, to_numpy, tolerance
from structmat.testing.strategies import arrays, market

MARKET = market()
NAMES = sorted(MARKET)
EXAMPLES = max(3, settings.default.max_examples // 5)

# well-scaled coefficients (or 0): no subnormal results
_coefficients = st.one_of(
    st.just(0.0),
    st.tuples(st.floats(0.125, 3.0), st.sampled_from([1.0, -1.0])).map(lambda t: t[0] * t[1]),
)


def test_market_has_core_entries():
    core = {"dense", "identity", "zero", "diagonal", "permutation", "sum", "product"}
    core |= {"scaled", "adjoint", "transpose", "conjugate", "power", "expression"}
    assert core <= set(MARKET)


def check_linearity(op, data):
    """op @ (a x + b y) == a (op @ x) + b (op @ y), and op @ 0 == 0."""
    xp = op.xp
    m, n = op.shape
    k = data.draw(st.integers(1, 3), label="k")
    x = data.draw(arrays(xp, (n, k), op.dtype), label="x")
    y = data.draw(arrays(xp, (n, k), op.dtype), label="y")
    a = data.draw(_coefficients, label="a")
    b = data.draw(_coefficients, label="b")
    lhs = to_numpy(op @ (a * x + b * y)).astype(np.complex128)
    rhs = a * to_numpy(op @ x) + b * to_numpy(op @ y)
    # the scale of the computation, from the operator's dense matrix
    A = to_numpy(op.to_dense()).astype(np.complex128)
    xn, yn = to_numpy(x), to_numpy(y)
    scale = np.linalg.norm(A) * (abs(a) * np.linalg.norm(xn) + abs(b) * np.linalg.norm(yn))
    err = np.linalg.norm(lhs - rhs)
    tol = tolerance(op.dtype, max(m, n))
    floor = float(xp.finfo(op.dtype).smallest_normal) * (m + n + 1)
    assert err <= tol * scale + floor, f"{op!r}: linearity error {err:.3g}, scale {scale:.3g}"
    zero = op @ xp.zeros((n, k), dtype=op.dtype)
    assert not np.any(to_numpy(zero)), f"{op!r} @ 0 is not 0"


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_laws(xp, name, data):
    op = data.draw(MARKET[name](xp), label=name)
    assert op.xp is aa.default_namespace(xp)
    check_linear_operator(op, seed=data.draw(st.integers(0, 2**16), label="seed"))
    check_linearity(op, data)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=3)
@given(data=st.data())
def test_pickle_round_trip(xp, name, data):
    # operators travel to worker processes (multiprocessing, joblib) by pickle
    import pickle

    op = data.draw(MARKET[name](xp), label=name)
    back = pickle.loads(pickle.dumps(op))
    assert type(back) is type(op)
    assert back.xp is op.xp
    assert back.shape == op.shape
    assert back.dtype == op.dtype
    assert repr(back) == repr(op)
    np.testing.assert_array_equal(to_numpy(back.to_dense()), to_numpy(op.to_dense()))
    # .H is a cache the pickle leaves out: rebuilt, it may take another (equal) path
    assert_close(back.H.to_dense(), op.H.to_dense(), size=max(op.shape))

"""``structmat.compare``: the structure search picks the class a synthetic matrix was built in."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import scipy.linalg

import structmat as sm

BUDGET = 0.25


def _best(A, **kw):
    table = sm.compare(A, budget=BUDGET, **kw)
    assert table.best.relative_error < 1e-10, str(table)
    return table


def test_lowrank_wins():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((64, 4)) @ rng.standard_normal((4, 64))
    assert _best(A).best.onto == "lowrank"


def test_kronecker_wins():
    rng = np.random.default_rng(1)
    A = np.kron(rng.standard_normal((4, 4)), rng.standard_normal((8, 8)))
    table = _best(A)
    assert table.best.onto == "kronecker"
    assert table.best.params["shapes"] == ((4, 4), (8, 8))


def test_block_diagonal_wins():
    rng = np.random.default_rng(2)
    A = scipy.linalg.block_diag(*rng.standard_normal((4, 16, 16)))
    table = _best(A)
    assert table.best.onto == "block_diagonal"
    assert table.best.params == {"nblocks": 4}


def test_monarch_wins():
    M = sm.Monarch.random((64, 64), nblocks=8, rank=1, seed=3)
    table = _best(M)  # an operator: densified once
    assert table.best.onto == "monarch"
    assert table.best.params == {"nblocks": (8, 8), "rank": 1}


def test_butterfly_wins():
    B = sm.Butterfly.random(64, kind="gaussian", seed=4).to_dense()
    assert _best(B).best.onto == "butterfly"


@pytest.mark.parametrize(
    ("onto", "build"),
    [
        (
            "toeplitz",
            lambda rng: scipy.linalg.toeplitz(rng.standard_normal(24), rng.standard_normal(24)),
        ),
        ("circulant", lambda rng: scipy.linalg.circulant(rng.standard_normal(24))),
        ("diagonal", lambda rng: np.diag(rng.standard_normal(24))),
    ],
)
def test_small_classes_win(onto, build):
    assert _best(build(np.random.default_rng(5))).best.onto == onto


def test_table_contents_on_a_random_matrix():
    rng = np.random.default_rng(6)
    A = rng.standard_normal((32, 32))
    table = sm.compare(A, budget=0.35)
    names = {row.onto for row in table}
    assert {"lowrank", "monarch", "butterfly", "kronecker", "block_diagonal", "toeplitz"} <= names
    errs = [row.relative_error for row in table]
    assert errs == sorted(errs)
    for row in table:
        assert row.parameter_count <= 0.35 * 32 * 32
        assert row.relative_error == pytest.approx(row.result.relative_error)
        # each row is the projection with those parameters (an independent recomputation)
        params = dict(row.params)
        if row.onto == "butterfly":
            params["certificate"] = False
        again = sm.project(A, row.onto, **params)
        assert row.relative_error == pytest.approx(again.relative_error, rel=1e-9)
    # low rank at the largest rank within budget: Eckart-Young error from scipy
    lr = next(row for row in table if row.onto == "lowrank")
    r = lr.params["rank"]
    assert r == int(0.35 * 32 * 32 // (32 + 32 + 1))
    sv = scipy.linalg.svd(A, compute_uv=False)
    assert lr.relative_error == pytest.approx(np.sqrt(np.sum(sv[r:] ** 2) / np.sum(sv**2)))
    text = str(table)
    assert text.splitlines()[0].startswith("structure search, 32x32, budget 0.35")
    assert "rel. error" in text
    assert len(text.splitlines()) == len(table) + 3
    assert repr(table).startswith(f"Comparison({len(table)} fits, best: ")
    assert table[0] is table.best


def test_rectangular_and_classes_subset():
    rng = np.random.default_rng(7)
    A = rng.standard_normal((24, 40))
    table = sm.compare(A, budget=0.5, classes=["lowrank", sm.Toeplitz, "monarch"])
    assert {row.onto for row in table} <= {"lowrank", "toeplitz", "monarch"}
    assert "monarch" in {row.onto for row in table}
    assert all(row.parameter_count <= 0.5 * A.size for row in table)


@pytest.mark.parametrize(
    ("A", "budget"),
    [(np.eye(8), 0.01), (np.ones((1, 1)), 0.25), (np.ones((1, 1)), 1.0), (np.ones((3, 1)), 0.3)],
)
def test_nothing_fits_is_an_empty_table_not_an_error(A, budget):
    table = sm.compare(A, budget=budget)
    # a 1x1 matrix at budget 1 admits its diagonal: the one case here that fits
    if A.size == 1 and budget == 1.0:
        assert table.best is not None
        assert table.best.onto == "diagonal"
        return
    assert len(table) == 0
    assert list(table) == []
    assert table.best is None
    cap = int(budget * A.size)
    m, n = A.shape
    assert table.cap == cap
    lines = str(table).splitlines()
    assert lines[0] == f"structure search, {m}x{n}, budget {budget:.3g} ({cap} parameters)"
    assert lines[1] == (
        f"no class fits the {m}x{n} matrix within {cap} parameters "
        f"(budget {budget:.3g} of {m * n}); try a larger budget"
    )
    assert len(lines) == 2
    assert repr(table) == f"Comparison(0 fits: nothing fits within {cap} parameters)"


def test_empty_classes_is_refused():
    with pytest.raises(
        ValueError, match=r"compare: classes is empty; give at least one of lowrank"
    ):
        sm.compare(np.eye(4), classes=[])
    with pytest.raises(ValueError, match="classes is empty"):
        sm.compare(np.eye(4), classes=())


def test_compare_lives_in_its_own_module():
    module = importlib.import_module("structmat.compare")
    assert sm.compare is module.compare  # the package name is the function, not the module
    assert callable(sm.compare)
    from structmat.projection import compare as old_path

    assert old_path is sm.compare
    assert module.Comparison.__module__ == "structmat.compare"
    projection = importlib.import_module("structmat.projection")
    assert not hasattr(projection, "_COMPARE_CLASSES")  # the search code left projection.py


def test_bad_input():
    A = np.ones((8, 8))
    for budget in (0, -0.1, 1.5, float("nan"), "0.2", True):
        with pytest.raises(ValueError, match="budget"):
            sm.compare(A, budget=budget)
    with pytest.raises(ValueError, match="valid names"):
        sm.compare(A, classes=["sparse"])
    with pytest.raises(ValueError, match="cannot search over"):
        sm.compare(A, classes=["permutation"])
    with pytest.raises(ValueError, match="list of names"):
        sm.compare(A, classes="lowrank")
    B = A.copy()
    B[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        sm.compare(B)

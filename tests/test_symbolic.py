"""Exact SymPy verification: identities hold, corrupted constructions are caught.

The symbolic builders share the index/exponent formulas of
``structmat.constructions``; the references (DFT definition, Sylvester
recursion, cosine sum via Euler, ``c[i - j]``) are written independently.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sympy")

from structmat import constructions as C
from structmat import symbolic as S
from structmat.constructions import _formulas

CASES = [(name, n) for name, sizes in S.CONSTRUCTIONS.items() for n in sizes]
FAST = [(name, n) for name, n in CASES if n <= 8]
SLOW = [(name, n) for name, n in CASES if n > 8]


@pytest.mark.parametrize(("name", "n"), FAST)
def test_construction_exact(name, n):
    r = S.verify(name, n)
    assert r.exact, r.summary()
    assert r.name == name
    assert r.n == n


@pytest.mark.slow
@pytest.mark.parametrize(("name", "n"), SLOW)
def test_construction_exact_larger(name, n):
    r = S.verify(name, n)
    assert r.exact, r.summary()


@pytest.mark.parametrize("name", sorted(S.CONSTRUCTIONS))
def test_corrupted_construction_is_reported(name):
    n = next(n for n in S.CONSTRUCTIONS[name] if n >= 4) if name != "toeplitz_monarch" else 3
    r = S.verify(name, n, corrupt=True)
    assert not r.exact, r.summary()
    assert not bool(r)
    assert "differ" in r.detail


def test_result_summary_and_bool():
    r = S.verify("dft_butterfly", 4)
    assert bool(r)
    assert "dft_butterfly (n=4): exact" in r.summary()
    assert "Phi_4" in r.detail


def test_verify_all_subset():
    results = S.verify_all(sizes=(4,))
    names = {r.name for r in results}
    assert names == set(S.CONSTRUCTIONS)  # every construction accepts n = 4
    assert all(r.exact for r in results)


def test_verify_all_skips_invalid_sizes():
    results = S.verify_all(sizes=(6,))
    assert {r.name for r in results} == {
        "dft_monarch",
        "idft_monarch",
        "circulant_monarch",
        "toeplitz_monarch",
        "convolution_monarch",
    }
    assert all(r.exact for r in results)


@pytest.mark.parametrize(
    ("name", "n", "match"),
    [
        ("fft", 4, "unknown construction"),
        ("dft_monarch", 7, "composite"),
        ("dft_butterfly", 6, "power of 2"),
        ("dft_monarch", 0, "n must be an integer >= 1"),
    ],
)
def test_verify_errors(name, n, match):
    with pytest.raises(ValueError, match=match):
        S.verify(name, n)


# ---------------------------------------------------------------------- all-n proofs
def test_prove_dft_monarch_exponents():
    r = S.prove_dft_monarch_exponents()
    assert r.exact, r.detail
    assert r.n is None
    # the quotient is shown: u*v - (e_L + e_R) = J*K*(sigma*t)
    assert "J*K*(sigma*t)" in r.detail


def test_prove_dft_monarch_exponents_uses_the_code_formulas(monkeypatch):
    # corrupt the shared formula the constructions use: the proof must fail, and
    # the numeric construction must change with it (one formula for both)
    monkeypatch.setattr(_formulas, "_dft_monarch_R_exponent", lambda a, j, t, J, K: j * a + j * t)
    assert not S.prove_dft_monarch_exponents().exact
    F = C.dft_as_monarch(12).to_dense()
    assert not np.allclose(F, np.fft.fft(np.eye(12), axis=0))


@pytest.mark.parametrize(
    ("L_exp", "R_exp"),
    [
        (lambda j, sg, a, J, K: sg * a, None),  # F_K blocks in the wrong root
        (None, lambda a, j, t, J, K: K * j * t),  # twiddle forgotten
        (None, lambda a, j, t, J, K: j * a + K * j * t + 1),  # off by one
    ],
)
def test_prove_dft_monarch_exponents_rejects_wrong_formulas(L_exp, R_exp):
    r = S.prove_dft_monarch_exponents(L_exponent=L_exp, R_exponent=R_exp)
    assert not r.exact
    assert "not J*K times an integer polynomial" in r.detail


def test_prove_dft_butterfly_exponents():
    r = S.prove_dft_butterfly_exponents(max_levels=10)
    assert r.exact, r.detail
    assert "2*s*(b*q)" in r.detail
    assert "L=1..10" in r.detail


@pytest.mark.parametrize(
    "tw_exp",
    [
        lambda o, b, c, s: c * o,  # missing the -1 of the lower row
        lambda o, b, c, s: c * (o + b * s) + b,  # wrong twiddle on row 1
        lambda o, b, c, s: b * (o + c * s),  # transposed twiddle
    ],
)
def test_prove_dft_butterfly_exponents_rejects_wrong_twiddles(tw_exp):
    r = S.prove_dft_butterfly_exponents(max_levels=4, twiddle_exponent=tw_exp)
    assert not r.exact
    assert "fails" in r.detail


def test_shared_formulas_match_numeric_construction():
    # the numeric factors are exactly ω^(shared exponent): ties the proof to the arrays
    n, K, J = 12, 3, 4
    M = C.dft_as_monarch(n).factors[0]
    L, R = np.asarray(M.L), np.asarray(M.R)
    for j in range(J):
        for sg in range(K):
            for a in range(K):
                e = _formulas._dft_monarch_L_exponent(j, sg, a, J, K)
                assert abs(L[j, sg, a] - np.exp(-2j * np.pi * e / n)) < 1e-14
    for a in range(K):
        for j in range(J):
            for t in range(J):
                e = _formulas._dft_monarch_R_exponent(a, j, t, J, K)
                assert abs(R[a, j, t] - np.exp(-2j * np.pi * e / n)) < 1e-14

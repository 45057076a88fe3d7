"""The worker pool's BLAS limit: process-wide state is restored whatever the interleaving."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import structmat as sm
from structmat import _pool

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads() -> list[int]:
    return [
        lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"
    ]


def _set_blas_threads(n: int) -> None:
    """Set the BLAS count from a thread that then ends: threadpoolctl lets only a live
    thread that set a limit change it again, so this leaves the count free to change."""
    t = threading.Thread(
        target=lambda: threadpoolctl.ThreadpoolController().limit(limits=n, user_api="blas")
    )
    t.start()
    t.join()


@pytest.fixture
def two_blas_threads():
    """BLAS at two threads (so that a stuck limit of one shows), restored afterwards."""
    if not _blas_threads():
        pytest.skip("no BLAS library visible to threadpoolctl")
    saved = _blas_threads()
    _set_blas_threads(2)
    assert _blas_threads() == [2] * len(saved)
    yield
    for n in sorted(set(saved)):
        _set_blas_threads(n)


def test_limit_exits_out_of_order(two_blas_threads):
    """Two holders, the first in leaves first: BLAS stays at one thread for the second,
    and the count from before the first is back after the second leaves."""
    first_in, both_in, first_out = (threading.Barrier(2) for _ in range(3))
    seen: dict[str, list[int]] = {}

    def first() -> None:
        with _pool.one_blas_thread():
            first_in.wait()
            both_in.wait()
            seen["both"] = _blas_threads()
        first_out.wait()

    def second() -> None:
        first_in.wait()
        with _pool.one_blas_thread():
            both_in.wait()
            first_out.wait()
            seen["second alone"] = _blas_threads()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert set(seen["both"]) == {1}
    assert set(seen["second alone"]) == {1}
    assert set(_blas_threads()) == {2}


def test_limit_nested_in_one_thread(two_blas_threads):
    with _pool.one_blas_thread():
        with _pool.one_blas_thread():
            assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {1}
    assert set(_blas_threads()) == {2}


def test_concurrent_projections_restore_blas(two_blas_threads, monkeypatch):
    """Monarch projections and multiplies from several user threads at once (released
    together by a barrier) leave the BLAS count as it was and give bitwise the serial
    results."""
    monkeypatch.setattr(_pool, "WORKERS", 2)  # the threaded route, whatever the machine
    rng = np.random.default_rng(3)
    mats = [rng.standard_normal((256, 256)) for _ in range(4)]
    X = rng.standard_normal((256, 64))
    serial = [sm.project(A, "monarch", nblocks=16) for A in mats]
    serial_mul = [r.operator @ X for r in serial]
    assert set(_blas_threads()) == {2}
    start = threading.Barrier(len(mats))
    out: list = [None] * len(mats)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            start.wait()
            for _ in range(3):  # several rounds: many entries and exits interleave
                res = sm.project(mats[i], "monarch", nblocks=16)
                out[i] = (res, res.operator @ X)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(mats))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert set(_blas_threads()) == {2}
    for (res, y), ref, ref_y in zip(out, serial, serial_mul, strict=True):
        assert np.array_equal(res.operator.L, ref.operator.L)
        assert np.array_equal(res.operator.R, ref.operator.R)
        assert res.error == ref.error
        assert np.array_equal(y, ref_y)


@pytest.mark.parametrize(("macs", "inside"), [(_pool.OPENBLAS_SERIAL_GEMM, {2}), (1 << 19, {1})])
def test_small_gemms_skip_the_blas_limit(two_blas_threads, monkeypatch, macs, inside):
    if not _pool._all_openblas():
        pytest.skip("the rule for small GEMMs is OpenBLAS's")
    monkeypatch.setattr(_pool, "WORKERS", 2)
    seen = _pool.map_small_gemms(lambda _: frozenset(_blas_threads()), range(4), macs)
    assert set().union(*seen) == inside
    assert set(_blas_threads()) == {2}

"""Start-up code shared by the ``bench_*.py`` scripts.

Each script runs standalone (``python benchmarks/bench_x.py``; the script's
folder is on ``sys.path``, so ``import _common`` finds this file) and calls
:func:`setup_blas` before it imports NumPy. Every timing goes through
:func:`time_rounds` and its short forms :func:`time_pairs`, :func:`time_call`
and :func:`time_ratio`; ``python benchmarks/_common.py`` checks them.
"""

from __future__ import annotations

import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
CHECKOUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)


def flag_value(flag: str, default: str | None = None) -> str | None:
    """The command-line word after ``flag`` (``default`` when ``flag`` is absent)."""
    return sys.argv[sys.argv.index(flag) + 1] if flag in sys.argv else default


def setup_blas(threads: str | None = None) -> None:
    """Prepare the BLAS environment; call before NumPy is imported.

    If OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set and ``--keep-openblas-env``
    is not on the command line, re-execute the script without them (as
    ``shared/bench/peers.py`` does). Then set the BLAS/OpenMP thread variables
    to ``threads`` (``None`` leaves them as they are).
    """
    if "--keep-openblas-env" not in sys.argv and any(v in os.environ for v in OPENBLAS_VARS):
        env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    if threads is not None:
        for var in THREAD_VARS:
            os.environ[var] = threads


def use_checkout() -> None:
    """Make ``import structmat`` find the checkout above this folder when it is not installed."""
    try:
        import structmat  # noqa: F401
    except ImportError:  # run from a checkout without installing
        sys.path.insert(0, CHECKOUT)


def run_in_tree(tree: str, script: str, *args: str) -> Any:
    """Run ``python -c script *args`` with ``tree``'s structmat, in ``tree``: its last line as JSON.

    For speed gates, old checkout against new: the two trees are both called
    ``structmat``, so each side runs in a fresh process of its own.
    """
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.path.abspath(tree)),
        cwd=os.path.abspath(tree),
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def skip(why: str) -> NoReturn:
    """Exit with the code that ``structmat bench`` reports as "skipped", saying ``why``.

    For a script that cannot run on this machine: an optional dependency
    missing, no GPU, a required argument not given.
    """
    use_checkout()
    from structmat._cli_bench import SKIPPED

    print(f"{os.path.basename(sys.argv[0])}: skipped: {why}")
    sys.exit(SKIPPED)


# ---------------------------------------------------------------------------- the timing harness
# Hand-written on purpose (the rest is the standard library's ``timeit.Timer``): the
# project's rule is "ratios in one run, medians of three, the two sides of a ratio
# interleaved". pyperf runs each benchmark in its own worker processes, one after the
# other, and ``timeit.Timer.repeat`` repeats one statement back to back, so with
# either the two sides of a ratio see different stretches of a shared machine's load.
# Here they alternate round by round in one process. Measured (2026-12-03, 2 shared
# cores, load average 9): scipy.fft.fft of 2^14 x 8 against itself, 12 trials of
# three 50 ms loops a side, |ratio - 1| median 0.27 (max 0.42) one side after the
# other, 0.10 (max 0.23) interleaved.

BLAS_IDLE_S = 0.3
"""Pause before each timed loop where BLAS runs threaded: OpenBLAS threads spin about
0.1 s after a threaded call before they sleep, and would take the cores from the next
function."""


def _timer(
    fn: Callable[[], object], sync: Callable[[], object] | None, keep_gc: bool
) -> timeit.Timer:
    # timeit.Timer turns the collector off around its loop; a setup of gc.enable turns it back on
    setup = gc.enable if keep_gc else "pass"
    if sync is None:
        return timeit.Timer(fn, setup)

    def call() -> None:
        fn()
        sync()  # the clock stops after the device has finished the call

    return timeit.Timer(call, setup)


def _loops(timer: timeit.Timer, first: float, min_time: float) -> int:
    """Calls per timed loop so that one loop lasts at least ``min_time`` seconds."""
    if first >= min_time:
        return 1
    # the warm-up call of a microsecond function is often 10x slower than the next ones
    number, total = 1, timer.timeit(1)
    while total < min_time / 4 and number < 10**7:
        number = max(2 * number, math.ceil(number * min_time / 4 / max(total, 1e-9)))
        total = timer.timeit(number)
    return max(1, math.ceil(number * min_time / max(total, 1e-9)))


def time_rounds(
    fns: Sequence[Callable[[], object]],
    *,
    repeats: int = 3,
    min_time: float = 0.1,
    sync: Callable[[], object] | None = None,
    pause: float = 0.0,
    warmup: bool = True,
    once_over: float | None = None,
    keep_gc: bool = False,
) -> list[list[float]]:
    """Seconds per call of each of ``fns``, one value per round, the functions interleaved.

    Each function gets a warm-up call (its time sets the loop length) and then, in
    each of ``repeats`` rounds, one timed loop of calls lasting at least
    ``min_time`` seconds; round ``r`` times ``fns[0]``, ``fns[1]``, ... in turn, so
    a change of machine load between rounds hits every function alike. Loops of
    more than one call start with an untimed call (the previous function's data
    has left the caches). The garbage collector is off while a loop runs
    (``timeit.Timer``) unless ``keep_gc``.

    Parameters
    ----------
    fns : sequence of callables without arguments
        The functions to time.
    repeats : int
        Rounds (timed loops per function).
    min_time : float
        Least length of one timed loop, seconds; a call longer than this is
        timed alone.
    sync : callable, optional
        Called after every call, inside the timing (e.g.
        ``cupy.cuda.Device().synchronize`` or ``torch.cuda.synchronize``).
    pause : float
        Seconds to sleep before each timed loop (see :data:`BLAS_IDLE_S`).
    warmup : bool
        ``False``: no warm-up call and one call per loop (calls of seconds that
        are run once, ``repeats=1``).
    once_over : float, optional
        A function whose warm-up call took longer than this many seconds is not
        called again: that call's time stands for every round.
    keep_gc : bool
        Leave the garbage collector on (calls of seconds whose memory is
        measured: a client's reference cycles would pile up).

    Returns
    -------
    list of lists of float
        ``out[i][r]``: seconds per call of ``fns[i]`` in round ``r``.

    Examples
    --------
    >>> out = time_rounds([lambda: sum(range(100)), lambda: None], repeats=3, min_time=1e-3)
    >>> [len(t) for t in out]
    [3, 3]
    """
    if repeats < 1 or min_time < 0:
        msg = f"time_rounds expects repeats >= 1 and min_time >= 0, got {repeats} and {min_time}"
        raise ValueError(msg)
    timers = [_timer(fn, sync, keep_gc) for fn in fns]
    loops, fixed = [], []
    for timer in timers:
        if not warmup:
            loops.append(1)
            fixed.append(None)
            continue
        first = timer.timeit(1)
        fixed.append(first if once_over is not None and first > once_over else None)
        loops.append(_loops(timer, first, min_time) if fixed[-1] is None else 1)
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for timer, number, done, times in zip(timers, loops, fixed, out, strict=True):
            if done is not None:
                times.append(done)
                continue
            if pause:
                time.sleep(pause)
            if number > 1:
                timer.timeit(1)
            times.append(timer.timeit(number) / number)
    return out


def time_pairs(fns: Sequence[Callable[[], object]], **options: Any) -> list[float]:
    """Median seconds per call of each of ``fns``, timed in interleaved rounds.

    ``options`` are those of :func:`time_rounds`.

    Examples
    --------
    >>> fast, slow = time_pairs([lambda: None, lambda: time.sleep(1e-3)], min_time=1e-2)
    >>> fast < slow
    True
    """
    return [statistics.median(t) for t in time_rounds(fns, **options)]


def time_call(fn: Callable[[], object], **options: Any) -> float:
    """Median seconds per call of ``fn`` (the options of :func:`time_rounds`).

    Examples
    --------
    >>> time_call(lambda: time.sleep(1e-3), min_time=1e-2) >= 1e-3
    True
    """
    return time_pairs([fn], **options)[0]


def time_ratio(
    fn_a: Callable[[], object], fn_b: Callable[[], object], **options: Any
) -> tuple[float, float, float]:
    """Median seconds of ``fn_a`` and of ``fn_b``, and the median over rounds of their ratio.

    The two sides alternate (a, b, a, b, ...; see :func:`time_rounds`), and the
    ratio is taken round by round, so load that changes between rounds cancels.

    Examples
    --------
    >>> t_a, t_b, ratio = time_ratio(lambda: time.sleep(2e-3), lambda: time.sleep(1e-3))
    >>> t_a > t_b and ratio > 1
    True
    """
    ta, tb = time_rounds([fn_a, fn_b], **options)
    ratio = statistics.median(a / b for a, b in zip(ta, tb, strict=True))
    return statistics.median(ta), statistics.median(tb), ratio


def _self_check() -> None:
    """``python benchmarks/_common.py``: the examples above, and the harness on calls of known length."""
    import doctest

    failed, tried = doctest.testmod()
    assert tried > 0, "no examples found"
    assert failed == 0, f"{failed} of {tried} examples failed"
    print(f"examples: {tried} run, all passed")
    t_a, t_b, ratio = time_ratio(lambda: time.sleep(4e-3), lambda: time.sleep(2e-3), min_time=0.05)
    print(f"sleep 4 ms: {t_a * 1e3:.2f} ms, sleep 2 ms: {t_b * 1e3:.2f} ms, ratio {ratio:.2f}")
    # a sleep lasts at least its argument; a loaded machine adds to it, but far less than
    # a loop of ~12 calls counted as one call would
    assert 4e-3 <= t_a < 2 * 4e-3 + 5e-3, t_a
    assert 2e-3 <= t_b < 2 * 2e-3 + 5e-3, t_b
    calls = [0]

    def count() -> None:
        calls[0] += 1

    t = time_call(lambda: None, sync=count, min_time=0.01, repeats=3)
    print(f"empty call: {t * 1e9:.0f} ns, sync called {calls[0]} times")
    assert calls[0] > 100, calls  # loops of many calls, each synchronized
    assert gc.isenabled()
    states: list[bool] = []
    time_rounds([lambda: states.append(gc.isenabled())], keep_gc=True, min_time=0, repeats=1)
    time_rounds([lambda: states.append(gc.isenabled())], min_time=0, repeats=1)
    assert states[0], "keep_gc=True: the collector was off"
    assert not states[-1], "the collector was on in a timed loop"
    once = time_rounds([lambda: time.sleep(0.02)], once_over=0.01, repeats=3)[0]
    assert len(set(once)) == 1, once  # the warm-up call stood for every round
    message = ""
    try:
        time_rounds([lambda: None], repeats=0)
    except ValueError as exc:
        message = str(exc)
    assert "repeats >= 1" in message, "repeats=0 was accepted"
    print("harness self-check: ok")


if __name__ == "__main__":
    _self_check()

"""Worker processes for a run's fits, stopped at once and quietly by Ctrl-C or SIGTERM.

The parent owns interrupts: workers ignore SIGINT (a terminal's Ctrl-C reaches every process of the
job) and the parent kills them when it is interrupted, so no fit runs on after Ctrl-C, none is left
behind, and the run ends in the CLI's one line. Joblib's pool was not used for this: without psutil
and ``pgrep`` it could not kill its workers and printed a warning and a traceback, then hung.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

from kwct_ml import errors, lifeline

_INTERRUPTS = {signal.SIGINT}
#: Thread pools of numerical libraries, capped to cores // workers in workers (as joblib does): without
#: the cap, workers with a thread per core each oversubscribe the cores (experiments/timing.md).
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _init_worker(threads: int, parent: int) -> None:
    for var in THREAD_VARS:  # for libraries loaded later
        os.environ.setdefault(var, str(threads))
    from threadpoolctl import threadpool_limits  # and those already loaded (forked from the
    threadpool_limits(threads)                   # parent: numpy and scikit-learn are loaded)
    lifeline.become_worker(parent)  # a SIGKILLed train cannot stop its workers: they watch it
    # workers start with SIGINT blocked (see ordered_map); a Ctrl-C pending from start-up is dropped
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)


def timed_call(target: Callable, *args):
    """``(target(*args), CPU seconds of this process meanwhile)``: one job of a pool running
    several kinds of work (``ordered_map(timed_call, [(target, *args), ...], n)``)."""
    start = time.process_time()
    result = target(*args)
    return result, time.process_time() - start


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL every worker of ``pool`` (a fit cannot be cancelled; Python < 3.14 has no public call)."""
    kill = getattr(pool, "kill_workers", None)
    if kill is not None:
        kill()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()


def _context():
    """Workers forked from the parent: no interpreter start-up per stage (spawned workers made CV
    1.6x slower, experiments/timing.md), and they are its children, which ``lifeline`` watches. The
    fork happens in ``submit`` before the pool starts its threads; the parent runs no other thread
    then (progress bars are off without a terminal, and a terminal's bar thread only sleeps)."""
    return multiprocessing.get_context("fork")


def ordered_map(func: Callable, jobs: Sequence[tuple], n_jobs: int, tick: Callable[[], None] | None = None
                ) -> list:
    """``[func(*job) for job in jobs]`` in ``n_jobs`` fresh processes (here when 1), in order;
    ``tick()`` after each.

    An exception in the parent (KeyboardInterrupt included) kills the workers before it propagates.
    Workers are forked with SIGINT blocked, and stay so until ``_init_worker`` ignores it.
    """
    if n_jobs == 1 or len(jobs) < 2:
        results = []
        for job in jobs:
            results.append(func(*job))
            if tick is not None:
                tick()
        return results
    workers = min(n_jobs, len(jobs))
    pool = ProcessPoolExecutor(workers, mp_context=_context(),
                               initializer=_init_worker,
                               initargs=(max(1, (os.cpu_count() or 1) // workers), os.getpid()))
    try:
        # Starting workers is not interrupted halfway (a half-started worker prints a traceback): the
        # parent holds Ctrl-C until they are up, and they inherit SIGINT blocked.
        with errors.signals_deferred():
            old = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
            try:
                futures = [pool.submit(func, *job) for job in jobs]
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
        results = []
        for future in futures:
            results.append(future.result())
            if tick is not None:
                tick()
        return results
    except BaseException:
        _kill_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

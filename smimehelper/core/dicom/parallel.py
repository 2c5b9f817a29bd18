"""One job per file (de-identify, compress) on every core when there are many files.

A CBCT study is hundreds of files; one process uses one core while the other idles. With
:data:`MIN_PARALLEL` files or more and more than one usable core, the files are shared out in
small batches: from a single-threaded process (the CLI) this process works too and forked
helpers take batches beside it (forked.py: a fork costs about 1 ms, and a helper that gets no
CPU on a busy machine costs nothing); from a program with other threads, worker processes of a
pool started by a fork server.

Safe by construction:
- every job writes its output to a temporary name and renames it when complete
  (``files.replacing_writer``), so a job that is stopped leaves nothing behind;
- workers ignore Ctrl-C (the terminal sends it to the whole process group) and SIGTERM: the
  parent decides, stops handing out work, waits for the batches in flight and then lets the
  signal act as it would have (the CLI: Ctrl-C or Terminated), and the caller removes what
  was written. While the pool runs, the parent's own handlers only set a flag (an exception
  raised inside the executor's locks would hang it);
- from a program with other threads (the desktop app runs this on a worker thread) the workers
  come from a fork server, never a fork of a threaded process.
Results come back in the order of ``jobs``; the first error is raised as it was (a UserError
keeps its message), after the other batches in flight have finished.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
MIN_PARALLEL = 16
BATCH = 8
MAX_WORKERS = 4


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def run_all(fn: Callable[..., T], jobs: Sequence[tuple[Any, ...]], *,
            progress: Callable[[int, int], None] | None = None,
            cancelled: Callable[[], bool] | None = None,
            on_cancel: Callable[[], BaseException] | None = None,
            workers: int | None = None, batch: int = BATCH) -> list[T]:
    """``[fn(*job) for job in jobs]``, in parallel when worthwhile; ``progress(done, total)``
    after each file, ``cancelled()`` polled between files (then ``on_cancel()`` is raised).
    ``fn`` must be a module-level function (it is sent to the workers by name); ``batch`` files
    go to a worker at a time (1 for long jobs, so that a stop waits for one file per worker)."""
    total = len(jobs)
    count = min(workers or usable_cores(), MAX_WORKERS, max(1, total // batch))
    if total < MIN_PARALLEL or count < 2:
        results = []
        for number, job in enumerate(jobs, start=1):
            _check(cancelled, on_cancel)
            results.append(fn(*job))
            if progress:
                progress(number, total)
        return results
    if _can_fork():  # this process works too, forked helpers share the batches (forked.py)
        from .forked import run_forked

        return run_forked(fn, jobs, count, batch, _STOP_SIGNALS, progress, cancelled, on_cancel)
    return _in_workers(fn, jobs, count, batch, progress, cancelled, on_cancel)


def _can_fork() -> bool:
    """Forking is safe only from the main thread of a process without other threads."""
    return (hasattr(os, "fork") and threading.current_thread() is threading.main_thread()
            and threading.active_count() == 1)


def _check(cancelled: Callable[[], bool] | None, on_cancel: Callable[[], BaseException] | None) -> None:
    if cancelled is not None and cancelled():
        raise on_cancel() if on_cancel else KeyboardInterrupt


def _in_workers(fn: Callable[..., T], jobs: Sequence[tuple[Any, ...]], count: int, size: int,
                progress: Callable[[int, int], None] | None, cancelled: Callable[[], bool] | None,
                on_cancel: Callable[[], BaseException] | None) -> list[T]:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    main = threading.current_thread() is threading.main_thread()
    context = multiprocessing.get_context("fork" if main and threading.active_count() == 1 else "forkserver")
    batches = [list(range(start, min(start + size, len(jobs)))) for start in range(0, len(jobs), size)]
    results: list[Any] = [None] * len(jobs)
    done_files = 0
    # Ctrl-C and SIGTERM only set a flag while the pool runs: an exception raised by a signal
    # handler inside the executor's locks (wait(), submit()) would leave a lock held and hang
    # the shutdown below. The flag is turned into KeyboardInterrupt at a safe point.
    stops: list[int] = []
    previous = {}
    if main:
        for number in _STOP_SIGNALS:
            if signal.getsignal(number) not in (signal.SIG_IGN, None):  # nohup: an ignored HUP stays ignored
                previous[number] = signal.signal(number, lambda signum, _frame: stops.append(signum))
    pool = ProcessPoolExecutor(count, mp_context=context, initializer=_worker_started)
    try:
        pending = {pool.submit(_batch, fn, [jobs[i] for i in batch]): batch for batch in batches}
        while pending and not stops:
            finished, _ = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            if stops:
                break
            _check(cancelled, on_cancel)
            for future in finished:
                batch = pending.pop(future)
                for index, value in zip(batch, future.result()):
                    results[index] = value
                done_files += len(batch)
                if progress:
                    progress(done_files, len(jobs))
        pool.shutdown(wait=True, cancel_futures=bool(stops))  # with a stop: the batches in flight finish
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if stops:  # now, outside the pool, the signal does what it would have done (Ctrl-C, SIGTERM...)
        signal.raise_signal(stops[0])
        raise KeyboardInterrupt
    return results


def _batch(fn: Callable[..., T], jobs: list[tuple[Any, ...]]) -> list[T]:
    return [fn(*job) for job in jobs]


def _worker_started() -> None:
    # The parent decides (it gets the same Ctrl-C, or the SIGTERM): a worker finishes the file
    # in hand, whose output is complete or removed, and exits when the pool shuts down.
    for number in _STOP_SIGNALS:  # SIGINT, SIGTERM, SIGHUP (a closed terminal)
        signal.signal(number, signal.SIG_IGN)

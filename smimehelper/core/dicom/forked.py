"""parallel.run_all from a single-threaded process: this process works too, helped by forks.

Why not a process pool here: measured on the project's 2-core machine with 500 files, a
ProcessPoolExecutor (13 ms of imports, a manager and a feeder thread, every job pickled, the
parent idle) was slower than one process whenever the other core was busy, and at best about
as fast as this. Here the batches are numbered tokens in a pipe, written before anyone starts;
this process and ``count - 1`` forked helpers each take the next token until none is left. A
fork costs about 1 ms, a token one read; a helper that gets no CPU (the machine is busy) leaves
the work to this process, which is then as fast as working alone, and a free core halves the
time. Helpers send their results (or their error) back through their own pipe.

The same guarantees as parallel.run_all: helpers ignore Ctrl-C, SIGTERM and SIGHUP; while the
work runs this process's handlers only set a flag, checked after every file: then no new batch
is started (the tokens are drained), the batches in hand are finished, every helper has exited
and the signal acts as it would have. A helper that finds this process gone stops before its
next batch. Results come in the order of the jobs; the first error is raised as it was.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
from collections.abc import Callable, Sequence
from typing import Any

_TOKEN = struct.Struct("<I")
_HEADER = struct.Struct("<BI")  # kind (0 results, 1 error), length of the pickle that follows
_MAX_TOKENS = 8192  # 32 KB of tokens: the whole pipe is written before anyone reads (64 KB buffer)


class HelperLost(ChildProcessError):
    """A helper process ended without finishing its files (killed, out of memory)."""


def run_forked(fn: Callable[..., Any], jobs: Sequence[tuple[Any, ...]], count: int, size: int,
               stop_signals: Sequence[int], progress: Callable[[int, int], None] | None,
               cancelled: Callable[[], bool] | None,
               on_cancel: Callable[[], BaseException] | None) -> list[Any]:
    size = max(size, -(-len(jobs) // _MAX_TOKENS))
    batches = [range(start, min(start + size, len(jobs))) for start in range(0, len(jobs), size)]
    results: list[Any] = [None] * len(jobs)
    finished: set[int] = set()
    tokens, write_end = os.pipe()
    try:
        os.write(write_end, b"".join(_TOKEN.pack(number) for number in range(len(batches))))
    finally:
        os.close(write_end)  # empty and closed: a read then says there is nothing left
    os.set_blocking(tokens, False)
    stops: list[int] = []
    previous = {}
    for number in stop_signals:
        if signal.getsignal(number) not in (signal.SIG_IGN, None):  # nohup: an ignored HUP stays ignored
            previous[number] = signal.signal(number, lambda signum, _frame: stops.append(signum))
    helpers: dict[int, int] = {}  # pid -> the pipe its messages come through
    inbox: dict[int, bytearray] = {}
    failure: BaseException | None = None
    done = 0

    def delivered(token: int, values: list[Any]) -> None:
        nonlocal done
        for index, value in zip(batches[token], values):
            results[index] = value
        finished.add(token)
        done += len(values)
        if progress:
            progress(done, len(jobs))

    try:
        parent = os.getpid()
        for _ in range(count - 1):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the helper: never returns
                os.close(read_end)
                _helper(fn, jobs, batches, tokens, write_end, parent, stop_signals)
            os.close(write_end)
            os.set_blocking(read_end, False)
            helpers[pid] = read_end
            inbox[read_end] = bytearray()
        while failure is None and not stops:
            token = _take(tokens)
            if token is None:
                break
            values = []
            for index in batches[token]:
                if stops:
                    break
                if cancelled is not None and cancelled():
                    failure = on_cancel() if on_cancel else KeyboardInterrupt()
                    break
                values.append(fn(*jobs[index]))
            if len(values) == len(batches[token]):
                delivered(token, values)
            if failure is None:
                failure = _read_messages(inbox, delivered)
    except BaseException as exc:  # this process's own job failed
        failure = exc
    finally:
        _take_all(tokens)  # nobody starts another batch
        late = _wait_for(helpers, inbox, delivered)
        os.close(tokens)
        for number, handler in previous.items():
            signal.signal(number, handler)
    if stops:  # now, with every helper gone, the signal does what it would have done
        signal.raise_signal(stops[0])
        raise KeyboardInterrupt
    failure = failure or late
    if failure is not None:
        raise failure
    if len(finished) != len(batches):
        raise HelperLost("a helper process ended before it had finished its files")
    return results


def _take(tokens: int) -> int | None:
    try:
        data = os.read(tokens, _TOKEN.size)
    except BlockingIOError:
        return None
    if len(data) != _TOKEN.size:
        return None  # empty (a short read cannot happen: tokens are written and read whole)
    return _TOKEN.unpack(data)[0]


def _take_all(tokens: int) -> None:
    while _take(tokens) is not None:
        pass


def _read_messages(inbox: dict[int, bytearray], delivered: Callable[[int, list[Any]], None]) -> BaseException | None:
    """What the helpers have sent so far (never waits); the first error sent."""
    failure = None
    for fd in inbox:
        _receive(inbox, fd)
        failure = failure or _parse(inbox, fd, delivered)
    return failure


def _wait_for(helpers: dict[int, int], inbox: dict[int, bytearray],
              delivered: Callable[[int, list[Any]], None]) -> BaseException | None:
    """Read every helper's messages until it closes its pipe (it has exited), then reap it."""
    failure = None
    open_fds = set(helpers.values())
    while open_fds:
        ready, _, _ = select.select(list(open_fds), [], [])
        for fd in ready:
            if not _receive(inbox, fd):
                open_fds.discard(fd)
            failure = failure or _parse(inbox, fd, delivered)
    for pid, fd in helpers.items():
        os.waitpid(pid, 0)
        os.close(fd)
    return failure


def _receive(inbox: dict[int, bytearray], fd: int) -> bool:
    """Append what is waiting in ``fd`` to its buffer; False once the helper closed it."""
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        if not data:
            return False
        inbox[fd] += data


def _parse(inbox: dict[int, bytearray], fd: int, delivered: Callable[[int, list[Any]], None]) -> BaseException | None:
    """Hand over every complete message in ``fd``'s buffer; the first error among them."""
    failure = None
    buffer = inbox[fd]
    while len(buffer) >= _HEADER.size:
        kind, length = _HEADER.unpack_from(buffer)
        if len(buffer) < _HEADER.size + length:
            break
        message = pickle.loads(bytes(buffer[_HEADER.size:_HEADER.size + length]))
        del buffer[:_HEADER.size + length]
        if kind == 0:
            delivered(*message)
        elif failure is None:
            failure = message
    return failure


def _helper(fn: Callable[..., Any], jobs: Sequence[tuple[Any, ...]], batches: list[range], tokens: int,
            out: int, parent: int, stop_signals: Sequence[int]) -> None:
    code = 0
    try:
        for number in stop_signals:  # the parent decides (it gets the same Ctrl-C, or the SIGTERM)
            signal.signal(number, signal.SIG_IGN)
        os.set_blocking(out, True)
        while os.getppid() == parent:  # orphaned (the parent was killed): stop
            token = _take(tokens)
            if token is None:
                break
            try:
                values = [fn(*jobs[index]) for index in batches[token]]
            except BaseException as exc:  # noqa: BLE001  (sent to the parent, raised there)
                _send(out, 1, _portable(exc))
                break
            _send(out, 0, (token, values))
    except BaseException:  # noqa: BLE001  (the parent sees the missing batch)
        code = 1
    finally:
        os._exit(code)


def _send(fd: int, kind: int, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(kind, len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling (a UserError keeps its message), else a plain stand-in."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}")

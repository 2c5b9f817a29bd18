"""Run a producing iterator on a worker thread, with a bounded hand-over queue.

Composing is a chain of stages: making the MIME (read, base64, hash), encrypting, and encoding
and writing the result. base64, SHA-256 and file writes release the GIL (AES does not), so
running the stages on their own threads overlaps much of the work on two cores. The queue holds
at most ``depth`` chunks, so memory stays bounded whatever the attachment size.

A stage writes its chunks into buffers it reuses (:class:`BufferRing`) instead of new ``bytes``
for every chunk: fresh memory of that size comes from the kernel page by page (the page faults
of 143 MB cost as much as encrypting it), reused memory does not. :class:`AlignedBlocks` fills
such buffers in blocks the next stage can take as they are; :class:`EarlyWriteback` lets the
disk start writing while the message is still being made.
"""

from __future__ import annotations

import io
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()

WRITEBACK_BYTES = 8 << 20  # how often the disk is told to start writing what was written
IN_FLIGHT_EXTRA = 2  # besides the queued chunks: the one being consumed and the one being made


def usable_cpus() -> int:
    """How many CPUs this process may run on (its affinity, where the system tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def ring_size(depth: int) -> int:
    """How many reusable buffers a producer in front of ``in_background(..., depth)`` needs:
    ``depth`` chunks queued, one the consumer is working on, one being made."""
    return depth + IN_FLIGHT_EXTRA


class BufferRing:
    """``count`` reusable buffers of ``size`` bytes, handed out in turn.

    A buffer comes round again after ``count`` calls of :meth:`next`. A producer feeding
    :func:`in_background` with depth d must use a ring of :func:`ring_size` (d) buffers and
    yield at most one chunk per buffer; its consumer must be done with a chunk when it asks for
    the next one (copy it, encrypt it, write it: never keep it).
    """

    def __init__(self, size: int, count: int) -> None:
        if size <= 0 or count <= 0:
            raise ValueError("a BufferRing needs a positive size and count")
        self.size = size
        self._buffers: list[memoryview | None] = [None] * count  # allocated on first use
        self._turn = 0

    def next(self) -> memoryview:
        turn = self._turn
        self._turn = (turn + 1) % len(self._buffers)
        buffer = self._buffers[turn]
        if buffer is None:
            buffer = self._buffers[turn] = memoryview(bytearray(self.size))
        return buffer


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def in_background(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """Yield what ``items`` yields, computing it on a worker thread ``depth`` chunks ahead.

    Exceptions of the producer are re-raised in the consumer; if the consumer stops early (an
    error, a cancel), the producer is told to stop and is joined, so no thread outlives the call.
    """
    handover: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handover.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as error:  # handed to the consumer, which re-raises it
            put(_Failure(error))
        finally:
            close = getattr(items, "close", None)
            if close is not None and stop.is_set():
                try:
                    close()
                except Exception:
                    pass

    worker = threading.Thread(target=produce, name="smimehelper-compose", daemon=True)
    worker.start()
    try:
        while True:
            item = handover.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


class AlignedBlocks:
    """Fill a ring's buffers and hand them out as blocks of a multiple of ``align`` bytes.

    The few bytes past the last whole multiple are carried to the front of the next buffer, so
    the next layer (base64: 57-byte groups) can encode each block on its own. The next buffer
    is taken from the ring only when something is written into it, i.e. after the consumer of
    this generator took the block before: that is what makes :func:`ring_size` buffers enough.
    """

    def __init__(self, ring: BufferRing, align: int = 1) -> None:
        if align < 1 or ring.size < 2 * align:
            raise ValueError("the ring's buffers must hold at least two aligned units")
        self._ring = ring
        self._align = align
        self._buffer: memoryview | None = None
        self._carry = b""
        self._pos = 0
        self.capacity = ring.size - (align - 1)  # room in a fresh buffer, after any carry
        self._flush_at = ring.size // 2

    def _current(self) -> memoryview:
        if self._buffer is None:
            self._buffer = self._ring.next()
            self._pos = len(self._carry)
            self._buffer[: self._pos] = self._carry
            self._carry = b""
        return self._buffer

    @property
    def room(self) -> int:
        self._current()
        return self._ring.size - self._pos

    @property
    def free(self) -> memoryview:
        """The unwritten rest of the current buffer (write, then :meth:`advance`)."""
        return self._current()[self._pos :]

    def advance(self, count: int) -> None:
        self._pos += count

    @property
    def full_enough(self) -> bool:
        return self._buffer is not None and self._pos >= self._flush_at

    def put(self, data: bytes | memoryview) -> Iterator[memoryview]:
        """Copy ``data`` in, yielding the blocks it fills."""
        view = memoryview(data).cast("B")
        while view:
            buffer = self._current()
            count = min(self._ring.size - self._pos, len(view))
            buffer[self._pos : self._pos + count] = view[:count]
            self._pos += count
            view = view[count:]
            if self._pos == self._ring.size:
                yield self.take()

    def take(self, last: bool = False) -> memoryview:
        """The block written so far (all of it when ``last``); the rest waits for the next."""
        buffer = self._current()
        whole = self._pos if last else self._pos - self._pos % self._align
        self._carry = bytes(buffer[whole : self._pos])
        self._buffer = None
        self._pos = 0
        return buffer[:whole]


class EarlyWriteback:
    """Let the disk write the message while it is still being made.

    The message is fsynced before it is renamed into place (a crash never leaves half of it);
    done only at the end, that fsync waits for all 200 MB of a 100 MB study at once. Every
    WRITEBACK_BYTES the bytes written so far are handed to the kernel for writing out
    (``posix_fadvise(DONTNEED)`` on Linux starts the writeback of dirty pages without waiting
    and drops none of them, since they are still dirty or being written), so the final fsync
    only waits for the last few MB. Where there is no posix_fadvise this does nothing.
    """

    def __init__(self, sink: io.BufferedWriter, every: int = WRITEBACK_BYTES) -> None:
        self._every = every
        self._sink = sink
        self._advise = getattr(os, "posix_fadvise", None)
        self._since = 0
        self._start = 0

    def written(self, count: int) -> None:
        """``count`` more bytes were given to the sink."""
        self._since += count
        if self._advise is None or self._since < self._every:
            return
        self._since = 0
        try:
            raw = self._sink.raw
            end = raw.tell()  # what reached the file (the sink may hold a few small pieces)
            self._advise(raw.fileno(), self._start, end - self._start, os.POSIX_FADV_DONTNEED)
            self._start = end
        except (OSError, AttributeError, ValueError):
            self._advise = None  # not a plain file (or no such advice here): leave it to fsync

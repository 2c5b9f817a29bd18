"""Run a producing iterator on a worker thread, with a bounded hand-over queue.

Composing is a chain of stages: making the MIME (read, base64, hash), encrypting, and encoding
and writing the result. base64, SHA-256 and file writes release the GIL (AES does not), so
running the stages on their own threads overlaps much of the work on two cores. The queue holds
at most ``depth`` chunks, so memory stays bounded whatever the attachment size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


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

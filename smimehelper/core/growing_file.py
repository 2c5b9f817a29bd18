"""A private temporary file that one thread fills while another already reads it.

A message fetched from the mail server in chunks is written here as it arrives, and the
streaming reader opens it at the same time: reading a range that has not arrived yet waits for
it, so network and decryption overlap and the message is never held in memory. The reader sees
the size the server announced; if the fetch fails (or is cancelled), every waiting read raises
that error, so a half-fetched message can never be judged as if it were complete.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from pathlib import Path

from .errors import InputFileError

WAIT_SECONDS = 0.5  # waits are sliced so Ctrl-C reaches a reader that waits for data


class GrowingFile(io.RawIOBase):
    """``read``/``seek``/``tell`` for the reader; ``append``/``finish``/``fail`` for the fetcher.

    The file is created 0600 in ``directory`` (which the caller keeps private and removes).
    ``size`` is the announced total: reads never go past it, ``seek(0, 2)`` lands on it.
    """

    def __init__(self, directory: Path, size: int, *, name: str = "message") -> None:
        super().__init__()
        if size < 0:
            raise ValueError("size must not be negative")
        fd, path = tempfile.mkstemp(prefix=f".{name}-", suffix=".eml", dir=directory)  # 0600
        self.path = Path(path)
        self._fd = fd
        self.size = size
        self._written = 0
        self._done = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._pos = 0

    # -- the fetcher's side ---------------------------------------------------------------------
    @property
    def written(self) -> int:
        return self._written

    def append(self, data: bytes) -> None:
        if self._written + len(data) > self.size:
            raise ValueError("more data than the announced size")  # the fetcher checks first
        view = memoryview(data)
        offset = self._written
        try:
            while view:
                count = os.pwrite(self._fd, view, offset)
                view = view[count:]
                offset += count
        except OSError as exc:
            raise InputFileError(
                f"The temporary copy of the message could not be written ({exc.strerror}). Free "
                "some disk space and try again."
            ) from None
        with self._cond:
            self._written = offset
            self._cond.notify_all()

    def finish(self) -> None:
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            if self._error is None:
                self._error = error
            self._cond.notify_all()

    # -- the reader's side ----------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        position = base + offset
        if position < 0:
            raise ValueError("negative seek position")
        self._pos = position
        return position

    def tell(self) -> int:
        return self._pos

    def _wait_for(self, end: int) -> int:
        """Block until ``end`` bytes are there (or the fetch ended); returns what may be read."""
        with self._cond:
            while self._written < end and not self._done and self._error is None:
                self._cond.wait(WAIT_SECONDS)
            if self._error is not None:
                raise self._error
            return min(end, self._written)

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("read of a closed file")
        end = self.size if size is None or size < 0 else min(self._pos + size, self.size)
        if end <= self._pos:
            return b""
        end = self._wait_for(end)
        if end <= self._pos:
            return b""
        data = os.pread(self._fd, end - self._pos, self._pos)
        self._pos += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()

"""Copy the Pixel Data element of a DICOM file byte for byte, in bounded memory.

De-identification rewrites the header only; the image (up to a GB for a CBCT volume) goes from
the original file to the output in 1 MB chunks (pydicom engine), or in one read and one write for
a slice and by the kernel's copy for anything larger (byte-level engine: copy_range). Both native (defined length) and encapsulated
(undefined length: items up to the sequence delimiter) pixel data are handled. Elements after
the pixel data (Data Set Trailing Padding, Digital Signatures, private groups above 7FE0) are
not copied: the Basic Profile removes them anyway (PS3.15 Table E.1-1; docs/dicom.md).
"""

from __future__ import annotations

import errno
import os
import struct
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

CHUNK = 1 << 20
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
_PIXEL_TAGS = {(0x7FE0, 0x0010), (0x7FE0, 0x0008), (0x7FE0, 0x0009)}
UNDEFINED = 0xFFFFFFFF


class PixelDataError(ValueError):
    """The pixel data is truncated or not where the header says."""


def copy_pixel_element(src: BinaryIO, out: BinaryIO, *, implicit: bool) -> int:
    """Copy the element at ``src``'s position (little endian) to ``out``; returns bytes copied.
    At the end of the file (no pixel data) nothing is copied."""
    head = src.read(8)
    if not head:
        return 0
    if len(head) < 8:
        raise PixelDataError("truncated element header")
    group, element = struct.unpack("<HH", head[:4])
    if (group, element) not in _PIXEL_TAGS:
        return 0  # no pixel data after the header (e.g. a report): nothing to copy
    if implicit:
        (length,) = struct.unpack("<I", head[4:8])
        header = head
    else:
        vr = head[4:6]
        if vr in _LONG_VRS:
            extra = _read_exact(src, 4)
            (length,) = struct.unpack("<I", extra)
            header = head + extra
        else:
            (length,) = struct.unpack("<H", head[6:8])
            header = head
    out.write(header)
    copied = len(header)
    if length != UNDEFINED:
        return copied + _copy(src, out, length)
    while True:  # encapsulated: items, then the sequence delimitation item
        item = _read_exact(src, 8)
        out.write(item)
        copied += 8
        tag = struct.unpack("<HH", item[:4])
        (item_length,) = struct.unpack("<I", item[4:8])
        if tag == (0xFFFE, 0xE0DD):
            return copied
        if tag != (0xFFFE, 0xE000) or item_length == UNDEFINED:
            raise PixelDataError("unexpected tag inside encapsulated pixel data")
        copied += _copy(src, out, item_length)


def _read_exact(src: BinaryIO, count: int) -> bytes:
    data = src.read(count)
    if len(data) != count:
        raise PixelDataError("the file ends inside the pixel data")
    return data


def _copy(src: BinaryIO, out: BinaryIO, count: int) -> int:
    left = count
    while left:
        block = src.read(min(CHUNK, left))
        if not block:
            raise PixelDataError("the file ends inside the pixel data")
        out.write(block)
        left -= len(block)
    return count


# -- the byte-level de-identifier's copy (file descriptors) -------------------------------------

READ_AT_ONCE = 1 << 20  # pixel data up to this size is read and written in one go (a CBCT slice)
_local = threading.local()


def buffer() -> memoryview:
    """This thread's 1 MB buffer for the pixel data (allocated once: a fresh one costs page faults)."""
    view = getattr(_local, "buffer", None)
    if view is None:
        view = _local.buffer = memoryview(bytearray(1 << 20))
    return view


def write_all(fd: int, chunks: list[Any]) -> None:
    """os.writev until every byte of ``chunks`` is written."""
    views = [memoryview(chunk) for chunk in chunks]
    while views:
        written = os.writev(fd, views)
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


_NOT_HERE = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM, errno.EBADF}


def copy_range(src: int, dst: int, offset: int, count: int) -> None:
    """Append ``count`` bytes of ``src`` from ``offset`` to ``dst`` (at its position), in the
    kernel when it can; PixelDataError when the source is shorter (it shrank while read)."""
    done = 0
    for method in _methods():
        try:
            while done < count:
                copied = method(src, dst, offset + done, count - done)
                if copied == 0:
                    raise PixelDataError("the file ends inside the pixel data")
                done += copied
            return
        except OSError as exc:
            if exc.errno not in _NOT_HERE:
                raise  # ENOSPC, EIO...: a real failure, reported as such
    raise OSError(errno.EIO, "the pixel data could not be copied")


def _methods() -> list[Callable[[int, int, int, int], int]]:
    methods: list[Callable[[int, int, int, int], int]] = []
    if hasattr(os, "copy_file_range"):
        methods.append(lambda src, dst, at, n: os.copy_file_range(src, dst, n, at))
    if hasattr(os, "sendfile"):
        methods.append(lambda src, dst, at, n: os.sendfile(dst, src, at, n))
    methods.append(_read_write)
    return methods


def _read_write(src: int, dst: int, at: int, count: int) -> int:
    block = os.pread(src, min(CHUNK, count), at)
    view = memoryview(block)
    while view:
        view = view[os.write(dst, view):]
    return len(block)

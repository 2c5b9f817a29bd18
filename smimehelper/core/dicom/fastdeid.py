"""De-identify a DICOM file at the byte level, without pydicom (the common case, fast).

pydicom costs about 0.25 s to import and 1.5-2 ms a file to read and write a header; a CBCT
study is hundreds of files. For files in Explicit VR Little Endian (native or compressed pixel
data) this engine parses the header itself (rawdicom.py), asks decisions.Decider what happens
to each attribute (the same table, options, dummies and UIDs as the pydicom engine), writes
only the bytes that change (new values; new lengths of the sequences and items around them;
the File Meta group length) and copies every other byte as it was. The pixel data element is
copied by the kernel (copy_file_range, else sendfile, else 1 MB reads), never decoded.

A file it cannot handle with certainty raises :class:`Unsupported` before anything is written,
and deidentify.deidentify_file uses the pydicom engine for it: implicit VR, big endian, deflate,
odd lengths, UN values that must be decoded, text outside ASCII that must be decoded, private
attributes under Retain Safe Private (pydicom's private dictionary decides), group lengths,
unusual File Meta, anything unexpected.
"""

from __future__ import annotations

import errno
import functools
import os
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .annex_e import DeidOptions
from .decisions import (
    BINARY_NUMBERS, EMPTY, ITEMS, KEEP, MEDIA_SOP_INSTANCE_UID, META_REMOVED, REMOVE, SOP_INSTANCE_UID, TEXT_VRS,
    Decider, DeidResult, DeidSession, finishing_attributes, identifying_terms, media_storage_uid,
)
from .files import replacing_fd
from .pixelcopy import CHUNK, PixelDataError
from .rawdicom import LONG_VRS, Damaged, Element, ParsedFile, Unsupported, ascii_text, parse

__all__ = ["Damaged", "Unsupported", "deidentify_fast"]

_STRING_VRS = TEXT_VRS | {"UI", "DA", "DT", "TM", "AS", "DS", "IS"}
_NUMBER_FORMAT = {"US": "<H", "SS": "<h", "UL": "<I", "SL": "<i", "FL": "<f", "FD": "<d", "UV": "<Q", "SV": "<q",
                  "AT": "<HH"}
_LONG_NAMES = frozenset(vr.decode() for vr in LONG_VRS)
_SHORT_HEADER = struct.Struct("<HH2sH")
_LONG_HEADER = struct.Struct("<HH2s2xI")
_ITEM_HEADER = struct.Struct("<HHI")
_REQUIRED_META = (0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012)  # what pydicom's writer requires
_VERSION_NAME = 0x00020013  # pydicom's writer adds its own when missing


def deidentify_fast(source: Path, output: Path, session: DeidSession, *, write_back: bool = False,
                    staged: bool = False) -> DeidResult:
    """Write a de-identified copy of ``source`` to ``output``; :class:`Unsupported` (nothing
    written) when the file needs the pydicom engine. OSError and PixelDataError as they come."""
    fd = os.open(source, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        parsed = parse(fd, os.fstat(fd).st_size)
        rewriter = _Rewriter(session, parsed)
        header = rewriter.header()
        with replacing_fd(output, write_back=write_back, staged=staged) as out:
            if parsed.pixels is None:
                _write_all(out, [header])
            else:
                start, end = parsed.pixels
                if end - start <= READ_AT_ONCE:  # one read and one write: the cheapest for a slice
                    view = _buffer()[:end - start]
                    if os.preadv(fd, [view], start) != len(view):
                        raise PixelDataError("the file ends inside the pixel data")
                    _write_all(out, [header, view])
                else:
                    _write_all(out, [header])
                    copy_range(fd, out, start, end - start)
    finally:
        os.close(fd)
    return DeidResult(source, output, *rewriter.decider.counts, engine="bytes")


READ_AT_ONCE = 1 << 20  # pixel data up to this size is read and written in one go (a CBCT slice)
_local = threading.local()


def _buffer() -> memoryview:
    """This thread's buffer for the pixel data (allocated once: a fresh 1 MB costs page faults)."""
    buffer = getattr(_local, "buffer", None)
    if buffer is None:
        buffer = _local.buffer = memoryview(bytearray(READ_AT_ONCE))
    return buffer


def _write_all(fd: int, chunks: list[Any]) -> None:
    views = [memoryview(chunk) for chunk in chunks]
    while views:
        written = os.writev(fd, views)
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


class _Rewriter:
    def __init__(self, session: DeidSession, parsed: ParsedFile) -> None:
        self.session = session
        self.parsed = parsed
        self.buf = parsed.buf
        self.decider = Decider(session)
        self.actions = session.actions
        self.known = self.actions.known()
        self.keep_private = session.options.keep_safe_private
        self.sop_uid: Any = None
        self.sop_present = False
        self._new_sop: Any = ""

    def header(self) -> bytes:
        """Preamble (zeros), "DICM", the new File Meta and the de-identified dataset."""
        parsed = self.parsed
        if self.decider.needs_terms():
            top = {e.tag: e for e in parsed.dataset}
            self.decider.terms = identifying_terms(lambda tag: self._value(top[tag]) if tag in top else None)
        dataset = self._top_level(parsed.dataset, parsed.dataset_start, parsed.dataset_end)
        return b"".join([bytes(128), b"DICM", self._meta(), *dataset])

    def _meta(self) -> bytes:
        meta = {e.tag: e for e in self.parsed.meta}
        for tag in _REQUIRED_META:
            if tag not in meta or meta[tag].vend == meta[tag].vstart:
                raise Unsupported("incomplete File Meta")
        if _VERSION_NAME not in meta:
            raise Unsupported("no Implementation Version Name")
        original = meta[MEDIA_SOP_INSTANCE_UID]
        if original.vr != "UI":
            raise Unsupported("unusual File Meta")
        uid = media_storage_uid(self.session, self.sop_uid, self.sop_present, self._value(original))
        if uid in (None, "", []):
            raise Unsupported("no SOP Instance UID")
        chunks = []
        for tag, element in meta.items():
            if tag == 0x00020000 or tag in META_REMOVED:
                continue
            if tag == MEDIA_SOP_INSTANCE_UID:
                chunks.append(encode(tag, "UI", uid))
            else:
                chunks.append(self.buf[element.start:element.end])
        body = b"".join(chunks)
        return _SHORT_HEADER.pack(2, 0, b"UL", 4) + struct.pack("<I", len(body)) + body

    def _top_level(self, elements: list[Element], start: int, end: int) -> list[bytes]:
        """The dataset with the PS3.15 E.1.1 attributes put in (replacing any present)."""
        finishing = list(_finishing(self.session.options))
        out: list[bytes] = []
        run = start
        buf = self.buf
        for element in elements:
            tag = element.tag
            while finishing and finishing[0][0] < tag:
                if element.start > run:
                    out.append(buf[run:element.start])
                    run = element.start
                out.append(finishing.pop(0)[1])
            replacement = self._element(element)
            if tag == SOP_INSTANCE_UID:
                self._remember_sop(element, replacement)
            if finishing and finishing[0][0] == tag:
                replacement = [finishing.pop(0)[1]]
            if replacement is None:
                continue
            if element.start > run:
                out.append(buf[run:element.start])
            out.extend(replacement)
            run = element.end
        if end > run:
            out.append(buf[run:end])
        out.extend(chunk for _, chunk in finishing)
        return out

    def _remember_sop(self, element: Element, replacement: list[bytes] | None) -> None:
        if replacement is None:
            self.sop_present, self.sop_uid = True, self._value(element)
        elif replacement:
            self.sop_present, self.sop_uid = True, self._new_sop
        else:
            self.sop_present = False

    def _dataset(self, elements: list[Element], start: int, end: int) -> tuple[list[bytes], bool]:
        """The bytes of a nested dataset ``[start, end)`` de-identified, and whether they changed."""
        out: list[bytes] = []
        run = start
        buf = self.buf
        changed = False
        for element in elements:
            replacement = self._element(element)
            if replacement is None:
                continue
            changed = True
            if element.start > run:
                out.append(buf[run:element.start])
            out.extend(replacement)
            run = element.end
        if end > run:
            out.append(buf[run:end])
        return out, changed

    def _element(self, element: Element) -> list[bytes] | None:
        """None: the element stays as it is; else the bytes that replace it ([]: removed)."""
        tag = element.tag
        if tag & 0x10000:  # an odd group: private
            if self.keep_private:
                raise Unsupported("private attributes under Retain Safe Private")
            self.decider.private_removed()
            return []
        vr = element.vr
        action = self.known.get(tag) or self.actions(tag)
        if action == "K" and vr != "SQ" and vr != "UN":
            return None  # what Decider.decide says for K, without asking (most attributes)
        if vr == "UN" and action != "X":
            raise Unsupported("a UN value that pydicom would decode")
        outcome, value = self.decider.decide(tag, vr, action, lambda: self._value(element))
        if outcome == KEEP:
            return None
        if outcome == REMOVE:
            return []
        if outcome == EMPTY:
            self._new_sop = ""
            return [_empty(tag, vr)]
        if outcome == ITEMS:
            return self._sequence(element)
        if tag == SOP_INSTANCE_UID:
            self._new_sop = value
        return [encode(tag, vr, value)]

    def _sequence(self, element: Element) -> list[bytes] | None:
        buf = self.buf
        items: list[list[bytes]] = []
        changed = False
        for item in element.items or ():
            chunks, item_changed = self._dataset(item.elements, item.vstart, item.vend)
            changed = changed or item_changed
            if item.undefined:  # the item's own header and delimiter, as they were
                items.append([buf[item.start:item.vstart], *chunks, buf[item.vend:item.end]])
            else:
                items.append([_ITEM_HEADER.pack(0xFFFE, 0xE000, sum(map(len, chunks))), *chunks])
        if not changed:
            return None
        body = [chunk for item in items for chunk in item]
        if element.undefined:
            return [buf[element.start:element.vstart], *body, buf[element.vend:element.end]]
        return [_header(element.tag, "SQ", sum(map(len, body))), *body]

    def _value(self, element: Element) -> Any:
        return decode(self.buf, element)


def decode(buf: bytes, element: Element) -> Any:
    """A value as pydicom 3 decodes it (values.py converters): a str, or a list for several."""
    vr = element.vr
    raw = buf[element.vstart:element.vend]
    if vr == "PN":
        text = ascii_text(raw.rstrip(b"\x00 "))
        if "=" in text:  # ideographic/phonetic groups: pydicom's PersonName re-joins them its way
            raise Unsupported("a person name with component groups")
        return _one_or_list(text.split("\\"))
    if vr not in _STRING_VRS or vr in ("DS", "IS"):
        raise Unsupported(f"a {vr} value that must be decoded")
    text = ascii_text(raw)
    if vr == "AE":
        return _one_or_list([part.strip() for part in text.split("\\")])
    if vr in ("SH", "LO", "UC"):
        return _one_or_list([part.rstrip("\0 ") for part in text.split("\\")])
    if vr in ("LT", "ST", "UT"):
        return text.rstrip("\0 ")
    if vr == "UR":
        return text.rstrip()
    return _one_or_list(text.rstrip(" \0").split("\\"))  # UI, AS, CS, DA, DT, TM


def _one_or_list(parts: list[str]) -> Any:
    return parts[0] if len(parts) == 1 else parts


def encode(tag: int, vr: str, value: Any) -> bytes:
    """One element, explicit VR little endian, as pydicom would write ``value``."""
    if value is None or value == "" or value == []:
        data = b""
    elif isinstance(value, bytes):
        data = value
    elif isinstance(value, int) and not isinstance(value, bool):
        if vr not in BINARY_NUMBERS:
            raise Unsupported(f"a number for {vr}")
        data = struct.pack(_NUMBER_FORMAT[vr], *((value, value) if vr == "AT" else (value,)))
    elif isinstance(value, (str, list, tuple)):
        if vr not in _STRING_VRS:
            raise Unsupported(f"text for {vr}")
        text = value if isinstance(value, str) else "\\".join(str(v) for v in value)
        try:
            data = text.encode("ascii")
        except UnicodeEncodeError:
            raise Unsupported("a new value outside ASCII") from None
        if len(data) & 1:
            data += b"\x00" if vr == "UI" else b" "
    else:
        raise Unsupported(f"a value of type {type(value).__name__}")
    return _header(tag, vr, len(data)) + data


def encode_attribute(tag: int, vr: str, value: Any) -> bytes:
    """Like :func:`encode`, and a sequence from items given as lists of (tag, VR, value)."""
    if vr != "SQ":
        return encode(tag, vr, value)
    items = []
    for attributes in value:
        body = b"".join(encode_attribute(*attribute) for attribute in attributes)
        items.append(_ITEM_HEADER.pack(0xFFFE, 0xE000, len(body)) + body)
    body = b"".join(items)
    return _header(tag, "SQ", len(body)) + body


@functools.lru_cache(maxsize=16)
def _finishing(options: DeidOptions) -> tuple[tuple[int, bytes], ...]:
    """The PS3.15 E.1.1 attributes, encoded once per set of options."""
    return tuple((tag, encode_attribute(tag, vr, value)) for tag, vr, value in finishing_attributes(options))


@functools.lru_cache(maxsize=4096)
def _empty(tag: int, vr: str) -> bytes:
    return _header(tag, vr, 0)


def _header(tag: int, vr: str, length: int) -> bytes:
    if vr in _LONG_NAMES:
        return _LONG_HEADER.pack(tag >> 16, tag & 0xFFFF, vr.encode(), length)
    if length > 0xFFFF:
        raise Unsupported(f"a value too long for {vr}")
    return _SHORT_HEADER.pack(tag >> 16, tag & 0xFFFF, vr.encode(), length)


# -- copying the pixel data ---------------------------------------------------------------------

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

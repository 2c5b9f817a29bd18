"""De-identify a DICOM file at the byte level, without pydicom (the common case, fast).

pydicom costs about 0.25 s to import and 1.5-2 ms a file to read and write a header; a CBCT
study is hundreds of files. For files in Explicit VR Little Endian (native or compressed pixel
data) this engine parses the header itself (rawdicom.py), asks decisions.Decider what happens
to each attribute (the same table, options, dummies and UIDs as the pydicom engine), writes
only the bytes that change (new values; new lengths of the sequences and items around them;
the File Meta group length) and copies every other byte as it was, in one pass over the header
(a run of kept attributes is one slice of the original). The pixel data element is copied,
never decoded: a slice of up to 1 MB in one read and one write with the header, a larger volume
by the kernel (pixelcopy.copy_range).

A file it cannot handle with certainty raises :class:`Unsupported` before anything is written,
and deidentify.deidentify_file uses the pydicom engine for it: implicit VR, big endian, deflate,
odd lengths, UN values that must be decoded, text outside ASCII that must be decoded, private
attributes under Retain Safe Private (pydicom's private dictionary decides), group lengths,
unusual File Meta, anything unexpected.
"""

from __future__ import annotations

import functools
import os
import struct
from pathlib import Path
from typing import Any

from .annex_e import TEXT_CHECKED, DeidOptions, controls_inside, implausible, value_rules
from .decisions import (
    BINARY_NUMBERS, EMPTY, ITEMS, KEEP, MEDIA_SOP_INSTANCE_UID, META_REMOVED, REMOVE, SOP_INSTANCE_UID, TEXT_VRS,
    Decider, DeidResult, DeidSession, finishing_attributes, identifying_terms, media_storage_uid,
)
from . import pixelcopy
from .completeness import ROWS, SOP_CLASS_UID, missing_part
from .files import replacing_fd
from .pixelcopy import PixelDataError, copy_range, write_all
from .rawdicom import (
    LONG_VRS, TOP, DEFINED, UNDEFINED, UNTIL_END, Damaged, Element, Implausible, Reader, Unsupported, ascii_text,
)

__all__ = ["Damaged", "Implausible", "Unsupported", "deidentify_fast"]

_STRING_VRS = TEXT_VRS | {"UI", "DA", "DT", "TM", "AS", "DS", "IS"}
_NUMBER_FORMAT = {"US": "<H", "SS": "<h", "UL": "<I", "SL": "<i", "FL": "<f", "FD": "<d", "UV": "<Q", "SV": "<q",
                  "AT": "<HH"}
_LONG_NAMES = frozenset(vr.decode() for vr in LONG_VRS)
_SHORT_HEADER = struct.Struct("<HH2sH")
_LONG_HEADER = struct.Struct("<HH2s2xI")
_ITEM_HEADER = struct.Struct("<HHI")
_REQUIRED_META = (0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012)  # what pydicom's writer requires
_VERSION_NAME = 0x00020013  # pydicom's writer adds its own when missing
_NO_TAG = 1 << 32  # larger than any tag


def deidentify_fast(source: Path, output: Path, session: DeidSession, *, write_back: bool = False,
                    staged: bool = False) -> DeidResult:
    """Write a de-identified copy of ``source`` to ``output``; :class:`Unsupported` (nothing
    written) when the file needs the pydicom engine. OSError and PixelDataError as they come."""
    fd = os.open(source, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        reader = Reader(fd, os.fstat(fd).st_size)
        walker = _Walker(session, reader)
        header, pixels = walker.header()
        with replacing_fd(output, write_back=write_back, staged=staged) as out:
            if pixels is None:
                write_all(out, [header])
            else:
                start, end = pixels
                view = pixelcopy.buffer()
                if end - start <= min(pixelcopy.READ_AT_ONCE, len(view)):  # one read, one write: a slice
                    view = view[:end - start]
                    if os.preadv(fd, [view], start) != len(view):
                        raise PixelDataError("the file ends inside the pixel data")
                    write_all(out, [header, view])
                else:
                    write_all(out, [header])
                    copy_range(fd, out, start, end - start)
    finally:
        os.close(fd)
    return DeidResult(source, output, *walker.decider.counts, engine="bytes")


class _Walker:
    """One pass over the header: each element's bytes are kept (a run of kept elements is one
    slice of the original), dropped or replaced, as Decider says."""

    def __init__(self, session: DeidSession, reader: Reader) -> None:
        self.session = session
        self.reader = reader
        self.decider = Decider(session)
        self.actions = session.actions
        self.known = self.actions.known()
        self.keep_private = session.options.keep_safe_private
        self.rules = value_rules()
        self.sop: tuple[bool, Any] = (False, None)  # whether the copy has a SOP Instance UID, and which

    def header(self) -> tuple[bytes, tuple[int, int] | None]:
        """(preamble of zeros, "DICM", the new File Meta and the de-identified dataset; where
        the pixel data element is in the file, or None)."""
        reader = self.reader
        meta, _syntax, start = reader.start()
        if self.decider.needs_terms():
            top = {e[0]: e for e in reader.elements(start, 0, TOP)}
            self.decider.terms = identifying_terms(lambda tag: self._value(top[tag]) if tag in top else None)
        dataset, _ = self._walk(start, 0, TOP, 0, list(_finishing(self.session.options)))
        end = reader.stopped
        pixels = reader.pixels(end) if end < reader.size else None
        header = b"".join([bytes(128), b"DICM", self._meta(meta), *dataset])
        if pixels is None:  # a report, or an x-ray cut short exactly between two attributes
            top = {e[0]: e for e in reader.elements(start, 0, TOP)}
            sop_class = self._value(top[SOP_CLASS_UID]) if SOP_CLASS_UID in top else None
            problem = missing_part(empty=not top, has_pixels=False, has_rows=ROWS in top,
                                   sop_class=sop_class if isinstance(sop_class, str) else None)
            if problem is not None:
                raise Damaged(problem)
        return header, pixels

    def _meta(self, elements: list[Element]) -> bytes:
        meta = {e[0]: e for e in elements}
        for tag in _REQUIRED_META:
            if tag not in meta or meta[tag][4] == meta[tag][3]:
                raise Unsupported("incomplete File Meta")
        if _VERSION_NAME not in meta:
            raise Unsupported("no Implementation Version Name")
        original = meta[MEDIA_SOP_INSTANCE_UID]
        if original[1] != "UI":
            raise Unsupported("unusual File Meta")
        present, sop_uid = self.sop
        uid = media_storage_uid(self.session, sop_uid, present, self._value(original))
        if uid in (None, "", []):
            raise Unsupported("no SOP Instance UID")
        buf = self.reader.buf
        chunks = []
        for tag, element in meta.items():
            if tag == 0x00020000 or tag in META_REMOVED:
                continue
            if tag == MEDIA_SOP_INSTANCE_UID:
                chunks.append(encode(tag, "UI", uid))
            else:
                if (problem := implausible(tag, element[1], element[4] - element[3], buf[element[3]:element[4]])) is not None:
                    raise Implausible(problem)  # a File Meta value that swallowed the data set
                chunks.append(buf[element[2]:element[5]])
        body = b"".join(chunks)
        return _SHORT_HEADER.pack(2, 0, b"UL", 4) + struct.pack("<I", len(body)) + body

    def _walk(self, pos: int, limit: int, mode: int, depth: int,
              finishing: list[tuple[int, bytes]] | None = None) -> tuple[list[bytes], bool]:
        """The de-identified bytes of the dataset at ``pos`` (rawdicom modes) and whether any
        changed; the reader's ``stopped`` is where it ended. ``finishing``: the PS3.15 E.1.1
        attributes (tag, bytes), put in at the top level in tag order, replacing any present."""
        reader = self.reader
        known, actions, decide, rules = self.known, self.actions, self.decider.decide, self.rules
        out: list[bytes] = []
        run = pos  # the start of the run of kept bytes not yet in ``out``
        changed = False
        finishing = finishing or []
        next_finishing = finishing[0][0] if finishing else _NO_TAG
        for element in reader.elements(pos, limit, mode, depth):
            tag, vr, start, vstart, vend, end = element
            replaced_by: bytes | None = None
            if tag >= next_finishing:
                while finishing and finishing[0][0] < tag:  # put in before the first larger tag
                    if start > run:
                        out.append(reader.buf[run:start])
                        run = start
                    out.append(finishing.pop(0)[1])
                    changed = True
                if finishing and finishing[0][0] == tag:  # replaces the one present
                    replaced_by = finishing.pop(0)[1]
                next_finishing = finishing[0][0] if finishing else _NO_TAG
            replacement: list[bytes] | None
            if tag >> 16 == 2:
                raise Implausible(f"File Meta attribute ({tag >> 16:04X},{tag & 0xFFFF:04X}) inside the data set")
            if tag & 0x10000:  # an odd group: private
                if self.keep_private:
                    raise Unsupported("private attributes under Retain Safe Private")
                self.decider.private_removed()
                replacement = []
            else:
                action = known.get(tag) or actions(tag)
                if action == "K" and vr != "SQ" and vr != "UN" and tag != SOP_INSTANCE_UID and replaced_by is None:
                    rule = rules.get(tag)
                    if (rule is not None and ((rule[0] and vr not in rule[0]) or (rule[1] and vend - vstart > rule[1]))) or (
                            vr in TEXT_CHECKED and controls_inside(reader.buf, vstart, vend)):
                        raise Implausible(implausible(tag, vr, vend - vstart, reader.buf[vstart:vend]) or "")  # (worded)
                    continue  # what Decider.decide says for K, without asking (most attributes)
                if vr == "UN" and action != "X":
                    raise Unsupported("a UN value that pydicom would decode")
                outcome, value = decide(tag, vr, action, lambda element=element: self._value(element))
                if outcome == KEEP:
                    if (problem := implausible(tag, vr, vend - vstart, reader.buf[vstart:vend])) is not None:
                        raise Implausible(problem)
                    replacement = None
                elif outcome == REMOVE:
                    replacement = []
                elif outcome == EMPTY:
                    replacement = [_empty(tag, vr)]
                    value = ""
                elif outcome == ITEMS:
                    replacement = self._sequence(element, depth)
                else:
                    replacement = [encode(tag, vr, value)]
                if tag == SOP_INSTANCE_UID and mode == TOP:
                    self.sop = (outcome != REMOVE, self._value(element) if outcome == KEEP else value)
            if replaced_by is not None:
                replacement = [replaced_by]
            if replacement is None:
                continue
            changed = True
            if start > run:
                out.append(reader.buf[run:start])
            out.extend(replacement)
            run = end
        stopped = reader.stopped
        tail = stopped - 8 if mode == UNTIL_END else stopped  # an item's delimiter is not its content
        if tail > run:
            out.append(reader.buf[run:tail])
        if finishing:
            out.extend(chunk for _, chunk in finishing)
            changed = True
        return out, changed

    def _sequence(self, element: Element, depth: int) -> list[bytes] | None:
        """A kept sequence with its items de-identified; None if nothing in them changed."""
        reader = self.reader
        tag, _vr, start, vstart, vend, end = element
        items: list[list[bytes]] = []
        changed = False
        for item_start, item_vstart, length in reader.items(vstart, vend, depth + 1):
            if length == UNDEFINED:
                chunks, item_changed = self._walk(item_vstart, 0, UNTIL_END, depth + 1)
                stopped = reader.stopped  # after the item delimiter
                items.append([reader.buf[item_start:item_vstart], *chunks, reader.buf[stopped - 8:stopped]])
            else:
                chunks, item_changed = self._walk(item_vstart, item_vstart + length, DEFINED, depth + 1)
                items.append([_ITEM_HEADER.pack(0xFFFE, 0xE000, sum(map(len, chunks))), *chunks])
            changed = changed or item_changed
        if not changed:
            return None
        body = [chunk for item in items for chunk in item]
        if end != vend:  # undefined length: its header and delimiter as they were
            return [reader.buf[start:vstart], *body, reader.buf[vend:end]]
        return [_header(tag, "SQ", sum(map(len, body))), *body]

    def _value(self, element: Element) -> Any:
        return decode(self.reader.buf, element)


def decode(buf: bytes, element: Element) -> Any:
    """A value as pydicom 3 decodes it (values.py converters): a str, or a list for several."""
    vr = element[1]
    raw = buf[element[3]:element[4]]
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

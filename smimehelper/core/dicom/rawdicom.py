"""Read the structure of a DICOM Part 10 file at the byte level, without pydicom.

For the byte-level de-identifier (fastdeid.py): the File Meta and the dataset up to the pixel
data are parsed into elements that remember where their bytes are (so kept attributes are copied
as they are), sequences of defined and undefined length and their items recursively; the pixel
data is located (its fragments walked with small reads, never read whole) but not read.

Only what can be read with certainty is accepted: the File Meta and the dataset in Explicit VR
Little Endian, known VRs, even lengths, ascending tags, undefined lengths only for sequences,
items and encapsulated pixel data. Anything else raises :class:`Unsupported` before a byte is
written, and the caller uses the general (pydicom) engine for that file.
"""

from __future__ import annotations

import os
import struct

# Transfer syntaxes whose dataset is Explicit VR Little Endian: the native one and every
# encapsulated (compressed) one. Not here: implicit VR, big endian, deflate (all via pydicom).
EXPLICIT_LE_SYNTAXES = frozenset({
    "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203", "1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.101", "1.2.840.10008.1.2.4.102",
    "1.2.840.10008.1.2.4.103", "1.2.840.10008.1.2.4.104", "1.2.840.10008.1.2.4.105", "1.2.840.10008.1.2.4.106",
    "1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.4.111", "1.2.840.10008.1.2.4.112",
})
VRS = frozenset(b"AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN "
                b"UR US UT UV".split())
LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())  # 4-byte length (PS3.5 7.1.2)
PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})  # where pydicom's stop_before_pixels stops
ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
UNDEFINED = 0xFFFFFFFF
MAX_HEADER = 64 << 20  # larger headers (an embedded document...) go to pydicom, which reads them whole
MAX_DEPTH = 32
FIRST_READ = 1 << 13  # a typical header is 1-3 KB

_VR_INFO = {vr: (vr.decode("ascii"), vr in LONG_VRS) for vr in VRS}  # VR bytes -> (name, 4-byte length)
_TAG = struct.Struct("<HH")
_ITEM = struct.Struct("<HHI")
_SHORT = struct.Struct("<H")
_LONG = struct.Struct("<I")
_TOP, _DEFINED, _UNTIL_END = 0, 1, 2


class Unsupported(Exception):
    """The file needs the general engine; why, in a few words (nothing was written)."""


class Damaged(Unsupported):
    """The file is shorter than its own header says: data is missing, no engine can copy it."""


class Element:
    """One data element: bytes ``[start, end)`` of the file, its value ``[vstart, vend)``;
    ``items`` for a sequence, ``undefined`` when its length is undefined (then ``[vend, end)``
    is its delimiter)."""

    __slots__ = ("tag", "vr", "start", "vstart", "vend", "end", "items", "undefined")

    def __init__(self, tag: int, vr: str, start: int, vstart: int, vend: int, end: int,
                 items: list[Item] | None, undefined: bool) -> None:
        self.tag, self.vr, self.start, self.vstart, self.vend, self.end = tag, vr, start, vstart, vend, end
        self.items, self.undefined = items, undefined


class Item:
    """One item of a sequence: header at ``start``, its dataset ``[vstart, vend)``, its end."""

    __slots__ = ("start", "vstart", "vend", "end", "elements", "undefined")

    def __init__(self, start: int, vstart: int, vend: int, end: int, elements: list[Element], undefined: bool) -> None:
        self.start, self.vstart, self.vend, self.end = start, vstart, vend, end
        self.elements, self.undefined = elements, undefined


class ParsedFile:
    """A file's structure: ``buf`` holds its bytes up to the pixel data."""

    def __init__(self, buf: bytes, meta: list[Element], syntax: str, dataset: list[Element],
                 dataset_start: int, dataset_end: int, pixels: tuple[int, int] | None) -> None:
        self.buf, self.meta, self.syntax, self.dataset = buf, meta, syntax, dataset
        self.dataset_start, self.dataset_end = dataset_start, dataset_end
        self.pixels = pixels  # (start, end) of the pixel data element in the file, or None


def parse(fd: int, size: int) -> ParsedFile:
    """Parse the open file ``fd`` of ``size`` bytes; :class:`Unsupported` if not certain."""
    return _Reader(fd, size).parse()


def ascii_text(raw: bytes) -> str:
    """A text value as pydicom decodes it (before splitting); only plain ASCII is accepted,
    which every character set pydicom knows decodes the same way (no escape sequences)."""
    if not raw.isascii() or b"\x1b" in raw:
        raise Unsupported("text outside ASCII")
    return raw.decode("ascii")


class _Reader:
    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.size = fd, size
        self.buf = b""

    def ensure(self, end: int) -> None:
        """Make ``buf`` hold the file's bytes up to ``end``."""
        have = len(self.buf)
        if end <= have:
            return
        if end > self.size:
            raise Damaged("it ends inside its header")
        if end > MAX_HEADER:
            raise Unsupported("a very large header")
        want = min(self.size, max(end, FIRST_READ, 2 * have), MAX_HEADER)
        data = os.pread(self.fd, want - have, have)
        if len(data) < end - have:
            raise Unsupported("the file shrank while it was read")
        self.buf += data

    def parse(self) -> ParsedFile:
        self.ensure(min(self.size, FIRST_READ) if self.size >= 140 else 140)
        if self.buf[128:132] != b"DICM":
            raise Unsupported("no DICM prefix")
        meta, pos = self._meta(132)
        syntax_elements = [e for e in meta if e.tag == 0x00020010]
        if not syntax_elements:
            raise Unsupported("no transfer syntax")
        element = syntax_elements[0]
        syntax = ascii_text(self.buf[element.vstart:element.vend]).rstrip("\0 ")
        if syntax not in EXPLICIT_LE_SYNTAXES:
            raise Unsupported(f"transfer syntax {syntax}")
        dataset, end = self._dataset(pos, 0, 0, _TOP)
        pixels = self._pixels(end) if end < self.size else None
        return ParsedFile(self.buf, meta, syntax, dataset, pos, end, pixels)

    def _meta(self, pos: int) -> tuple[list[Element], int]:
        elements: list[Element] = []
        previous = -1
        while True:
            self.ensure(pos + 8)
            group, number = _TAG.unpack_from(self.buf, pos)
            if group != 2:
                return elements, pos
            tag = (group << 16) | number
            if tag <= previous:
                raise Unsupported("File Meta not in ascending order")
            previous = tag
            element = self._element(pos, tag, 0, None)
            if element.vr == "SQ" or element.undefined:
                raise Unsupported("a sequence in the File Meta")
            elements.append(element)
            pos = element.end

    def _dataset(self, pos: int, limit: int, depth: int, mode: int) -> tuple[list[Element], int]:
        """Elements from ``pos``: to the pixel data or the end of the file (_TOP), to ``limit``
        (_DEFINED), or to the item delimiter (_UNTIL_END, returned position after it)."""
        elements: list[Element] = []
        previous = 0x0002FFFF if mode == _TOP else -1
        size = self.size
        while True:
            if mode == _DEFINED:
                if pos == limit:
                    return elements, pos
                if pos + 8 > limit:
                    raise Unsupported("an element crosses the end of its item")
            elif mode == _TOP and pos == size:
                return elements, pos
            if pos + 8 > size:  # a few bytes: zeros are padding pydicom ignores, anything else a cut
                if os.pread(self.fd, 8, pos).strip(b"\x00"):
                    raise Damaged("it ends inside an element")
                raise Unsupported("a few zero bytes after the last element")
            if pos + 8 > len(self.buf):
                self.ensure(pos + 8)
            group, number = _TAG.unpack_from(self.buf, pos)
            tag = (group << 16) | number
            if group == 0xFFFE:
                if mode == _UNTIL_END and tag == ITEM_END and _LONG.unpack_from(self.buf, pos + 4)[0] == 0:
                    return elements, pos + 8
                raise Unsupported("an item tag where an element belongs")
            if mode == _TOP and tag in PIXEL_TAGS:
                return elements, pos
            if tag <= previous:
                raise Unsupported("elements not in ascending order")
            if number == 0:
                raise Unsupported("a group length element")
            previous = tag
            element = self._element(pos, tag, depth, limit if mode == _DEFINED else None)
            elements.append(element)
            pos = element.end

    def _element(self, pos: int, tag: int, depth: int, limit: int | None) -> Element:
        buf = self.buf
        info = _VR_INFO.get(buf[pos + 4:pos + 6])
        if info is None:
            raise Unsupported("an unknown VR")
        name, long_length = info
        if long_length:
            if pos + 12 > len(buf):
                self.ensure(pos + 12)
            length = _LONG.unpack_from(self.buf, pos + 8)[0]
            vstart = pos + 12
        else:
            length = _SHORT.unpack_from(buf, pos + 6)[0]
            vstart = pos + 8
        if length == UNDEFINED:
            if name != "SQ":
                raise Unsupported(f"undefined length for {name}")
            items, vend, end = self._sequence(vstart, None, depth + 1)
            return Element(tag, name, pos, vstart, vend, end, items, True)
        if length & 1:
            raise Unsupported("an odd length")
        vend = vstart + length
        if limit is not None and vend > limit:
            raise Unsupported("an element crosses the end of its item")
        if name == "SQ":
            items, _, _ = self._sequence(vstart, vend, depth + 1)
            return Element(tag, name, pos, vstart, vend, vend, items, False)
        if vend > len(self.buf):
            self.ensure(vend)
        return Element(tag, name, pos, vstart, vend, vend, None, False)

    def _sequence(self, pos: int, vend: int | None, depth: int) -> tuple[list[Item], int, int]:
        """Items from ``pos`` to ``vend`` or to the sequence delimiter: (items, value end, end)."""
        if depth > MAX_DEPTH:
            raise Unsupported("sequences nested too deep")
        items: list[Item] = []
        while True:
            if vend is not None:
                if pos == vend:
                    return items, vend, vend
                if pos + 8 > vend:
                    raise Unsupported("an item crosses the end of its sequence")
            self.ensure(pos + 8)
            group, number, length = _ITEM.unpack_from(self.buf, pos)
            tag = (group << 16) | number
            if tag == SEQUENCE_END and vend is None and length == 0:
                return items, pos, pos + 8
            if tag != ITEM:
                raise Unsupported("not an item inside a sequence")
            start = pos + 8
            if length == UNDEFINED:
                elements, end = self._dataset(start, 0, depth, _UNTIL_END)
                items.append(Item(pos, start, end - 8, end, elements, True))
            else:
                if length & 1:
                    raise Unsupported("an odd item length")
                end = start + length
                if vend is not None and end > vend:
                    raise Unsupported("an item crosses the end of its sequence")
                elements, _ = self._dataset(start, end, depth, _DEFINED)
                items.append(Item(pos, start, end, end, elements, False))
            pos = end

    def _pixels(self, pos: int) -> tuple[int, int]:
        """Where the pixel data element at ``pos`` ends (native: by its length; encapsulated:
        its fragments walked with 8-byte reads, up to the sequence delimiter)."""
        head = os.pread(self.fd, 12, pos)
        if len(head) < 12 or head[4:6] not in LONG_VRS or head[4:6] == b"SQ":
            raise Unsupported("unusual pixel data")
        length = _LONG.unpack_from(head, 8)[0]
        if length != UNDEFINED:
            if pos + 12 + length > self.size:
                raise Damaged("it ends inside its pixel data")
            if length & 1:
                raise Unsupported("an odd pixel data length")
            return pos, pos + 12 + length
        at = pos + 12
        while True:
            item = os.pread(self.fd, 8, at)
            if len(item) < 8:
                raise Damaged("it ends inside its pixel data")
            group, number, length = _ITEM.unpack_from(item)
            tag = (group << 16) | number
            if tag == SEQUENCE_END:
                if length != 0:
                    raise Unsupported("an unusual pixel data delimiter")
                return pos, at + 8
            if tag != ITEM or length == UNDEFINED or length & 1:
                raise Unsupported("unusual pixel data fragments")
            at += 8 + length
            if at > self.size:
                raise Damaged("it ends inside its pixel data")

"""Read the structure of a DICOM Part 10 file at the byte level, without pydicom.

For the byte-level de-identifier (fastdeid.py): :class:`Reader` reads the file's header into
memory as it is needed, parses the File Meta, and yields the elements of a dataset as where
their bytes are (tag, VR, header start, value start, value end, end), so that kept attributes
are copied as they are. A sequence of undefined length is walked (its items and their elements,
recursively) to find where it ends; the caller walks the items of the sequences it keeps. The
pixel data is located (its fragments walked with small reads, never read whole), not read.

Only what can be read with certainty is accepted: the File Meta and the dataset in Explicit VR
Little Endian, known VRs, even lengths, ascending tags, undefined lengths only for sequences,
items and encapsulated pixel data. Anything else raises :class:`Unsupported` (:class:`Damaged`
when the file is shorter than its own header says) before a byte is written, and the caller
uses the general (pydicom) engine for that file.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

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

# How a dataset ends: the top level at the pixel data or the end of the file, an item of
# defined length at its length, an item of undefined length at its delimiter.
TOP, DEFINED, UNTIL_END = 0, 1, 2

_VR_INFO = {vr: (vr.decode("ascii"), vr in LONG_VRS) for vr in VRS}  # VR bytes -> (name, 4-byte length)
_TAG = struct.Struct("<HH")
_ITEM = struct.Struct("<HHI")
_SHORT = struct.Struct("<H")
_LONG = struct.Struct("<I")

# One element: (tag, VR, start, value start, value end, end); for a sequence of undefined length
# [value end, end) is its delimiter.
Element = tuple[int, str, int, int, int, int]


class Unsupported(Exception):
    """The file needs the general engine; why, in a few words (nothing was written)."""


class Damaged(Unsupported):
    """The file is shorter than its own header says: data is missing, no engine can copy it."""


class Implausible(Damaged):
    """A value to be kept is longer than its attribute allows: its length field is damaged and
    it swallowed what follows, where a patient's details may be. Neither engine may copy it."""


def ascii_text(raw: bytes) -> str:
    """A text value as pydicom decodes it (before splitting); only plain ASCII is accepted,
    which every character set pydicom knows decodes the same way (no escape sequences)."""
    if not raw.isascii() or b"\x1b" in raw:
        raise Unsupported("text outside ASCII")
    return raw.decode("ascii")


class Reader:
    """The header of the open file ``fd`` (``size`` bytes), read into :attr:`buf` as needed."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.size = fd, size
        self.buf = b""
        self.stopped = 0  # where the last :meth:`elements` ended

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

    def start(self) -> tuple[list[Element], str, int]:
        """(File Meta elements, transfer syntax, where the dataset starts); only syntaxes
        whose dataset is Explicit VR Little Endian are accepted."""
        self.ensure(min(self.size, FIRST_READ) if self.size >= 140 else 140)
        if self.buf[128:132] != b"DICM":
            raise Unsupported("no DICM prefix")
        meta = []
        for element in self.elements(132, 0, TOP, meta=True):
            if element[1] == "SQ":
                raise Unsupported("a sequence in the File Meta")
            meta.append(element)
        syntax = next((e for e in meta if e[0] == 0x00020010), None)
        if syntax is None:
            raise Unsupported("no transfer syntax")
        name = ascii_text(self.buf[syntax[3]:syntax[4]]).rstrip("\0 ")
        if name not in EXPLICIT_LE_SYNTAXES:
            raise Unsupported(f"transfer syntax {name}")
        return meta, name, self.stopped

    def elements(self, pos: int, limit: int, mode: int, depth: int = 0, *, meta: bool = False) -> Iterator[Element]:
        """The elements of the dataset at ``pos``: to the pixel data or the end of the file
        (TOP), to ``limit`` (DEFINED), to the item delimiter (UNTIL_END); then :attr:`stopped`
        is where it ended (after the delimiter). ``meta``: the File Meta (group 2) only."""
        size = self.size
        previous = -1 if meta or mode != TOP else 0x0002FFFF
        while True:
            if mode == DEFINED:
                if pos == limit:
                    break
                if pos + 8 > limit:
                    raise Unsupported("an element crosses the end of its item")
            elif pos == size and mode == TOP:
                break
            if pos + 8 > len(self.buf):
                if pos + 8 > size and mode == TOP:  # a few bytes: zeros are padding pydicom ignores
                    if os.pread(self.fd, 8, pos).strip(b"\x00"):
                        raise Damaged("it ends inside an element")
                    raise Unsupported("a few zero bytes after the last element")
                self.ensure(pos + 8)
            buf = self.buf
            group, number = _TAG.unpack_from(buf, pos)
            tag = (group << 16) | number
            if meta:
                if group != 2:
                    break
            elif group == 0xFFFE:
                if mode == UNTIL_END and tag == ITEM_END and _LONG.unpack_from(buf, pos + 4)[0] == 0:
                    pos += 8
                    break
                raise Unsupported("an item tag where an element belongs")
            elif mode == TOP and tag in PIXEL_TAGS:
                break
            if tag <= previous:
                raise Unsupported("elements not in ascending order")
            if number == 0 and not meta:
                raise Unsupported("a group length element")
            previous = tag
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
                vend, end = self.skip_sequence(vstart, depth + 1)
            else:
                if length & 1:
                    raise Unsupported("an odd length")
                vend = end = vstart + length
                if mode == DEFINED and end > limit:
                    raise Unsupported("an element crosses the end of its item")
                if end > len(self.buf):
                    self.ensure(end)
            yield tag, name, pos, vstart, vend, end
            pos = end
        self.stopped = pos

    def items(self, pos: int, vend: int, depth: int) -> Iterator[tuple[int, int, int]]:
        """The items of a sequence value ``[pos, vend)``: (start, value start, length or
        UNDEFINED); the caller walks each item's elements and continues at :attr:`stopped`."""
        if depth > MAX_DEPTH:
            raise Unsupported("sequences nested too deep")
        while pos < vend:
            if pos + 8 > vend:
                raise Unsupported("an item crosses the end of its sequence")
            self.ensure(pos + 8)
            group, number, length = _ITEM.unpack_from(self.buf, pos)
            if (group << 16) | number != ITEM:
                raise Unsupported("not an item inside a sequence")
            if length != UNDEFINED:
                if length & 1:
                    raise Unsupported("an odd item length")
                if pos + 8 + length > vend:
                    raise Unsupported("an item crosses the end of its sequence")
                self.stopped = pos + 8 + length
            yield pos, pos + 8, length
            pos = self.stopped
        if pos != vend:
            raise Unsupported("an item crosses the end of its sequence")

    def skip_sequence(self, pos: int, depth: int) -> tuple[int, int]:
        """Where a sequence of undefined length whose value starts at ``pos`` ends: (position
        of its delimiter, position after it); its items and their elements are checked."""
        if depth > MAX_DEPTH:
            raise Unsupported("sequences nested too deep")
        while True:
            self.ensure(pos + 8)
            group, number, length = _ITEM.unpack_from(self.buf, pos)
            tag = (group << 16) | number
            if tag == SEQUENCE_END and length == 0:
                return pos, pos + 8
            if tag != ITEM:
                raise Unsupported("not an item inside a sequence")
            if length == UNDEFINED:
                for _ in self.elements(pos + 8, 0, UNTIL_END, depth):
                    pass
                pos = self.stopped
            else:
                if length & 1:
                    raise Unsupported("an odd item length")
                for _ in self.elements(pos + 8, pos + 8 + length, DEFINED, depth):
                    pass
                pos += 8 + length

    def pixels(self, pos: int) -> tuple[int, int]:
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

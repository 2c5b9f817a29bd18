"""What de-identification does to one attribute, in one place for both ways of doing it.

Two engines apply PS3.15 Annex E: the byte-level one (fastdeid.py: Explicit VR Little Endian
files, no pydicom) and the general one over pydicom (deidentify.py: every other file). Both ask
:class:`Decider` what happens to each attribute, with the action from the one table
(annex_e.ActionTable), so they cannot drift apart: same actions, same dummies and pseudonyms,
same UIDs (HMAC of the original under the send's key), same date shift, same counts.

Nothing here imports pydicom: values are plain ``str`` (or a list of them for several values),
shaped as pydicom decodes them.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from .annex_e import BASIC_CODE, OPTION_CODES, ActionTable, DeidOptions

TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT", "UR"})
DUMMY_TEXT = "ANONYMIZED"
DUMMY = {"DA": "19000101", "DT": "19000101000000", "TM": "000000", "AS": "000D", "DS": "0", "IS": "0",
         "UR": "urn:anonymized"}
BINARY_NUMBERS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV", "AT"})

# What happens to an attribute (Decider.decide's first result).
KEEP, REMOVE, EMPTY, ITEMS, SET = "keep", "remove", "empty", "items", "set"

# File Meta attributes that may name the sending station or carry anything (removed).
META_REMOVED = (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102)
SOP_INSTANCE_UID, MEDIA_SOP_INSTANCE_UID = 0x00080018, 0x00020003


class DeidentifyError(UserError):
    """A file could not be de-identified; nothing was written for it."""


@functools.lru_cache(maxsize=16)
def action_table(options: DeidOptions) -> ActionTable:
    """One table per set of options and process (a forked worker inherits the parent's)."""
    return ActionTable(options)


@dataclass
class DeidSession:
    """The state of one send: the key behind its UIDs and its date shift."""

    options: DeidOptions = field(default_factory=DeidOptions)
    key: bytes = field(default_factory=lambda: os.urandom(32))

    @property
    def actions(self) -> ActionTable:
        """The Annex E action of every tag under these options (built once per process)."""
        return action_table(self.options)

    @property
    def date_shift_days(self) -> int:
        """Days to move every date back (366..3652), the same for every file of the send."""
        digest = hmac.new(self.key, b"date-shift", hashlib.sha256).digest()
        return 366 + int.from_bytes(digest[:4], "big") % 3287

    def new_uid(self, old: str) -> str:
        """``2.25.<128-bit number>`` (PS3.5 B.2), a keyed hash of the original UID."""
        digest = hmac.new(self.key, old.strip().encode("ascii", "replace"), hashlib.sha256).digest()
        return "2.25." + str(int.from_bytes(digest[:16], "big"))


@dataclass(frozen=True)
class DeidResult:
    source: Path
    output: Path
    removed: int  # attributes removed
    emptied: int
    replaced: int  # dummies and new UIDs
    cleaned: int
    engine: str = ""  # "bytes" (fastdeid) or "pydicom"


class Decider:
    """The decisions for one file, and their counts (removed, emptied, replaced, cleaned)."""

    def __init__(self, session: DeidSession, terms: Sequence[str] = ()) -> None:
        self.session = session
        self.options = session.options
        self.actions = session.actions
        self.terms = terms
        self.counts = [0, 0, 0, 0]

    def needs_terms(self) -> bool:
        return self.options.clean_descriptors or self.options.keep_patient_characteristics

    def private_removed(self) -> None:
        self.counts[0] += 1

    def decide(self, tag: int, vr: str, action: str, value: Callable[[], Any]) -> tuple[str, Any]:
        """(KEEP | REMOVE | EMPTY | ITEMS | SET, new value) for a public attribute; ``value()``
        gives its current value as pydicom decodes it, asked for only when it matters."""
        counts = self.counts
        if action == "X":
            counts[0] += 1
            return REMOVE, None
        if vr == "SQ":
            if action == "Z":
                counts[1] += 1
                return EMPTY, None
            return ITEMS, None  # K, C, D, U, U*: keep the items, de-identify what is inside them
        if action == "K":
            return KEEP, None
        if action == "Z" and tag in PSEUDONYMS:
            # Z allows "a non-zero length dummy value": viewers and DICOMDIR patient records need
            # a Patient ID; one keyed pseudonym per patient per send keeps patients apart.
            counts[2] += 1
            return SET, PSEUDONYMS[tag](self.session, str(value() or ""))
        if action == "Z":
            counts[1] += 1
            return EMPTY, None
        if action in ("U", "U*"):
            if vr == "UI":
                counts[2] += 1
                return SET, map_values(value(), self.session.new_uid)
            counts[1] += 1
            return EMPTY, None
        if action == "D":
            counts[2] += 1
            return SET, dummy(vr, value() if vr == "UI" else None, self.session)
        if action == "C":
            counts[3] += 1
            if vr in ("DA", "DT"):
                if self.options.shift_dates:
                    days = self.session.date_shift_days
                    return SET, map_values(value(), lambda v: shift_date(v, days))
                return EMPTY, None
            if vr in TEXT_VRS:
                current = value()
                if current in (None, ""):
                    return KEEP, None
                return SET, map_values(current, lambda v: scrub(str(v), self.terms))
            return KEEP, None  # TM (whole days are shifted, the time of day stays), numbers
        return KEEP, None


def _pseudonym(session: DeidSession, original: str) -> str:
    digest = hmac.new(session.key, b"patient:" + original.strip().encode("utf-8", "replace"), hashlib.sha256)
    return "ANON" + digest.hexdigest()[:10].upper()


PSEUDONYMS: dict[int, Callable[[DeidSession, str], str]] = {
    0x00100020: _pseudonym,  # Patient ID
    0x00100010: lambda session, original: "ANONYMOUS",  # Patient's Name
    # Type 1 in the DICOMDIR's STUDY record (PS3.3 F.5.2), so a File-set can be built: dummies
    # that carry nothing.
    0x00080020: lambda session, original: "19000101",  # Study Date
    0x00080030: lambda session, original: "000000",  # Study Time
    0x00200010: lambda session, original: "ANON",  # Study ID
}


def map_values(value: Any, fn: Callable[[str], str]) -> Any:
    if value is None or value == "":
        return value
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [fn(str(v)) for v in value]
    return fn(str(value))


def dummy(vr: str, value: Any, session: DeidSession) -> Any:
    if vr == "UI":
        return map_values(value, session.new_uid) if value else session.new_uid("dummy")
    if vr in TEXT_VRS:
        return DUMMY_TEXT
    if vr in DUMMY:
        return DUMMY[vr]
    if vr in BINARY_NUMBERS:
        return 0
    return b"\x00\x00"  # OB, OW, UN...: a non-empty value that says nothing


def shift_date(value: str, days: int) -> str:
    """Move a DA (YYYYMMDD) or the date part of a DT back by ``days``; a DA range "A-B" part by
    part. A partial or malformed date carries no safe meaning and is emptied."""
    value = value.strip()
    if len(value) != 8 and "-" in value and re.fullmatch(r"\d{0,8}-\d{0,8}", value):
        return "-".join(shift_date(part, days) if part else "" for part in value.split("-"))
    match = re.fullmatch(r"(\d{8})(\d*(?:\.\d*)?(?:[+-]\d{4})?)", value)
    if not match:
        return ""
    try:
        date = dt.datetime.strptime(match.group(1), "%Y%m%d").date() - dt.timedelta(days=days)
    except ValueError:
        return ""
    return date.strftime("%Y%m%d") + match.group(2)


# The top-level attributes whose values are cut out of descriptions kept under Clean Descriptors.
NAME_TAGS = (
    0x00100010,  # PatientName
    0x00101001,  # OtherPatientNames
    0x00101005,  # PatientBirthName
    0x00101060,  # PatientMotherBirthName
    0x00080090,  # ReferringPhysicianName
    0x00081050,  # PerformingPhysicianName
    0x00081070,  # OperatorsName
    0x00081060,  # NameOfPhysiciansReadingStudy
)
ID_TAGS = (
    0x00100020,  # PatientID
    0x00101000,  # OtherPatientIDs
    0x00080050,  # AccessionNumber
    0x00100030,  # PatientBirthDate
    0x00080080,  # InstitutionName
    0x00101040,  # PatientAddress
    0x00102154,  # PatientTelephoneNumbers
    0x00101090,  # MedicalRecordLocator
    0x00200010,  # StudyID
)
BIRTH_DATE = 0x00100030
TERM_TAGS = NAME_TAGS + ID_TAGS


def identifying_terms(get: Callable[[int], Any]) -> tuple[str, ...]:
    """Values that identify the patient, to scrub from free text kept under Clean Descriptors;
    ``get(tag)`` gives a top-level attribute's value as pydicom decodes it (None if absent)."""
    terms: set[str] = set()
    for tag in NAME_TAGS:
        for value in _values(get(tag)):
            terms.update(p for p in re.split(r"[\^= ,]+", str(value)) if len(p) >= 2)
    for tag in ID_TAGS:
        terms.update(str(v).strip() for v in _values(get(tag)) if len(str(v).strip()) >= 2)
    birth = str(get(BIRTH_DATE) or "")
    if len(birth) == 8 and birth.isdigit():
        terms.update({f"{birth[6:8]}.{birth[4:6]}.{birth[:4]}", f"{birth[:4]}-{birth[4:6]}-{birth[6:8]}",
                      f"{birth[4:6]}/{birth[6:8]}/{birth[:4]}"})
    return tuple(sorted(terms, key=len, reverse=True))


def _values(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


def scrub(text: str, terms: Sequence[str]) -> str:
    """``text`` with every identifying term removed (case-insensitive)."""
    for term in terms:
        text = re.sub(re.escape(term), "", text, flags=re.IGNORECASE)
    return re.sub(r"\s{2,}", " ", text).strip()


# PS3.15 E.1.1: set on every de-identified instance, (tag, VR, value); a sequence's value is a
# list of items, each a list of (tag, VR, value).
Attribute = tuple[int, str, Any]


def finishing_attributes(options: DeidOptions) -> tuple[Attribute, ...]:
    """PatientIdentityRemoved, DeidentificationMethod, its code sequence (CID 7050) and
    LongitudinalTemporalInformationModified, in tag order."""
    names = ["DICOM PS3.15 E.1 Basic Profile"] + [OPTION_CODES[o][1][:64] for o in options.enabled()]
    items = [[(0x00080100, "SH", value), (0x00080102, "SH", "DCM"), (0x00080104, "LO", meaning)]
             for value, meaning in (BASIC_CODE, *(OPTION_CODES[o] for o in options.enabled()))]
    temporal = "MODIFIED" if options.shift_dates else "UNMODIFIED" if options.keep_dates else "REMOVED"
    return (
        (0x00120062, "CS", "YES"),  # PatientIdentityRemoved
        (0x00120063, "LO", names if len(names) > 1 else names[0]),  # DeidentificationMethod
        (0x00120064, "SQ", items),  # DeidentificationMethodCodeSequence
        (0x00280303, "CS", temporal),  # LongitudinalTemporalInformationModified
    )


def media_storage_uid(session: DeidSession, sop_instance_uid: Any, present: bool, meta_uid: Any) -> Any:
    """The File Meta's Media Storage SOP Instance UID: the (new) SOP Instance UID; without one,
    the original Media Storage UID replaced as any UID is (it must not travel as it was)."""
    if present:
        return sop_instance_uid
    return map_values(meta_uid, session.new_uid)

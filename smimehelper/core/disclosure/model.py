"""What one disclosure-log entry says, as frozen values.

A transfer entry is written before the message leaves; its outcome (queued, sent with the
server's reply, failed) follows in later entries that name it. Every text field comes from
people or files (names, file names, DICOM fields, server replies): it is made printable
(control characters, CR/LF and Bidi overrides become visible ``\\uXXXX``) and cut to a sane
length, so an entry can never forge a line in a CSV, a PDF, a syslog message or a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..display import printable

MAX_TEXT = 500
MAX_REPLY = 1000

METHODS = {
    "smime": "S/MIME secure e-mail",
    "password-package": "password-protected package",
    "handoff": "handed to the mail program",
    "split-parts": "S/MIME secure e-mail in several parts",
}
"""The method codes and the words shown for them (an unknown code is shown as it is)."""

QUEUED, SENT, FAILED, HANDED_OVER, UNKNOWN = "queued", "sent", "failed", "handed-over", "unknown"
OUTCOMES = (QUEUED, SENT, FAILED, HANDED_OVER, UNKNOWN)
FINAL_OUTCOMES = (SENT, HANDED_OVER)

DEFAULT_PURPOSE = "treatment / referral"


def clean(value: object, limit: int = MAX_TEXT) -> str:
    """Printable, one line, at most ``limit`` characters (an ellipsis marks a cut)."""
    text = printable("" if value is None else str(value))
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return text


@dataclass(frozen=True)
class Party:
    name: str
    address: str

    def to_data(self) -> dict[str, str]:
        return {"name": clean(self.name), "address": clean(self.address).lower()}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Party:
        return cls(str(data.get("name", "")), str(data.get("address", "")))

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


@dataclass(frozen=True)
class PatientFields:
    """What a DICOM file says about its patient and study (empty strings when absent)."""

    name: str = ""
    patient_id: str = ""
    study_date: str = ""  # YYYY-MM-DD when the file had a valid DA value, else as found
    study_description: str = ""
    deidentified: bool = False

    def to_data(self) -> dict[str, Any]:
        if self.deidentified:
            return {"deidentified": True}
        return {
            "name": clean(self.name), "patient_id": clean(self.patient_id),
            "study_date": clean(self.study_date), "study_description": clean(self.study_description),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> PatientFields:
        if data.get("deidentified"):
            return cls(deidentified=True)
        return cls(str(data.get("name", "")), str(data.get("patient_id", "")),
                   str(data.get("study_date", "")), str(data.get("study_description", "")))

    def words(self) -> str:
        if self.deidentified:
            return "de-identified"
        parts = [p for p in (self.name, f"ID {self.patient_id}" if self.patient_id else "",
                             f"study {self.study_date}" if self.study_date else "", self.study_description) if p]
        return ", ".join(parts) or "no patient details in the file"


@dataclass(frozen=True)
class DisclosedFile:
    name: str
    content_type: str
    size: int
    sha256: str
    dicom: PatientFields | None = None

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": clean(self.name, 255), "type": clean(self.content_type, 100),
                                "size": int(self.size), "sha256": clean(self.sha256, 64)}
        if self.dicom is not None:
            data["dicom"] = self.dicom.to_data()
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> DisclosedFile:
        dicom = data.get("dicom")
        return cls(str(data.get("name", "")), str(data.get("type", "")), int(data.get("size", 0)),
                   str(data.get("sha256", "")), PatientFields.from_data(dicom) if isinstance(dicom, Mapping) else None)


@dataclass(frozen=True)
class TransferRecord:
    """One transfer as the caller describes it, before it leaves.

    ``via`` names the account (S/MIME), the program (hand-off) or the package file; ``part``
    is "2 of 5" for split messages; ``patients`` are extra patient references the user gave
    (for non-DICOM files such as a PDF report), searched like the DICOM fields.
    """

    sender: Party
    recipients: tuple[Party, ...]
    method: str
    via: str
    files: tuple[DisclosedFile, ...]
    message_id: str = ""
    purpose: str = DEFAULT_PURPOSE
    part: str = ""
    patients: tuple[str, ...] = field(default=())

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sender": self.sender.to_data(),
            "recipients": [r.to_data() for r in self.recipients],
            "method": clean(self.method, 40),
            "via": clean(self.via),
            "files": [f.to_data() for f in self.files],
            "purpose": clean(self.purpose or DEFAULT_PURPOSE),
            "message_id": clean(self.message_id),
        }
        if self.part:
            data["part"] = clean(self.part, 40)
        if self.patients:
            data["patients"] = [clean(p) for p in self.patients]
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> TransferRecord:
        return cls(
            sender=Party.from_data(data.get("sender") or {}),
            recipients=tuple(Party.from_data(r) for r in data.get("recipients") or ()),
            method=str(data.get("method", "")),
            via=str(data.get("via", "")),
            files=tuple(DisclosedFile.from_data(f) for f in data.get("files") or ()),
            message_id=str(data.get("message_id", "")),
            purpose=str(data.get("purpose", DEFAULT_PURPOSE)),
            part=str(data.get("part", "")),
            patients=tuple(str(p) for p in data.get("patients") or ()),
        )

    def method_words(self) -> str:
        words = METHODS.get(self.method, self.method)
        return f"{words} ({self.via})" if self.via else words


def outcome_data(transfer_id: str, outcome: str, reply: str = "", note: str = "") -> dict[str, Any]:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    data = {"transfer": clean(transfer_id, 64), "outcome": outcome, "reply": clean(reply, MAX_REPLY)}
    if note:
        data["note"] = clean(note)
    return data

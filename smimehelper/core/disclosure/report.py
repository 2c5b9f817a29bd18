"""Reading the log as a person asks: transfers with their state, by patient, since a date.

A transfer's state is its last outcome ("queued", "sent", "failed"...) or "recorded" while
none is known yet. Patient search looks at what the files said (DICOM name and ID) and at the
patient references the user gave; an accounting for one patient shows only that patient's
files, never another patient's, even when one message carried files of several.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from .model import DisclosedFile, TransferRecord
from .store import DisclosureLog, Entry

RECORDED = "recorded"


@dataclass(frozen=True)
class OutcomeView:
    time: str
    outcome: str
    reply: str
    note: str = ""


@dataclass(frozen=True)
class TransferView:
    entry: Entry
    transfer: TransferRecord
    outcomes: tuple[OutcomeView, ...] = field(default=())
    hidden_files: int = 0  # files of other patients left out of an accounting

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def time(self) -> dt.datetime:
        return self.entry.when

    @property
    def state(self) -> str:
        return self.outcomes[-1].outcome if self.outcomes else RECORDED

    @property
    def reply(self) -> str:
        return self.outcomes[-1].reply if self.outcomes else ""

    def patient_words(self) -> str:
        found = [f.dicom.words() for f in self.transfer.files if f.dicom is not None]
        found += list(self.transfer.patients)
        return "; ".join(dict.fromkeys(found))


def transfers(log: DisclosureLog, *, since: dt.datetime | None = None, until: dt.datetime | None = None,
              patient: str | None = None) -> list[TransferView]:
    """Transfers (oldest first) with their outcomes; ``patient`` filters (see :func:`matches`)."""
    found: dict[str, TransferView] = {}
    for entry in log.entries():
        if entry.kind == "transfer":
            if since is not None and entry.when < since:
                continue
            if until is not None and entry.when > until:
                continue
            record = TransferRecord.from_data(entry.data)
            if patient and not matches(record, patient):
                continue
            found[entry.id] = TransferView(entry, record)
        elif entry.kind == "outcome":
            target = found.get(str(entry.data.get("transfer", "")))
            if target is not None:
                view = OutcomeView(entry.time, str(entry.data.get("outcome", "")), str(entry.data.get("reply", "")),
                                   str(entry.data.get("note", "")))
                found[target.id] = replace(target, outcomes=(*target.outcomes, view))
    return list(found.values())


def matches(record: TransferRecord, text: str) -> bool:
    """Every word of ``text`` is in one patient name or ID of the transfer (any case, any order)."""
    words = text.casefold().replace("^", " ").split()
    if not words:
        return True
    for haystack in _patient_texts(record):
        if all(word in haystack for word in words):
            return True
    return False


def _patient_texts(record: TransferRecord) -> Iterator[str]:
    for f in record.files:
        if f.dicom is not None and not f.dicom.deidentified:
            yield f"{f.dicom.name} {f.dicom.patient_id}".casefold()
    for ref in record.patients:
        yield ref.casefold()


def file_is_of_patient(f: DisclosedFile, patient_id: str) -> bool:
    wanted = patient_id.strip().casefold()
    return f.dicom is not None and not f.dicom.deidentified and f.dicom.patient_id.strip().casefold() == wanted


@dataclass(frozen=True)
class Accounting:
    """The disclosures of one patient, as the export shows them."""

    patient_id: str
    patient_name: str
    practice: str
    start: dt.datetime | None
    end: dt.datetime | None
    transfers: tuple[TransferView, ...]
    prepared: dt.datetime
    verification: str  # one sentence: what `log verify` found when the export was made


def accounting(log: DisclosureLog, patient_id: str, *, practice: str, now: dt.datetime, verification: str,
               since: dt.datetime | None = None, until: dt.datetime | None = None) -> Accounting:
    """Every transfer with a file of this patient (by DICOM Patient ID or a patient reference
    equal to ``patient_id``), showing only that patient's files."""
    wanted = patient_id.strip().casefold()
    chosen: list[TransferView] = []
    names: list[str] = []
    for view in transfers(log, since=since, until=until):
        mine = tuple(f for f in view.transfer.files if file_is_of_patient(f, patient_id))
        by_reference = any(ref.strip().casefold() == wanted for ref in view.transfer.patients)
        if not mine and not by_reference:
            continue
        names += [f.dicom.name for f in mine if f.dicom is not None and f.dicom.name]
        # a file of another patient (or an unnamed one sent by reference) is left out entirely
        keep = mine if mine else tuple(f for f in view.transfer.files if f.dicom is None)
        hidden = len(view.transfer.files) - len(keep)
        others = tuple(p for p in view.transfer.patients if p.strip().casefold() == wanted)
        chosen.append(replace(view, transfer=replace(view.transfer, files=keep, patients=others), hidden_files=hidden))
    start = since or (chosen[0].time if chosen else None)
    end = until or (chosen[-1].time if chosen else None)
    name = max(set(names), key=names.count) if names else ""
    return Accounting(patient_id.strip(), name, practice, start, end, tuple(chosen), now, verification)


def sorted_by_time(views: Iterable[TransferView]) -> list[TransferView]:
    return sorted(views, key=lambda v: (v.entry.time, v.entry.seq))

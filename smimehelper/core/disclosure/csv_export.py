"""The accounting of disclosures as CSV: one row per disclosed file (UTF-8 with BOM for Excel).

Cells that a spreadsheet would run as a formula (starting with = + - @, tab or CR) get a
leading apostrophe (OWASP's advice against CSV injection); every text was already made
single-line and printable when it was logged.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .model import METHODS
from .report import Accounting

COLUMNS = (
    "date_time_utc", "entry_id", "patient_name", "patient_id", "study_date", "study_description",
    "file_name", "file_type", "file_size", "file_sha256", "recipients", "sender", "method", "via",
    "part", "purpose", "message_id", "state", "server_reply",
)


def accounting_csv(report: Accounting) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for view in report.transfers:
        t = view.transfer
        common = dict(
            date_time_utc=view.entry.time, entry_id=view.id,
            recipients="; ".join(str(r) for r in t.recipients), sender=str(t.sender),
            method=METHODS.get(t.method, t.method), via=t.via, part=t.part, purpose=t.purpose,
            message_id=t.message_id, state=view.state, server_reply=view.reply,
        )
        files = t.files or ()
        if not files:
            writer.writerow([_safe(common.get(c, "")) for c in COLUMNS])
        for f in files:
            row = dict(common, file_name=f.name, file_type=f.content_type, file_size=str(f.size), file_sha256=f.sha256)
            if f.dicom is not None:
                if f.dicom.deidentified:
                    row["patient_name"] = "de-identified"
                else:
                    row.update(patient_name=f.dicom.name, patient_id=f.dicom.patient_id,
                               study_date=f.dicom.study_date, study_description=f.dicom.study_description)
            elif t.patients:
                row["patient_id"] = "; ".join(t.patients)
            writer.writerow([_safe(row.get(c, "")) for c in COLUMNS])
    return out.getvalue().encode("utf-8-sig")


def _safe(value: object) -> str:
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_csv(report: Accounting, target: Path) -> Path:
    from .exports import write_export

    return write_export(target, accounting_csv(report))

"""The accounting of disclosures for one patient as a PDF, in plain words (fpdf2).

Why fpdf2 (reportlab was the other candidate): both are well kept and both embed TrueType
subsets with a ToUnicode map (so pdftotext and screen readers get the text back); fpdf2 is a
smaller, pure-Python dependency whose ``table()`` wraps cells and repeats the heading on each
page without a layout framework, which is all this one-table report needs. DejaVu Sans is
shipped with smimehelper (resources/fonts, Bitstream Vera licence) so names in any European
script print the same on every computer.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .model import METHODS
from .report import Accounting, TransferView

STATE_WORDS = {
    "recorded": "recorded, not yet sent",
    "queued": "waiting to be sent",
    "sent": "sent",
    "failed": "failed",
    "handed-over": "handed to the mail program",
    "unknown": "unknown",
}


def _fonts() -> tuple[str, str]:
    folder = resources.files("smimehelper") / "resources" / "fonts"
    return str(folder / "DejaVuSans.ttf"), str(folder / "DejaVuSans-Bold.ttf")


def accounting_pdf(report: Accounting) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    regular, bold = _fonts()
    title = "Accounting of disclosures"

    class _Pdf(FPDF):
        def footer(self) -> None:  # noqa: D401 - fpdf2 hook
            self.set_y(-12)
            self.set_font("DejaVu", size=8)
            self.cell(0, 6, f"{title} \u2013 patient ID {report.patient_id} \u2013 page {self.page_no()} of {{nb}}", align="C")

    pdf = _Pdf(orientation="landscape", unit="mm", format="A4")
    pdf.set_title(f"{title}: patient {report.patient_id}")
    pdf.set_author(report.practice)
    pdf.set_creator("smimehelper")
    pdf.add_font("DejaVu", "", regular)
    pdf.add_font("DejaVu", "B", bold)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 16)
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=10)
    period = (f"{report.start:%Y-%m-%d} to {report.end:%Y-%m-%d}" if report.start and report.end else "no disclosures recorded")
    lines = [
        ("Practice", report.practice or "(not set)"),
        ("Patient", f"{report.patient_name} (patient ID {report.patient_id})" if report.patient_name else f"patient ID {report.patient_id}"),
        ("Period", period),
        ("Prepared", f"{report.prepared:%Y-%m-%d %H:%M} UTC"),
        ("Disclosures", str(len(report.transfers))),
    ]
    for label, value in lines:
        pdf.set_font("DejaVu", "B", 10)
        pdf.cell(30, 6, label + ":")
        pdf.set_font("DejaVu", size=10)
        pdf.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.multi_cell(0, 5, (
        "This is the list of every disclosure of this patient's health information that this practice "
        "made with smimehelper in the period above (45 CFR 164.528): when, to whom, what, why and how. "
        "Only this patient's files are listed; files of other patients that travelled in the same message "
        "are left out and counted as such. Times are in UTC. The SHA-256 value identifies the exact file sent."
    ), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    if not report.transfers:
        pdf.set_font("DejaVu", "B", 11)
        pdf.multi_cell(0, 6, "No disclosure of this patient was recorded in this period.", new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.set_font("DejaVu", size=7.5)
        heading = FontFace(emphasis="BOLD", fill_color=(225, 230, 240))
        with pdf.table(col_widths=(22, 44, 118, 24, 34, 35), headings_style=heading, line_height=4.2,
                       text_align="LEFT", first_row_as_headings=True, repeat_headings=1) as table:
            header = table.row()
            for text in ("Date (UTC)", "Recipient", "What was disclosed", "Purpose", "How", "Outcome"):
                header.cell(text)
            for view in report.transfers:
                row = table.row()
                for text in _cells(view):
                    row.cell(text)
    pdf.ln(4)
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(0, 6, "Integrity of the record", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=9)
    pdf.multi_cell(0, 5, report.verification, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _cells(view: TransferView) -> tuple[str, ...]:
    t = view.transfer
    recipients = "\n".join(str(r) for r in t.recipients) or "-"
    what = []
    for f in t.files:
        line = f"{f.name} ({f.content_type}, {f.size} bytes)"
        if f.dicom is not None:
            line += f"\n  {f.dicom.words()}"
        line += f"\n  SHA-256: {f.sha256}"
        what.append(line)
    if t.patients:
        what.append("Patient reference: " + ", ".join(t.patients))
    if view.hidden_files:
        what.append(f"(+ {view.hidden_files} file{'s' if view.hidden_files != 1 else ''} of other patients, not listed)")
    how = METHODS.get(t.method, t.method) + (f" via {t.via}" if t.via else "") + (f", part {t.part}" if t.part else "")
    outcome = STATE_WORDS.get(view.state, view.state)
    if view.reply:
        outcome += f"\nServer: {view.reply}"
    outcome += f"\nMessage-ID {t.message_id}" if t.message_id else ""
    return (view.entry.time.replace("T", " ").rstrip("Z"), recipients, "\n".join(what) or "-", t.purpose, how, outcome)


def write_pdf(report: Accounting, target: Path) -> Path:
    from .exports import write_export

    return write_export(target, accounting_pdf(report))

"""Warnings about patient data where encryption does not reach.

S/MIME encrypts the body and attachments but not the Subject, From, To or Date headers: mail
servers must read them. A dentist who writes "Maria Muster, born 03.04.1961" in the subject sends
it in clear, so we look for what typically identifies a patient and say so before sending.
"""

from __future__ import annotations

import re

_DATE_PATTERNS = (
    re.compile(r"\b\d{1,2}[./-]\d{1,2}[./-](?:19|20)?\d{2}\b"),  # 03.04.1961, 3/4/61
    re.compile(r"\b(?:19|20)\d{2}-\d{2}-\d{2}\b"),  # 1961-04-03
)
_KEYWORDS = re.compile(
    r"\b(?:patient(?:in)?|dob|d\.o\.b|born|geb(?:oren)?|birth|ssn|insurance|versicherten?\w*|"
    r"svnr|ahv|nhs|mrn)\b",
    re.IGNORECASE,
)

SUBJECT_NOT_ENCRYPTED = (
    "The subject line is not encrypted: mail servers can read it. Keep patient names and dates "
    "of birth out of it and put them in the message text instead."
)


def subject_warnings(subject: str, sensitive_terms: tuple[str, ...] = ()) -> list[str]:
    """Reasons to warn about ``subject``; empty when it looks harmless.

    ``sensitive_terms`` are values known to identify the patient (for example the name and birth
    date found in an attached DICOM header), matched case-insensitively.
    """
    found: list[str] = []
    if any(p.search(subject) for p in _DATE_PATTERNS):
        found.append("a date (a date of birth?)")
    if _KEYWORDS.search(subject):
        found.append("a word that suggests patient details")
    lowered = subject.lower()
    for term in sensitive_terms:
        if term and len(term) > 2 and term.lower() in lowered:
            found.append(f'"{term}" from the attached files')
    if not found:
        return []
    return [f"The subject contains {', '.join(found)}. {SUBJECT_NOT_ENCRYPTED}"]

"""How the app says things: file types, times and certificate purposes in a dentist's words.

Times are stored in UTC (ISO 8601) and shown in the computer's local time zone, the way a
person reads a clock; the technical form (UTC, MIME types) is for the Details.
"""

from __future__ import annotations

import datetime as dt

TYPE_NAMES = {
    "application/dicom": "DICOM image (x-ray)",
    "image/jpeg": "JPEG image",
    "image/png": "PNG image",
    "image/tiff": "TIFF image",
    "image/gif": "GIF image",
    "application/pdf": "PDF document",
    "application/zip": "ZIP archive",
    "text/plain": "Text",
    "text/html": "Web page (HTML)",
    "text/csv": "Table (CSV)",
    "application/xml": "XML file",
    "text/xml": "XML file",
    "application/msword": "Word document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word document",
    "application/pkcs7-mime": "Encrypted or signed part (S/MIME)",
    "message/rfc822": "Attached e-mail",
    "application/octet-stream": "File",
}


def type_name(content_type: str | None) -> str:
    """"DICOM image (x-ray)" for application/dicom; the MIME type itself when unknown."""
    if not content_type:
        return "File"
    base = content_type.split(";", 1)[0].strip().lower()
    return TYPE_NAMES.get(base, content_type)


def as_local(when: dt.datetime | str | None) -> dt.datetime | None:
    """An aware time (or ISO 8601 text) in the computer's time zone; None when unreadable."""
    if when is None or when == "":
        return None
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone()


def local_time(when: dt.datetime | str | None, *, now: dt.datetime | None = None, seconds: bool = False) -> str:
    """"today 14:05", "yesterday 09:12", "3 December 2026, 14:05": local time, in words.

    Unreadable text comes back as it was (never an empty field that hides a date)."""
    local = as_local(when)
    if local is None:
        return str(when or "")
    today = (now or dt.datetime.now(dt.timezone.utc)).astimezone().date()
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    if local.date() == today:
        return f"today {clock}"
    if local.date() == today - dt.timedelta(days=1):
        return f"yesterday {clock}"
    if local.date() == today + dt.timedelta(days=1):
        return f"tomorrow {clock}"
    return f"{local.day} {local:%B %Y}, {clock}"


def local_date(when: dt.datetime | str | None) -> str:
    """"3 December 2026" in the local time zone."""
    local = as_local(when)
    return f"{local.day} {local:%B %Y}" if local is not None else str(when or "")


def utc_text(when: dt.datetime | str | None) -> str:
    """The exact time in UTC, for the Details."""
    local = as_local(when)
    return f"{local.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC" if local is not None else str(when or "")


CIPHER_WORDS = {
    "aes256-cbc": "AES-256 (CBC)",
    "aes128-cbc": "AES-128 (CBC)",
    "aes192-cbc": "AES-192 (CBC)",
    "aes256-gcm": "AES-256 (GCM)",
    "aes128-gcm": "AES-128 (GCM)",
    "des-ede3-cbc": "Triple DES (old and weak)",
}


def cipher_name(cipher: str | None) -> str:
    return CIPHER_WORDS.get((cipher or "").lower(), cipher or "")

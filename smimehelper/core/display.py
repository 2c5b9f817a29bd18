"""Text for people: sender-controlled strings made safe to show, sizes in words.

Shared by the command line and the desktop app so both show the same thing the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .reader import SignatureVerdict

_BIDI = {0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def printable(text: str | None, *, multiline: bool = False) -> str:
    """Text from a message, safe for a terminal or a label.

    A sender controls From, Subject, the body and file names: escape sequences in them could
    clear the screen or forge a line such as "Everything checks out", and Bidi overrides can
    disguise a file name. Control characters (and Bidi overrides) become visible ``\\uXXXX``.
    """
    if text is None:
        return ""
    out = []
    for char in text:
        code = ord(char)
        if multiline and char in "\n\t":
            out.append(char)
        elif code < 0x20 or 0x7F <= code <= 0x9F or code in _BIDI:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def human_size(size: float) -> str:
    """1 234 567 -> "1.2 MB" (decimal units, as mail providers state their limits)."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"  # pragma: no cover


def signature_sentence(index: int, total: int, s: "SignatureVerdict", *, emphasis: bool = False) -> str:
    """One signature's verdict in plain words (the CLI shouts the failures, the GUI colours them)."""
    where = "" if total == 1 else (" (outermost)" if index == 0 else " (innermost)" if index == total - 1 else "")
    who = printable(s.signer_email or s.signer_subject or "an unknown signer")
    when = f" on {s.signed_at:%Y-%m-%d %H:%M} UTC" if s.signed_at else ""
    not_trusted, not_valid = ("NOT TRUSTED", "NOT VALID") if emphasis else ("not trusted", "not valid")
    if s.valid and s.trusted:
        return f"Signature{where}: valid and trusted, signed by {who}{when}."
    if s.valid:
        return f"Signature{where}: valid (unchanged since signing) but {not_trusted}, signed by {who}{when}. {printable(s.reason)}"
    return f"Signature{where}: {not_valid}, claimed signer {who}{when}. {printable(s.reason)}"


TRUNCATED_NOTE = (
    "The text is longer than shown here; the whole text is among the attachments as message.txt."
)


def fingerprint_in_groups(fingerprint: str) -> str:
    """A SHA-256 fingerprint (hex, with or without colons) in 16 groups of four, two lines of
    eight: what a person reads out on the phone ("A1B2 C3D4 ..."). The same digits in the same
    order as the colon form other programs show (A1:B2:C3:D4:...)."""
    digits = "".join(c for c in fingerprint if c not in ": \n").upper()
    groups = [digits[i:i + 4] for i in range(0, len(digits), 4)]
    return " ".join(groups[:8]) + ("\n" + " ".join(groups[8:]) if groups[8:] else "")

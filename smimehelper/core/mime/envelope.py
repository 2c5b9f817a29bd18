"""Who a finished message goes to, read from its header block, and only from a sound one.

``send``, the outbox and the hand-off take the SMTP recipients (and the sender) from a message's
To, Cc and From headers. A message whose header block was tampered with -- a line break inside
a value that became a "Cc:" line, a second Cc header, an encoded word that decodes to a line
break, a NUL -- would otherwise gain recipients nobody chose. Such a header block is refused
as a whole: nothing is queued or handed over, and the user is told why.

Mail programs and mail servers split header lines differently (a bare LF or CR is a line end
for some and not for others), so the rules are strict: one kind of line end in the whole block,
no control characters, every line a header field or its continuation, at most one of each
field that RFC 5322 (3.6) and RFC 2045 allow once.
"""

from __future__ import annotations

import email.errors
import email.message
import email.parser
import email.policy
import re
from dataclasses import dataclass
from pathlib import Path

from ..display import printable
from ..errors import AddressError, MessageFormatError
from ..files import open_regular
from .headers import _ADDR, control_character

MAX_HEADER_BYTES = 256 * 1024
_FIELD = re.compile(rb"^[!-9;-~]+[ \t]*:")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# RFC 5322 3.6: at most once; RFC 2045: one of each MIME header per entity.
_ONCE = ("from", "sender", "reply-to", "to", "cc", "bcc", "subject", "date", "message-id",
         "in-reply-to", "references", "mime-version", "content-type", "content-transfer-encoding")


class HeaderTamperedError(MessageFormatError):
    """The header block of a message is not sound: it is not sent or handed over."""


@dataclass(frozen=True)
class Envelope:
    """What SMTP needs from a message's headers: the sender and the recipients (To + Cc)."""

    sender: str
    recipients: tuple[str, ...]
    subject: str


def _refuse(path: Path, problem: str) -> HeaderTamperedError:
    return HeaderTamperedError(
        f"{path} was not sent: its header lines are not sound ({problem}). Headers like these "
        "can add recipients nobody chose, so smimehelper does not send it. Write the message "
        "again with 'smimehelper compose'."
    )


def header_block(path: Path) -> bytes:
    """The raw header block of the message file at ``path`` (without the blank line after it)."""
    with open_regular(path, "message file") as handle:
        head = handle.read(MAX_HEADER_BYTES + 4)
    if head.startswith(b"From ") and b"\n" in head:  # an mbox "From " line
        head = head[head.index(b"\n") + 1 :]
    ends = [p for p in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if p >= 0]
    if not ends:
        raise _refuse(path, "the end of the header block is missing")
    return head[: min(ends)]


def check_header_block(path: Path, block: bytes | None = None) -> bytes:
    """Refuse (HeaderTamperedError) a header block that could hide or add a header field."""
    block = header_block(path) if block is None else block
    if not block.strip():
        raise _refuse(path, "there are no headers")
    crlf = b"\r\n" in block
    if crlf:
        stray_lf = re.search(rb"(?<!\r)\n", block)
        stray_cr = re.search(rb"\r(?!\n)", block)
        if stray_lf or stray_cr:
            raise _refuse(path, "a line break inside a header line")
        lines = block.split(b"\r\n")
    else:
        if b"\r" in block:
            raise _refuse(path, "a carriage return (CR) inside a header line")
        lines = block.split(b"\n")
    control = _CONTROL_BYTES.search(block)
    if control:
        raise _refuse(path, f"the control character 0x{control.group()[0]:02x}")
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if line[:1] in (b" ", b"\t"):
            if number == 1:
                raise _refuse(path, "the first header line is a continuation")
            continue
        if not _FIELD.match(line):
            shown = printable(line[:40].decode("utf-8", "replace"))
            raise _refuse(path, f'line {number} ("{shown}") is not a header field')
        name = line.split(b":", 1)[0].strip().decode("ascii").lower()
        seen[name] = seen.get(name, 0) + 1
        if name in _ONCE and seen[name] > 1:
            raise _refuse(path, f"the {name.title()} header appears more than once")
    return block


def check_headers(path: Path) -> email.message.EmailMessage:
    """The parsed headers of a message whose header block is sound and whose address and
    subject fields decode to text without control characters (else HeaderTamperedError)."""
    path = Path(path)
    block = check_header_block(path)
    headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(block + b"\r\n\r\n")
    for name in ("From", "Sender", "Reply-To", "To", "Cc", "Bcc"):
        _mailboxes(path, headers, name)
    problem = control_character(str(headers.get("Subject", "")))
    if problem:
        raise _refuse(path, f"the Subject header decodes to text with {problem}")
    return headers  # type: ignore[return-value]


def read_envelope(path: Path) -> Envelope:
    """The sender and the To + Cc recipients of a message whose header block is sound."""
    path = Path(path)
    headers = check_headers(path)
    if headers.get("Bcc") is not None:
        raise AddressError(
            f"{path} has a Bcc header, which would show the Bcc recipients to everyone. "
            "Use 'smimehelper compose --bcc' instead: each Bcc recipient gets a separate copy."
        )
    senders = _mailboxes(path, headers, "From")
    recipients = tuple(dict.fromkeys((*_mailboxes(path, headers, "To"), *_mailboxes(path, headers, "Cc"))))
    if len(senders) != 1 or not recipients:
        raise AddressError(f"{path} has no single From address or no To/Cc address, so it cannot be sent.")
    return Envelope(senders[0], recipients, str(headers.get("Subject", "")))


def _mailboxes(path: Path, headers: email.message.Message, name: str) -> list[str]:
    """The addresses of one address header, each checked; any doubt refuses the message."""
    try:
        raw = headers.get(name)
        if raw is None:
            return []
        addresses = raw.addresses  # type: ignore[union-attr]
        # Obsolete but unambiguous syntax (a period in a name: Dr. Dent) is fine; an invalid
        # address list is not: mail programs would read different recipients out of it.
        defects = [d for d in getattr(raw, "defects", ()) if not isinstance(d, email.errors.ObsoleteHeaderDefect)]
    except ValueError:  # an encoded word that decodes to CR or LF inside a name or address
        raise _refuse(path, f"the {name} header hides a line break in an encoded name") from None
    if defects:
        raise _refuse(path, f"the {name} header is malformed ({type(defects[0]).__name__})")
    found = []
    for address in addresses:
        for part in (address.display_name, address.addr_spec):
            problem = control_character(part or "")
            if problem:
                raise _refuse(path, f"the {name} header holds a name with {problem}")
        if not _ADDR.match(address.addr_spec):
            raise _refuse(path, f'the {name} header holds "{printable(address.addr_spec)}", which is not an e-mail address')
        found.append(address.addr_spec.lower())
    return found

"""Check a message before it is handed to a mail program: only protected, plainly addressed
messages leave this way.

The mail program sends to the addresses in To and Cc and files the bytes as they are, so the
message must already be encrypted (or at least signed: the user's ``--no-encrypt`` choice),
name its recipients in To/Cc, and carry no header the mail program would act on
(Bcc, Fcc, Newsgroups, its own X-Mozilla-* bookkeeping): those would change where it goes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from email.utils import getaddresses
from pathlib import Path

from ..errors import InputFileError, UserError
from ..files import open_regular
from ..mime.envelope import check_headers
from ..mime.parser import parse_entity

ENCRYPTED_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")
SIGNATURE_PROTOCOLS = ("application/pkcs7-signature", "application/x-pkcs7-signature")
_STEERING_HEADERS = ("Bcc", "Resent-Bcc", "Fcc", "Newsgroups", "X-Identity-Key", "X-Account-Key")


class UnsafeHandoff(UserError):
    """Handing this message over could send something unprotected or to the wrong people."""


@dataclass(frozen=True)
class MessageFacts:
    sender: str
    recipients: tuple[str, ...]
    protection: str  # "encrypted" or "signed"
    newline: bytes
    size: int
    message_id: str
    subject: str


def check_message(path: Path) -> MessageFacts:
    """Facts of the message at ``path``, or a clear error why it must not be handed over."""
    with open_regular(path, "message file (.eml)") as handle:  # a FIFO, device or folder: said so
        info = os.fstat(handle.fileno())
    if info.st_size == 0:
        raise InputFileError(f"{path} is empty; it is not a message.")
    check_headers(path)  # a tampered header block could add recipients the mail program obeys
    try:
        with open(path, "rb") as handle:
            entity = parse_entity(handle, 0, info.st_size)
            handle.seek(0)
            head = handle.read(min(info.st_size, entity.body_start))
    except OSError as exc:
        raise InputFileError(f"Cannot read the message {path}: {exc.strerror}.") from None
    headers = entity.headers
    if head.startswith(b"From "):
        raise UnsafeHandoff(f"{path} starts with an mbox 'From ' line; save the single message as .eml first.")
    for name in _STEERING_HEADERS:
        if headers.get(name) is not None:
            raise UnsafeHandoff(
                f"{path} has a {name} header, which would make the mail program send or file it somewhere "
                "else than its To and Cc. Write the message again with smimehelper (Bcc: use --bcc, which "
                "gives each Bcc recipient an own copy, sent by smimehelper itself)."
            )
    if any(k.lower().startswith("x-mozilla-") for k in headers.keys()):
        raise UnsafeHandoff(f"{path} carries Thunderbird's own bookkeeping headers (X-Mozilla-...); use the message smimehelper wrote.")
    senders = [a for _, a in getaddresses([str(v) for v in headers.get_all("From", [])]) if a]
    if len(senders) != 1:
        raise UnsafeHandoff(f"{path} must have exactly one sender in its From header (it has {len(senders)}).")
    recipients = tuple(dict.fromkeys(
        a.lower() for _, a in getaddresses([str(v) for v in headers.get_all("To", []) + headers.get_all("Cc", [])]) if a
    ))
    if not recipients:
        raise UnsafeHandoff(f"{path} has no recipient in To or Cc, so the mail program could not send it.")
    content_type = entity.content_type
    if content_type in ENCRYPTED_TYPES and (entity.param("smime-type") or "enveloped-data").lower() in ("enveloped-data", "authenveloped-data"):
        protection = "encrypted"
    elif content_type in ENCRYPTED_TYPES and (entity.param("smime-type") or "").lower() == "signed-data":
        protection = "signed"
    elif content_type == "multipart/signed" and (entity.param("protocol") or "").lower() in SIGNATURE_PROTOCOLS:
        protection = "signed"
    else:
        raise UnsafeHandoff(
            f"{path} is neither encrypted nor signed with S/MIME, so its content would leave your computer "
            "readable by anyone on the way. Write it with smimehelper (Compose) first."
        )
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    return MessageFacts(
        sender=senders[0], recipients=recipients, protection=protection, newline=newline, size=info.st_size,
        message_id=str(headers.get("Message-ID", "")).strip(), subject=str(headers.get("Subject", "")),
    )

"""Compose messages from the test PKI and take them apart with independent tools."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

from smimehelper.core.compose import ComposeRequest, ComposeResult, compose_to_file
from smimehelper.core.identity import load_pkcs12
from smimehelper.core.mime.writer import prepare_attachment
from tests.pki.make_pki import Pki

RECIPIENT_NAMES = ("bob", "carol", "dave", "erin", "alice", "frank", "expired", "notyet",
                   "signonly", "wrongeku", "weak", "revoked")


def compose(
    pki: Pki,
    out: Path,
    *,
    sender: str = "alice",
    to: tuple[str, ...] = ("bob",),
    cc: tuple[str, ...] = (),
    attachments: tuple[Path, ...] = (),
    body: str = "Dear colleague,\nplease find the x-ray attached.\n",
    subject: str = "Referral",
    **options: object,
) -> ComposeResult:
    """Compose at the PKI's reference time with every leaf certificate available."""
    sender_entity = pki.entity(sender)
    identity = load_pkcs12(sender_entity.p12, pki.p12_password.encode())
    certs = tuple(pki.entity(n).cert for n in RECIPIENT_NAMES)
    request = ComposeRequest(
        sender=f"Sender <{sender_entity.email}>",
        to=tuple(_address(pki, n) for n in to),
        cc=tuple(_address(pki, n) for n in cc),
        subject=subject,
        body=body,
        identity=identity,
        attachments=tuple(prepare_attachment(p) for p in attachments),
        recipient_certs=certs,
        now=pki.now,
        **options,  # type: ignore[arg-type]
    )
    return compose_to_file(request, out)


def _address(pki: Pki, name_or_address: str) -> str:
    """A PKI entity's e-mail, or the text itself when it is already an address."""
    if "@" in name_or_address:
        return name_or_address
    return pki.entity(name_or_address).email or name_or_address


def parse(mime: bytes) -> EmailMessage:
    return email.message_from_bytes(mime, policy=email.policy.default)  # type: ignore[return-value]


def signed_content_parts(inner: bytes) -> EmailMessage:
    """The multipart/mixed (or text) entity inside a multipart/signed message."""
    message = parse(inner)
    assert message.get_content_type() == "multipart/signed"
    content, _ = message.get_payload()  # type: ignore[misc]
    return content


def attachments_of(entity: EmailMessage) -> dict[str, tuple[str, bytes]]:
    """filename -> (content type, decoded bytes)."""
    found: dict[str, tuple[str, bytes]] = {}
    for part in entity.iter_attachments():
        found[part.get_filename()] = (part.get_content_type(), part.get_payload(decode=True) or b"")
    return found


def text_of(entity: EmailMessage) -> str:
    body = entity.get_body(preferencelist=("plain",))
    assert body is not None
    return body.get_content().replace("\r\n", "\n")

"""Open: decrypt and verify a message with the stored keys, keep its signers, save an attachment."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import datetime as dt

from cryptography.hazmat.primitives import hashes

from ..core.certs import cert_emails, load_certificates
from ..core.contacts import ContactCert
from ..core.errors import CertificateError, InputFileError
from ..core.reader import OpenedMessage, ReceivedAttachment, open_message
from . import AskPassphrase, now as clock
from .inputs import open_identity

if TYPE_CHECKING:
    from .stores import Stores


@dataclass(frozen=True)
class OpenInput:
    message: Path
    keys: tuple[Path, ...] = ()
    trust: tuple[Path, ...] = ()
    save_attachments: Path | None = None
    now: dt.datetime | None = None


def open_message_file(
    request: OpenInput, ask_passphrase: AskPassphrase | None, *, stores: Stores | None = None
) -> OpenedMessage:
    """Decrypt and verify a message; with stores, use the stored keys and trusted authorities
    and remember the certificate and capabilities of every valid and trusted signer."""
    identities: list[object] = [open_identity(path, ask_passphrase) for path in request.keys]
    anchors = []
    for path in request.trust:
        anchors.extend(load_certificates(path))
    if stores is not None:
        identities.extend(stores.identities.all_locked(ask_passphrase))
        anchors.extend(stores.trust.anchors())
    opened = open_message(
        request.message,
        identities=identities,  # type: ignore[arg-type]
        anchors=anchors,
        save_dir=request.save_attachments,
        now=request.now or clock(),
    )
    if stores is not None:
        opened = honour_trusted_certificates(stores, opened, request.now or clock())
        harvest_signers(stores, opened, f"signed message {request.message.name}")
    return opened


def honour_trusted_certificates(stores: Stores, opened: OpenedMessage, now: dt.datetime) -> OpenedMessage:
    """A valid signature whose signer's certificate the user chose to trust themselves (Contacts:
    "trust only this certificate") is trusted without an authority. Never when the From line does
    not match the signer (RFC 8550 3: the reader already withdrew trust for that), never for a
    signature that is not valid, and the usage and dates are checked as for any signer."""
    chosen = stores.contacts.directly_trusted()
    if not chosen or opened.sender_problem is not None:
        return opened
    from ..core.trust import trust_problem

    changed = []
    for verdict in opened.signatures:
        signer = verdict.signer
        if verdict.valid and not verdict.trusted and signer is not None and signer.fingerprint(hashes.SHA256()).hex() in chosen:
            at = verdict.signed_at if verdict.signed_at and verdict.signed_at <= now else now
            if trust_problem(signer, (), (), at, trusted_certs=chosen) is None:
                verdict = replace(verdict, trusted=True, reason=None)
        changed.append(verdict)
    return replace(opened, signatures=tuple(changed))


def harvest_signers(stores: Stores, opened: OpenedMessage, source: str, *, require_trust: bool = True) -> list[ContactCert]:
    """Keep each signer's certificate, chain and announced capabilities as a contact."""
    added: list[ContactCert] = []
    own = {e for i in stores.identities.list() for e in i.emails}
    for verdict in opened.signatures:
        if verdict.signer is None or not verdict.valid or (require_trust and not verdict.trusted):
            continue
        if own.intersection(cert_emails(verdict.signer)):
            continue  # our own signature (a Sent copy): not a contact
        chain = tuple(c for c in verdict.certificates if c != verdict.signer)
        try:
            added += stores.contacts.add(verdict.signer, chain=chain, capabilities=verdict.capabilities,
                                         signing_time=verdict.signed_at, source=source)
        except CertificateError:
            continue
    return added


# -- stores ---------------------------------------------------------------------------------

def save_attachment(
    request: OpenInput,
    index: int,
    shown: ReceivedAttachment,
    folder: Path,
    ask_passphrase: AskPassphrase | None,
    *,
    stores: Stores | None = None,
) -> Path:
    """Open ``request.message`` again and save only its attachment number ``index`` (0-based, in
    the order of :attr:`OpenedMessage.attachments`) into ``folder``; returns the file written.

    ``shown`` is that attachment as listed when the message was opened: its safe name is the
    name on disk (an existing file is never replaced: " (1)" is added), and if the attachment at
    that place has other content now (the file changed in between), nothing is saved.
    """
    import tempfile
    from collections.abc import Iterator

    from ..core.attachments import safe_filename, save_unique

    with tempfile.TemporaryDirectory(prefix="smimehelper-save-") as scratch:
        opened = open_message_file(replace(request, save_attachments=Path(scratch)), ask_passphrase, stores=stores)
        if opened.encrypted and not opened.decrypted:
            raise InputFileError(f"{request.message.name} could not be decrypted: {opened.decryption_problem}")
        if not 0 <= index < len(opened.attachments) or opened.attachments[index].sha256 != shown.sha256:
            raise InputFileError(
                f"The attachments of {request.message.name} are not the ones shown (the file changed "
                "since it was opened). Open the message again, then save."
            )
        source = opened.attachments[index].saved_to
        assert source is not None

        def chunks() -> Iterator[bytes]:
            with open(source, "rb") as handle:
                while block := handle.read(1 << 20):
                    yield block

        return save_unique(folder, safe_filename(shown.filename, shown.content_type, index + 1), chunks())



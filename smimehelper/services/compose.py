"""Compose: a message as the user describes it -> a signed and encrypted .eml (and Bcc copies)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import datetime as dt

from ..core.cert_status import certificate_status
from ..core.certs import cert_emails, describe, load_certificates
from ..core.cms.capabilities import parse_capabilities
from ..core.atomic import AtomicBatch, resolve_target
from ..core.compose import ComposeRequest, ComposeResult, compose_to_file, precheck, write_error
from ..core.dicom import patient_identifiers
from ..core.errors import AddressError, PassphraseError
from ..core.identity import Identity
from ..core.mime.headers import parse_address, refuse_control_characters
from ..core.mime.writer import Attachment, prepare_attachment
from ..core.privacy import subject_warnings
from ..core.validation import Purpose
from . import AskPassphrase, now as clock
from .inputs import open_identity

if TYPE_CHECKING:
    from ..core.disclosure.model import DisclosedFile
    from .stores import Stores


@dataclass(frozen=True)
class ComposeInput:
    """A message as the user describes it: addresses, text and file names."""

    sender: str | None
    to: tuple[str, ...]
    subject: str
    body: str
    sign_key: Path | None
    out: Path
    cc: tuple[str, ...] = ()
    attachments: tuple[Path, ...] = ()
    recipient_certs: tuple[Path, ...] = ()
    sign: bool = True
    encrypt: bool = True
    oaep: bool = False
    gcm: bool = False
    now: dt.datetime | None = None
    bcc: tuple[str, ...] = ()
    purpose: str = "treatment / referral"  # for the disclosure log (asked in the app)
    # DICOM (services/dicom.py): remove patient details (PS3.15 options), compress losslessly
    # ("jpeg-ls", "jpeg2000", "rle"), split over several messages under size_limit bytes
    # (default: the account's limit). A folder among the attachments becomes a File-set ZIP.
    deidentify: object | None = None  # core.dicom.annex_e.DeidOptions
    compress: str | None = None
    split: bool = False
    size_limit: int | None = None


@dataclass(frozen=True)
class BccCopy:
    address: str
    result: ComposeResult


@dataclass(frozen=True)
class ComposeOutcome:
    result: ComposeResult
    warnings: tuple[str, ...]
    bcc_copies: tuple[BccCopy, ...] = ()
    parts: tuple[ComposeResult, ...] = ()  # a split study: every message (result is the first)
    notes: tuple[str, ...] = ()  # what was done to DICOM files (de-identified, compressed...)

    @property
    def sender(self) -> str:
        return self.result.sender


def compose_message(
    request: ComposeInput,
    ask_passphrase: AskPassphrase | None,
    *,
    stores: Stores | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    attachments: tuple[Attachment, ...] = (),
) -> ComposeOutcome:
    """Check every input, then write the signed and encrypted message to ``request.out``.

    Without ``sign_key`` the identity comes from the store; recipients without a
    ``recipient_certs`` file get the newest valid certificate from the contacts.
    ``attachments`` are files already typed by the caller (a password package is text/html),
    sent after ``request.attachments``. ``progress(done, total)`` counts bytes; while DICOM
    copies are made (deidentify/compress) it is called as ``progress(-files done, files)``.
    """
    # Header text first: a line break in the subject or a name is refused before any file is
    # read (or de-identified) or any passphrase asked.
    refuse_control_characters(request.subject, "The subject")
    for text in (*((request.sender,) if request.sender else ()), *request.to, *request.cc, *request.bcc):
        parse_address(text)
    resolve_target(request.out)  # a device, FIFO, socket or folder as output: refused up front
    if request.deidentify is not None or request.compress or request.split or any(Path(p).is_dir() for p in request.attachments):
        from .dicom import compose_dicom

        return compose_dicom(request, ask_passphrase, stores=stores, progress=progress, cancelled=cancelled, extra=attachments)
    typed = (*(prepare_attachment(p) for p in request.attachments), *attachments)
    base, warnings, terms = build_request(request, ask_passphrase, stores=stores, attachments=typed)
    outcome = write_message(request, base, warnings, terms, progress=progress, cancelled=cancelled)
    remember(stores, request, base, outcome)
    return outcome


def build_request(
    request: ComposeInput, ask_passphrase: AskPassphrase | None, *, stores: Stores | None = None,
    attachments: tuple[Attachment, ...] | None = None, terms_from: tuple[Path, ...] | None = None,
) -> tuple[ComposeRequest, list[str], list[str]]:
    """Resolve identity, recipients and certificates: the core request, warnings, and the
    patient identifiers (for the subject-line warning) of the DICOM files in ``terms_from``."""
    now = (request.now or clock()).replace(microsecond=0)
    if attachments is None:
        attachments = tuple(prepare_attachment(p) for p in request.attachments)
    certs = []
    for path in request.recipient_certs:
        certs.extend(c for c in load_certificates(path) if not describe(c).is_ca)
    sender = request.sender
    if sender is None and request.sign_key is not None:
        from_file = open_identity(request.sign_key, ask_passphrase)
        sender = f"{describe(from_file.cert).display_name} <{cert_emails(from_file.cert)[0]}>" if cert_emails(from_file.cert) else None
    if request.sign_key is None and stores is not None:
        wanted = parse_address(sender).addr_spec.lower() if sender else None
        stored = stores.identities.for_signing(wanted, now)
        if sender is None:
            sender = f"{stored.info.display_name} <{stored.emails[0]}>"
    if sender is None:
        raise AddressError("Give your address with --from, or import your certificate first ('smimehelper identity import').")
    precheck(
        ComposeRequest(
            sender=sender, to=request.to, cc=request.cc, bcc=request.bcc, subject=request.subject, body="",
            identity=None, sign=request.sign, encrypt=request.encrypt,  # type: ignore[arg-type]
        )
    )
    warnings: list[str] = []
    capabilities: list[tuple[str, frozenset[str]]] = []
    if request.sign_key is not None:
        identity = open_identity(request.sign_key, ask_passphrase)
    elif stores is None:
        raise PassphraseError("Give your certificate file with --sign-key.")
    else:
        locked = stores.identities.locked(stored, ask_passphrase)
        identity = locked.unlocked() if request.sign else Identity(key=None, cert=stored.cert, chain=stored.chain)  # type: ignore[arg-type]
        notice = stored.expiry_warning(now)
        if notice:
            warnings.append(notice)
    if request.encrypt and stores is not None:
        explicit = {e for c in certs for e in cert_emails(c)}
        own = set(cert_emails(identity.cert))
        anchors = stores.trust.anchors()
        strict = stores.strict_revocation()
        pool = stores.intermediates()
        for text in (*request.to, *request.cc, *request.bcc):
            email = parse_address(text).addr_spec.lower()
            if email in explicit or email in own:
                continue
            entry, status = stores.contacts.best_for_encryption(
                email,
                lambda c, email=email: certificate_status(c.cert, Purpose.ENCRYPT, now, anchors, (*c.chain, *pool), email=email, strict_revocation=strict,
                                                         trusted_directly=c.trusted_directly is not None),
                strict,
            )
            certs.append(entry.cert)
            capabilities.append((email, parse_capabilities(entry.capabilities)))
            if status.reason:
                warnings.append(status.reason)
    terms: list[str] = []
    if terms_from is None:
        terms_from = tuple(a.path for a in attachments if a.content_type == "application/dicom")
    for path in terms_from:
        terms.extend(patient_identifiers(path))
    base = ComposeRequest(
        sender=sender,
        to=request.to,
        cc=request.cc,
        subject=request.subject,
        body=request.body,
        identity=identity,
        attachments=attachments,
        recipient_certs=tuple(certs),
        sign=request.sign,
        encrypt=request.encrypt,
        oaep=request.oaep,
        gcm=request.gcm,
        now=now,
        capabilities=tuple(capabilities),
        bcc=request.bcc,
    )
    if request.bcc and not request.encrypt:
        raise AddressError("Bcc needs encryption: an unencrypted message cannot hide its Bcc recipients' copies.")
    return base, warnings, terms


def write_message(
    request: ComposeInput, base: ComposeRequest, warnings: list[str], terms: list[str], *,
    progress: Callable[[int, int], None] | None = None, cancelled: Callable[[], bool] | None = None,
) -> ComposeOutcome:
    """Write the message (and each Bcc copy) of a resolved request."""
    copies = []
    # The message and its Bcc copies appear together or not at all.
    batch = AtomicBatch()
    with batch:
        result = compose_to_file(base, request.out, progress=progress, cancelled=cancelled, batch=batch)
        for index, address in enumerate(request.bcc, start=1):
            email = parse_address(address).addr_spec.lower()
            target = request.out.with_name(f"{request.out.stem}.bcc-{index}{request.out.suffix or '.eml'}")
            copy = compose_to_file(replace(base, encrypt_to=(address,)), target, progress=progress, cancelled=cancelled, batch=batch)
            copies.append(BccCopy(email, copy))
        try:
            batch.commit()
        except OSError as exc:
            raise write_error(request.out, exc) from None
    all_warnings = (*warnings, *result.warnings, *subject_warnings(request.subject, tuple(terms)))
    return ComposeOutcome(result=result, warnings=tuple(all_warnings), bcc_copies=tuple(copies))


def remember(stores: Stores | None, request: ComposeInput, base: ComposeRequest, outcome: ComposeOutcome, *,
             files: Sequence[DisclosedFile] | None = None, part: str = "") -> None:
    """What ``outcome`` discloses, for the log entry written when it is sent or handed off:
    ``files`` (the files that travel) when given, else the user's attachments as they are."""
    if stores is None:
        return
    from .disclosure import remember_composed

    remember_composed(stores, outcome, request.attachments, files=files, part=part, purpose=request.purpose,
                      to=request.to, cc=request.cc, identity=base.identity if request.sign else None)


"""Build a signed and encrypted S/MIME message in one streaming pass.

The MIME body is generated chunk by chunk from the attachments; as the bytes flow they are
hashed for the signature, encrypted, wrapped in BER and base64-encoded straight into a temporary
file beside the target, which is renamed only when everything succeeded. Memory stays constant
whatever the size of the study (see benchmarks/compose_vs_openssl.py).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.utils import format_datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .atomic import AtomicBatch, atomic_writer, problem_text
from .certs import cert_emails
from .cms import oids
from .cms.capabilities import our_capabilities
from .cms.enveloped import ContentCipher, EnvelopeEncoder
from .cms.recipients import KeyTransport, Recipient
from .cms.signed import detached_signature
from .errors import AddressError, ComposeError, UserError
from .identity import Identity
from .mime.encoders import LINE_INPUT_BYTES, NUMPY_WORTH_BYTES, Base64Stream, LineEncoder, numpy_loaded
from .mime.headers import address_header, fold, message_id, parse_address, refuse_control_characters
from .mime.writer import READ_CHUNK, Attachment, coalesce, content_entity, signed_entity
from .pipeline import BufferRing, EarlyWriteback, in_background, ring_size, usable_cpus
from .validation import Purpose, require_usable

WRITE_BUFFER = 1 << 20
DEPTH = 3  # chunks queued between two stages
SEAL_BLOCK = 2 << 20  # the encryption stage's buffers; it hands out blocks of 1-2 MB


class ComposeCancelled(UserError):
    """The user cancelled; nothing was written."""

    def __init__(self) -> None:
        super().__init__("Cancelled. No message was written.")


@dataclass(frozen=True)
class ComposeRequest:
    """Everything a message is made of; validated by :func:`compose_to_file` before writing."""

    sender: str
    to: tuple[str, ...]
    subject: str
    body: str
    identity: Identity
    cc: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    recipient_certs: tuple[x509.Certificate, ...] = ()
    sign: bool = True
    encrypt: bool = True
    oaep: bool = False
    gcm: bool = False
    now: dt.datetime | None = None
    # What each correspondent's mail program announced (SMIMECapabilities OIDs), by address:
    # RSA-OAEP is used for a recipient that lists it, AES-GCM when every correspondent does.
    capabilities: tuple[tuple[str, frozenset[str]], ...] = ()
    # Encrypt to these addresses (and the sender) instead of To + Cc: a Bcc recipient's own
    # copy, whose RecipientInfos must not reveal them to the others (and vice versa).
    encrypt_to: tuple[str, ...] | None = None
    bcc: tuple[str, ...] = ()  # never written; only so their certificates count as used


@dataclass(frozen=True)
class ComposeResult:
    path: Path
    message_id: str
    size: int
    signed: bool
    encrypted: bool
    cipher: str | None
    recipients: tuple[str, ...]  # whose certificates the message is encrypted to
    warnings: tuple[str, ...] = field(default=())
    sender: str = ""  # the From address (addr-spec), the SMTP envelope sender
    envelope_recipients: tuple[str, ...] = ()  # To + Cc addr-specs as given: the SMTP recipients


@dataclass(frozen=True)
class _Plan:
    """A request checked and resolved: what exactly will be written."""

    sender: Address
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: dt.datetime
    recipients: tuple[Recipient, ...]
    recipient_emails: tuple[str, ...]
    warnings: tuple[str, ...]
    gcm: bool


def compose_to_file(
    request: ComposeRequest,
    out: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    batch: AtomicBatch | None = None,
) -> ComposeResult:
    """Write the message to ``out`` (atomically). Raises a :class:`UserError` on bad input.

    ``progress(done, total)`` reports attachment bytes consumed; ``cancelled()`` is polled per
    chunk and aborts without leaving a file. With ``batch`` the finished message is kept aside
    and appears only when the batch commits (a message and its Bcc copies: all or none).
    """
    plan = _plan(request)
    total = sum(a.size for a in request.attachments)
    done = 0

    def on_bytes(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)
        if cancelled is not None and cancelled():
            raise ComposeCancelled()

    mid = message_id(plan.sender.domain or "localhost")
    out = Path(out)
    cipher: ContentCipher | None = None
    try:
        with (atomic_writer(out) if batch is None else batch.writer(out)) as raw:
            sink = io.BufferedWriter(raw, WRITE_BUFFER)  # type: ignore[arg-type]
            sink.write(_message_headers(request, plan, mid))
            if request.encrypt:
                cipher = ContentCipher.AES256_GCM if plan.gcm else ContentCipher.AES256_CBC
                encoder = EnvelopeEncoder(plan.recipients, cipher)
                sink.write(_enveloped_headers(encoder.smime_type))
                # Three threads: MIME + hashing | encryption | base64 + writing. SHA-256, numpy's
                # copies and write() release the GIL, AES does not; each stage fills buffers it
                # reuses (see pipeline.py), so a chunk is never copied between the stages. With
                # one CPU the hand-offs only cost (10 % measured): one thread does it all.
                fast = _worth_numpy(request, total)
                threads = usable_cpus() > 1
                entity = _entity(request, plan, on_bytes, LineEncoder(READ_CHUNK, ring_size(DEPTH), fast))
                content = in_background(entity, DEPTH) if threads else entity
                ring = BufferRing(SEAL_BLOCK, ring_size(DEPTH))
                sealed = encoder.stream(content, ring, LINE_INPUT_BYTES)
                _write_base64(in_background(sealed, DEPTH) if threads else sealed, sink, fast)
            else:
                writeback = EarlyWriteback(sink)
                fast = _worth_numpy(request, total)
                for piece in _entity(request, plan, on_bytes, LineEncoder(READ_CHUNK, fast=fast)):
                    sink.write(piece)
                    writeback.written(len(piece))
            sink.flush()
            size = raw.tell()
            sink.detach()
    except OSError as exc:
        raise write_error(out, exc) from None
    return ComposeResult(
        path=out,
        message_id=mid,
        size=size,
        signed=request.sign,
        encrypted=request.encrypt,
        cipher=cipher.value if cipher else None,
        recipients=plan.recipient_emails if request.encrypt else (),
        warnings=plan.warnings,
        sender=plan.sender.addr_spec.lower(),
        envelope_recipients=tuple(dict.fromkeys(a.addr_spec.lower() for a in (*plan.to, *plan.cc))),
    )


def write_error(out: Path, exc: OSError) -> ComposeError:
    """A failed write of the message, in words (nothing is left behind by then)."""
    if isinstance(exc, PermissionError):
        return ComposeError(f"Cannot write {out}: permission denied. Choose another folder.")
    if isinstance(exc, FileNotFoundError):
        return ComposeError(f"Cannot write {out}: the folder does not exist.")
    return ComposeError(f"Cannot write {out}: {problem_text(exc)}. No message was written.")


def _plan(request: ComposeRequest) -> _Plan:
    precheck(request)
    now = (request.now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    sender = parse_address(request.sender)
    to = tuple(parse_address(a) for a in request.to)
    cc = tuple(parse_address(a) for a in request.cc)
    identity = request.identity
    sender_email = sender.addr_spec.lower()
    if sender_email not in cert_emails(identity.cert):
        listed = ", ".join(cert_emails(identity.cert)) or "no e-mail address"
        raise AddressError(
            f"Your certificate is issued to {listed}, not to {sender_email}. Send from that "
            "address or use the certificate for this one."
        )
    if request.sign:
        require_usable(identity.cert, Purpose.SIGN, now, sender_email, own=True)
    warnings: list[str] = []
    recipients: list[Recipient] = []
    emails: list[str] = []
    announced = dict(request.capabilities)
    gcm = request.gcm
    if request.encrypt:
        default = KeyTransport.OAEP_SHA256 if request.oaep else KeyTransport.PKCS1V15
        require_usable(identity.cert, Purpose.ENCRYPT, now, sender_email, own=True)
        recipients.append(Recipient(identity.cert, default))
        emails.append(sender_email)
        correspondents = []
        targets = to + cc if request.encrypt_to is None else tuple(parse_address(a) for a in request.encrypt_to)
        for address in _unique_addresses(targets):
            email = address.addr_spec.lower()
            if email == sender_email:
                continue  # already a recipient, with the certificate of the signing identity
            cert = _certificate_for(email, request.recipient_certs, now)
            caps = announced.get(email, frozenset())
            transport = KeyTransport.OAEP_SHA256 if request.oaep or oids.RSAES_OAEP in caps else KeyTransport.PKCS1V15
            recipients.append(Recipient(cert, transport))
            emails.append(email)
            correspondents.append(caps)
        if correspondents and all(caps & _GCM_CAPABILITIES for caps in correspondents):
            gcm = True
        warnings.extend(_compatibility_warnings(recipients, request, gcm))
        for email in unused_certificates(request):
            warnings.append(f"The certificate for {email} was given but {email} is not among the recipients.")
    return _Plan(sender, to, cc, now, tuple(recipients), tuple(emails), tuple(warnings), gcm)


def _unique_addresses(addresses: Iterable[Address]) -> list[Address]:
    seen: dict[str, Address] = {}
    for address in addresses:
        seen.setdefault(address.addr_spec.lower(), address)
    return list(seen.values())


def _certificate_for(email: str, certs: Sequence[x509.Certificate], now: dt.datetime) -> x509.Certificate:
    """The best certificate for ``email``: a usable one, the one valid longest; else say why not."""
    matching = [c for c in certs if email in cert_emails(c)]
    if not matching:
        raise AddressError(
            f"There is no certificate for {email}, so the message cannot be encrypted to them. "
            f"Ask {email} for a signed e-mail or their certificate file, and add it."
        )
    matching.sort(key=lambda c: c.not_valid_after_utc, reverse=True)
    first_error: UserError | None = None
    for cert in matching:
        try:
            require_usable(cert, Purpose.ENCRYPT, now, email)
            return cert
        except UserError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise first_error


_GCM_CAPABILITIES = frozenset({oids.AES256_GCM, oids.AES128_GCM, oids.AES192_GCM})


def _compatibility_warnings(recipients: Sequence[Recipient], request: ComposeRequest, gcm: bool) -> list[str]:
    """What DESIGN.md's measured client table says some recipients' programs will not open."""
    found: list[str] = []
    has_ec = any(isinstance(r.cert.public_key(), ec.EllipticCurvePublicKey) for r in recipients)
    has_rsa = any(isinstance(r.cert.public_key(), rsa.RSAPublicKey) for r in recipients)
    if has_ec and has_rsa:
        found.append(
            "Some recipients have EC certificates and others RSA. Current mail programs open "
            "such a message, but Thunderbird before version 128 cannot open it at all."
        )
    elif has_ec:
        found.append("The recipients' EC certificates need Thunderbird 128 or later (or Outlook).")
    if request.gcm:
        found.append(
            "AES-GCM was chosen: Thunderbird and Outlook cannot open such messages yet; use it "
            "only for recipients whose program is known to read it."
        )
    elif gcm:
        found.append("AES-GCM is used because every recipient's mail program announced it can read it.")
    if request.oaep and has_rsa:
        found.append("RSA-OAEP was chosen: Thunderbird before version 128 cannot open the message.")
    return found


def unused_certificates(request: ComposeRequest) -> list[str]:
    """Addresses of given certificates that match nobody in To/Cc (probably a typo)."""
    addressed = {parse_address(a).addr_spec.lower() for a in (*request.to, *request.cc, *request.bcc)}
    unused = []
    for cert in request.recipient_certs:
        emails = cert_emails(cert)
        if emails and not addressed.intersection(emails):
            unused.append(emails[0])
    return unused


def precheck(request: ComposeRequest) -> None:
    """The checks that need no key: run before asking for a passphrase."""
    if not request.sign and not request.encrypt:
        raise ComposeError(
            "A message that is neither signed nor encrypted would go out unprotected; "
            "leave signing or encryption on."
        )
    if not request.to:
        raise AddressError("Give at least one recipient (To).")
    for text in (request.sender, *request.to, *request.cc, *request.bcc, *(request.encrypt_to or ())):
        parse_address(text)
    refuse_control_characters(request.subject, "The subject")


def _message_headers(request: ComposeRequest, plan: _Plan, mid: str) -> bytes:
    lines = [
        fold("From", str(plan.sender)),
        fold("To", address_header(list(plan.to))),
    ]
    if plan.cc:
        lines.append(fold("Cc", address_header(list(plan.cc))))
    lines += [
        fold("Subject", request.subject),
        fold("Date", format_datetime(plan.date.astimezone(dt.timezone.utc))),
        fold("Message-ID", mid),
        b"MIME-Version: 1.0\r\n",
    ]
    return b"".join(lines)


def _enveloped_headers(smime_type: str) -> bytes:
    return (
        f"Content-Type: application/pkcs7-mime; smime-type={smime_type};\r\n"
        '\tname="smime.p7m"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment; filename="smime.p7m"\r\n'
        "Content-Description: S/MIME Encrypted Message\r\n"
        "\r\n"
    ).encode("ascii")


def _entity(
    request: ComposeRequest, plan: _Plan, on_bytes: Callable[[int], None], lines: LineEncoder
) -> Iterator[bytes | memoryview]:
    """The content (signed unless asked not to), in few large pieces."""
    entity = coalesce(content_entity(request.body, request.attachments, on_bytes, lines))
    if request.sign:
        identity = request.identity

        def sign(digest: bytes) -> bytes:
            return detached_signature(identity, digest=digest, signing_time=plan.date, capabilities=our_capabilities())

        entity = coalesce(signed_entity(entity, sign))
    return entity


def _worth_numpy(request: ComposeRequest, attachment_bytes: int) -> bool:
    """Whether the numpy line encoder pays for loading numpy: a message of 16 MB or more
    (attachments and text), or numpy is there already."""
    return numpy_loaded() or attachment_bytes + len(request.body) >= NUMPY_WORTH_BYTES


def _write_base64(blocks: Iterable[bytes | memoryview], sink: io.BufferedWriter, fast: bool) -> None:
    """Base64 lines of ``blocks`` into ``sink``; each piece is written before the next is made,
    so one line buffer is reused throughout."""
    b64 = Base64Stream(LineEncoder(SEAL_BLOCK, fast=fast))
    writeback = EarlyWriteback(sink)
    for block in blocks:
        for piece in b64.update_pieces(block):
            sink.write(piece)
        writeback.written(len(block) * 4 // 3)
    sink.write(b64.finish())

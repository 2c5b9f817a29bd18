"""Open an S/MIME message from any client: peel every layer, judge every signature, extract files.

Layers are peeled from the outside in (signed inside encrypted inside signed, in any order, up to
:data:`MAX_LAYERS`). Decrypted content is spooled to a private temporary file, never held whole
in memory, so a message with a 500 MB study opens in bounded memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from cryptography import x509

from .attachments import safe_filename, save_unique
from .cms import oids
from .cms.ber_reader import BerReader
from .cms.stream_reader import (
    hashers_for,
    parse_detached_signature,
    read_content_info_start,
    read_signed_data,
    decrypt_enveloped,
)
from .cms.verify import check_signer, message_certificates
from .errors import DecryptionError, MessageFormatError
from .files import open_regular
from .identity import Identity
from .mime.html_text import html_to_text
from .mime.parser import Entity, decoded_body, parse_entity, read_region, split_multipart
from .mime.reading import (
    MESSAGE_HEADERS,
    ChunkReader,
    address_list,
    canonical,
    date_of,
    filename_of,
    header_text,
    is_p7m_attachment,
    lf_only,
    raw_headers,
    text_start,
)
from .sender_binding import sender_problem
from .trust import trust_problem

MAX_LAYERS = 8
MAX_WALK_DEPTH = 20
MAX_SIGNATURE_BYTES = 4 * 1024 * 1024
SHOWN_TEXT_BYTES = 1024 * 1024
"""At most this much of the text is shown (and held in memory); a longer text is kept whole as
the attachment message.txt, and the reader is told so."""
SPOOL_IN_MEMORY = 8 * 1024 * 1024
_PKCS7_MIME = {"application/pkcs7-mime", "application/x-pkcs7-mime"}
_PKCS7_SIGNATURE = {"application/pkcs7-signature", "application/x-pkcs7-signature"}


@dataclass(frozen=True)
class SignatureVerdict:
    valid: bool
    trusted: bool
    signer_email: str | None
    signer_subject: str
    digest: str
    signed_at: dt.datetime | None
    reason: str | None
    signer: x509.Certificate | None = field(default=None, repr=False, compare=False)
    certificates: tuple[x509.Certificate, ...] = field(default=(), repr=False, compare=False)
    capabilities: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class ReceivedAttachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    saved_to: Path | None = None


@dataclass(frozen=True)
class OpenedMessage:
    sender: str
    to: tuple[str, ...]
    subject: str
    date: str | None
    encrypted: bool
    decrypted: bool
    encryption: str | None
    encryption_weak: bool
    decryption_problem: str | None
    signatures: tuple[SignatureVerdict, ...]  # outermost first
    body_text: str | None
    attachments: tuple[ReceivedAttachment, ...]
    sender_problem: str | None = None  # why no signature vouches for the From line
    body_truncated: bool = False  # body_text is the start; the whole text is an attachment

    @property
    def all_good(self) -> bool:
        """Decrypted (if encrypted) and every signature valid and trusted."""
        if self.encrypted and not self.decrypted:
            return False
        return all(s.valid and s.trusted for s in self.signatures)


def open_message(
    path: Path,
    *,
    identities: Sequence[Identity] = (),
    anchors: Sequence[x509.Certificate] = (),
    save_dir: Path | None = None,
    now: dt.datetime | None = None,
) -> OpenedMessage:
    now = now or dt.datetime.now(dt.timezone.utc)
    handle = open_regular(path, "message file")  # a folder, FIFO or device: a clear error, no hang
    with handle:
        return open_source(handle, identities=identities, anchors=anchors, save_dir=save_dir, now=now)


def open_source(
    source: BinaryIO,
    *,
    identities: Sequence[Identity] = (),
    anchors: Sequence[x509.Certificate] = (),
    save_dir: Path | None = None,
    now: dt.datetime | None = None,
) -> OpenedMessage:
    """:func:`open_message` on an open, seekable binary source (left open), e.g. a message
    that is still arriving from the mail server (core.growing_file): ``seek(0, 2)`` must give
    its full size, and reads of bytes not there yet may wait for them."""
    now = now or dt.datetime.now(dt.timezone.utc)
    with tempfile.TemporaryDirectory(prefix="smimehelper-") as spool_dir:
        return _Opening(source, Path(spool_dir), identities, anchors, save_dir, now).run()


class _Opening:
    """The state of one opening: spools, verdicts, and the layer being looked at."""

    def __init__(self, handle: BinaryIO, spool_dir: Path, identities: Sequence[Identity],
                 anchors: Sequence[x509.Certificate], save_dir: Path | None, now: dt.datetime) -> None:
        self.handle = handle
        self.spool_dir = spool_dir
        self.identities = identities
        self.anchors = anchors
        self.save_dir = save_dir
        self.now = now
        self.spools: list[BinaryIO] = []
        self.signatures: list[SignatureVerdict] = []
        self.encrypted = False
        self.decrypted = False
        self.encryption: str | None = None
        self.weak = False
        self.problem: str | None = None
        self.saved: list[Path] = []
        self.body_truncated = False
        self.name_counts: dict[str, int] = {}  # so the 500th "scan.pdf" does not probe 499 names

    def run(self) -> OpenedMessage:
        size = self.handle.seek(0, 2)
        if size == 0:
            raise MessageFormatError("The message file is empty.")
        top = parse_entity(self.handle, 0, size)
        if not len(top.headers.keys()) or not any(h.lower() in MESSAGE_HEADERS for h in top.headers.keys()):
            raise MessageFormatError(
                "This file is not an e-mail message (no message headers were found). Save the "
                "message from your mail program as .eml and try again."
            )
        self.lf_only = lf_only(self.handle, top)
        self.sender = ", ".join(raw_headers(top, "From"))
        self.sender_problem: str | None = None
        entity: Entity | None = top
        try:
            entity = self._peel(top)
            body, attachments = self._extract(entity) if entity is not None else (None, ())
        except BaseException:
            # A damaged part further on: take back what this opening saved, so a failed open
            # leaves no partial set of files.
            for path in self.saved:
                path.unlink(missing_ok=True)
            raise
        finally:
            for spool in self.spools:
                spool.close()
        self._check_sender(top)
        return OpenedMessage(
            sender=self.sender,
            to=address_list(top, "To"),
            subject=header_text(top, "Subject"),
            date=date_of(top),
            encrypted=self.encrypted,
            decrypted=self.decrypted,
            encryption=self.encryption,
            encryption_weak=self.weak,
            decryption_problem=self.problem,
            signatures=tuple(self.signatures),
            body_text=body,
            attachments=tuple(attachments),
            sender_problem=self.sender_problem,
            body_truncated=self.body_truncated,
        )

    def _check_sender(self, top: Entity) -> None:
        """A signature vouches for the sender only when the message has exactly one From header
        holding exactly one mailbox, and every e-mail address anywhere in it (the display name
        included) is an address of one valid signer's certificate (RFC 8550 3, RFC 5322 3.6).

        Other signers may differ (a co-signer, or the outer signature of a triple-wrapped message,
        RFC 2634); but otherwise "signed by eve@..., but the sender shown is ..." and no signature
        is trusted: the From line is what the reader believes.
        """
        if not self.signatures:
            return
        problem = sender_problem(raw_headers(top, "From"), [s.signer for s in self.signatures if s.valid and s.signer is not None])
        if problem is None:
            return
        self.sender_problem = problem
        self.signatures = [
            replace(s, trusted=False, reason=s.reason if not s.valid or not s.trusted else problem)
            for s in self.signatures
        ]

    # -- layers ---------------------------------------------------------------------------
    def _peel(self, entity: Entity) -> Entity | None:
        for _ in range(MAX_LAYERS):
            kind = entity.content_type
            if kind in _PKCS7_MIME or is_p7m_attachment(entity):
                inner = self._cms_layer(entity)
                if inner is None:
                    return None
                entity = inner
            elif kind == "multipart/signed":
                entity = self._detached_layer(entity)
            else:
                return entity
        raise MessageFormatError(
            f"This message is wrapped in more than {MAX_LAYERS} layers of signing and encryption; "
            "no mail program makes such messages, so it is refused."
        )

    def _new_spool(self) -> BinaryIO:
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=self.spool_dir)
        self.spools.append(spool)  # type: ignore[arg-type]
        return spool  # type: ignore[return-value]

    def _cms_layer(self, entity: Entity) -> Entity | None:
        reader = BerReader(ChunkReader(decoded_body(entity)).read)
        content_type, _ = read_content_info_start(reader)
        spool = self._new_spool()
        if content_type in (oids.ENVELOPED_DATA, oids.AUTH_ENVELOPED_DATA):
            self.encrypted = True
            try:
                result = decrypt_enveloped(reader, content_type, self.identities, spool.write)
            except DecryptionError as exc:
                self.problem = str(exc)
                spool.truncate(0)  # nothing unauthenticated is ever shown
                return None
            self.decrypted = True
            self.encryption = result.cipher.name
            self.weak = self.weak or result.cipher.weak
        elif content_type == oids.SIGNED_DATA:
            parts = read_signed_data(reader, spool.write)
            self.signatures.extend(
                self._verdicts(parts.certificates, parts.signer_infos, parts.digests, parts.content_type)
            )
        else:
            raise MessageFormatError(
                "This message uses a kind of S/MIME content that smimehelper does not read "
                f"({content_type})."
            )
        end = spool.seek(0, 2)
        if end == 0:
            raise MessageFormatError("The signed or encrypted part of this message is empty.")
        return parse_entity(spool, 0, end)

    def _detached_layer(self, entity: Entity) -> Entity:
        parts = split_multipart(entity)
        if len(parts) != 2:
            raise MessageFormatError(
                f"A signed part of this message has {len(parts)} parts instead of 2; it is damaged."
            )
        content, signature_part = parts
        signature_entity = parse_entity(entity.source, signature_part.start, signature_part.end)
        if signature_entity.content_type not in _PKCS7_SIGNATURE:
            raise MessageFormatError("The signature part of this signed message is missing or of the wrong type.")
        if signature_part.end - signature_part.start > MAX_SIGNATURE_BYTES:
            raise MessageFormatError("The signature part of this message is far too large; it is damaged.")
        signature = b"".join(decoded_body(signature_entity))
        names, signed_data = parse_detached_signature(signature)
        hashers = hashers_for(names)
        chunks = read_region(entity.source, content.start, content.end)
        for chunk in canonical(chunks) if self.lf_only else chunks:
            for hasher in hashers.values():
                hasher.update(chunk)
        digests = {name: h.digest() for name, h in hashers.items()}
        self.signatures.extend(
            self._verdicts(
                tuple(signed_data["certificates"] or ()),
                tuple(signed_data["signer_infos"]),
                digests,
                signed_data["encap_content_info"]["content_type"].dotted,
            )
        )
        return parse_entity(entity.source, content.start, content.end)

    def _verdicts(self, choices, signer_infos, digests, content_type) -> list[SignatureVerdict]:  # type: ignore[no-untyped-def]
        certificates = message_certificates(choices)
        if not signer_infos:
            return [SignatureVerdict(False, False, None, "", "", None, "The signature part contains no signature.")]
        verdicts = []
        for signer_info in signer_infos:
            try:
                check = check_signer(signer_info, certificates, digests, content_type, self.now)
            except (ValueError, TypeError, KeyError, AttributeError):
                verdicts.append(SignatureVerdict(False, False, None, "", "", None, "The signature is damaged and cannot be read."))
                continue
            trust_reason: str | None = "The signer's certificate is not in the message."
            if check.signer is not None:
                at = check.signed_at if check.signed_at and check.signed_at <= self.now else self.now
                try:
                    trust_reason = trust_problem(check.signer, certificates, self.anchors, at)
                except (ValueError, TypeError, KeyError, AttributeError, UnicodeError):
                    trust_reason = "A certificate in this message is damaged, so the signer cannot be trusted."
            verdicts.append(
                SignatureVerdict(
                    valid=check.valid,
                    trusted=check.valid and trust_reason is None,  # a broken signature vouches for nothing
                    signer_email=check.signer_email,
                    signer_subject=check.signer_subject,
                    digest=check.digest,
                    signed_at=check.signed_at,
                    reason=check.reason or trust_reason,
                    signer=check.signer,
                    certificates=certificates,
                    capabilities=check.capabilities,
                )
            )
        return verdicts

    # -- the innermost content --------------------------------------------------------------
    def _extract(self, entity: Entity) -> tuple[str | None, list[ReceivedAttachment]]:
        state = _Extraction()
        self._walk(entity, 0, state)
        if state.body is None and state.html_cut:
            self.body_truncated = True
        return state.body if state.body is not None else state.html, state.attachments

    def _walk(self, entity: Entity, depth: int, state: "_Extraction") -> None:
        if depth > MAX_WALK_DEPTH:
            raise MessageFormatError("This message nests its parts too deeply; it is damaged.")
        kind = entity.content_type
        if kind.startswith("multipart/"):
            for part in split_multipart(entity):
                self._walk(parse_entity(entity.source, part.start, part.end), depth + 1, state)
            return
        disposition = entity.headers.get_content_disposition()
        filename = filename_of(entity)
        if disposition != "attachment" and not filename and kind in ("text/plain", "text/html"):
            if kind == "text/plain" and state.body is None:
                state.body, cut = text_start(entity, SHOWN_TEXT_BYTES)
                if cut:  # shown: the start; kept: the whole text, as a file
                    self.body_truncated = True
                    state.attachments.append(self._attachment(entity, "message.txt", kind, len(state.attachments) + 1))
                return
            if kind == "text/html":
                # Never dropped silently: listed (and saved) as message.html; its text is shown
                # when the message has no plain text.
                if state.html is None:
                    html, cut = text_start(entity, SHOWN_TEXT_BYTES)
                    state.html, state.html_cut = html_to_text(html), cut
                state.attachments.append(self._attachment(entity, "message.html", kind, len(state.attachments) + 1))
                return
        state.attachments.append(self._attachment(entity, filename, kind, len(state.attachments) + 1))

    def _attachment(self, entity: Entity, filename: str | None, kind: str, index: int) -> ReceivedAttachment:
        digest = hashlib.sha256()
        size = 0

        def counted() -> Iterator[bytes]:
            nonlocal size
            for chunk in decoded_body(entity):
                digest.update(chunk)
                size += len(chunk)
                yield chunk

        name = safe_filename(filename, kind, index)
        saved = None
        if self.save_dir is not None:
            saved = save_unique(self.save_dir, name, counted(), first_number=self.name_counts.get(name, 0))
            self.name_counts[name] = self.name_counts.get(name, 0) + 1
            self.saved.append(saved)
            name = saved.name  # "x (1).dcm" when "x.dcm" existed: report what is on disk
        else:
            for _ in counted():
                pass
        return ReceivedAttachment(filename=name, content_type=kind, size=size, sha256=digest.hexdigest(), saved_to=saved)


@dataclass
class _Extraction:
    body: str | None = None
    html: str | None = None
    html_cut: bool = False
    attachments: list[ReceivedAttachment] = field(default_factory=list)

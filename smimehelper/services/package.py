"""Password packages: for recipients without an e-mail certificate.

``make_package`` writes the package (.html) and, when asked, the signed mail that carries it
(multipart/signed, built by the same compose path as every other message: signed, not
encrypted, because the attachment is already encrypted and the recipient has no certificate).
The mail has no patient data in its subject or text; the user's subject and message travel
inside the package. The passphrase is returned to the caller to show once; it is never put in
the mail, a file or a log.

``PackageOutcome.disclosure`` is the value the disclosure log (issue 14) records: recipient,
files with SHA-256, method "password package", message id.
"""

from __future__ import annotations

from ..core.disclosure.model import TransferRecord

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.certs import cert_emails, describe
from ..core.errors import AddressError, UserError
from ..core.mime.headers import parse_address
from ..core.mime.writer import Attachment, prepare_attachment
from . import AskPassphrase, now as clock
from .inputs import open_identity

if TYPE_CHECKING:
    from ..core.package.writer import PackageResult
    from .stores import Stores

METHOD = "password package"


@dataclass(frozen=True)
class PackageInput:
    """A package as the user describes it."""

    to: str  # one recipient: each gets their own package and passphrase
    subject: str  # inside the package only
    body: str  # inside the package only
    attachments: tuple[Path, ...] = ()
    passphrase: str | None = None  # None: six random words are generated
    out: Path | None = None  # the package file; None: a temporary file beside the mail
    mail_out: Path | None = None  # also write the signed package mail (.eml) here
    sender: str | None = None
    sign_key: Path | None = None
    now: dt.datetime | None = None
    purpose: str = "treatment / referral"  # for the disclosure log


@dataclass(frozen=True)
class DisclosedFile:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Disclosure:
    """What was disclosed to whom, how: one call for the disclosure log."""

    recipient: str
    files: tuple[DisclosedFile, ...]
    method: str
    message_id: str | None  # of the package mail; None when the package was only saved as a file
    at: dt.datetime


@dataclass(frozen=True)
class PackageOutcome:
    recipient: str
    package: Path
    package_size: int
    passphrase: str  # show once, never store
    passphrase_generated: bool
    disclosure: Disclosure
    mail: Path | None = None
    mail_size: int = 0
    warnings: tuple[str, ...] = ()
    record: TransferRecord | None = None  # the disclosure-log entry: the files inside, not the .html

    @property
    def message_id(self) -> str | None:
        return self.disclosure.message_id


def package_mail_subject(sender_name: str) -> str:
    """The mail's subject: who, never what (the user's subject travels inside the package)."""
    return f"Encrypted documents from {sender_name}" if sender_name else "Encrypted documents"


def package_mail_text(sender_name: str, filename: str) -> str:
    who = sender_name or "The sender"
    return (
        f"{who} has sent you documents, end-to-end encrypted.\n"
        "\n"
        "How to open them:\n"
        f'1. Save the attached file "{filename}" (or open it from your mail program).\n'
        "2. Open it with your web browser: Chrome, Edge, Firefox or Safari. On a phone or\n"
        "   tablet, save it to your files first, then open it from there in the browser.\n"
        f"3. Type the passphrase that {who} gives you by phone or text message.\n"
        "   The passphrase is never in this e-mail.\n"
        "\n"
        "Nothing needs to be installed, no account is needed, and nothing is sent over the\n"
        "internet: the file is decrypted on your own device, even without a connection.\n"
        "\n"
        "If your mail system held the attachment back (some block HTML files), ask the\n"
        "sender to send the file another way, for example on a USB stick or through a file\n"
        "sharing service: it stays encrypted on the way.\n"
        "\n"
        "This e-mail is signed, so mail programs that check signatures show who sent it.\n"
    )


def package_filename(when: dt.datetime) -> str:
    return f"encrypted-documents-{when:%Y-%m-%d}.html"


def check_recipient(address: str) -> str:
    """The recipient's address (lower case); one address, no list."""
    return parse_address(address).addr_spec.lower()


def resolve_sender(request: PackageInput, ask_passphrase: AskPassphrase | None, stores: Stores | None, when: dt.datetime) -> str:
    """"Name <address>" of the user, the same way compose finds it."""
    if request.sender:
        parse_address(request.sender)
        return request.sender
    if request.sign_key is not None:
        identity = open_identity(request.sign_key, ask_passphrase)
        emails = cert_emails(identity.cert)
        if emails:
            return f"{describe(identity.cert).display_name} <{emails[0]}>"
    elif stores is not None:
        stored = stores.identities.for_signing(None, when)
        return f"{stored.info.display_name} <{stored.emails[0]}>"
    raise AddressError("Give your address with --from, or import your certificate first ('smimehelper identity import').")


def make_package(
    request: PackageInput,
    ask_passphrase: AskPassphrase | None,
    *,
    stores: Stores | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> PackageOutcome:
    """Check everything, write the package (and the signed mail when ``mail_out`` is given)."""
    from ..core.package.passphrase import generate_passphrase, require_strong
    from ..core.package.writer import PackageRequest, write_package

    when = (request.now or clock()).replace(microsecond=0)
    recipient = check_recipient(request.to)
    attachments = tuple(prepare_attachment(p) for p in request.attachments)
    if request.out is None and request.mail_out is None:
        raise UserError("Say where the package goes: a file (-o OUT.html) or a mail (--send).")
    sender = resolve_sender(request, ask_passphrase, stores, when)
    sender_name = parse_address(sender).display_name or parse_address(sender).addr_spec
    generated = request.passphrase is None
    passphrase = generate_passphrase() if request.passphrase is None else request.passphrase
    if not generated:
        require_strong(passphrase, (sender, request.to, request.subject))
    with _package_target(request) as package_path:
        result = write_package(
            PackageRequest(sender=sender, subject=request.subject, message=request.body, attachments=attachments,
                           passphrase=passphrase, created=when, check_strength=False),
            package_path,
            progress=progress,
            cancelled=cancelled,
        )
        mail, mail_size, message_id, warnings = None, 0, None, ()
        if request.mail_out is not None:
            mail_result, warnings = _write_mail(request, sender, sender_name, result, ask_passphrase, stores, when)
            mail, mail_size, message_id = mail_result.path, mail_result.size, mail_result.message_id
    disclosure = Disclosure(
        recipient=recipient,
        files=tuple(DisclosedFile(f.name, f.size, f.sha256) for f in result.files),
        method=METHOD,
        message_id=message_id,
        at=when,
    )
    record = _transfer_record(request, sender, recipient, mail is not None, message_id)
    if stores is not None and mail is None:
        # Saved as a file to hand over another way: recorded as handed over now. (A package
        # mail is recorded when it is queued, like every mail: see send_package.)
        from . import disclosure as log

        entry = log.record_transfer(stores, record, ask_passphrase=ask_passphrase)
        log.record_outcome(stores, entry, "handed-over", note=f"saved as {request.out} for another channel")
    return PackageOutcome(
        recipient=recipient,
        package=request.out if request.out is not None else (mail or result.path),
        package_size=result.size,
        passphrase=passphrase,
        passphrase_generated=generated,
        disclosure=disclosure,
        mail=mail,
        mail_size=mail_size,
        warnings=tuple(warnings),
        record=record,
    )


def _transfer_record(request: PackageInput, sender: str, recipient: str, by_mail: bool, message_id: str | None) -> TransferRecord:
    """What the package discloses, for the log: the files inside it (DICOM patient fields too)."""
    from ..core.disclosure.files import describe_files
    from ..core.disclosure.model import Party

    me = parse_address(sender)
    them = parse_address(request.to)
    return TransferRecord(
        sender=Party(me.display_name, me.addr_spec.lower()),
        recipients=(Party(them.display_name, recipient),),
        method="password-package",
        via="package mail" if by_mail else "package file",
        files=describe_files(request.attachments),
        message_id=message_id or "",
        purpose=request.purpose,
    )


@contextmanager
def _package_target(request: PackageInput) -> Iterator[Path]:
    """``out`` itself, or a private temporary file that is gone once the mail holds it."""
    if request.out is not None:
        yield request.out
        return
    assert request.mail_out is not None
    folder = Path(tempfile.mkdtemp(prefix=".smimehelper-package-", dir=request.mail_out.parent if request.mail_out.parent.is_dir() else None))
    try:
        yield folder / package_filename(request.now or clock())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _write_mail(request: PackageInput, sender: str, sender_name: str, result: PackageResult,
                ask_passphrase: AskPassphrase | None, stores: Stores | None, when: dt.datetime):  # type: ignore[no-untyped-def]
    """The signed mail around the package: the one compose pipeline, signed and not encrypted."""
    from .compose import ComposeInput, compose_message

    name = package_filename(when)
    outcome = compose_message(
        ComposeInput(
            sender=sender,
            to=(request.to,),
            subject=package_mail_subject(sender_name),
            body=package_mail_text(sender_name, name),
            sign_key=request.sign_key,
            out=request.mail_out,  # type: ignore[arg-type]
            sign=True,
            encrypt=False,
            now=when,
        ),
        ask_passphrase,
        stores=stores,
        attachments=(Attachment(path=result.path, filename=name, content_type="text/html", size=result.size),),
    )
    return outcome.result, outcome.warnings


def send_package(stores: Stores, outcome: PackageOutcome, account_email: str | None, ask_password) -> list:  # type: ignore[no-untyped-def]
    """Queue the package mail and send it; a mail over the account's limit says what to do."""
    from ..core.transport.smtp import MessageTooLarge
    from .delivery import queue_message, send_messages

    assert outcome.mail is not None
    try:
        item = queue_message(stores, outcome.mail, account_email, recipients=(outcome.recipient,), record=outcome.record)
    except MessageTooLarge as exc:
        raise MessageTooLarge(
            f"{exc} For a large study, save the package as a file instead ('smimehelper package ... -o "
            "package.html') and hand it over another way (USB stick, file sharing): it stays encrypted."
        ) from None
    return send_messages(stores, [item], ask_password)


def split_by_certificate(stores: Stores | None, addresses: tuple[str, ...], recipient_certs: tuple[Path, ...] = (),
                         now: dt.datetime | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(addresses with a usable certificate, addresses without one), in the order given.

    The same test compose applies: a certificate file given for the address, else the newest
    usable certificate among the contacts. The user's own addresses always count as usable.
    """
    from ..core.cert_status import certificate_status
    from ..core.certs import load_certificates
    from ..core.validation import Purpose

    when = now or clock()
    explicit = {e for path in recipient_certs for c in load_certificates(path) for e in cert_emails(c)}
    own = {e for i in stores.identities.list() for e in i.emails} if stores is not None else set()
    usable: list[str] = []
    missing: list[str] = []
    anchors = stores.trust.anchors() if stores is not None else []
    strict = stores.strict_revocation() if stores is not None else False
    pool = stores.intermediates() if stores is not None else []
    for text in addresses:
        email = parse_address(text).addr_spec.lower()
        if email in explicit or email in own:
            usable.append(text)
            continue
        if stores is None:
            missing.append(text)
            continue
        try:
            stores.contacts.best_for_encryption(
                email,
                lambda c, email=email: certificate_status(c.cert, Purpose.ENCRYPT, when, anchors, (*c.chain, *pool), email=email, strict_revocation=strict,
                                                         trusted_directly=c.trusted_directly is not None),
                strict,
            )
            usable.append(text)
        except UserError:
            missing.append(text)
    return tuple(usable), tuple(missing)

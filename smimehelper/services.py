"""Use cases shared by the command line and the desktop app.

Each function takes plain values (paths, addresses, callbacks) and returns frozen results; the
faces decide how to ask for a passphrase, show progress or print. Nothing here prompts or prints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .core.cert_status import CertStatus, certificate_status
from .core.certs import cert_emails, describe, load_certificates
from .core.cms.capabilities import parse_capabilities
from .core.contacts import ContactCert, ContactStore
from .core.home import resolve_home
from .core.identity_store import IdentityStore
from .core.mime.headers import parse_address
from .core.secrets import OsKeyring, SecretStore
from .core.settings import Settings
from .core.transport.accounts import Account, AccountStore
from .core.transport.delivery import Delivered, drain
from .core.transport.outbox import Outbox, OutboxItem
from .core.transport.smtp import MessageTooLarge
from .core.trust_store import TrustStore
from .core.validation import Purpose
from .core.compose import ComposeRequest, ComposeResult, compose_to_file, precheck
from .core.dicom import patient_identifiers
from .core.errors import AddressError, CertificateError, InputFileError, PassphraseError
from .core.identity import Identity, load_pkcs12
from .core.mime.writer import prepare_attachment
from .core.privacy import subject_warnings
from .core.reader import OpenedMessage, open_message

MAX_BODY_FILE_BYTES = 20 * 1024 * 1024

def clock() -> dt.datetime:
    """The current time: the one place tests (and a frozen-time demo) replace it."""
    return dt.datetime.now(dt.timezone.utc)


AskPassphrase = Callable[[str], bytes]
"""Called with a prompt when a passphrase is needed; returns it or raises PassphraseError."""


def open_identity(p12: Path, ask_passphrase: AskPassphrase | None) -> Identity:
    """Open a .p12/.pfx, asking for its passphrase only when it has one."""
    try:
        return load_pkcs12(p12, None)
    except PassphraseError:
        if ask_passphrase is None:
            raise
    return load_pkcs12(p12, ask_passphrase(f"Passphrase for {Path(p12).name}: "))


def read_body_file(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_BODY_FILE_BYTES:
            raise InputFileError(
                f"The message text file {path} is {size} bytes; attach large files instead."
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"The message text file {path} does not exist.") from None
    except IsADirectoryError:
        raise InputFileError(f"{path} is a folder, not a text file.") from None
    except PermissionError:
        raise InputFileError(f"The message text file {path} cannot be read (permission denied).") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(
            f"The message text file {path} is not UTF-8 text. Save it as UTF-8 and try again."
        ) from None


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


@dataclass(frozen=True)
class BccCopy:
    address: str
    result: ComposeResult


@dataclass(frozen=True)
class ComposeOutcome:
    result: ComposeResult
    warnings: tuple[str, ...]
    bcc_copies: tuple[BccCopy, ...] = ()

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
) -> ComposeOutcome:
    """Check every input, then write the signed and encrypted message to ``request.out``.

    Without ``sign_key`` the identity comes from the store; recipients without a
    ``recipient_certs`` file get the newest valid certificate from the contacts.
    """
    now = (request.now or clock()).replace(microsecond=0)
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
            sender=sender, to=request.to, cc=request.cc, subject="", body="",
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
                lambda c, email=email: certificate_status(c.cert, Purpose.ENCRYPT, now, anchors, (*c.chain, *pool), email=email, strict_revocation=strict),
                strict,
            )
            certs.append(entry.cert)
            capabilities.append((email, parse_capabilities(entry.capabilities)))
            if status.reason:
                warnings.append(status.reason)
    terms: list[str] = []
    for attachment in attachments:
        if attachment.content_type == "application/dicom":
            terms.extend(patient_identifiers(attachment.path))
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
    result = compose_to_file(base, request.out, progress=progress, cancelled=cancelled)
    copies = []
    for index, address in enumerate(request.bcc, start=1):
        email = parse_address(address).addr_spec.lower()
        target = request.out.with_name(f"{request.out.stem}.bcc-{index}{request.out.suffix or '.eml'}")
        copy = compose_to_file(replace(base, encrypt_to=(address,)), target, progress=progress, cancelled=cancelled)
        copies.append(BccCopy(email, copy))
    all_warnings = (*warnings, *result.warnings, *subject_warnings(request.subject, tuple(terms)))
    return ComposeOutcome(result=result, warnings=tuple(all_warnings), bcc_copies=tuple(copies))


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
        harvest_signers(stores, opened, f"signed message {request.message.name}")
    return opened


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


@dataclass(frozen=True)
class Stores:
    """The user's identities, contacts and trusted authorities in one data folder."""

    home: Path
    identities: IdentityStore
    contacts: ContactStore
    trust: TrustStore
    settings: Settings
    accounts: AccountStore
    outbox: Outbox

    @classmethod
    def open(cls, home: Path | None = None, secrets: SecretStore | None = None, *, system_trust: bool = True) -> Stores:
        folder = resolve_home(home)
        keyring_store = secrets or OsKeyring()
        return cls(
            home=folder,
            identities=IdentityStore(folder, keyring_store),
            contacts=ContactStore(folder),
            trust=TrustStore(folder, use_system=system_trust),
            settings=Settings(folder),
            accounts=AccountStore(folder, keyring_store),
            outbox=Outbox(folder),
        )

    def strict_revocation(self) -> bool:
        return bool(self.settings.get("strict_revocation", False))

    def intermediates(self) -> list[x509.Certificate]:
        """Every CA certificate the store has seen (identity chains, signed mail): path building
        finds a contact's issuer here when their file or message did not include it."""
        pool: dict[bytes, x509.Certificate] = {}
        for stored in self.identities.list():
            for cert in stored.chain:
                pool[cert.fingerprint(hashes.SHA256())] = cert
        for entry in self.contacts.entries():
            for cert in entry.chain:
                pool[cert.fingerprint(hashes.SHA256())] = cert
        return list(pool.values())


@dataclass(frozen=True)
class ContactRow:
    entry: ContactCert
    status: CertStatus


def list_contacts(stores: Stores, now: dt.datetime | None = None, *, fetch: bool = True, address: str | None = None) -> list[ContactRow]:
    """Contacts (all, or one address) with the status of each certificate."""
    now = now or clock()
    anchors = stores.trust.anchors()
    strict = stores.strict_revocation()
    pool = stores.intermediates()
    entries = stores.contacts.for_address(address) if address else stores.contacts.entries()
    return [
        ContactRow(e, certificate_status(e.cert, Purpose.ENCRYPT, now, anchors, (*e.chain, *pool), email=e.email, fetch=fetch, strict_revocation=strict))
        for e in entries
    ]


def import_contacts(stores: Stores, paths: tuple[Path, ...], ask_passphrase: AskPassphrase | None) -> list[ContactCert]:
    """Certificates from files, or the signer of signed messages (.eml).

    Every file is read and checked first; only when all are good is anything stored, so a
    failed import changes nothing.
    """
    found: list[tuple[x509.Certificate, tuple[x509.Certificate, ...], bytes | None, dt.datetime | None, str]] = []
    own = {e for i in stores.identities.list() for e in i.emails}
    for path in paths:
        if _looks_like_mail(path):
            opened = open_message(
                path,
                identities=stores.identities.all_locked(ask_passphrase),  # type: ignore[arg-type]
                anchors=stores.trust.anchors(),
                now=clock(),
            )
            if opened.encrypted and not opened.decrypted:
                raise CertificateError(f"{path} could not be opened: {opened.decryption_problem}")
            valid = [v for v in opened.signatures if v.valid and v.signer is not None]
            if not valid:
                reasons = "; ".join(v.reason or "" for v in opened.signatures) or "it is not signed"
                raise CertificateError(f"{path} has no valid signature to take a certificate from: {reasons}")
            for v in valid:
                if own.intersection(cert_emails(v.signer)):  # type: ignore[arg-type]
                    continue
                chain = tuple(c for c in v.certificates if c != v.signer)
                found.append((v.signer, chain, v.capabilities, v.signed_at, f"signed message {path.name}"))  # type: ignore[arg-type]
            continue
        certs = load_certificates(path)
        people = [c for c in certs if not describe(c).is_ca]
        if not people:
            raise CertificateError(f"{path} contains only certificate authorities; to trust them use 'smimehelper trust add'.")
        for cert in people:
            if not cert_emails(cert):
                raise CertificateError(f"The certificate of {describe(cert).display_name} in {path} contains no e-mail address.")
        chain = tuple(c for c in certs if describe(c).is_ca)
        found += [(cert, chain, None, None, f"file {path.name}") for cert in people]
    added: list[ContactCert] = []
    for cert, chain, capabilities, signed_at, source in found:
        added += stores.contacts.add(cert, chain=chain, capabilities=capabilities, signing_time=signed_at, source=source)
    return added


def _looks_like_mail(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(2048).lower()
    except OSError:
        return False
    return b"content-type:" in head and (b"from:" in head or b"mime-version:" in head)


# -- delivery -------------------------------------------------------------------------------

AskPassword = Callable[[Account], bytes | None]


def password_source(stores: Stores, ask: AskPassword | None) -> Callable[[Account], bytes | None]:
    """The account password from the keyring, else asked (or read from a file) once per account."""
    cache: dict[str, bytes | None] = {}

    def get(account: Account) -> bytes | None:
        if account.email not in cache:
            cache[account.email] = stores.accounts.password(account) or (ask(account) if ask else None)
        return cache[account.email]

    return get


def _envelope(message: Path) -> tuple[str, tuple[str, ...], str]:
    """Sender, recipients (To + Cc) and subject from a message's headers."""
    from email.utils import getaddresses

    from .core.mime.parser import parse_entity

    with open(message, "rb") as handle:
        size = handle.seek(0, 2)
        entity = parse_entity(handle, 0, size)
    headers = entity.headers
    if headers.get("Bcc"):
        raise AddressError(
            f"{message} has a Bcc header, which would show the Bcc recipients to everyone. "
            "Use 'smimehelper compose --bcc' instead: each Bcc recipient gets a separate copy."
        )
    senders = [a for _, a in getaddresses([str(headers.get("From", ""))]) if a]
    recipients = tuple(dict.fromkeys(a.lower() for _, a in getaddresses([str(v) for v in headers.get_all("To", []) + headers.get_all("Cc", [])]) if a))
    if not senders or not recipients:
        raise AddressError(f"{message} has no From or no To/Cc address, so it cannot be sent.")
    return senders[0].lower(), recipients, str(headers.get("Subject", ""))


def queue_message(stores: Stores, message: Path, account_email: str | None, *, recipients: tuple[str, ...] | None = None,
                  append_to_sent: bool = True) -> OutboxItem:
    sender, header_recipients, subject = _envelope(message)
    if account_email:
        account = stores.accounts.get(account_email)
    else:  # the account of the From address, else the only (first) one
        account = stores.accounts.get(sender if _has_account(stores, sender) else None)
    size = message.stat().st_size
    if size > account.size_limit:
        raise MessageTooLarge(
            f"The message is {size / 1e6:.1f} MB, more than the {account.size_limit / 1e6:.0f} MB your "
            f"mail account ({account.email}) accepts. Send fewer or smaller files per message."
        )
    return stores.outbox.enqueue(message, account=account.email, envelope_from=sender,
                                 recipients=recipients or header_recipients, subject=subject, append_to_sent=append_to_sent)


def _has_account(stores: Stores, email: str) -> bool:
    return any(a.email == email for a in stores.accounts.list())


def send_messages(stores: Stores, items: Sequence[OutboxItem], ask: AskPassword | None) -> list[Delivered]:
    return drain(stores.outbox, stores.accounts, password_source(stores, ask), ids=[i.id for i in items])


def queue_composed(stores: Stores, outcome: ComposeOutcome, account_email: str | None) -> list[OutboxItem]:
    """The main message (To + Cc) and each Bcc copy (to that address only) into the outbox."""
    items = [queue_message(stores, outcome.result.path, account_email)]
    for copy in outcome.bcc_copies:
        items.append(queue_message(stores, copy.result.path, account_email, recipients=(copy.address,), append_to_sent=False))
    return items


# -- saving one received attachment ----------------------------------------------------------

from .core.reader import ReceivedAttachment  # noqa: E402


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

    from .core.attachments import safe_filename, save_unique

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


# -- first run (the desktop app's assistant) -------------------------------------------------

from .core.identity_store import StoredIdentity  # noqa: E402


def secure_keyring_available(stores: Stores) -> bool:
    """Whether this computer has a secure system keyring (macOS Keychain, Windows Credential
    Manager, Secret Service) to keep the secret that unlocks the key in."""
    return stores.identities.secrets.available()


class _NoKeyring:
    """A secret store that keeps nothing: the key is then protected by the user's passphrase."""

    def available(self) -> bool:
        return False

    def put(self, name: str, secret: bytes) -> bool:
        return False

    def get(self, name: str) -> bytes | None:
        return None

    def delete(self, name: str) -> None:
        return None


def import_identity_file(stores: Stores, p12: Path, passphrase: bytes, *, use_keyring: bool = True) -> StoredIdentity:
    """Import the user's .p12/.pfx with the passphrase they typed.

    With ``use_keyring`` and a secure system keyring the key is unlocked by a random secret in
    the keyring, so the passphrase is not asked again; otherwise the key is protected by
    ``passphrase`` and asked for when signing or opening. A file without a passphrase then
    needs a new one of at least 8 characters in ``passphrase``. A wrong passphrase raises
    PassphraseError and stores nothing.
    """
    identities = stores.identities if use_keyring else IdentityStore(stores.home, _NoKeyring())

    def ask(_prompt: str) -> bytes:
        if not passphrase:
            raise PassphraseError(f"{Path(p12).name} is protected by a passphrase; please type it.")
        return passphrase

    def ask_new(_prompt: str) -> bytes:
        if not passphrase:
            raise PassphraseError(
                "This certificate file has no passphrase, and without the system keyring your key "
                "needs one: type a new passphrase of at least 8 characters."
            )
        return passphrase

    return identities.import_pkcs12(Path(p12), ask, ask_new=ask_new)


@dataclass(frozen=True)
class ConnectionCheck:
    """A successful connection test: where, how, and what the server said about itself."""

    where: str  # host:port
    security: str  # "starttls" | "tls"
    logged_in: bool  # False when no password was given (the connection alone was tested)
    size_limit: int | None  # the largest message the server announced (SIZE), if it did


def check_account_connection(stores: Stores | None, account: Account, password: bytes | None) -> ConnectionCheck:
    """Connect to the account's SMTP server exactly as sending does (verified TLS, never in
    clear), log in, and quit; nothing is sent. Without ``password`` the keyring's is used (with
    ``stores``), else only the encrypted connection is tested. Raises DeliveryError (or
    TransportSecurityError) with a plain sentence when it fails.
    """
    from .core.transport.smtp import SmtpSession

    if password is None and stores is not None:
        password = stores.accounts.password(account)
    session = SmtpSession(account, password, timeout=30)
    session.connect()
    try:
        limit = session.size_limit
    finally:
        session.close()
    return ConnectionCheck(f"{account.smtp_host}:{account.smtp_port}", account.security, bool(password), limit)


@dataclass(frozen=True)
class SelfTestStep:
    what: str
    ok: bool
    detail: str = ""
    warning: bool = False  # passed, but with something the user should know


@dataclass(frozen=True)
class SelfTestResult:
    passed: bool
    email: str
    steps: tuple[SelfTestStep, ...]
    warnings: tuple[str, ...] = ()


SELF_TEST_SUBJECT = "smimehelper self-test"


def self_test(stores: Stores, ask_passphrase: AskPassphrase | None) -> SelfTestResult:
    """Sign and encrypt a short message from the default identity to itself, open it again with
    the stored keys, and check the text came back and the signature is valid. Nothing is sent
    or kept. Passes when the message decrypts, its signature is valid and the text matches; a
    signature that is valid but not trusted here is a warning, not a failure. A problem the user
    can fix (no certificate, wrong passphrase) is a failed step, not an exception.
    """
    import tempfile

    from .core.errors import UserError

    steps: list[SelfTestStep] = []
    try:
        stored = stores.identities.get()
    except UserError as exc:
        return SelfTestResult(False, "", (SelfTestStep("Find your certificate", False, str(exc)),))
    email = stored.emails[0]
    now = clock().replace(microsecond=0)
    marker = f"smimehelper self-test {now:%Y-%m-%d %H:%M:%S} UTC"
    body = f"{marker}\n\nThis short message was signed and encrypted to you, and opened again, to check your setup.\n"
    with tempfile.TemporaryDirectory(prefix="smimehelper-selftest-") as folder:
        out = Path(folder) / "self-test.eml"
        try:
            outcome = compose_message(
                ComposeInput(sender=None, to=(email,), subject=SELF_TEST_SUBJECT, body=body, sign_key=None, out=out, now=now),
                ask_passphrase,
                stores=stores,
            )
        except UserError as exc:
            steps.append(SelfTestStep("Sign and encrypt a message to yourself", False, str(exc)))
            return SelfTestResult(False, email, tuple(steps))
        cipher = outcome.result.cipher or ""
        cipher_name = cipher.split("-")[0].upper().replace("AES", "AES-") if cipher.startswith("aes") else cipher
        steps.append(SelfTestStep("Sign and encrypt a message to yourself", True,
                                  f"signed by {email}" + (f", encrypted with {cipher_name}" if cipher_name else "")))
        try:
            opened = open_message_file(OpenInput(message=out, now=now), ask_passphrase, stores=stores)
        except UserError as exc:
            steps.append(SelfTestStep("Open it again", False, str(exc)))
            return SelfTestResult(False, email, tuple(steps), outcome.warnings)
    decrypted = opened.encrypted and opened.decrypted
    steps.append(SelfTestStep("Decrypt it with your key", decrypted,
                              "your key opened it" if decrypted else (opened.decryption_problem or "the message was not encrypted")))
    verdict = opened.signatures[0] if opened.signatures else None
    valid = verdict is not None and verdict.valid
    steps.append(SelfTestStep("Check the signature", valid,
                              "valid: nothing was changed after signing" if valid else ((verdict.reason if verdict else None) or "the message is not signed")))
    warnings = list(outcome.warnings)
    if valid and verdict is not None and not verdict.trusted:
        note = (f"{_issuer_name(stored.cert)}, which issued your certificate, is not among the authorities "
                "this computer trusts. Your messages work, but colleagues whose mail program does not "
                "know it will see your signature as not trusted.")
        steps.append(SelfTestStep("Check who issued your certificate", True, note, warning=True))
        warnings.append(note)
    elif valid:
        steps.append(SelfTestStep("Check who issued your certificate", True,
                                  f"{_issuer_name(stored.cert)}, an authority this computer trusts"))
    text_ok = marker in (opened.body_text or "")
    steps.append(SelfTestStep("Compare the text", text_ok, "the text came back unchanged" if text_ok else "the text that came back differs"))
    return SelfTestResult(decrypted and valid and text_ok, email, tuple(steps), tuple(warnings))


@dataclass(frozen=True)
class DemoProfile:
    identity: StoredIdentity
    directory: Path  # the demo files: message, x-ray, both .p12, the demo CA
    message: Path
    xray: Path
    sender_p12: Path
    passphrase: bytes


def use_demo_profile(stores: Stores, now: dt.datetime | None = None) -> DemoProfile:
    """Set up this data folder with the throwaway certificates of ``smimehelper demo``.

    Creates the demo files in ``<data folder>/smimehelper-demo`` (or -2, -3...), imports the
    demo sender's .p12 (passphrase "demo") as the user's identity, trusts the demo CA (its key
    was never written anywhere, so it can sign nothing else) and adds the demo colleague as a
    contact, so every part of the app can be tried at once.
    """
    from .demo import DEMO_PASSPHRASE, default_demo_directory, run_demo

    result = run_demo(default_demo_directory(stores.home), now or clock())
    secret = DEMO_PASSPHRASE.encode()
    identity = stores.identities.import_pkcs12(result.files.sender_p12, lambda _prompt: secret)
    stores.trust.add(result.files.ca_cert)
    import_contacts(stores, (result.files.colleague_cert,), None)
    return DemoProfile(identity, result.files.directory, result.files.message, result.files.xray,
                       result.files.sender_p12, secret)


@dataclass(frozen=True)
class IdentitySummary:
    """What a person checks on their own certificate after importing it."""

    name: str
    emails: tuple[str, ...]
    valid_from: dt.datetime
    valid_until: dt.datetime
    issuer: str  # the issuing authority's common name (else its whole name)
    protection: str  # "keyring" | "passphrase"
    notice: str | None  # expired / expires soon, in a sentence


def summarize_identity(stored: StoredIdentity, now: dt.datetime | None = None) -> IdentitySummary:
    """The name, addresses, validity and issuer of a stored identity, for showing it."""
    info = stored.info
    issuer = _issuer_name(stored.cert)
    now = now or clock()
    notice = stored.expiry_warning(now)
    if notice is None and now < stored.cert.not_valid_before_utc:
        notice = f"Your certificate is valid only from {stored.cert.not_valid_before_utc:%Y-%m-%d}; check your computer's date."
    return IdentitySummary(info.display_name, stored.emails, stored.cert.not_valid_before_utc,
                           stored.cert.not_valid_after_utc, issuer, stored.protection, notice)


def _issuer_name(cert: x509.Certificate) -> str:
    """The issuing authority's common name, else its whole name."""
    from cryptography.x509.oid import NameOID

    names = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else describe(cert).issuer

"""The first run (the desktop app's assistant): import the certificate, test the account, self-test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import datetime as dt

from cryptography import x509

from ..core.certs import describe
from ..core.errors import PassphraseError
from ..core.identity_store import IdentityStore, StoredIdentity
from ..core.transport.accounts import Account, Credential
from . import AskPassphrase, now as clock
from .compose import ComposeInput, compose_message
from .opening import OpenInput, open_message_file
from .stores import Stores


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

    return identities.import_pkcs12(Path(p12), ask, ask_new=ask_new, now=clock())


@dataclass(frozen=True)
class ConnectionCheck:
    """A successful connection test: where, how, and what the server said about itself."""

    where: str  # host:port
    security: str  # "starttls" | "tls"
    logged_in: bool  # False when no password was given (the connection alone was tested)
    size_limit: int | None  # the largest message the server announced (SIZE), if it did


def check_account_connection(stores: Stores | None, account: Account, password: Credential) -> ConnectionCheck:
    """Connect to the account's SMTP server exactly as sending does (verified TLS, never in
    clear), log in, and quit; nothing is sent. Without ``password`` the keyring's is used (with
    ``stores``), else only the encrypted connection is tested. Raises DeliveryError (or
    TransportSecurityError) with a plain sentence when it fails.
    """
    from ..core.transport.smtp import SmtpSession

    if password is None and stores is not None:
        password = stores.accounts.credential(account)  # a signed-in account: its token source
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

    from ..core.errors import UserError

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
        note = (f"{issuer_name(stored.cert)}, which issued your certificate, is not among the authorities "
                "this computer trusts. Your messages work, but colleagues whose mail program does not "
                "know it will see your signature as not trusted.")
        steps.append(SelfTestStep("Check who issued your certificate", True, note, warning=True))
        warnings.append(note)
    elif valid:
        steps.append(SelfTestStep("Check who issued your certificate", True,
                                  f"{issuer_name(stored.cert)}, an authority this computer trusts"))
    text_ok = marker in (opened.body_text or "")
    steps.append(SelfTestStep("Compare the text", text_ok, "the text came back unchanged" if text_ok else "the text that came back differs"))
    return SelfTestResult(decrypted and valid and text_ok, email, tuple(steps), tuple(warnings))


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
    issuer = issuer_name(stored.cert)
    now = now or clock()
    notice = stored.expiry_warning(now)
    if notice is None and now < stored.cert.not_valid_before_utc:
        notice = f"Your certificate is valid only from {stored.cert.not_valid_before_utc:%Y-%m-%d}; check your computer's date."
    return IdentitySummary(info.display_name, stored.emails, stored.cert.not_valid_before_utc,
                           stored.cert.not_valid_after_utc, issuer, stored.protection, notice)


def issuer_name(cert: x509.Certificate) -> str:
    """The issuing authority's common name, else its whole name."""
    from cryptography.x509.oid import NameOID

    names = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else describe(cert).issuer


def passphrase_opens_default(stores: Stores, passphrase: bytes) -> bool:
    """Whether ``passphrase`` unlocks the default certificate's key (True when the keyring
    unlocks it and no passphrase is needed): the self-test asks again instead of failing."""
    from ..core.errors import UserError

    try:
        stored = stores.identities.get()
    except UserError:
        return True  # no certificate: the self-test says so itself
    try:
        stores.identities.locked(stored, lambda _prompt: passphrase).unlocked()
    except PassphraseError:
        return False
    return True

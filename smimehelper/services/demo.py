"""``smimehelper demo``: the whole journey with throwaway certificates and a synthetic x-ray.

A dentist (or an evaluator) sees what the product does before buying a certificate: a demo CA,
a sending dentist and a receiving colleague are created, clearly labelled as demo material, a
synthetic DICOM x-ray is drawn, and a signed and encrypted message is composed for the colleague.
Everything lands in one folder together with a note saying how to open it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..core.atomic import write_atomic
from ..core.errors import InputFileError
from ..core.identity_store import StoredIdentity
from ..core.reader import OpenedMessage
from . import now as clock
from .compose import ComposeInput, ComposeOutcome, compose_message
from .opening import OpenInput, open_message_file
from .stores import Stores, import_contacts

DEMO_PASSPHRASE = "demo"
SENDER = ("Dr. Demo Sender (DEMO)", "dr.sender@example.com")
COLLEAGUE = ("Dr. Demo Colleague (DEMO)", "dr.colleague@example.com")
DEMO_LABEL = "smimehelper DEMO - not for real use"


@dataclass(frozen=True)
class DemoFiles:
    directory: Path
    message: Path
    xray: Path
    ca_cert: Path
    sender_p12: Path
    colleague_p12: Path
    colleague_cert: Path
    colleague_key: Path
    passphrase_file: Path
    readme: Path


@dataclass(frozen=True)
class DemoResult:
    files: DemoFiles
    compose: ComposeOutcome
    opened: OpenedMessage  # the message opened again as the colleague would


def default_demo_directory(base: Path) -> Path:
    """``smimehelper-demo`` in ``base``, or ``-2``, ``-3``... so an earlier demo is never overwritten."""
    candidate = base / "smimehelper-demo"
    number = 2
    while candidate.exists():
        candidate = base / f"smimehelper-demo-{number}"
        number += 1
    return candidate


def run_demo(directory: Path, now: dt.datetime | None = None) -> DemoResult:
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".smimehelper-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputFileError(f"Cannot write into the demo folder {directory}: {exc.strerror}.") from None
    files = _demo_paths(directory)
    ca_key, ca_cert = _make_ca(now)
    sender_key, sender_cert = _make_person(SENDER, ca_key, ca_cert, now)
    colleague_key, colleague_cert = _make_person(COLLEAGUE, ca_key, ca_cert, now)
    secret = DEMO_PASSPHRASE.encode()
    write_atomic(files.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    write_atomic(files.sender_p12, _p12(SENDER[0], sender_key, sender_cert, ca_cert, secret))
    write_atomic(files.colleague_p12, _p12(COLLEAGUE[0], colleague_key, colleague_cert, ca_cert, secret))
    write_atomic(files.colleague_cert, colleague_cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    write_atomic(
        files.colleague_key,
        colleague_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(secret),
        ),
    )
    write_atomic(files.passphrase_file, secret + b"\n")
    from ..demo_xray import write_synthetic_dental_xray

    write_synthetic_dental_xray(files.xray)
    outcome = compose_message(
        ComposeInput(
            sender=f"{SENDER[0]} <{SENDER[1]}>",
            to=(f"{COLLEAGUE[0]} <{COLLEAGUE[1]}>",),
            subject="Your second opinion on an x-ray, please",
            body=(
                "Dear colleague,\n\n"
                "attached is the intra-oral x-ray we discussed, as a DICOM file.\n"
                "This is a smimehelper demonstration: the image is synthetic and contains no\n"
                "patient data; the certificates are throwaway demo certificates.\n\n"
                "Kind regards,\nDr. Demo Sender\n"
            ),
            attachments=(files.xray,),
            sign_key=files.sender_p12,
            recipient_certs=(files.colleague_cert,),
            out=files.message,
            now=now,
        ),
        lambda _prompt: secret,
    )
    write_atomic(files.readme, _readme(files).encode("utf-8"), mode=0o644)
    opened = open_message_file(
        OpenInput(
            message=files.message,
            keys=(files.colleague_p12,),
            trust=(files.ca_cert,),
            now=now + dt.timedelta(seconds=1),
        ),
        lambda _prompt: secret,
    )
    return DemoResult(files=files, compose=outcome, opened=opened)


def _demo_paths(directory: Path) -> DemoFiles:
    return DemoFiles(
        directory=directory,
        message=directory / "demo-message.eml",
        xray=directory / "synthetic-xray.dcm",
        ca_cert=directory / "demo-ca.cert.pem",
        sender_p12=directory / "dr-sender.p12",
        colleague_p12=directory / "dr-colleague.p12",
        colleague_cert=directory / "dr-colleague.cert.pem",
        colleague_key=directory / "dr-colleague.key.pem",
        passphrase_file=directory / "passphrase.txt",
        readme=directory / "README-DEMO.txt",
    )


def _name(common_name: str, email: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEMO_LABEL),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    if email:
        attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    return x509.Name(attrs)


def _make_ca(now: dt.datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = _name("smimehelper DEMO CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_person(
    who: tuple[str, str], ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, now: dt.datetime
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    common_name, email = who
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, email))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2 * 365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, True, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _p12(
    name: str, key: rsa.RSAPrivateKey, cert: x509.Certificate, ca: x509.Certificate, secret: bytes
) -> bytes:
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(100_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(secret)
    )
    return pkcs12.serialize_key_and_certificates(name.encode(), key, cert, [ca], encryption)


def _readme(files: DemoFiles) -> str:
    return f"""smimehelper DEMO - everything in this folder is throwaway demonstration material.
The certificates are not real and the x-ray is synthetic (no patient data).
The passphrase of every key here is: {DEMO_PASSPHRASE}

{files.message.name}   the signed and encrypted message, from {SENDER[1]} to {COLLEAGUE[1]}
{files.xray.name}      the attached synthetic dental x-ray (DICOM)
{files.sender_p12.name}, {files.colleague_p12.name}   the two demo identities (.p12)
{files.ca_cert.name}   the demo certificate authority

Open it with OpenSSL (as the colleague):
  openssl cms -decrypt -in {files.message.name} -recip {files.colleague_cert.name} \\
      -inkey {files.colleague_key.name} -passin pass:{DEMO_PASSPHRASE} -out decrypted.eml
  openssl cms -verify -in decrypted.eml -CAfile {files.ca_cert.name} -out content.txt

Open it in Thunderbird:
  1. Settings > Privacy & Security > Certificates > Manage Certificates.
  2. "Your Certificates" > Import... > {files.colleague_p12.name} (passphrase: {DEMO_PASSPHRASE}).
  3. "Authorities" > Import... > {files.ca_cert.name}, tick "This certificate can identify mail users".
  4. File > Open > Saved Message... > {files.message.name}.
When you are done, delete the demo certificates from Thunderbird again.
"""


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
    result = run_demo(default_demo_directory(stores.home), now or clock())
    secret = DEMO_PASSPHRASE.encode()
    identity = stores.identities.import_pkcs12(result.files.sender_p12, lambda _prompt: secret)
    stores.trust.add(result.files.ca_cert)
    import_contacts(stores, (result.files.colleague_cert,), None)
    return DemoProfile(identity, result.files.directory, result.files.message, result.files.xray,
                       result.files.sender_p12, secret)


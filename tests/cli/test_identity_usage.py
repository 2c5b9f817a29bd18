"""``identity import`` refuses certificates that cannot be used for e-mail, and says what they are
for (issue 9, "Your own certificate"); a usable one replaces an unusable default (issue 11).

The rule is RFC 5280 4.2.1.3/4.2.1.12 and RFC 8550 4.4.2/4.4.4 as core/validation.py applies it:
an absent KeyUsage or ExtendedKeyUsage restricts nothing; a present EKU must hold
emailProtection or anyExtendedKeyUsage; a present KeyUsage must allow signing or encipherment.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from smimehelper import services
from tests.cli.identity_helpers import fails, files_under, identities_json, import_identity, ok
from tests.pki.make_pki import REFERENCE_NOW, Pki

_KEY = rsa.generate_private_key(65537, 2048)
_KU_NAMES = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign")


def make_p12(pki: Pki, folder: Path, name: str, *, eku: list[x509.ObjectIdentifier] | None, ku: set[str] | None) -> Path:
    """A leaf for ``name``@example.org from the test intermediate, with exactly these usages."""
    email = f"{name}@example.org"
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name.title())]))
        .issuer_name(pki.inter.cert.subject)
        .public_key(_KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(REFERENCE_NOW - dt.timedelta(days=1))
        .not_valid_after(REFERENCE_NOW + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
    )
    if ku is not None:
        builder = builder.add_extension(
            x509.KeyUsage(**{n: n in ku for n in _KU_NAMES}, encipher_only=False, decipher_only=False), critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    cert = builder.sign(pki.inter.key, hashes.SHA256())
    path = folder / f"{name}.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        name.encode(), _KEY, cert, [pki.inter.cert], BestAvailableEncryption(pki.p12_password.encode())))
    return path


REFUSED = {
    "login": ([ExtendedKeyUsageOID.CLIENT_AUTH], {"digital_signature", "key_encipherment"},
              "This is a login certificate (client authentication), not an e-mail certificate"),
    "smartcard": ([x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.2"), ExtendedKeyUsageOID.CLIENT_AUTH], {"digital_signature"},
                  "This is a smart-card login certificate (Windows logon), also a login certificate (client authentication)"),
    "codesign": ([ExtendedKeyUsageOID.CODE_SIGNING], None, "This is a code-signing certificate"),
    "ca-usage": (None, {"key_cert_sign", "crl_sign"}, "may only be used for issuing certificates"),
    "data-only": ([ExtendedKeyUsageOID.EMAIL_PROTECTION], {"data_encipherment"}, "neither for signing nor for encrypting e-mail"),
}
ACCEPTED = {
    "unrestricted": (None, None),  # no KeyUsage, no EKU: every usage (RFC 5280)
    "any-eku": ([ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE], {"digital_signature", "key_encipherment"}),
    "sign-only": ([ExtendedKeyUsageOID.EMAIL_PROTECTION], {"digital_signature"}),
    "encrypt-only": ([ExtendedKeyUsageOID.EMAIL_PROTECTION], {"key_encipherment"}),
    "email-and-login": ([ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH], None),
}


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "clock", lambda: REFERENCE_NOW)


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_certificate_not_for_email_is_refused_saying_what_it_is(kind: str, pki: Pki, tmp_path: Path, isolated_home: Path,
                                                                  frozen: None, capsys: pytest.CaptureFixture[str]) -> None:
    eku, ku, words = REFUSED[kind]
    p12 = make_p12(pki, tmp_path, kind, eku=eku, ku=ku)
    fails(["identity", "import", p12, "--passphrase-file", pki.passphrase_file], capsys, words, "Nothing was imported")
    assert files_under(isolated_home) == []  # not stored, not the default, no settings written
    assert identities_json(capsys) == []


def test_the_pki_server_certificate_is_refused(pki: Pki, isolated_home: Path, frozen: None, capsys: pytest.CaptureFixture[str]) -> None:
    fails(["identity", "import", pki["wrongeku"].p12, "--passphrase-file", pki.passphrase_file], capsys,
          "This is a web server certificate (TLS server authentication), not an e-mail certificate")
    assert files_under(isolated_home) == []


@pytest.mark.parametrize("kind", sorted(ACCEPTED))
def test_certificates_usable_for_email_are_imported(kind: str, pki: Pki, tmp_path: Path, frozen: None,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    eku, ku = ACCEPTED[kind]
    p12 = make_p12(pki, tmp_path, kind, eku=eku, ku=ku)
    ok(["identity", "import", p12, "--passphrase-file", pki.passphrase_file], capsys)
    assert [i["emails"] for i in identities_json(capsys)] == [[f"{kind}@example.org"]]


@pytest.mark.parametrize("unusable", ["expired", "notyet"])
def test_a_usable_certificate_replaces_an_unusable_default(unusable: str, pki: Pki, frozen: None,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert import_identity(pki, unusable, capsys)["default"] is True  # the only one: default
    assert import_identity(pki, "alice", capsys)["default"] is True  # can sign now: takes over
    defaults = {i["emails"][0]: i["default"] for i in identities_json(capsys)}
    assert defaults == {"alice@example.org": True, f"{unusable}@example.org": False}
    # an unusable certificate imported later never takes the default from a usable one
    assert import_identity(pki, unusable, capsys)["default"] is False


def test_a_usable_default_stays_the_default(pki: Pki, frozen: None, capsys: pytest.CaptureFixture[str]) -> None:
    import_identity(pki, "alice", capsys)
    assert import_identity(pki, "frank", capsys)["default"] is False
    shown = json.loads(ok(["identity", "show", "--json"], capsys).out)
    assert shown["emails"] == ["alice@example.org"]


def test_first_run_assistant_refuses_the_login_certificate(pki: Pki, tmp_path: Path, frozen: None) -> None:
    from smimehelper.core.errors import CertificateError

    p12 = make_p12(pki, tmp_path, "login", eku=[ExtendedKeyUsageOID.CLIENT_AUTH], ku=None)
    stores = services.Stores.open()
    with pytest.raises(CertificateError, match="login certificate"):
        services.import_identity_file(stores, p12, pki.p12_password.encode(), use_keyring=False)
    assert stores.identities.list() == []

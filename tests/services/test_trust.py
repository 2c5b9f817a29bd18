"""Trust a colleague's authority, or only their certificate (services/trust.py).

The colleague's certificates come from the OpenSSL command line (tests/practice_pki.py): a
practice's own root, as a real small authority makes them. Judges: ``openssl x509 -fingerprint``
for the fingerprint the user compares on the phone, ``openssl cms -decrypt`` for the message
then encrypted to the colleague.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from smimehelper import services
from smimehelper.core.certs import load_certificate
from smimehelper.core.errors import CertificateError
from tests.judges import openssl_decrypt
from tests.practice_pki import DANA, P12_PASSPHRASE, SAM, PracticePki, _person, openssl_fingerprint

ASK = lambda _prompt: P12_PASSPHRASE.encode()  # noqa: E731


@pytest.fixture
def stores(practice: PracticePki, tmp_path: Path) -> services.Stores:
    s = services.Stores.open(tmp_path / "home", system_trust=False)
    s.identities.import_pkcs12(practice / "dana.p12", ASK)
    s.trust.add(practice / "provider-ca.pem")
    return s


def _status(stores: services.Stores, email: str = SAM) -> str:
    return services.list_contacts(stores, fetch=False, address=email)[0].status.status.value


def _compose_to_sam(stores: services.Stores, out: Path) -> services.ComposeOutcome:
    return services.compose_message(
        services.ComposeInput(sender=None, to=(SAM,), subject="Referral", body="x-ray attached\n", sign_key=None, out=out),
        ASK, stores=stores,
    )


def test_trusting_the_authority_from_a_signed_mail_lets_compose_encrypt_to_the_colleague(
        stores: services.Stores, practice: PracticePki, tmp_path: Path) -> None:
    [entry] = services.import_contacts(stores, (practice / "sam-signed.eml",), ASK)
    assert _status(stores) == "untrusted_issuer"
    with pytest.raises(CertificateError, match=r"Smith Practice CA \(Smith Dental\), which is not among your trusted"):
        _compose_to_sam(stores, tmp_path / "refused.eml")

    offer = services.authority_offer(stores, entry.cert, entry.chain, SAM)
    assert offer.name == "Smith Practice CA (Smith Dental)"
    assert offer.full_name == "CN=Smith Practice CA,O=Smith Dental"
    assert offer.top and not offer.already_trusted
    groups = offer.fingerprint.split()
    assert len(groups) == 16 and all(len(g) == 4 for g in groups) and offer.fingerprint.count("\n") == 1
    assert "".join(groups) == openssl_fingerprint(practice / "smith-ca.pem")  # what Sam reads out

    added = services.trust_authority(stores, offer)
    assert added is not None and added.fingerprint == openssl_fingerprint(practice / "smith-ca.pem").lower()
    assert services.authority_offer(stores, entry.cert, entry.chain, SAM).already_trusted
    assert services.trust_authority(stores, offer) is None  # twice is once
    assert _status(stores) in ("valid", "revocation_unknown")

    out = tmp_path / "to-sam.eml"
    outcome = _compose_to_sam(stores, out)
    assert SAM in outcome.result.recipients
    assert b"x-ray attached" in openssl_decrypt(out, practice / "sam.pem", practice / "sam.key")


def test_a_bare_signed_mail_needs_the_authority_file_and_the_wrong_file_is_refused(
        stores: services.Stores, practice: PracticePki) -> None:
    [entry] = services.import_contacts(stores, (practice / "sam-signed-bare.eml",), ASK)
    offer = services.authority_offer(stores, entry.cert, entry.chain, SAM)
    assert offer.authority is None and offer.fingerprint == "" and offer.name == "Smith Practice CA (Smith Dental)"
    with pytest.raises(CertificateError, match="not at hand"):
        services.trust_authority(stores, offer)
    with pytest.raises(CertificateError, match="Dentist Provider CA.*did not issue the certificate of sam@"):
        services.authority_from_file(stores, entry.cert, practice / "provider-ca.pem", entry.chain, SAM)
    with pytest.raises(CertificateError, match="holds no authority"):
        services.authority_from_file(stores, entry.cert, practice / "sam.pem", entry.chain, SAM)
    assert _status(stores) == "untrusted_issuer"  # nothing was trusted on the way
    from_file = services.authority_from_file(stores, entry.cert, practice / "smith-ca.pem", entry.chain, SAM)
    assert "".join(from_file.fingerprint.split()) == openssl_fingerprint(practice / "smith-ca.pem")
    services.trust_authority(stores, from_file)
    assert _status(stores) in ("valid", "revocation_unknown")


def test_an_impostor_authority_with_the_same_name_is_not_taken_for_the_issuer(
        stores: services.Stores, practice: PracticePki, tmp_path: Path) -> None:
    """Same name, other key: only the signature on Sam's certificate proves who issued it."""
    fake = tmp_path / "fake"
    fake.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
                    "-days", "30", "-subj", "/O=Smith Dental/CN=Smith Practice CA", "-addext", "basicConstraints=critical,CA:TRUE"],
                   cwd=fake, check=True, capture_output=True)
    [entry] = services.import_contacts(stores, (practice / "sam-signed-bare.eml",), ASK)
    with pytest.raises(CertificateError, match="did not issue"):
        services.authority_from_file(stores, entry.cert, fake / "ca.pem", entry.chain, SAM)


def test_trusting_only_the_certificate_trusts_nothing_else_from_that_authority(
        stores: services.Stores, practice: PracticePki, tmp_path: Path) -> None:
    [entry] = services.import_contacts(stores, (practice / "sam-signed.eml",), ASK)
    # A second person certified by the same practice authority.
    _person(practice.folder, "eve", "smith-ca", "/O=Smith Dental/CN=Eve Smith", "eve@smith-dental.example")
    services.import_contacts(stores, (practice / "eve.pem",), ASK)
    offer = services.certificate_offer(stores, entry.cert, SAM)
    assert "".join(offer.fingerprint.split()) == openssl_fingerprint(practice / "sam.pem")
    assert offer.issuer == "Smith Practice CA (Smith Dental)" and not offer.already_trusted

    services.trust_certificate(stores, entry.cert)
    assert _status(stores) == "valid"
    assert _status(stores, "eve@smith-dental.example") == "untrusted_issuer"
    assert [t.fingerprint for t in stores.trust.list()] == [openssl_fingerprint(practice / "provider-ca.pem").lower()]
    out = tmp_path / "to-sam.eml"
    _compose_to_sam(stores, out)
    assert b"x-ray attached" in openssl_decrypt(out, practice / "sam.pem", practice / "sam.key")

    # A newer signed mail from Sam (same certificate) keeps the choice.
    services.import_contacts(stores, (practice / "sam-signed-bare.eml",), ASK)
    assert services.certificate_offer(stores, entry.cert).already_trusted

    services.stop_trusting_certificate(stores, entry.cert)
    assert _status(stores) == "untrusted_issuer"


def test_open_trusts_the_signature_of_a_directly_trusted_certificate_only_with_its_own_from(
        stores: services.Stores, practice: PracticePki, tmp_path: Path) -> None:
    [entry] = services.import_contacts(stores, (practice / "sam-signed-bare.eml",), ASK)
    request = services.OpenInput(message=practice / "sam-signed-bare.eml")
    [before] = services.open_message_file(request, ASK, stores=stores).signatures
    assert before.valid and not before.trusted
    services.trust_certificate(stores, entry.cert)
    opened = services.open_message_file(request, ASK, stores=stores)
    assert opened.all_good and opened.signatures[0].trusted and opened.signatures[0].reason is None

    # Sam's certificate under someone else's From line: the pin must not make it trusted.
    (tmp_path / "letter.txt").write_bytes(b"Content-Type: text/plain\r\n\r\nPay this invoice.\r\n")
    forged = tmp_path / "forged.eml"
    subprocess.run(["openssl", "cms", "-sign", "-in", str(tmp_path / "letter.txt"), "-signer", str(practice / "sam.pem"),
                    "-inkey", str(practice / "sam.key"), "-from", "Bank <billing@bank.example>", "-to", DANA,
                    "-subject", "Invoice", "-out", str(forged)], check=True, capture_output=True)
    [verdict] = services.open_message_file(services.OpenInput(message=forged), ASK, stores=stores).signatures
    assert verdict.valid and not verdict.trusted


def test_a_person_certificate_is_never_made_an_authority(stores: services.Stores, practice: PracticePki) -> None:
    with pytest.raises(CertificateError, match="not a certificate authority"):
        stores.trust.add_certificates([load_certificate(practice / "sam.pem")], where="Sam's file")
    assert len(stores.trust.list()) == 1

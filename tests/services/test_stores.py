"""The use cases over the stores: import once, then compose and open need no key options."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from smimehelper import services
from smimehelper.core.cms import oids
from smimehelper.core.cms.capabilities import parse_capabilities
from smimehelper.core.errors import AddressError, CertificateError
from tests.core.helpers import compose as compose_directly
from tests.judges import extract_smime_payload, openssl_cms_print, openssl_decrypt, openssl_verify
from tests.pki.make_pki import Pki

ASK = lambda _prompt: b"test-pass"  # noqa: E731


@pytest.fixture
def stores(pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> services.Stores:
    monkeypatch.setattr(services, "clock", lambda: pki.now)
    s = services.Stores.open(tmp_path / "home", system_trust=False)
    s.identities.import_pkcs12(pki.entity("alice").p12, ASK)
    s.trust.add(pki.root.cert_pem)
    return s


def test_compose_with_nothing_but_an_address(stores: services.Stores, pki: Pki, tmp_path: Path) -> None:
    services.import_contacts(stores, (pki.entity("bob").cert_pem,), ASK)
    out = tmp_path / "m.eml"
    outcome = services.compose_message(
        services.ComposeInput(sender=None, to=("bob@example.org",), subject="s", body="hello\n", sign_key=None, out=out),
        ASK, stores=stores,
    )
    assert outcome.result.recipients == ("alice@example.org", "bob@example.org")
    inner = openssl_decrypt(out, pki.entity("bob").cert_pem, pki.entity("bob").key_path)
    openssl_verify(inner, pki.root.cert_pem, attime=pki.now)
    assert b"From: Dr Alice Sender <alice@example.org>" in out.read_bytes()


def test_unknown_and_invalid_recipients_are_refused_with_the_reason(stores: services.Stores, pki: Pki, tmp_path: Path) -> None:
    request = services.ComposeInput(sender=None, to=("dave@example.org",), subject="s", body="b", sign_key=None, out=tmp_path / "m.eml")
    with pytest.raises(AddressError, match="no certificate for dave@example.org"):
        services.compose_message(request, ASK, stores=stores)
    stores.contacts.add(pki.entity("expired").cert)
    request = services.ComposeInput(sender=None, to=("expired@example.org",), subject="s", body="b", sign_key=None, out=tmp_path / "m.eml")
    with pytest.raises(CertificateError, match="expired@example.org expired on"):
        services.compose_message(request, ASK, stores=stores)
    assert not (tmp_path / "m.eml").exists()


def test_signed_mail_gives_a_contact_with_capabilities_and_open_harvests(stores: services.Stores, pki: Pki, tmp_path: Path) -> None:
    signed = tmp_path / "from-bob.eml"
    compose_directly(pki, signed, sender="bob", to=("alice",), encrypt=False)
    added = services.import_contacts(stores, (signed,), ASK)
    assert [e.email for e in added] == ["bob@example.org"]
    assert oids.AES256_CBC in parse_capabilities(added[0].capabilities)
    assert added[0].signing_time == pki.now
    # open harvests a valid and trusted signer by itself
    from_frank = tmp_path / "from-frank.eml"
    compose_directly(pki, from_frank, sender="frank", to=("alice",))
    opened = services.open_message_file(services.OpenInput(message=from_frank), ASK, stores=stores)
    assert opened.all_good, [s.reason for s in opened.signatures]
    assert [e.email for e in stores.contacts.for_address("frank@example.org")] == ["frank@example.org"]


def test_capabilities_choose_oaep_and_gcm(stores: services.Stores, pki: Pki, tmp_path: Path) -> None:
    from smimehelper.core.cms.capabilities import _Capabilities

    strong = _Capabilities([{"capability_id": oids.AES256_GCM}, {"capability_id": oids.RSAES_OAEP}]).dump()
    stores.contacts.add(pki.entity("bob").cert, capabilities=strong, signing_time=pki.now, source="test")
    out = tmp_path / "m.eml"
    outcome = services.compose_message(
        services.ComposeInput(sender=None, to=("bob@example.org",), subject="s", body="b", sign_key=None, out=out),
        ASK, stores=stores,
    )
    assert outcome.result.cipher == "aes256-gcm"
    structure = openssl_cms_print(extract_smime_payload(out.read_bytes()))
    assert "rsaesOaep" in structure and "rsaEncryption" in structure  # OAEP for bob, v1.5 for alice
    for who in ("bob", "alice"):
        openssl_decrypt(out, pki.entity(who).cert_pem, pki.entity(who).key_path)


def test_contact_rows_carry_a_status(stores: services.Stores, pki: Pki) -> None:
    stores.contacts.add(pki.entity("bob").cert)
    stores.contacts.add(pki.entity("expired").cert)
    rows = services.list_contacts(stores, fetch=False)
    assert {(r.entry.email, r.status.status.value) for r in rows} == {
        ("bob@example.org", "revocation_unknown"), ("expired@example.org", "expired")}  # offline: not checked


def test_contact_files_of_every_kind(stores: services.Stores, pki: Pki, tmp_path: Path) -> None:
    import subprocess

    p7b = tmp_path / "bundle.p7b"
    subprocess.run(["openssl", "crl2pkcs7", "-nocrl", "-certfile", str(pki.entity("carol").cert_pem),
                    "-certfile", str(pki.inter.cert_pem), "-outform", "DER", "-out", str(p7b)], check=True)
    der = tmp_path / "dave.cer"
    der.write_bytes(pki.entity("dave").cert_der.read_bytes())
    added = services.import_contacts(stores, (p7b, der), ASK)
    assert sorted(e.email for e in added) == ["carol@example.org", "dave@example.org"]
    carol = stores.contacts.for_address("carol@example.org")[0]
    assert [c.subject for c in carol.chain] == [pki.inter.cert.subject]
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(CertificateError):
        services.import_contacts(stores, (garbage,), ASK)
    assert sorted({e.email for e in stores.contacts.entries()}) == ["carol@example.org", "dave@example.org"]
    with pytest.raises(CertificateError, match="only certificate authorities"):
        services.import_contacts(stores, (pki.root.cert_pem,), ASK)
    assert stores.contacts.export("carol@example.org").startswith(b"-----BEGIN CERTIFICATE-----")
    assert stores.contacts.remove("dave@example.org") == 1


def test_newest_usable_certificate_is_chosen_for_an_address(stores: services.Stores, pki: Pki, tmp_path: Path) -> None:
    """An address with an old (expired) and a current certificate encrypts to the current one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    old = (
        x509.CertificateBuilder().subject_name(pki.entity("bob").cert.subject).issuer_name(pki.inter.cert.subject)
        .public_key(pki.entity("carol").cert.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(pki.now - dt.timedelta(days=800)).not_valid_after(pki.now - dt.timedelta(days=400))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name("bob@example.org")]), critical=False)
        .sign(pki.inter.key, hashes.SHA256())
    )
    stores.contacts.add(old)
    stores.contacts.add(pki.entity("bob").cert)
    assert len(stores.contacts.for_address("bob@example.org")) == 2
    out = tmp_path / "m.eml"
    services.compose_message(
        services.ComposeInput(sender=None, to=("bob@example.org",), subject="s", body="b", sign_key=None, out=out),
        ASK, stores=stores,
    )
    openssl_decrypt(out, pki.entity("bob").cert_pem, pki.entity("bob").key_path)

"""Our reader on messages made by OpenSSL and NSS (and NSS's own vectors): every layer opens,
every verdict is the one the producing tools' own checks established."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from smimehelper.core.certs import load_certificate
from smimehelper.core.identity import load_pkcs12
from smimehelper.core.reader import open_message
from tests.interop.corpus import VECTOR_NAMES, NssVector, Vector
from tests.pki.make_pki import Pki


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_reader_opens_vector(name: str, corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path) -> None:
    vector = corpus_by_name[name]
    identities = []
    if vector.recipient:
        identities.append(load_pkcs12(pki.entity(vector.recipient).p12, pki.p12_password.encode()))
    opened = open_message(
        vector.path,
        identities=identities,
        anchors=[load_certificate(pki.root.cert_pem)],
        save_dir=tmp_path / "saved",
    )
    assert opened.encrypted == vector.encrypted
    assert opened.decrypted == vector.encrypted, opened.decryption_problem
    assert opened.encryption == vector.encryption
    assert opened.encryption_weak == (vector.encryption == "3des-cbc")
    got = [(s.valid, s.trusted, s.signer_email, s.digest) for s in opened.signatures]  # a broken signature is never "trusted" (issue 9): the corpus keeps the chain verdict apart
    want = [(e.valid, e.valid and e.trusted, pki.entity(e.signer).email, e.digest) for e in vector.signatures]
    assert got == want, [s.reason for s in opened.signatures]
    for verdict, expected in zip(opened.signatures, vector.signatures):
        if not (expected.valid and expected.trusted):
            assert verdict.reason, "a failed verdict must say why"
        if expected.signing_time is not None:
            assert verdict.signed_at == expected.signing_time
    if vector.body_text is not None:
        assert (opened.body_text or "").replace("\r\n", "\n").strip() == vector.body_text.replace("\r\n", "\n").strip()
    assert [(a.filename, a.sha256, a.size) for a in opened.attachments] == [
        (filename, hashlib.sha256(data).hexdigest(), len(data)) for filename, data in vector.attachments
    ]
    for attachment, (_, data) in zip(opened.attachments, vector.attachments):
        assert attachment.saved_to is not None and attachment.saved_to.read_bytes() == data
        assert attachment.saved_to.stat().st_mode & 0o777 == 0o600


def test_wrong_key_is_a_verdict_not_a_crash(corpus_by_name: dict[str, Vector], pki: Pki) -> None:
    vector = corpus_by_name["openssl-enc-rsa-aes256-cbc"]
    carol = load_pkcs12(pki.entity("carol").p12, pki.p12_password.encode())
    opened = open_message(vector.path, identities=[carol])
    assert opened.encrypted and not opened.decrypted
    assert "not encrypted for carol@example.org" in (opened.decryption_problem or "")
    assert not opened.all_good and opened.attachments == () and opened.body_text is None


def test_nss_project_vectors_decrypt(nss_vectors: list[NssVector]) -> None:
    assert len(nss_vectors) >= 14
    for vector in nss_vectors:
        identity = load_pkcs12(vector.p12_path, vector.password.encode())
        assert vector.eml_path is not None
        opened = open_message(vector.eml_path, identities=[identity])
        assert opened.decrypted, (vector.name, opened.decryption_problem)
        assert opened.body_text == vector.plaintext.decode(), vector.name

"""EnvelopeEncoder.stream (update_into into reused buffers, PKCS #7 padding by hand) judged by OpenSSL.

The streamed encoding must be the same CMS as the piecewise one: OpenSSL decrypts it (DER input)
back to exactly the plaintext for every length modulo the AES block, with the content split into
pieces of every awkward size, with buffers so small that the header and segments span several.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from smimehelper.core.cms.enveloped import ContentCipher, EnvelopeEncoder
from smimehelper.core.cms.recipients import Recipient
from smimehelper.core.pipeline import BufferRing
from tests.pki.make_pki import Pki


def _openssl_decrypt_der(pki: Pki, der: bytes, tmp_path: Path, who: str = "bob") -> bytes:
    entity = pki.entity(who)
    source = tmp_path / "env.der"
    source.write_bytes(der)
    done = subprocess.run(
        ["openssl", "cms", "-decrypt", "-binary", "-inform", "DER", "-in", str(source),
         "-recip", str(entity.cert_pem), "-inkey", str(entity.key_path)],
        capture_output=True, check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def _pieces(data: bytes, rng: random.Random) -> list[bytes | memoryview]:
    out: list[bytes | memoryview] = []
    position = 0
    while position < len(data):
        step = rng.choice([1, 15, 16, 17, 57, 1000, 70_000])
        chunk = data[position : position + step]
        out.append(memoryview(chunk) if rng.random() < 0.5 else chunk)
        position += step
    return out


@pytest.mark.parametrize("cipher", [ContentCipher.AES256_CBC, ContentCipher.AES256_GCM], ids=["cbc", "gcm"])
@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 31, 32, 4095, 100_003])
@pytest.mark.parametrize(("ring_bytes", "align"), [(256, 57), (70_000, 57), (1 << 20, 1)])
def test_stream_decrypts_to_the_plaintext(pki: Pki, tmp_path: Path, cipher: ContentCipher, length: int,
                                          ring_bytes: int, align: int) -> None:
    rng = random.Random(length * 31 + ring_bytes)
    plaintext = os.urandom(length)
    recipients = [Recipient(pki.entity(name).cert) for name in ("bob", "alice", "carol")]
    encoder = EnvelopeEncoder(recipients, cipher)
    blocks = [bytes(b) for b in encoder.stream(_pieces(plaintext, rng), BufferRing(ring_bytes, 3), align)]
    assert all(len(b) % align == 0 for b in blocks[:-1])
    assert _openssl_decrypt_der(pki, b"".join(blocks), tmp_path) == plaintext


def test_stream_and_piecewise_encodings_have_the_same_shape(pki: Pki) -> None:
    """Same key and IV (a fixed random source): the streamed bytes equal start + update + finish."""
    recipients = [Recipient(pki.entity("bob").cert)]
    plaintext = os.urandom(10_000)

    def fixed(n: int) -> bytes:
        return bytes(range(n))

    piecewise = EnvelopeEncoder(recipients, random_bytes=fixed)
    expected = b"".join([piecewise.start(), *piecewise.update(plaintext), piecewise.finish()])
    streamed = EnvelopeEncoder(recipients, random_bytes=fixed)
    got = b"".join(bytes(b) for b in streamed.stream([plaintext], BufferRing(1 << 16, 2)))
    # RSA PKCS #1 v1.5 encryption of the key is randomised: compare from EncryptedContentInfo
    # (an indefinite SEQUENCE starting with the id-data OID) on.
    marker = b"\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01"
    assert len(got) == len(expected)
    assert got[got.index(marker):] == expected[expected.index(marker):]

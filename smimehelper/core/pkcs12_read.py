"""A second reader for .p12/.pfx files: why one cannot be read, and the keys cryptography refuses.

cryptography's ``load_pkcs12`` fails in one way for very different files: a wrong passphrase, a
damaged download, a certificate without its key, and a perfectly good file holding an X25519 or
X448 key (as OpenSSL 3 writes them: cryptography's PKCS#12 loader accepts no key-agreement keys)
all become the same exception. This module reads the file's structure itself (RFC 7292 with
asn1crypto; the primitives from cryptography) so that:

- the integrity MAC tells a wrong passphrase apart from anything else, with certainty;
- an X25519/X448 key is read (its PKCS#8 bag decrypted by cryptography, the certificates by
  PBES2 or PBE-SHA1-3DES here);
- everything else gets its real reason in words.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from asn1crypto import cms as asn1_cms
from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography import x509
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import CertificateError, PassphraseError

_HASHES = {"sha1": "sha1", "sha224": "sha224", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}


@dataclass(frozen=True)
class Pkcs12Contents:
    key: object  # a cryptography private key
    cert: x509.Certificate
    others: tuple[x509.Certificate, ...]


def explain_or_read(data: bytes, passphrase: bytes | None, name: str) -> Pkcs12Contents:
    """Read ``data`` (a .p12 that cryptography did not load), or raise the real reason.

    Raises PassphraseError only when the passphrase is missing or the integrity check proves it
    wrong; CertificateError (with what the file is, and what to do) otherwise.
    """
    if data.lstrip().startswith(b"-----BEGIN"):
        kind = "a certificate" if b"CERTIFICATE-----" in data and b"PRIVATE KEY" not in data else "a PEM file"
        raise CertificateError(
            f"{name} is {kind} in text (PEM) form, not a certificate file with its key (.p12 or .pfx). "
            "Export your certificate again as .p12/.pfx with the private key included, or import the "
            "PEM key together with its certificate."
        )
    try:
        cert = x509.load_der_x509_certificate(data)
    except ValueError:
        cert = None
    if cert is not None:
        raise CertificateError(
            f"{name} holds only a certificate, without its private key. Export your certificate "
            "again as .p12/.pfx with the private key included (in Windows: \"Yes, export the private key\")."
        )
    if not data:
        raise CertificateError(f"{name} is empty. Export your certificate file (.p12/.pfx) again.")
    try:
        pfx = asn1_pkcs12.Pfx.load(data, strict=True)
        auth_safe = pfx["auth_safe"]
        kind = auth_safe["content_type"].native
        content = auth_safe["content"].native if kind == "data" else None
    except Exception:  # noqa: BLE001 (any parse failure means: not this kind of file)
        raise CertificateError(
            f"{name} is not a certificate file (.p12/.pfx), or it is damaged or incomplete (a download "
            "that did not finish?). Export it again from where it came from."
        ) from None
    if content is None or kind != "data":
        raise CertificateError(
            f"{name} is signed with a public key instead of protected by a passphrase (a rare kind of "
            ".p12 that smimehelper cannot read). Export it again with a passphrase."
        )
    passwords = _password_forms(passphrase)
    password = _check_mac(pfx, content, passwords, name, passphrase)
    return _read_bags(content, password, passphrase or b"", name)


def _password_forms(passphrase: bytes | None) -> list[bytes]:
    """The passphrase as RFC 7292 B.1 encodes it (BMPString with two zero bytes); an absent
    passphrase is written either as an empty BMPString or as nothing at all."""
    text = (passphrase or b"").decode("utf-8", "replace")
    forms = [text.encode("utf-16-be") + b"\x00\x00"]
    if not passphrase:
        forms.append(b"")
    return forms


def _check_mac(pfx: asn1_pkcs12.Pfx, content: bytes, passwords: list[bytes], name: str, passphrase: bytes | None) -> bytes:
    mac_data = pfx["mac_data"]
    if mac_data.native is None:
        return passwords[0]
    algorithm = mac_data["mac"]["digest_algorithm"]["algorithm"].native
    digest = _HASHES.get(algorithm)
    if digest is None:
        raise CertificateError(
            f"{name} is protected with an integrity method ({algorithm}) that smimehelper does not know. "
            "Export it again with current settings (AES-256 and SHA-256)."
        )
    salt = mac_data["mac_salt"].native
    iterations = mac_data["iterations"].native
    expected = mac_data["mac"]["digest"].native
    size = hashlib.new(digest).digest_size
    for password in passwords:
        key = pkcs12_kdf(digest, password, salt, 3, iterations, size)
        if hmac.compare_digest(hmac.new(key, content, digest).digest(), expected):
            return password
    if not passphrase:
        raise PassphraseError(f"{name} is protected by a passphrase; please give it.")
    # A wrong passphrase and bytes changed in transit fail the same integrity check.
    raise PassphraseError(f"The passphrase for {name} is not correct (or the file is damaged). Please try again.")


def pkcs12_kdf(digest: str, password: bytes, salt: bytes, purpose: int, iterations: int, length: int) -> bytes:
    """RFC 7292 appendix B.2 (``purpose``: 1 key, 2 IV, 3 MAC key)."""
    u = hashlib.new(digest).digest_size
    v = hashlib.new(digest).block_size
    d = bytes([purpose]) * v

    def stretch(value: bytes) -> bytes:  # repeated to a whole number of v-byte blocks
        if not value:
            return b""
        n = v * -(-len(value) // v)
        return (value * (n // len(value) + 1))[:n]

    i = bytearray(stretch(salt) + stretch(password))
    out = b""
    while len(out) < length:
        a = hashlib.new(digest, d + bytes(i)).digest()
        for _ in range(iterations - 1):
            a = hashlib.new(digest, a).digest()
        out += a
        b = int.from_bytes((a * (v // u + 1))[:v], "big")
        for start in range(0, len(i), v):
            block = (int.from_bytes(i[start:start + v], "big") + b + 1) % (1 << (8 * v))
            i[start:start + v] = block.to_bytes(v, "big")
    return out[:length]


def _read_bags(content: bytes, bmp_password: bytes, passphrase: bytes, name: str) -> Pkcs12Contents:
    keys: list[object] = []
    certs: list[x509.Certificate] = []
    for info in asn1_pkcs12.AuthenticatedSafe.load(content):
        kind = info["content_type"].native
        if kind == "data":
            safe = info["content"].native
        elif kind == "encrypted_data":
            safe = _decrypt(info["content"], bmp_password, passphrase, name)
        else:
            raise CertificateError(f"{name} holds a part of kind {kind} that smimehelper cannot read. Export it again.")
        for bag in asn1_pkcs12.SafeContents.load(safe):
            bag_id = bag["bag_id"].native
            value = bag["bag_value"]  # asn1crypto parses the bag by its bag_id
            if bag_id == "cert_bag" and value["cert_id"].native == "x509":
                certs.append(x509.load_der_x509_certificate(value["cert_value"].parsed.dump()))
            elif bag_id == "pkcs8_shrouded_key_bag":
                keys.append(_load_key(value.untag().dump(), passphrase, name))
            elif bag_id == "key_bag":
                keys.append(serialization.load_der_private_key(value.untag().dump(), None))
    if not keys or not certs:
        raise CertificateError(
            f"{name} contains no private key with its certificate. Export it again with the private key "
            "included (in Windows: \"Yes, export the private key\")."
        )
    key = keys[0]
    public = key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    matching = [c for c in certs if c.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == public]
    if not matching:
        raise CertificateError(f"The certificate in {name} does not belong to its private key.")
    cert = matching[0]
    return Pkcs12Contents(key, cert, tuple(c for c in certs if c != cert))


def _load_key(der: bytes, passphrase: bytes, name: str) -> object:
    try:
        return serialization.load_der_private_key(der, passphrase or None)
    except (ValueError, TypeError) as exc:
        raise CertificateError(
            f"The private key in {name} could not be read ({exc}). Export the file again with current "
            "settings (AES-256)."
        ) from None
    except Exception as exc:  # cryptography's UnsupportedAlgorithm
        raise CertificateError(
            f"The private key in {name} is encrypted in a way smimehelper cannot read ({exc}). Export it "
            "again with current settings (AES-256)."
        ) from None


def _decrypt(encrypted: asn1_cms.EncryptedData, bmp_password: bytes, passphrase: bytes, name: str) -> bytes:
    info = encrypted["encrypted_content_info"]
    algorithm = info["content_encryption_algorithm"]
    data = info["encrypted_content"].native
    scheme = algorithm["algorithm"].native
    if scheme == "pbes2":
        params = algorithm["parameters"]
        kdf = params["key_derivation_func"]
        if kdf["algorithm"].native != "pbkdf2":
            raise CertificateError(f"{name} uses a key derivation ({kdf['algorithm'].native}) smimehelper cannot read; export it again.")
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

        kdf_params = kdf["parameters"]
        prf = kdf_params["prf"]["algorithm"].native
        hash_cls = {"sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}.get(prf)
        if hash_cls is None:
            raise CertificateError(f"{name} uses a key derivation with {prf}, which smimehelper cannot read; export it again.")
        cipher = params["encryption_scheme"]
        cipher_name = cipher["algorithm"].native
        sizes = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32}
        if cipher_name not in sizes:
            raise CertificateError(f"{name} is encrypted with {cipher_name}, which smimehelper cannot read; export it again with AES-256.")
        key = PBKDF2HMAC(hash_cls(), sizes[cipher_name], kdf_params["salt"].native, kdf_params["iteration_count"].native).derive(passphrase)
        decryptor = Cipher(algorithms.AES(key), modes.CBC(cipher["parameters"].native)).decryptor()
        block_bits = 128
    elif scheme == "pkcs12_sha1_tripledes_3key":
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

        salt = algorithm["parameters"]["salt"].native
        rounds = algorithm["parameters"]["iterations"].native
        key = pkcs12_kdf("sha1", bmp_password, salt, 1, rounds, 24)
        iv = pkcs12_kdf("sha1", bmp_password, salt, 2, rounds, 8)
        decryptor = Cipher(TripleDES(key), modes.CBC(iv)).decryptor()
        block_bits = 64
    else:
        raise CertificateError(
            f"{name} uses an old encryption ({scheme}) for its certificates together with a kind of key "
            "that needs the new format. Export it again with current settings (AES-256)."
        )
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = sym_padding.PKCS7(block_bits).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise CertificateError(f"The certificates in {name} could not be decrypted; the file may be damaged. Export it again.") from None

"""Private keys encrypted at rest: PKCS#8 EncryptedPrivateKeyInfo, PBES2 with PBKDF2-HMAC-SHA256
and AES-256-CBC.

cryptography's own PKCS#8 encryption uses OpenSSL's default of 2 048 PBKDF2 iterations; a
passphrase-protected key on a stolen laptop deserves far more, so the structure is built here
(and read back by cryptography/OpenSSL, which understand PBES2 with any iteration count).
"""

from __future__ import annotations

import os

from asn1crypto import algos, keys as asn1_keys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from .errors import PassphraseError

PASSPHRASE_ITERATIONS = 600_000  # OWASP 2023 for PBKDF2-HMAC-SHA256
RANDOM_SECRET_ITERATIONS = 10_000  # the keyring secret has 256 bits of entropy already


def encrypt_private_key(key: object, secret: bytes, iterations: int = PASSPHRASE_ITERATIONS) -> bytes:
    """DER EncryptedPrivateKeyInfo of ``key`` under ``secret``."""
    plain = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    salt, iv = os.urandom(16), os.urandom(16)
    kek = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations).derive(secret)
    padder = sym_padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(kek), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    info = asn1_keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "pbes2",
                "parameters": algos.Pbes2Params(
                    {
                        "key_derivation_func": {
                            "algorithm": "pbkdf2",
                            "parameters": {
                                "salt": {"specified": salt},
                                "iteration_count": iterations,
                                "prf": {"algorithm": "sha256"},
                            },
                        },
                        "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
                    }
                ),
            },
            "encrypted_data": encrypted,
        }
    )
    return info.dump()


def decrypt_private_key(data: bytes, secret: bytes) -> object:
    try:
        return serialization.load_der_private_key(data, secret)
    except (ValueError, TypeError):
        raise PassphraseError("The passphrase for your stored certificate is not correct.") from None

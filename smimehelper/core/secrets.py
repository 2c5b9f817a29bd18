"""Secrets in the operating system's keyring, when a secure one exists.

The keyring holds a random secret per identity that unlocks its private key file. Where no
secure keyring exists (a headless machine, CI, a "fail" or plaintext backend), nothing is stored:
the key is protected by the user's passphrase, asked for each time or read from a file.
"""

from __future__ import annotations

import base64
import contextlib
from typing import Protocol


SERVICE = "smimehelper"
_INSECURE_BACKENDS = {"fail.Keyring", "null.Keyring", "file.PlaintextKeyring", "file.EncryptedKeyring"}


class SecretStore(Protocol):
    def available(self) -> bool: ...
    def put(self, name: str, secret: bytes) -> bool: ...
    def get(self, name: str) -> bytes | None: ...
    def delete(self, name: str) -> None: ...


def _keyring_error() -> type[Exception]:
    import keyring.errors

    return keyring.errors.KeyringError


class OsKeyring:
    """The keyring library's configured backend, used only when it is a secure one."""

    def _backend(self):  # type: ignore[no-untyped-def]
        import keyring  # ~0.1 s: loaded when a secret is first needed, not at start-up

        return keyring.get_keyring()

    def available(self) -> bool:
        backend = self._backend()
        name = f"{type(backend).__module__.rsplit('.', 1)[-1]}.{type(backend).__name__}"
        if name in _INSECURE_BACKENDS:
            return False
        try:
            return float(getattr(backend, "priority", 0)) > 0
        except Exception:
            return False

    def put(self, name: str, secret: bytes) -> bool:
        if not self.available():
            return False
        try:
            self._backend().set_password(SERVICE, name, base64.b64encode(secret).decode("ascii"))
            return True
        except _keyring_error():
            return False

    def get(self, name: str) -> bytes | None:
        if not self.available():
            return None
        try:
            value = self._backend().get_password(SERVICE, name)
        except _keyring_error():
            return None
        return base64.b64decode(value) if value else None

    def delete(self, name: str) -> None:
        if not self.available():
            return
        with contextlib.suppress(_keyring_error()):
            self._backend().delete_password(SERVICE, name)

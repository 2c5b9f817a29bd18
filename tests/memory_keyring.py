"""An in-memory stand-in for a secure OS keyring (macOS Keychain, Secret Service) in tests."""

from __future__ import annotations

import keyring.backend


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A secure-looking keyring (priority 1) that keeps its secrets in a dict.

    Install it with ``keyring.set_keyring(MemoryKeyring())``; the autouse ``isolated_home``
    fixture puts the fail backend back after each test.
    """

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


# keyring's metaclass registers every subclass as a backend candidate; keep this one out of
# keyring's own discovery (it is installed explicitly where a test wants it).
getattr(keyring.backend.KeyringBackend, "_classes", set()).discard(MemoryKeyring)

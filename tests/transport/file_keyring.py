"""A secure-looking keyring that several processes share: a JSON file (path in
$SMH_TEST_KEYRING_FILE) under an flock. For tests where the CLI and other processes must see the
same keyring, as the app and the CLI share the real one. Select it with
PYTHON_KEYRING_BACKEND=tests.transport.file_keyring.SharedFileKeyring (and the repository on
PYTHONPATH)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

import keyring.backend


class SharedFileKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    @property
    def path(self) -> Path:
        return Path(os.environ["SMH_TEST_KEYRING_FILE"])

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, str]]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.read(fd, 1 << 20)
            data = json.loads(raw) if raw else {}
            before = dict(data)
            yield data
            if data != before:
                os.lseek(fd, 0, 0)
                os.ftruncate(fd, 0)
                os.write(fd, json.dumps(data).encode())
        finally:
            os.close(fd)

    def get_password(self, service: str, username: str) -> str | None:
        with self._locked() as data:
            return data.get(f"{service}\x00{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._locked() as data:
            data[f"{service}\x00{username}"] = password

    def delete_password(self, service: str, username: str) -> None:
        with self._locked() as data:
            data.pop(f"{service}\x00{username}", None)

    def entries(self) -> dict[str, str]:
        with self._locked() as data:
            return dict(data)


getattr(keyring.backend.KeyringBackend, "_classes", set()).discard(SharedFileKeyring)

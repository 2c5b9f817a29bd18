"""Shared bits of the disclosure-log tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from smimehelper.core.disclosure.model import DisclosedFile, Party, PatientFields, TransferRecord
from smimehelper.core.disclosure.store import DisclosureLog
from tests.memory_keyring import MemoryKeyring
from tests.pki.make_pki import REFERENCE_NOW


class KeyringSecrets:
    """A SecretStore over the test MemoryKeyring (what OsKeyring is over the real one)."""

    def __init__(self) -> None:
        self.ring = MemoryKeyring()

    def available(self) -> bool:
        return True

    def put(self, name: str, secret: bytes) -> bool:
        self.ring.set_password("smimehelper", name, secret.hex())
        return True

    def get(self, name: str) -> bytes | None:
        value = self.ring.get_password("smimehelper", name)
        return bytes.fromhex(value) if value else None

    def delete(self, name: str) -> None:
        self.ring.delete_password("smimehelper", name)


def transfer(n: int, patient: str = "Doe^Jane", patient_id: str = "P-1001") -> TransferRecord:
    return TransferRecord(
        sender=Party("Dr Alice Sender", "alice@example.org"),
        recipients=(Party(f"Dr Bob {n}", "bob@example.org"),),
        method="smime", via="alice@example.org",
        files=(DisclosedFile(f"xray-{n}.dcm", "application/dicom", 1000 + n, f"{n:064x}",
                             PatientFields(patient.replace("^", " "), patient_id, "2026-05-30", "Panoramic")),),
        message_id=f"<{n}@example.org>",
    )


def make_log(folder: Path, count: int = 5, *, secrets: object | None = None, now: dt.datetime = REFERENCE_NOW) -> DisclosureLog:
    log = DisclosureLog(folder, secrets=secrets)  # type: ignore[arg-type]
    for n in range(count):
        log.append("transfer", transfer(n).to_data(), now + dt.timedelta(minutes=n))
    return log


def lines(log: DisclosureLog) -> list[bytes]:
    return log.path.read_bytes().splitlines(keepends=True)


def write_lines(log: DisclosureLog, items: list[bytes]) -> None:
    log.path.write_bytes(b"".join(items))

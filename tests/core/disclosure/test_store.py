"""The log file: canonical lines, chained, fsynced, 0600; torn tails set aside; text made safe."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from smimehelper.core.disclosure.model import Party, TransferRecord
from smimehelper.core.disclosure.store import GENESIS_PREV, DisclosureLog, digest_of, encode
from smimehelper.core.disclosure.verify import verify_log
from tests.core.disclosure.helpers import lines, make_log, transfer
from tests.pki.make_pki import REFERENCE_NOW


def test_entries_are_chained_canonical_private_lines(tmp_path: Path) -> None:
    log = make_log(tmp_path / "d", 3)
    raw = lines(log)
    assert len(raw) == 4 and all(r.endswith(b"\n") for r in raw)
    objects = [json.loads(r) for r in raw]
    assert [o["seq"] for o in objects] == [1, 2, 3, 4]
    assert objects[0]["kind"] == "genesis" and objects[0]["prev"] == GENESIS_PREV
    for before, after, obj in zip(raw, raw[1:], objects[1:]):
        assert obj["prev"] == digest_of(before[:-1])
    assert all(encode(o) == r[:-1] for o, r in zip(objects, raw))
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.folder.stat().st_mode) == 0o700
    assert log.head()["seq"] == 4
    result = verify_log(log, REFERENCE_NOW)
    assert result.ok and result.entries == 4, result


def test_text_from_people_and_files_cannot_forge_lines(tmp_path: Path) -> None:
    log = DisclosureLog(tmp_path / "d")
    evil = "Eve\r\nFAKE,row\x1b[2J\u202egpj.exe"
    record = TransferRecord(Party(evil, "eve@example.org"), (Party("A" * 5000, "B@Example.org"),), "smime", evil, (), evil)
    entry = log.append("transfer", record.to_data(), REFERENCE_NOW)
    text = log.path.read_text()
    assert "\r" not in text and "\x1b" not in text and text.count("\n") == 2
    back = TransferRecord.from_data(entry.data)
    assert back.sender.name == "Eve\\u000d\\u000aFAKE,row\\u001b[2J\\u202egpj.exe"
    assert len(back.recipients[0].name) == 500 and back.recipients[0].address == "b@example.org"


def test_a_torn_last_line_is_reported_then_set_aside_and_recorded(tmp_path: Path) -> None:
    log = make_log(tmp_path / "d", 2)
    torn = b'{"data":{"files":[{"name":"half'
    with open(log.path, "ab") as handle:
        handle.write(torn)  # what a kill -9 in the middle of a write leaves

    before = verify_log(log, REFERENCE_NOW)
    assert before.ok, before.findings
    assert any("interrupted" in n for n in before.notes)

    entry = log.append("transfer", transfer(9).to_data(), REFERENCE_NOW)
    entries = list(log.entries())
    assert [e.kind for e in entries][-2:] == ["torn", "transfer"] and entry.seq == 5
    aside = log.folder / entries[-2].data["file"]
    assert aside.read_bytes() == torn and entries[-2].data["bytes"] == len(torn)
    assert entries[-2].data["sha256"] == digest_of(torn)
    assert verify_log(log, REFERENCE_NOW).ok


def test_a_log_that_is_only_a_torn_line_starts_again_and_keeps_it(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "log.jsonl").write_bytes(b'{"data":{"app"')
    log = DisclosureLog(folder)
    log.append("transfer", transfer(1).to_data(), REFERENCE_NOW)
    kinds = [e.kind for e in log.entries()]
    assert kinds == ["genesis", "torn", "transfer"]
    assert verify_log(log, REFERENCE_NOW).ok


def test_a_damaged_last_entry_stops_new_entries_with_a_clear_error(tmp_path: Path) -> None:
    import pytest

    from smimehelper.core.disclosure.store import LogWriteError

    log = make_log(tmp_path / "d", 2)
    raw = lines(log)
    raw[-1] = b"garbage\n"
    log.path.write_bytes(b"".join(raw))
    with pytest.raises(LogWriteError, match="damaged.*nothing can be sent"):
        log.append("transfer", transfer(3).to_data(), REFERENCE_NOW)

"""Drafts with patient data that versions before the Thunderbird Outbox hand-off left in the data
folder (``drafts/message-YYYYmmdd-HHMMSS.eml``) are removed the next time the data folder is
opened; anything else in that folder stays (issue 10)."""

from __future__ import annotations

from pathlib import Path

from smimehelper import services


def test_old_drafts_are_removed_and_nothing_else(tmp_path: Path) -> None:
    drafts = tmp_path / "home" / "drafts"
    drafts.mkdir(parents=True)
    old = [drafts / "message-20261201-101500.eml", drafts / "message-20261201-101500-2.eml"]
    for path in old:
        path.write_bytes(b"From: a@example.org\r\n\r\nencrypted patient data")
    mine = drafts / "my-notes.eml"
    mine.write_bytes(b"kept")
    services.Stores.open(tmp_path / "home")
    assert not any(p.exists() for p in old)
    assert mine.read_bytes() == b"kept"
    mine.unlink()
    services.Stores.open(tmp_path / "home")
    assert not drafts.exists()

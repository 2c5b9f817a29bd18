"""Putting a message into the outbox is all or nothing: a disk that fills up between the message
and its state leaves no item folder behind (an invisible orphan before: a message.eml with no
state.json, never listed, never sent, never removed)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from smimehelper.core.transport import outbox as outbox_module
from smimehelper.core.transport.outbox import Outbox, OutboxError


def _message(tmp_path: Path) -> Path:
    path = tmp_path / "m.eml"
    path.write_bytes(b"From: a@example.org\r\nTo: b@example.org\r\nSubject: x\r\n\r\nbody\r\n")
    return path


def test_a_full_disk_while_saving_the_state_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = Outbox(tmp_path / "home")

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outbox_module, "write_document", full)
    with pytest.raises(OutboxError, match="No space left on device. Nothing was queued"):
        box.enqueue(_message(tmp_path), account="a@example.org", envelope_from="a@example.org",
                    recipients=("b@example.org",), subject="x")
    assert not [p for p in box.folder.iterdir() if not p.name.startswith(".")]
    assert box.items() == []


def test_an_unwritable_outbox_says_so(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "outbox").write_text("not a folder")
    with pytest.raises(OutboxError, match="Nothing was queued"):
        Outbox(home).enqueue(_message(tmp_path), account="a@example.org", envelope_from="a@example.org",
                             recipients=("b@example.org",), subject="x")

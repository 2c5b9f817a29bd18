"""The desktop app's "Send with Thunderbird", end to end: Compose builds the message on the task
runner, puts it into the real Thunderbird's Outbox and starts Thunderbird without waiting for
it (the old path froze Compose while the mail program ran); the user's File > Send Unsent
Messages then delivers our message, judged by OpenSSL. No draft of it stays behind."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from smimehelper import services
from smimehelper.core.disclosure.report import transfers
from smimehelper.services import disclosure
from smimehelper.gui.compose import ComposeView
from smimehelper.gui.context import GuiContext
from tests.gui.conftest import ctx, pki_home, settle  # noqa: F401 (fixtures)
from tests.judges import openssl_decrypt, openssl_verify
from tests.pki.make_pki import Pki
from tests.thunderbird.conftest import TbWorld

MARKER = "GUIMARKER-3141 Patient Max Mustermann"


def test_send_with_thunderbird_from_compose(qtbot, ctx: GuiContext, pki_home: services.Stores, settle, pki: Pki,  # noqa: F811
                                            tb_world: TbWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    world = tb_world
    profile = world.profile("no-key")
    for name, value in profile.env(world.display).items():
        if name != "PATH":
            monkeypatch.setenv(name, value)  # the user's session: their HOME, their display
    (profile.path / "MarionetteActivePort").unlink(missing_ok=True)
    monkeypatch.setattr(ctx, "identity_passphrase", lambda _parent: b"test-pass")
    leftovers = set(Path(tempfile.gettempdir()).glob("smimehelper-handoff-*"))

    view = ComposeView(ctx)
    qtbot.addWidget(view)
    view.show()
    settle()
    qtbot.keyClicks(view.to_field.edit, "bob@example.org")
    qtbot.keyClick(view.to_field.edit, Qt.Key.Key_Return)
    qtbot.keyClicks(view.subject_edit, "Referral")
    view.body_edit.setPlainText(MARKER)
    started = time.monotonic()
    qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
    settle(60_000)
    assert time.monotonic() - started < 30  # done while Thunderbird keeps running
    assert view.result_kind() in ("ok", "warn"), view.result_text()  # warn: bob's revocation is not checkable offline
    assert "Opened in Thunderbird" in view.result_text() and "Send Unsent Messages" in view.result_text()
    assert view.to_field.entries() == []  # handed over: a second click cannot queue it twice

    tb = world.attach(profile)
    assert tb.wait_unsent(1) == 1
    assert tb.send_unsent_messages()["successful"] == 1
    tb.quit()
    [arrived] = world.smtp.received
    assert MARKER.encode() not in arrived.data and b"Mustermann" not in arrived.data
    assert world.sent_copies() == [arrived.data]
    inner = openssl_decrypt(arrived.data, pki.entity("bob").cert_pem, pki.entity("bob").key_path)
    assert MARKER.encode() in openssl_verify(inner, pki.root.cert_pem, attime=pki.now)

    # No copy of the message anywhere but in Thunderbird: not in the data folder (which holds the
    # disclosure log's record of the hand-off, never the message), not in /tmp.
    files = [p for p in pki_home.home.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix == ".eml" or arrived.data[-2000:] in p.read_bytes() or MARKER.encode() in p.read_bytes()]
    assert set(Path(tempfile.gettempdir()).glob("smimehelper-handoff-*")) == leftovers
    [logged] = transfers(disclosure.log_for(pki_home))  # recorded before it was handed over
    assert logged.transfer.method == "handoff" and logged.outcomes[-1].outcome == "handed-over"


"""Compose checks recipients and size before anything is asked or built, and names every problem
at once with its way out; the chip's "Trust..." opens the way for a practice authority's colleague.

Judges: the outbox and the file system (nothing built, nothing queued), the passphrase dialog
(never asked), and ``openssl cms -decrypt`` with the colleague's key once trusted.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QWidget

from smimehelper import services
from smimehelper.core.transport.accounts import make_account
from smimehelper.gui.compose import ComposeView
from smimehelper.gui.context import GuiContext
from smimehelper.gui.trust_dialog import AUTHORITY, TrustDialog
from tests.judges import openssl_decrypt
from tests.practice_pki import SAM, PracticePki, openssl_fingerprint


@pytest.fixture
def view(qtbot, ctx: GuiContext, pki_home: services.Stores, settle, monkeypatch: pytest.MonkeyPatch) -> ComposeView:  # type: ignore[no-untyped-def]
    asked: list[QWidget] = []

    def passphrase(parent: QWidget) -> bytes:
        asked.append(parent)
        return b"test-pass"

    monkeypatch.setattr(ctx, "identity_passphrase", passphrase)
    pki_home.accounts.add(make_account("alice@example.org", smtp_host="127.0.0.1", smtp_port=9, security="starttls"), None)
    widget = ComposeView(ctx)
    widget.passphrase_asked = asked  # type: ignore[attr-defined]
    qtbot.addWidget(widget)
    widget.resize(1000, 800)
    widget.show()
    settle()
    return widget


def big_file(path: Path, size: int) -> Path:
    with open(path, "wb") as handle:
        handle.truncate(size)  # sparse: no disk used
    return path


def test_every_problem_is_named_before_the_passphrase(qtbot, view: ComposeView, pki_home: services.Stores, settle,  # type: ignore[no-untyped-def]
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(view, "ask_account_password", lambda _account: pytest.fail("the password was asked"))
    view.to_field.set_entries(["bob@example.org", "nobody@example.org", "Expired User <expired@example.org>"])
    view.add_attachments([big_file(tmp_path / "cbct.dcm", 600_000_000)])
    settle()
    qtbot.mouseClick(view.send_button, Qt.MouseButton.LeftButton)
    assert view.passphrase_asked == []  # type: ignore[attr-defined]
    assert not view.busy()
    text = view.result_text()
    assert view.result_kind() == "error" and text.startswith("Nothing was built or sent, because:")
    lines = text.splitlines()[1:]
    assert len(lines) == 3, text  # all of them at once, not the first one only
    assert "no certificate for nobody@example.org" in lines[0] and "password package" in lines[0]
    assert "expired@example.org expired on" in lines[1] and "new certificate" in lines[1]
    assert "about 1.1 GB" in lines[2] and "25.0 MB" in lines[2] and "several messages" in lines[2]
    assert "cbct.dcm alone (600.0 MB) is too large for one message" in lines[2]
    assert "bob@example.org" not in text  # fine: not mentioned
    assert pki_home.outbox.items() == []  # nothing built, nothing queued
    # The chips offer the ways out named.
    assert view.to_field.chip("nobody@example.org").package_button is not None  # type: ignore[union-attr]
    assert view.to_field.chip("expired@example.org").ask_button is not None  # type: ignore[union-attr]


def test_saving_a_large_study_as_a_file_is_not_stopped_by_the_mail_limit(qtbot, view: ComposeView, settle, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    view.to_field.set_entries(["bob@example.org"])
    view.add_attachments([big_file(tmp_path / "study.bin", 30_000_000)])
    settle()
    offered: list[object] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (offered.append(a), ("", ""))[1])
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    assert offered and view.result_kind() != "error"  # the file dialog came: the size is no reason here
    qtbot.mouseClick(view.send_button, Qt.MouseButton.LeftButton)
    assert view.result_kind() == "error" and "accepts at most 25.0 MB" in view.result_text()
    assert view.passphrase_asked == []  # type: ignore[attr-defined]


def test_nothing_sent_is_not_called_not_everything(qtbot, view: ComposeView, settle, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The account points at a port where nothing listens: the message waits in the Outbox."""
    monkeypatch.setattr(view, "ask_account_password", lambda _account: b"secret")
    view.to_field.set_entries(["bob@example.org"])
    view.subject_edit.setText("Referral")
    qtbot.mouseClick(view.send_button, Qt.MouseButton.LeftButton)
    settle(60_000)
    text = view.result_text()
    assert text.startswith("Not sent yet: the message to bob@example.org waits in the Outbox"), text
    assert "Not everything" not in text
    assert "Mail server:" in view.result_details() and "It will be tried again" not in text


def test_trust_from_the_chip_then_encrypt_to_the_practice_colleague(qtbot, view: ComposeView, pki_home: services.Stores,  # type: ignore[no-untyped-def]
                                                                     practice: PracticePki, settle, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "clock", lambda: dt.datetime.now(dt.timezone.utc))  # Sam's certificate is from today
    services.import_contacts(pki_home, (practice / "sam-signed.eml",), None)
    view.refresh()
    settle()
    view.to_field.set_entries([SAM])
    chip = view.to_field.chip(SAM)
    assert chip is not None and chip.state.kind == "untrusted" and chip.trust_button is not None
    assert "Smith Practice CA (Smith Dental)" in chip.toolTip() and "O=" not in chip.toolTip()
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)  # before trusting: named, with the way out
    assert "Trust..." in view.result_text() and view.passphrase_asked == []  # type: ignore[attr-defined]

    def user(dialog: TrustDialog) -> int:
        assert dialog.choice() == AUTHORITY
        assert "".join(dialog.fingerprint_text().split()) == openssl_fingerprint(practice / "smith-ca.pem")
        dialog.compared.setChecked(True)
        dialog.trust_button.click()
        return 0

    monkeypatch.setattr(TrustDialog, "exec", user)
    qtbot.mouseClick(chip.trust_button, Qt.MouseButton.LeftButton)
    settle()
    assert view.to_field.chip(SAM).state.can_encrypt  # type: ignore[union-attr]
    out = tmp_path / "to-sam.eml"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    view.body_edit.setPlainText("Dear Sam,\nthe x-rays.\n")
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert out.exists(), view.result_text()
    assert b"the x-rays" in openssl_decrypt(out, practice / "sam.pem", practice / "sam.key")

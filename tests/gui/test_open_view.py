"""The Open tab end to end: real messages from the test PKI, opened through the use cases on a
worker thread, the verdict in words and colours, the text as plain text, Save writing the bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from smimehelper import services
from smimehelper.gui import open_view as open_view_module
from smimehelper.gui.context import GuiContext
from smimehelper.gui.open_view import CAUTION, GOOD, PROBLEM, OpenView, visible
from smimehelper.gui.tasks import TaskRunner
from tests.core.helpers import compose
from tests.pki.make_pki import Pki

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PASS = b"test-pass"
XRAY = bytes(range(256)) * 300 + b"\x00\r\n\x1a end"  # binary, with CR LF and NUL inside


@pytest.fixture
def home(pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Alice's data folder: her certificate (passphrase-protected: no keyring in tests), the test
    root trusted; time frozen at the PKI's reference instant."""
    monkeypatch.setattr(services, "clock", lambda: pki.now)
    folder = tmp_path / "home"
    stores = services.Stores.open(folder)
    stores.identities.import_pkcs12(pki.entity("alice").p12, lambda _p: PASS)
    stores.trust.add(pki.root.cert_pem)
    return folder


@pytest.fixture
def open_ctx(qtbot, home: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    ctx = GuiContext(home=home, tasks=TaskRunner())
    asked: list[str] = []

    def ask_secret(_parent, _title, prompt):  # type: ignore[no-untyped-def]
        asked.append(prompt)
        return PASS

    monkeypatch.setattr(ctx, "ask_secret", ask_secret)
    ctx.asked = asked  # type: ignore[attr-defined]
    yield ctx
    ctx.tasks.wait()


@pytest.fixture
def view(qtbot, open_ctx: GuiContext) -> OpenView:  # type: ignore[no-untyped-def]
    widget = OpenView(open_ctx)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def _open(qtbot, view: OpenView, path: Path) -> None:  # type: ignore[no-untyped-def]
    view.open_file(path)
    qtbot.waitUntil(lambda: not view.is_busy(), timeout=30000)


@pytest.fixture
def xray(tmp_path: Path) -> Path:
    path = tmp_path / "panoramic x-ray.dcm"
    path.write_bytes(XRAY)
    return path


def test_good_message_is_valid_trusted_with_its_attachment(qtbot, view: OpenView, pki: Pki, tmp_path: Path, xray: Path, open_ctx) -> None:  # type: ignore[no-untyped-def]
    message = tmp_path / "from-bob.eml"
    compose(pki, message, sender="bob", to=("alice",), attachments=(xray,), body="Dear Alice,\nthe x-ray.\n")
    _open(qtbot, view, message)
    assert view.opened is not None and view.opened.all_good
    assert view.verdict_banner.level == GOOD
    assert "Everything checks out" in view.verdict_banner.text()
    assert "valid and trusted, signed by bob@example.org" in view.verdict_details.text()
    assert "decrypted with your key" in view.verdict_details.text()
    assert view.from_label.text() == "Sender <bob@example.org>"
    assert view.body_view.toPlainText() == "Dear Alice,\nthe x-ray.\n"
    assert view.body_view.isReadOnly()
    table = view.attachments_table
    assert table.rowCount() == 1
    assert table.item(0, 0).text() == "panoramic x-ray.dcm"
    assert table.item(0, 1).text() == "File"  # not a real DICOM file: its content shows no type
    assert "application/octet-stream" in table.item(0, 1).toolTip()
    assert open_ctx.asked == ["Passphrase for your certificate:"]  # asked first, on the GUI thread


def test_save_writes_the_exact_bytes_with_a_safe_unique_name(qtbot, view: OpenView, pki: Pki, tmp_path: Path, xray: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    message = tmp_path / "from-bob.eml"
    compose(pki, message, sender="bob", to=("alice",), attachments=(xray,))
    _open(qtbot, view, message)
    target = tmp_path / "saved"
    target.mkdir()
    (target / "panoramic x-ray.dcm").write_bytes(b"an older file, kept")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *_a, **_k: str(target)))
    with qtbot.waitSignal(view.saved, timeout=30000) as signal:
        view.attachments_table.cellWidget(0, 3).click()  # the row's Save... button
    (saved,) = signal.args[0]
    assert saved == target / "panoramic x-ray (1).dcm"
    assert saved.read_bytes() == XRAY
    assert (target / "panoramic x-ray.dcm").read_bytes() == b"an older file, kept"
    assert view.status_banner.level == GOOD and "Saved panoramic x-ray (1).dcm" in view.status_banner.text()
    # Save all into another folder
    other = tmp_path / "all"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *_a, **_k: str(other)))
    with qtbot.waitSignal(view.saved, timeout=30000) as signal:
        view.save_all_button.click()
    assert [p.read_bytes() for p in signal.args[0]] == [XRAY]
    assert sorted(os.listdir(other)) == ["panoramic x-ray.dcm"]


def test_cancelled_folder_choice_saves_nothing(qtbot, view: OpenView, pki: Pki, tmp_path: Path, xray: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    message = tmp_path / "from-bob.eml"
    compose(pki, message, sender="bob", to=("alice",), attachments=(xray,))
    _open(qtbot, view, message)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *_a, **_k: ""))
    view.save_attachment(0)
    assert not view.is_busy()
    assert not view.status_banner.isVisibleTo(view)


def test_tampered_message_is_not_valid_with_the_reason(qtbot, view: OpenView, pki: Pki, tmp_path: Path, xray: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    message = tmp_path / "tampered.eml"
    compose(pki, message, sender="bob", to=("alice",), encrypt=False, body="dose 5 mg\n", attachments=(xray,))
    message.write_bytes(message.read_bytes().replace(b"dose 5 mg", b"dose 6 mg"))
    _open(qtbot, view, message)
    assert view.verdict_banner.level == PROBLEM
    assert "security check failed" in view.verdict_banner.text()
    details = view.verdict_details.text()
    assert "Signature: not valid, claimed signer bob@example.org" in details
    assert "changed after it was signed" in details
    assert "Encryption: none" in details
    # saving files of such a message asks first; "No" saves nothing
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **_k: asked.append(a[1]) or QMessageBox.StandardButton.No))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *_a, **_k: pytest.fail("no folder asked")))
    view.save_attachment(0)
    assert asked == ["Save files of an unverified message?"]


def test_message_for_someone_else_could_not_be_decrypted(qtbot, view: OpenView, pki: Pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    message = tmp_path / "for-carol.eml"
    compose(pki, message, sender="bob", to=("carol",))
    _open(qtbot, view, message)
    assert view.verdict_banner.level == PROBLEM
    assert "could not be decrypted" in view.verdict_banner.text().lower()
    assert "could not be decrypted" in view.verdict_details.text()
    assert view.body_view.toPlainText() == ""
    assert "could not be decrypted" in view.body_view.placeholderText()
    assert view.attachments_table.rowCount() == 0 and not view.save_all_button.isEnabled()


def test_encrypted_but_unsigned_message_is_amber(qtbot, view: OpenView, pki: Pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    message = tmp_path / "unsigned.eml"
    compose(pki, message, sender="bob", to=("alice",), sign=False, body="sender not proven\n")
    _open(qtbot, view, message)
    assert view.verdict_banner.level == CAUTION
    assert "Decrypted, but not signed" in view.verdict_banner.text()
    assert "Signature: none" in view.verdict_details.text()
    assert view.body_view.toPlainText() == "sender not proven\n"


def test_text_is_plain_with_control_characters_visible(qtbot, view: OpenView, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    message = tmp_path / "html.eml"
    message.write_bytes(
        b"From: Mallory <m@example.org>\r\nTo: alice@example.org\r\nSubject: <b>Bold</b>\x1b[2J\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"<b>not bold</b> <img src=x>\r\nEverything checks out.\x1b[1A\xe2\x80\xae fdp.exe\r\n"
    )
    _open(qtbot, view, message)
    body = view.body_view.toPlainText()
    assert "<b>not bold</b> <img src=x>" in body  # shown as text, not rendered
    assert "\\u001b[1A" in body and "\\u202e" in body and "\x1b" not in body
    assert view.subject_label.text().startswith("<b>Bold</b>")
    assert "\x1b" not in view.subject_label.text()
    assert view.verdict_banner.level == CAUTION  # neither signed nor encrypted: amber
    assert "neither signed nor encrypted" in view.verdict_banner.text()


def test_a_file_that_is_not_mail_shows_a_clear_error(qtbot, view: OpenView, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    junk = tmp_path / "scan.eml"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    with qtbot.waitSignal(view.failed, timeout=30000):
        view.open_file(junk)
    qtbot.waitUntil(lambda: not view.is_busy())
    assert view.verdict_banner.level == PROBLEM
    assert "scan.eml could not be opened" in view.verdict_banner.text()
    assert "not an e-mail message" in view.verdict_banner.text()
    assert view.opened is None and view.attachments_table.rowCount() == 0


def test_missing_file_and_cancelled_passphrase(qtbot, view: OpenView, open_ctx, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _open(qtbot, view, tmp_path / "gone.eml")
    assert "does not exist" in view.verdict_banner.text()
    monkeypatch.setattr(open_ctx, "ask_secret", lambda *_a: None)
    view.open_file(tmp_path / "whatever.eml")
    assert not view.is_busy()
    assert "no passphrase was given" in view.status_banner.text()


def test_wrong_passphrase_is_reported(qtbot, view: OpenView, open_ctx, pki: Pki, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    message = tmp_path / "from-bob.eml"
    compose(pki, message, sender="bob", to=("alice",))
    monkeypatch.setattr(open_ctx, "ask_secret", lambda *_a: b"not the passphrase")
    _open(qtbot, view, message)
    assert view.verdict_banner.level == PROBLEM
    assert "passphrase" in view.verdict_banner.text().lower()


def test_visible_escapes_controls_and_bidi() -> None:
    assert visible("a\x00b\u202ec\n", multiline=True) == "a\\u0000b\\u202ec\n"
    assert visible("x\ny") == "x\\u000ay"
    assert open_view_module.human_size(1500) == "1.5 KB"


def test_save_refuses_when_the_message_changed_since_it_was_opened(qtbot, view: OpenView, pki: Pki, tmp_path: Path, xray: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    message = tmp_path / "from-bob.eml"
    compose(pki, message, sender="bob", to=("alice",), attachments=(xray,))
    _open(qtbot, view, message)
    xray.write_bytes(b"another image")
    compose(pki, message, sender="bob", to=("alice",), attachments=(xray,))  # replaced on disk
    target = tmp_path / "saved"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *_a, **_k: str(target)))
    with qtbot.waitSignal(view.failed, timeout=30000) as signal:
        view.save_attachment(0)
    assert "not the ones shown" in signal.args[0]
    assert view.status_banner.level == PROBLEM and view.status_banner.text().startswith("Not saved:")
    assert not target.exists() or list(target.iterdir()) == []


def test_the_next_message_starts_clean_and_dates_are_local(qtbot, view: OpenView, pki: Pki, tmp_path: Path, xray: Path) -> None:  # type: ignore[no-untyped-def]
    second = tmp_path / "second.txt"
    second.write_bytes(b"notes\n")
    message = tmp_path / "two-files.eml"
    compose(pki, message, sender="bob", to=("alice",), attachments=(xray, second))
    _open(qtbot, view, message)
    assert view.attachments_box.title() == "Attachments (2)"
    date = view.date_label.text()
    assert "T" not in date and "+00:00" not in date and date.endswith(f"{pki.now.astimezone():%H:%M}"), date
    assert "UTC" in view.date_label.toolTip()
    broken = tmp_path / "broken.eml"
    broken.write_bytes(b"this is not a message at all")
    view.open_file(broken)
    assert view.attachments_box.title() == "Attachments"  # not the previous message's "(2)"
    qtbot.waitUntil(lambda: not view.is_busy(), timeout=30000)
    assert view.attachments_table.rowCount() == 0 and view.attachments_box.title() == "Attachments"

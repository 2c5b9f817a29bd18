"""Compose's "Send as password package": the chip of a recipient without a certificate, the package
made in the background, the passphrase shown once with Copy; judged by opening the package (saved,
or as the real SMTP server received it) with that passphrase and OpenSSL verifying the mail."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog

from smimehelper import services
from smimehelper.core.package.reader import open_package
from smimehelper.gui.compose import ComposeView
from smimehelper.gui.package_dialog import PassphraseDialog
from tests.gui.test_compose import add_account, fill, save_to, smtp, tls, view  # noqa: F401 (fixtures)
from tests.judges import openssl_verify
from tests.pki.make_pki import Pki
from tests.transport.servers import SMTP_PASSWORD, SmtpServer, TlsMaterials


def _prepare(qtbot, view: ComposeView, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, way: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(view, "choose_package_way", lambda _email, _has: way)
    monkeypatch.setattr(view, "show_passphrase", lambda recipient, phrase, _summary: shown.append((recipient, phrase)))
    xray = tmp_path / "xray.png"
    xray.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    fill(qtbot, view, "nobody@example.org")
    view.files.add([xray])
    view.subject_edit.setText("Mrs Miller, bitewings")
    view.body_edit.setPlainText("Dear colleague,\nthe x-ray of Mrs Miller.\n")
    return shown


def test_chip_without_certificate_saves_a_password_package(qtbot, view: ComposeView, settle, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    shown = _prepare(qtbot, view, tmp_path, monkeypatch, "save")
    out = tmp_path / "package.html"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    settle()
    chip = view.to_field.chip("nobody@example.org")
    assert chip is not None and chip.package_button is not None
    assert chip.package_button.text() == "Send as password package"
    assert view.to_field.chip("bob@example.org") is None
    qtbot.mouseClick(chip.package_button, Qt.MouseButton.LeftButton)
    settle()
    assert view.result_label.property("kind") == "ok", view.result_text()
    assert len(shown) == 1 and shown[0][0] == "nobody@example.org" and len(shown[0][1].split()) == 6
    opened = open_package(out, shown[0][1], tmp_path / "saved")
    assert opened.subject == "Mrs Miller, bitewings" and opened.message.startswith("Dear colleague")
    assert [f.name for f in opened.files] == ["xray.png"]
    assert (tmp_path / "saved" / "xray.png").read_bytes() == (tmp_path / "xray.png").read_bytes()


def test_chip_without_certificate_sends_a_signed_package_mail(qtbot, view: ComposeView, settle, tmp_path: Path, monkeypatch,  # type: ignore[no-untyped-def]
                                                               pki: Pki, pki_home: services.Stores, smtp: SmtpServer, tls: TlsMaterials) -> None:
    add_account(pki_home, smtp, tls)
    monkeypatch.setattr(view, "ask_account_password", lambda _account: SMTP_PASSWORD.encode())
    shown = _prepare(qtbot, view, tmp_path, monkeypatch, "send")
    settle()
    chip = view.to_field.chip("nobody@example.org")
    qtbot.mouseClick(chip.package_button, Qt.MouseButton.LeftButton)  # type: ignore[union-attr]
    settle(60_000)
    assert view.result_label.property("kind") == "ok", view.result_text()
    assert "Sent the password package to nobody@example.org" in view.result_text()
    (received,) = smtp.received
    assert received.rcpt_tos == ("nobody@example.org",)
    content = openssl_verify(received.data, pki.root.cert_pem, attime=pki.now)
    message = email.message_from_bytes(received.data, policy=email.policy.default)
    assert "Miller" not in message["Subject"] and b"Miller" not in content
    inner = email.message_from_bytes(content, policy=email.policy.default)
    (attachment,) = list(inner.iter_attachments())
    page = tmp_path / "received.html"
    page.write_bytes(attachment.get_payload(decode=True))
    assert open_package(page, shown[0][1]).subject == "Mrs Miller, bitewings"
    assert shown[0][1].encode() not in received.data


def test_passphrase_dialog_shows_it_large_and_copies_it(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = PassphraseDialog("nobody@example.org", "alibi trident safeness uneasy acre exuberant", "Sent.")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.passphrase_label.text() == "alibi trident safeness uneasy acre exuberant"
    assert dialog.passphrase_label.font().pointSizeF() >= 2 * 9
    texts = " ".join(w.text() for w in dialog.findChildren(type(dialog.passphrase_label)))
    assert "by phone or text message" in texts and "never by e-mail" in texts
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == "alibi trident safeness uneasy acre exuberant"
    dialog.close_button.click()
    assert QApplication.clipboard().text() == ""  # not left behind in the clipboard

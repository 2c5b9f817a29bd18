"""The Compose tab end to end: real stores, the test PKI, OpenSSL as judge, a real SMTP server.

Only the dialogs are replaced (passphrase, mail password, file chooser) since they would block;
everything behind them (checking certificates, building, encrypting, sending) is the real thing
and runs on the task runner, so the tests wait for it with ``settle``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pydicom
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent, QImage
from PySide6.QtWidgets import QAbstractButton, QFileDialog, QLabel, QWidget

from smimehelper import services
from smimehelper.core.transport.accounts import make_account
from smimehelper.demo_xray import write_synthetic_dental_xray
from smimehelper.gui import compose
from smimehelper.gui.compose import ComposeView, estimate_message_size
from smimehelper.gui.compose.ask_dialog import SAVE, SEND
from smimehelper.gui.compose.texts import REQUEST_BODY
from smimehelper.gui.context import GuiContext
from smimehelper.gui.recipients import split_addresses
from tests.judges import openssl_decrypt, openssl_verify
from tests.pki.make_pki import Pki
from tests.transport.servers import SMTP_PASSWORD, SMTP_USER, SmtpServer, TlsMaterials, make_tls_materials

Settle = Callable[..., None]


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def view(qtbot, ctx: GuiContext, pki_home: services.Stores, settle: Settle, monkeypatch: pytest.MonkeyPatch) -> ComposeView:
    asked: list[object] = []

    def passphrase(parent: QWidget) -> bytes:
        asked.append(parent)
        return b"test-pass"

    monkeypatch.setattr(ctx, "identity_passphrase", passphrase)
    widget = ComposeView(ctx)
    widget.passphrase_asked = asked  # type: ignore[attr-defined]
    qtbot.addWidget(widget)
    widget.resize(900, 800)
    widget.show()
    settle()  # contacts and their certificates checked
    return widget


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterials:
    return make_tls_materials(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp(tls: TlsMaterials) -> Iterator[SmtpServer]:
    server = SmtpServer(tls, "starttls")
    server.start()
    yield server
    server.stop()


def add_account(stores: services.Stores, server: SmtpServer, tls: TlsMaterials, **extra: object) -> None:
    stores.accounts.add(
        make_account(
            "alice@example.org", smtp_host=server.host, smtp_port=server.port, security="starttls",
            username=SMTP_USER, cafile=str(tls.cafile), **extra,  # type: ignore[arg-type]
        ),
        None,
    )


def save_to(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[tuple[object, ...]]:
    calls: list[tuple[object, ...]] = []

    def chooser(*args: object, **kwargs: object) -> tuple[str, str]:
        calls.append(args)
        return str(path), "E-mail messages (*.eml)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", chooser)
    return calls


def image(path: Path, fmt: str, width: int = 640, height: int = 480) -> Path:
    picture = QImage(width, height, QImage.Format.Format_RGB32)
    picture.fill(QColor("#808080"))
    assert picture.save(str(path), fmt)
    return path


def dicom(path: Path, name: str = "Muster^Maria", birth: str = "19610403") -> Path:
    write_synthetic_dental_xray(path, seed=1)
    dataset = pydicom.dcmread(path)
    dataset.PatientName = name
    dataset.PatientBirthDate = birth
    dataset.save_as(path)
    return path


def fill(qtbot, view: ComposeView, to: str, subject: str = "Radiographs for the referral", body: str = "Dear Bob,\nhere they are.\n") -> None:  # noqa: ANN001
    view.to_field.edit.setFocus()
    qtbot.keyClicks(view.to_field.edit, to)
    view.subject_edit.setFocus()
    qtbot.keyClicks(view.subject_edit, subject)
    view.body_edit.setPlainText(body)


def assert_success(view: ComposeView) -> None:
    """Done: green, or amber when the service added notes (here: revocation not checkable offline)."""
    assert view.result_kind() in ("ok", "warn"), view.result_text()
    assert "Traceback" not in view.result_text() and "went wrong" not in view.result_text()


# -- recipients -------------------------------------------------------------------------------------


def test_chips_show_whether_each_recipient_can_receive_encrypted_mail(qtbot, view: ComposeView, settle: Settle) -> None:
    fill(qtbot, view, "bob@example.org, Expired User <expired@example.org>; nobody@example.org")
    qtbot.keyClicks(view.cc_field.edit, "carol@example.org, alice@example.org")
    settle()

    bob = view.to_field.chip("bob@example.org")
    assert bob is not None and bob.state.can_encrypt
    assert bob.state_label.text() == "can encrypt"
    assert bob.ask_button is None

    expired = view.to_field.chip("expired@example.org")
    assert expired is not None and expired.state.kind == "expired"
    assert "expired" in expired.state_label.text()
    assert re.search(r"expired on \d{4}-\d{2}-\d{2}", expired.toolTip()), expired.toolTip()
    assert expired.accessibleName() == "expired@example.org: certificate expired"

    nobody = view.to_field.chip("nobody@example.org")
    assert nobody is not None and nobody.state.kind == "no_certificate"
    assert nobody.state_label.text() == "no certificate"
    assert "no certificate for nobody@example.org" in nobody.toolTip()
    assert nobody.ask_button is not None and nobody.ask_button.text() == "Ask for their certificate"

    assert view.cc_field.chip("carol@example.org").state.can_encrypt  # type: ignore[union-attr]
    assert view.cc_field.chip("alice@example.org").state.kind == "you"  # type: ignore[union-attr]

    # Removing a chip removes the address from the line.
    assert nobody.remove_button.accessibleName() == "Remove nobody@example.org"
    qtbot.mouseClick(nobody.remove_button, Qt.MouseButton.LeftButton)
    assert view.to_field.emails() == ["bob@example.org", "expired@example.org"]
    assert view.to_field.chip("nobody@example.org") is None


def test_a_wrong_address_gets_a_red_chip_once_typed(qtbot, view: ComposeView) -> None:
    view.to_field.set_entries(["bob@example", "bob@example.org"])
    assert view.to_field.chips()[0].state.kind == "invalid"
    assert view.to_field.invalid_entries() == ["bob@example"]


def test_addresses_complete_from_the_contacts(qtbot, view: ComposeView) -> None:
    assert view.to_field.model.stringList() == ["bob@example.org", "carol@example.org", "expired@example.org"]
    view.to_field.edit.setFocus()
    qtbot.keyClicks(view.to_field.edit, "bob@example.org, car")
    completer = view.to_field.completer
    assert completer.completionCount() == 1
    assert completer.currentCompletion() == "carol@example.org"
    popup = completer.popup()
    assert popup.isVisible()
    popup.setCurrentIndex(completer.completionModel().index(0, 0))
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert view.to_field.edit.text() == "bob@example.org, carol@example.org, "
    assert [c.email for c in view.to_field.chips()] == ["bob@example.org", "carol@example.org"]


def test_addresses_split_outside_quotes() -> None:
    assert split_addresses('"Muster, Bob" <bob@example.org>, carol@example.org; ') == [
        '"Muster, Bob" <bob@example.org>', "carol@example.org",
    ]


# -- attachments, size, subject -----------------------------------------------------------------


def test_attachments_fill_the_list_and_the_size_estimate(qtbot, view: ComposeView, settle: Settle, tmp_path: Path,
                                                         pki_home: services.Stores, tls: TlsMaterials) -> None:
    empty = view.estimated_size()
    assert "0 files" in view.size_label.text() and "25.0 MB" in view.size_label.text()
    jpeg = image(tmp_path / "bitewing.jpg", "JPEG")
    png = image(tmp_path / "photo.png", "PNG", 100, 300)
    tiff = image(tmp_path / "scan.tif", "TIFF")
    xray = dicom(tmp_path / "IMG0001")
    blob = tmp_path / "report.bin"
    blob.write_bytes(b"\x01" * 1_000_000)

    view.add_attachments([jpeg, png, tiff, xray, blob])
    assert view.attachment_list.topLevelItemCount() == 5
    total = sum(p.stat().st_size for p in (jpeg, png, tiff, xray, blob))
    assert view.estimated_size() == estimate_message_size(total, len(view.body_edit.toPlainText().encode()), encrypt=True)
    assert view.estimated_size() > empty + total * 1.8
    assert "5 files" in view.size_label.text()
    settle()  # types and thumbnails are read in the background
    rows = {view.attachment_list.topLevelItem(i).text(0): view.attachment_list.topLevelItem(i) for i in range(5)}
    assert rows["bitewing.jpg"].text(2) == "JPEG image"
    assert rows["photo.png"].text(2) == "PNG image"
    assert rows["scan.tif"].text(2) == "TIFF image"
    assert rows["IMG0001"].text(2) == "DICOM image (x-ray)"
    assert rows["report.bin"].text(2) == "File"
    assert rows["report.bin"].text(1) == "1.0 MB"
    thumb = rows["photo.png"].icon(0).availableSizes()
    assert thumb and max(s.height() for s in thumb) == compose.THUMBNAIL_SIZE  # scaled, aspect kept
    assert max(s.width() for s in thumb) == compose.THUMBNAIL_SIZE // 3

    # The same file twice is attached once; a missing file is refused with its name.
    view.add_attachments([jpeg, tmp_path / "gone.jpg"])
    assert view.attachment_list.topLevelItemCount() == 5
    assert "gone.jpg" in view.result_text()

    # Remove the big one: the estimate follows.
    rows["report.bin"].setSelected(True)
    assert view.remove_button.isEnabled()
    qtbot.mouseClick(view.remove_button, Qt.MouseButton.LeftButton)
    assert view.attachment_list.topLevelItemCount() == 4
    assert blob not in view.attachments()
    assert view.estimated_size() < estimate_message_size(total, 0, encrypt=True) - 1_000_000
    # Unencrypted: one base64 layer only.
    encrypted = view.estimated_size()
    view.encrypt_box.setChecked(False)
    assert view.estimated_size() < encrypted
    assert view.encrypt_note.isVisible()
    view.encrypt_box.setChecked(True)

    # Against the account's limit: red when over.
    assert view.size_limit() == 25_000_000 and not view.over_limit()
    smtp_free_account = make_account("alice@example.org", smtp_host="127.0.0.1", size_limit=1_000_000)
    pki_home.accounts.add(smtp_free_account, None)
    view.refresh()
    settle()
    assert view.size_limit() == 1_000_000
    view.add_attachments([blob])
    assert view.over_limit()
    assert view.size_label.property("over") is True
    assert "Too large" in view.size_label.text() and "alice@example.org" in view.size_label.text()


def test_dropped_files_and_folders_become_attachments(qtbot, view: ComposeView, settle: Settle, tmp_path: Path) -> None:
    study = tmp_path / "study"
    (study / "series1").mkdir(parents=True)
    dicom(study / "series1" / "IM1")
    dicom(study / "series1" / "IM2")
    (study / ".DS_Store").write_bytes(b"junk")
    photo = image(tmp_path / "face.jpg", "JPEG")
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(study)), QUrl.fromLocalFile(str(photo))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    view.dropEvent(event)
    assert event.isAccepted()
    # A folder with DICOM files is one study (tests/gui/test_compose_study.py sends it).
    assert [p.name for p in view.attachments()] == ["study", "face.jpg"]
    settle()
    assert view.attachment(study).item.text(2) == "DICOM study, 2 files" and view.files.count() == 3
    # A dropped message is left to the main window (it opens it in the Open tab).
    message = QMimeData()
    message.setUrls([QUrl.fromLocalFile(str(tmp_path / "letter.eml"))])
    refused = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, message, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    refused.setAccepted(False)
    view.dropEvent(refused)
    assert not refused.isAccepted()
    assert len(view.attachments()) == 2


def test_subject_warns_about_patient_data_from_the_attached_dicom(qtbot, view: ComposeView, settle: Settle, tmp_path: Path) -> None:
    assert view.subject_note.isVisible() and "not encrypted" in view.subject_note.text()
    assert not view.subject_warning.isVisible()
    view.add_attachments([dicom(tmp_path / "IMG0001")])
    settle()
    view.subject_edit.setFocus()
    qtbot.keyClicks(view.subject_edit, "Maria 03.04.1961")
    warning = view.subject_warning_text()
    assert view.subject_warning.isVisible()
    assert "a date" in warning and '"Maria" from the attached files' in warning
    assert "not encrypted" in warning
    view.subject_edit.clear()
    qtbot.keyClicks(view.subject_edit, "Radiographs as discussed")
    assert not view.subject_warning.isVisible() and view.subject_warning_text() == ""
    assert view.subject_note.isVisible()


# -- building and sending ----------------------------------------------------------------------------


def test_save_eml_writes_a_message_bob_can_decrypt(qtbot, view: ComposeView, settle: Settle, tmp_path: Path, pki: Pki,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out" / "to-bob"
    out.parent.mkdir()
    save_to(monkeypatch, out)
    fill(qtbot, view, "bob@example.org")
    view.add_attachments([image(tmp_path / "bitewing.jpg", "JPEG")])
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    assert view.busy() and view.progress_area.isVisible() and not view.send_button.isEnabled()
    settle()
    assert not view.busy() and view.send_button.isEnabled()
    saved = out.with_suffix(".eml")
    assert_success(view)
    assert f"Saved the message to {saved}" in view.result_text()
    assert "alice@example.org, bob@example.org" in view.result_text()
    assert view.passphrase_asked == [view]  # type: ignore[attr-defined]
    inner = openssl_decrypt(saved, pki.entity("bob").cert_pem, pki.entity("bob").key_path)
    content = openssl_verify(inner, pki.root.cert_pem, attime=pki.now)
    assert b"Dear Bob," in content and b'filename="bitewing.jpg"' in content
    assert view.last_outcome is not None and view.last_outcome.result.path == saved
    assert sorted(p.name for p in saved.parent.iterdir()) == ["to-bob.eml"]


def test_a_refused_recipient_is_explained_and_nothing_is_written(qtbot, view: ComposeView, settle: Settle, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "m.eml"
    save_to(monkeypatch, out)
    fill(qtbot, view, "bob@example.org, nobody@example.org")
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert view.result_kind() == "error"
    assert "nobody@example.org" in view.result_text() and "certificate" in view.result_text()
    assert "Traceback" not in view.result_text()
    assert not out.exists()


def test_open_in_thunderbird_without_thunderbird_says_so_before_anything_is_built(
        qtbot, view: ComposeView, settle: Settle, pki_home: services.Stores, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No Thunderbird profile on this computer: one clear sentence, no passphrase asked, no
    message built, nothing left in the data folder. (The real hand-off, with the real
    Thunderbird sending the message, is tests/thunderbird/test_gui_handoff.py.)"""
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    before = sorted(p.relative_to(pki_home.home) for p in pki_home.home.rglob("*"))
    fill(qtbot, view, "bob@example.org")
    assert view.open_button.text().replace("&", "") == "Send with Thunderbird"
    qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
    assert not view.busy()
    assert view.result_kind() == "error"
    assert "Thunderbird is not set up on this computer" in view.result_text()
    assert view.passphrase_asked == []  # type: ignore[attr-defined]
    assert view.to_field.entries() == ["bob@example.org"]  # the form is kept
    assert sorted(p.relative_to(pki_home.home) for p in pki_home.home.rglob("*")) == before


def test_send_delivers_to_a_real_smtp_server(qtbot, view: ComposeView, settle: Settle, tmp_path: Path, pki: Pki,
                                             pki_home: services.Stores, smtp: SmtpServer, tls: TlsMaterials,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    add_account(pki_home, smtp, tls)
    view.refresh()
    settle()
    passwords: list[str] = []

    def password(account) -> bytes:  # noqa: ANN001
        passwords.append(account.email)
        return SMTP_PASSWORD.encode()

    monkeypatch.setattr(view, "ask_account_password", password)
    fill(qtbot, view, "bob@example.org")
    qtbot.keyClicks(view.cc_field.edit, "carol@example.org")
    view.add_attachments([dicom(tmp_path / "IMG0001")])
    qtbot.mouseClick(view.send_button, Qt.MouseButton.LeftButton)
    settle(60_000)

    assert_success(view)
    assert "Sent to bob@example.org, carol@example.org" in view.result_text()
    assert passwords == ["alice@example.org"]
    assert len(smtp.received) == 1
    received = smtp.received[0]
    assert received.tls and received.auth_user == SMTP_USER
    assert received.mail_from == "alice@example.org"
    assert set(received.rcpt_tos) == {"bob@example.org", "carol@example.org"}
    inner = openssl_decrypt(received.data, pki.entity("bob").cert_pem, pki.entity("bob").key_path)
    content = openssl_verify(inner, pki.root.cert_pem, attime=pki.now)
    assert b"Dear Bob," in content and b"application/dicom" in content
    items = pki_home.outbox.items()
    assert [i.state for i in items] == ["sent"]
    assert view.last_report is not None and view.last_report.all_sent  # type: ignore[union-attr]
    # Sent: the form is empty for the next message.
    assert view.to_field.entries() == [] and view.attachments() == [] and view.subject_edit.text() == ""


def test_send_without_an_account_says_what_to_do(qtbot, view: ComposeView, settle: Settle) -> None:
    fill(qtbot, view, "bob@example.org")
    qtbot.mouseClick(view.send_button, Qt.MouseButton.LeftButton)
    assert not view.busy()
    assert view.result_kind() == "error"
    assert "No mail account is set up" in view.result_text()
    assert "Send with Thunderbird" in view.result_text()
    assert view.passphrase_asked == []  # type: ignore[attr-defined]


def test_no_recipient_and_cancelled_passphrase(qtbot, view: ComposeView, settle: Settle, tmp_path: Path,
                                               ctx: GuiContext, monkeypatch: pytest.MonkeyPatch) -> None:
    chooser = save_to(monkeypatch, tmp_path / "m.eml")
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    assert "at least one recipient" in view.result_text() and not chooser
    fill(qtbot, view, "bob@example.org")
    monkeypatch.setattr(ctx, "identity_passphrase", lambda _parent: None)
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    assert not view.busy()
    assert "passphrase is needed" in view.result_text()
    assert not (tmp_path / "m.eml").exists()
    monkeypatch.setattr(ctx, "identity_passphrase", lambda _parent: b"not-the-passphrase")
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert view.result_kind() == "error" and "passphrase" in view.result_text().lower(), view.result_text()
    assert not (tmp_path / "m.eml").exists()


def test_cancel_during_a_large_compose_leaves_no_file(qtbot, view: ComposeView, settle: Settle, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "files" / "study.raw"
    big.parent.mkdir()
    with open(big, "wb") as handle:
        # Sparse: no disk used. 200 MB take a few seconds to build (50 MB took 0.8 s here), so
        # Cancel surely lands while the files are being encrypted, even on a slow machine.
        handle.truncate(200 * 1024 * 1024)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    save_to(monkeypatch, out_dir / "big.eml")
    fill(qtbot, view, "bob@example.org")
    view.add_attachments([big])
    settle()
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    # The window keeps working while the message is built: progress arrives.
    qtbot.waitUntil(lambda: view.progress_bar.maximum() == 1000 and view.progress_bar.value() > 0, timeout=30_000)
    assert view.busy() and view.cancel_button.isEnabled()
    assert "Encrypting the files" in view.progress_label.text()
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    settle()
    assert not view.busy() and not view.progress_area.isVisible()
    assert "Cancelled" in view.result_text() and view.result_kind() == "info"
    assert list(out_dir.iterdir()) == []  # no message, no half-written temporary file
    assert view.send_button.isEnabled() and view.save_button.isEnabled()


# -- asking for a certificate --------------------------------------------------------------------------


def test_ask_for_a_certificate_without_account_saves_a_signed_request(qtbot, view: ComposeView, settle: Settle, tmp_path: Path,
                                                                      pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "request.eml"
    save_to(monkeypatch, out)
    shown: list[tuple[str, str, bool]] = []

    def confirm(email: str, sender: str, *, can_send: bool) -> tuple[str, str]:
        shown.append((email, sender, can_send))
        return SAVE, REQUEST_BODY

    monkeypatch.setattr(view, "confirm_request", confirm)
    fill(qtbot, view, "nobody@example.org")
    chip = view.to_field.chip("nobody@example.org")
    assert chip is not None and chip.ask_button is not None
    qtbot.mouseClick(chip.ask_button, Qt.MouseButton.LeftButton)
    settle()
    assert shown == [("nobody@example.org", "Dr Alice Sender <alice@example.org>", False)]  # shown before anything
    assert_success(view)
    assert f"Saved the request to {out}" in view.result_text()
    raw = out.read_bytes()
    assert b"multipart/signed" in raw and b"pkcs7-mime" not in raw  # signed, not encrypted
    content = openssl_verify(out, pki.root.cert_pem, attime=pki.now)
    assert b"reply to this message with a signed" in content
    assert b"Subject: Request: your certificate for encrypted e-mail" in raw
    assert b"To: nobody@example.org" in raw


def test_ask_for_a_certificate_with_an_account_sends_the_request(qtbot, view: ComposeView, settle: Settle, pki: Pki,
                                                                 pki_home: services.Stores, smtp: SmtpServer, tls: TlsMaterials,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    add_account(pki_home, smtp, tls)
    monkeypatch.setattr(view, "ask_account_password", lambda _account: SMTP_PASSWORD.encode())
    fill(qtbot, view, "nobody@example.org")
    chip = view.to_field.chip("nobody@example.org")
    monkeypatch.setattr(view, "confirm_request", lambda _email, _sender, *, can_send: None)  # Cancel
    qtbot.mouseClick(chip.ask_button, Qt.MouseButton.LeftButton)  # type: ignore[union-attr]
    settle()
    assert smtp.received == [] and view.passphrase_asked == []  # type: ignore[attr-defined]
    assert "Nothing was sent to nobody@example.org" in view.result_text()
    edited = REQUEST_BODY.replace("Thank you", "Thanks, Alice")
    monkeypatch.setattr(view, "confirm_request", lambda _email, _sender, *, can_send: (SEND, edited) if can_send else None)
    qtbot.mouseClick(chip.ask_button, Qt.MouseButton.LeftButton)  # type: ignore[union-attr]
    settle(60_000)
    assert_success(view)
    assert "Asked nobody@example.org for their certificate" in view.result_text()
    assert [m.rcpt_tos for m in smtp.received] == [("nobody@example.org",)]
    assert b"multipart/signed" in smtp.received[0].data
    assert b"Thanks, Alice" in openssl_verify(smtp.received[0].data, pki.root.cert_pem, attime=pki.now)  # the text as edited
    # The message being written is untouched.
    assert view.to_field.emails() == ["nobody@example.org"]


# -- keyboard and accessibility -------------------------------------------------------------------------


def test_keyboard_order_mnemonics_and_accessible_names(qtbot, view: ComposeView) -> None:
    fill(qtbot, view, "nobody@example.org")
    chip = view.to_field.chip("nobody@example.org")
    assert chip is not None and chip.ask_button is not None
    wanted = [
        view.to_field.edit, chip.ask_button, chip.remove_button, view.cc_field.edit, view.subject_edit, view.body_edit,
        view.attachment_list, view.add_button, view.remove_button, view.sign_box, view.encrypt_box,
        view.save_button, view.open_button, view.send_button,
    ]
    order: list[QWidget] = []
    widget: QWidget = view.to_field.edit
    for _ in range(200):
        if widget in wanted and widget not in order:
            order.append(widget)
        widget = widget.nextInFocusChain()
    assert order == wanted

    texts = [w.text() for w in view.findChildren(QAbstractButton) if w.isVisibleTo(view)]
    texts += [w.text() for w in view.findChildren(QLabel) if w.buddy() is not None]
    letters = [t[t.index("&") + 1].lower() for t in texts if "&" in t]
    assert len(letters) >= 12 and len(letters) == len(set(letters)), letters
    assert not set(letters) & set("conmbfhg")  # the main window's tabs and menus
    for widget in wanted + [view.size_label, view.subject_warning, view.result_label, view.progress_bar]:
        assert widget.accessibleName(), widget
    for widget in (view.to_field.edit, view.subject_edit, view.send_button, view.save_button, view.open_button,
                   view.sign_box, view.encrypt_box, view.add_button):
        assert widget.toolTip(), widget

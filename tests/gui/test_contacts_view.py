"""The Contacts tab end to end: the real stores, the test PKI and an OpenSSL-made practice
authority; only the file and question dialogs are replaced."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox

from smimehelper import services
from smimehelper.core.certs import describe
from smimehelper.gui.context import GuiContext
from smimehelper.gui.contacts_view import ContactsView
from smimehelper.gui.widgets import GOOD, PROBLEM
from smimehelper.gui.trust_dialog import AUTHORITY, CERTIFICATE, TrustDialog
from tests.core.helpers import compose
from tests.practice_pki import SAM, PracticePki, openssl_fingerprint
from tests.gui.view_fixtures import PASS, answer as _answer, gui_ctx, home, stores  # noqa: F401 (fixtures)
from tests.pki.make_pki import Pki
from tests.transport.conftest import smtp_server_factory, tls_materials  # noqa: F401 (fixtures)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


# -- contacts -----------------------------------------------------------------------------------


@pytest.fixture
def contacts(qtbot, gui_ctx: GuiContext, stores: services.Stores, pki: Pki) -> ContactsView:  # type: ignore[no-untyped-def]
    services.import_contacts(stores, (pki.entity("bob").cert_pem,), None)
    stores.contacts.add(pki.entity("expired").cert, source="test")
    view = ContactsView(gui_ctx)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.fetched and not view.is_busy(), timeout=60000)
    return view


def test_contacts_list_with_status_in_words_and_details(contacts: ContactsView, pki: Pki) -> None:
    assert contacts.visible_emails() == ["bob@example.org", "expired@example.org"]
    assert contacts.status_of("bob@example.org") in ("valid", "revocation_unknown")
    assert contacts.status_of("expired@example.org") == "expired"
    model = contacts.model
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers == ["Name", "E-Mail", "Status", "Issued by", "Valid until", "Fingerprint (SHA-256)"]
    row = next(r for r in range(model.rowCount()) if model.item(r, 1).text() == "expired@example.org")
    assert model.item(row, 0).text() == "Expired User"
    assert model.item(row, 2).text() == "Expired"
    assert model.item(row, 3).text() == "smimehelper Test Intermediate CA"
    assert "expired" in model.item(row, 2).toolTip().lower()
    info = describe(pki.entity("bob").cert)
    assert contacts.select_email("bob@example.org")
    labels = contacts.detail_labels
    assert labels["name"].text() == "Bob Recipient"
    assert "".join(labels["fingerprint"].text().split()) == info.fingerprint_sha256.replace(":", "")
    assert [len(g) for g in labels["fingerprint"].text().split()] == [4] * 16
    assert labels["purpose"].text() == "E-mail: signing and encryption"
    assert labels["issuer"].text() == "smimehelper Test Intermediate CA"
    technical = contacts.details.technical.text()
    assert "RSA 2048 key" in technical and "emailProtection" in technical
    assert "issued by smimehelper Test Intermediate CA\nissued by smimehelper Test Root CA (root)" in technical
    assert not contacts.details.technical.text_label.isVisible()  # behind Details until asked
    assert labels["valid"].text().endswith(f"{info.not_after.astimezone():%B %Y}")
    assert not contacts.details.trust_authority_button.isVisibleTo(contacts)  # trusted already


def test_names_and_fingerprints_are_not_cut_off(qtbot, contacts: ContactsView, stores: services.Stores, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    contacts.resize(1000, 600)
    table = contacts.table
    metrics = table.fontMetrics()
    for row in range(contacts.model.rowCount()):
        for column in (0, 1, 5):
            text = contacts.model.item(row, column).text()
            assert table.columnWidth(column) >= metrics.horizontalAdvance(text), (column, text)
    assert len(contacts.model.item(0, 5).text().replace(" ", "")) == 64  # the whole fingerprint


def test_search_filters_rows(contacts: ContactsView, pki: Pki) -> None:
    contacts.search.setText("BOB")
    assert contacts.visible_emails() == ["bob@example.org"]
    contacts.search.setText(describe(pki.entity("expired").cert).fingerprint_sha256.replace(":", "")[:4])
    assert contacts.visible_emails() == ["expired@example.org"]
    contacts.search.setText("nobody-like-this")
    assert contacts.visible_emails() == []
    contacts.search.clear()
    assert len(contacts.visible_emails()) == 2


def test_import_a_pem_through_the_file_dialog(qtbot, contacts: ContactsView, pki: Pki, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    carol = pki.entity("carol").cert_pem
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *_a, **_k: ([str(carol)], "")))
    contacts.import_button.click()
    qtbot.waitUntil(lambda: "carol@example.org" in contacts.visible_emails() and not contacts.is_busy(), timeout=60000)
    assert contacts.banner.level == GOOD and "carol@example.org" in contacts.banner.text()
    assert contacts.selected_entry() is not None and contacts.selected_entry().email == "carol@example.org"
    assert [e.email for e in services.Stores.open(contacts.ctx.home).contacts.for_address("carol@example.org")] == ["carol@example.org"]


def test_drop_a_signed_message_on_the_table(qtbot, contacts: ContactsView, pki: Pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    signed = tmp_path / "from-frank.eml"
    compose(pki, signed, sender="frank", to=("alice",))  # signed and encrypted to alice
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(signed))])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    contacts.table.dropEvent(event)
    qtbot.waitUntil(lambda: "frank@example.org" in contacts.visible_emails() and not contacts.is_busy(), timeout=60000)
    assert contacts.ctx.asked == ["Passphrase for your certificate:"]  # to decrypt the .eml


def test_garbage_certificate_shows_the_reason_and_adds_nothing(qtbot, contacts: ContactsView, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    garbage = tmp_path / "colleague.pem"
    garbage.write_bytes(b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    with qtbot.waitSignal(contacts.failed, timeout=60000):
        contacts.import_files([garbage])
    assert contacts.banner.level == PROBLEM
    assert "Nothing was imported" in contacts.banner.text()
    assert "does not contain a certificate" in contacts.banner.text()
    assert contacts.model.rowCount() == 2


def test_copy_fingerprint_puts_it_on_the_clipboard(contacts: ContactsView, pki: Pki) -> None:
    assert contacts.select_email("bob@example.org")
    contacts.copy_button.click()
    assert QGuiApplication.clipboard().text() == describe(pki.entity("bob").cert).fingerprint_sha256


def test_remove_asks_and_removes(qtbot, contacts: ContactsView, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert contacts.select_email("bob@example.org")
    asked = _answer(monkeypatch, QMessageBox.StandardButton.No)
    contacts.remove_button.click()
    assert len(asked) == 1 and "bob@example.org" in asked[0]
    assert "bob@example.org" in contacts.visible_emails()
    _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    contacts.remove_button.click()
    assert contacts.visible_emails() == ["expired@example.org"]
    assert services.Stores.open(contacts.ctx.home).contacts.for_address("bob@example.org") == []
    qtbot.waitUntil(lambda: not contacts.is_busy(), timeout=60000)




# -- trusting a colleague's authority ---------------------------------------------------------------


@pytest.fixture
def practice_contacts(qtbot, gui_ctx: GuiContext, stores: services.Stores, practice: PracticePki, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Sam, certified by his practice's own authority (made by OpenSSL, valid around the real clock)."""
    monkeypatch.setattr(services, "clock", lambda: dt.datetime.now(dt.timezone.utc))
    services.import_contacts(stores, (practice / "sam-signed-bare.eml",), None)
    view = ContactsView(gui_ctx)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.fetched and not view.is_busy(), timeout=60000)
    assert view.select_email(SAM)
    return view


def drive_trust(monkeypatch: pytest.MonkeyPatch, steps) -> list[TrustDialog]:  # type: ignore[no-untyped-def]
    """Replace the dialog's exec() by ``steps(dialog)`` (what the user does in it)."""
    seen: list[TrustDialog] = []

    def run(dialog: TrustDialog) -> int:
        seen.append(dialog)
        steps(dialog)
        return 0

    monkeypatch.setattr(TrustDialog, "exec", run)
    return seen


def test_trust_the_authority_from_contacts_after_comparing_the_fingerprint(
        qtbot, practice_contacts: ContactsView, practice: PracticePki, stores: services.Stores, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    view = practice_contacts
    assert view.status_of(SAM) == "untrusted_issuer"
    assert view.detail_labels["issuer"].text() == "Smith Practice CA (Smith Dental)"
    assert view.details.trust_authority_button.isVisibleTo(view)
    assert view.details.trust_certificate_button.isVisibleTo(view)

    def user(dialog: TrustDialog) -> None:
        assert dialog.choice() == AUTHORITY
        assert "Smith Practice CA (Smith Dental)" in dialog.authority_choice.text()
        assert dialog.fingerprint_text() == "(its certificate is needed first)"  # a bare signed mail
        assert not dialog.trust_button.isEnabled()
        dialog.choose_authority_file(practice / "provider-ca.pem")  # the wrong file
        assert "did not issue" in dialog.problem.text() and dialog.problem.isVisibleTo(dialog)
        dialog.choose_authority_file(practice / "smith-ca.pem")
        assert "".join(dialog.fingerprint_text().split()) == openssl_fingerprint(practice / "smith-ca.pem")
        assert "by phone" in dialog.compared.text() and "could then make certificates for anyone" in dialog.warning.text()
        assert not dialog.trust_button.isEnabled()  # not before the box is ticked
        dialog.compared.setChecked(True)
        assert dialog.trust_button.isEnabled()
        dialog.trust_button.click()

    seen = drive_trust(monkeypatch, user)
    view.details.trust_authority_button.click()
    [dialog] = seen
    assert dialog.trusted == AUTHORITY
    qtbot.waitUntil(lambda: view.fetched and not view.is_busy(), timeout=60000)
    assert view.status_of(SAM) in ("valid", "revocation_unknown")
    assert view.banner.level == GOOD and SAM in view.banner.text()
    assert [t.fingerprint for t in stores.trust.list()][-1] == openssl_fingerprint(practice / "smith-ca.pem").lower()


def test_trust_only_the_certificate_from_contacts_and_stop_again(
        qtbot, practice_contacts: ContactsView, practice: PracticePki, stores: services.Stores, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    view = practice_contacts
    anchors = len(stores.trust.list())

    def user(dialog: TrustDialog) -> None:
        assert dialog.choice() == CERTIFICATE
        assert "".join(dialog.fingerprint_text().split()) == openssl_fingerprint(practice / "sam.pem")
        dialog.compared.setChecked(True)
        dialog.trust_button.click()

    drive_trust(monkeypatch, user)
    view.details.trust_certificate_button.click()
    qtbot.waitUntil(lambda: view.fetched and not view.is_busy(), timeout=60000)
    assert view.status_of(SAM) == "valid"
    assert view.select_email(SAM)
    assert view.detail_labels["status"].text() == "Valid (you trust this certificate)"
    assert view.detail_labels["trust"].text().startswith("You trust this certificate itself")
    assert len(stores.trust.list()) == anchors  # no authority was added
    assert view.details.untrust_button.isVisibleTo(view)
    view.details.untrust_button.click()
    qtbot.waitUntil(lambda: view.fetched and not view.is_busy(), timeout=60000)
    assert view.status_of(SAM) == "untrusted_issuer"


def test_cancelling_the_trust_dialog_trusts_nothing(qtbot, practice_contacts: ContactsView, stores: services.Stores, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    drive_trust(monkeypatch, lambda dialog: dialog.compared.setChecked(True))  # ticked, then closed
    anchors = len(stores.trust.list())
    practice_contacts.details.trust_certificate_button.click()
    assert len(stores.trust.list()) == anchors and stores.contacts.directly_trusted() == frozenset()

"""Contacts, My certificates and Outbox tabs end to end: the real stores under a temporary data
folder, the test PKI, real SMTP servers on the loopback interface; only the file and question
dialogs are replaced."""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QMessageBox

from smimehelper import services
from smimehelper.core.certs import describe
from smimehelper.core.transport.accounts import make_account
from smimehelper.gui import identity_view as identity_view_module
from smimehelper.gui.context import GuiContext
from smimehelper.gui.contacts_view import ContactsView
from smimehelper.gui.identity_view import CertificateRequestDialog, IdentityView, RequestDetails
from smimehelper.gui.open_view import CAUTION, GOOD, PROBLEM
from smimehelper.gui.outbox_view import OutboxView
from smimehelper.gui.tasks import TaskRunner
from tests.core.helpers import compose
from tests.pki.make_pki import Pki
from tests.transport.conftest import smtp_server_factory, tls_materials  # noqa: F401 (fixtures)
from tests.transport.servers import SMTP_PASSWORD, SMTP_USER

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PASS = b"test-pass"


@pytest.fixture
def home(pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(services, "clock", lambda: pki.now)
    folder = tmp_path / "home"
    stores = services.Stores.open(folder)
    stores.identities.import_pkcs12(pki.entity("alice").p12, lambda _p: PASS)
    stores.trust.add(pki.root.cert_pem)
    return folder


@pytest.fixture
def stores(home: Path) -> services.Stores:
    return services.Stores.open(home)


@pytest.fixture
def gui_ctx(qtbot, home: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A context whose secret prompt answers from ``ctx.answers`` (default: the PKI passphrase)
    and records every prompt in ``ctx.asked``."""
    ctx = GuiContext(home=home, tasks=TaskRunner())
    ctx.asked = []  # type: ignore[attr-defined]
    ctx.answers = []  # type: ignore[attr-defined]

    def ask_secret(_parent, _title, prompt):  # type: ignore[no-untyped-def]
        ctx.asked.append(prompt)  # type: ignore[attr-defined]
        return ctx.answers.pop(0) if ctx.answers else PASS  # type: ignore[attr-defined]

    monkeypatch.setattr(ctx, "ask_secret", ask_secret)
    yield ctx
    ctx.tasks.wait()


def _answer(monkeypatch: pytest.MonkeyPatch, button: QMessageBox.StandardButton) -> list[str]:
    asked: list[str] = []

    def question(_parent, title, text, *_a, **_k):  # type: ignore[no-untyped-def]
        asked.append(f"{title}: {text}")
        return button

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


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
    assert headers == ["Name", "E-Mail", "Status", "Valid from", "Valid until", "Fingerprint"]
    row = next(r for r in range(model.rowCount()) if model.item(r, 1).text() == "expired@example.org")
    assert model.item(row, 0).text() == "Expired User"
    assert model.item(row, 2).text() == "Expired"
    assert "expired" in model.item(row, 2).toolTip().lower()
    info = describe(pki.entity("bob").cert)
    assert contacts.select_email("bob@example.org")
    labels = contacts.detail_labels
    assert labels["name"].text() == "Bob Recipient"
    assert labels["fingerprint"].text().replace("\n", ":") == info.fingerprint_sha256
    assert "RSA 2048" in labels["usage"].text() and "e-mail" in labels["usage"].text()
    assert labels["chain"].text() == "issued by smimehelper Test Intermediate CA\nissued by smimehelper Test Root CA (root)"
    assert labels["valid"].text().startswith(f"{info.not_before:%Y-%m-%d}")


def test_search_filters_rows(contacts: ContactsView, pki: Pki) -> None:
    contacts.search.setText("BOB")
    assert contacts.visible_emails() == ["bob@example.org"]
    contacts.search.setText(describe(pki.entity("expired").cert).fingerprint_sha256[:11])
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


# -- my certificates ----------------------------------------------------------------------------


@pytest.fixture
def identities(qtbot, gui_ctx: GuiContext) -> IdentityView:  # type: ignore[no-untyped-def]
    view = IdentityView(gui_ctx)
    qtbot.addWidget(view)
    view.show()
    return view


def test_identity_details_and_no_banner_while_far_from_expiry(identities: IdentityView, pki: Pki) -> None:
    assert identities.list.count() == 1
    assert "alice@example.org" in identities.list.item(0).text() and "default" in identities.list.item(0).text()
    fields = identities.fields
    info = describe(pki.entity("alice").cert)
    assert fields["name"].text() == "Dr Alice Sender"
    assert fields["email"].text() == "alice@example.org"
    assert "Intermediate" in fields["issuer"].text()
    assert fields["valid_until"].text().startswith(f"{info.not_after:%Y-%m-%d}")
    assert fields["key"].text().startswith("RSA 2048; signing, non-repudiation")
    assert fields["fingerprint"].text().replace("\n", ":") == info.fingerprint_sha256
    assert "passphrase" in fields["protection"].text()
    assert not identities.expiry_banner.isVisibleTo(identities)
    identities.copy_button.click()
    assert QGuiApplication.clipboard().text() == info.fingerprint_sha256


def test_expiry_banner_30_days_ahead(identities: IdentityView, pki: Pki, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    end = pki.entity("alice").cert.not_valid_after_utc
    monkeypatch.setattr(services, "clock", lambda: end - dt.timedelta(days=20))
    identities.refresh()
    assert identities.expiry_banner.isVisibleTo(identities)
    assert identities.expiry_banner.level == CAUTION
    assert f"expires on {end:%Y-%m-%d}" in identities.expiry_banner.text()
    monkeypatch.setattr(services, "clock", lambda: end + dt.timedelta(days=1))
    identities.refresh()
    assert "expired on" in identities.expiry_banner.text()
    assert "expired" in identities.fields["valid_until"].text()


def test_export_writes_her_certificate(identities: IdentityView, pki: Pki, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "out" / "alice.pem"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *_a, **_k: (str(target), "")))
    identities.export_button.click()
    assert target.read_bytes() == pki.entity("alice").cert.public_bytes(serialization.Encoding.PEM)
    assert x509.load_pem_x509_certificate(target.read_bytes()) == pki.entity("alice").cert
    assert identities.banner.level == GOOD


def test_certificate_request_dialog_writes_a_valid_csr(qtbot, identities: IdentityView, gui_ctx, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "new.csr"
    seen: list[tuple[str, str]] = []

    def ask(_parent, email="", name=""):  # type: ignore[no-untyped-def]
        seen.append((email, name))
        return RequestDetails("new@example.org", "Dr New Key", True)

    monkeypatch.setattr(CertificateRequestDialog, "ask", staticmethod(ask))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *_a, **_k: (str(target), "")))
    gui_ctx.answers[:] = [b"short", b"a new passphrase", b"a new passphrase"]  # too short, then twice the same
    identities.request_button.click()
    qtbot.waitUntil(lambda: target.exists() and not identities.is_busy(), timeout=60000)
    assert seen == [("alice@example.org", "Dr Alice Sender")]  # proposed from the current certificate
    csr = x509.load_pem_x509_csr(target.read_bytes())
    assert csr.is_signature_valid
    assert csr.subject.rfc4514_string() == "1.2.840.113549.1.9.1=new@example.org,CN=Dr New Key"
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["new@example.org"]
    assert "Wrote the certificate request" in identities.banner.text()
    assert len(gui_ctx.asked) == 3  # no keyring: a new passphrase, asked (again) on the GUI thread


def test_request_dialog_needs_an_address_and_a_name(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = CertificateRequestDialog(None)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()
    dialog.email.setText("Jane@Practice.example")
    assert not ok.isEnabled()
    dialog.name.setText("Dr Jane")
    assert ok.isEnabled()
    dialog.key_type.setCurrentIndex(1)
    assert dialog.details() == RequestDetails("jane@practice.example", "Dr Jane", True)


def test_import_p12_set_default_and_remove(qtbot, identities: IdentityView, gui_ctx, pki: Pki, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *_a, **_k: (str(pki.entity("frank").p12), identity_view_module.P12_FILTER)))
    identities.import_button.click()
    qtbot.waitUntil(lambda: identities.list.count() == 2 and not identities.is_busy(), timeout=60000)
    assert gui_ctx.asked == ["Passphrase of frank.p12 (leave empty if it has none):"]
    assert identities.selected().emails == ("frank@example.org",)
    assert identities.default_button.isEnabled()
    identities.default_button.click()
    assert services.Stores.open(gui_ctx.home).identities.get(None).emails == ("frank@example.org",)
    assert identities.fields["default"].text().startswith("Yes")
    _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    identities.remove_button.click()
    assert [i.emails for i in services.Stores.open(gui_ctx.home).identities.list()] == [("alice@example.org",)]
    assert identities.list.count() == 1


def test_import_p12_with_a_wrong_passphrase_imports_nothing(qtbot, identities: IdentityView, gui_ctx, pki: Pki, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *_a, **_k: (str(pki.entity("bob").p12), "")))
    gui_ctx.answers[:] = [b"wrong"]
    identities.import_button.click()
    qtbot.waitUntil(lambda: not identities.is_busy() and "Nothing was imported" in identities.banner.text(), timeout=60000)
    assert identities.banner.level == PROBLEM
    assert "passphrase" in identities.banner.text().lower()
    assert identities.list.count() == 1


# -- outbox -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _queue(stores: services.Stores, pki: Pki, tmp_path: Path, port: int, cafile: Path | None = None):  # type: ignore[no-untyped-def]
    account = make_account("alice@example.org", smtp_host="127.0.0.1", smtp_port=port, security="starttls",
                           username=SMTP_USER, cafile=str(cafile) if cafile else None)
    stores.accounts.add(account, None)
    message = tmp_path / "referral.eml"
    compose(pki, message, sender="alice", to=("bob",), subject="Referral Mr X")
    return services.queue_message(stores, message, None)


@pytest.fixture
def outbox(qtbot, gui_ctx: GuiContext) -> OutboxView:  # type: ignore[no-untyped-def]
    view = OutboxView(gui_ctx)
    qtbot.addWidget(view)
    view.show()
    return view


def test_outbox_lists_and_removes(outbox: OutboxView, stores: services.Stores, pki: Pki, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert outbox.empty.isVisibleTo(outbox)
    item = _queue(stores, pki, tmp_path, _free_port())
    outbox.refresh()
    assert not outbox.empty.isVisibleTo(outbox)
    table = outbox.table
    assert table.rowCount() == 1
    assert [table.item(0, c).text() for c in range(4)] == ["Waiting", "bob@example.org", "Referral Mr X", ""]
    assert table.item(0, 4).text() == "put in the outbox"
    assert item.id in table.item(0, 0).toolTip()
    outbox.select_ids([item.id])
    assert [i.id for i in outbox.selected_items()] == [item.id]
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    outbox.remove_button.click()
    assert "Referral Mr X" in asked[0]
    assert stores.outbox.items() == []
    assert table.rowCount() == 0


def test_retry_against_an_unreachable_server_keeps_it_waiting(qtbot, outbox: OutboxView, gui_ctx, stores: services.Stores, pki: Pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    item = _queue(stores, pki, tmp_path, _free_port())
    outbox.refresh()
    gui_ctx.answers[:] = [b""]  # no password: the server is not even reached
    with qtbot.waitSignal(outbox.delivered, timeout=60000):
        outbox.retry_all_button.click()
    assert gui_ctx.asked == [f"Password for {SMTP_USER} at 127.0.0.1 (leave empty if the server needs none):"]
    assert outbox.banner.level == CAUTION  # not sent yet, tried again later
    assert "Not sent yet: Cannot reach the mail server 127.0.0.1" in outbox.banner.text()
    (after,) = stores.outbox.items()
    assert after.id == item.id and after.state == "queued" and after.attempts == 1
    assert outbox.table.item(0, 0).text().startswith("Waiting")
    assert "Cannot reach" in outbox.table.item(0, 3).text()  # last server reply (or the reason)
    assert outbox.table.item(0, 4).text() == ""  # the note says the same: not repeated


def test_retry_against_a_plaintext_server_shows_why_and_keeps_it(qtbot, outbox: OutboxView, gui_ctx, stores: services.Stores, pki: Pki, tmp_path: Path, smtp_server_factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server = smtp_server_factory("plain")
    item = _queue(stores, pki, tmp_path, server.port)
    outbox.refresh()
    outbox.select_ids([item.id])
    gui_ctx.answers[:] = [SMTP_PASSWORD.encode()]
    with qtbot.waitSignal(outbox.delivered, timeout=60000):
        outbox.retry_button.click()
    assert "does not offer an encrypted connection" in outbox.banner.text()
    assert [i.state for i in stores.outbox.items()] == ["queued"]
    assert server.received == []
    assert outbox.table.rowCount() == 1


def test_retry_sends_through_a_starttls_server(qtbot, outbox: OutboxView, gui_ctx, stores: services.Stores, pki: Pki, tmp_path: Path, smtp_server_factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server = smtp_server_factory("starttls")
    item = _queue(stores, pki, tmp_path, server.port, cafile=server.cafile)
    outbox.refresh()
    gui_ctx.answers[:] = [SMTP_PASSWORD.encode()]
    with qtbot.waitSignal(outbox.delivered, timeout=60000):
        outbox.retry_all_button.click()
    assert outbox.banner.level == GOOD, outbox.banner.text()
    assert stores.outbox.get(item.id).state == "sent"
    assert outbox.table.item(0, 0).text() == "Sent"
    assert len(server.received) == 1
    assert not outbox.retry_all_button.isEnabled()  # nothing waiting any more


def test_retry_with_a_cancelled_password_sends_nothing(outbox: OutboxView, gui_ctx, stores: services.Stores, pki: Pki, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _queue(stores, pki, tmp_path, _free_port())
    outbox.refresh()
    monkeypatch.setattr(gui_ctx, "ask_secret", lambda *_a: None)
    outbox.retry_all()
    assert not outbox.is_busy()
    assert "no password was given" in outbox.banner.text()
    assert [i.attempts for i in stores.outbox.items()] == [0]

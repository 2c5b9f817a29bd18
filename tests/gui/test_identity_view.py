"""My certificates end to end: the real stores and the test PKI; only the file and question
dialogs are replaced."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QMessageBox

from smimehelper import services
from smimehelper.core.certs import describe
from smimehelper.gui import identity_view as identity_view_module
from smimehelper.gui.context import GuiContext
from smimehelper.gui.identity_view import CertificateRequestDialog, IdentityView, RequestDetails
from smimehelper.gui.widgets import CAUTION, GOOD, PROBLEM
from tests.gui.view_fixtures import PASS, answer as _answer, gui_ctx, home, stores  # noqa: F401 (fixtures)
from tests.pki.make_pki import Pki
from tests.transport.conftest import smtp_server_factory, tls_materials  # noqa: F401 (fixtures)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


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
    assert fields["issuer"].text() == "smimehelper Test Intermediate CA"
    assert fields["purpose"].text() == "E-mail: signing and encryption"
    assert fields["valid_until"].text() == f"{info.not_after.astimezone().day} {info.not_after.astimezone():%B %Y}"
    assert "RSA 2048 key; key usage: digital signature, non-repudiation" in identities.technical.text()
    assert "".join(fields["fingerprint"].text().split()) == info.fingerprint_sha256.replace(":", "")
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
    assert "expired" in identities.list.item(0).text()


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




def test_the_list_tells_certificates_apart_and_the_no_certificate_note_goes(
        qtbot, gui_ctx, pki: Pki, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stores = services.Stores.open(gui_ctx.home)
    for stored in stores.identities.list():
        stores.identities.remove(stored.fingerprint)
    view = IdentityView(gui_ctx)
    qtbot.addWidget(view)
    assert "You have not imported your certificate yet" in view.banner.text()
    stores.identities.import_pkcs12(pki.entity("alice").p12, lambda _p: PASS)
    stores.identities.import_pkcs12(pki.entity("signonly").p12, lambda _p: PASS)
    view.refresh()
    assert not view.banner.isVisibleTo(view) or "not imported" not in view.banner.text()
    texts = [view.list.item(r).text() for r in range(view.list.count())]
    assert len(set(texts)) == 2
    alice = next(t for t in texts if "alice@" in t)
    signonly = next(t for t in texts if "signonly@" in t)
    assert "\nE-mail: signing and encryption\nfrom smimehelper Test Intermediate CA, until " in alice
    assert "E-mail: signing only (cannot receive encrypted mail)" in signonly


def test_a_certificate_not_for_email_is_refused_in_plain_words(
        qtbot, identities: IdentityView, gui_ctx, pki: Pki, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A web-server (or login) certificate is refused at import (the store's rule, issue 9), and
    My certificates says what it is for and what to do, not a green "Imported"."""
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *_a, **_k: (str(pki.entity("wrongeku").p12), "")))
    identities.import_button.click()
    qtbot.waitUntil(lambda: not identities.is_busy() and "imported" in identities.banner.text(), timeout=60000)
    text = identities.banner.text()
    assert identities.banner.level == PROBLEM and text.startswith("Nothing was imported")
    assert "web server certificate" in text and "not an e-mail certificate" in text and "certificate provider" in text
    assert identities.list.count() == 1


def test_an_old_default_that_is_not_for_email_is_named_with_the_way_out(
        qtbot, gui_ctx, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    """A data folder from before the import refused such certificates: the login certificate
    became the default. The list shows it in words, and the banner says how to fix it."""
    from smimehelper.core.identity import load_pkcs12

    stores = services.Stores.open(gui_ctx.home)
    wrong = load_pkcs12(pki.entity("wrongeku").p12, PASS)
    stores.identities._write_identity(wrong, describe(wrong.cert).fingerprint_sha256.replace(":", "").lower(), b"", PASS, None,
                                      pki.now, ())
    stores.identities.set_default(describe(wrong.cert).fingerprint_sha256.replace(":", "").lower())
    view = IdentityView(gui_ctx)
    qtbot.addWidget(view)
    texts = [view.list.item(r).text() for r in range(view.list.count())]
    assert any("wrongeku@" in t and "Not for e-mail: web servers (TLS)" in t and "default" in t for t in texts), texts
    assert view.expiry_banner.level == CAUTION
    assert "Your default certificate is not for e-mail" in view.expiry_banner.text()
    assert "Select the e-mail certificate and press Set as default" in view.expiry_banner.text()


def test_importing_a_usable_certificate_replaces_an_unusable_default(qtbot, gui_ctx, pki: Pki, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from smimehelper.core.identity import load_pkcs12

    stores = services.Stores.open(gui_ctx.home)
    for stored in stores.identities.list():
        stores.identities.remove(stored.fingerprint)
    wrong = load_pkcs12(pki.entity("wrongeku").p12, PASS)
    fingerprint = describe(wrong.cert).fingerprint_sha256.replace(":", "").lower()
    stores.identities._write_identity(wrong, fingerprint, b"", PASS, None, pki.now, ())  # from before the refusal
    view = IdentityView(gui_ctx)
    qtbot.addWidget(view)
    assert "Your default certificate is not for e-mail" in view.expiry_banner.text()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *_a, **_k: (str(pki.entity("frank").p12), "")))
    view.import_button.click()
    qtbot.waitUntil(lambda: not view.is_busy() and "Imported" in view.banner.text(), timeout=60000)
    assert "It now signs your messages" in view.banner.text()
    assert services.Stores.open(gui_ctx.home).identities.get(None).emails == ("frank@example.org",)
    assert not view.expiry_banner.isVisibleTo(view) or "not for e-mail" not in view.expiry_banner.text()

"""The first-run assistant, end to end and offscreen: the test PKI's alice.p12, a real local SMTP
server (aiosmtpd with STARTTLS and AUTH) for "Test connection", and the self-test.

No OS keyring (the autouse ``isolated_home`` fixture installs keyring's fail backend), so keys
are protected by their passphrase, as on a machine without a secure keyring; one test installs
the in-memory keyring to cover the "keep the passphrase in the system keyring" box.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QWizard

from smimehelper import services
from smimehelper.gui.context import GuiContext
from smimehelper.gui.first_run import PAGE_ACCOUNT, PAGE_CERTIFICATE, PAGE_SELF_TEST, FirstRunWizard
from smimehelper.gui.tasks import TaskRunner
from tests.memory_keyring import MemoryKeyring
from tests.pki.make_pki import Pki
from tests.transport.servers import SMTP_PASSWORD, SMTP_USER, SmtpServer, TlsMaterials, make_tls_materials

NEXT = QWizard.WizardButton.NextButton
FINISH = QWizard.WizardButton.FinishButton
LATER = QWizard.WizardButton.CustomButton1
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterials:
    return make_tls_materials(tmp_path_factory.mktemp("gui-tls"))


@pytest.fixture
def smtp(tls: TlsMaterials) -> Iterator[SmtpServer]:
    server = SmtpServer(tls, "starttls")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def plain_smtp(tls: TlsMaterials) -> Iterator[SmtpServer]:
    server = SmtpServer(tls, "plain")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ctx(tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> Iterator[GuiContext]:
    monkeypatch.setattr(services, "clock", lambda: pki.now)
    context = GuiContext(home=tmp_path / "home", tasks=TaskRunner())
    yield context
    context.tasks.wait()


@pytest.fixture
def wizard(ctx: GuiContext, qtbot) -> FirstRunWizard:  # type: ignore[no-untyped-def]
    wiz = FirstRunWizard(ctx)
    qtbot.addWidget(wiz)
    wiz.show()
    qtbot.waitExposed(wiz)
    return wiz


def click(qtbot, widget) -> None:  # type: ignore[no-untyped-def]
    assert widget.isEnabled() and widget.isVisible(), widget
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def import_p12(qtbot, wizard: FirstRunWizard, p12: Path, passphrase: str) -> None:  # type: ignore[no-untyped-def]
    page = wizard.certificate_page
    page.set_file(p12)
    page.passphrase_edit.clear()
    qtbot.keyClicks(page.passphrase_edit, passphrase)
    qtbot.keyClick(page.passphrase_edit, Qt.Key.Key_Return)  # Enter starts the import
    assert page.busy
    qtbot.waitUntil(lambda: not page.busy, timeout=WAIT_MS)


def fill_account(page, server: SmtpServer, *, cafile: Path | None, password: str = SMTP_PASSWORD) -> None:  # type: ignore[no-untyped-def]
    page.host_edit.setText(server.host)
    page.port_spin.setValue(server.port)
    page.security_combo.setCurrentIndex(page.security_combo.findData("starttls"))
    page.user_edit.setText(SMTP_USER)
    page.password_edit.setText(password)
    page.cafile_edit.setText(str(cafile) if cafile else "")


def test_end_to_end_import_account_and_self_test(qtbot, wizard: FirstRunWizard, ctx: GuiContext, pki: Pki,
                                                 smtp: SmtpServer, tls: TlsMaterials) -> None:  # type: ignore[no-untyped-def]
    ctx.stores().trust.add(pki.root.cert_pem)  # the practice's authority, trusted beforehand
    page = wizard.certificate_page
    assert wizard.currentId() == PAGE_CERTIFICATE
    assert not wizard.button(NEXT).isEnabled()
    # No secure keyring here: the box is off and the page says the passphrase protects the key.
    assert not page.keyring_box.isEnabled() and not page.keyring_box.isChecked()
    assert "no secure system keyring" in page.keyring_note.text()

    import_p12(qtbot, wizard, pki["alice"].p12, pki.p12_password)
    assert page.status.kind == "ok", page.status.text()
    assert "ask for this passphrase" in page.status.text()
    assert page.details.isVisible()
    assert page.name_value.text() == "Dr Alice Sender"
    assert page.email_value.text() == "alice@example.org"
    assert page.valid_value.text() == f"{pki['alice'].cert.not_valid_after_utc:%d %B %Y}"
    assert page.issuer_value.text() == "smimehelper Test Intermediate CA"
    stored = ctx.stores().identities.list()
    assert [s.emails for s in stored] == [("alice@example.org",)] and stored[0].protection == "passphrase"

    click(qtbot, wizard.button(NEXT))
    account = wizard.account_page
    assert wizard.currentId() == PAGE_ACCOUNT
    assert wizard.button(LATER).isVisible()
    assert account.email_edit.text() == "alice@example.org"  # from the certificate
    assert account.user_edit.text() == "alice@example.org"
    fill_account(account, smtp, cafile=tls.cafile)
    click(qtbot, account.test_button)
    qtbot.waitUntil(lambda: not account.testing, timeout=WAIT_MS)
    assert account.status.kind == "ok", account.status.text()
    assert "Connection works" in account.status.text() and f"logged in as {SMTP_USER}" in account.status.text()
    assert [(a.username, a.success, a.tls) for a in smtp.auth_attempts] == [(SMTP_USER, True, True)]
    assert smtp.received == []  # a test sends nothing

    click(qtbot, wizard.button(NEXT))
    saved = ctx.stores().accounts.get("alice@example.org")
    assert (saved.smtp_host, saved.smtp_port, saved.security, saved.username) == (smtp.host, smtp.port, "starttls", SMTP_USER)
    assert saved.cafile == str(tls.cafile.resolve())

    test_page = wizard.self_test_page
    assert wizard.currentId() == PAGE_SELF_TEST
    assert not wizard.button(LATER).isVisible()
    qtbot.waitUntil(lambda: not test_page.running, timeout=WAIT_MS)
    assert test_page.headline_text() == "Self-test passed"
    assert test_page.result is not None and test_page.result.passed and not test_page.result.warnings
    assert all(step.ok and not step.warning for step in test_page.result.steps)
    assert "alice@example.org is saved" in test_page.account_line.text()
    click(qtbot, wizard.button(FINISH))
    assert wizard.result() == QWizard.DialogCode.Accepted


def test_wrong_passphrase_shows_the_error_and_stays(qtbot, wizard: FirstRunWizard, ctx: GuiContext, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    page = wizard.certificate_page
    import_p12(qtbot, wizard, pki["alice"].p12, "not-the-passphrase")
    assert page.status.kind == "error"
    assert "passphrase" in page.status.text() and "not correct" in page.status.text()
    assert wizard.currentId() == PAGE_CERTIFICATE
    assert not wizard.button(NEXT).isEnabled()
    assert not page.details.isVisible()
    assert ctx.stores().identities.list() == []
    assert page.passphrase_edit.hasFocus() and page.passphrase_edit.selectedText() == "not-the-passphrase"
    # Typing the right one then works.
    import_p12(qtbot, wizard, pki["alice"].p12, pki.p12_password)
    assert page.status.kind == "ok" and wizard.button(NEXT).isEnabled()


def test_no_file_chosen(qtbot, wizard: FirstRunWizard) -> None:  # type: ignore[no-untyped-def]
    click(qtbot, wizard.certificate_page.import_button)
    assert wizard.certificate_page.status.kind == "error"
    assert "Choose your certificate file" in wizard.certificate_page.status.text()


def test_connection_test_against_a_plaintext_server_is_refused(qtbot, wizard: FirstRunWizard, pki: Pki,
                                                              plain_smtp: SmtpServer, tls: TlsMaterials) -> None:  # type: ignore[no-untyped-def]
    import_p12(qtbot, wizard, pki["alice"].p12, pki.p12_password)
    click(qtbot, wizard.button(NEXT))
    account = wizard.account_page
    fill_account(account, plain_smtp, cafile=tls.cafile)
    click(qtbot, account.test_button)
    assert account.status.kind == "busy"
    qtbot.waitUntil(lambda: not account.testing, timeout=WAIT_MS)
    assert account.status.kind == "error"
    assert "does not offer an encrypted connection" in account.status.text()
    assert "never sends over an unencrypted connection" in account.status.text()
    assert plain_smtp.auth_attempts == []  # the password never went over the wire
    assert wizard.currentId() == PAGE_ACCOUNT


def test_wrong_password_shows_the_server_refusal(qtbot, wizard: FirstRunWizard, pki: Pki,
                                                smtp: SmtpServer, tls: TlsMaterials) -> None:  # type: ignore[no-untyped-def]
    import_p12(qtbot, wizard, pki["alice"].p12, pki.p12_password)
    click(qtbot, wizard.button(NEXT))
    account = wizard.account_page
    fill_account(account, smtp, cafile=tls.cafile, password="wrong")
    click(qtbot, account.test_button)
    qtbot.waitUntil(lambda: not account.testing, timeout=WAIT_MS)
    assert account.status.kind == "error"
    assert "refused the user name or password" in account.status.text()
    assert "app password" in account.status.text()


def test_unknown_provider_needs_a_server_and_later_skips(qtbot, wizard: FirstRunWizard, ctx: GuiContext, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    import_p12(qtbot, wizard, pki["alice"].p12, pki.p12_password)
    click(qtbot, wizard.button(NEXT))
    account = wizard.account_page
    assert account.host_edit.text() == ""  # example.org: no preset
    click(qtbot, wizard.button(NEXT))
    assert wizard.currentId() == PAGE_ACCOUNT
    assert account.status.kind == "error" and "does not know the mail servers of example.org" in account.status.text()
    assert "--smtp-host" not in account.status.text()  # plain words, not command-line options
    click(qtbot, wizard.button(LATER))
    assert wizard.currentId() == PAGE_SELF_TEST
    assert ctx.stores().accounts.list() == []
    qtbot.waitUntil(lambda: not wizard.self_test_page.running, timeout=WAIT_MS)
    assert "No mail account yet" in wizard.self_test_page.account_line.text()


@pytest.fixture
def silent_server() -> Iterator[tuple[str, int]]:
    """Accepts connections and never says a word (as a firewall that swallows them does)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()  # the abandoned test's connection ends now, not at its timeout
    listener.close()


def test_connection_test_on_a_silent_server_can_be_cancelled(qtbot, wizard: FirstRunWizard, ctx: GuiContext, pki: Pki,
                                                              silent_server: tuple[str, int]) -> None:  # type: ignore[no-untyped-def]
    import_p12(qtbot, wizard, pki["alice"].p12, pki.p12_password)
    click(qtbot, wizard.button(NEXT))
    account = wizard.account_page
    account.host_edit.setText(silent_server[0])
    account.port_spin.setValue(silent_server[1])
    click(qtbot, account.test_button)
    assert account.testing and account.cancel_test_button.isVisible() and "cancel" in account.status.text()
    qtbot.wait(300)  # connected, waiting for the greeting that never comes
    started = time.monotonic()
    click(qtbot, account.cancel_test_button)
    assert not account.testing and account.test_button.isEnabled() and not account.cancel_test_button.isVisible()
    assert account.status.kind == "warning" and "cancelled" in account.status.text()
    qtbot.waitUntil(lambda: not ctx.tasks._alive, timeout=2000)  # the pool is free again at once
    assert time.monotonic() - started < 2
    assert wizard.button(NEXT).isEnabled()


@pytest.mark.parametrize("where", ["unknown-host", "refused"])
def test_connection_errors_say_what_to_check_in_words(qtbot, wizard: FirstRunWizard, pki: Pki, where: str) -> None:  # type: ignore[no-untyped-def]
    import_p12(qtbot, wizard, pki["alice"].p12, pki.p12_password)
    click(qtbot, wizard.button(NEXT))
    account = wizard.account_page
    if where == "unknown-host":
        account.host_edit.setText("smtp.no-such-provider.invalid")
    else:
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        account.host_edit.setText("127.0.0.1")
        account.port_spin.setValue(port)
    click(qtbot, account.test_button)
    qtbot.waitUntil(lambda: not account.testing, timeout=WAIT_MS)
    text = account.status.text()
    assert account.status.kind == "error"
    assert "tried again" not in text and "[Errno" not in text and "Errno" not in text
    if where == "unknown-host":
        assert "smtp.no-such-provider.invalid" in text and ("no server called" in text or "could not be looked up" in text)
    else:
        assert f"does not accept connections on port {port}" in text and "587" in text
    assert account.test_details.isVisibleTo(account) and not account.test_details.expanded()
    assert "Error" in account.test_details.text() or "error" in account.test_details.text()  # the technical reason, behind Details


def test_presets_fill_the_servers_and_show_the_provider_note(wizard: FirstRunWizard) -> None:
    page = wizard.account_page
    page.email_edit.setText("dr.smith@gmail.com")
    assert (page.host_edit.text(), page.port_spin.value(), page.security_combo.currentData()) == ("smtp.gmail.com", 587, "starttls")
    assert page.user_edit.text() == "dr.smith@gmail.com"
    assert not page.provider_note.isHidden() and "app password" in page.provider_note.text()
    page.email_edit.setText("dr.smith@fastmail.com")
    assert (page.host_edit.text(), page.port_spin.value(), page.security_combo.currentData()) == ("smtp.fastmail.com", 465, "tls")
    page.email_edit.setText("dr.smith@practice.example")
    assert page.host_edit.text() == "" and page.provider_note.isHidden()
    # Fields stay editable, and switching security moves a standard port along.
    page.host_edit.setText("mail.practice.example")
    page.security_combo.setCurrentIndex(page.security_combo.findData("tls"))
    assert page.port_spin.value() == 465
    account = page.account()
    assert (account.smtp_host, account.smtp_port, account.security) == ("mail.practice.example", 465, "tls")


def test_self_test_asks_again_for_a_wrong_passphrase(qtbot, wizard: FirstRunWizard, ctx: GuiContext, pki: Pki,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import_p12(qtbot, wizard, pki["alice"].p12, pki.p12_password)
    fingerprint = ctx.stores().identities.list()[0].fingerprint
    wizard._passphrase = (fingerprint, b"wrong")  # as if the user mistyped it when asked
    asked: list[str] = []
    answers = [b"still wrong", pki.p12_password.encode()]

    def ask(_parent, _title, prompt):  # type: ignore[no-untyped-def]
        asked.append(prompt)
        return answers.pop(0)

    monkeypatch.setattr(ctx, "ask_secret", ask)
    click(qtbot, wizard.button(NEXT))
    click(qtbot, wizard.button(LATER))
    page = wizard.self_test_page
    qtbot.waitUntil(lambda: page.result is not None and not page.running, timeout=WAIT_MS)
    assert asked == ["That passphrase is not correct. Please type it again:"] * 2
    assert page.headline_text() == "Self-test passed, with a note"  # not "Self-test failed"
    assert page.result.passed


def test_cancelling_the_passphrase_stops_the_self_test(qtbot, wizard: FirstRunWizard, ctx: GuiContext, pki: Pki,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import_p12(qtbot, wizard, pki["alice"].p12, pki.p12_password)
    wizard._passphrase = None  # as after the assistant was opened again: the passphrase is asked
    monkeypatch.setattr(ctx, "identity_passphrase", lambda _parent: None)  # Cancel
    click(qtbot, wizard.button(NEXT))
    click(qtbot, wizard.button(LATER))
    page = wizard.self_test_page
    assert page.headline_text() == "Self-test not run: no passphrase was given."
    assert page.busy_bar.isHidden() and not page.running  # nothing keeps moving
    assert page.again_button.isEnabled() and wizard.button(FINISH).isEnabled()


def test_the_self_test_page_knows_an_account_saved_before(qtbot, wizard: FirstRunWizard, ctx: GuiContext, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    from smimehelper.core.transport.accounts import make_account

    import_p12(qtbot, wizard, pki["alice"].p12, pki.p12_password)
    ctx.stores().accounts.add(make_account("alice@example.org", smtp_host="mail.example.org", smtp_port=587,
                                           security="starttls"), None)
    click(qtbot, wizard.button(NEXT))
    click(qtbot, wizard.button(LATER))  # the account page skipped: the saved account is still there
    page = wizard.self_test_page
    qtbot.waitUntil(lambda: not page.running, timeout=WAIT_MS)
    assert "No mail account yet" not in page.account_line.text()
    assert "alice@example.org is set up" in page.account_line.text()


def test_untrusted_issuer_passes_with_a_note(qtbot, wizard: FirstRunWizard, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    import_p12(qtbot, wizard, pki["alice"].p12, pki.p12_password)  # test root not trusted here
    click(qtbot, wizard.button(NEXT))
    click(qtbot, wizard.button(LATER))
    page = wizard.self_test_page
    qtbot.waitUntil(lambda: not page.running, timeout=WAIT_MS)
    assert page.headline_text() == "Self-test passed, with a note"
    assert page.result is not None and page.result.passed
    assert any(step.warning and "not trusted" in step.detail for step in page.result.steps)


def test_demo_mode_creates_an_identity(qtbot, wizard: FirstRunWizard, ctx: GuiContext) -> None:  # type: ignore[no-untyped-def]
    page = wizard.certificate_page
    click(qtbot, page.demo_button)
    qtbot.waitUntil(lambda: not page.busy, timeout=WAIT_MS)
    assert page.status.kind == "ok", page.status.text()
    assert "Demo certificates are ready" in page.status.text()
    stores = ctx.stores()
    identities = stores.identities.list()
    assert [i.emails for i in identities] == [("dr.sender@example.com",)]
    assert page.email_value.text() == "dr.sender@example.com"
    assert "DEMO" in page.name_value.text() and page.issuer_value.text() == "smimehelper DEMO CA"
    assert any("DEMO CA" in t.cert.subject.rfc4514_string() for t in stores.trust.list())
    assert [c.email for c in stores.contacts.entries()] == ["dr.colleague@example.com"]
    assert wizard.demo is not None and wizard.demo.message.is_file() and wizard.demo.directory.parent == ctx.home
    click(qtbot, wizard.button(NEXT))
    assert wizard.account_page.intro.isVisible() and "demo certificates" in wizard.account_page.intro.text()
    click(qtbot, wizard.button(LATER))
    qtbot.waitUntil(lambda: not wizard.self_test_page.running, timeout=WAIT_MS)
    assert wizard.self_test_page.headline_text() == "Self-test passed"


@pytest.mark.parametrize("keep", [True, False])
def test_keyring_box(qtbot, wizard: FirstRunWizard, ctx: GuiContext, pki: Pki, keep: bool) -> None:  # type: ignore[no-untyped-def]
    keyring.set_keyring(MemoryKeyring())  # a secure keyring, as on a desktop (undone by isolated_home)
    page = wizard.certificate_page
    page.initializePage()
    assert page.keyring_box.isEnabled() and page.keyring_box.isChecked()
    assert "system keyring" in page.keyring_note.text() and "Untick" in page.keyring_note.text()
    page.keyring_box.setChecked(keep)
    import_p12(qtbot, wizard, pki["alice"].p12, pki.p12_password)
    assert page.status.kind == "ok"
    stored = ctx.stores().identities.list()[0]
    assert stored.protection == ("keyring" if keep else "passphrase")
    assert ("not be asked for it again" in page.status.text()) == keep


def test_dropping_a_p12_on_the_page_chooses_it(wizard: FirstRunWizard, pki: Pki) -> None:
    page = wizard.certificate_page
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(pki["alice"].p12))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    page.dropEvent(event)
    assert page.file_edit.text() == str(pki["alice"].p12)
    assert page.passphrase_edit.hasFocus()


def test_keyboard_and_tooltips(wizard: FirstRunWizard) -> None:
    page, account = wizard.certificate_page, wizard.account_page
    for widget in (page.file_edit, page.browse_button, page.passphrase_edit, page.import_button, page.demo_button,
                   account.email_edit, account.host_edit, account.port_spin, account.password_edit, account.test_button):
        assert widget.toolTip(), widget
        assert widget.focusPolicy() & Qt.FocusPolicy.TabFocus, widget
    for button in (page.browse_button, page.import_button, page.demo_button, account.test_button):
        assert "&" in button.text(), button.text()  # an Alt+letter shortcut
    assert "&" in wizard.buttonText(LATER)


def test_main_window_opens_the_assistant_without_a_certificate(qtbot, ctx: GuiContext) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication

    from smimehelper.gui.main_window import MainWindow

    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.start()

    def assistant() -> FirstRunWizard | None:
        return next((w for w in QApplication.topLevelWidgets() if isinstance(w, FirstRunWizard) and w.isVisible()), None)

    qtbot.waitUntil(lambda: assistant() is not None, timeout=WAIT_MS)
    wizard = assistant()
    assert wizard is not None and wizard.parent() is window
    click(qtbot, wizard.certificate_page.demo_button)
    qtbot.waitUntil(lambda: not wizard.certificate_page.busy, timeout=WAIT_MS)
    click(qtbot, wizard.button(NEXT))
    click(qtbot, wizard.button(LATER))
    qtbot.waitUntil(lambda: not wizard.self_test_page.running, timeout=WAIT_MS)
    click(qtbot, wizard.button(FINISH))
    assert not wizard.isVisible()
    assert [i.emails for i in ctx.stores().identities.list()] == [("dr.sender@example.com",)]


def test_a_login_certificate_is_refused_in_plain_words(qtbot, wizard: FirstRunWizard, ctx: GuiContext, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    """Not a green "Imported" for a certificate that cannot do e-mail (the store refuses it)."""
    page = wizard.certificate_page
    import_p12(qtbot, wizard, pki["wrongeku"].p12, pki.p12_password)
    assert page.status.kind == "error"
    text = page.status.text()
    assert "web server certificate" in text and "not an e-mail certificate" in text and "Nothing was imported" in text
    assert ctx.stores().identities.list() == [] and not wizard.button(NEXT).isEnabled()

"""The first-run assistant's "Sign in" instead of a password field, with the real judges:
node-oidc-provider's login page filled in by headless Chromium (Selenium), the loopback redirect
back to the app, then "Test connection" logging in to Dovecot's submission service with the
token (passdb oauth2 checks it at the provider). The window stays usable during the sign-in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from PySide6.QtCore import Qt

from smimehelper import services
from smimehelper.core.transport.accounts import preset_for
from smimehelper.gui.context import GuiContext
from smimehelper.gui.first_run import PAGE_ACCOUNT, FirstRunWizard
from smimehelper.gui.tasks import TaskRunner
from tests.memory_keyring import MemoryKeyring
from tests.transport.oauth_servers import Browser, BrowserUser, Judges
from tests.transport.servers import TlsMaterials, make_tls_materials

WAIT_MS = 90_000


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterials:
    return make_tls_materials(tmp_path_factory.mktemp("gui-oauth-tls"))


@pytest.fixture(scope="module")
def judges(tls: TlsMaterials) -> Iterator[Judges]:
    j = Judges(tls)
    yield j
    j.stop()


@pytest.fixture(scope="module")
def browser(tls: TlsMaterials) -> Iterator[Browser]:
    b = Browser(tls)
    yield b
    b.close()


@pytest.fixture
def wizard(tmp_path: Path, qtbot) -> Iterator[FirstRunWizard]:  # type: ignore[no-untyped-def]
    keyring.set_keyring(MemoryKeyring())
    ctx = GuiContext(home=tmp_path / "home", tasks=TaskRunner())
    wiz = FirstRunWizard(ctx)
    qtbot.addWidget(wiz)
    wiz.setStartId(PAGE_ACCOUNT)  # straight to the account page (the certificate is another test's job)
    wiz.show()
    wiz.restart()
    qtbot.waitExposed(wiz)
    assert wiz.currentId() == PAGE_ACCOUNT
    yield wiz
    ctx.tasks.wait()


def test_presets_offer_sign_in_instead_of_a_password(qtbot, wizard: FirstRunWizard) -> None:  # type: ignore[no-untyped-def]
    page = wizard.account_page
    page.email_edit.setText("dr@outlook.com")
    assert page.sign_in.method == "microsoft" and page.sign_in.isVisible()
    assert page.sign_in.button.text().replace("&", "") == "Sign in with Microsoft"
    assert not page.password_edit.isVisible() and page.sign_in.client_edit.isVisible()
    page.email_edit.setText("dr@gmail.com")
    assert page.sign_in.method == "google" and page.sign_in.button.text().replace("&", "") == "Sign in with Google"
    page.email_edit.setText("dr@icloud.com")
    assert page.sign_in.method == "password" and page.password_edit.isVisible() and not page.sign_in.isVisible()
    assert preset_for("dr@icloud.com").oauth is None  # type: ignore[union-attr]


def test_sign_in_in_the_browser_then_test_the_connection(qtbot, wizard: FirstRunWizard, judges: Judges,  # type: ignore[no-untyped-def]
                                                        browser: Browser) -> None:
    page = wizard.account_page
    d = judges.dovecot
    page.email_edit.setText(judges.oidc.user)
    page.host_edit.setText(d.host)
    page.port_spin.setValue(d.submission_port)
    page.cafile_edit.setText(str(judges.tls.cafile))
    page.sign_in.method_combo.setCurrentIndex(page.sign_in.method_combo.findData("custom"))
    assert page.sign_in.issuer_edit.isVisible() and not page.password_edit.isVisible()
    page.sign_in.issuer_edit.setText(judges.oidc.issuer)
    page.sign_in.client_edit.setText(judges.oidc.client_id)
    user = BrowserUser(browser)
    page.sign_in.open_browser = user  # the "system browser" is the real Chromium, driven by Selenium
    qtbot.mouseClick(page.sign_in.button, Qt.MouseButton.LeftButton)
    assert page.sign_in.busy and page.sign_in.cancel_button.isVisible() and not page.isComplete()
    qtbot.waitUntil(lambda: not page.sign_in.busy, timeout=WAIT_MS)
    user.join()
    assert page.sign_in.status.kind == "ok", page.sign_in.status.text()
    assert "Signed in with 127.0.0.1 as dentist@example.org" in page.sign_in.status.text()
    assert "system keyring" in page.sign_in.status.text()

    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.testing, timeout=WAIT_MS)
    assert page.status.kind == "ok", page.status.text()
    assert "logged in as dentist@example.org with your sign-in" in page.status.text()
    assert "method=XOAUTH2" in d.log_text()
    assert page.validatePage()
    saved = services.Stores.open(page._wizard.ctx.home).accounts.get(judges.oidc.user)
    assert saved.uses_oauth and saved.oauth_issuer == judges.oidc.issuer
    assert "you are signed in" in (page.saved or "")


def test_cancel_ends_the_wait(qtbot, wizard: FirstRunWizard, judges: Judges) -> None:  # type: ignore[no-untyped-def]
    page = wizard.account_page
    page.email_edit.setText(judges.oidc.user)
    page.host_edit.setText(judges.dovecot.host)
    page.cafile_edit.setText(str(judges.tls.cafile))
    page.sign_in.method_combo.setCurrentIndex(page.sign_in.method_combo.findData("custom"))
    page.sign_in.issuer_edit.setText(judges.oidc.issuer)
    page.sign_in.client_edit.setText(judges.oidc.client_id)
    urls: list[str] = []
    page.sign_in.open_browser = lambda url: urls.append(url) or True  # the user never signs in
    qtbot.mouseClick(page.sign_in.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(urls) and "open this address" in page.sign_in.status.text(), timeout=WAIT_MS)
    assert urls[0] in page.sign_in.status.text()
    qtbot.mouseClick(page.sign_in.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.sign_in.busy, timeout=10_000)
    assert page.sign_in.status.kind == "error" and "cancelled" in page.sign_in.status.text()
    assert page.isComplete()


def test_missing_app_id_is_explained(qtbot, wizard: FirstRunWizard) -> None:  # type: ignore[no-untyped-def]
    page = wizard.account_page
    page.email_edit.setText("dr@outlook.com")
    qtbot.mouseClick(page.sign_in.button, Qt.MouseButton.LeftButton)
    assert page.sign_in.status.kind == "error" and "client ID" in page.sign_in.status.text()
    assert not page.sign_in.busy


def test_outbox_of_a_signed_in_account_never_asks_for_a_password(qtbot, tmp_path: Path, judges: Judges,  # type: ignore[no-untyped-def]
                                                                 browser: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    from smimehelper.gui.outbox_view import OutboxView
    from smimehelper.services import signin

    keyring.set_keyring(MemoryKeyring())
    ctx = GuiContext(home=tmp_path / "home", tasks=TaskRunner())
    monkeypatch.setattr(ctx, "ask_secret", lambda *_a: pytest.fail("a password was asked for an account that signs in"))
    stores = services.Stores.open(ctx.home)
    account = judges.account()
    stores.accounts.add(account, None)
    user = BrowserUser(browser)
    signin.sign_in_account(stores, account, open_browser=user, timeout=60)
    user.join()
    message = tmp_path / "m.eml"
    message.write_bytes(b"From: dentist@example.org\r\nTo: ortho@example.net\r\nSubject: GUI\r\nMessage-ID: <gui-oauth@example.org>\r\n\r\nx\r\n")
    item = services.queue_message(stores, message, None)
    view = OutboxView(ctx)
    qtbot.addWidget(view)
    view.show()
    view.refresh()
    with qtbot.waitSignal(view.delivered, timeout=WAIT_MS):
        view.retry_all_button.click()
    assert stores.outbox.get(item.id).state == "sent", view.banner.text()

    judges.oidc.revoke(stores.accounts.tokens.refresh_token(account.email))  # type: ignore[arg-type]
    stores.accounts.tokens.drop_access(account.email)
    message.write_bytes(message.read_bytes().replace(b"gui-oauth@", b"gui-oauth-2@"))
    second = services.queue_message(stores, message, None)
    view.refresh()
    with qtbot.waitSignal(view.delivered, timeout=WAIT_MS):
        view.retry_all_button.click()
    assert "Sign in again" in view.banner.text()
    assert stores.outbox.get(second.id).state == "queued"
    ctx.tasks.wait()

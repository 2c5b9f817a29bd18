"""The trust dialog from the Open tab: a valid signature from a practice's own authority can be
trusted there, after comparing the fingerprint; a forged From line is never offered it.

Judges: ``openssl x509 -fingerprint`` for what the dialog asks to compare, ``openssl cms -sign``
(a real other implementation) for the signed messages.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest

from smimehelper import services
from smimehelper.gui.context import GuiContext
from smimehelper.gui.open_view import GOOD, OpenView
from smimehelper.gui.trust_dialog import CERTIFICATE, TrustDialog
from tests.practice_pki import DANA, P12_PASSPHRASE, PracticePki, openssl_fingerprint


@pytest.fixture
def view(qtbot, ctx: GuiContext, practice: PracticePki, monkeypatch: pytest.MonkeyPatch) -> OpenView:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(services, "clock", lambda: dt.datetime.now(dt.timezone.utc))
    stores = ctx.stores()
    stores.identities.import_pkcs12(practice / "dana.p12", lambda _p: P12_PASSPHRASE.encode())
    monkeypatch.setattr(ctx, "identity_passphrase", lambda _parent: P12_PASSPHRASE.encode())
    widget = OpenView(ctx)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def open_(qtbot, view: OpenView, path: Path) -> None:  # type: ignore[no-untyped-def]
    view.open_file(path)
    qtbot.waitUntil(lambda: view.opened is not None and not view.is_busy(), timeout=30000)


def test_trust_only_the_signers_certificate_from_open(qtbot, view: OpenView, ctx: GuiContext, practice: PracticePki,  # type: ignore[no-untyped-def]
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    open_(qtbot, view, practice / "sam-signed-bare.eml")
    assert not view.opened.all_good  # type: ignore[union-attr]
    assert "Smith Practice CA (Smith Dental), which is not among your trusted authorities" in view.verdict_details.text()
    assert view.trust_button.isVisibleTo(view)
    assert "CN=Dr Sam Smith" in view.technical.text() and not view.technical.expanded()

    def user(dialog: TrustDialog) -> int:
        assert dialog.authority.authority is None  # the mail carried only Sam's certificate
        assert not dialog.trust_button.isEnabled()
        dialog.certificate_choice.setChecked(True)
        assert "".join(dialog.fingerprint_text().split()) == openssl_fingerprint(practice / "sam.pem")
        assert "sign as them" in dialog.warning.text()
        dialog.compared.setChecked(True)
        dialog.trust_button.click()
        assert dialog.trusted == CERTIFICATE
        return 0

    monkeypatch.setattr(TrustDialog, "exec", user)
    view.trust_button.click()
    qtbot.waitUntil(lambda: view.opened is not None and not view.is_busy(), timeout=30000)
    assert view.opened.all_good and view.verdict_banner.level == GOOD  # type: ignore[union-attr]
    assert not view.trust_button.isVisibleTo(view)
    assert ctx.stores().trust.list() == []  # no authority was trusted on the way


def test_no_trust_offered_when_the_from_line_is_not_the_signer(qtbot, view: OpenView, practice: PracticePki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "letter.txt").write_bytes(b"Content-Type: text/plain\r\n\r\nPay this invoice.\r\n")
    forged = tmp_path / "forged.eml"
    subprocess.run(["openssl", "cms", "-sign", "-in", str(tmp_path / "letter.txt"), "-signer", str(practice / "sam.pem"),
                    "-inkey", str(practice / "sam.key"), "-from", "Bank <billing@bank.example>", "-to", DANA,
                    "-subject", "Invoice", "-out", str(forged)], check=True, capture_output=True)
    open_(qtbot, view, forged)
    assert not view.opened.all_good  # type: ignore[union-attr]
    assert not view.trust_button.isVisibleTo(view)

"""Shared fixtures for the desktop app's tests (pytest-qt's ``qtbot``; Qt runs offscreen).

``QT_QPA_PLATFORM`` defaults to ``offscreen`` here, so no display is needed. Every test already
has its own data folder and no OS keyring (the autouse ``isolated_home`` of tests/conftest.py).

Fixtures
--------
``ctx``
    ``GuiContext(home=<this test's isolated home>, tasks=TaskRunner())``: what every view takes.
    At teardown it waits for the background tasks it started, so none outlives its test.
``settle``
    ``settle(timeout_ms=30000)``: wait, processing Qt events, until every task started through
    ``ctx.tasks`` has finished *and* reported back on the GUI thread (``on_done``/``on_error``
    ran), including tasks those callbacks started in turn. Call it after an action that runs in
    the background (loading contacts, composing, sending) and before asserting on its result.
``pki_home``
    ``ctx``'s home set up like a real user's, returned as ``services.Stores``: ``services.clock``
    frozen at ``pki.now`` (REFERENCE_NOW of the test PKI), alice's identity imported (her key is
    protected by the passphrase ``PKI_PASSPHRASE`` = b"test-pass": there is no keyring), the test
    root trusted, and the contacts bob, carol and expired imported from their certificates.
    Views that ask for the passphrase call ``ctx.identity_passphrase(parent)``: monkeypatch it,
    e.g. ``monkeypatch.setattr(ctx, "identity_passphrase", lambda _parent: b"test-pass")``, as a
    real dialog would block the test.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from smimehelper import services  # noqa: E402
from smimehelper.gui.context import GuiContext  # noqa: E402
from smimehelper.gui.tasks import TaskRunner  # noqa: E402
from tests.pki.make_pki import Pki  # noqa: E402

PKI_PASSPHRASE = b"test-pass"
PKI_CONTACTS = ("bob", "carol", "expired")


@pytest.fixture
def ctx(qapp, isolated_home: Path) -> Iterator[GuiContext]:  # noqa: ANN001 (pytest-qt's QApplication)
    tasks = TaskRunner()
    context = GuiContext(home=isolated_home, tasks=tasks)
    yield context
    tasks.wait(60_000)
    qapp.processEvents()  # deliver the last reports while their views may still exist


@pytest.fixture
def settle(qtbot, ctx: GuiContext) -> Callable[..., None]:  # noqa: ANN001
    def wait(timeout_ms: int = 30_000) -> None:
        tasks = ctx.tasks
        qtbot.waitUntil(lambda: not tasks._alive and tasks.pool.activeThreadCount() == 0, timeout=timeout_ms)

    return wait


@pytest.fixture
def pki_home(ctx: GuiContext, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> services.Stores:
    monkeypatch.setattr(services, "clock", lambda: pki.now)
    stores = ctx.stores()
    stores.identities.import_pkcs12(pki.entity("alice").p12, lambda _prompt: PKI_PASSPHRASE)
    stores.trust.add(pki.root.cert_pem)
    services.import_contacts(stores, tuple(pki.entity(n).cert_pem for n in PKI_CONTACTS), lambda _prompt: PKI_PASSPHRASE)
    return stores


@pytest.fixture(autouse=True)
def no_modal_dialogs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dialog's ``exec()`` would wait for a click that never comes and hang the test run:
    fail at once instead, naming the dialog (tests replace the methods that open dialogs)."""
    from PySide6.QtWidgets import QDialog

    def refuse(self: QDialog, *_args: object) -> int:
        raise AssertionError(f"a modal dialog was opened in a test: {type(self).__name__} {self.windowTitle()!r}")

    monkeypatch.setattr(QDialog, "exec", refuse)

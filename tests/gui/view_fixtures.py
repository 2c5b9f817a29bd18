"""Fixtures shared by the Contacts, My certificates and Outbox tests: Alice's data folder (the
test PKI, its root trusted, time frozen at the PKI's instant), its stores, and a GUI context
whose secret prompt answers from ``ctx.answers``. Import the fixtures into a test module."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from smimehelper import services
from smimehelper.gui.context import GuiContext
from smimehelper.gui.tasks import TaskRunner
from tests.pki.make_pki import Pki

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


def answer(monkeypatch: pytest.MonkeyPatch, button: QMessageBox.StandardButton) -> list[str]:
    asked: list[str] = []

    def question(_parent, title, text, *_a, **_k):  # type: ignore[no-untyped-def]
        asked.append(f"{title}: {text}")
        return button

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked

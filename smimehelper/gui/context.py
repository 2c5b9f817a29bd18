"""What every view needs: the stores (per use, so a view never holds stale state), the task
runner, and a way to ask the user for a passphrase on the GUI thread before work starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

from .. import services
from .tasks import TaskRunner


@dataclass
class GuiContext:
    home: Path | None
    tasks: TaskRunner

    def stores(self) -> services.Stores:
        return services.Stores.open(self.home)

    def ask_secret(self, parent: QWidget, title: str, prompt: str) -> bytes | None:
        """Ask on the GUI thread; None when the user cancels."""
        text, ok = QInputDialog.getText(parent, title, prompt, QLineEdit.EchoMode.Password)
        return text.encode("utf-8") if ok else None

    def identity_passphrase(self, parent: QWidget) -> bytes | None:
        """The passphrase for the default identity, asked only when its key is passphrase-protected."""
        stores = self.stores()
        identities = stores.identities.list()
        if not identities or identities[0].protection != "passphrase":
            return b""
        return self.ask_secret(parent, "Your certificate", "Passphrase for your certificate:")

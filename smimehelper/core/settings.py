"""Small user settings (default identity, strict revocation), one versioned JSON file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .atomic import AtomicBatch
from .jsonstore import read_document, save_document, write_document

SCHEMA = 1


class Settings:
    def __init__(self, home: Path) -> None:
        self.path = home / "settings.json"

    def get(self, name: str, default: Any = None) -> Any:
        doc = read_document(self.path, "settings", SCHEMA) or {}
        return doc.get(name, default)

    def set(self, name: str, value: Any, *, batch: AtomicBatch | None = None) -> None:
        """Change one setting (with ``batch``: when the batch commits, with the other files)."""
        doc = read_document(self.path, "settings", SCHEMA) or {}
        body = {k: v for k, v in doc.items() if k not in ("kind", "schema")}
        body[name] = value
        if batch is not None:
            write_document(self.path, "settings", SCHEMA, body, batch=batch)
        else:
            save_document(self.path, "settings", SCHEMA, body)

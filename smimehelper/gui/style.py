"""Icons and small visual helpers shared by the views (high-DPI SVG icons from resources/)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from PySide6.QtGui import QIcon


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """An SVG icon from ``smimehelper/resources/icons`` (scales to any DPI)."""
    path = resources.files("smimehelper") / "resources" / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


def app_icon() -> QIcon:
    return icon("smimehelper")


STATUS_COLOURS = {
    "valid": "#1b7f3b",
    "revocation_unknown": "#9a6700",
    "expired": "#b3261e",
    "not_yet_valid": "#9a6700",
    "revoked": "#b3261e",
    "untrusted_issuer": "#b3261e",
    "wrong_usage": "#b3261e",
    "no_email": "#b3261e",
    "weak_key": "#b3261e",
    "missing": "#b3261e",
}

"""Where smimehelper keeps its state: one private folder per user.

The folder is the platform's user data directory (platformdirs), unless ``--home DIR`` or the
``SMIMEHELPER_HOME`` environment variable names another one (tests, a USB stick for portable
use). It is created with 0700 so other users of the computer cannot list it.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from .errors import InputFileError

ENVIRONMENT_VARIABLE = "SMIMEHELPER_HOME"


def resolve_home(explicit: Path | None = None) -> Path:
    if explicit is not None:
        home = Path(explicit)
    elif os.environ.get(ENVIRONMENT_VARIABLE):
        home = Path(os.environ[ENVIRONMENT_VARIABLE])
    else:
        home = Path(platformdirs.user_data_dir("smimehelper", appauthor=False))
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise InputFileError(f"Cannot use {home} as the smimehelper data folder: {exc.strerror}.") from None
    if not home.is_dir():
        raise InputFileError(f"{home} is not a folder; choose another data folder with --home.")
    return home

"""The console scripts of the environment the tests run in.

Looked up beside ``sys.executable`` (the venv's ``bin``), never on PATH: a fresh machine has no
``smimehelper`` on PATH (``scripts/test`` does not activate the venv), and an older install
elsewhere on PATH must never stand in for the code under test.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path


def console_script(name: str = "smimehelper") -> Path:
    """The path of console script ``name`` installed for this interpreter."""
    suffix = ".exe" if os.name == "nt" else ""
    candidates = [Path(sysconfig.get_path("scripts")) / f"{name}{suffix}", Path(sys.executable).parent / f"{name}{suffix}"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise AssertionError(
        f"the {name} console script is not installed for {sys.executable} "
        f"(looked in {', '.join(str(c.parent) for c in candidates)}); run: {sys.executable} -m pip install -e ."
    )

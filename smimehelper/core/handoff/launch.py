"""Start the user's mail program without ever waiting for it.

The program runs in its own session (POSIX ``start_new_session``; Windows
``DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP``) with no pipes to us, so it outlives us and
nothing we do blocks on it; a daemon thread reaps it if it exits while we still run (no
zombie). Only a start that fails at once (program missing, not executable) is reported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import UserError
from .profiles import Profile


class LaunchError(UserError):
    """The mail program could not be started."""


def thunderbird_command(profile: Profile, environ: Mapping[str, str] | None = None) -> list[str]:
    """How to start the Thunderbird that owns ``profile`` on it (raises if none is installed)."""
    environ = os.environ if environ is None else environ
    kind = profile.root.kind
    args = ["-profile", str(profile.path)]
    if kind == "snap":
        candidates = ["/snap/bin/thunderbird"]
    elif kind == "flatpak":
        flatpak = shutil.which("flatpak", path=environ.get("PATH"))
        if flatpak:
            return [flatpak, "run", "org.mozilla.Thunderbird", *args]
        candidates = []
    elif kind == "windows" or sys.platform == "win32":
        candidates = [
            str(Path(environ.get(var, "")) / "Mozilla Thunderbird" / "thunderbird.exe")
            for var in ("ProgramFiles", "ProgramFiles(x86)", "LOCALAPPDATA")
            if environ.get(var)
        ]
    elif kind == "macos" or sys.platform == "darwin":
        candidates = ["/Applications/Thunderbird.app/Contents/MacOS/thunderbird",
                      str(Path.home() / "Applications/Thunderbird.app/Contents/MacOS/thunderbird")]
    else:
        found = shutil.which("thunderbird", path=environ.get("PATH"))
        candidates = [found] if found else []
        candidates += ["/usr/bin/thunderbird", "/usr/lib/thunderbird/thunderbird", "/opt/thunderbird/thunderbird",
                       "/usr/local/bin/thunderbird"]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return [candidate, *args]
    raise LaunchError(
        "Thunderbird's settings are on this computer, but the Thunderbird program was not found. Send the "
        "message with smimehelper itself (Send) instead."
    )


def launch_detached(command: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """Start ``command`` detached (see module doc); returns its process id."""
    options: dict[str, object] = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "close_fds": True,
        "env": dict(os.environ if environ is None else environ),
    }
    if sys.platform == "win32":
        options["creationflags"] = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
    else:
        options["start_new_session"] = True
    try:
        proc = subprocess.Popen(list(command), **options)  # type: ignore[call-overload]
    except OSError as exc:
        raise LaunchError(
            f"Thunderbird could not be started ({exc.strerror or exc}). Your message is in its Outbox: start "
            "Thunderbird yourself and choose File > Send Unsent Messages."
        ) from None
    threading.Thread(target=proc.wait, name="reap-mail-program", daemon=True).start()
    return proc.pid

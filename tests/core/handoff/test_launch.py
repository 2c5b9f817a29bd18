"""Starting the mail program never waits for it (the old hand-off froze Compose while the mail
program ran): it runs in its own session, is reaped by a daemon thread, and a program that
cannot start at all is reported."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from smimehelper.core.handoff.launch import LaunchError, launch_detached, thunderbird_command
from smimehelper.core.handoff.profiles import Profile, ProfileRoot


def test_detached_start_returns_at_once_in_a_new_session_and_is_reaped() -> None:
    started = time.monotonic()
    pid = launch_detached(["/bin/sleep", "30"])
    assert time.monotonic() - started < 2
    try:
        assert os.getsid(pid) == pid and os.getsid(pid) != os.getsid(0)  # its own session
    finally:
        os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:  # reaped: no zombie left
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists()


def test_a_program_that_cannot_start_is_reported(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="could not be started.*File > Send Unsent Messages"):
        launch_detached([str(tmp_path / "no-such-thunderbird")])


def test_thunderbird_is_found_beside_its_profile_or_reported(tmp_path: Path) -> None:
    profile = Profile(path=tmp_path / "p", name="p", root=ProfileRoot("linux", tmp_path, True))
    program = tmp_path / "bin" / "thunderbird"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert thunderbird_command(profile, {"PATH": str(program.parent)})[:1] == [str(program)]
    assert thunderbird_command(profile, {"PATH": str(program.parent)})[1:] == ["-profile", str(profile.path)]
    snap = Profile(path=tmp_path / "p", name="p", root=ProfileRoot("snap", tmp_path, False))
    if not Path("/snap/bin/thunderbird").exists():
        with pytest.raises(LaunchError, match="program was not found"):
            thunderbird_command(snap, {"PATH": str(program.parent)})

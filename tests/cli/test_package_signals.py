"""Interrupting ``smimehelper package`` in a real process: Ctrl-C and SIGTERM leave nothing, kill -9
leaves no package (only the hidden temporary file the next run does not care about)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.console import console_script


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "study.bin"
    with open(path, "wb") as out:
        for _ in range(300):
            out.write(os.urandom(1 << 20))
    return path


def _start(big: Path, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(console_script()), "package", "--to", "dave@example.org", "--from", "alice@example.org", "--subject", "s",
         "--body", "b", "--attach", str(big), "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )


def _wait_until_writing(out: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        parts = list(out.parent.glob(f".{out.name}.*.part"))
        if parts and parts[0].stat().st_size > 10_000_000:
            return
        if proc.poll() is not None:
            raise AssertionError(f"finished before it could be interrupted: {proc.stderr.read()!r}")  # type: ignore[union-attr]
        time.sleep(0.01)
    raise AssertionError("never started writing")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 130)])
def test_interrupt_leaves_nothing(big: Path, tmp_path: Path, sig: int, code: int) -> None:
    out = tmp_path / "package.html"
    proc = _start(big, out)
    _wait_until_writing(out, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert b"Interrupted. Nothing was written." in err and b"Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_kill_9_leaves_no_package(big: Path, tmp_path: Path) -> None:
    out = tmp_path / "package.html"
    proc = _start(big, out)
    _wait_until_writing(out, proc)
    proc.kill()
    proc.wait(timeout=60)
    assert not out.exists()
    assert [p.name.startswith(".package.html.") and p.name.endswith(".part") for p in tmp_path.iterdir()] == [True]
    # The next run writes the package as if nothing had happened.
    small = tmp_path / "small.txt"
    small.write_text("x")
    done = subprocess.run([str(console_script()), "package", "--to", "dave@example.org", "--from", "alice@example.org",
                           "--subject", "s", "--body", "b", "--attach", str(small), "-o", str(out)], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.exists()

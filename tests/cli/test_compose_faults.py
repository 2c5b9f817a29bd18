"""``smimehelper compose`` as a real process under faults: signals, kill -9, a file changed by
another process, outputs that are no files. Each check watches the process from outside.

The compose runs on a large sparse attachment (fast to make, seconds to compose), and the fault
is injected once the message's temporary file has started to grow: the process is then surely
in the middle of reading, encrypting and writing. A real process composes at the real time, so
these tests use a PKI built around the real time (``pki`` below), not the frozen one.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.console import console_script
from tests.judges import openssl_decrypt, openssl_verify
from tests.pki.make_pki import Pki, build_pki

BIG = 480 * 1024 * 1024  # sparse: costs no disk; compose is fast, so the study is long enough to be mid-way when signalled
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The test PKI valid around the real time (the process's clock cannot be frozen)."""
    return build_pki(tmp_path_factory.mktemp("live-pki"), dt.datetime.now(dt.timezone.utc).replace(microsecond=0))


def compose_argv(pki: Pki, out: Path, *attachments: Path) -> list[str]:
    argv = [str(console_script()), "compose", "--from", "alice@example.org", "--to", "bob@example.org",
            "--subject", "Study", "--body", "Please see the study.", "--sign-key", str(pki["alice"].p12),
            "--passphrase-file", str(pki.passphrase_file), "--recipient-cert", str(pki["bob"].cert_pem), "-o", str(out)]
    for path in attachments:
        argv += ["--attach", str(path)]
    return argv


def parts(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.part"))


def big_file(tmp_path: Path, name: str = "study.dcm") -> Path:
    path = tmp_path / name
    with open(path, "wb") as handle:
        handle.write(os.urandom(1 << 20))  # some real bytes, then a sparse rest
        handle.truncate(BIG)
    return path


def start_and_wait_for_output(argv: list[str], folder: Path) -> subprocess.Popen[str]:
    """Start compose; return once its temporary file has grown past 1 MB (it is mid-way)."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = parts(folder)
        if found and found[0].stat().st_size > (1 << 20):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    proc.kill()
    out, err = proc.communicate()
    raise AssertionError(f"compose never got going (exit {proc.returncode}): {out} {err}")


@pytest.fixture
def outdir(tmp_path: Path) -> Path:
    folder = tmp_path / "outbox-folder"
    folder.mkdir()
    return folder


# --------------------------------------------------------------------------- signals


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_signal_during_compose_stops_cleanly(pki: Pki, tmp_path: Path, outdir: Path, signum: int, code: int) -> None:
    out = outdir / "referral.eml"
    proc = start_and_wait_for_output(compose_argv(pki, out, big_file(tmp_path)), outdir)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "Interrupted. Nothing was written." in stderr and "Traceback" not in stderr
    assert list(outdir.iterdir()) == []  # neither the message nor a .part


def test_a_part_left_by_kill_9_is_removed_by_the_next_compose(pki: Pki, tmp_path: Path, outdir: Path) -> None:
    out = outdir / "referral.eml"
    proc = start_and_wait_for_output(compose_argv(pki, out, big_file(tmp_path)), outdir)
    proc.kill()  # SIGKILL: no clean-up possible
    proc.communicate(timeout=60)
    left = parts(outdir)
    assert len(left) == 1 and not out.exists()
    users_file = outdir / ".notes.part"  # a user's own file with a similar name
    users_file.write_text("keep me")
    small = tmp_path / "small.txt"
    small.write_text("x-ray report")
    done = subprocess.run(compose_argv(pki, outdir / "second.eml", small), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in outdir.iterdir()) == [".notes.part", "second.eml"]


# --------------------------------------------------------------------------- another process changes the study


def test_study_truncated_by_another_process_mid_compose(pki: Pki, tmp_path: Path, outdir: Path) -> None:
    study = big_file(tmp_path)
    proc = start_and_wait_for_output(compose_argv(pki, outdir / "referral.eml", study), outdir)
    subprocess.run(["truncate", "-s", str(BIG // 2), str(study)], check=True)  # a real second process
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2, stderr
    assert f"The attachment {study} changed while it was being read" in stderr
    assert "Traceback" not in stderr
    assert list(outdir.iterdir()) == []


def test_study_replaced_by_another_process_mid_compose(pki: Pki, tmp_path: Path, outdir: Path) -> None:
    study = big_file(tmp_path)
    other = big_file(tmp_path, "other.dcm")
    proc = start_and_wait_for_output(compose_argv(pki, outdir / "referral.eml", study), outdir)
    subprocess.run(["mv", "-f", str(other), str(study)], check=True)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2, stderr
    assert "changed while it was being read" in stderr and "replaced" in stderr
    assert list(outdir.iterdir()) == []


# --------------------------------------------------------------------------- -o that is no file


def _quick(pki: Pki, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(compose_argv(pki, out), capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(not IS_ROOT, reason="as root, -o /dev/full used to replace the device (the issue's case)")
def test_output_device_is_refused_and_stays_a_device(pki: Pki) -> None:
    before = os.stat("/dev/full")
    done = _quick(pki, Path("/dev/full"))
    assert done.returncode == 2 and "is a device" in done.stderr, done.stderr
    after = os.stat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_output_fifo_and_socket_are_refused_without_hanging(pki: Pki, outdir: Path) -> None:
    fifo = outdir / "pipe.eml"
    os.mkfifo(fifo)
    sock_path = outdir / "sock.eml"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        for target, kind in ((fifo, "named pipe (FIFO)"), (sock_path, "socket")):
            done = _quick(pki, target)  # the timeout fails the test if it hangs
            assert done.returncode == 2 and kind in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert stat.S_ISFIFO(os.stat(fifo).st_mode) and stat.S_ISSOCK(os.stat(sock_path).st_mode)
        assert sorted(p.name for p in outdir.iterdir()) == ["pipe.eml", "sock.eml"]
    finally:
        server.close()


def test_output_symlink_is_written_through_atomically(pki: Pki, tmp_path: Path, outdir: Path) -> None:
    real = tmp_path / "archive" / "referral.eml"
    real.parent.mkdir()
    real.write_text("an older message")
    link = outdir / "latest.eml"
    link.symlink_to(real)
    done = _quick(pki, link)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and Path(os.readlink(link)) == real
    bob = pki["bob"]
    openssl_verify(openssl_decrypt(real, bob.cert_pem, bob.key_path), pki.root.cert_pem, attime=None)
    assert sorted(p.name for p in real.parent.iterdir()) == ["referral.eml"]
    assert sorted(p.name for p in outdir.iterdir()) == ["latest.eml"]

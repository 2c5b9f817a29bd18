"""The per-message lock with real processes: exclusive across processes and across two handles
of one process (the app's Outbox and Compose threads), released by the kernel when its holder
is killed, and respected by crash recovery and removal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from smimehelper.core.transport import locks
from smimehelper.core.transport.outbox import QUEUED, SENDING, Outbox, OutboxError

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from smimehelper.core.transport import locks
    held = locks.try_lock(Path(sys.argv[1]))
    print("held" if held else "busy", flush=True)
    time.sleep(120)
""")


def hold_in_child(path: Path) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def _queued(tmp_path: Path) -> tuple[Outbox, str]:
    message = tmp_path / "m.eml"
    message.write_bytes(b"From: a@example.org\r\nTo: b@example.org\r\n\r\nbody\r\n")
    outbox = Outbox(tmp_path / "home")
    item = outbox.enqueue(message, account="a@example.org", envelope_from="a@example.org", recipients=("b@example.org",), subject="s")
    return outbox, item.id


def test_two_handles_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    first = locks.try_lock(tmp_path / "lock")
    assert first is not None
    assert locks.try_lock(tmp_path / "lock") is None  # flock: per open file, so threads exclude too
    assert locks.holder(tmp_path / "lock") == os.getpid()
    first.release()
    again = locks.try_lock(tmp_path / "lock")
    assert again is not None
    again.release()


def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    child = hold_in_child(path)
    try:
        assert locks.try_lock(path) is None
        assert locks.holder(path) == child.pid
        assert locks.lock(path, wait=0.3) is None  # waiting is bounded
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    held = locks.lock(path, wait=5)  # the kernel released it with the process
    assert held is not None
    held.release()


def test_a_lock_is_not_inherited_by_programs_we_start(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    held = locks.try_lock(path)
    assert held is not None
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], close_fds=False)
    try:
        held.release()
        again = locks.try_lock(path)  # free although a child of ours still runs
        assert again is not None
        again.release()
    finally:
        child.kill()
        child.wait(10)


def test_recovery_leaves_a_message_alone_while_its_sender_lives(tmp_path: Path) -> None:
    outbox, item_id = _queued(tmp_path)
    outbox.mark(outbox.load(item_id), SENDING)  # type: ignore[arg-type]
    child = hold_in_child(outbox.lock_path(item_id))
    try:
        assert outbox.recover() == []
        assert outbox.load(item_id).state == SENDING  # type: ignore[union-attr]
        with pytest.raises(OutboxError, match=f"being sent right now \\(by smimehelper process {child.pid}\\)"):
            outbox.remove(item_id)
        assert outbox.try_hold(item_id) is None
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    (recovered,) = outbox.recover()  # its sender is gone: queued again, the user told why
    assert recovered.state == QUEUED and "may get it twice" in recovered.history[-1][2]
    outbox.remove(item_id)
    assert outbox.items() == []


def test_a_removed_message_cannot_be_locked_or_brought_back(tmp_path: Path) -> None:
    outbox, item_id = _queued(tmp_path)
    item = outbox.load(item_id)
    assert item is not None
    outbox.remove(item_id)
    assert outbox.try_hold(item_id) is None and outbox.load(item_id) is None
    with pytest.raises(OutboxError, match="no longer in the outbox"):
        outbox.mark(item, SENDING)
    assert not (outbox.folder / item_id).exists()


@pytest.mark.parametrize("address", ["bob@example.org\r\nRCPT TO:<eve@evil.example>", "bob @example.org", "<bob@example.org>", "bob", ""])
def test_envelope_addresses_that_could_smuggle_commands_are_refused(tmp_path: Path, address: str) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(b"From: a@example.org\r\nTo: b@example.org\r\n\r\nbody\r\n")
    with pytest.raises(OutboxError, match="cannot be sent to or from"):
        Outbox(tmp_path / "home").enqueue(message, account="a", envelope_from="a@example.org", recipients=(address,), subject="s")
    assert Outbox(tmp_path / "home").items() == []

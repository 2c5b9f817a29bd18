"""The per-message lock with real processes: exclusive across processes and across two handles
of one process (the app's Outbox and Compose threads), released by the kernel when its holder
is killed, not inherited by programs we start, and respected by crash recovery and removal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from smimehelper.core.transport.outbox import QUEUED, SENDING, Outbox, OutboxError

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from smimehelper.core.transport.outbox import Outbox
    held = Outbox(Path(sys.argv[1])).try_hold(sys.argv[2])
    print("held" if held else "busy", flush=True)
    time.sleep(120)
""")


def hold_in_child(outbox: Outbox, item_id: str) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(outbox.folder.parent), item_id], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def kill(child: subprocess.Popen) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)


def _queued(tmp_path: Path) -> tuple[Outbox, str]:
    message = tmp_path / "m.eml"
    message.write_bytes(b"From: a@example.org\r\nTo: b@example.org\r\n\r\nbody\r\n")
    outbox = Outbox(tmp_path / "home")
    item = outbox.enqueue(message, account="a@example.org", envelope_from="a@example.org", recipients=("b@example.org",), subject="s")
    return outbox, item.id


def test_two_threads_of_one_process_exclude_each_other(tmp_path: Path) -> None:
    outbox, item_id = _queued(tmp_path)
    first = outbox.try_hold(item_id)
    assert first is not None
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(outbox.try_hold(item_id)))
    thread.start()
    thread.join(10)
    assert seen == [None]  # the app's Compose and Outbox threads never both hold one message
    assert outbox.try_hold(item_id) is None  # nor two handles in one thread
    first.release()
    again = outbox.try_hold(item_id)
    assert again is not None
    again.release()
    assert oct(outbox.lock_path(item_id).stat().st_mode & 0o777) == "0o600"


def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    outbox, item_id = _queued(tmp_path)
    child = hold_in_child(outbox, item_id)
    try:
        assert outbox.try_hold(item_id) is None
        assert outbox.hold(item_id, wait=0.3) is None  # waiting is bounded
    finally:
        kill(child)
    held = outbox.hold(item_id, wait=5)  # the kernel released it with the process
    assert held is not None
    held.release()


def test_a_lock_is_not_inherited_by_programs_we_start(tmp_path: Path) -> None:
    outbox, item_id = _queued(tmp_path)
    held = outbox.try_hold(item_id)
    assert held is not None
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], close_fds=False)
    try:
        held.release()
        again = outbox.try_hold(item_id)  # free although a child of ours still runs
        assert again is not None
        again.release()
    finally:
        child.kill()
        child.wait(10)


def test_recovery_leaves_a_message_alone_while_its_sender_lives(tmp_path: Path) -> None:
    outbox, item_id = _queued(tmp_path)
    outbox.mark(outbox.load(item_id), SENDING)  # type: ignore[arg-type]
    child = hold_in_child(outbox, item_id)
    try:
        assert outbox.recover() == []
        assert outbox.load(item_id).state == SENDING  # type: ignore[union-attr]
        with pytest.raises(OutboxError, match="being sent right now"):
            outbox.remove(item_id)
    finally:
        kill(child)
    (recovered,) = outbox.recover()  # its sender is gone: queued again, the user told why
    assert recovered.state == QUEUED and "may get it twice" in recovered.history[-1][2]
    outbox.remove(item_id)
    assert outbox.items() == []
    outbox.recover()
    assert not outbox.lock_path(item_id).exists()  # the lock file of a removed message is cleaned up


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

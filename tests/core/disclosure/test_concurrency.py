"""Two processes at once, kill -9 in the middle of an append, a full disk, a read-only folder."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smimehelper.core.disclosure.store import DisclosureLog, LogWriteError
from smimehelper.core.disclosure.verify import verify_log
from tests.core.disclosure.helpers import transfer
from tests.pki.make_pki import REFERENCE_NOW
from tests.small_disk import small_disk  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[3]


def appender(folder: Path, count: int, padding: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.core.disclosure.appender", str(folder), str(count), str(padding)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_appending_at_once_keep_one_chain(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    procs = [appender(folder, 150, 600) for _ in range(2)]
    outputs = [p.communicate(timeout=240) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outputs]
    seqs = sorted(int(s) for out, _ in outputs for s in out.split())
    assert len(seqs) == 300 and len(set(seqs)) == 300  # every append got its own place
    log = DisclosureLog(folder)
    result = verify_log(log, REFERENCE_NOW)
    assert result.ok and result.entries == 301, result.findings
    assert sum(1 for e in log.entries() if e.kind == "transfer") == 300


def test_kill_9_during_appends_leaves_a_log_that_verifies(tmp_path: Path) -> None:
    """Kills at random moments of appending 5 MB entries: after each, the log verifies and every
    entry reported durable is there. (A kill lands inside write() only rarely, as the kernel
    copies 5 MB in a few ms; that torn-line case is made deterministically in test_store.)"""
    folder = tmp_path / "d"
    torn_seen = 0
    durable = 0
    for round_number in range(5):
        proc = appender(folder, 1000, 5_000_000)
        assert proc.stdout is not None
        first = proc.stdout.readline()  # at least one entry is durable in this round
        assert first.strip(), proc.stderr.read() if proc.stderr else ""
        time.sleep(random.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=60)
        durable += 1 + len(rest.split())
        log = DisclosureLog(folder)
        tail = log.path.read_bytes()[-1:]
        torn_seen += tail != b"\n"
        result = verify_log(log, REFERENCE_NOW)
        assert result.ok, (round_number, result.findings)
    log = DisclosureLog(folder)
    log.append("transfer", transfer(1).to_data(), REFERENCE_NOW)  # sets a torn tail aside, if any
    entries = list(log.entries())
    assert sum(1 for e in entries if e.kind == "transfer") >= durable + 1  # nothing printed as durable was lost
    torn_entries = [e for e in entries if e.kind == "torn"]
    for entry in torn_entries:
        assert (folder / entry.data["file"]).stat().st_size == entry.data["bytes"]
    assert verify_log(log, REFERENCE_NOW).ok
    print(f"rounds with a torn tail: {torn_seen}, torn entries recorded: {len(torn_entries)}")





def fill(folder: Path) -> None:
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


def test_a_full_disk_gives_a_clear_error_and_leaves_no_half_entry(small_disk: Path) -> None:
    log = DisclosureLog(small_disk / "d")
    log.append("transfer", transfer(1).to_data(), REFERENCE_NOW)
    fill(small_disk)
    written = 0
    with pytest.raises(LogWriteError, match=r"disk is full.*Nothing was sent"):
        for n in range(2, 200):  # the last page of the file may still hold a few entries
            before = log.path.read_bytes()
            log.append("transfer", transfer(n).to_data(), REFERENCE_NOW)
            written += 1
    assert log.path.read_bytes() == before  # the failed entry left no half line behind
    assert sum(1 for e in log.entries() if e.kind == "transfer") == 1 + written
    assert verify_log(log, REFERENCE_NOW).ok
    (small_disk / "filler").unlink()
    log.append("transfer", transfer(300).to_data(), REFERENCE_NOW)
    assert verify_log(log, REFERENCE_NOW).ok


def test_a_read_only_data_folder_gives_a_clear_error(small_disk: Path) -> None:
    log = DisclosureLog(small_disk / "d")
    log.append("transfer", transfer(1).to_data(), REFERENCE_NOW)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    with pytest.raises(LogWriteError, match=r"read-only.*Nothing was sent"):
        log.append("transfer", transfer(2).to_data(), REFERENCE_NOW)
    assert verify_log(log, REFERENCE_NOW).ok  # reading still works

"""Putting a message into Thunderbird's Outbox, attacked: hostile messages, FIFOs and devices,
a file that changes, a full disk, Ctrl-C, kill -9 half-way, a second process at once, a held
profile lock. What Thunderbird then does with the result is judged in tests/thunderbird."""

from __future__ import annotations

import json
import mailbox
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from smimehelper.core.errors import InputFileError
from smimehelper.core.handoff.message import UnsafeHandoff, check_message
from smimehelper.core.handoff.outbox import (
    ThunderbirdRunning,
    add_maildir,
    append_mbox,
    profile_lock,
    show_outbox_at_start,
)
from smimehelper.core.handoff.prefs import Identity, outbox, read_prefs
from smimehelper.core.handoff.profiles import Profile, ProfileRoot
from smimehelper.core.handoff.thunderbird import queue_in_outbox

HEAD = (b"From: Dr Alice <alice@example.org>\r\nTo: bob@example.org\r\nCc: Carol <carol@example.org>\r\n"
        b"Subject: Referral\r\nMessage-ID: <1@example.org>\r\nMIME-Version: 1.0\r\n")
ENCRYPTED = HEAD + (b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\r\n'
                    b"Content-Transfer-Encoding: base64\r\n\r\n" + b"MIAGCSqGSIb3DQEHA6CAMIACAQAx\r\n" * 2000)
SIGNED = HEAD + (b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="b"\r\n\r\n'
                 b"--b\r\nContent-Type: text/plain\r\n\r\nFrom the lab\r\n>From a quote\r\n>>From deeper\r\nFrom\r\n"
                 b"--b\r\nContent-Type: application/pkcs7-signature\r\n\r\nMIIB\r\n--b--\r\n")
IDENTITY = Identity(key="id1", account_key="account1", email="alice@example.org")
REPO = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, data: bytes, name: str = "m.eml") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def make_profile(tmp_path: Path, store: str = "mbox") -> Profile:
    path = tmp_path / "profile"
    path.mkdir()
    contract = "maildirstore" if store == "maildir" else "berkeleystore"
    (path / "prefs.js").write_text("".join(f'user_pref("{k}", "{v}");\n' for k, v in {
        "mail.accountmanager.accounts": "account1,account2",
        "mail.accountmanager.localfoldersserver": "server2",
        "mail.account.account1.identities": "id1",
        "mail.identity.id1.useremail": "alice@example.org",
        "mail.server.server2.hostname": "Local Folders",
        "mail.server.server2.userName": "nobody",
        "mail.server.server2.directory-rel": "[ProfD]Mail/Local Folders",
        "mail.server.server2.storeContractID": f"@mozilla.org/msgstore/{contract};1",
    }.items()))
    return Profile(path=path, name="test", root=ProfileRoot("linux", tmp_path, True))


def entries(profile: Profile) -> list[bytes]:
    """The Outbox entries as Thunderbird's mboxrd reader sees them (one '>' removed)."""
    box = mailbox.mbox(profile.path / "Mail" / "Local Folders" / "Unsent Messages", create=False)
    out = []
    for key in box.keys():
        raw = box.get_bytes(key)
        body = b"\n".join(line[1:] if line.lstrip(b">").startswith(b"From ") and line.startswith(b">") else line
                          for line in raw.split(b"\n"))
        out.append(body)
    box.close()
    return out


# -- which messages may leave -----------------------------------------------------------------


def test_protected_messages_pass_with_their_facts(tmp_path: Path) -> None:
    facts = check_message(write(tmp_path, ENCRYPTED))
    assert facts.protection == "encrypted" and facts.sender == "alice@example.org"
    assert facts.recipients == ("bob@example.org", "carol@example.org") and facts.newline == b"\r\n"
    assert check_message(write(tmp_path, SIGNED, "s.eml")).protection == "signed"


@pytest.mark.parametrize(("data", "error"), [
    (HEAD + b"Content-Type: text/plain\r\n\r\nPatient Mustermann\r\n", "neither encrypted nor signed"),
    (HEAD + b'Content-Type: multipart/signed; protocol="application/pgp-signature"\r\n\r\n', "neither encrypted nor signed"),
    (HEAD + b"Bcc: eve@example.org\r\n" + ENCRYPTED[len(HEAD):], "has a Bcc header"),
    (HEAD + b"Fcc: imap://eve@evil.example/Sent\r\n" + ENCRYPTED[len(HEAD):], "has a Fcc header"),
    (HEAD + b"Newsgroups: alt.test\r\n" + ENCRYPTED[len(HEAD):], "has a Newsgroups header"),
    (HEAD + b"X-Identity-Key: id2\r\n" + ENCRYPTED[len(HEAD):], "has a X-Identity-Key header"),
    (b"X-Mozilla-Status: 0001\r\n" + ENCRYPTED, "bookkeeping headers"),
    (ENCRYPTED.replace(b"To: bob@example.org\r\nCc: Carol <carol@example.org>\r\n", b""), "no recipient"),
    (ENCRYPTED.replace(b"From: Dr Alice <alice@example.org>", b"From: a@example.org, b@example.org"), "exactly one sender"),
    (b"From alice@example.org Mon Jan  1 00:00:00 2026\r\n" + ENCRYPTED, "mbox 'From ' line"),
])
def test_unsafe_messages_are_refused(tmp_path: Path, data: bytes, error: str) -> None:
    with pytest.raises(UnsafeHandoff, match=error):
        check_message(write(tmp_path, data))


def test_folders_fifos_devices_and_empty_files_are_not_messages(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.eml"
    os.mkfifo(fifo)
    for path in (tmp_path, fifo, Path("/dev/zero"), write(tmp_path, b"", "empty.eml"), tmp_path / "missing.eml"):
        with pytest.raises(InputFileError):
            check_message(path)  # a FIFO is never opened, so this cannot hang


# -- writing the entry ------------------------------------------------------------------------


def test_mbox_entries_are_escaped_headed_and_complete(tmp_path: Path) -> None:
    profile = make_profile(tmp_path)
    box = outbox(profile.path, read_prefs(profile.path))
    mbox = box.path
    mbox.parent.mkdir(parents=True)
    mbox.write_bytes(b"From - Mon Jan 01 00:00:00 2026\r\nX-Mozilla-Status: 0808\r\n\r\nold, damaged: no newline")
    for data in (SIGNED, ENCRYPTED):
        with open(write(tmp_path, data), "rb") as source:
            append_mbox(box, source, len(data), IDENTITY, b"\r\n")
    raw = mbox.read_bytes()
    assert raw.startswith(b"From - Mon Jan 01 00:00:00 2026\r\nX-Mozilla-Status: 0808\r\n\r\nold, damaged: no newline\r\nFrom - ")
    assert raw.count(b"X-Mozilla-Status: 0800\r\nX-Mozilla-Status2: 00000000\r\nX-Identity-Key: id1\r\nX-Account-Key: account1\r\n") == 2
    assert b"\r\n>From the lab\r\n>>From a quote\r\n>>>From deeper\r\nFrom\r\n" in raw  # body only; "From" alone is no separator
    assert b"\r\nFrom: Dr Alice" in raw  # headers are never escaped
    assert raw.endswith(ENCRYPTED + b"\r\n")  # the blank line Thunderbird's parser drops


def test_maildir_gets_one_complete_file(tmp_path: Path) -> None:
    profile = make_profile(tmp_path, "maildir")
    box = outbox(profile.path, read_prefs(profile.path))
    with open(write(tmp_path, SIGNED), "rb") as source:
        entry = add_maildir(box, source, len(SIGNED), IDENTITY, b"\r\n")
    assert entry.path.parent == box.path / "cur" and not list((box.path / "tmp").iterdir())
    assert entry.path.read_bytes() == b"X-Mozilla-Status: 0800\r\nX-Mozilla-Status2: 00000000\r\nX-Identity-Key: id1\r\nX-Account-Key: account1\r\n" + SIGNED
    assert oct(entry.path.stat().st_mode & 0o777) == "0o600"


class _Exploding:
    """A message source that fails after ``lines`` lines (Ctrl-C, a vanished USB stick)."""

    def __init__(self, path: Path, lines: int, error: BaseException) -> None:
        self.handle = open(path, "rb")
        self.left = lines
        self.error = error

    def readline(self, limit: int = -1) -> bytes:
        self._tick()
        return self.handle.readline(limit)

    def read(self, size: int = -1) -> bytes:
        self._tick()
        return self.handle.read(min(size, 1000))

    def _tick(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise self.error


@pytest.mark.parametrize("error", [KeyboardInterrupt(), OSError(5, "Input/output error")])
def test_a_failure_half_way_leaves_the_outbox_as_it_was(tmp_path: Path, error: BaseException) -> None:
    profile = make_profile(tmp_path)
    box = outbox(profile.path, read_prefs(profile.path))
    with open(write(tmp_path, SIGNED), "rb") as source:
        append_mbox(box, source, len(SIGNED), IDENTITY, b"\r\n")
    before = box.path.read_bytes()
    with pytest.raises(type(error)):
        append_mbox(box, _Exploding(write(tmp_path, ENCRYPTED, "e.eml"), 30, error), len(ENCRYPTED), IDENTITY, b"\r\n")  # type: ignore[arg-type]
    assert box.path.read_bytes() == before


def test_a_file_that_changes_while_read_is_refused(tmp_path: Path) -> None:
    profile = make_profile(tmp_path)
    box = outbox(profile.path, read_prefs(profile.path))
    path = write(tmp_path, ENCRYPTED)
    for claimed in (len(ENCRYPTED) - 100, len(ENCRYPTED) + 100):  # it shrank / it grew since it was checked
        with open(path, "rb") as source, pytest.raises(InputFileError, match="changed while"):
            append_mbox(box, source, claimed, IDENTITY, b"\r\n")
    assert box.path.read_bytes() == b""


CHILD = textwrap.dedent('''
    import resource, signal, sys
    from pathlib import Path
    from smimehelper.core.handoff.profiles import Profile, ProfileRoot
    from smimehelper.core.handoff.thunderbird import queue_in_outbox
    profile = Path(sys.argv[1]); message = Path(sys.argv[2]); mode = sys.argv[3]
    if mode == "full-disk":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        limit = (profile / "Mail" / "Local Folders" / "Unsent Messages").stat().st_size + 50_000
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    if mode == "slow":
        import smimehelper.core.handoff.outbox as outbox, time
        real = outbox._copy
        def slow(source, out, **kw):
            class Slow:
                def readline(self, limit=-1):
                    return self.read(-1, source.readline(limit))
                def read(self, size=-1, data=None):
                    data = source.read(min(size, 1024)) if data is None else data
                    out.flush(); print("copying", flush=True); time.sleep(0.001)
                    return data
            return real(Slow(), out, **kw)
        outbox._copy = slow
    try:
        queue_in_outbox(message, Profile(path=profile, name="p", root=ProfileRoot("linux", profile.parent, True)))
    except Exception as exc:
        print("ERROR", exc, flush=True)
        sys.exit(2)
    print("DONE", flush=True)
''')


def _child(profile: Profile, message: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(profile.path), str(message), mode], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_full_disk_is_reported_and_nothing_is_left(tmp_path: Path) -> None:
    profile = make_profile(tmp_path)
    queue_in_outbox(write(tmp_path, SIGNED, "first.eml"), profile)
    mbox = profile.path / "Mail" / "Local Folders" / "Unsent Messages"
    before = mbox.read_bytes()
    child = _child(profile, write(tmp_path, ENCRYPTED * 4), "full-disk")
    out, err = child.communicate(timeout=60)
    assert child.returncode == 2 and "Could not put the message into Thunderbird's Outbox" in out and "nothing was changed" in out, err
    assert mbox.read_bytes() == before


def test_kill_9_half_way_leaves_only_a_deleted_fragment(tmp_path: Path) -> None:
    """The entry is written as deleted (X-Mozilla-Status 0808) and flipped to queued only when
    complete: a killed hand-off leaves nothing Thunderbird would send (tests/thunderbird checks
    that the real Thunderbird then sends only the next, complete one)."""
    profile = make_profile(tmp_path)
    child = _child(profile, write(tmp_path, ENCRYPTED), "slow")
    assert child.stdout is not None
    for _ in range(20):
        assert child.stdout.readline().startswith("copying")
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    raw = (profile.path / "Mail" / "Local Folders" / "Unsent Messages").read_bytes()
    assert b"X-Mozilla-Status: 0808" in raw and b"X-Mozilla-Status: 0800" not in raw
    assert len(raw) < len(ENCRYPTED)
    queue_in_outbox(write(tmp_path, SIGNED, "next.eml"), profile)  # the next hand-off is whole
    raw = (profile.path / "Mail" / "Local Folders" / "Unsent Messages").read_bytes()
    assert raw.count(b"X-Mozilla-Status: 0800") == 1 and raw.endswith(b"\r\n>>>From deeper\r\nFrom\r\n--b\r\nContent-Type: application/pkcs7-signature\r\n\r\nMIIB\r\n--b--\r\n\r\n")
    assert b"\nFrom - " in raw  # the fragment's last line was ended before the new separator


def test_two_processes_at_once_both_land_whole(tmp_path: Path) -> None:
    profile = make_profile(tmp_path)
    messages = [write(tmp_path, ENCRYPTED.replace(b"<1@", f"<{i}@".encode()), f"m{i}.eml") for i in range(2)]
    children = [_child(profile, m, "slow") for m in messages]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0 and out.rstrip().endswith("DONE"), err
    found = sorted(e.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n") for e in entries(profile))
    assert len(found) == 2
    for message, entry in zip(sorted(m.read_bytes() for m in messages), found):
        assert entry.endswith(message + b"\r\n") or entry.endswith(message)


def test_thunderbird_holding_the_lock_is_recognised_at_once(tmp_path: Path) -> None:
    profile = make_profile(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f'''
        import fcntl, os, sys, time
        fd = os.open({str(profile.path / ".parentlock")!r}, os.O_WRONLY | os.O_CREAT)
        fcntl.lockf(fd, fcntl.LOCK_EX)
        os.symlink("127.0.0.1:+%d" % os.getpid(), {str(profile.path / "lock")!r})
        print("locked", flush=True)
        time.sleep(60)
    ''')], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(ThunderbirdRunning, match="Thunderbird is open. Close Thunderbird"):
            queue_in_outbox(write(tmp_path, ENCRYPTED), profile)
        assert time.monotonic() - started < 2
        assert not (profile.path / "Mail").exists()
    finally:
        holder.kill()
        holder.wait()
    # Its lock died with it; the "+" link left behind is stale, as Thunderbird itself decides.
    assert (profile.path / "lock").is_symlink()
    queue_in_outbox(write(tmp_path, ENCRYPTED), profile)


def test_another_holder_without_thunderbirds_link_is_waited_for_then_named(tmp_path: Path) -> None:
    profile = make_profile(tmp_path)
    with profile_lock(profile.path):
        child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f'''
            from pathlib import Path
            from smimehelper.core.handoff.outbox import profile_lock, ThunderbirdRunning
            try:
                with profile_lock(Path({str(profile.path)!r}), wait=0.5):
                    print("got it")
            except ThunderbirdRunning as exc:
                print(exc)
        ''')], cwd=REPO, stdout=subprocess.PIPE, text=True)
        out, _ = child.communicate(timeout=30)
    assert "profile is busy" in out


def test_session_points_thunderbird_at_the_outbox(tmp_path: Path) -> None:
    profile = make_profile(tmp_path)
    box = outbox(profile.path, read_prefs(profile.path))
    session = profile.path / "session.json"
    assert show_outbox_at_start(profile.path, box)  # none yet: a minimal one
    assert json.loads(session.read_text())["windows"][0]["tabs"]["tabs"][0]["state"]["folderURI"] == box.uri
    session.write_text(json.dumps({"rev": 3, "windows": [{"type": "3pane", "tabs": {"rev": 1, "selectedIndex": 1, "tabs": [
        {"mode": "calendar", "state": {}},
        {"mode": "mail3PaneTab", "state": {"folderURI": "imap://a@b/INBOX", "folderPaneVisible": False}},
    ]}}]}))
    assert show_outbox_at_start(profile.path, box)
    tabs = json.loads(session.read_text())["windows"][0]["tabs"]
    assert tabs["selectedIndex"] == 1 and tabs["tabs"][1]["state"] == {"folderURI": box.uri, "folderPaneVisible": False}
    assert tabs["tabs"][0] == {"mode": "calendar", "state": {}}
    for odd in ("{not json", json.dumps({"windows": "nope"}), json.dumps([1, 2])):
        session.write_text(odd)
        assert not show_outbox_at_start(profile.path, box)
        assert session.read_text() == odd  # left alone


def _reference_escape(message: bytes) -> bytes:
    head, sep, body = message.partition(b"\r\n\r\n")
    lines = body.split(b"\n")
    return head + sep + b"\n".join(b">" + line if line.lstrip(b">").startswith(b"From ") else line for line in lines)


@pytest.mark.parametrize("shift", [0, 1, 3, 5, 6, 7])
def test_escaping_is_exact_across_chunk_boundaries_and_giant_lines(tmp_path: Path, shift: int) -> None:
    from smimehelper.core.handoff.outbox import CHUNK

    header = HEAD + b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"\r\n\r\n"
    filler = b"x" * (CHUNK - len(header) - shift) + b"\r\n"  # the next line starts right at (or near) the boundary
    giant = b"From " + b"y" * (2 * CHUNK) + b"\r\n"  # longer than a chunk, escaped once
    message = header + filler + b">>From the boundary\r\n" + giant + b"From\r\nFrom x\r\nlast From line without end"
    profile = make_profile(tmp_path)
    box = outbox(profile.path, read_prefs(profile.path))
    with open(write(tmp_path, message), "rb") as source:
        append_mbox(box, source, len(message), IDENTITY, b"\r\n")
    raw = box.path.read_bytes()
    start = raw.index(HEAD)
    assert raw[start:] == _reference_escape(message) + b"\r\n\r\n"  # line ended, then the blank line

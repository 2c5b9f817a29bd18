"""``smimehelper inbox`` end to end, as a user runs it, against the real Dovecot.

The mailbox holds every message of the interop corpus (made at test time by ``openssl cms`` and
NSS ``cmsutil``, tests/interop/corpus.py), one made by smimehelper, and mail that is not S/MIME.
Each S/MIME message must be listed and, opened from the server, get exactly the verdict, text,
files and exit code that ``smimehelper open`` gives on the same bytes (and that the corpus
established with the producing tools). The server keeps every message; only opened ones become
\\Seen. Plaintext-only IMAP and a wrong host name are refused before any password is sent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from smimehelper.cli.main import main
from smimehelper.core.transport.inbox import SPOOL_PREFIX
from tests.console import console_script
from tests.core.helpers import compose
from tests.interop.corpus import Vector, build_corpus
from tests.pki.make_pki import Pki
from tests.transport.inbox_helpers import (
    PlaintextDovecot,
    TcpProxy,
    append_bytes,
    append_file,
    stored_flags,
    uids,
)
from tests.transport.servers import IMAP_PASSWORD, DovecotServer, TlsMaterials, imap_fetch_all

NOT_SMIME = (
    b"From: a@example.org\r\nTo: dentist@example.org\r\nSubject: lunch\r\nContent-Type: text/plain\r\n\r\nNoon?\r\n",
    b"From: a@example.org\r\nSubject: pgp\r\nContent-Type: multipart/signed; protocol=\"application/pgp-signature\";"
    b" boundary=\"b\"\r\n\r\n--b\r\n\r\nhi\r\n--b\r\nContent-Type: application/pgp-signature\r\n\r\nsig\r\n--b--\r\n",
)


@pytest.fixture(scope="module")
def vectors(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> list[Vector]:
    return build_corpus(pki, tmp_path_factory.mktemp("inbox-cli-corpus"))


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str], password: Path) -> None:
        self.capsys, self.password = capsys, password

    def __call__(self, *args: object) -> tuple[int, str, str]:
        self.capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = self.capsys.readouterr()
        assert "Traceback" not in out.err and "Something went wrong inside" not in out.err, out.err
        return code, out.out, out.err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    password = tmp_path / "imap-password.txt"
    password.write_text(IMAP_PASSWORD + "\n")
    return Cli(capsys, password)


def add_account(cli: Cli, server: DovecotServer, *, host: str | None = None, port: int | None = None, security: str = "starttls") -> None:
    port = port or (server.port if security == "starttls" else server.imaps_port)
    code, _, err = cli("account", "add", "--email", "dentist@example.org", "--smtp-host", "127.0.0.1",
                       "--username", server.user, "--cafile", server.cafile, "--imap-host", host or server.host,
                       "--imap-port", port, "--imap-security", security)
    assert code == 0, err


def key_args(pki: Pki, who: str | None) -> list[object]:
    return [] if who is None else ["--key", pki.entity(who).p12, "--passphrase-file", pki.passphrase_file]


def test_every_corpus_message_is_listed_and_opened_like_open(clean_dovecot: DovecotServer, vectors: list[Vector], pki: Pki,
                                                             cli: Cli, tmp_path: Path) -> None:
    ours = tmp_path / "smimehelper.eml"
    scan = tmp_path / "scan.bin"
    scan.write_bytes(os.urandom(300_000))
    compose(pki, ours, attachments=(scan,), subject="[smimehelper interop] smimehelper-compose")
    messages: list[tuple[str, Path, str | None]] = [(v.name, v.path, v.recipient) for v in vectors]
    messages.append(("smimehelper-compose", ours, "bob"))
    append_bytes(clean_dovecot, "INBOX", NOT_SMIME[0])
    for _, path, _ in messages:
        append_file(clean_dovecot, "INBOX", path)
    append_bytes(clean_dovecot, "INBOX", NOT_SMIME[1])
    add_account(cli, clean_dovecot)

    code, out, err = cli("inbox", "list", "--password-file", cli.password, "--json")
    assert code == 0, err
    listing = json.loads(out)
    assert listing["found_by"] == {"INBOX": "search"}
    listed = {m["subject"].rsplit(" ", 1)[-1]: m for m in listing["messages"]}
    assert sorted(listed) == sorted(name for name, _, _ in messages)  # all of them, and nothing else
    assert [m["uid"] for m in listing["messages"]] == sorted((m["uid"] for m in listing["messages"]), reverse=True)
    assert all(m["verdict"] is None and m["seen"] is False for m in listing["messages"])
    server_uids = uids(clean_dovecot, "INBOX")

    for index, (name, path, recipient) in enumerate(messages):
        entry = listed[name]
        assert entry["size"] == path.stat().st_size
        expected_code, expected_out, _ = cli("open", path, *key_args(pki, recipient), "--trust", pki.root.cert_pem, "--json")
        code, out, err = cli("inbox", "open", entry["uid"], "--uidvalidity", entry["uidvalidity"], "--password-file", cli.password,
                             *key_args(pki, recipient), "--trust", pki.root.cert_pem, "--json")
        got = json.loads(out)
        mailbox = got.pop("mailbox")
        assert (code, got) == (expected_code, json.loads(expected_out)), (name, err)
        assert mailbox == {"account": "dentist@example.org", "folder": "INBOX", "uid": entry["uid"],
                           "uidvalidity": entry["uidvalidity"], "marked_read": True}
        seen = stored_flags(clean_dovecot, "INBOX")
        opened_so_far = {server_uids.index(listed[n]["uid"]) for n, _, _ in messages[: index + 1]}
        assert [i for i, flags in enumerate(seen) if "\\Seen" in flags] == sorted(opened_so_far), name

    # The server still holds every message, byte for byte; the list now shows the verdicts.
    stored = imap_fetch_all(clean_dovecot, "INBOX")
    assert len(stored) == len(messages) + 2 and stored[1:-1] == [p.read_bytes() for _, p, _ in messages]
    code, out, _ = cli("inbox", "list", "--password-file", cli.password, "--json")
    after = {m["subject"].rsplit(" ", 1)[-1]: m for m in json.loads(out)["messages"]}
    for vector in vectors:
        verdict = after[vector.name]["verdict"]
        good = all(s.valid and s.trusted for s in vector.signatures)
        assert verdict is not None and after[vector.name]["seen"]
        assert (verdict["level"] == "problem") == (not good), (vector.name, verdict)
    assert after["smimehelper-compose"]["verdict"]["summary"] == "valid and trusted"
    code, out, _ = cli("inbox", "list", "--password-file", cli.password)
    assert code == 0 and "opened: valid and trusted" in out and "openssl-enc-rsa-aes256-cbc" in out


def test_save_attachments_and_contacts_as_open_does(clean_dovecot: DovecotServer, vectors: list[Vector], pki: Pki,
                                                    cli: Cli, tmp_path: Path) -> None:
    vector = next(v for v in vectors if v.name == "nss-nested-signed-then-encrypted")
    append_file(clean_dovecot, "INBOX", vector.path)
    add_account(cli, clean_dovecot)
    uid = uids(clean_dovecot, "INBOX")[0]
    code, out, err = cli("inbox", "open", uid, "--password-file", cli.password, *key_args(pki, vector.recipient),
                         "--trust", pki.root.cert_pem, "--save-attachments", tmp_path / "saved")
    assert code == 0, err
    assert "Everything checks out." in out and "saved to" in out
    saved = sorted(p.name for p in (tmp_path / "saved").iterdir())
    assert saved == sorted(name for name, _ in vector.attachments)
    for name, data in vector.attachments:
        assert (tmp_path / "saved" / name).read_bytes() == data
        assert (tmp_path / "saved" / name).stat().st_mode & 0o777 == 0o600
    code, out, _ = cli("contacts", "list", "--json")
    signer = pki.entity(vector.signatures[0].signer).email
    assert signer in out  # harvested like 'open' does


def test_folders_are_listed_and_chosen(clean_dovecot: DovecotServer, vectors: list[Vector], cli: Cli) -> None:
    from tests.transport.servers import imap_connect

    with imap_connect(clean_dovecot) as conn:
        assert conn.create('"Referrals"')[0] == "OK"
    append_file(clean_dovecot, "INBOX", vectors[0].path)
    append_file(clean_dovecot, "Referrals", vectors[1].path)
    add_account(cli, clean_dovecot)
    code, out, _ = cli("inbox", "folders", "--password-file", cli.password, "--json")
    data = json.loads(out)
    assert data["chosen"] == ["INBOX"] and [f["name"] for f in data["folders"]][0] == "INBOX"
    assert {"Referrals", "Sent", "Drafts", "Trash"} <= {f["name"] for f in data["folders"]}
    code, out, _ = cli("inbox", "list", "--password-file", cli.password, "--folder", "Referrals", "--json")
    assert [m["folder"] for m in json.loads(out)["messages"]] == ["Referrals"]
    code, out, err = cli("inbox", "folders", "--password-file", cli.password, "--choose", "INBOX", "--choose", "Referrals")
    assert code == 0 and "* Referrals" in out and "* INBOX" in out, err
    code, out, _ = cli("inbox", "list", "--password-file", cli.password, "--json")
    assert sorted(m["folder"] for m in json.loads(out)["messages"]) == ["INBOX", "Referrals"]
    code, out, err = cli("inbox", "folders", "--password-file", cli.password, "--choose", "Nowhere")
    assert code == 2 and "no folder 'Nowhere'" in err
    code, out, err = cli("inbox", "open", "1", "--folder", "Nowhere", "--password-file", cli.password)
    assert code == 2 and "There is no folder 'Nowhere'" in err and out == ""


def test_bad_input_is_a_clear_error(clean_dovecot: DovecotServer, cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("inbox", "list", "--password-file", cli.password)
    assert code == 2 and "No mail account is set up" in err
    cli("account", "add", "--email", "nobody@example.org", "--smtp-host", "127.0.0.1")
    code, _, err = cli("inbox", "list")
    assert code == 2 and "No IMAP server is set up for nobody@example.org" in err
    cli("account", "remove", "nobody@example.org")
    add_account(cli, clean_dovecot)
    code, _, err = cli("inbox", "list")  # no password: no keyring here, no terminal in tests
    assert code == 2 and "--password-file" in err
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not-the-password")
    code, _, err = cli("inbox", "list", "--password-file", wrong)
    assert code == 2 and "refused the login" in err
    code, _, err = cli("inbox", "open", "4711", "--password-file", cli.password)
    assert code == 2 and "There is no message 4711 in INBOX" in err
    code, _, err = cli("inbox", "list", "--limit", "0", "--password-file", cli.password)
    assert code == 2 and "--limit" in err
    code, _, err = cli("inbox", "open", "1", "--folder", "IN\r\nBOX", "--password-file", cli.password)
    assert code == 2 and "line breaks" in err


# -- refused connections ------------------------------------------------------------------------

@pytest.fixture
def plaintext_dovecot(tls_materials: TlsMaterials):  # type: ignore[no-untyped-def]
    server = PlaintextDovecot(tls_materials)
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("security,words", [
    ("starttls", "does not offer STARTTLS; smimehelper never logs in unencrypted"),
    ("tls", "The encrypted connection to the IMAP server"),
])
def test_plaintext_only_imap_is_refused(plaintext_dovecot: DovecotServer, cli: Cli, security: str, words: str) -> None:
    add_account(cli, plaintext_dovecot, security=security, port=plaintext_dovecot.port)
    code, out, err = cli("inbox", "list", "--password-file", cli.password)
    assert code == 2 and words in err and out == "", err
    time.sleep(0.3)
    log = plaintext_dovecot.log_text()
    assert "Login: user=" not in log and "auth failed" not in log.lower() and IMAP_PASSWORD not in log


def test_a_wrong_host_name_is_refused(clean_dovecot: DovecotServer, vectors: list[Vector], cli: Cli) -> None:
    """The real Dovecot's certificate names localhost, 127.0.0.1 and 127.0.0.2; reached as
    127.0.0.3 (a relay) it is not valid for that name, whatever the rest of it says."""
    append_file(clean_dovecot, "INBOX", vectors[0].path)
    before = clean_dovecot.log_text().count("Login: user=")
    for security, port in (("starttls", clean_dovecot.port), ("tls", clean_dovecot.imaps_port)):
        with TcpProxy((clean_dovecot.host, port), listen_host="127.0.0.3") as proxy:
            add_account(cli, clean_dovecot, host="127.0.0.3", port=proxy.port, security=security)
            code, out, err = cli("inbox", "list", "--password-file", cli.password)
            assert code == 2 and "presented a certificate that is not valid for it" in err and out == "", err
            code, out, err = cli("inbox", "open", uids(clean_dovecot, "INBOX")[0], "--password-file", cli.password)
            assert code == 2 and "not valid for it" in err and out == "", err
            assert proxy.connections == 2
    assert clean_dovecot.log_text().count("Login: user=") == before + 2  # only the test's own uids() logins
    assert stored_flags(clean_dovecot, "INBOX") == [frozenset()]


# -- interrupted, killed -------------------------------------------------------------------------

def _spools() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob(f"{SPOOL_PREFIX}*"))


def _slow_open(server: DovecotServer, pki: Pki, tmp_path: Path, home: Path, password: Path) -> tuple[subprocess.Popen, TcpProxy]:
    proxy = TcpProxy((server.host, server.port), rate=2_000_000).start()
    env = dict(os.environ, SMIMEHELPER_HOME=str(home))
    script = str(console_script())
    subprocess.run([script, "account", "add", "--email", "dentist@example.org", "--smtp-host", "127.0.0.1", "--username", server.user,
                    "--cafile", str(server.cafile), "--imap-host", "127.0.0.1", "--imap-port", str(proxy.port),
                    "--imap-security", "starttls"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen([script, "inbox", "open", str(uids(server, "INBOX")[0]), "--password-file", str(password),
                             "--key", str(pki.entity("bob").p12), "--passphrase-file", str(pki.passphrase_file),
                             "--save-attachments", str(tmp_path / "saved")],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (_spools() - set()) or not any(p.name.startswith(f"{SPOOL_PREFIX}{proc.pid}-") for p in _spools()):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    time.sleep(1.0)  # well into the fetch (about 2 MB/s through the relay)
    return proc, proxy


@pytest.fixture(scope="module")
def slow_message(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("slow")
    scan = folder / "scan.bin"
    scan.write_bytes(os.urandom(6_000_000))
    message = folder / "slow.eml"
    compose(pki, message, attachments=(scan,), subject="Slow")
    return message


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_mid_fetch(clean_dovecot: DovecotServer, slow_message: Path, pki: Pki, tmp_path: Path,
                                     signum: int, cli: Cli) -> None:
    append_file(clean_dovecot, "INBOX", slow_message)
    proc, proxy = _slow_open(clean_dovecot, pki, tmp_path, tmp_path / "home", cli.password)
    try:
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        proxy.stop()
    assert proc.returncode == 130, err
    assert "Interrupted" in err and "Traceback" not in err and out == ""
    assert not [p for p in _spools() if p.name.startswith(f"{SPOOL_PREFIX}{proc.pid}-")]  # removed
    assert not (tmp_path / "saved").exists() or not list((tmp_path / "saved").iterdir())
    assert stored_flags(clean_dovecot, "INBOX") == [frozenset()]  # not marked read


def test_kill_9_mid_fetch_leaves_nothing_readable_and_is_swept(clean_dovecot: DovecotServer, slow_message: Path, pki: Pki,
                                                              tmp_path: Path, cli: Cli) -> None:
    append_file(clean_dovecot, "INBOX", slow_message)
    proc, proxy = _slow_open(clean_dovecot, pki, tmp_path, tmp_path / "home", cli.password)
    try:
        proc.kill()
        proc.communicate(timeout=30)
    finally:
        proxy.stop()
    left = [p for p in _spools() if p.name.startswith(f"{SPOOL_PREFIX}{proc.pid}-")]
    assert len(left) == 1 and left[0].stat().st_mode & 0o777 == 0o700  # private while it lies there
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in left[0].iterdir())
    assert not (tmp_path / "saved").exists() or not list((tmp_path / "saved").iterdir())
    assert stored_flags(clean_dovecot, "INBOX") == [frozenset()]
    add_account(cli, clean_dovecot)  # the next opening (any process) removes what the killed one left
    code, _, err = cli("inbox", "open", uids(clean_dovecot, "INBOX")[0], "--password-file", cli.password,
                       *key_args(pki, "bob"))
    assert code in (0, 1), err
    assert not left[0].exists()


def test_two_processes_open_at_once(clean_dovecot: DovecotServer, vectors: list[Vector], pki: Pki, cli: Cli, tmp_path: Path) -> None:
    """Two `inbox open` processes at the same time (two messages, and one of them twice): each gets
    its own private copy, all succeed, every verdict is remembered."""
    chosen = [v for v in vectors if v.name in ("openssl-nested-signed-then-encrypted", "nss-nested-signed-then-encrypted")]
    for vector in chosen:
        append_file(clean_dovecot, "INBOX", vector.path)
    add_account(cli, clean_dovecot)
    script = str(console_script())
    server_uids = uids(clean_dovecot, "INBOX")
    runs = [(server_uids[0], chosen[0]), (server_uids[1], chosen[1]), (server_uids[1], chosen[1])]
    procs = [subprocess.Popen([script, "inbox", "open", str(uid), "--password-file", str(cli.password),
                               *map(str, key_args(pki, vector.recipient)), "--trust", str(pki.root.cert_pem),
                               "--save-attachments", str(tmp_path / f"saved-{index}"), "--json"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for index, (uid, vector) in enumerate(runs)]
    results = [proc.communicate(timeout=120) + (proc.returncode,) for proc in procs]
    for (out, err, code), (_, vector) in zip(results, runs):
        assert code == 0, err
        assert json.loads(out)["subject"] == f"[smimehelper interop] {vector.name}"
    for index, (_, vector) in enumerate(runs):
        assert sorted(p.name for p in (tmp_path / f"saved-{index}").iterdir()) == sorted(n for n, _ in vector.attachments)
    assert stored_flags(clean_dovecot, "INBOX") == [frozenset({"\\Seen"})] * 2
    code, out, _ = cli("inbox", "list", "--password-file", cli.password, "--json")
    assert [m["verdict"]["summary"] for m in json.loads(out)["messages"]] == ["valid and trusted"] * 2


@pytest.mark.parametrize("uid", ["0", "-3", "4294967296"])
def test_impossible_uids_are_refused_before_connecting(cli: Cli, uid: str, clean_dovecot: DovecotServer) -> None:
    add_account(cli, clean_dovecot)
    code, out, err = cli("inbox", "open", "--password-file", cli.password, "--", uid)
    assert code == 2 and "is not a message number" in err and out == ""

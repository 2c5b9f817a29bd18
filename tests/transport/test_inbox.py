"""The secure inbox's core against the real Dovecot: finding S/MIME messages without downloading
them (Dovecot's own session log is the judge of what was sent), fetching in chunks into the
reader, resuming after a cut connection, refusing a server that lies about sizes, Cancel, and
never changing anything on the server but the \\Seen flag of an opened message."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from smimehelper.core.certs import load_certificate
from smimehelper.core.identity import load_pkcs12
from smimehelper.core.reader import open_message
from smimehelper.core.transport import imap
from smimehelper.core.transport.accounts import Account, make_account
from smimehelper.core.transport.imap_client import ImapReplyTooLarge
from smimehelper.core.transport.imap_fetch import (
    FetchCancelled,
    FetchInterrupted,
    Mailbox,
    MessageGone,
    MessageRef,
    ServerMisbehaved,
)
from smimehelper.core.transport.imap_syntax import ENCRYPTED, SIGNED, UNKNOWN
from smimehelper.core.transport.inbox import (
    SPOOL_PREFIX,
    PrivateSpool,
    find_secure_messages,
    list_folders,
    open_from_mailbox,
)
from tests.core.helpers import compose
from tests.interop.corpus import Vector, build_corpus
from tests.pki.make_pki import Pki
from tests.transport.inbox_helpers import (
    LyingProxy,
    TcpProxy,
    append_bytes,
    append_file,
    stored_flags,
    uids,
    session_traffic,
    sessions_logged,
)
from tests.transport.servers import IMAP_PASSWORD, DovecotServer, TlsMaterials, imap_fetch_all

PLAIN = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: lunch\r\nContent-Type: text/plain\r\n\r\nNoon?\r\n"
PGP = (b"From: a@example.org\r\nSubject: pgp\r\nContent-Type: multipart/signed; micalg=pgp-sha256;\r\n"
       b' protocol="application/pgp-signature"; boundary="b"\r\n\r\n--b\r\n\r\nhi\r\n--b\r\n'
       b"Content-Type: application/pgp-signature\r\n\r\nsig\r\n--b--\r\n")
CERTS_ONLY = (b"From: a@example.org\r\nSubject: my certificate\r\nContent-Type: application/pkcs7-mime;"
              b" smime-type=certs-only; name=smime.p7c\r\nContent-Transfer-Encoding: base64\r\n\r\nMAA=\r\n")
LISTED = ("openssl-sign-rsa-sha256", "openssl-sign-opaque-rsa-sha256", "openssl-enc-rsa-aes256-cbc",
          "openssl-enc-rsa-aes256-gcm", "nss-sign-rsa-sha256-detached", "nss-enc-rsa", "nss-nested-signed-then-encrypted")
KINDS = {"openssl-sign-rsa-sha256": SIGNED, "openssl-sign-opaque-rsa-sha256": SIGNED, "openssl-enc-rsa-aes256-cbc": ENCRYPTED,
         "openssl-enc-rsa-aes256-gcm": ENCRYPTED, "nss-sign-rsa-sha256-detached": SIGNED, "nss-enc-rsa": ENCRYPTED,
         "nss-nested-signed-then-encrypted": ENCRYPTED}


@pytest.fixture(scope="module")
def vectors(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Vector]:
    return {v.name: v for v in build_corpus(pki, tmp_path_factory.mktemp("inbox-corpus"))}


@pytest.fixture(scope="module")
def big_message(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Signed by alice, encrypted to bob (smimehelper's compose), a 9 MB scan: several chunks."""
    folder = tmp_path_factory.mktemp("big")
    scan = folder / "scan.bin"
    scan.write_bytes(os.urandom(9_000_000))
    message = folder / "big.eml"
    compose(pki, message, attachments=(scan,), subject="Big study")
    return message


def account_for(server: DovecotServer, *, host: str | None = None, port: int | None = None, security: str = "starttls") -> Account:
    return make_account("dentist@example.org", smtp_host="127.0.0.1", username=server.user, cafile=str(server.cafile),
                        imap_host=host or server.host, imap_port=port or (server.port if security == "starttls" else server.imaps_port),
                        imap_security=security)


def mailbox_of(account: Account, **options) -> Mailbox:  # type: ignore[no-untyped-def]
    return Mailbox(lambda: imap.connect(account, IMAP_PASSWORD.encode()), **options)


def bob(pki: Pki):  # type: ignore[no-untyped-def]
    return load_pkcs12(pki.entity("bob").p12, pki.p12_password.encode())


def no_spools_left() -> bool:
    import tempfile

    return not [p for p in Path(tempfile.gettempdir()).glob(f"{SPOOL_PREFIX}{os.getpid()}-*")]


# -- finding -----------------------------------------------------------------------------------

def test_search_and_bodystructure_find_exactly_the_smime_messages(clean_dovecot: DovecotServer, vectors: dict[str, Vector]) -> None:
    for data in (PLAIN, PGP, CERTS_ONLY):
        append_bytes(clean_dovecot, "INBOX", data)
    for name in LISTED:
        append_file(clean_dovecot, "INBOX", vectors[name].path)
    gateway = (b"From: gw@example.org\r\nSubject: from a gateway\r\nContent-Type: application/octet-stream; name=smime.p7m\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\nMAA=\r\n")
    append_bytes(clean_dovecot, "INBOX", gateway)
    total = sum(len(d) for d in imap_fetch_all(clean_dovecot, "INBOX"))
    account = account_for(clean_dovecot)
    results = {}
    for method in ("search", "bodystructure"):
        before = sessions_logged(clean_dovecot)
        with mailbox_of(account) as mailbox:
            found, used = find_secure_messages(mailbox, "INBOX", method=method)
        assert used == method
        results[method] = [(m.uid, m.kind, m.subject, m.sender) for m in found]
        # Dovecot's own account of the session: no message body was sent, far less than the mailbox.
        traffic = session_traffic(clean_dovecot, after=before)[0]
        assert traffic.body_fetches == 0 and traffic.bytes_out < total / 3, traffic
    assert results["search"] == results["bodystructure"]
    subjects = [subject for _, _, subject, _ in results["search"]]
    assert subjects == ["from a gateway", *(f"[smimehelper interop] {n}" for n in reversed(LISTED))]  # newest first
    kinds = {subject.rsplit(" ", 1)[-1]: kind for _, kind, subject, _ in results["search"]}
    assert kinds.pop("gateway") == UNKNOWN and kinds == KINDS
    assert all("@example.org" in sender for *_, sender in results["search"])


def test_limit_keeps_the_newest(clean_dovecot: DovecotServer, vectors: dict[str, Vector]) -> None:
    for name in LISTED:
        append_file(clean_dovecot, "INBOX", vectors[name].path)
    with mailbox_of(account_for(clean_dovecot)) as mailbox:
        found, _ = find_secure_messages(mailbox, "INBOX", limit=2)
    assert [m.subject.rsplit(" ", 1)[-1] for m in found] == [LISTED[-1], LISTED[-2]]


def test_folders_other_folders_and_unknown_folder(clean_dovecot: DovecotServer, vectors: dict[str, Vector]) -> None:
    from tests.transport.servers import imap_connect

    with imap_connect(clean_dovecot) as conn:
        assert conn.create('"Entw&APw-rfe"')[0] == "OK"  # "Entwürfe" in modified UTF-7
    append_file(clean_dovecot, "Entw&APw-rfe", vectors["nss-enc-rsa"].path)
    with mailbox_of(account_for(clean_dovecot)) as mailbox:
        names = [f.name for f in list_folders(mailbox)]
        assert names[0] == "INBOX" and "Entwürfe" in names and "Sent" in names
        found, _ = find_secure_messages(mailbox, "Entwürfe")
        assert [m.folder for m in found] == ["Entwürfe"] and found[0].kind == ENCRYPTED
        with pytest.raises(Exception, match="no folder 'Nowhere'"):
            find_secure_messages(mailbox, "Nowhere")


# -- opening -----------------------------------------------------------------------------------

def test_open_fetches_in_chunks_marks_seen_and_changes_nothing_else(clean_dovecot: DovecotServer, big_message: Path, pki: Pki, tmp_path: Path) -> None:
    append_bytes(clean_dovecot, "INBOX", PLAIN)
    append_file(clean_dovecot, "INBOX", big_message)
    root = load_certificate(pki.root.cert_pem)
    expected = open_message(big_message, identities=[bob(pki)], anchors=[root], now=pki.now, save_dir=tmp_path / "file")
    progress: list[tuple[int, int]] = []
    before = sessions_logged(clean_dovecot)
    with mailbox_of(account_for(clean_dovecot)) as mailbox, PrivateSpool() as spool:
        found, _ = find_secure_messages(mailbox, "INBOX")
        assert stored_flags(clean_dovecot, "INBOX") == [frozenset(), frozenset()]
        fetched = open_from_mailbox(mailbox, found[0].ref, spool, identities=[bob(pki)], anchors=[root], now=pki.now,
                                    save_dir=tmp_path / "imap", progress=lambda d, t: progress.append((d, t)))
        assert stored_flags(clean_dovecot, "INBOX") == [frozenset(), frozenset()]  # PEEK: still unread
        assert fetched.path.read_bytes() == big_message.read_bytes()
        assert oct(fetched.path.stat().st_mode & 0o777) == "0o600" and oct(spool.path.stat().st_mode & 0o777) == "0o700"
        mailbox.mark_seen(fetched.located)
    assert no_spools_left()
    size = big_message.stat().st_size
    assert len(progress) >= 3 and progress[-1] == (size, size)  # chunk by chunk, up to all of it
    assert [(a.filename, a.sha256) for a in fetched.opened.attachments] == [(a.filename, a.sha256) for a in expected.attachments]
    assert fetched.opened.signatures == expected.signatures and fetched.opened.all_good
    assert (tmp_path / "imap" / "scan.bin").read_bytes() == (tmp_path / "file" / "scan.bin").read_bytes()
    assert stored_flags(clean_dovecot, "INBOX") == [frozenset(), frozenset({"\\Seen"})]
    assert imap_fetch_all(clean_dovecot, "INBOX")[1] == big_message.read_bytes()  # untouched on the server
    traffic = session_traffic(clean_dovecot, after=before)[0]
    assert size <= traffic.body_bytes < size * 1.05  # the message once, not once per chunk plus more


def test_wrong_uidvalidity_or_uid_is_refused(clean_dovecot: DovecotServer, big_message: Path, pki: Pki) -> None:
    append_file(clean_dovecot, "INBOX", big_message)
    with mailbox_of(account_for(clean_dovecot)) as mailbox, PrivateSpool() as spool:
        validity = mailbox.select("INBOX")
        uid = uids(clean_dovecot, "INBOX")[0]
        with pytest.raises(MessageGone, match="rebuilt"):
            open_from_mailbox(mailbox, MessageRef("INBOX", uid, validity + 1), spool, identities=[bob(pki)])
        with pytest.raises(MessageGone, match=f"no message {uid + 1} in INBOX"):
            open_from_mailbox(mailbox, MessageRef("INBOX", uid + 1, validity), spool, identities=[bob(pki)])


def test_cancel_stops_the_fetch_and_leaves_the_message_unread(clean_dovecot: DovecotServer, big_message: Path, pki: Pki, tmp_path: Path) -> None:
    append_file(clean_dovecot, "INBOX", big_message)
    seen: list[int] = []
    with mailbox_of(account_for(clean_dovecot)) as mailbox, PrivateSpool() as spool:
        with pytest.raises(FetchCancelled, match="stays unread"):
            open_from_mailbox(mailbox, MessageRef("INBOX", uids(clean_dovecot, "INBOX")[0]), spool, identities=[bob(pki)], save_dir=tmp_path / "out",
                              progress=lambda d, t: seen.append(d), cancelled=lambda: bool(seen))
    assert len(seen) == 1
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert stored_flags(clean_dovecot, "INBOX") == [frozenset()]
    assert no_spools_left()


def test_a_cut_connection_is_resumed_with_the_right_bytes(clean_dovecot: DovecotServer, big_message: Path, pki: Pki, tmp_path: Path) -> None:
    append_file(clean_dovecot, "INBOX", big_message)
    root = load_certificate(pki.root.cert_pem)
    expected = open_message(big_message, identities=[bob(pki)], anchors=[root], now=pki.now)
    # The first connection is cut 6 MB into the server's replies: in the middle of the second chunk.
    with TcpProxy((clean_dovecot.host, clean_dovecot.port), drop_after=6_000_000) as proxy:
        account = account_for(clean_dovecot, host="127.0.0.1", port=proxy.port)
        with mailbox_of(account) as mailbox, PrivateSpool() as spool:
            fetched = open_from_mailbox(mailbox, MessageRef("INBOX", uids(clean_dovecot, "INBOX")[0]), spool, identities=[bob(pki)], anchors=[root],
                                        now=pki.now, save_dir=tmp_path / "out")
            assert fetched.path.read_bytes() == big_message.read_bytes()
        assert proxy.dropped == 1 and proxy.connections == 2
    assert fetched.opened.attachments == tuple(
        a.__class__(a.filename, a.content_type, a.size, a.sha256, tmp_path / "out" / a.filename) for a in expected.attachments)
    assert fetched.opened.all_good


def test_a_connection_cut_again_and_again_ends_in_a_clear_error(clean_dovecot: DovecotServer, big_message: Path, pki: Pki, tmp_path: Path) -> None:
    append_file(clean_dovecot, "INBOX", big_message)
    with TcpProxy((clean_dovecot.host, clean_dovecot.port), drop_after=2_000_000, drop_connections=100) as proxy:
        account = account_for(clean_dovecot, host="127.0.0.1", port=proxy.port)
        with mailbox_of(account) as mailbox, PrivateSpool() as spool:
            with pytest.raises(FetchInterrupted, match=r"broke while the message was being fetched \(0.0 of [\d.]+ MB\).*Nothing was saved"):
                open_from_mailbox(mailbox, MessageRef("INBOX", uids(clean_dovecot, "INBOX")[0]), spool, identities=[bob(pki)], save_dir=tmp_path / "out")
        assert proxy.connections == 4  # the first, then three attempts to resume
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert stored_flags(clean_dovecot, "INBOX") == [frozenset()]
    assert no_spools_left()


def test_dovecot_killed_mid_fetch(tls_materials: TlsMaterials, big_message: Path, pki: Pki, tmp_path: Path) -> None:
    """The server's processes die (kill -9) in the middle of the fetch: it cannot be resumed, so a
    clear error after the retries, no file saved, no verdict."""
    with DovecotServer(tls_materials) as server:
        append_file(server, "INBOX", big_message)
        proc = server._proc
        assert proc is not None

        def kill_at_half(done: int, total: int) -> None:
            if done * 2 >= total and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

        with mailbox_of(account_for(server)) as mailbox, PrivateSpool() as spool:
            with pytest.raises(FetchInterrupted, match="could not be restored.*Cannot reach the IMAP server"):
                open_from_mailbox(mailbox, MessageRef("INBOX", uids(server, "INBOX")[0]), spool, identities=[bob(pki)],
                                  save_dir=tmp_path / "out", progress=kill_at_half)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert no_spools_left()


@pytest.mark.parametrize("lie,error,words", [
    ({"size_delta": 1000}, ServerMisbehaved, "it ends after"),
    ({"size_delta": -1000}, ServerMisbehaved, "sends more"),
    ({"claim_literal": 50 * 1024 ** 3}, ImapReplyTooLarge, "announced a reply of 53687091200 bytes"),
    ({"extra_bytes": 10}, ImapReplyTooLarge, "at most 4194304 were asked for"),
    ({"shift_origin": 1}, ServerMisbehaved, "sent the part at 1 instead of 0"),
])
def test_a_server_lying_about_sizes_gets_a_clear_error(clean_dovecot: DovecotServer, big_message: Path, pki: Pki, tmp_path: Path,
                                                        lie: dict, error: type, words: str) -> None:
    append_file(clean_dovecot, "INBOX", big_message)
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with LyingProxy(clean_dovecot, **lie) as proxy:
        account = account_for(clean_dovecot, host="127.0.0.1", port=proxy.port, security="tls")
        with mailbox_of(account) as mailbox, PrivateSpool() as spool:
            with pytest.raises(error, match=words) as caught:
                open_from_mailbox(mailbox, MessageRef("INBOX", uids(clean_dovecot, "INBOX")[0]), spool, identities=[bob(pki)], save_dir=tmp_path / "out")
    assert "Traceback" not in str(caught.value)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: no 50 GB allocation
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert stored_flags(clean_dovecot, "INBOX") == [frozenset()]
    assert no_spools_left()


def test_stale_spools_of_dead_processes_are_swept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import tempfile

    from smimehelper.core.transport.inbox import sweep_stale_spools

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    child = subprocess.Popen(["sleep", "0"])
    child.wait()
    stale = tmp_path / f"{SPOOL_PREFIX}{child.pid}-abc"
    stale.mkdir()
    (stale / "message.eml").write_bytes(b"ciphertext")
    alive = tmp_path / f"{SPOOL_PREFIX}{os.getppid()}-def"
    alive.mkdir()
    with PrivateSpool() as spool:
        assert spool.path.parent == tmp_path
        assert not stale.exists() and alive.exists()
    assert sweep_stale_spools(tmp_path) == 0 and alive.exists()

"""The outbox state machine and account presets, without a network."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from smimehelper.core.secrets import OsKeyring
from smimehelper.core.transport.accounts import AccountError, AccountStore, PRESETS, make_account
from smimehelper.core.transport.outbox import FAILED, HANDED_OVER, QUEUED, SENDING, SENT, Outbox


def _message(tmp_path: Path, data: bytes = b"From: a@example.org\r\nTo: b@example.org\r\n\r\nbody\r\n") -> Path:
    path = tmp_path / "m.eml"
    path.write_bytes(data)
    return path


def test_enqueue_keeps_the_message_before_anything_is_sent(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "home")
    item = outbox.enqueue(_message(tmp_path, b"From: a@x.org\nTo: b@x.org\n\n.line\nend"), account="a@x.org",
                          envelope_from="a@x.org", recipients=("b@x.org",), subject="s")
    stored = outbox.message_path(item.id).read_bytes()
    assert stored == b"From: a@x.org\r\nTo: b@x.org\r\n\r\n.line\r\nend"  # CRLF for SMTP
    assert item.state == QUEUED and item.size == len(stored)
    assert outbox.message_path(item.id).stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(("crashed_in", "after"), [(SENDING, QUEUED), (HANDED_OVER, QUEUED), (QUEUED, QUEUED), (SENT, SENT), (FAILED, FAILED)])
def test_recovery_after_a_crash(tmp_path: Path, crashed_in: str, after: str) -> None:
    outbox = Outbox(tmp_path)
    item = outbox.enqueue(_message(tmp_path), account="a", envelope_from="a@example.org", recipients=("b@example.org",), subject="s")
    outbox.mark(item, crashed_in)
    Outbox(tmp_path).recover()  # a new process after kill -9
    recovered = Outbox(tmp_path).get(item.id)
    assert recovered.state == after
    if crashed_in in (SENDING, HANDED_OVER):  # the answer may have been lost: sent again, maybe twice
        assert "may get it twice" in recovered.history[-1][2]


def test_backoff_makes_a_message_wait(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    item = outbox.enqueue(_message(tmp_path), account="a", envelope_from="a@example.org", recipients=("b@example.org",), subject="s")
    item = outbox.mark(item, SENDING)
    outbox.mark(item, QUEUED, reply="451 try later", retry=True)
    assert outbox.due() == []
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=2)
    assert [i.id for i in outbox.due(later)] == [item.id]
    assert outbox.get(item.id[:12]).last_reply == "451 try later"
    outbox.remove(item.id)
    assert outbox.items() == []


@pytest.mark.parametrize(
    ("email", "host", "port", "security", "imap"),
    [
        ("x@gmail.com", "smtp.gmail.com", 587, "starttls", "imap.gmail.com"),
        ("x@outlook.com", "smtp.office365.com", 587, "starttls", "outlook.office365.com"),
        ("x@hotmail.de", "smtp.office365.com", 587, "starttls", "outlook.office365.com"),
        ("x@icloud.com", "smtp.mail.me.com", 587, "starttls", "imap.mail.me.com"),
        ("x@fastmail.com", "smtp.fastmail.com", 465, "tls", "imap.fastmail.com"),
        ("x@yahoo.com", "smtp.mail.yahoo.com", 465, "tls", "imap.mail.yahoo.com"),
    ],
)
def test_presets_fill_in_the_servers(email: str, host: str, port: int, security: str, imap: str) -> None:
    account = make_account(email, oauth_client_id="id-from-it")  # Gmail and Microsoft sign in (issue 15)
    assert (account.smtp_host, account.smtp_port, account.security, account.imap_host, account.imap_port) == (host, port, security, imap, 993)
    assert account.saves_sent_copy == (host == "smtp.gmail.com")


def test_unknown_provider_and_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(AccountError, match="does not know the mail servers"):
        make_account("x@practice.example")
    account = make_account("x@practice.example", smtp_host="mail.practice.example", security="tls")
    assert account.smtp_port == 465 and account.imap_host is None
    with pytest.raises(AccountError, match="CA file"):
        make_account("x@gmail.com", cafile=str(tmp_path / "missing.pem"))
    assert set(PRESETS) >= {"gmail", "microsoft", "icloud", "fastmail", "yahoo"}


def test_account_store_never_writes_the_password(tmp_path: Path) -> None:
    store = AccountStore(tmp_path, OsKeyring())  # the fail keyring in tests
    assert store.add(make_account("x@gmail.com", auth="password"), b"app-password") is False
    assert b"app-password" not in (tmp_path / "accounts.json").read_bytes()
    assert store.password(store.get("x@gmail.com")) is None
    store.remove("x@gmail.com")
    with pytest.raises(AccountError):
        store.get()

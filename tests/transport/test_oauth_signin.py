"""Signing in for real and sending with the token: the judges are node-oidc-provider (OpenID
Certified), Dovecot with passdb oauth2 (IMAP and its submission service, which relays to
aiosmtpd) and headless Chromium driven by Selenium (tests/transport/oauth_servers.py).

Dovecot has no password database at all: a message arrives only if the access token the provider
issued after a real browser login was valid at introspection time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest

from smimehelper import services
from smimehelper.core.transport.oauth import tokens as tokens_module
from smimehelper.core.transport.oauth.client import TokenSet
from smimehelper.core.transport.oauth.errors import SignInCancelled
from smimehelper.services import signin
from tests.memory_keyring import MemoryKeyring
from tests.transport.oauth_servers import REPO, Browser, BrowserUser, Judges, as_sent
from tests.transport.servers import TlsMaterials

MESSAGE = (b"From: Dr. Dent <dentist@example.org>\r\nTo: ortho@example.net\r\nSubject: Referral\r\n"
           b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <oauth-%s@example.org>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=us-ascii\r\n\r\nPlease see the attached x-ray.\r\n")


@pytest.fixture(scope="module")
def judges(tls_materials: TlsMaterials) -> Iterator[Judges]:
    j = Judges(tls_materials)
    yield j
    j.stop()


@pytest.fixture(scope="module")
def browser(tls_materials: TlsMaterials) -> Iterator[Browser]:
    b = Browser(tls_materials)
    yield b
    b.close()


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    ring = MemoryKeyring()
    keyring.set_keyring(ring)  # the autouse isolated_home fixture puts the fail backend back
    return ring


def no_sign_in(provider: Any, email: str) -> Any:
    raise AssertionError("the browser was opened although a sign-in was at hand")


def never_a_password(account: Any) -> bytes:
    raise AssertionError("a password was asked for an account that signs in")


def queue(stores: services.Stores, tmp_path: Path, tag: str):  # type: ignore[no-untyped-def]
    message = tmp_path / f"{tag}.eml"
    message.write_bytes(MESSAGE % tag.encode())
    return services.queue_message(stores, message, None), message.read_bytes()


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_sign_in_in_the_browser_then_send_and_file_in_sent(mechanism: str, judges: Judges, browser: Browser,
                                                          memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    stores = services.Stores.open()
    account = judges.account(mechanism)
    stores.accounts.add(account, None)
    user = BrowserUser(browser)
    result = signin.sign_in_account(stores, account, open_browser=user, timeout=60)
    user.join()
    assert result.remembered and "Signed in" in user.pages[0]
    assert user.urls[0].startswith(judges.oidc.issuer + "/auth?") and "code_challenge_method=S256" in user.urls[0]

    before = len(judges.relay.received)
    sent_before = len(judges.sent_folder())
    item, data = queue(stores, tmp_path, mechanism)
    (delivered,) = services.send_messages(stores, [item], never_a_password, no_sign_in)
    assert delivered.item.state == "sent", delivered.message
    assert [(f, t, as_sent(m)) for f, t, m in judges.relay.received[before:]] == [("dentist@example.org", ("ortho@example.net",), data)]
    assert judges.sent_folder()[sent_before:] == [data.replace(b"\r\n", b"\n")]  # the IMAP copy, signed in the same way
    log = judges.dovecot.log_text()
    assert f"submission-login: Info: Login: user=<dentist@example.org>, method={mechanism}" in log
    assert f"imap-login: Info: Login: user=<dentist@example.org>, method={mechanism}" in log
    # The refresh token is in the keyring and nowhere in the data folder; no access token either.
    (refresh_token,) = [v for (svc, name), v in memory_keyring.secrets.items() if name == f"oauth-refresh:{account.email}"]
    cached = stores.accounts.tokens.cached_access(account.email)
    assert cached is not None
    for path in stores.home.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert refresh_token.encode() not in content and cached.access_token.encode() not in content, path


def test_refused_access_token_is_renewed_without_the_user(judges: Judges, browser: Browser, memory_keyring: MemoryKeyring,
                                                         tmp_path: Path) -> None:
    """The server refuses an access token we still think good (the provider restarted and forgot it,
    or revoked it early): one silent renewal with the refresh token, then the message goes out."""
    stores = services.Stores.open()
    account = judges.account()
    stores.accounts.add(account, None)
    user = BrowserUser(browser)
    signin.sign_in_account(stores, account, open_browser=user, timeout=60)
    user.join()
    forgotten = "Qm9ndXNUb2tlblRoZVByb3ZpZGVyRG9lc05vdEtub3c"
    stores.accounts.tokens.save(account.email, TokenSet(forgotten, time.time() + 3000, None))
    assert judges.oidc.introspect(forgotten)["active"] is False
    item, data = queue(stores, tmp_path, "refused")
    (delivered,) = services.send_messages(stores, [item], never_a_password, no_sign_in)
    assert delivered.item.state == "sent", delivered.message
    assert as_sent(judges.relay.received[-1][2]) == data
    renewed = stores.accounts.tokens.cached_access(account.email)
    assert renewed is not None and renewed.access_token != forgotten
    assert judges.oidc.introspect(renewed.access_token)["active"] is True
    assert "oauth2 failed" in judges.dovecot.log_text()  # Dovecot really refused the first one


def test_revoked_sign_in_asks_to_sign_in_again_never_for_a_password(judges: Judges, browser: Browser,
                                                                   memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    stores = services.Stores.open()
    account = judges.account()
    stores.accounts.add(account, None)
    user = BrowserUser(browser)
    signin.sign_in_account(stores, account, open_browser=user, timeout=60)
    user.join()
    refresh_token = stores.accounts.tokens.refresh_token(account.email)
    assert refresh_token
    judges.oidc.revoke(refresh_token)  # the user's admin withdrew the sign-in
    stores.accounts.tokens.drop_access(account.email)  # a new session: no access token in memory
    memory_keyring.set_password("smimehelper", f"account:{account.email}", "b2xkLXBhc3N3b3Jk")  # an old password around
    before = len(judges.relay.received)
    item, _ = queue(stores, tmp_path, "revoked")
    (delivered,) = services.send_messages(stores, [item], never_a_password, None)
    assert delivered.item.state != "sent"
    assert "Sign in again: smimehelper account signin --email dentist@example.org" in delivered.message
    assert len(judges.relay.received) == before
    assert stores.accounts.tokens.refresh_token(account.email) is None  # forgotten, not retried forever
    # After signing in again, the same message goes out.
    user = BrowserUser(browser)
    signin.sign_in_account(stores, account, open_browser=user, timeout=60)
    user.join()
    (delivered,) = services.send_messages(stores, [stores.outbox.get(item.id)], never_a_password, no_sign_in)
    assert delivered.item.state == "sent", delivered.message


def test_denied_consent_is_a_cancelled_sign_in(judges: Judges, browser: Browser, memory_keyring: MemoryKeyring) -> None:
    stores = services.Stores.open()
    account = judges.account()
    stores.accounts.add(account, None)
    user = BrowserUser(browser, consent=False)
    with pytest.raises(SignInCancelled, match="cancelled or declined"):
        signin.sign_in_account(stores, account, open_browser=user, timeout=60)
    user.join()
    assert "Not signed in" in user.pages[0]
    assert not signin.signed_in(stores, account)


def test_expired_access_token_is_renewed_silently(tls_materials: TlsMaterials, browser: Browser, memory_keyring: MemoryKeyring,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens_module, "EARLY_RENEWAL_SECONDS", 0)  # use the token until it really expires
    short = Judges(tls_materials, access_ttl=3)
    try:
        stores = services.Stores.open()
        account = short.account()
        stores.accounts.add(account, None)
        user = BrowserUser(browser)
        signin.sign_in_account(stores, account, open_browser=user, timeout=60)
        user.join()
        first = stores.accounts.tokens.cached_access(account.email)
        first_refresh = stores.accounts.tokens.refresh_token(account.email)
        item, _ = queue(stores, tmp_path, "fresh")
        assert services.send_messages(stores, [item], never_a_password, no_sign_in)[0].item.state == "sent"
        time.sleep(max(0.0, first.expires_at - time.time()) + 1.5)  # type: ignore[union-attr]
        assert short.oidc.introspect(first.access_token)["active"] is False  # type: ignore[union-attr]
        item, data = queue(stores, tmp_path, "expired")
        (delivered,) = services.send_messages(stores, [item], never_a_password, no_sign_in)
        assert delivered.item.state == "sent", delivered.message
        assert as_sent(short.relay.received[-1][2]) == data
        assert stores.accounts.tokens.refresh_token(account.email) != first_refresh  # rotated and kept
        # This computer's clock is behind: the token has expired at the provider, not for us.
        time.sleep(4)
        late = stores.accounts.tokens.cached_access(account.email)
        assert late is not None and short.oidc.introspect(late.access_token)["active"] is False
        stores.accounts.tokens.save(account.email, TokenSet(late.access_token, time.time() + 3000, None))
        item, data = queue(stores, tmp_path, "skewed")
        (delivered,) = services.send_messages(stores, [item], never_a_password, no_sign_in)
        assert delivered.item.state == "sent", delivered.message
        assert as_sent(short.relay.received[-1][2]) == data
    finally:
        short.stop()


# --------------------------------------------------------------------------- the CLI, several processes


def _env(tmp_path: Path, home: Path, url_file: Path) -> dict[str, str]:
    script = tmp_path / "browser.sh"
    script.write_text('#!/bin/sh\nprintf "%s\\n" "$1" >> "$SMH_BROWSER_URL_FILE"\n')
    script.chmod(0o755)
    return {
        "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LC_ALL": "C.UTF-8", "SMIMEHELPER_HOME": str(home),
        "PYTHON_KEYRING_BACKEND": "tests.transport.file_keyring.SharedFileKeyring", "PYTHONPATH": str(REPO),
        "SMH_TEST_KEYRING_FILE": str(tmp_path / "keyring.json"), "BROWSER": f"{script} %s", "SMH_BROWSER_URL_FILE": str(url_file),
    }


def _cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    from tests.console import console_script

    return subprocess.run([str(console_script()), *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def _cli_with_browser(env: dict[str, str], url_file: Path, browser: Browser, *args: str) -> subprocess.CompletedProcess[str]:
    from tests.console import console_script

    url_file.write_text("")
    proc = subprocess.Popen([str(console_script()), *args], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not url_file.read_text().strip():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the CLI opened no browser"
            time.sleep(0.05)
        page = browser.sign_in(url_file.read_text().split()[0])
        assert "Signed in" in page
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_cli_account_add_oauth_send_revoke_sign_in_again(judges: Judges, browser: Browser, tmp_path: Path) -> None:
    home = tmp_path / "home"
    url_file = tmp_path / "urls.txt"
    env = _env(tmp_path, home, url_file)
    d = judges.dovecot
    add = _cli_with_browser(
        env, url_file, browser, "account", "add", "--email", judges.oidc.user, "--smtp-host", d.host, "--smtp-port", str(d.submission_port),
        "--imap-host", d.host, "--imap-port", str(d.port), "--imap-security", "starttls", "--cafile", str(judges.tls.cafile),
        "--oauth-issuer", judges.oidc.issuer, "--oauth-client-id", judges.oidc.client_id,
        "--oauth-scopes", f"openid offline_access {judges.oidc.scope}",
    )
    assert add.returncode == 0, add.stderr
    assert "Signed in with 127.0.0.1 as dentist@example.org" in add.stdout and "keyring" in add.stdout
    assert "Traceback" not in add.stderr and "open this address" in add.stderr

    message = tmp_path / "cli.eml"
    message.write_bytes(MESSAGE % b"cli")
    url_file.write_text("")
    sent = _cli(env, "send", str(message))  # a new process: renews silently with the stored sign-in
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert as_sent(judges.relay.received[-1][2]) == message.read_bytes() and not url_file.read_text()

    from tests.transport.file_keyring import SharedFileKeyring

    os.environ["SMH_TEST_KEYRING_FILE"] = env["SMH_TEST_KEYRING_FILE"]
    try:
        stored = {k.split("\x00", 1)[1]: v for k, v in SharedFileKeyring().entries().items()}
    finally:
        del os.environ["SMH_TEST_KEYRING_FILE"]
    import base64

    judges.oidc.revoke(base64.b64decode(stored["oauth-refresh:dentist@example.org"]).decode())
    again = _cli(env, "send", str(message))
    assert again.returncode == 4, again.stdout + again.stderr  # queued, not delivered
    assert "Sign in again: smimehelper account signin --email dentist@example.org" in again.stdout
    assert "Password" not in again.stdout + again.stderr and not url_file.read_text()  # no prompt, no browser without a person

    back = _cli_with_browser(env, url_file, browser, "account", "signin")
    assert back.returncode == 0, back.stderr
    retry = _cli(env, "outbox", "retry")
    assert retry.returncode == 0 and "Sent (250" in retry.stdout, retry.stdout + retry.stderr


RENEW = """
import sys, time
from pathlib import Path
from smimehelper import services
stores = services.Stores.open()
account = stores.accounts.get()
source = stores.accounts.token_source(account)
start = float(sys.argv[1])
time.sleep(max(0.0, start - time.time()))
token = source.renew()
print("renewed", len(token.value))
"""


def test_two_processes_renewing_at_once_keep_the_sign_in(judges: Judges, browser: Browser, tmp_path: Path) -> None:
    """The provider rotates refresh tokens and revokes the sign-in when an old one is used again:
    without the lock, the second of two simultaneous renewals would end the user's sign-in."""
    home = tmp_path / "home"
    url_file = tmp_path / "urls.txt"
    env = _env(tmp_path, home, url_file)
    d = judges.dovecot
    add = _cli_with_browser(
        env, url_file, browser, "account", "add", "--email", judges.oidc.user, "--smtp-host", d.host, "--smtp-port",
        str(d.submission_port), "--cafile", str(judges.tls.cafile), "--oauth-issuer", judges.oidc.issuer,
        "--oauth-client-id", judges.oidc.client_id, "--oauth-scopes", f"openid offline_access {judges.oidc.scope}",
    )
    assert add.returncode == 0, add.stderr
    start = time.time() + 2.0
    procs = [subprocess.Popen([sys.executable, "-c", RENEW, str(start)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=REPO) for _ in range(3)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    assert all(code == 0 and "renewed" in out for out, _err, code in results), results
    message = tmp_path / "after.eml"
    message.write_bytes(MESSAGE % b"after-race")
    sent = _cli(env, "send", str(message))
    assert sent.returncode == 0, sent.stdout + sent.stderr


def test_without_keyring_the_sign_in_lasts_one_session(judges: Judges, browser: Browser, tmp_path: Path) -> None:
    # The autouse fixture gives this process (and its children) the "fail" keyring: no secure one.
    stores = services.Stores.open()
    account = judges.account()
    stores.accounts.add(account, None)
    user = BrowserUser(browser)
    result = signin.sign_in_account(stores, account, open_browser=user, timeout=60)
    user.join()
    assert result.remembered is False
    refresh_token = stores.accounts.tokens.refresh_token(account.email)
    assert refresh_token
    item, _ = queue(stores, tmp_path, "nokeyring")
    assert services.send_messages(stores, [item], never_a_password, no_sign_in)[0].item.state == "sent"
    for path in list(stores.home.rglob("*")) + list(tmp_path.rglob("*")):
        if path.is_file():
            assert refresh_token.encode() not in path.read_bytes(), path
    message = tmp_path / "next-session.eml"
    message.write_bytes(MESSAGE % b"next-session")
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "SMIMEHELPER_HOME": str(stores.home),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "HOME": str(tmp_path)}
    nxt = _cli(env, "send", str(message))
    assert nxt.returncode == 4 and "not signed in on this computer in this session" in nxt.stdout, nxt.stdout + nxt.stderr

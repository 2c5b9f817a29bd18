"""Real judges for OAuth sign-in, all on 127.0.0.1 and all stopped by their fixtures.

``OidcProvider``
    node-oidc-provider (npm, OpenID Certified; tests/oidc/provider.mjs) over HTTPS with the test
    TLS certificate: PKCE required, refresh tokens (offline_access, rotated for the public client),
    introspection and revocation. Installed by scripts/install_test_node.sh into a cache folder.
``OAuthDovecot``
    The real Dovecot 2.3 with ``passdb oauth2``: every access token is checked by introspection at
    the provider (as the confidential client "dovecot"). IMAP (STARTTLS) and the submission
    service (dovecot-submissiond, STARTTLS) relaying to an aiosmtpd server, so a message sent
    with XOAUTH2 or OAUTHBEARER arrives where the test can read it. No password database at all:
    a client that falls back to a password cannot log in.
``Browser``
    Debian's Chromium, headless, driven by Selenium through /usr/bin/chromedriver (Selenium
    Manager is never asked to download anything). It trusts the test CA through its own NSS
    database, fills in the provider's login form and consent page, and so follows the redirect
    to smimehelper's loopback listener like a user's browser.
"""

from __future__ import annotations

import atexit
import json
import threading
import os
import selectors
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.transport.servers import (
    STRICT_IMAP_HOST,
    DovecotServer,
    TlsMaterials,
    _identity,
    _pick_port,
)

REPO = Path(__file__).resolve().parents[2]
OIDC_USER = "dentist@example.org"
OIDC_PASSWORD = "correct horse battery"
OIDC_CLIENT_ID = "smimehelper-test"
OIDC_SCOPE = "mail"
INTROSPECT_SECRET = "dovecot-introspection-secret"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"


def node_dir() -> Path:
    """The cache folder holding node_modules/oidc-provider (installed on first use)."""
    script = REPO / "scripts" / "install_test_node.sh"
    try:
        out = subprocess.run(["bash", str(script)], check=True, capture_output=True, text=True, timeout=600)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"installing oidc-provider failed (npm ci):\n{exc.stderr}") from None
    return Path(out.stdout.strip().splitlines()[-1])


class OidcProvider:
    """node-oidc-provider on https://127.0.0.1:<port> (see module doc)."""

    def __init__(self, tls: TlsMaterials, *, access_ttl: int = 600) -> None:
        self.tls = tls
        self.access_ttl = access_ttl
        self.client_id = OIDC_CLIENT_ID
        self.user = OIDC_USER
        self.password = OIDC_PASSWORD
        self.scope = OIDC_SCOPE
        self.issuer = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None
        self._last_log = ""

    def start(self, timeout: float = 30.0, attempts: int = 3) -> OidcProvider:
        """Node loads oidc-provider's modules from .cache and makes an RSA key before it listens:
        a second or two. In two of six full fresh-machine runs one start out of dozens printed
        nothing more after its first warning, for 30 s and for 120 s (cause not found; the
        provider now logs each step to stderr): such a start is stopped and tried again."""
        logs = []
        for attempt in range(1, attempts + 1):
            if self._start_once(timeout):
                if attempt > 1:
                    print(f"oidc-provider started at attempt {attempt}; earlier attempts:\n" + "\n".join(logs),
                          file=sys.stderr)
                return self
            logs.append(f"attempt {attempt}: nothing within {timeout:.0f} s; its log:\n{self._last_log}")
        raise RuntimeError("oidc-provider did not start:\n" + "\n".join(logs))

    def _start_once(self, timeout: float) -> bool:
        folder = node_dir()
        shutil.copy(REPO / "tests" / "oidc" / "provider.mjs", folder / "provider.mjs")
        env = {
            "PATH": "/usr/bin:/bin", "HOME": str(folder),
            "OIDC_CERT": str(self.tls.localhost.cert_file), "OIDC_KEY": str(self.tls.localhost.key_file),
            "OIDC_CLIENT_ID": self.client_id, "OIDC_USER": self.user, "OIDC_PASSWORD": self.password,
            "OIDC_INTROSPECT_SECRET": INTROSPECT_SECRET, "OIDC_ACCESS_TTL": str(self.access_ttl), "OIDC_SCOPE": self.scope,
        }
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(["node", "provider.mjs"], cwd=folder, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=self._stderr, start_new_session=True)
        atexit.register(self.stop)
        assert self._proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                self._last_log = self.log_text()
                self.stop()
                return False
        line = self._proc.stdout.readline()
        try:
            self.issuer = json.loads(line)["issuer"]
        except (ValueError, KeyError):
            log = self.log_text()
            self.stop()
            raise RuntimeError(f"oidc-provider failed to start:\n{line!r}\n{log}") from None
        return True

    def log_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    @property
    def introspection_url(self) -> str:
        return f"{self.issuer}/token/introspection"

    def _post(self, path: str, form: dict[str, str], auth: tuple[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.issuer + path, data=urllib.parse.urlencode(form).encode(), method="POST")
        if auth is not None:
            import base64

            request.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
        context = ssl.create_default_context(cafile=str(self.tls.cafile))
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def introspect(self, token: str) -> dict[str, Any]:
        """What Dovecot learns about ``token`` (RFC 7662)."""
        status, body = self._post("/token/introspection", {"token": token}, ("dovecot", INTROSPECT_SECRET))
        assert status == 200, body
        return json.loads(body)

    def revoke(self, token: str, hint: str = "refresh_token") -> None:
        """Withdraw a token as the user's admin would (RFC 7009, as the public client)."""
        status, body = self._post("/token/revocation", {"token": token, "token_type_hint": hint, "client_id": self.client_id})
        assert status == 200, body

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        atexit.unregister(self.stop)

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def oauth_dovecot_config(workdir: Path, *, listen: list[str], imap_port: int, submission_port: int, relay_port: int,
                         cert_file: Path, key_file: Path, identity: Any) -> str:
    ident = identity
    rootless = ""
    if ident.rootless:
        rootless = "".join(f"service {s} {{\n  chroot =\n}}\n" for s in ("imap-login", "submission-login", "ipc", "old-stats", "director",
                                                                          "aggregator", "imap-urlauth-login", "pop3-login"))
    first_uid = max(1, min(ident.mail_uid, 500))
    first_gid = min(ident.mail_gid, 500)
    anvil_chroot = "  chroot =\n" if ident.rootless else ""
    return f"""\
# Dovecot with passdb oauth2 for smimehelper's OAuth tests (tests/transport/oauth_servers.py).
protocols = imap submission
listen = {", ".join(listen)}
base_dir = {workdir}/run
state_dir = {workdir}/state
instance_name = smimehelper-oauth-test
log_path = {workdir}/dovecot.log
auth_verbose = yes
auth_debug = yes
default_internal_user = {ident.internal_user}
default_internal_group = {ident.internal_group}
default_login_user = {ident.login_user}
first_valid_uid = {first_uid}
first_valid_gid = {first_gid}
hostname = localhost

ssl = required
ssl_cert = <{cert_file}
ssl_key = <{key_file}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = xoauth2 oauthbearer
auth_failure_delay = 0
service anvil {{
{anvil_chroot}  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}

passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {workdir}/oauth2.conf.ext
}}
userdb {{
  driver = static
  args = uid={ident.mail_uid} gid={ident.mail_gid} home={workdir}/mail/%u
}}
mail_location = maildir:~/Maildir
mail_fsync = never
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    auto = subscribe
    special_use = \\Sent
  }}
  mailbox Drafts {{
    auto = subscribe
    special_use = \\Drafts
  }}
}}

submission_relay_host = 127.0.0.1
submission_relay_port = {relay_port}
submission_relay_trusted = no
submission_relay_ssl = no

service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = {submission_port}
  }}
}}
{rootless}"""


class OAuthDovecot(DovecotServer):
    """Dovecot whose only way in is an access token valid at ``provider`` (see module doc)."""

    def __init__(self, tls: TlsMaterials, provider: OidcProvider, relay_port: int) -> None:
        super().__init__(tls)
        self.provider = provider
        self.relay_port = relay_port
        self.submission_port = 0

    def _prepare_workdir(self) -> None:
        self._cleanup_workdir()
        workdir = Path(tempfile.mkdtemp(prefix="smh-dovecot-oauth-"))
        workdir.chmod(0o755)
        ident = _identity(None)
        for sub in ("run", "state", "mail"):
            (workdir / sub).mkdir()
        if not ident.rootless:
            os.chown(workdir / "mail", ident.mail_uid, ident.mail_gid)
        listen = [self.lenient_host] + ([STRICT_IMAP_HOST] if self.strict else [])
        self.port = _pick_port(listen, set())
        self.submission_port = _pick_port(listen, {self.port})
        self.imaps_port = self.submission_port  # what DovecotServer's readiness check connects to
        url = urllib.parse.urlsplit(self.provider.introspection_url)
        introspection = f"{url.scheme}://dovecot:{INTROSPECT_SECRET}@{url.netloc}{url.path}"
        cafile = workdir / "ca.cert.pem"  # readable by Dovecot's auth process (user dovecot)
        shutil.copy(self.tls.cafile, cafile)
        cafile.chmod(0o644)
        oauth_conf = workdir / "oauth2.conf.ext"
        oauth_conf.write_text(
            f"introspection_mode = post\nintrospection_url = {introspection}\nusername_attribute = sub\n"
            f"active_attribute = active\nactive_value = true\nforce_introspection = yes\n"
            f"tls_ca_cert_file = {cafile}\ntimeout_msecs = 10000\n",
            encoding="utf-8",
        )
        oauth_conf.chmod(0o644)
        self.config_text = oauth_dovecot_config(
            workdir, listen=listen, imap_port=self.port, submission_port=self.submission_port, relay_port=self.relay_port,
            cert_file=self.tls.localhost.cert_file, key_file=self.tls.localhost.key_file, identity=ident,
        )
        (workdir / "dovecot.conf").write_text(self.config_text, encoding="utf-8")
        self.workdir = workdir


class RelaySink:
    """Where Dovecot's submission service relays to: a plain aiosmtpd on 127.0.0.1 that keeps
    every message (what a real MTA behind submission would get). It offers no AUTH, so Dovecot
    sends plain MAIL FROM (with AUTH offered it adds ``AUTH=<user>``, which aiosmtpd refuses)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, tuple[str, ...], bytes]] = []
        self.port = 0
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 OK queued"

    def start(self) -> RelaySink:
        import socket

        from aiosmtpd.controller import Controller

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self._controller = Controller(self, hostname="127.0.0.1", port=port, decode_data=False)
        self._controller.start()
        self.port = port
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()


class Browser:
    """Headless Debian Chromium through chromedriver, trusting the test CA (see module doc)."""

    def __init__(self, tls: TlsMaterials) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.home = Path(tempfile.mkdtemp(prefix="smh-chromium-"))
        nssdb = self.home / ".pki" / "nssdb"
        nssdb.mkdir(parents=True)
        subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True, capture_output=True)
        subprocess.run(["certutil", "-A", "-d", f"sql:{nssdb}", "-n", "smimehelper test TLS CA", "-t", "C,,", "-i", str(tls.cafile)],
                       check=True, capture_output=True)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                    f"--user-data-dir={self.home / 'profile'}", "--password-store=basic", "--disable-features=HttpsUpgrades"):
            options.add_argument(arg)
        service = Service(executable_path=CHROMEDRIVER, env={"HOME": str(self.home), "PATH": "/usr/bin:/bin"})
        os.environ.setdefault("SE_AVOID_STATS", "true")
        try:
            self.driver = webdriver.Chrome(service=service, options=options)
        except BaseException:
            shutil.rmtree(self.home, ignore_errors=True)
            raise
        self.driver.set_page_load_timeout(30)

    def sign_in(self, url: str, user: str = OIDC_USER, password: str = OIDC_PASSWORD, *, consent: bool = True) -> str:
        """Open the authorization URL, log in, allow (or deny); returns the final page's text."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        driver = self.driver
        origin = urllib.parse.urlsplit(url)
        driver.get(f"{origin.scheme}://{origin.netloc}/.well-known/openid-configuration")
        driver.delete_all_cookies()  # a new sign-in, as in a browser the provider has not seen
        driver.get(url)
        wait = WebDriverWait(driver, 20)
        wait.until(ec.presence_of_element_located((By.ID, "username"))).send_keys(user)
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.ID, "sign-in").click()
        wait.until(ec.presence_of_element_located((By.ID, "allow" if consent else "deny"))).click()
        wait.until(lambda d: d.find_elements(By.ID, "result") or d.find_elements(By.ID, "error"))
        return driver.find_element(By.TAG_NAME, "body").text

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)


class Judges:
    """The provider, Dovecot (IMAP + submission) and the relay behind it, started together."""

    def __init__(self, tls: TlsMaterials, access_ttl: int = 600) -> None:
        self.tls = tls
        self.oidc = OidcProvider(tls, access_ttl=access_ttl).start()
        self.relay = RelaySink().start()
        try:
            self.dovecot = OAuthDovecot(tls, self.oidc, self.relay.port).start()
        except BaseException:
            self.relay.stop()
            self.oidc.stop()
            raise

    def account(self, sasl: str | None = None):  # type: ignore[no-untyped-def]
        """An account at these judges that signs in with the provider (custom issuer)."""
        from smimehelper.core.transport.accounts import make_account

        d = self.dovecot
        return make_account(
            self.oidc.user, smtp_host=d.host, smtp_port=d.submission_port, security="starttls", cafile=str(self.tls.cafile),
            imap_host=d.host, imap_port=d.port, imap_security="starttls", oauth_issuer=self.oidc.issuer,
            oauth_client_id=self.oidc.client_id, oauth_scopes=f"openid offline_access {self.oidc.scope}", sasl=sasl,
        )

    def sent_folder(self) -> list[bytes]:
        """The Sent folder's messages as Dovecot stored them (maildir keeps LF line ends)."""
        assert self.dovecot.workdir is not None
        folder = self.dovecot.workdir / "mail" / self.oidc.user / "Maildir" / ".Sent"
        return [p.read_bytes() for p in sorted(folder.glob("*/*")) if p.is_file()]

    def stop(self) -> None:
        self.dovecot.stop()
        self.relay.stop()
        self.oidc.stop()


class BrowserUser:
    """The person at the browser: what open_browser hands over, they sign in to (or deny)."""

    def __init__(self, browser: Browser, *, consent: bool = True) -> None:
        self.browser = browser
        self.consent = consent
        self.urls: list[str] = []
        self.pages: list[str] = []
        self.errors: list[BaseException] = []
        self._threads: list[threading.Thread] = []

    def __call__(self, url: str) -> bool:
        self.urls.append(url)

        def act() -> None:
            try:
                self.pages.append(self.browser.sign_in(url, consent=self.consent))
            except BaseException as exc:  # noqa: BLE001 - reported by join()
                self.errors.append(exc)

        thread = threading.Thread(target=act)
        thread.start()
        self._threads.append(thread)
        return True

    def join(self) -> None:
        for thread in self._threads:
            thread.join(60)
        assert not self.errors, self.errors


def as_sent(relayed: bytes) -> bytes:
    """The message as the client sent it: Dovecot's submission service adds one Received header
    ("with ESMTPSA": authenticated, encrypted) and changes nothing else."""
    head, sep, rest = relayed.partition(b"\r\n")
    assert head.startswith(b"Received: from ") and sep
    while rest.startswith((b"\t", b" ")):
        line, _, rest = rest.partition(b"\r\n")
        if b"with ESMTPSA" in line:
            head += b"ESMTPSA"
    assert b"ESMTPSA" in head, relayed[:300]
    return rest


class MemorySecrets:
    """A SecretStore over the in-memory keyring: secure-looking, per test."""

    def __init__(self) -> None:
        from tests.memory_keyring import MemoryKeyring

        self.keyring = MemoryKeyring()

    def available(self) -> bool:
        return True

    def put(self, name: str, secret: bytes) -> bool:
        self.keyring.set_password("smimehelper", name, secret.decode())
        return True

    def get(self, name: str) -> bytes | None:
        value = self.keyring.get_password("smimehelper", name)
        return value.encode() if value else None

    def delete(self, name: str) -> None:
        self.keyring.delete_password("smimehelper", name)

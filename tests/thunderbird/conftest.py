"""Fixtures for tests judged by the real Thunderbird (tests/thunderbird/harness.py).

* ``xvfb`` (session): one private X server for every Thunderbird of the run.
* ``live_pki`` (session): the test PKI built around the *real* time -- Thunderbird checks
  certificates at real time, so the frozen ``pki`` fixture would be expired or not yet valid.
* ``tb_world`` (function): a fresh aiosmtpd server, the shared Dovecot emptied, and helpers to
  write a profile per variant, compose with smimehelper and run ``smimehelper export`` in a
  real process (which starts Thunderbird itself). Every Thunderbird the test started -- or
  that smimehelper started for it -- is gone afterwards.

Reused from tests/transport: the TLS test CA, Dovecot and the SMTP server factory. A missing
Thunderbird or Xvfb fails (not skips) these tests, like the other hard tools of the suite.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.console import console_script
from tests.pki.make_pki import Pki, build_pki
from tests.thunderbird.harness import (
    MailAccount,
    Profile,
    SmimeSetup,
    Thunderbird,
    Xvfb,
    _alive,
    profile_pid,
    thunderbird_available,
    write_profile,
)
from tests.transport.conftest import clean_dovecot, dovecot, smtp_server_factory, tls_materials  # noqa: F401 (fixtures)
from tests.transport.servers import DovecotServer, SmtpServer, TlsMaterials, imap_fetch_all

VARIANTS = ("configured", "key-only", "no-key")
"""What the user did about S/MIME in Thunderbird: everything (sign + require encryption with
their key), only imported their key, or nothing at all (the usual smimehelper user)."""


@pytest.fixture(scope="session")
def xvfb() -> Iterator[Xvfb]:
    if not thunderbird_available():
        pytest.fail("the Thunderbird tests need /usr/bin/thunderbird and Xvfb: apt-get install thunderbird xvfb "
                    "(scripts/test does)", pytrace=False)
    server = Xvfb().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=1)
    return build_pki(tmp_path_factory.mktemp("live-pki"), now=now)


@dataclass
class TbWorld:
    tmp: Path
    display: str
    pki: Pki
    tls: TlsMaterials
    smtp: SmtpServer
    imap: DovecotServer
    profiles: list[Profile] = field(default_factory=list)
    started: list[Thunderbird] = field(default_factory=list)

    @property
    def account(self) -> MailAccount:
        return MailAccount(
            email="alice@example.org", full_name="Dr Alice Sender",
            imap_host=self.imap.host, imap_port=self.imap.port, imap_user=self.imap.user, imap_password=self.imap.password,
            smtp_host=self.smtp.host, smtp_port=self.smtp.port, smtp_user=self.smtp.username, smtp_password=self.smtp.password,
        )

    def smime(self, variant: str) -> SmimeSetup:
        pki = self.pki
        anchors = {"roots": (pki.root.cert_pem,), "intermediates": (pki.inter.cert_pem,)}
        if variant == "configured":
            return SmimeSetup(key_p12=pki.entity("alice").p12, p12_password=pki.p12_password, configured=True,
                              people=(pki.entity("bob").cert_pem,), **anchors)  # type: ignore[arg-type]
        if variant == "key-only":
            return SmimeSetup(key_p12=pki.entity("alice").p12, p12_password=pki.p12_password, **anchors)  # type: ignore[arg-type]
        assert variant == "no-key", variant
        return SmimeSetup()

    def profile(self, variant: str, *, store: str = "mbox", used_before: bool = True, name: str = "home") -> Profile:
        """A user's profile; ``used_before``: Thunderbird already ran on it once (Local Folders,
        Outbox and session.json exist), as on any computer where it is in use."""
        profile = write_profile(self.tmp / name, self.account, tls_ca=self.tls.cafile, smime=self.smime(variant), store=store)
        self.profiles.append(profile)
        if used_before:
            self.start(profile).quit()
        return profile

    def start(self, profile: Profile, **kwargs) -> Thunderbird:  # type: ignore[no-untyped-def]
        tb = Thunderbird.start(profile, self.display, **kwargs)
        self.started.append(tb)
        return tb

    def attach(self, profile: Profile) -> Thunderbird:
        tb = Thunderbird.attach(profile)
        self.started.append(tb)
        return tb

    def smimehelper(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The installed console script in a real process (never on PATH)."""
        base = {"PATH": "/usr/bin:/bin", "HOME": str(self.tmp), "LANG": "C.UTF-8",
                "SMIMEHELPER_HOME": str(self.tmp / "smimehelper-data"), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
        base.update(env or {})
        return subprocess.run([str(console_script()), *args], env=base, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def compose(self, out: Path, *, body: str, attach: Path | None = None, extra: tuple[str, ...] = ()) -> Path:
        """alice -> bob, signed and encrypted by smimehelper (the product under test)."""
        pki = self.pki
        args = ["compose", "--from", "Dr Alice Sender <alice@example.org>", "--to", "bob@example.org",
                "--subject", "Referral", "--body", body, "--sign-key", str(pki.entity("alice").p12),
                "--passphrase-file", str(pki.passphrase_file), "--recipient-cert", str(pki.entity("bob").cert_pem),
                "-o", str(out), *extra]
        if attach is not None:
            args += ["--attach", str(attach)]
        done = self.smimehelper(*args)
        assert done.returncode == 0, done.stderr
        return out

    def export(self, message: Path, profile: Profile, *extra: str) -> subprocess.CompletedProcess[str]:
        """``smimehelper export`` as the user runs it: their HOME, their display."""
        with suppress(FileNotFoundError):
            (profile.path / "MarionetteActivePort").unlink()  # attach() waits for the new one
        env = profile.env(self.display)
        env["SMIMEHELPER_HOME"] = str(self.tmp / "smimehelper-data")
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
        return self.smimehelper("export", str(message), *extra, env=env)

    def sent_copies(self) -> list[bytes]:
        return imap_fetch_all(self.imap, self.account.sent_folder)

    def cleanup(self) -> None:
        for tb in self.started:
            tb.quit(timeout=15)
        for profile in self.profiles:  # a Thunderbird smimehelper started that no test attached to
            pid = profile_pid(profile)
            if pid and _alive(pid):
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def tb_world(
    tmp_path: Path, xvfb: Xvfb, live_pki: Pki, tls_materials: TlsMaterials, smtp_server_factory,  # type: ignore[no-untyped-def]
    clean_dovecot: DovecotServer,  # noqa: F811
) -> Iterator[TbWorld]:
    world = TbWorld(tmp=tmp_path, display=xvfb.display, pki=live_pki, tls=tls_materials,
                    smtp=smtp_server_factory("starttls"), imap=clean_dovecot)
    try:
        yield world
    finally:
        world.cleanup()


@dataclass(frozen=True)
class ThunderbirdMessage:
    """A message the real Thunderbird composed and sent (see ``thunderbird_smime_message``)."""

    data: bytes  # exactly what the SMTP server received
    sent_copy: bytes  # what Thunderbird filed in the IMAP Sent folder
    pki: Pki  # alice sent it to bob; both keys are in pki (real-time validity)
    body: str
    attachment: Path


def compose_with_thunderbird(world: TbWorld, *, body: str, attachment: Path) -> ThunderbirdMessage:
    """Thunderbird (S/MIME configured: sign + require encryption with alice's key, bob's
    certificate known) writes alice -> bob with ``attachment`` and sends it with its own Send."""
    profile = world.profile("configured", name="composer-home")
    tb = world.start(profile)
    tb.compose_and_send(to="bob@example.org", subject="Referral from Thunderbird", body=body, attachment=attachment)
    tb.quit()
    [arrived] = world.smtp.received
    [copy] = world.sent_copies()
    return ThunderbirdMessage(data=arrived.data, sent_copy=copy, pki=world.pki, body=body, attachment=attachment)


@pytest.fixture
def thunderbird_smime_message(tb_world: TbWorld) -> ThunderbirdMessage:
    """One message sent by the real Thunderbird 153 with S/MIME configured: signed and
    encrypted (alice -> bob), with a text and a binary attachment, as recorded by aiosmtpd.
    For readers of real Thunderbird mail (issue 16); about 10 s."""
    attachment = tb_world.tmp / "xray-from-thunderbird.bin"
    attachment.write_bytes(os.urandom(50_000))
    return compose_with_thunderbird(tb_world, body="Hello Bob, the x-ray is attached. TBMARKER-5521", attachment=attachment)

"""A Thunderbird profile the way a user's looks after setting up an account, written by a test.

``write_profile`` makes ``HOME/.thunderbird`` with ``profiles.ini`` and ``installs.ini`` (the
layout Thunderbird 153 writes: the install's default is the profile it opens) and one profile:
prefs.js with one IMAP account (Dovecot) and its SMTP server (aiosmtpd) on the loopback
interface, both STARTTLS; the test TLS CA trusted in the profile's NSS database (``cert9.db``,
via ``certutil``); and, per :class:`SmimeSetup`, the S/MIME root trusted, the user's key
imported (``pk12util``), correspondents' certificates known and the identity's S/MIME
preferences set ("configured": sign and require encryption, as Account Settings writes them).
"""

from __future__ import annotations

import base64
import struct
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

INSTALL_HASH = "FDC34C9F024745EB"
"""What Thunderbird writes into installs.ini for /usr/lib/thunderbird (CityHash of the path)."""

PROFILE_NAME = "default-release"
PROFILE_DIR_NAME = "smh0test.default-release"


class ProfileError(RuntimeError):
    pass


@dataclass(frozen=True)
class MailAccount:
    """The user's account as Thunderbird knows it (IMAP in, SMTP out, both STARTTLS)."""

    email: str
    full_name: str
    imap_host: str
    imap_port: int
    imap_user: str
    imap_password: str
    smtp_host: str
    smtp_port: int
    smtp_user: str
    smtp_password: str
    sent_folder: str = "Sent"


@dataclass(frozen=True)
class SmimeSetup:
    """What the user has done about S/MIME in Thunderbird.

    ``key_p12``: the user's certificate with its key imported ("Your Certificates"), else
    None. ``configured``: the identity signs and requires encryption with that
    certificate (Account Settings > End-To-End Encryption). ``roots``: CAs trusted for
    e-mail; ``intermediates`` and ``people`` (correspondents' certificates) are known.
    """

    key_p12: Path | None = None
    p12_password: str = ""
    configured: bool = False
    roots: tuple[Path, ...] = ()
    intermediates: tuple[Path, ...] = ()
    people: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Profile:
    home: Path
    path: Path
    account: MailAccount
    smime: SmimeSetup
    store: str  # "mbox" or "maildir"
    identity_key: str = "id1"

    @property
    def local_folders(self) -> Path:
        return self.path / "Mail" / "Local Folders"

    def env(self, display: str) -> dict[str, str]:
        """The environment Thunderbird runs in: this HOME only, this display, Marionette on."""
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.home),
            "DISPLAY": display,
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_RUNTIME_DIR": str(self.home / ".run"),
            "MOZ_MARIONETTE": "1",
            "MOZ_REMOTE_ALLOW_SYSTEM_ACCESS": "1",  # chrome context (the menus' own commands)
            "MOZ_CRASHREPORTER_DISABLE": "1",
            "MOZ_DISABLE_AUTO_SAFE_MODE": "1",
            "LANG": "C.UTF-8",
            "TZ": "UTC",
        }


def _pref(name: str, value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    else:
        text = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f'user_pref("{name}", {text});\n'


QUIET_PREFS: Mapping[str, Any] = {
    # No first-run pages, tips, update checks, telemetry or default-client question: the
    # main window comes up and stays quiet.
    "mail.shell.checkDefaultClient": False,
    "mail.rights.version": 1,
    "mailnews.start_page.enabled": False,
    "mailnews.start_page_override.mstone": "ignore",
    "mail.provider.enabled": False,
    "mail.inappnotifications.enabled": False,
    "app.update.disabledForTesting": True,
    "app.update.auto": False,
    "app.donation.eoy.version.viewed": 999,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "mail.biff.show_alert": False,
    "mail.biff.play_sound": False,
    "mail.biff.show_tray_icon": False,
    "mail.warn_on_send_accel_key": False,
    "mail.spellcheck.inline": False,
    "mailnews.sendInBackground": False,
    "offline.startup_state": 2,  # always online
    "offline.send.unsent_messages": 2,  # never on its own: only the user's click sends
    "mail.startup.enabledMailCheckOnce": True,
    "calendar.timezone.local": "UTC",
    "calendar.integration.notify": False,
    "mailnews.auto_config.addons_url": "",
    "network.dns.disableIPv6": True,
    "security.OCSP.enabled": 0,
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "extensions.update.enabled": False,
    "remote.prefs.recommended": True,
}


def db_key(cert: x509.Certificate) -> str:
    """Gecko's nsIX509Cert.dbKey: base64(0u32, 0u32, len(serial), len(issuer), serial, issuer).

    It is what Account Settings stores as ``signing_cert_dbkey``/``encryption_cert_dbkey``.
    """
    serial = cert.serial_number
    serial_bytes = serial.to_bytes((serial.bit_length() + 8) // 8, "big")  # DER INTEGER content
    issuer = cert.issuer.public_bytes()
    raw = struct.pack(">IIII", 0, 0, len(serial_bytes), len(issuer)) + serial_bytes + issuer
    return base64.b64encode(raw).decode("ascii")


def _run(command: Sequence[str], what: str) -> str:
    done = subprocess.run(list(command), capture_output=True, timeout=60)
    if done.returncode != 0:
        raise ProfileError(f"{what} failed ({done.returncode}): {done.stderr.decode('utf-8', 'replace')}")
    return done.stdout.decode("utf-8", "replace")


def _nss_db(path: Path, tls_ca: Path, smime: SmimeSetup) -> str | None:
    """cert9.db/key4.db without a primary password; returns the nickname of the user's cert."""
    db = f"sql:{path}"
    _run(["certutil", "-N", "-d", db, "--empty-password"], "certutil -N")
    _run(["certutil", "-A", "-d", db, "-n", "smimehelper test TLS CA", "-t", "C,,", "-i", str(tls_ca)], "certutil -A (TLS CA)")
    for index, root in enumerate(smime.roots):
        _run(["certutil", "-A", "-d", db, "-n", f"S/MIME root {index}", "-t", ",C,", "-i", str(root)], "certutil -A (root)")
    for index, inter in enumerate(smime.intermediates):
        _run(["certutil", "-A", "-d", db, "-n", f"S/MIME intermediate {index}", "-t", ",,", "-i", str(inter)], "certutil -A (intermediate)")
    for index, person in enumerate(smime.people):
        _run(["certutil", "-A", "-d", db, "-n", f"person {index}", "-t", ",,", "-i", str(person)], "certutil -A (person)")
    if smime.key_p12 is None:
        return None
    password_file = path / ".p12pass"
    password_file.write_text(smime.p12_password, encoding="utf-8")
    try:
        _run(["pk12util", "-i", str(smime.key_p12), "-d", db, "-w", str(password_file), "-K", ""], "pk12util -i")
    finally:
        password_file.unlink()
    listing = _run(["certutil", "-L", "-d", db], "certutil -L")
    for line in listing.splitlines():
        name, _, trust = line.rpartition(" ")
        if trust.strip().startswith("u"):
            return name.strip()
    raise ProfileError(f"pk12util imported no key from {smime.key_p12}:\n{listing}")


def write_profile(
    home: Path,
    account: MailAccount,
    *,
    tls_ca: Path,
    smime: SmimeSetup = SmimeSetup(),
    store: str = "mbox",
    extra_prefs: Mapping[str, Any] | None = None,
) -> Profile:
    """Write HOME/.thunderbird with one profile as described in the module doc."""
    if store not in ("mbox", "maildir"):
        raise ValueError(store)
    root = home / ".thunderbird"
    path = root / PROFILE_DIR_NAME
    path.mkdir(parents=True)
    for sub in (".config", ".cache", ".local/share", ".run"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    (home / ".run").chmod(0o700)
    (root / "profiles.ini").write_text(
        "[Profile0]\n"
        f"Name={PROFILE_NAME}\nIsRelative=1\nPath={PROFILE_DIR_NAME}\n\n"
        "[General]\nStartWithLastProfile=1\nVersion=2\n\n"
        f"[Install{INSTALL_HASH}]\nDefault={PROFILE_DIR_NAME}\nLocked=1\n",
        encoding="utf-8",
    )
    (root / "installs.ini").write_text(f"[{INSTALL_HASH}]\nDefault={PROFILE_DIR_NAME}\nLocked=1\n", encoding="utf-8")
    nickname = _nss_db(path, tls_ca, smime)

    contract = "@mozilla.org/msgstore/maildirstore;1" if store == "maildir" else "@mozilla.org/msgstore/berkeleystore;1"
    imap_uri = f"imap://{account.imap_user.replace('@', '%40')}@{account.imap_host}"
    prefs: dict[str, Any] = dict(QUIET_PREFS)
    prefs.update({
        "mail.accountmanager.accounts": "account1,account2",
        "mail.accountmanager.defaultaccount": "account1",
        "mail.accountmanager.localfoldersserver": "server2",
        "mail.account.account1.identities": "id1",
        "mail.account.account1.server": "server1",
        "mail.account.account2.server": "server2",
        "mail.identity.id1.fullName": account.full_name,
        "mail.identity.id1.useremail": account.email,
        "mail.identity.id1.smtpServer": "smtp1",
        "mail.identity.id1.valid": True,
        "mail.identity.id1.fcc": True,
        "mail.identity.id1.fcc_folder": f"{imap_uri}/{account.sent_folder}",
        "mail.identity.id1.draft_folder": f"{imap_uri}/Drafts",
        "mail.identity.id1.compose_html": False,
        "mail.identity.id1.reply_on_top": 1,
        "mail.identity.id1.attachPgpKey": False,
        "mail.identity.id1.sendAutocryptHeaders": False,
        "mail.server.server1.type": "imap",
        "mail.server.server1.hostname": account.imap_host,
        "mail.server.server1.port": account.imap_port,
        "mail.server.server1.socketType": 2,  # STARTTLS
        "mail.server.server1.authMethod": 3,  # normal password
        "mail.server.server1.userName": account.imap_user,
        "mail.server.server1.name": account.email,
        "mail.server.server1.directory-rel": "[ProfD]ImapMail/" + account.imap_host,
        "mail.server.server1.storeContractID": contract,
        "mail.server.server1.login_at_startup": False,
        "mail.server.server1.check_new_mail": False,
        "mail.server.server1.autosync_offline_stores": False,
        "mail.server.server1.offline_download": False,
        "mail.server.server2.type": "none",
        "mail.server.server2.hostname": "Local Folders",
        "mail.server.server2.userName": "nobody",
        "mail.server.server2.name": "Local Folders",
        "mail.server.server2.directory-rel": "[ProfD]Mail/Local Folders",
        "mail.server.server2.storeContractID": contract,
        "mail.serverDefaultStoreContractID": contract,
        "mail.smtpservers": "smtp1",
        "mail.smtp.defaultserver": "smtp1",
        "mail.smtpserver.smtp1.type": "smtp",
        "mail.smtpserver.smtp1.hostname": account.smtp_host,
        "mail.smtpserver.smtp1.port": account.smtp_port,
        "mail.smtpserver.smtp1.try_ssl": 2,  # STARTTLS
        "mail.smtpserver.smtp1.authMethod": 3,
        "mail.smtpserver.smtp1.username": account.smtp_user,
        "mail.smtpserver.smtp1.description": "test SMTP",
    })
    if smime.configured:
        if nickname is None or smime.key_p12 is None:
            raise ValueError("a configured S/MIME identity needs the user's key")
        from cryptography.hazmat.primitives.serialization import pkcs12

        loaded = pkcs12.load_pkcs12(smime.key_p12.read_bytes(), smime.p12_password.encode("utf-8"))
        assert loaded.cert is not None
        key = db_key(loaded.cert.certificate)
        prefs.update({
            "mail.identity.id1.signing_cert_name": nickname,
            "mail.identity.id1.signing_cert_dbkey": key,
            "mail.identity.id1.encryption_cert_name": nickname,
            "mail.identity.id1.encryption_cert_dbkey": key,
            "mail.identity.id1.sign_mail": True,
            "mail.identity.id1.encryptionpolicy": 2,
            "mail.identity.id1.e2etechpref": 1,
        })
    prefs.update(extra_prefs or {})
    (path / "prefs.js").write_text("".join(_pref(k, v) for k, v in sorted(prefs.items())), encoding="utf-8")
    return Profile(home=home, path=path, account=account, smime=smime, store=store)

"""The real Thunderbird (Debian package, 153 ESR) under Xvfb, for end-to-end tests.

What this gives a test:

* ``Xvfb`` -- a private X server (``-displayfd``: parallel runs never collide).
* ``write_profile`` (tests/thunderbird/profile.py, re-exported here) -- a user's profile:
  one IMAP + SMTP account on the loopback interface, the NSS database, the S/MIME variant.
* ``Thunderbird`` -- a running instance (started here, or by the product under test with
  ``MOZ_MARIONETTE=1`` inherited) driven over Marionette (tests/thunderbird/marionette.py):
  wait for the main window, give the account passwords to its password manager (what the
  user does once with "Remember password"), press File > Send Unsent Messages, compose and
  send a message, quit. The process group is killed if it does not quit.
* ``compose_and_send`` -- Thunderbird itself composing a signed and encrypted message and
  sending it through the SMTP server: the "real Thunderbird message" fixture for readers
  of our own (issue 16).

Nothing here builds or alters a message: what the SMTP server records is Thunderbird's.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.thunderbird.marionette import Marionette, MarionetteError
from tests.thunderbird.profile import (  # noqa: F401 (the harness's public names)
    INSTALL_HASH, MailAccount, Profile, ProfileError, SmimeSetup, db_key, write_profile,
)

THUNDERBIRD = "/usr/bin/thunderbird"
INSTALL_DIR = "/usr/lib/thunderbird"


class ThunderbirdError(RuntimeError):
    pass


# --------------------------------------------------------------------------- X server


class Xvfb:
    """``Xvfb -displayfd``: the server picks a free display and tells us which."""

    def __init__(self, size: str = "1280x1024x24") -> None:
        self.size = size
        self.display = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> Xvfb:
        read_end, write_end = os.pipe()
        try:
            self._proc = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write_end), "-screen", "0", self.size, "-nolisten", "tcp"],
                pass_fds=(write_end,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            os.close(write_end)
        data = b""
        deadline = time.monotonic() + timeout
        try:
            while not data.endswith(b"\n"):
                if time.monotonic() > deadline:
                    raise ThunderbirdError("Xvfb did not report its display")
                chunk = os.read(read_end, 64)
                if not chunk:
                    raise ThunderbirdError(f"Xvfb exited ({self._proc.wait()}) before reporting its display")
                data += chunk
        finally:
            os.close(read_end)
        self.display = ":" + data.decode("ascii").strip()
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def __enter__(self) -> Xvfb:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- running


def profile_pid(profile: Profile) -> int | None:
    """The PID in the profile's ``lock`` symlink (``IP:+PID``), if Thunderbird holds it."""
    try:
        target = os.readlink(profile.path / "lock")
    except OSError:
        return None
    pid_text = target.rpartition(":")[2].lstrip("+")
    return int(pid_text) if pid_text.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not running
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().split(b") ", 1)[1][:1] != b"Z"
    except OSError:
        return False


@dataclass
class Thunderbird:
    """A running Thunderbird on ``profile`` (see module doc). Use ``start`` or ``attach``."""

    profile: Profile
    pid: int
    proc: subprocess.Popen[bytes] | None = None
    marionette: Marionette | None = None
    log: Path | None = None
    main_handle: str = ""
    _logins_added: bool = field(default=False, repr=False)

    # ---- life cycle

    @classmethod
    def start(cls, profile: Profile, display: str, *, args: Sequence[str] = (), timeout: float = 90.0) -> Thunderbird:
        log = profile.home / "thunderbird.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [THUNDERBIRD, "--profile", str(profile.path), "--no-remote", *args],
                env=profile.env(display),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        tb = cls(profile=profile, pid=proc.pid, proc=proc, log=log)
        try:
            tb._connect(timeout)
        except BaseException:
            tb.kill()
            raise
        return tb

    @classmethod
    def attach(cls, profile: Profile, *, timeout: float = 90.0) -> Thunderbird:
        """Connect to the Thunderbird someone else started on ``profile`` with MOZ_MARIONETTE=1
        (remove a stale ``MarionetteActivePort`` before that start)."""
        tb = cls(profile=profile, pid=0, log=profile.home / "thunderbird.log")
        try:
            tb._connect(timeout)
            tb.pid = int(tb._m().script("return Services.appinfo.processID;"))
        except BaseException:
            pid = profile_pid(profile)
            if pid:
                tb.pid = pid
                tb.kill()
            raise
        return tb

    def _connect(self, timeout: float) -> None:
        port_file = self.profile.path / "MarionetteActivePort"
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise ThunderbirdError(f"Thunderbird exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            if port_file.exists():
                text = port_file.read_text().strip()
                if text.isdigit():
                    try:
                        self.marionette = Marionette(int(text))
                        break
                    except (OSError, MarionetteError):
                        pass
            if time.monotonic() > deadline:
                raise ThunderbirdError(f"Marionette did not come up within {timeout:.0f} s:\n{self.log_text()[-3000:]}")
            time.sleep(0.2)
        m = self.marionette
        m.chrome()
        self.main_handle = m.wait_for(
            """
            const win = Services.wm.getMostRecentWindow("mail:3pane");
            if (!win || win.document.readyState != "complete" || !win.gMailInit?.delayedStartupFinished) {
              return null;
            }
            return true;
            """,
            timeout=max(5.0, deadline - time.monotonic()),
            what="Thunderbird's main window",
        ) and self._handle_of("mail:3pane")

    def _handle_of(self, window_type: str) -> str:
        m = self._m()
        for handle in m.window_handles():
            m.switch_to(handle)
            if m.script("return document.documentElement.getAttribute('windowtype');") == window_type:
                return handle
        raise ThunderbirdError(f"no {window_type} window")

    def _m(self) -> Marionette:
        if self.marionette is None:
            raise ThunderbirdError("not connected")
        return self.marionette

    def log_text(self) -> str:
        return self.log.read_text("utf-8", "replace") if self.log and self.log.exists() else ""

    @property
    def running(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return _alive(self.pid)

    def quit(self, timeout: float = 30.0) -> None:
        """File > Quit; kill the process group if it does not go."""
        if self.marionette is not None:
            with suppress(OSError, MarionetteError):
                self.marionette.command("Marionette:Quit", {"flags": ["eAttemptQuit"]})
            self.marionette.close()
            self.marionette = None
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            time.sleep(0.1)
        self.kill()

    def kill(self) -> None:
        if self.marionette is not None:
            self.marionette.close()
            self.marionette = None
        if self.running:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)  # its own session: start_new_session
            with suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        if self.proc is not None:
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        else:
            deadline = time.monotonic() + 10
            while _alive(self.pid) and time.monotonic() < deadline:
                time.sleep(0.05)

    # ---- the user's actions

    def remember_passwords(self) -> None:
        """What "Remember password" stores after the first login, for IMAP and SMTP."""
        if self._logins_added:
            return
        a = self.profile.account
        self._m().script(
            """
            const [imapHost, imapUser, imapPass, smtpHost, smtpUser, smtpPass] = arguments;
            const make = (origin, user, pass) => {
              const info = Cc["@mozilla.org/login-manager/loginInfo;1"].createInstance(Ci.nsILoginInfo);
              info.init(origin, null, origin, user, pass, "", "");
              return info;
            };
            return Services.logins.addLogins([
              make("imap://" + imapHost, imapUser, imapPass),
              make("smtp://" + smtpHost, smtpUser, smtpPass),
            ]).then(() => true);
            """,
            a.imap_host, a.imap_user, a.imap_password, a.smtp_host, a.smtp_user, a.smtp_password,
        )
        self._logins_added = True

    def unsent_count(self) -> int:
        """Messages Thunderbird sees in Local Folders > Outbox ("Unsent Messages"); raises
        MarionetteError while it is still rebuilding the folder's index."""
        return int(self._in_main(
            """
            // Through the folder's index itself: it throws while the index is being rebuilt,
            // where getTotalMessages() would answer a stale 0.
            const folder = MailServices.accounts.localFoldersServer.rootFolder.getChildNamed("Unsent Messages");
            return [...folder.msgDatabase.enumerateMessages()].length;
            """
        ))

    def wait_unsent(self, expected: int, timeout: float = 20.0) -> int:
        """``unsent_count()`` once it equals ``expected`` (Thunderbird rebuilds the Outbox
        index in the background after start); the last count seen when it does not."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                count = self.unsent_count()
            except MarionetteError:  # the folder's index is being rebuilt
                count = -1
            if count == expected or time.monotonic() > deadline:
                return count
            time.sleep(0.2)

    def _in_main(self, source: str, *args: Any, timeout_ms: int = 60_000) -> Any:
        m = self._m()
        m.switch_to(self.main_handle)
        return m.script(source, *args, timeout_ms=timeout_ms)

    def send_unsent_messages(self, timeout: float = 90.0, start_timeout: float = 15.0) -> dict[str, Any]:
        """File > Send Unsent Messages, as the menu item does it; waits until it finished.

        Returns what Thunderbird's send-later service reported (``started``, ``tried``,
        ``successful``, ``status``, ``errors``); ``started`` is False if Thunderbird did not
        even begin (it saw no message in the Outbox) within ``start_timeout`` seconds.
        """
        self.remember_passwords()
        return dict(self._in_main(
            """
            const done = new Promise(resolve => {
              const sendLater = Cc["@mozilla.org/messengercompose/sendlater;1"].getService(Ci.nsIMsgSendLater);
              const errors = [];
              let started = false;
              const listener = {
                QueryInterface: ChromeUtils.generateQI(["nsIMsgSendLaterListener"]),
                onStartSending() { started = true; },
                onMessageStartSending() {}, onMessageSendProgress() {},
                onMessageSendError(index, hdr, status, msg) { errors.push(String(msg || status)); },
                onStopSending(status, msg, tried, ok) {
                  sendLater.removeListener(listener);
                  resolve({started: true, status: status, message: String(msg || ""), tried: tried, successful: ok, errors: errors});
                },
              };
              sendLater.addListener(listener);
              setTimeout(() => {
                if (!started) {
                  sendLater.removeListener(listener);
                  resolve({started: false, tried: 0, successful: 0, errors: errors});
                }
              }, arguments[0]);
            });
            // The File menu's own item, as a click on it: <menuitem id="menu_sendunsentmsgs"
            // command="cmd_sendUnsentMsgs"> (messenger.xhtml).
            document.getElementById("menu_sendunsentmsgs").doCommand();
            return done;
            """,
            int(start_timeout * 1000),
            timeout_ms=int(timeout * 1000),
        ))

    def compose_and_send(self, *, to: str, subject: str, body: str, attachment: Path | None = None, timeout: float = 120.0) -> None:
        """A new message written in Thunderbird's composer and sent with its Send button.

        With ``SmimeSetup(configured=True)`` the identity signs and requires encryption, so
        what arrives is Thunderbird's own S/MIME message.
        """
        before = set(self._m().window_handles())
        self._in_main(
            """
            const [to, subject, body, attachmentUrl] = arguments;
            const params = Cc["@mozilla.org/messengercompose/composeparams;1"].createInstance(Ci.nsIMsgComposeParams);
            const fields = Cc["@mozilla.org/messengercompose/composefields;1"].createInstance(Ci.nsIMsgCompFields);
            fields.to = to;
            fields.subject = subject;
            fields.body = body;
            if (attachmentUrl) {
              const att = Cc["@mozilla.org/messengercompose/attachment;1"].createInstance(Ci.nsIMsgAttachment);
              att.url = attachmentUrl;
              att.name = attachmentUrl.split("/").pop();
              fields.addAttachment(att);
            }
            params.type = Ci.nsIMsgCompType.New;
            params.format = Ci.nsIMsgCompFormat.PlainText;
            params.composeFields = fields;
            params.identity = MailServices.accounts.getIdentity("id1");
            MailServices.compose.OpenComposeWindowWithParams(null, params);
            return true;
            """,
            to, subject, body, attachment.resolve().as_uri() if attachment else None,
        )
        self.send_composer(timeout=timeout, exclude=before)

    def composer_state(self) -> dict[str, Any]:
        """What the open compose window shows: recipients, attachments, S/MIME toggles."""
        handle = self._composer_handle(60.0, set())
        m = self._m()
        m.switch_to(handle)
        return dict(m.script(
            """
            return {
              to: gMsgCompose.compFields.to,
              subject: gMsgCompose.compFields.subject,
              attachments: [...gAttachmentBucket.itemChildren].map(i => i.attachment.name),
              sign: !!gSendSigned, encrypt: !!gSendEncrypted,
            };
            """
        ))

    def _composer_handle(self, timeout: float, exclude: set[str]) -> str:
        m = self._m()
        deadline = time.monotonic() + timeout
        while True:
            for candidate in m.window_handles():
                if candidate in exclude:
                    continue
                m.switch_to(candidate)
                ready = m.script(
                    "return document.documentElement.getAttribute('windowtype') == 'msgcompose'"
                    " && typeof gMsgCompose != 'undefined' && !!gMsgCompose && document.readyState == 'complete'"
                    " && !!gMsgCompose.compFields;"
                )
                if ready:
                    return candidate
            if time.monotonic() > deadline:
                raise ThunderbirdError("no compose window opened")
            time.sleep(0.2)

    def send_composer(self, *, timeout: float = 120.0, exclude: set[str] | None = None) -> None:
        """Press Send in the open compose window and wait until the window closed (= sent)."""
        self.remember_passwords()
        handle = self._composer_handle(timeout, exclude or set())
        m = self._m()
        m.switch_to(handle)
        time.sleep(1.5)  # let the recipient pills and the S/MIME certificate lookup settle
        # The toolbar's Send button: <toolbarbutton id="button-send" command="cmd_sendButton">.
        m.script('setTimeout(() => goDoCommand("cmd_sendButton"), 0); return true;')
        deadline = time.monotonic() + timeout
        while handle in m.window_handles():  # the composer closes once the message is sent
            if time.monotonic() > deadline:
                raise ThunderbirdError("the compose window did not close after Send (not sent?)")
            time.sleep(0.2)
        m.switch_to(self.main_handle)

    def screenshot(self, target: Path) -> Path:
        m = self._m()
        data = m.command("WebDriver:TakeScreenshot", {"full": False, "hash": False})
        target.write_bytes(base64.b64decode(data))
        return target


@contextmanager
def running(profile: Profile, display: str, **kwargs: Any) -> Iterator[Thunderbird]:
    tb = Thunderbird.start(profile, display, **kwargs)
    try:
        yield tb
    finally:
        tb.quit()


def thunderbird_available() -> bool:
    return Path(THUNDERBIRD).exists() and shutil.which("Xvfb") is not None

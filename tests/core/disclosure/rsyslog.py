"""A real rsyslog (Debian's rsyslogd with rsyslog-gnutls) receiving syslog over TLS on 127.0.0.1.

It runs in the foreground (-n) with its own configuration, pid file and work folder in a
temporary folder, so the system's rsyslog is never touched. Received messages are written one
per line to ``received.log`` as ``<structured data> <msg>`` (the MSG is the entry's JSON line).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

RSYSLOGD = "/usr/sbin/rsyslogd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Rsyslog:
    def __init__(self, folder: Path, cafile: Path, cert_file: Path, key_file: Path, port: int | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "work").mkdir(exist_ok=True)
        self.port = port or free_port()
        self.output = self.folder / "received.log"
        self.pidfile = self.folder / "rsyslogd.pid"
        self.config = self.folder / "rsyslog.conf"
        self.config.write_text(f'''
global(workDirectory="{self.folder / 'work'}" maxMessageSize="256k"
       defaultNetstreamDriver="gtls"
       defaultNetstreamDriverCAFile="{cafile}"
       defaultNetstreamDriverCertFile="{cert_file}"
       defaultNetstreamDriverKeyFile="{key_file}")
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="{self.port}")
template(name="received" type="string" string="%structured-data% %msg%\\n")
action(type="omfile" file="{self.output}" template="received" flushOnTXEnd="on" asyncWriting="off")
''')
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        self.pidfile.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(self.config), "-i", str(self.pidfile)],
            stdout=subprocess.DEVNULL, stderr=open(self.folder / "rsyslogd.stderr", "ab"),
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rsyslogd exited: {(self.folder / 'rsyslogd.stderr').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("rsyslogd did not start listening")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def received(self) -> list[str]:
        try:
            return [line for line in self.output.read_text(encoding="utf-8").splitlines() if line]
        except FileNotFoundError:
            return []

    def wait_for(self, count: int, timeout: float = 15.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.received()
            if len(lines) >= count:
                time.sleep(0.3)  # anything more (a duplicate) would arrive now
                return self.received()
            time.sleep(0.05)
        return self.received()

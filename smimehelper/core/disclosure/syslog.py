"""RFC 5424 syslog messages for disclosure-log entries, framed for RFC 5425 (TLS).

Each entry travels as one message: facility 13 ("log audit"), severity 6 (informational),
APP-NAME smimehelper, MSGID the entry's kind, structured data naming the log, the entry's
place and hashes (so the server's copy can be checked against the chain), and as MSG the
entry's canonical JSON line itself, byte for byte. The SD-ID uses the private enterprise
number 32473 that RFC 5612 reserves for documentation and examples (smimehelper has none of
its own). Entries carry patient data: they go only to the practice's own server, over TLS.
"""

from __future__ import annotations

import os
import socket

from .store import Entry

FACILITY_LOG_AUDIT = 13
SEVERITY_INFO = 6
SD_ID = "disclosure@32473"
APP_NAME = "smimehelper"
BOM = "\ufeff".encode("utf-8")


def _header_token(value: str, limit: int) -> str:
    """PRINTUSASCII without spaces, at most ``limit`` characters; "-" when empty (RFC 5424 6.2)."""
    text = "".join(ch for ch in value if 33 <= ord(ch) <= 126)[:limit]
    return text or "-"


def _param(value: object) -> str:
    """An SD-PARAM value with '"', '\\' and ']' escaped (RFC 5424 6.3.3)."""
    text = str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def format_message(entry: Entry, line: bytes, log_id: str, *, hostname: str | None = None,
                   procid: str | None = None) -> bytes:
    """One RFC 5424 message (without framing) for ``entry`` whose stored line is ``line``."""
    pri = FACILITY_LOG_AUDIT * 8 + SEVERITY_INFO
    host = _header_token(hostname if hostname is not None else socket.gethostname(), 255)
    proc = _header_token(procid if procid is not None else str(os.getpid()), 128)
    msgid = _header_token(entry.kind, 32)
    sd = (f'[{SD_ID} log="{_param(log_id)}" seq="{entry.seq}" id="{_param(entry.id)}" '
          f'sha256="{entry.digest}" prev="{entry.prev}"]')
    header = f"<{pri}>1 {entry.time} {host} {APP_NAME} {proc} {msgid} {sd} "
    return header.encode("ascii") + BOM + line


def frame(message: bytes) -> bytes:
    """Octet-counting framing (RFC 5425 4.3): MSG-LEN SP SYSLOG-MSG."""
    return str(len(message)).encode("ascii") + b" " + message

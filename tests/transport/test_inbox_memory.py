"""A 300 MB encrypted message, made by ``openssl cms -encrypt -stream``, opened from the real
Dovecot by ``smimehelper inbox open`` in its own process: under 150 MB peak RSS, although the
connection is cut half-way through the fetch (a relay drops it after 150 MB), and the attachment
comes out bit for bit."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smimehelper.cli.main import main
from tests.pki.make_pki import Pki
from tests.transport.inbox_helpers import TcpProxy, append_file, stored_flags, uids
from tests.transport.servers import IMAP_PASSWORD, DovecotServer

BLOCK = 57 * 18396  # whole base64 lines, so the blocks' encodings join without padding
BLOCKS = 160  # a 168 MB attachment; base64 twice: a message of about 316 MB
LIMIT_MB = 150

_CHILD = r"""
import sys
from smimehelper.cli.main import main
code = main(sys.argv[1:])
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):  # this address space's peak (ru_maxrss would include the parent's)
        sys.stderr.write("\nVMHWM_KB " + line.split()[1] + "\n")
sys.exit(code)
"""


def write_large_message(pki: Pki, folder: Path) -> tuple[Path, str]:
    """A multipart MIME entity with a random attachment, encrypted to bob by OpenSSL, CRLF lines."""
    digest = hashlib.sha256()
    part = folder / "part.mime"
    with open(part, "wb") as out:
        out.write(b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
                  b"The whole study.\r\n--b1\r\nContent-Type: application/octet-stream; name=\"study.bin\"\r\n"
                  b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"study.bin\"\r\n\r\n")
        for _ in range(BLOCKS):
            block = os.urandom(BLOCK)
            digest.update(block)
            out.write(base64.encodebytes(block).replace(b"\n", b"\r\n"))
        out.write(b"\r\n--b1--\r\n")
    raw = folder / "openssl.eml"
    subprocess.run(["openssl", "cms", "-encrypt", "-stream", "-binary", "-aes256", "-in", str(part), "-out", str(raw),
                    "-from", "alice@example.org", "-to", "bob@example.org", "-subject", "Whole study",
                    str(pki.entity("bob").cert_pem)], check=True, capture_output=True)
    part.unlink()
    message = folder / "large.eml"
    with open(raw, "rb") as source, open(message, "wb") as out:  # OpenSSL's framing has bare LFs only
        while block := source.read(1 << 22):
            assert b"\r" not in block
            out.write(block.replace(b"\n", b"\r\n"))
    raw.unlink()
    return message, digest.hexdigest()


def test_300_mb_message_opened_from_dovecot_in_bounded_memory_despite_a_cut(
    clean_dovecot: DovecotServer, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message, study_sha256 = write_large_message(pki, tmp_path)
    size = message.stat().st_size
    assert size > 300_000_000
    append_file(clean_dovecot, "INBOX", message)
    message.unlink()  # only the server has it now
    password = tmp_path / "password.txt"
    password.write_text(IMAP_PASSWORD)
    with TcpProxy((clean_dovecot.host, clean_dovecot.port), drop_after=150_000_000) as proxy:
        assert main(["account", "add", "--email", "dentist@example.org", "--smtp-host", "127.0.0.1", "--username",
                     clean_dovecot.user, "--cafile", str(clean_dovecot.cafile), "--imap-host", "127.0.0.1",
                     "--imap-port", str(proxy.port), "--imap-security", "starttls"]) == 0
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, "inbox", "open", str(uids(clean_dovecot, "INBOX")[0]), "--password-file", str(password),
             "--key", str(pki.entity("bob").p12), "--passphrase-file", str(pki.passphrase_file),
             "--save-attachments", str(tmp_path / "saved"), "--json"],
            capture_output=True, text=True, timeout=600, env=dict(os.environ, TMPDIR=str(tmp_path)),
        )
        assert proxy.dropped == 1 and proxy.connections == 2  # cut once, resumed on a new connection
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["decrypted"] and result["encryption"] == "aes256-cbc" and result["mailbox"]["marked_read"]
    assert [(a["filename"], a["size"], a["sha256"]) for a in result["attachments"]] == [
        ("study.bin", BLOCKS * BLOCK, study_sha256)]
    saved = tmp_path / "saved" / "study.bin"
    with open(saved, "rb") as handle:
        check = hashlib.sha256()
        while block := handle.read(1 << 22):
            check.update(block)
    assert check.hexdigest() == study_sha256
    peak_mb = int(proc.stderr.rsplit("VMHWM_KB ", 1)[1].split()[0]) / 1024
    print(f"inbox open of a {size / 1e6:.0f} MB message with one cut: peak RSS {peak_mb:.0f} MiB")
    assert peak_mb < LIMIT_MB, f"peak RSS {peak_mb:.0f} MiB"
    assert stored_flags(clean_dovecot, "INBOX") == [frozenset({"\\Seen"})]
    assert not [p for p in tmp_path.glob("smimehelper-*")]  # every temporary folder removed

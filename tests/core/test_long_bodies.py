"""A 200 MB text body and an HTML part (issue 9: 296 MB peak RSS, the shown text silently cut,
the HTML alternative silently dropped). What is shown is capped and says so; the whole text is
kept as message.txt; an HTML part is always listed as message.html. Measured in a real process.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from smimehelper.core.reader import SHOWN_TEXT_BYTES, open_message
from tests.core.test_reader_negative import _open
from tests.pki.make_pki import Pki

BOUNDARY = b"alt-boundary"


def _alternative(plain: bytes, html: bytes) -> bytes:
    return (
        b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: alt\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="' + BOUNDARY + b'"\r\n\r\n'
        b"--" + BOUNDARY + b"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + plain + b"\r\n"
        b"--" + BOUNDARY + b"\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + b"\r\n"
        b"--" + BOUNDARY + b"--\r\n"
    )


def test_html_alternative_is_listed_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "alt.eml"
    path.write_bytes(_alternative(b"Plain words.", b"<html><body><p>Rich <b>words</b></p><script>x()</script></body></html>"))
    opened = open_message(path, save_dir=tmp_path / "out")
    assert opened.body_text.strip() == "Plain words."
    assert [a.filename for a in opened.attachments] == ["message.html"]
    assert b"<b>words</b>" in (tmp_path / "out" / "message.html").read_bytes()


def test_html_only_message_shows_its_text(tmp_path: Path) -> None:
    path = tmp_path / "html.eml"
    path.write_bytes(
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: html\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Dear colleague,</p><p>see <i>attached</i>.</p><style>p{}</style>\r\n"
    )
    opened = open_message(path)
    assert opened.body_text == "Dear colleague,\n\nsee attached.\n" or "Dear colleague," in (opened.body_text or "")
    assert "p{}" not in (opened.body_text or "")
    assert [a.filename for a in opened.attachments] == ["message.html"]


PROBE = """
import json, re, sys
from pathlib import Path
from smimehelper.core.reader import open_message
opened = open_message(Path(sys.argv[1]), save_dir=Path(sys.argv[2]))
print(json.dumps({"shown": len(opened.body_text), "truncated": opened.body_truncated,
                  "files": [[a.filename, a.size, a.sha256] for a in opened.attachments],
                  # VmHWM, not ru_maxrss: the latter keeps the forking parent's size across exec
                  "peak_kb": int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))}))
"""


def test_200_mb_text_is_capped_kept_whole_and_memory_stays_bounded(pki: Pki, tmp_path: Path) -> None:
    line = b"Findings: no caries visible on the distal surface of tooth 36. " * 2 + b"\r\n"
    path = tmp_path / "long.eml"
    digest = hashlib.sha256()
    size = 0
    with open(path, "wb") as out:
        out.write(b"From: a@example.org\r\nTo: b@example.org\r\nSubject: long\r\nMIME-Version: 1.0\r\n"
                  b"Content-Type: text/plain; charset=utf-8\r\n\r\n")
        block = line * 8000
        while size < 200 * 1024 * 1024:
            out.write(block)
            digest.update(block)
            size += len(block)
    proc = subprocess.run([sys.executable, "-c", PROBE, str(path), str(tmp_path / "out")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["truncated"] is True
    assert result["shown"] <= SHOWN_TEXT_BYTES
    (name, saved_size, sha256), = result["files"]
    assert name == "message.txt" and saved_size == size and sha256 == digest.hexdigest()
    print(f"peak RSS {result['peak_kb'] // 1024} MB")
    assert result["peak_kb"] < 120 * 1024, f"peak RSS {result['peak_kb'] / 1024:.0f} MB for a 200 MB text"


def test_short_text_is_not_marked(pki: Pki, tmp_path: Path) -> None:
    from tests.core.test_reader_negative import _signed

    opened = _open(pki, _signed(pki, tmp_path))
    assert not opened.body_truncated and not opened.attachments

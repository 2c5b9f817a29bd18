"""Peak memory must not grow with the attachment size (one streaming pass)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.pki.make_pki import Pki

_CHILD = r"""
import json, sys
from pathlib import Path
from smimehelper.core.certs import load_certificate
from smimehelper.core.compose import ComposeRequest, compose_to_file
from smimehelper.core.identity import load_pkcs12
from smimehelper.core.mime.writer import prepare_attachment
import datetime as dt
p12, password, bob, attachment, out, now = sys.argv[1:]
identity = load_pkcs12(Path(p12), password.encode())
def high_water_kb():
    # VmHWM belongs to this address space; ru_maxrss would include the forking parent's
    # size, because Linux carries it across execve.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
before = high_water_kb()
compose_to_file(ComposeRequest(
    sender="alice@example.org", to=("bob@example.org",), subject="s", body="b", identity=identity,
    attachments=(prepare_attachment(Path(attachment)),),
    recipient_certs=(load_certificate(Path(bob)),), now=dt.datetime.fromisoformat(now)), Path(out))
print(json.dumps({"before_kb": before, "peak_kb": high_water_kb()}))
"""


def _peak_mb(pki: Pki, tmp_path: Path, size: int) -> float:
    attachment = tmp_path / f"study-{size}.bin"
    with open(attachment, "wb") as handle:
        handle.truncate(size)  # sparse: reading it costs no disk, content is irrelevant here
    out = tmp_path / f"out-{size}.eml"
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(pki.entity("alice").p12), pki.p12_password,
         str(pki.entity("bob").cert_pem), str(attachment), str(out), pki.now.isoformat()],
        capture_output=True, text=True, check=True,
    )
    report = json.loads(proc.stdout)
    assert out.stat().st_size > size * 1.3  # really written: base64 twice
    out.unlink()
    attachment.unlink()
    return report["peak_kb"] / 1024


def test_peak_memory_is_independent_of_attachment_size(pki: Pki, tmp_path: Path) -> None:
    # Both sizes take the numpy line encoder (messages of 16 MB or more, see compose.py): below
    # that the ~12 MB of numpy are not loaded at all, a step that is not growth with the size.
    small = _peak_mb(pki, tmp_path, 20 * 1024 * 1024)
    large = _peak_mb(pki, tmp_path, 200 * 1024 * 1024)
    assert large - small < 8, f"peak grew from {small:.0f} MB to {large:.0f} MB"
    assert large < 120


def test_small_messages_stay_small_without_numpy(pki: Pki, tmp_path: Path) -> None:
    assert _peak_mb(pki, tmp_path, 10 * 1024 * 1024) < 100

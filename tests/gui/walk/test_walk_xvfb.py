"""The dentist's first five minutes, walked under a real X server (Xvfb, Qt's xcb platform).

A fresh data folder; the user's .p12 and the colleague's practice authority made by the
OpenSSL command line (tests/practice_pki.py). In a child process the real app (its entry
point ``smimehelper.gui.app.run``) is walked through: first run with the .p12 -> import the
colleague's signed mail -> trust his practice authority in the trust dialog -> Compose with a
DICOM x-ray -> Save -> open it again (tests/gui/walk/walk_app.py).

Judges: ``openssl x509 -fingerprint`` (what the trust dialog asked to compare), ``openssl cms``
(the colleague decrypts the saved message with his key; the signature verifies against the
user's provider), DCMTK's ``dcmdump`` (the x-ray that arrives is a DICOM file, byte-identical),
and ImageMagick's ``identify`` (every screenshot of the X screen shows something: many colours).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from smimehelper.demo_xray import write_synthetic_dental_xray
from tests.judges import openssl_decrypt
from tests.practice_pki import P12_PASSPHRASE, PracticePki, openssl_fingerprint
from tests.thunderbird.harness import Xvfb

ROOT = Path(__file__).resolve().parents[3]
WALK_SECONDS = 300

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is needed (scripts/test installs xvfb)")


def non_blank(png: Path) -> tuple[int, float]:
    """(unique colours, standard deviation 0..1) by ImageMagick."""
    out = subprocess.run(["identify", "-format", "%k %[fx:standard_deviation]", str(png)],
                         check=True, capture_output=True, text=True).stdout.split()
    return int(out[0]), float(out[1])


def test_first_run_trust_compose_save_open(practice: PracticePki, tmp_path: Path) -> None:
    home, out = tmp_path / "home", tmp_path / "walk"
    xray = tmp_path / "panoramic.dcm"
    write_synthetic_dental_xray(xray, seed=5)
    env = {k: v for k, v in os.environ.items() if k not in ("SMIMEHELPER_HOME", "DISPLAY", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM="xcb", PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring", WALK_PASSPHRASE=P12_PASSPHRASE,
               QT_QUICK_BACKEND="software", LIBGL_ALWAYS_SOFTWARE="1")
    with Xvfb("1280x800x24") as display:
        env["DISPLAY"] = display.display
        run = subprocess.run([sys.executable, "-m", "tests.gui.walk.walk_app", str(home), str(practice.folder), str(xray), str(out)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=WALK_SECONDS)
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    assert run.returncode == 0 and report.get("ok"), f"{report.get('error', '')}\n{run.stderr[-4000:]}"

    # First run: the real .p12 imported, the self-test passed (with the note that the user's
    # provider is not trusted on this computer yet).
    assert report["import_status"].startswith("Imported")
    assert report["self_test"].startswith("Self-test passed")

    # The trust dialog named the authority in words and showed its fingerprint in groups,
    # exactly the digits OpenSSL computes; Trust stayed off until the box was ticked.
    assert report["contact_issuer"] == "Smith Practice CA (Smith Dental)"
    assert "Smith Practice CA (Smith Dental)" in report["authority_shown"]
    shown = report["fingerprint_shown"]
    assert [len(g) for g in shown.split()] == [4] * 16 and "".join(shown.split()) == openssl_fingerprint(practice / "smith-ca.pem")
    assert report["trust_enabled_before_compare"] is False

    # Compose: the x-ray recognised with a thumbnail; saved.
    assert report["compose_type"] == "DICOM image (x-ray)" and report["compose_thumbnail"]
    saved = Path(report["saved"])
    assert saved.exists() and "Saved the message" in report["compose_result"]

    # The colleague opens it with his key (OpenSSL), the signature verifies against Dana's
    # provider, and the x-ray inside is the same DICOM file (DCMTK reads it).
    inner = openssl_decrypt(saved, practice / "sam.pem", practice / "sam.key")
    signed = tmp_path / "inner.eml"
    signed.write_bytes(inner)
    content = subprocess.run(["openssl", "cms", "-verify", "-in", str(signed), "-CAfile", str(practice / "provider-ca.pem"),
                              "-purpose", "smimesign"], check=True, capture_output=True).stdout
    parts = [p for p in email.message_from_bytes(content, policy=email.policy.default).walk()
             if p.get_content_type() == "application/dicom"]
    assert len(parts) == 1
    arrived = tmp_path / "arrived.dcm"
    arrived.write_bytes(parts[0].get_payload(decode=True))
    assert hashlib.sha256(arrived.read_bytes()).digest() == hashlib.sha256(xray.read_bytes()).digest()
    assert b"PatientName" in subprocess.run(["dcmdump", str(arrived)], check=True, capture_output=True).stdout

    # Opened again in the app: after trusting her own provider there, everything checks out.
    assert report["open_verdict"].startswith("Everything checks out"), report["open_verdict"]
    assert report["open_type"] == "DICOM image (x-ray)" and report["open_thumbnail"]

    # Every screenshot is of a real screen with something on it.
    screens = [Path(p) for p in report["screens"]]
    assert len(screens) == 8
    for png in screens:
        colours, spread = non_blank(png)
        assert colours > 200 and spread > 0.05, (png.name, colours, spread)

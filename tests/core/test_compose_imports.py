"""What composing loads: only what the message needs (issue 11: the whole process at or below
OpenSSL's). Checked in a fresh interpreter, where ``sys.modules`` shows every import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from smimehelper.core.mime.encoders import NUMPY_WORTH_BYTES
from tests.pki.make_pki import Pki

NEVER_FOR_COMPOSE = ("pydicom", "PySide6", "pyhanko_certvalidator", "aiohttp", "requests",
                     "smimehelper.core.reader", "smimehelper.services")

_PROBE = r"""
import datetime as dt, json, sys
from pathlib import Path
from smimehelper.core.certs import load_certificate
from smimehelper.core.compose import ComposeRequest, compose_to_file
from smimehelper.core.identity import load_pkcs12
from smimehelper.core.mime.writer import prepare_attachment
p12, password, bob, out, now, *files = sys.argv[1:]
compose_to_file(ComposeRequest(
    sender="alice@example.org", to=("bob@example.org",), subject="s", body="b",
    identity=load_pkcs12(Path(p12), password.encode()),
    attachments=tuple(prepare_attachment(Path(f)) for f in files),
    recipient_certs=(load_certificate(Path(bob)),), now=dt.datetime.fromisoformat(now)), Path(out))
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_compose(pki: Pki, tmp_path: Path, *files: Path) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(pki.entity("alice").p12), pki.p12_password,
         str(pki.entity("bob").cert_pem), str(tmp_path / "out.eml"), pki.now.isoformat(), *map(str, files)],
        capture_output=True, text=True, check=True, timeout=120,
    )
    return set(json.loads(proc.stdout))


def _loaded(modules: set[str], wanted: tuple[str, ...]) -> list[str]:
    return [w for w in wanted if any(m == w or m.startswith(w + ".") for m in modules)]


def test_a_small_message_loads_neither_numpy_nor_validation_nor_the_reader(pki: Pki, tmp_path: Path) -> None:
    small = tmp_path / "note.txt"
    small.write_bytes(b"x" * 20_000)
    modules = _modules_after_compose(pki, tmp_path, small)
    assert not _loaded(modules, (*NEVER_FOR_COMPOSE, "numpy"))


def test_a_study_of_a_few_mb_is_encoded_without_loading_numpy(pki: Pki, tmp_path: Path) -> None:
    """Loading numpy costs what the plain encoder spends on ~30 MB: not worth it for 3 MB."""
    study = tmp_path / "study.bin"
    study.write_bytes(os.urandom(3 << 20))
    modules = _modules_after_compose(pki, tmp_path, study)
    assert not _loaded(modules, (*NEVER_FOR_COMPOSE, "numpy"))


def test_a_large_study_uses_the_numpy_line_encoder_and_nothing_else_heavy(pki: Pki, tmp_path: Path) -> None:
    study = tmp_path / "study.bin"
    with open(study, "wb") as handle:
        handle.truncate(NUMPY_WORTH_BYTES)  # sparse: only the size matters here
    modules = _modules_after_compose(pki, tmp_path, study)
    assert "numpy" in modules
    assert not _loaded(modules, NEVER_FOR_COMPOSE)


def test_numpy_is_loaded_without_idle_blas_threads() -> None:
    """numpy's OpenBLAS would start a worker thread per core that spins ~0.1 s for matrix work
    never given (measured: 9 % of a 100 MB compose on two cores); smimehelper loads it with one."""
    probe = (
        "import os, sys\n"
        "from smimehelper.core.mime.encoders import base64_lines, NUMPY_WORTH_BYTES\n"
        "base64_lines(bytes(NUMPY_WORTH_BYTES))\n"
        "assert 'numpy' in sys.modules\n"
        "print(len(os.listdir('/proc/self/task')) if os.path.isdir('/proc/self/task') else 1)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120, env=env)
    assert done.stdout.strip() == "1"

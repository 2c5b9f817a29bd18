"""``smimehelper --help`` starts in a blink: no command module and no heavy library is imported
until a command that needs it runs (issue 11: 1.2-1.5 s before, target under 0.2 s)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.console import console_script

HEAVY = ("cryptography", "asn1crypto", "pyhanko_certvalidator", "pydicom", "numpy", "PySide6", "keyring",
         "smimehelper.core.reader", "smimehelper.services.compose", "smimehelper.cli.compose_cmd")

PROBE = """
import io, json, sys, contextlib
from smimehelper.cli.main import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
print(json.dumps({"modules": sorted(sys.modules), "help": out.getvalue()}))
"""


def loaded(*args: str) -> tuple[set[str], str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60, check=True)
    doc = json.loads(proc.stdout)
    return {m.split(".")[0] if not m.startswith("smimehelper") else m for m in doc["modules"]}, doc["help"]


def test_help_imports_no_heavy_module() -> None:
    modules, text = loaded("--help")
    assert not [m for m in HEAVY if m in modules], sorted(m for m in HEAVY if m in modules)
    for command in ("compose", "open", "identity", "contacts", "trust", "account", "send", "outbox", "export", "gui", "demo"):
        assert f"    {command} " in text, command


def test_a_command_loads_only_its_own_module() -> None:
    modules, text = loaded("compose", "--help")
    assert "--attach" in text
    assert "smimehelper.cli.compose_cmd" in modules
    assert not {"smimehelper.cli.open_cmd", "smimehelper.cli.delivery_cmd", "PySide6", "pydicom"} & modules


def test_help_is_fast_in_a_real_process() -> None:
    script = str(console_script())
    subprocess.run([script, "--help"], capture_output=True, check=True, timeout=60)  # warm the disk cache
    best = min(_timed(script) for _ in range(3))
    assert best < 0.5, f"smimehelper --help took {best:.2f} s (target 0.2 s on an idle machine)"


def _timed(script: str) -> float:
    start = time.perf_counter()
    subprocess.run([script, "--help"], capture_output=True, check=True, timeout=60)
    return time.perf_counter() - start

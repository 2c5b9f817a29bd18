"""The console scripts of the environment the tests run in, and the CLI run in-process.

Looked up beside ``sys.executable`` (the venv's ``bin``), never on PATH: a fresh machine has no
``smimehelper`` on PATH (``scripts/test`` does not activate the venv), and an older install
elsewhere on PATH must never stand in for the code under test.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

import pytest


def console_script(name: str = "smimehelper") -> Path:
    """The path of console script ``name`` installed for this interpreter."""
    suffix = ".exe" if os.name == "nt" else ""
    candidates = [Path(sysconfig.get_path("scripts")) / f"{name}{suffix}", Path(sys.executable).parent / f"{name}{suffix}"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise AssertionError(
        f"the {name} console script is not installed for {sys.executable} "
        f"(looked in {', '.join(str(c.parent) for c in candidates)}); run: {sys.executable} -m pip install -e ."
    )


@dataclasses.dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


def run_main(argv: Sequence[str | Path], capsys: pytest.CaptureFixture[str]) -> CliResult:
    """``smimehelper ARGV`` in-process; argparse's SystemExit becomes an exit code too."""
    from smimehelper.cli.main import main

    capsys.readouterr()  # drop anything printed before
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)

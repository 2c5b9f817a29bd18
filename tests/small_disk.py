"""A real 1 MB file system to fill up (a full disk is a fault every long operation must survive)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs mounted in ``tmp_path``, when running as root (CI does); skipped otherwise."""
    if os.geteuid() != 0 or not os.path.exists("/bin/mount"):
        pytest.skip("needs root to mount a small tmpfs (CI runs as root)")
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)

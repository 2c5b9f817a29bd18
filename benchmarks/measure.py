"""What the benchmarks share: each command's own wall time, peak RSS and CPU time, the test PKI,
random inputs and the report's small helpers, so every benchmark measures both sides alike."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MIB = 1 << 20
MB = 1_000_000  # RSS is reported in MB = 10^6 bytes (stricter than MiB against the targets)
GEN_CHUNK = 8 * MIB


class BenchError(Exception):
    """Something went wrong: the benchmark cannot report (exit code 2)."""


# --------------------------------------------------------------------------- measuring processes
#
# Why not simply os.wait4() on the child: on Linux a process's ru_maxrss starts at the high-water
# RSS of the memory image it exec'ed from, i.e. of this (parent) Python process, even with vfork or
# posix_spawn (the kernel records the old mm's hiwater_rss at exec). A child of a 300 MB parent
# reports >= 300 MB. A small launcher that *forks* (new signal struct, its own tiny mm) and execs
# the command gives the command's own peak. GNU time is such a launcher; without it a minimal
# Python launcher is used, whose floor (~7 MB) is stated in the output.

_PY_LAUNCHER = r"""
import os, sys
out = sys.argv[1]
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
with open(out, "w") as f:
    f.write("%d %.2f %.2f\n" % (ru.ru_maxrss, ru.ru_utime, ru.ru_stime))
os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


@dataclass(frozen=True)
class Run:
    wall: float  # seconds, measured here around the launcher
    maxrss_kib: int  # ru_maxrss of the command alone
    cpu: float  # user + system seconds of the command
    returncode: int
    stdout: bytes
    stderr: bytes


class Launcher:
    """Run a command and get its own wall time, peak RSS and CPU time."""

    def __init__(self, workdir: Path) -> None:
        self._rsfile = workdir / "rusage.txt"
        gnu_time = shutil.which("time", path="/usr/bin:/bin")
        self.kind = "python-fork"
        if gnu_time:
            probe = subprocess.run(
                [gnu_time, "-f", "%M %U %S", "-o", str(self._rsfile), "true"],
                capture_output=True,
            )
            try:
                if probe.returncode == 0 and self._parse().maxrss_kib > 0:
                    self.kind = "gnu-time"
            except (OSError, ValueError, IndexError):  # not GNU time (no -f/-o): use the fallback
                pass
        self._prefix = (
            [gnu_time, "-f", "%M %U %S", "-o", str(self._rsfile)]
            if self.kind == "gnu-time"
            else [sys.executable, "-I", "-S", "-c", _PY_LAUNCHER, str(self._rsfile)]
        )

    @property
    def description(self) -> str:
        if self.kind == "gnu-time":
            return "GNU time (forks, so each command's RSS is its own)"
        return "Python fork launcher (GNU time not found: peak RSS below ~7 MB reads as ~7 MB)"

    def _parse(self) -> Run:
        lines = [ln for ln in self._rsfile.read_text().splitlines() if ln.strip()]
        maxrss, user, system = lines[-1].split()
        return Run(0.0, int(maxrss), float(user) + float(system), 0, b"", b"")

    def run(self, cmd: list[str], *, stdout: int | None = subprocess.PIPE) -> Run:
        self._rsfile.unlink(missing_ok=True)
        start = time.perf_counter()
        proc = subprocess.run([*self._prefix, *cmd], stdout=stdout, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
        try:
            usage = self._parse()
        except (OSError, ValueError, IndexError) as exc:
            raise BenchError(
                f"no resource usage recorded for {cmd[0]}: {exc}\n{proc.stderr.decode(errors='replace')}"
            ) from None
        return Run(wall, usage.maxrss_kib, usage.cpu, proc.returncode, proc.stdout or b"", proc.stderr)


def check(run: Run, what: str) -> Run:
    if run.returncode != 0:
        raise BenchError(
            f"{what} failed (exit {run.returncode}):\n{run.stderr.decode(errors='replace')[-4000:]}"
        )
    return run


@dataclass
class Pki:
    dir: Path
    now_iso: str
    now_epoch: int

    def p12(self, stem: str) -> Path:
        return self.dir / f"{stem}.p12"

    def cert(self, stem: str) -> Path:
        return self.dir / f"{stem}.cert.pem"

    def key(self, stem: str) -> Path:
        return self.dir / f"{stem}.key.pem"


def make_pki(directory: Path) -> Pki:
    from tests.pki.make_pki import P12_PASSWORD, REFERENCE_NOW, build_pki

    assert P12_PASSWORD == "test-pass"
    pki = build_pki(directory)
    return Pki(pki.dir, REFERENCE_NOW.isoformat(), int(REFERENCE_NOW.timestamp()))


# --------------------------------------------------------------------------- inputs and report

def write_random(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(GEN_CHUNK, left))
            f.write(chunk)
            left -= len(chunk)


def fsync_file(path: Path) -> float:
    start = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - start


def remove(*paths: Path) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes takes comma-separated MiB counts, not {text!r}") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError("--sizes needs positive sizes")
    return sizes


def load_average() -> str:
    """The machine's 1-minute load average: how shared the CPUs were (figures vary with it)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:  # pragma: no cover - platforms without it
        return "unknown"

#!/usr/bin/env python3
"""Benchmark: smimehelper's one-pass compose against OpenSSL's two streaming commands.

A random attachment (100 MiB, 1000 MiB, ...) is signed by alice and encrypted to two recipients
(bob and alice herself), once by ``smimehelper.core.compose.compose_to_file`` and once by

    openssl cms -sign -stream -binary -crlfeol ...      (the multipart/mixed part -> signed.eml)
    openssl cms -encrypt -stream -binary -aes256 ...    (signed.eml -> enc.eml, to bob and alice)

on the same MIME part, in the same run, writing to the same directory. It prints the time ratio
(ours / OpenSSL's two commands together) and both peak RSS values for every size.

Targets (from the issues): ratio <= 1.0, the whole-process ratio (our interpreter start, imports,
loading the .p12 and exit included) <= 1.0, and our peak RSS <= 120 MB at every size.

Run from the repository root:  python benchmarks/compose_vs_openssl.py [--sizes 100,1000]
See benchmarks/README.md for what is measured and how. Exit code: 0 when the report was printed
(also when a target is missed), 2 on any error (including an output that does not verify).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MIB = 1 << 20
MB = 1_000_000  # RSS is reported in MB = 10^6 bytes (stricter than MiB against the 120 MB target)
TARGET_RATIO = 1.0
TARGET_RSS_MB = 120.0
GEN_CHUNK = 8 * MIB
BODY = "Dear colleague,\n\nplease find the study attached.\n\nBest regards,\nAlice\n"
SENDER = "alice@example.org"
RECIPIENT = "bob@example.org"


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


def _check(run: Run, what: str) -> Run:
    if run.returncode != 0:
        raise BenchError(
            f"{what} failed (exit {run.returncode}):\n{run.stderr.decode(errors='replace')[-4000:]}"
        )
    return run


# --------------------------------------------------------------------------- our side (subprocess)

# Runs in a fresh interpreter: imports and loading the identity are measured as "setup"; the
# compose call alone as "compose". os.fsync is wrapped (timing only) to show how much of the
# compose time is the atomic writer making the message durable, which OpenSSL does not do.
_OURS = r"""
import json, sys, time
t0 = time.perf_counter()
args = json.loads(sys.argv[1])
sys.path.insert(0, args["repo"])
import datetime as dt, os, resource
from pathlib import Path
from smimehelper.core.certs import load_certificate
from smimehelper.core.compose import ComposeRequest, compose_to_file
from smimehelper.core.identity import load_pkcs12
from smimehelper.core.mime.writer import prepare_attachment

fsync_s = 0.0
_real_fsync = os.fsync
def _timed_fsync(fd):
    global fsync_s
    start = time.perf_counter()
    try:
        return _real_fsync(fd)
    finally:
        fsync_s += time.perf_counter() - start
os.fsync = _timed_fsync

identity = load_pkcs12(Path(args["p12"]), args["password"].encode())
request = ComposeRequest(
    sender=args["sender"],
    to=(args["to"],),
    subject="Benchmark",
    body=args["body"],
    identity=identity,
    attachments=(prepare_attachment(Path(args["attachment"])),),
    recipient_certs=(load_certificate(Path(args["recipient_cert"])),),
    now=dt.datetime.fromisoformat(args["now"]),
)
rss_setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t1 = time.perf_counter()
result = compose_to_file(request, Path(args["out"]))
t2 = time.perf_counter()
print(json.dumps({
    "setup_s": t1 - t0,
    "compose_s": t2 - t1,
    "fsync_s": fsync_s,
    "size": result.size,
    "recipients": list(result.recipients),
    "cipher": result.cipher,
    "rss_setup_kib": rss_setup,
    "rss_self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


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


@dataclass
class Sample:
    ours_compose: float
    ours_process: float
    ours_setup: float
    ours_fsync: float
    ours_cpu: float
    ours_rss_kib: int
    ours_rss_setup_kib: int
    ours_size: int
    ssl_sign: float
    ssl_encrypt: float
    ssl_cpu: float
    ssl_rss_kib: int  # max of the two commands
    ssl_sign_rss_kib: int
    ssl_encrypt_rss_kib: int
    ssl_signed_size: int
    ssl_size: int
    ssl_fsync_after: float  # fsync of enc.eml afterwards (informational, not in ssl time)

    @property
    def ssl_total(self) -> float:
        return self.ssl_sign + self.ssl_encrypt


def run_ours(launcher: Launcher, pki: Pki, attachment: Path, out: Path) -> tuple[Run, dict]:
    args = {
        "repo": str(REPO),
        "p12": str(pki.p12("alice")),
        "password": "test-pass",
        "recipient_cert": str(pki.cert("bob")),
        "attachment": str(attachment),
        "out": str(out),
        "now": pki.now_iso,
        "sender": SENDER,
        "to": RECIPIENT,
        "body": BODY,
    }
    run = _check(launcher.run([sys.executable, "-c", _OURS, json.dumps(args)]), "smimehelper compose")
    try:
        info = json.loads(run.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError(f"unexpected output of our compose subprocess: {run.stdout[-2000:]!r}") from None
    if sorted(info["recipients"]) != sorted([SENDER, RECIPIENT]):
        raise BenchError(f"our message is encrypted to {info['recipients']}, expected bob and alice")
    if not out.exists() or out.stat().st_size != info["size"]:
        raise BenchError(f"our output {out} is missing or has the wrong size")
    return run, info


def run_openssl(launcher: Launcher, pki: Pki, part: Path, signed: Path, enc: Path) -> tuple[Run, Run]:
    sign = _check(
        launcher.run(
            [
                "openssl", "cms", "-sign", "-stream", "-binary", "-crlfeol",
                "-in", str(part),
                "-signer", str(pki.cert("alice")), "-inkey", str(pki.key("alice")),
                "-certfile", str(pki.cert("inter")), "-md", "sha256",
                "-out", str(signed),
            ]
        ),
        "openssl cms -sign",
    )
    encrypt = _check(
        launcher.run(
            [
                "openssl", "cms", "-encrypt", "-stream", "-binary", "-aes256",
                "-in", str(signed), "-out", str(enc),
                str(pki.cert("bob")), str(pki.cert("alice")),
            ]
        ),
        "openssl cms -encrypt",
    )
    return sign, encrypt


# --------------------------------------------------------------------------- inputs

def write_random(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(GEN_CHUNK, left))
            f.write(chunk)
            left -= len(chunk)


def write_mime_part(attachment: Path, out: Path) -> None:
    """The multipart/mixed entity (text + base64 attachment, CRLF) that OpenSSL signs.

    Made by the same generator our compose uses internally, so both sides sign the same bytes
    (up to the random boundary, whose length is fixed).
    """
    from smimehelper.core.mime.writer import content_entity, prepare_attachment

    with open(out, "wb") as f:
        for piece in content_entity(BODY, [prepare_attachment(attachment)]):
            f.write(piece)


def estimated_mime_size(size: int) -> int:
    return size * 4 // 3 * 78 // 76 + 4096


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


# --------------------------------------------------------------------------- sanity check

_BOUNDARY_PARAM = re.compile(rb'boundary="([^"]+)"')


def _normalized_digest(path: Path) -> tuple[str, int]:
    """SHA-256 of a MIME file with multipart boundaries blanked (ours are random per message)."""
    digest = hashlib.sha256()
    size = 0
    boundaries: set[bytes] = set()
    with open(path, "rb") as f:
        for line in f:
            size += len(line)
            m = _BOUNDARY_PARAM.search(line)
            if m:
                boundaries.add(m.group(1))
            for b in boundaries:
                if b in line:
                    line = line.replace(b, b"BOUNDARY")
            digest.update(line)
    return digest.hexdigest(), size


def verify_message(message: Path, pki: Pki, expected_part: Path, who: str, workdir: Path) -> None:
    """Decrypt as bob, verify exactly as transmitted, and compare the content with the part."""
    inner = workdir / f"verified-{who}.mime"
    decrypt = subprocess.Popen(
        [
            "openssl", "cms", "-decrypt", "-binary",
            "-recip", str(pki.cert("bob")), "-inkey", str(pki.key("bob")), "-in", str(message),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    verify = subprocess.run(
        [
            "openssl", "cms", "-verify", "-CAfile", str(pki.cert("root")),
            "-attime", str(pki.now_epoch), "-purpose", "smimesign",
            "-binary", "-crlfeol", "-out", str(inner),
        ],
        stdin=decrypt.stdout,
        capture_output=True,
    )
    assert decrypt.stdout is not None
    decrypt.stdout.close()
    decrypt_err = decrypt.stderr.read() if decrypt.stderr else b""
    decrypt.wait()
    try:
        if decrypt.returncode != 0 or verify.returncode != 0:
            raise BenchError(
                f"VERIFICATION FAILED for the {who} output {message.name}: "
                f"decrypt exit {decrypt.returncode}, verify exit {verify.returncode}\n"
                f"{decrypt_err.decode(errors='replace')}{verify.stderr.decode(errors='replace')}"
            )
        got = _normalized_digest(inner)
        want = _normalized_digest(expected_part)
        if got != want:
            raise BenchError(
                f"VERIFICATION FAILED for the {who} output {message.name}: the signature verifies "
                f"but the content differs from the MIME part (sha256/size {got} != {want})"
            )
    finally:
        remove(inner)


# --------------------------------------------------------------------------- one size

@dataclass
class SizeResult:
    mib: int
    samples: list[Sample] = field(default_factory=list)
    verified: bool = False

    def med(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)

    @property
    def ours_s(self) -> float:
        return self.med("ours_compose")

    @property
    def ours_proc_s(self) -> float:
        return self.med("ours_process")

    @property
    def openssl_s(self) -> float:
        return self.med("ssl_total")

    @property
    def ratio(self) -> float:
        return self.ours_s / self.openssl_s

    @property
    def ratio_proc(self) -> float:
        return self.ours_proc_s / self.openssl_s

    @property
    def ours_peak_mb(self) -> float:
        return max(s.ours_rss_kib for s in self.samples) * 1024 / MB

    @property
    def openssl_peak_mb(self) -> float:
        return max(s.ssl_rss_kib for s in self.samples) * 1024 / MB

    def spread(self) -> tuple[float, float]:
        """Lowest and highest whole-process ratio of the single runs."""
        ratios = [s.ours_process / s.ssl_total for s in self.samples]
        return min(ratios), max(ratios)

    @property
    def passed(self) -> bool:
        return (
            self.ratio <= TARGET_RATIO
            and self.ratio_proc <= TARGET_RATIO
            and self.ours_peak_mb <= TARGET_RSS_MB
        )


def needed_bytes(size: int, verify: bool) -> int:
    mime = estimated_mime_size(size)
    enc = estimated_mime_size(mime)
    # attachment + part.mime + (signed.eml + enc.eml; ours alone is smaller) + verified copy
    return size + mime + mime + enc + (mime if verify else 0) + 256 * MIB


def bench_size(
    mib: int, repeat: int, verify: bool, launcher: Launcher, pki: Pki, workdir: Path, log
) -> SizeResult:
    size = mib * MIB
    need = needed_bytes(size, verify)
    free = shutil.disk_usage(workdir).free
    if free < need:
        raise BenchError(
            f"{mib} MiB needs about {need / 1e9:.1f} GB free in {workdir}, only {free / 1e9:.1f} GB "
            "free; use --workdir on a larger disk or smaller --sizes"
        )
    attachment = workdir / f"attachment-{mib}MiB.bin"
    part = workdir / f"part-{mib}MiB.mime"
    ours_out = workdir / "ours.eml"
    signed = workdir / "openssl-signed.eml"
    enc = workdir / "openssl-enc.eml"
    result = SizeResult(mib)
    try:
        log(f"[{mib} MiB] writing random attachment and the MIME part for OpenSSL ...")
        write_random(attachment, size)
        write_mime_part(attachment, part)
        for i in range(repeat):
            last = i == repeat - 1
            remove(ours_out, signed, enc)

            def ours() -> tuple[Run, dict]:
                os.sync()  # earlier runs' dirty pages must not be flushed during this one
                outcome = run_ours(launcher, pki, attachment, ours_out)
                if not (last and verify):
                    remove(ours_out)
                return outcome

            def openssl() -> tuple[Run, Run, int, float]:
                os.sync()
                sign, encrypt = run_openssl(launcher, pki, part, signed, enc)
                signed_size = signed.stat().st_size
                remove(signed)
                return sign, encrypt, signed_size, fsync_file(enc)

            # Alternate which side goes first, so neither always runs on a "fresher" machine.
            if i % 2 == 0:
                ours_run, info = ours()
                sign, encrypt, signed_size, fsync_after = openssl()
            else:
                sign, encrypt, signed_size, fsync_after = openssl()
                ours_run, info = ours()
            enc_size = enc.stat().st_size
            if not (last and verify):
                remove(enc)
            sample = Sample(
                ours_compose=info["compose_s"],
                ours_process=ours_run.wall,
                ours_setup=info["setup_s"],
                ours_fsync=info["fsync_s"],
                ours_cpu=ours_run.cpu,
                ours_rss_kib=ours_run.maxrss_kib,
                ours_rss_setup_kib=info["rss_setup_kib"],
                ours_size=info["size"],
                ssl_sign=sign.wall,
                ssl_encrypt=encrypt.wall,
                ssl_cpu=sign.cpu + encrypt.cpu,
                ssl_rss_kib=max(sign.maxrss_kib, encrypt.maxrss_kib),
                ssl_sign_rss_kib=sign.maxrss_kib,
                ssl_encrypt_rss_kib=encrypt.maxrss_kib,
                ssl_signed_size=signed_size,
                ssl_size=enc_size,
                ssl_fsync_after=fsync_after,
            )
            result.samples.append(sample)
            log(
                f"[{mib} MiB] run {i + 1}/{repeat}: ours compose {sample.ours_compose:.2f} s "
                f"(process {sample.ours_process:.2f} s, setup {sample.ours_setup:.2f} s, of which "
                f"fsync {sample.ours_fsync:.2f} s; cpu {sample.ours_cpu:.2f} s; peak "
                f"{sample.ours_rss_kib * 1024 / MB:.1f} MB, {sample.ours_rss_setup_kib * 1024 / MB:.1f} MB "
                f"before compose) | openssl sign {sample.ssl_sign:.2f} s + encrypt "
                f"{sample.ssl_encrypt:.2f} s = {sample.ssl_total:.2f} s (cpu {sample.ssl_cpu:.2f} s; peak "
                f"{sample.ssl_sign_rss_kib * 1024 / MB:.1f} / {sample.ssl_encrypt_rss_kib * 1024 / MB:.1f} MB; "
                f"fsync of enc.eml afterwards {sample.ssl_fsync_after:.2f} s, not counted) | "
                f"ratio {sample.ours_compose / sample.ssl_total:.2f}"
            )
            if last:
                log(
                    f"[{mib} MiB] output sizes: ours {sample.ours_size / 1e6:.1f} MB, openssl "
                    f"signed {sample.ssl_signed_size / 1e6:.1f} MB -> enveloped {sample.ssl_size / 1e6:.1f} MB"
                )
        if verify:
            log(f"[{mib} MiB] sanity check: decrypt as bob + openssl cms -verify -binary -crlfeol ...")
            verify_message(ours_out, pki, part, "smimehelper", workdir)
            verify_message(enc, pki, part, "openssl", workdir)
            result.verified = True
            log(f"[{mib} MiB] both outputs decrypt, verify and carry the same MIME part")
    finally:
        remove(attachment, part, ours_out, signed, enc)
    return result


# --------------------------------------------------------------------------- report

def table(results: list[SizeResult]) -> str:
    head = (
        f"{'size':>9} {'ours_s':>7} {'ours_proc_s':>11} {'openssl_s':>9} {'ratio':>6} "
        f"{'ratio_proc':>10} {'ours_peak_MB':>12} {'openssl_peak_MB':>15} {'runs':>4} "
        f"{'verified':>8} {'target':>6}"
    )
    rows = [head]
    for r in results:
        rows.append(
            f"{str(r.mib) + ' MiB':>9} {r.ours_s:>7.2f} {r.ours_proc_s:>11.2f} {r.openssl_s:>9.2f} "
            f"{r.ratio:>6.2f} {r.ratio_proc:>10.2f} {r.ours_peak_mb:>12.1f} {r.openssl_peak_mb:>15.1f} "
            f"{len(r.samples):>4} {'yes' if r.verified else 'no':>8} {'PASS' if r.passed else 'FAIL':>6}"
        )
    return "\n".join(rows)


def verdict(r: SizeResult) -> str:
    low, high = r.spread()
    return (
        f"{r.mib} MiB: ratio {r.ratio:.2f} (target <= {TARGET_RATIO:.1f}), whole process "
        f"{r.ratio_proc:.2f} (target <= {TARGET_RATIO:.1f}; runs {low:.2f}-{high:.2f}), our peak RSS "
        f"{r.ours_peak_mb:.1f} MB (target <= {TARGET_RSS_MB:.0f} MB): "
        f"{'PASS' if r.passed else 'FAIL'}"
    )


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes takes comma-separated MiB counts, not {text!r}") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError("--sizes needs positive sizes")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default=[100, 1000],
                        help="attachment sizes in MiB, comma-separated (default 100,1000)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="runs per size; the median is reported (default 3 below 1000 MiB, else 1)")
    parser.add_argument("--quick", action="store_true", help="just 100 MiB, 1 run")
    parser.add_argument("--verify", dest="verify", action="store_true", default=None,
                        help="decrypt and verify both outputs at every size (default: sizes <= 256 MiB)")
    parser.add_argument("--no-verify", dest="verify", action="store_false", help="never verify")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the temporary directory is made (default: the system temp dir)")
    args = parser.parse_args(argv)
    sizes, repeat = ([100], 1) if args.quick else (args.sizes, args.repeat)
    if repeat is not None and repeat < 1:
        parser.error("--repeat must be at least 1")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    results: list[SizeResult] = []
    workdir: Path | None = None
    load_before = load_average()
    try:
        if shutil.which("openssl") is None:
            raise BenchError("openssl is not on PATH")
        version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
        workdir = Path(tempfile.mkdtemp(prefix="smimehelper-bench-", dir=args.workdir))
        launcher = Launcher(workdir)
        import smimehelper

        log(f"smimehelper {smimehelper.__version__} from {Path(smimehelper.__file__).parent}; {version}")
        log(f"python {sys.version.split()[0]}; {os.cpu_count()} CPUs; work dir {workdir}")
        log(f"peak RSS via {launcher.description}")
        pki = make_pki(workdir / "pki")
        for mib in sizes:
            n = repeat if repeat is not None else (3 if mib < 1000 else 1)
            verify = args.verify if args.verify is not None else mib <= 256
            results.append(bench_size(mib, n, verify, launcher, pki, workdir, log))
    except BenchError as exc:
        if results:
            print(table(results))
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 2
    except Exception:  # anything unexpected is an error of the run, not a result
        if results:
            print(table(results))
        traceback.print_exc()
        return 2
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(table(results))
    for r in results:
        print(verdict(r))
    print(f"load average (1 min) {load_before} at the start, {load_average()} at the end, on {os.cpu_count()} CPUs")
    return 0


def load_average() -> str:
    """The machine's 1-minute load average: how shared the CPUs were (figures vary with it)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:  # pragma: no cover - platforms without it
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())

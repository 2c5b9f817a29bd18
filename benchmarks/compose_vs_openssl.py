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
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from compose_results import Sample, SizeResult, table, verdict  # noqa: E402
from measure import (  # noqa: E402
    MB,
    MIB,
    BenchError,
    Launcher,
    Pki,
    Run,
    check,
    fsync_file,
    load_average,
    make_pki,
    parse_sizes,
    remove,
    write_random,
)

BODY = "Dear colleague,\n\nplease find the study attached.\n\nBest regards,\nAlice\n"
SENDER = "alice@example.org"
RECIPIENT = "bob@example.org"


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
    run = check(launcher.run([sys.executable, "-c", _OURS, json.dumps(args)]), "smimehelper compose")
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
    sign = check(
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
    encrypt = check(
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


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""DICOM figures of issue 13, in one run on the same files:

1. De-identification of a synthetic 500-slice 512x512 16-bit study (about 250 MB): our time
   (smimehelper dicom deidentify, whole process) against GDCM's gdcmanon (basic profile) on the
   same files; target ratio <= 1.0.
2. The whole de-identify + compress (JPEG-LS) + split (25 MB) + compose, as `smimehelper compose`
   runs it: wall time and peak RSS of the process (target < 200 MB).

Run: .venv/bin/python benchmarks/dicom_deidentify.py [--slices 500] [--repeat 10] [--deidentify-only]

gdcmanon leaves its copies in the page cache; `dicom deidentify` returns only when its copies are
on disk (one sync at the end). For reference the script also times gdcmanon followed by `sync`
(the same durability); the ratio the target applies to is against gdcmanon alone.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.core.dicom.synthetic import write_study  # noqa: E402
from tests.pki.make_pki import build_pki  # noqa: E402


def timed(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    return elapsed, max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def peak_rss_of(cmd: list[str]) -> tuple[float, int]:
    seconds, rss, _ = measured(cmd)
    return seconds, rss


def measured(cmd: list[str]) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (KiB) and CPU seconds (user + system, worker processes included)
    of ``cmd``, run from a small launcher so that the peak is the command's own."""
    wrapper = [sys.executable, "-c",
               "import resource,subprocess,sys,time;t=time.perf_counter();subprocess.run(sys.argv[1:],check=True,stdout=subprocess.DEVNULL);"
               "e=time.perf_counter()-t;u=resource.getrusage(resource.RUSAGE_CHILDREN);"
               "print(e, u.ru_maxrss, u.ru_utime+u.ru_stime)", *cmd]
    out = subprocess.run(wrapper, check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1]), float(out[2])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slices", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=10, help="runs of each side; even, so each goes first as often")
    parser.add_argument("--deidentify-only", action="store_true", help="skip the compose figure")
    args = parser.parse_args()
    script = str(Path(sys.executable).parent / "smimehelper")
    # As installed: pip writes the bytecode cache of a package when it installs it. An editable
    # checkout run with PYTHONDONTWRITEBYTECODE (set in some developer shells) would compile every
    # module of ours again in every run (about 25 ms of start-up), which no installed copy does.
    compileall.compile_dir(str(ROOT / "smimehelper"), quiet=1)
    with tempfile.TemporaryDirectory(prefix="bench-dicom-") as tmp:
        tmp_path = Path(tmp)
        study = write_study(tmp_path / "study", args.slices, 512, 512)
        size = sum(p.stat().st_size for p in study.files)
        print(f"study: {args.slices} slices, {size / 1e6:.0f} MB")
        cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-subj", "/CN=bench", "-days", "2"], check=True, capture_output=True)
        ours_runs, gdcm_runs, synced_runs, ours_cpu, gdcm_cpus, ours_rss = [], [], [], [], [], 0
        load_before = os.getloadavg()
        for run in range(args.repeat):  # alternated, so that a busy moment hits both
            out_ours, out_gdcm = tmp_path / f"ours-{run}", tmp_path / f"gdcm-{run}"
            out_gdcm.mkdir()
            ours_cmd = [script, "dicom", "deidentify", str(study.folder), "-o", str(out_ours)]
            gdcm_cmd = ["gdcmanon", "-e", "-c", str(cert), "-i", str(study.folder), "-o", str(out_gdcm), "--continue"]
            first_ours = run % 2 == 0
            os.sync()
            if first_ours:
                seconds, rss, cpu = measured(ours_cmd)
                os.sync()
            gdcm_seconds, _, gdcm_cpu = measured(gdcm_cmd)
            start = time.perf_counter()
            os.sync()  # what gdcmanon left in the page cache, for the "same durability" column
            synced = gdcm_seconds + time.perf_counter() - start
            if not first_ours:
                seconds, rss, cpu = measured(ours_cmd)
            ours_runs.append(seconds)
            gdcm_runs.append(gdcm_seconds)
            synced_runs.append(synced)
            ours_rss = max(ours_rss, rss)
            ours_cpu.append(cpu)
            gdcm_cpus.append(gdcm_cpu)
            print(f"  run {run + 1}: smimehelper {seconds:.3f} s (CPU {cpu:.3f} s), gdcmanon {gdcm_seconds:.3f} s "
                  f"(CPU {gdcm_cpu:.3f} s; + sync {synced:.3f} s), ratio {seconds / gdcm_seconds:.2f}, "
                  f"load {os.getloadavg()[0]:.1f}", file=sys.stderr)
            shutil.rmtree(out_ours)
            shutil.rmtree(out_gdcm)
        ours, gdcm, synced = (statistics.median(r) for r in (ours_runs, gdcm_runs, synced_runs))
        per_run = statistics.median(o / g for o, g in zip(ours_runs, gdcm_runs))
        load_after = os.getloadavg()
        print(f"de-identify ({os.cpu_count()} cores, load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
              f"median of {args.repeat}): smimehelper {ours:.2f} s (peak RSS {ours_rss / 1024:.0f} MB), gdcmanon {gdcm:.2f} s, "
              f"ratio {ours / gdcm:.2f} (target <= 1.0: {'met' if ours / gdcm <= 1.0 else 'NOT met'}); "
              f"median of the per-run ratios {per_run:.2f}; "
              f"against gdcmanon + sync {synced:.2f} s: {ours / synced:.2f}; CPU time (user + system, median) "
              f"smimehelper {statistics.median(ours_cpu):.2f} s, gdcmanon {statistics.median(gdcm_cpus):.2f} s")
        if args.deidentify_only:
            return
        pki = build_pki(tmp_path / "pki")
        env_home = tmp_path / "home"
        out = tmp_path / "out" / "study.eml"
        out.parent.mkdir()
        cmd = [script, "--home", str(env_home), "compose", "--from", "alice@example.org", "--to", "bob@example.org",
               "--subject", "CBCT", "--body", "Study attached.", "--sign-key", str(pki["alice"].p12),
               "--passphrase-file", str(pki.passphrase_file), "--recipient-cert", str(pki["bob"].cert_pem),
               "--attach", str(study.folder), "--deidentify", "--compress", "--split", "--size-limit", "25", "-o", str(out)]
        os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
        total, rss = peak_rss_of(cmd)
        parts = sorted(out.parent.glob("study.part-*.eml"))
        print(f"de-identify + compress + split + compose: {total:.2f} s, {len(parts)} parts, "
              f"largest {max(p.stat().st_size for p in parts) / 1e6:.1f} MB, peak RSS {rss / 1024:.0f} MB (target < 200 MB)")


if __name__ == "__main__":
    main()

"""DICOM commands under attack, as real processes: Ctrl-C (SIGINT to the whole process group, as
a terminal sends it) and SIGTERM in the middle of de-identification and of compression, a
full disk (a real 1 MB tmpfs), a FIFO, /dev/zero and a folder holding a FIFO as input.

Every case must end with a clear message and its exit code (130 interrupted, 2 bad input),
no traceback, no temporary file left (TMPDIR is private to each test) and no partial output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.console import console_script
from tests.core.dicom.synthetic import write_intra_oral, write_study
from tests.pki.make_pki import Pki
from tests.small_disk import small_disk  # noqa: F401 (fixture)

SCRIPT = str(console_script())


def environment(tmp_path: Path) -> dict[str, str]:
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    home = tmp_path / "home"
    return {**os.environ, "TMPDIR": str(temp), "SMIMEHELPER_HOME": str(home),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def leftovers(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "tmp").rglob("*"))


def compose_args(pki: Pki, out: Path, *extra: object) -> list[str]:
    return [SCRIPT, "compose", "--from", "alice@example.org", "--to", "bob@example.org", "--subject", "Study",
            "--body", "Hello", "--sign-key", str(pki["alice"].p12), "--passphrase-file", str(pki.passphrase_file),
            "--recipient-cert", str(pki["bob"].cert_pem), "-o", str(out), *map(str, extra)]


def stop_midway(args: list[str], env: dict[str, str], started: "callable", how: str) -> subprocess.CompletedProcess[str]:  # type: ignore[valid-type]
    """Run ``args``, wait until ``started()`` (work visibly under way), then interrupt it."""
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not started():
            assert proc.poll() is None, f"finished before it could be interrupted: {proc.communicate()}"
            assert time.monotonic() < deadline, "the work never started"
            time.sleep(0.005)
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)  # the terminal signals every process of the job
        else:
            proc.send_signal(signal.SIGTERM)  # logout/shutdown: only the main process
        out, err = proc.communicate(timeout=120)
        assert group_gone(proc.pid), "worker processes outlived the command"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def group_gone(leader: int, wait: float = 10.0) -> bool:
    """Whether every process of the job (the worker processes too) has exited."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.killpg(leader, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def many_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1500 small slices: a couple of seconds of de-identification, on every core."""
    return write_study(tmp_path_factory.mktemp("many") / "study", 1500, 32, 32).folder


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_deidentify_leaves_nothing(many_files: Path, tmp_path: Path, how: str) -> None:
    out = tmp_path / "out"

    def started() -> bool:
        return out.is_dir() and any(len(os.listdir(p)) > 30 for p in out.glob(".smimehelper-deidentify-*"))

    result = stop_midway([SCRIPT, "dicom", "deidentify", str(many_files), "-o", str(out)], environment(tmp_path), started, how)
    assert result.returncode == (130 if how == "ctrl-c" else 143), result.stderr
    assert "Interrupted" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() or list(out.iterdir()) == []  # no copy, no hidden staging folder
    assert leftovers(tmp_path) == []
    assert len(list(many_files.iterdir())) == 1500  # the originals untouched


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_compress_in_compose_leaves_nothing(pki: Pki, many_files: Path, tmp_path: Path, how: str) -> None:
    out = tmp_path / "out" / "study.eml"
    out.parent.mkdir()
    temp = tmp_path / "tmp"

    def started() -> bool:
        return sum(1 for p in temp.rglob("*.dcm")) > 30  # compressed copies appearing in the scratch folder

    args = compose_args(pki, out, "--attach", many_files, "--deidentify", "--compress", "rle")
    result = stop_midway(args, environment(tmp_path), started, how)
    assert result.returncode == (130 if how == "ctrl-c" else 143), result.stderr
    assert "Interrupted" in result.stderr and "Traceback" not in result.stderr
    assert list(out.parent.iterdir()) == []
    assert leftovers(tmp_path) == []  # the de-identified and compressed copies are gone




@pytest.mark.parametrize("count", [3, 40])  # one process, and the worker processes
def test_full_disk_while_deidentifying(small_disk: Path, tmp_path: Path, count: int) -> None:
    study = write_study(tmp_path / "study", count, 128, 128)  # 32 KB a slice: 40 do not fit into 1 MB
    if count == 3:
        study = write_study(tmp_path / "big", 3, 512, 512)  # 3 x 512 KB
    out = small_disk / "out"
    result = subprocess.run([SCRIPT, "dicom", "deidentify", str(study.folder), "-o", str(out)],
                            env=environment(tmp_path), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "No space left" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() and os.listdir(small_disk) == []


def test_full_disk_for_the_temporary_copies_in_compose(pki: Pki, small_disk: Path, tmp_path: Path) -> None:
    big = write_study(tmp_path / "big", 4, 512, 512).folder  # the copies do not fit
    small = write_study(tmp_path / "small", 3, 300, 300).folder  # the copies fit, the study archive does not
    out = tmp_path / "out.eml"
    env = {**environment(tmp_path), "TMPDIR": str(small_disk)}
    for folder, extra in ((big, ["--deidentify"]), (big, ["--compress", "rle"]), (small, ["--deidentify"])):
        result = subprocess.run(compose_args(pki, out, "--attach", folder, *extra), env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "No space left" in result.stderr and "Traceback" not in result.stderr
        assert not out.exists() and os.listdir(small_disk) == []


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "scan.dcm"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_fifo_and_dev_zero_are_refused_without_hanging(pki: Pki, tmp_path: Path, fifo: Path, special: str) -> None:
    path = fifo if special == "fifo" else Path(special)
    env = environment(tmp_path)
    commands = [
        [SCRIPT, "dicom", "info", str(path)],
        [SCRIPT, "dicom", "deidentify", str(path), "-o", str(tmp_path / "out")],
        compose_args(pki, tmp_path / "m.eml", "--attach", path, "--deidentify"),
        compose_args(pki, tmp_path / "m.eml", "--attach", path, "--compress"),
    ]
    for args in commands:
        result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert str(path.name) in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "m.eml").exists() and not (tmp_path / "out").exists()
    assert leftovers(tmp_path) == []


def test_a_fifo_inside_a_study_folder_is_skipped(pki: Pki, tmp_path: Path) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    write_intra_oral(folder / "xray.dcm")
    os.mkfifo(folder / "IM0002.dcm")
    out = tmp_path / "out"
    result = subprocess.run([SCRIPT, "dicom", "deidentify", str(folder), "-o", str(out)], env=environment(tmp_path),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in out.iterdir()] == ["IMG00001.dcm"]
    result = subprocess.run(compose_args(pki, tmp_path / "m.eml", "--attach", folder, "--deidentify"),
                            env=environment(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert leftovers(tmp_path) == []


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


def kill_midway(args: list[str], env: dict[str, str], started: "callable") -> None:  # type: ignore[valid-type]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not started():
            assert proc.poll() is None, "finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the process and its workers, no clean-up possible
        proc.wait()
    assert group_gone(proc.pid)


def test_kill_9_leftovers_are_removed_by_the_next_run(pki: Pki, many_files: Path, tmp_path: Path) -> None:
    env = environment(tmp_path)
    out = tmp_path / "out"
    staging = lambda: list(out.glob(".smimehelper-deidentify-*"))  # noqa: E731
    kill_midway([SCRIPT, "dicom", "deidentify", str(many_files), "-o", str(out)], env,
                lambda: any(len(os.listdir(p)) > 30 for p in staging()))
    assert staging(), "kill -9 leaves the hidden staging folder"
    temp = tmp_path / "tmp"
    kill_midway(compose_args(pki, tmp_path / "m.eml", "--attach", many_files, "--deidentify"), env,
                lambda: sum(1 for _ in temp.rglob("IMG*.dcm")) > 30)
    assert list(temp.glob("smimehelper-dicom-*")), "kill -9 leaves the private temporary folder"

    small = write_study(tmp_path / "small", 2).folder
    result = subprocess.run([SCRIPT, "dicom", "deidentify", str(small), "-o", str(out)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["IMG00001.dcm", "IMG00002.dcm"]  # the stale staging is gone
    result = subprocess.run(compose_args(pki, tmp_path / "m.eml", "--attach", small, "--deidentify"), env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert leftovers(tmp_path) == []  # the stale copies in the temporary folder are gone too


def test_two_deidentify_runs_into_one_folder_never_mix(many_files: Path, tmp_path: Path) -> None:
    """Two processes at once into the same folder: one gets every name, the other an error and
    keeps nothing; the folder holds one complete set."""
    out = tmp_path / "out"
    args = [SCRIPT, "dicom", "deidentify", str(many_files), "-o", str(out)]
    env = environment(tmp_path)
    first = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    results = [(p.communicate(timeout=300)[1], p.returncode) for p in (first, second)]
    codes = sorted(code for _, code in results)
    assert codes == [0, 2], results  # never both: the names are taken without replacing
    failed = next(err for err, code in results if code == 2)
    assert "already exists" in failed and "Traceback" not in failed
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"IMG{n:05d}.dcm" for n in range(1, 1501)]  # one complete set, no staging left
    import pydicom

    uids = {str(pydicom.dcmread(out / n, stop_before_pixels=True).StudyInstanceUID) for n in names}
    assert len(uids) == 1  # all from one run (each run has its own UID key)

"""``smimehelper export`` as a command: JSON, exit codes and messages (Thunderbird itself judges
the result in tests/thunderbird)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smimehelper.cli.main import main
from tests.core.handoff.test_queue import ENCRYPTED, HEAD, make_profile


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_report_and_the_entry_in_the_outbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = make_profile(tmp_path)
    message = tmp_path / "m.eml"
    message.write_bytes(ENCRYPTED)
    code, out, err = run(capsys, "export", str(message), "--thunderbird-profile", str(profile.path), "--no-start", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["mail_program"] == "thunderbird" and report["started"] is False and report["outbox_shown"] is True
    assert report["recipients"] == ["bob@example.org", "carol@example.org"] and report["protection"] == "encrypted"
    assert Path(report["outbox"]) == profile.path / "Mail" / "Local Folders" / "Unsent Messages"
    assert ENCRYPTED in Path(report["outbox"]).read_bytes()


def test_refusals_exit_2_with_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "no-thunderbird-here"))
    message = tmp_path / "m.eml"
    message.write_bytes(ENCRYPTED)
    code, out, err = run(capsys, "export", str(message))
    assert code == 2 and out == "" and err.startswith("Error: Thunderbird is not set up on this computer")
    profile = make_profile(tmp_path)
    plain = tmp_path / "plain.eml"
    plain.write_bytes(HEAD + b"Content-Type: text/plain\r\n\r\nPatient Mustermann\r\n")
    code, _, err = run(capsys, "export", str(plain), "--thunderbird-profile", str(profile.path), "--no-start")
    assert code == 2 and "neither encrypted nor signed" in err and "Traceback" not in err
    assert not (profile.path / "Mail").exists()
    code, _, err = run(capsys, "export", str(message), "--imap-drafts")
    assert code == 2 and "--imap-drafts was removed" in err

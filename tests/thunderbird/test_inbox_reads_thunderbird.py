"""Issue 16's last judge: a message sent by the real Thunderbird 153 with S/MIME configured
(signed and encrypted, alice -> bob) lies in Dovecot's INBOX; `inbox list` finds it and
`inbox open` gives exactly what `open` gives on the same bytes, and marks it read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.thunderbird.conftest import ThunderbirdMessage
from tests.transport.inbox_helpers import append_bytes, stored_flags
from tests.transport.servers import DovecotServer
from tests.transport.test_inbox_cli import Cli, add_account, cli, key_args  # noqa: F401 (fixture)


def test_inbox_lists_and_opens_what_thunderbird_sent(thunderbird_smime_message: ThunderbirdMessage, clean_dovecot: DovecotServer,
                                                    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    message = thunderbird_smime_message
    pki = message.pki
    append_bytes(clean_dovecot, "INBOX", message.data)
    add_account(cli, clean_dovecot)
    code, out, err = cli("inbox", "list", "--password-file", cli.password, "--json")
    assert code == 0, err
    (entry,) = [m for m in json.loads(out)["messages"] if m["subject"] == "Referral from Thunderbird"]
    assert entry["size"] == len(message.data) and entry["seen"] is False
    eml = tmp_path / "thunderbird.eml"
    eml.write_bytes(message.data)
    trust = ["--trust", pki.root.cert_pem]
    expected_code, expected_out, _ = cli("open", eml, *key_args(pki, "bob"), *trust, "--json")
    code, out, err = cli("inbox", "open", entry["uid"], "--password-file", cli.password, *key_args(pki, "bob"), *trust, "--json")
    got = json.loads(out)
    assert got.pop("mailbox")["marked_read"] is True
    assert (code, got) == (expected_code, json.loads(expected_out)), err
    assert code == 0 and "TBMARKER-5521" in (got["body_text"] or "")
    assert got["signatures"][0]["signer_email"] == "alice@example.org" and got["signatures"][0]["trusted"]
    assert any("\\Seen" in flags for flags in stored_flags(clean_dovecot, "INBOX"))

"""services.compose_message: the message and its Bcc copies appear together or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smimehelper.core.mime.writer import AttachmentChanged
from smimehelper.services.compose import ComposeInput, compose_message
from tests.core.test_attachment_changes import SIZE, _rewrite_same_size
from tests.pki.make_pki import REFERENCE_NOW, Pki


def test_bcc_copies_and_the_message_appear_together_or_not_at_all(pki: Pki, tmp_path: Path) -> None:
    """The study changes while the Bcc copy is written: the main message (already complete)
    must not appear either."""
    study = tmp_path / "study.dcm"
    study.write_bytes(os.urandom(SIZE))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    state = {"passes": 0}

    def progress(done: int, total: int) -> None:
        if done == total:
            state["passes"] += 1
            if state["passes"] == 1:
                _rewrite_same_size(study)  # the main message has read it all; the copy will not match

    request = ComposeInput(
        sender="alice@example.org", to=("bob@example.org",), bcc=("carol@example.org",), subject="Study",
        body="See attached.", sign_key=pki["alice"].p12, out=out_dir / "referral.eml",
        attachments=(study,), recipient_certs=(pki["bob"].cert_pem, pki["carol"].cert_pem), now=REFERENCE_NOW,
    )
    with pytest.raises(AttachmentChanged):
        compose_message(request, lambda _prompt: pki.p12_password.encode(), progress=progress)
    assert state["passes"] == 1
    assert list(out_dir.iterdir()) == []

"""An attachment that changes while the message is written: the compose fails and leaves nothing.

The issue: a 500 MB file truncated half-way through compose gave exit 0 and a validly signed
message carrying 261 MB of it. Here the change is made at a known moment -- from the progress
callback, after the first chunk was read -- so each case is deterministic: shortened, grown,
rewritten in place with the same size, replaced by another file, deleted. (The same with a real
second process: tests/cli/test_compose_faults.py.)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from smimehelper.core.compose import ComposeRequest, compose_to_file
from smimehelper.core.identity import load_pkcs12
from smimehelper.core.mime.writer import READ_CHUNK, AttachmentChanged, prepare_attachment
from tests.judges import openssl_decrypt, openssl_verify
from tests.pki.make_pki import REFERENCE_NOW, Pki

SIZE = READ_CHUNK * 4 + 12345  # several chunks


def _truncate(path: Path) -> None:
    os.truncate(path, SIZE // 2)


def _grow(path: Path) -> None:
    with open(path, "ab") as handle:
        handle.write(b"more data appended by the scanner")


def _rewrite_same_size(path: Path) -> None:
    before = os.stat(path)
    with open(path, "r+b") as handle:
        handle.seek(SIZE - 10)
        handle.write(b"0123456789")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))


def _replace(path: Path) -> None:
    other = path.with_name("other.bin")
    other.write_bytes(b"\x01" * SIZE)  # same size, another file
    os.replace(other, path)


def _delete(path: Path) -> None:
    path.unlink()


CHANGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (_truncate, "shortened"),
    "grown": (_grow, "grew"),
    "rewritten": (_rewrite_same_size, "modified"),
    "replaced": (_replace, "replaced"),
    "deleted": (_delete, "replaced"),
}


def _request(pki: Pki, attachment: Path) -> ComposeRequest:
    identity = load_pkcs12(pki["alice"].p12, pki.p12_password.encode())
    return ComposeRequest(
        sender="alice@example.org", to=("bob@example.org",), subject="Study", body="See attached.",
        identity=identity, attachments=(prepare_attachment(attachment),),
        recipient_certs=(pki["bob"].cert,), now=pki.now,
    )


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_change_after_the_first_chunk_fails_and_leaves_nothing(pki: Pki, tmp_path: Path, change: str) -> None:
    study = tmp_path / "study.dcm"
    study.write_bytes(os.urandom(SIZE))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    modify, words = CHANGES[change]
    request = _request(pki, study)
    seen: list[int] = []

    def progress(done: int, _total: int) -> None:
        if not seen:
            modify(study)  # after the first chunk, while the rest is still to be read
        seen.append(done)

    with pytest.raises(AttachmentChanged) as caught:
        compose_to_file(request, out_dir / "referral.eml", progress=progress)
    text = str(caught.value)
    assert str(study) in text and "changed while it was being read" in text and words in text
    assert "Nothing was written" in text
    assert list(out_dir.iterdir()) == []  # no message, no temporary file


def test_change_between_adding_and_composing_is_caught(pki: Pki, tmp_path: Path) -> None:
    study = tmp_path / "study.dcm"
    study.write_bytes(os.urandom(SIZE))
    request = _request(pki, study)  # stat taken here (the GUI: when the file was added)
    _rewrite_same_size(study)
    with pytest.raises(AttachmentChanged, match="it was modified"):
        compose_to_file(request, tmp_path / "out.eml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.dcm"]


def test_unchanged_file_still_composes_and_verifies(pki: Pki, tmp_path: Path) -> None:
    study = tmp_path / "study.dcm"
    data = os.urandom(SIZE)
    study.write_bytes(data)
    out = tmp_path / "ok.eml"
    compose_to_file(_request(pki, study), out)
    bob = pki["bob"]
    content = openssl_verify(openssl_decrypt(out, bob.cert_pem, bob.key_path), pki.root.cert_pem, attime=REFERENCE_NOW)
    assert len(content) > SIZE


def test_password_package_checks_the_same_stamp(tmp_path: Path) -> None:
    """The package writer (issue 12) reads attachments itself: same size, rewritten -> refused."""
    from smimehelper.core.package.writer import PackageRequest, write_package
    from tests.core.package.helpers import CREATED

    study = tmp_path / "study.dcm"
    study.write_bytes(os.urandom(SIZE))
    attachment = prepare_attachment(study)
    _rewrite_same_size(study)
    with pytest.raises(AttachmentChanged, match="changed while it was being packed"):
        write_package(PackageRequest("a@example.org", "", "", (attachment,), "correct horse battery staple extra words",
                                     CREATED, check_strength=False), tmp_path / "p.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.dcm"]

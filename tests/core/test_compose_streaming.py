"""The fast compose pipeline (reused buffers, 57-aligned blocks, manual CBC padding) judged by OpenSSL.

The pipeline reuses its buffers: a stage writes the next chunk into a buffer the stage after it
must have finished with. Sizes are chosen at every boundary the code has (base64 groups of 57,
AES blocks of 16, the 32 KB fast-encoder threshold, the read chunk, the encryption stage's block)
and the stages are slowed down in turn so that every ring wraps while the others wait: a buffer
reused too early would corrupt the message, which OpenSSL then refuses to decrypt or verify, or
the attachment it returns differs from the file.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from smimehelper.core import compose as compose_module
from smimehelper.core.cms.enveloped import EnvelopeEncoder
from smimehelper.core.mime.encoders import FAST_MIN_BYTES
from smimehelper.core.mime.writer import READ_CHUNK
from tests.core.helpers import attachments_of, compose, signed_content_parts
from tests.judges import openssl_decrypt, openssl_verify
from tests.pki.make_pki import Pki


@pytest.fixture(params=["numpy-lines", "plain-lines"], autouse=True)
def line_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of making base64 lines: numpy rows into reused buffers (the messages here are
    below the size that loads numpy on its own: forced), and the plain encoder (numpy not loaded)."""
    if request.param == "numpy-lines":
        monkeypatch.setattr(compose_module, "NUMPY_WORTH_BYTES", 0)
    else:
        monkeypatch.setattr(compose_module, "NUMPY_WORTH_BYTES", 1 << 62)
        monkeypatch.setattr(compose_module, "numpy_loaded", lambda: False)
    return request.param


def _judge(pki: Pki, out: Path, files: dict[str, bytes], who: str = "bob") -> None:
    entity = pki.entity(who)
    inner = openssl_decrypt(out, entity.cert_pem, entity.key_path)
    openssl_verify(inner, pki.root.cert_pem, attime=pki.now)
    got = attachments_of(signed_content_parts(inner))
    assert {name: hashlib.sha256(data).hexdigest() for name, (_, data) in got.items()} == {
        name: hashlib.sha256(data).hexdigest() for name, data in files.items()
    }


def _write(tmp_path: Path, sizes: list[int]) -> dict[str, bytes]:
    files = {}
    for size in sizes:
        data = os.urandom(size)
        (tmp_path / f"f{size}.bin").write_bytes(data)
        files[f"f{size}.bin"] = data
    return files


BOUNDARIES = [0, 1, 15, 16, 17, 56, 57, 58, 57 * 16 - 1, FAST_MIN_BYTES - 1, FAST_MIN_BYTES,
              FAST_MIN_BYTES + 57, READ_CHUNK - 1, READ_CHUNK, READ_CHUNK + 1, READ_CHUNK + 57]


@pytest.mark.parametrize("size", BOUNDARIES)
def test_every_boundary_size_decrypts_verifies_and_round_trips(pki: Pki, tmp_path: Path, size: int) -> None:
    files = _write(tmp_path, [size])
    out = tmp_path / "msg.eml"
    compose(pki, out, attachments=tuple(tmp_path / name for name in files))
    _judge(pki, out, files)


@pytest.mark.parametrize("gcm", [False, True], ids=["cbc", "gcm"])
def test_several_files_across_many_encryption_blocks(pki: Pki, tmp_path: Path, gcm: bool) -> None:
    # ~9 MB of content: more blocks than any ring has buffers, and files whose ends fall at
    # odd places inside the encryption stage's blocks.
    files = _write(tmp_path, [3 * READ_CHUNK + 12_345, 1, compose_module.SEAL_BLOCK + 7, 2 * READ_CHUNK - 3])
    out = tmp_path / "msg.eml"
    compose(pki, out, attachments=tuple(tmp_path / name for name in files), gcm=gcm)
    _judge(pki, out, files)
    _judge(pki, out, files, who="alice")


def _slow(method, pause: float = 0.002):  # type: ignore[no-untyped-def]
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(pause)
        return method(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize("stage", ["encryption", "writing"])
def test_a_slow_stage_never_sees_a_reused_buffer(pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    """The stage before a slow one fills its whole ring and waits; what it waited for must be
    exactly what the slow stage then reads."""
    if stage == "encryption":
        monkeypatch.setattr(EnvelopeEncoder, "update_into", _slow(EnvelopeEncoder.update_into))
    else:
        monkeypatch.setattr(compose_module, "_write_base64", _slow_writer(compose_module._write_base64))
    files = _write(tmp_path, [12 * READ_CHUNK + 999])
    out = tmp_path / "msg.eml"
    compose(pki, out, attachments=tuple(tmp_path / name for name in files))
    _judge(pki, out, files)


def _slow_writer(write_base64):  # type: ignore[no-untyped-def]
    def wrapper(blocks, *args):  # type: ignore[no-untyped-def]
        def slowly():  # type: ignore[no-untyped-def]
            for block in blocks:
                time.sleep(0.003)
                yield block

        return write_base64(slowly(), *args)

    return wrapper


def test_signed_only_message_verifies(pki: Pki, tmp_path: Path) -> None:
    files = _write(tmp_path, [2 * READ_CHUNK + 5])
    out = tmp_path / "msg.eml"
    compose(pki, out, attachments=tuple(tmp_path / name for name in files), encrypt=False)
    openssl_verify(out.read_bytes(), pki.root.cert_pem, attime=pki.now)
    got = attachments_of(signed_content_parts(out.read_bytes()))
    assert {n: d for n, (_, d) in got.items()} == files


@pytest.mark.parametrize("gcm", [False, True], ids=["cbc", "gcm"])
def test_one_cpu_runs_the_stages_on_one_thread_with_the_same_result(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gcm: bool
) -> None:
    monkeypatch.setattr(compose_module, "usable_cpus", lambda: 1)
    started = []
    monkeypatch.setattr(compose_module, "in_background", lambda *a, **k: started.append(a) or iter(()))
    files = _write(tmp_path, [5 * READ_CHUNK + 77, 3])
    out = tmp_path / "msg.eml"
    compose(pki, out, attachments=tuple(tmp_path / name for name in files), gcm=gcm)
    assert not started  # no worker thread
    _judge(pki, out, files)

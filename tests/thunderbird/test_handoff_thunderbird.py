"""Issue 10, judged by the real Thunderbird 153 ESR: "Open in Thunderbird" puts our finished
message into Thunderbird's Outbox, and what Thunderbird then sends -- after the user's File >
Send Unsent Messages -- is our S/MIME message, byte for byte, whatever Thunderbird knows
about S/MIME. OpenSSL decrypts it as each recipient and verifies the signature; no marker of
the text or the attachment is readable on the wire or in the IMAP Sent copy.
"""

from __future__ import annotations

import base64
import email
import email.policy
import os
import time
from pathlib import Path

import pytest

from tests.judges import openssl_decrypt, openssl_verify
from tests.thunderbird.conftest import VARIANTS, TbWorld

BODY_MARKER = "BODYMARKER-Q7Z2 Patient Erika Mustermann, born 1961-04-12"
FILE_MARKER = b"ATTACHMENTMARKER-X9K4"


def _attachment(tmp: Path) -> Path:
    path = tmp / "panorama-xray.bin"
    path.write_bytes(os.urandom(200_000) + FILE_MARKER + os.urandom(1000))
    return path


def _markers_absent(data: bytes) -> None:
    for marker in (BODY_MARKER.encode(), FILE_MARKER, b"Mustermann", base64.b64encode(FILE_MARKER)[:16]):
        assert marker not in data


def judge(world: TbWorld, original: bytes, attachment: Path | None) -> None:
    """What arrived is our message: same bytes, both recipients can decrypt, signature valid."""
    [arrived] = world.smtp.received
    assert arrived.tls and arrived.auth_user == world.smtp.username
    assert arrived.mail_from == "alice@example.org"
    assert list(arrived.rcpt_tos) == ["bob@example.org"]
    assert arrived.data == original  # Thunderbird removed only its own X-Mozilla-* / X-*-Key lines
    _markers_absent(arrived.data)
    pki = world.pki
    for who in ("bob", "alice"):  # the recipient, and the sender's own copy
        entity = pki.entity(who)
        inner = openssl_decrypt(arrived.data, entity.cert_pem, entity.key_path)
        content = openssl_verify(inner, pki.root.cert_pem, attime=None)
        assert BODY_MARKER.encode() in content.replace(b"=\r\n", b"")
        if attachment is not None:
            parsed = email.message_from_bytes(content, policy=email.policy.default)
            payloads = [p.get_payload(decode=True) for p in parsed.walk() if p.get_filename()]
            assert attachment.read_bytes() in payloads
    sent = world.sent_copies()
    assert sent == [original]
    _markers_absent(sent[0])


@pytest.mark.parametrize("variant", VARIANTS)
def test_outbox_handoff_sends_our_message_unchanged(tb_world: TbWorld, variant: str) -> None:
    """The three kinds of user: S/MIME configured in Thunderbird, only their key imported, or
    nothing at all. The last one also has a profile Thunderbird never ran on yet (no Outbox,
    no saved session): smimehelper creates the Outbox itself."""
    world = tb_world
    profile = world.profile(variant, used_before=variant != "no-key")
    attachment = _attachment(world.tmp)
    message = world.compose(world.tmp / "referral.eml", body=BODY_MARKER, attach=attachment)
    original = message.read_bytes()

    started = time.monotonic()
    done = world.export(message, profile)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 20  # returned without waiting for Thunderbird
    assert "Opened in Thunderbird" in done.stdout and "File > Send Unsent Messages" in done.stdout

    tb = world.attach(profile)  # the Thunderbird smimehelper started, still running
    assert tb.wait_unsent(1) == 1  # the Outbox shows the message before anything is clicked
    assert world.smtp.data_attempts == []  # nothing leaves before the user's click
    result = tb.send_unsent_messages()
    assert result["started"] and result["successful"] == 1, result
    judge(world, original, attachment)
    assert tb.wait_unsent(0) == 0
    tb.quit()
    outbox = profile.local_folders / "Unsent Messages"
    assert b"X-Mozilla-Status: 0808" in outbox.read_bytes()  # marked sent: a rebuilt index never resends

    # Started again with the index rebuilt from the file, Thunderbird has nothing left to send.
    world.smtp.reset()
    (profile.local_folders / "Unsent Messages.msf").unlink()
    again = world.start(profile)
    assert again.wait_unsent(0) == 0
    assert again.send_unsent_messages(start_timeout=5)["successful"] == 0
    again.quit()
    assert world.smtp.data_attempts == []


def test_maildir_profile_and_two_messages_with_from_lines(tb_world: TbWorld) -> None:
    """A maildir profile (per-server storeContractID) gets a file in ``Unsent Messages/cur``;
    an mbox profile gets two messages one after the other, one of them signed only with body
    lines starting "From " and ">From " -- escaped for the mbox, unescaped by Thunderbird, so
    both arrive byte for byte and the signature still verifies."""
    world = tb_world
    maildir = world.profile("key-only", store="maildir", name="maildir-home")
    message = world.compose(world.tmp / "m1.eml", body=BODY_MARKER)
    done = world.export(message, maildir)
    assert done.returncode == 0, done.stderr
    assert list((maildir.local_folders / "Unsent Messages" / "cur").iterdir())
    tb = world.attach(maildir)
    assert tb.send_unsent_messages()["successful"] == 1
    tb.quit()
    judge(world, message.read_bytes(), None)

    world.smtp.reset()
    from tests.transport.servers import imap_empty_all

    imap_empty_all(world.imap)
    mbox = world.profile("no-key", name="mbox-home")
    signed = world.compose(world.tmp / "signed.eml", body="From the lab: all fine\n>From a quote\n>>From deeper\nend\n",
                           extra=("--no-encrypt",))
    encrypted = world.compose(world.tmp / "m2.eml", body=BODY_MARKER)
    for path in (signed, encrypted):
        done = world.export(path, mbox, "--no-start")
        assert done.returncode == 0, done.stderr
        assert "start Thunderbird to send it" in done.stdout
    assert b"\n>>From a quote" in (mbox.local_folders / "Unsent Messages").read_bytes()
    tb = world.start(mbox)
    assert tb.wait_unsent(2) == 2
    assert tb.send_unsent_messages()["successful"] == 2
    tb.quit()
    arrived = sorted(m.data for m in world.smtp.received)
    assert arrived == sorted([signed.read_bytes(), encrypted.read_bytes()])
    content = openssl_verify(signed.read_bytes(), world.pki.root.cert_pem, attime=None)
    assert b">From a quote" in content and b">>From deeper" in content


def test_running_thunderbird_is_refused_and_nothing_changes(tb_world: TbWorld) -> None:
    """While Thunderbird runs it never notices a new Outbox entry, so smimehelper refuses
    (holding Thunderbird's own profile lock) and leaves the Outbox as it was."""
    world = tb_world
    profile = world.profile("no-key")
    outbox = profile.local_folders / "Unsent Messages"
    before = outbox.read_bytes()
    tb = world.start(profile)
    message = world.compose(world.tmp / "referral.eml", body=BODY_MARKER)
    done = world.export(message, profile)
    assert done.returncode == 2
    assert "Thunderbird is open. Close Thunderbird" in done.stderr
    assert outbox.read_bytes() == before
    assert tb.wait_unsent(0) == 0
    tb.quit()
    assert world.smtp.data_attempts == []


def test_thunderbird_composer_with_our_message_attached_is_not_a_safe_path(tb_world: TbWorld) -> None:
    """Option (b) of issue 10, measured and dropped: ``thunderbird -compose
    "...,attachment='file:///...'"`` with our encrypted message attached. Our message itself
    travels intact, but the wrapper Thunderbird builds around it goes out unencrypted and
    unsigned when S/MIME is not set up in Thunderbird (the usual smimehelper user): whatever
    the user types into that composer -- and a clinician will type the patient's name -- is
    readable on the wire and in Sent, and the recipient only sees an attachment to open."""
    world = tb_world
    profile = world.profile("no-key")
    message = world.compose(world.tmp / "referral.eml", body=BODY_MARKER)
    cover = "Dear colleague: the referral for Mrs Mustermann is attached."  # -compose splits at commas
    spec = f"to=bob@example.org,subject=Referral,body={cover},attachment='{message.resolve().as_uri()}'"
    tb = world.start(profile, args=["-compose", spec])
    state = tb.composer_state()
    assert state["attachments"] == ["referral.eml"] and not state["encrypt"] and not state["sign"]
    tb.send_composer()
    tb.quit()
    [arrived] = world.smtp.received
    wrapper = email.message_from_bytes(arrived.data, policy=email.policy.default)
    assert wrapper.get_content_type() == "multipart/mixed"  # neither application/pkcs7-mime nor multipart/signed
    assert b"Mustermann" in arrived.data  # the cover note: in clear
    assert all(b"Mustermann" in copy for copy in world.sent_copies())
    [attached] = [p for p in wrapper.walk() if p.get_filename() == "referral.eml"]
    assert attached.get_content_type() == "message/rfc822"  # the recipient must open it separately
    ciphertext = message.read_bytes().split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n")
    assert ciphertext in arrived.data  # our own message inside is intact


def test_a_hand_off_killed_half_way_is_never_sent(tb_world: TbWorld) -> None:
    """kill -9 while the message is being copied leaves a fragment marked deleted; the real
    Thunderbird ignores it and sends only the next, complete hand-off."""
    import signal

    from smimehelper.core.handoff.profiles import Profile as CoreProfile, ProfileRoot
    from tests.core.handoff.test_queue import _child

    world = tb_world
    profile = world.profile("no-key")
    big = world.compose(world.tmp / "big.eml", body=BODY_MARKER, attach=_attachment(world.tmp))
    child = _child(CoreProfile(path=profile.path, name="p", root=ProfileRoot("linux", profile.home, True)), big, "slow")
    assert child.stdout is not None
    for _ in range(300):
        assert child.stdout.readline().startswith("copying")
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    assert b"X-Mozilla-Status: 0808" in (profile.local_folders / "Unsent Messages").read_bytes()

    message = world.compose(world.tmp / "referral.eml", body=BODY_MARKER)
    done = world.export(message, profile)
    assert done.returncode == 0, done.stderr
    tb = world.attach(profile)
    assert tb.wait_unsent(1) == 1
    assert tb.send_unsent_messages()["successful"] == 1
    tb.quit()
    judge(world, message.read_bytes(), None)

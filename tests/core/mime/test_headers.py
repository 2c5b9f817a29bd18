from __future__ import annotations

import email
import email.policy

import pytest

from smimehelper.core.errors import AddressError
from smimehelper.core.mime.headers import (
    content_disposition_field,
    content_type_field,
    fold,
    parse_address,
    sanitize_filename,
)


def _parse(headers: bytes):
    return email.message_from_bytes(headers + b"\r\nbody", policy=email.policy.default)


@pytest.mark.parametrize("name", ["plain.dcm", "Zahn 36 – Müller.dcm", "写真" * 40 + ".jpg", 'a"b.pdf'])
def test_attachment_name_parameters_decode_to_the_name(name: str) -> None:
    raw = content_type_field("image/jpeg", name=name) + content_disposition_field("attachment", name)
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    message = _parse(raw)
    assert message.get_filename() == name
    assert message.get_param("name") == name


def test_fold_encodes_non_ascii_and_keeps_lines_short() -> None:
    subject = " ".join(["Röntgen"] * 40)
    raw = fold("Subject", subject)
    assert raw.isascii()
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert _parse(raw)["Subject"] == subject


@pytest.mark.parametrize("text", ["bob@example.org", "Dr Bob <bob@example.org>", '"Müller, B." <b@ex-ample.org>'])
def test_valid_addresses(text: str) -> None:
    assert "@" in parse_address(text).addr_spec


@pytest.mark.parametrize("text", ["", "bob", "bob@", "@example.org", "a@b", "bob@example.org, eve@example.org", "bob@exa mple.org", "<bob@example.org", "bob@example.org>"])
def test_invalid_addresses_are_refused_with_the_text(text: str) -> None:
    with pytest.raises(AddressError) as info:
        parse_address(text)
    assert "not a valid e-mail address" in str(info.value)


def test_sanitize_filename() -> None:
    assert sanitize_filename("../../etc/passwd") == ".._.._etc_passwd"
    assert sanitize_filename("a\x00b\nc") == "abc"
    assert sanitize_filename("   ") == "attachment"

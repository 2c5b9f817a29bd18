"""IMAP reply data as imaplib hands it over (replies recorded from Dovecot 2.3 and from RFC 3501's
examples): FETCH items, literals, BODYSTRUCTURE, INTERNALDATE, folder names; hostile data is a
clear error, never a crash."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smimehelper.core.transport.imap_syntax import (
    ENCRYPTED,
    SIGNED,
    UNKNOWN,
    ImapSyntaxError,
    classify,
    classify_bodystructure,
    classify_headers,
    decode_folder,
    encode_folder,
    fetch_items,
    internaldate,
    parse,
    parse_headers,
    quote,
)

# What Dovecot 2.3 answered (tests/transport: "UID FETCH 1:* (UID RFC822.SIZE INTERNALDATE FLAGS BODYSTRUCTURE)").
DOVECOT_FETCH = [
    b'1 (UID 1 RFC822.SIZE 300000085 INTERNALDATE "02-Dec-2026 04:28:24 +0000" FLAGS (\\Recent) BODYSTRUCTURE '
    b'("application" "pkcs7-mime" ("smime-type" "enveloped-data" "name" "smime.p7m") NIL NIL "base64" 299999934 NIL NIL NIL NIL))',
    b'2 (UID 2 RFC822.SIZE 62 INTERNALDATE " 2-Dec-2026 04:28:24 -0130" FLAGS (\\Seen \\Recent) BODYSTRUCTURE '
    b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 7 1 NIL NIL NIL NIL))',
]


def test_fetch_items_of_a_real_reply() -> None:
    first, second = fetch_items(DOVECOT_FETCH)
    assert first["UID"] == b"1" and first["RFC822.SIZE"] == b"300000085"
    assert classify_bodystructure(first["BODYSTRUCTURE"]) == ENCRYPTED
    assert classify_bodystructure(second["BODYSTRUCTURE"]) is None
    assert second["FLAGS"] == [b"\\Seen", b"\\Recent"]
    assert internaldate(first["INTERNALDATE"]) == dt.datetime(2026, 12, 2, 4, 28, 24, tzinfo=dt.timezone.utc)
    assert internaldate(second["INTERNALDATE"]) == dt.datetime(
        2026, 12, 2, 4, 28, 24, tzinfo=dt.timezone(-dt.timedelta(hours=1, minutes=30)))


def test_literals_are_kept_whole_and_sections_with_spaces_are_one_name() -> None:
    body = b'a ) ( "quoted" {5}\r\n NIL \\ \x00 binary'
    data = [(b"7 (UID 12 BODY[]<4194304> {%d}" % len(body), body), b" FLAGS (\\Seen))",
            (b"8 (UID 13 BODY[HEADER.FIELDS (FROM SUBJECT)]<0> {3}", b"abc"), b")"]
    first, second = fetch_items(data)
    assert first == {"UID": b"12", "BODY[]<4194304>": body, "FLAGS": [b"\\Seen"]}
    assert second["BODY[HEADER.FIELDS (FROM SUBJECT)]<0>"] == b"abc"


def test_quoted_strings_and_nil() -> None:
    assert parse([b'("a \\"b\\" \\\\c" NIL nil ())']) == [[b'a "b" \\c', None, None, []]]


@pytest.mark.parametrize("data", [
    [b"1 (UID 1"], [b"1 UID 1)"], [b'1 (UID "open)'], [b"1 (UID)"], [b"(("], [(b"1 (UID 1 BODY[] no-size", b"x")],
    [b"1 (" + b"(" * 100 + b")" * 100 + b")"],
])
def test_malformed_replies_are_a_clear_error(data: list) -> None:
    with pytest.raises(ImapSyntaxError, match="cannot read"):
        fetch_items(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=60), st.tuples(st.binary(max_size=20).map(lambda b: b + b" {3}"), st.binary(min_size=3, max_size=3))), max_size=6))
def test_any_bytes_parse_or_fail_cleanly(data: list) -> None:
    try:
        fetch_items(data)
    except ImapSyntaxError:
        pass


MULTIPART_SIGNED = [b'1 (UID 3 BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 10 1 NIL NIL NIL NIL)'
                    b'("application" "pkcs7-signature" ("name" "smime.p7s") NIL NIL "base64" 2000 NIL ("attachment" ("filename" "smime.p7s")) NIL NIL)'
                    b' "signed" ("protocol" "application/pkcs7-signature" "micalg" "sha-256" "boundary" "b1") NIL NIL NIL))']
PGP_SIGNED = [b'1 (UID 4 BODYSTRUCTURE (("text" "plain" NIL NIL NIL "7bit" 10 1 NIL NIL NIL NIL)'
              b'("application" "pgp-signature" NIL NIL NIL "7bit" 300 NIL NIL NIL NIL) "signed" ("protocol" "application/pgp-signature" "boundary" "b2") NIL NIL NIL))']
GATEWAY_P7M = [b'1 (UID 5 BODYSTRUCTURE ("application" "octet-stream" NIL NIL NIL "base64" 5000 NIL ("attachment" ("filename" "SMIME.P7M")) NIL NIL))']


def test_bodystructure_kinds() -> None:
    assert classify_bodystructure(fetch_items(MULTIPART_SIGNED)[0]["BODYSTRUCTURE"]) == SIGNED
    assert classify_bodystructure(fetch_items(PGP_SIGNED)[0]["BODYSTRUCTURE"]) is None
    assert classify_bodystructure(fetch_items(GATEWAY_P7M)[0]["BODYSTRUCTURE"]) == UNKNOWN
    assert classify_bodystructure(None) is None and classify_bodystructure([]) is None


@pytest.mark.parametrize("header,kind", [
    (b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m', ENCRYPTED),
    (b'Content-Type: application/pkcs7-mime; smime-type=authEnveloped-data', ENCRYPTED),
    (b'Content-Type: application/x-pkcs7-mime; smime-type="signed-data"', SIGNED),
    (b'Content-Type: application/pkcs7-mime; smime-type=certs-only', None),
    (b'Content-Type: application/pkcs7-mime', UNKNOWN),
    (b'Content-Type: multipart/signed; protocol="application/x-pkcs7-signature"; boundary=x', SIGNED),
    (b'Content-Type: multipart/signed; protocol="application/pgp-signature"; boundary=x', None),
    (b'Content-Type: text/plain; name="multipart/signed smime.p7m"', None),
    (b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=smime.p7m', UNKNOWN),
    (b'Subject: no content type', None),
])
def test_header_kinds(header: bytes, kind: str | None) -> None:
    assert classify_headers(parse_headers(header + b"\r\n\r\n")) == kind


def test_classify_is_case_insensitive() -> None:
    assert classify("Application/PKCS7-MIME", {"smime-type": "Enveloped-Data"}) == ENCRYPTED


@pytest.mark.parametrize("text,wire", [
    ("INBOX", "INBOX"), ("Entwürfe", "Entw&APw-rfe"), ("A&B", "A&-B"), ("日本語", "&ZeVnLIqe-"),
    ("Überweisungen/Röntgen", "&ANw-berweisungen/R&APY-ntgen"),
])
def test_folder_names_modified_utf7(text: str, wire: str) -> None:
    assert encode_folder(text) == wire
    assert decode_folder(wire.encode()) == text


def test_broken_folder_encoding_and_line_breaks() -> None:
    with pytest.raises(ImapSyntaxError):
        decode_folder(b"Entw&APw")
    with pytest.raises(Exception, match="line breaks"):
        quote("INBOX\r\nA1 DELETE INBOX")
    assert quote('a"b\\c') == '"a\\"b\\\\c"'
    assert internaldate(b"32-Foo-2026 00:00:00 +0000") is None and internaldate(None) is None

"""Just enough BER to stream.

A streamed EnvelopedData cannot know its length before the last byte is encrypted, so the
containers around the encrypted content use indefinite lengths (as ``openssl cms -stream`` and
Thunderbird/NSS write them); everything of known size stays DER.
"""

from __future__ import annotations

END_OF_CONTENTS = b"\x00\x00"

TAG_SEQUENCE = 0x30
TAG_OCTET_STRING = 0x04
TAG_CONTEXT_0_CONSTRUCTED = 0xA0


def der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def indefinite(tag: int) -> bytes:
    """Header of a constructed value whose end is marked by END_OF_CONTENTS."""
    return bytes([tag, 0x80])


def octet_string_header(length: int) -> bytes:
    """Tag and length of one primitive OCTET STRING segment of a chunked OCTET STRING."""
    return bytes([TAG_OCTET_STRING]) + der_length(length)


def octet_string(data: bytes) -> bytes:
    return octet_string_header(len(data)) + data

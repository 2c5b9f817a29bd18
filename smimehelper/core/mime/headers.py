"""Header fields: folding, encoded words, and parameters that Outlook, Thunderbird and Apple Mail agree on.

Message headers (From, To, Subject, ...) are folded by the standard library's SMTP policy, which
implements RFC 5322 folding and RFC 2047 encoded words. Attachment names need both RFC 2231
(``filename*=``, the standard) and an RFC 2047 ``name=`` (what Outlook shows), so those
parameters are written here.

No control character ever reaches a header: a CR or LF in a subject or a name would start a
new header ("Bcc: ...") or end the header block, and the mail server would obey it. Text from
the user is checked with :func:`refuse_control_characters` before anything is written, and
:func:`fold` refuses such text again as the last line of defence.
"""

from __future__ import annotations

import email.policy
import re
import secrets
import urllib.parse
from email.headerregistry import Address
from email.utils import getaddresses

from ..errors import AddressError, ComposeError

_POLICY = email.policy.SMTP.clone(max_line_length=78)
_TOKEN_SAFE = re.compile(r"^[A-Za-z0-9!#$&+\-.^_`|~]+$")
_ADDR = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+$")


# C0 controls (TAB included: it is folding white space), DEL, C1 controls (NEL among them) and
# the Unicode line and paragraph separators: each ends a line for some mail program or parser.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_NAMES = {"\r": "a line break (CR)", "\n": "a line break (LF)", "\t": "a tab",
                  "\x00": "a NUL character", "\x85": "a line break (NEL)",
                  "\u2028": "a line separator (U+2028)", "\u2029": "a paragraph separator (U+2029)"}


class HeaderTextError(ComposeError):
    """Text meant for a header line contains a character that would break the header."""


def control_character(text: str) -> str | None:
    """The first control character of ``text`` in words ("a line break (LF)"), or None."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    char = found.group()
    return _CONTROL_NAMES.get(char, f"the control character U+{ord(char):04X}")


def refuse_control_characters(text: str, what: str) -> str:
    """``text`` unchanged, or :class:`HeaderTextError` when it holds a control character.

    ``what`` says which field it is ("The subject"). Refusing beats cleaning: a user who
    pasted two lines into the subject learns it, and an attacker's text never gets through in
    another form.
    """
    problem = control_character(text)
    if problem is not None:
        raise HeaderTextError(
            f"{what} contains {problem}. It travels as one header line of the message, where "
            "a line break or control character could add or hide recipients; write it on one "
            "line without special characters and try again."
        )
    return text


def fold(name: str, value: str) -> bytes:
    """One header field, folded to 78 columns with CRLF, encoded words where needed.

    The standard library reads the value as header *source*: text that looks like an encoded
    word ("=?utf-8?q?...?=") would be decoded, and could decode to a line break. Such text is
    therefore written as encoded words of its own, so it arrives exactly as typed.
    """
    refuse_control_characters(value, f"The {name} header")
    if "=?" in value:
        folded = f"{name}: {_encoded_words(value)}\r\n".encode("ascii")
    else:
        folded = _POLICY.header_factory(name, value).fold(policy=_POLICY).encode("ascii")
    _check_folded(folded.replace(b"\r\n  ", b"\r\n "))
    return folded


def _check_folded(field: bytes) -> None:
    """A folded field is lines of printable ASCII; every CRLF but the last is followed by WSP."""
    body = field[:-2] if field.endswith(b"\r\n") else field
    if re.search(rb"[\x00-\x08\x0a-\x1f\x7f-\xff]", body.replace(b"\r\n ", b"").replace(b"\r\n\t", b"")):
        raise HeaderTextError("A header line could not be written safely; nothing was written.")


def parse_address(text: str) -> Address:
    """Parse "Dr Bob <bob@example.org>" or "bob@example.org"; raise AddressError if it is not one.

    A line break or another control character anywhere (the name included) is refused: it is
    the way to smuggle a second header or recipient into a message.
    """
    problem = control_character(text)
    if problem is not None:
        shown = _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        raise AddressError(
            f'The address "{shown}" contains {problem}. Write the name and address on one line, '
            'like "Dr Bob <bob@example.org>".'
        )
    if "=?" in text:
        raise AddressError(
            f'The address "{text}" contains "=?", which mail programs would read as encoded text '
            '(and which could hide another address). Write the name in plain letters.'
        )
    pairs = getaddresses([text])
    stated = text.strip()
    if stated.count("<") != stated.count(">") or ("<" in stated and not stated.endswith(">")):
        stated = ""  # unbalanced angle brackets: refuse rather than guess
    elif "<" in stated:
        stated = stated[stated.rfind("<") + 1 :].rstrip(">").strip()
    # The address must stand in the text as parsed: the parser's lenient repairs (joining
    # "bob@exa mple.org" into "bob@example.org") would send to an address nobody typed.
    if len(pairs) != 1 or not pairs[0][1] or pairs[0][1] != stated or not _ADDR.match(pairs[0][1]):
        raise AddressError(
            f'"{text}" is not a valid e-mail address. Write it like bob@example.org '
            'or "Dr Bob <bob@example.org>".'
        )
    display, addr = pairs[0]
    local, _, domain = addr.rpartition("@")
    try:
        return Address(display_name=display, username=local, domain=domain.lower())
    except ValueError:  # the standard library's own refusal (CR/LF in a part)
        raise AddressError(
            f'"{text}" is not a valid e-mail address. Write it like bob@example.org '
            'or "Dr Bob <bob@example.org>".'
        ) from None


def address_header(addresses: list[Address]) -> str:
    return ", ".join(str(a) for a in addresses)


def new_boundary() -> str:
    """A boundary that cannot occur in base64 or quoted-printable text ("=_" never does)."""
    return f"=_smimehelper_{secrets.token_hex(16)}"


def message_id(domain: str) -> str:
    return f"<{secrets.token_hex(16)}@{domain}>"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _encoded_words(text: str, max_word: int = 60) -> str:
    """RFC 2047 B-encoded words (at most 75 characters each, here ``max_word``), one per folded line.

    Splitting is on character boundaries so no word holds half a UTF-8 sequence.
    """
    words: list[str] = []
    current = ""
    for char in text:
        candidate = current + char
        if len(_b_word(candidate)) > max_word and current:
            words.append(_b_word(current))
            current = char
        else:
            current = candidate
    if current:
        words.append(_b_word(current))
    return "\r\n  ".join(words)


def _b_word(text: str) -> str:
    import base64

    return "=?utf-8?B?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def _rfc2231_params(param: str, value: str) -> list[str]:
    """``param*=utf-8''...`` split into ``param*0*=``... continuations when long (RFC 2231 3-4)."""
    encoded = urllib.parse.quote(value.encode("utf-8"), safe="!#$&+-.^_`|~")
    limit = 50  # with "\tfilename*12*=" and ";" each line stays within 78 columns
    if len(encoded) <= limit:
        return [f"{param}*=utf-8''{encoded}"]
    pieces: list[str] = []
    start = 0
    while start < len(encoded):
        end = min(start + limit, len(encoded))
        # never split a %XX escape
        pct = encoded.rfind("%", max(start, end - 2), end)
        if pct != -1 and end < len(encoded):
            end = pct
        pieces.append(encoded[start:end])
        start = end
    params = [f"{param}*0*=utf-8''{pieces[0]}"]
    params += [f"{param}*{i}*={piece}" for i, piece in enumerate(pieces[1:], start=1)]
    return params


def _join_params(value: str, params: list[str]) -> bytes:
    """Header value with one parameter per folded line (always below 78 columns, easy to read)."""
    field = (";\r\n\t".join([value, *params]) + "\r\n").encode("ascii")
    _check_folded(field.replace(b"\r\n  ", b"\r\n "))
    return field


def _is_plain(filename: str) -> bool:
    return filename.isascii() and all(32 <= ord(c) < 127 for c in filename) and len(filename) <= 60


def content_type_field(content_type: str, *, name: str | None = None, extra: dict[str, str] | None = None) -> bytes:
    params = [f"{k}={v if _TOKEN_SAFE.match(v) else _quote(v)}" for k, v in (extra or {}).items()]
    if name is not None:
        params.append(f"name={_quote(name) if _is_plain(name) else _quote(_encoded_words(name))}")
    return _join_params(f"Content-Type: {content_type}", params)


def content_disposition_field(disposition: str, filename: str) -> bytes:
    if _is_plain(filename):
        params = [f"filename={_quote(filename)}"]
    else:
        # Only the RFC 2231 form, as Thunderbird writes it: parsers that see a plain filename=
        # beside it may prefer the plain (mangled) one.
        params = _rfc2231_params("filename", filename)
    return _join_params(f"Content-Disposition: {disposition}", params)


def sanitize_filename(filename: str) -> str:
    """The name to announce: no path separators (a receiver could read them as folders), no
    control characters, never empty. Separators become "_" so the whole name stays recognisable."""
    name = filename.replace("\\", "_").replace("/", "_")
    name = "".join(c for c in name if c.isprintable())  # CR, LF, NUL, U+2028, Bidi ... dropped
    return name.strip() or "attachment"

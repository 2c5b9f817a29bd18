#!/usr/bin/env python3
"""Fuzz ``smimehelper.core.reader.open_message`` with mutated real S/MIME messages.

Seed messages are made at start-up in a temporary directory, from a throw-away test PKI: four by
smimehelper's own compose (signed + encrypted with RSA, with EC, with AES-GCM + RSA-OAEP, and
signed only) and four by ``openssl cms`` (detached and opaque signatures, and encryption to an
RSA and an EC recipient). Hypothesis draws a seed and a short list of mutations (bytes flipped,
inserted, deleted, duplicated or repeated; truncation; changes inside base64 blocks and inside
the DER they decode to; header, Content-Type parameter, boundary and line-ending changes), either
on the message as a whole ("outer") or on the plaintext inside the encryption, which is then
encrypted again ("inner"), so that the parsers behind the decryption are reached too.

Every mutated message is opened with the right identity, the test root as trust anchor and a
temporary save folder. The contract checked:

* any exception is a ``smimehelper.core.errors.SmimeHelperError`` (anything else is a crash);
* one input takes less than ``--budget`` seconds (default 5), and never hangs (``--hang-timeout``);
* saved attachments stay inside the save folder and the reader leaves no temporary files behind;
* a message reported as all good (decrypted, every signature valid and trusted) carries exactly
  the seed's attachments and body text (anything else would be a forgery accepted).

Each distinct finding (exception type and innermost smimehelper frame) is shrunk by Hypothesis to a
minimal mutation list, printed, and saved under ``tests/fuzz/crashes/`` with the identity and root
needed to replay it (``--replay DIR``). The search then continues for findings not yet seen until
``--examples`` inputs were tried.

Not part of the test suite (the file name does not match pytest's patterns). Run from the
repository root:

    python tests/fuzz/fuzz_reader.py --examples 2000
    python tests/fuzz/fuzz_reader.py --replay tests/fuzz/crashes/<finding>

See tests/fuzz/README.md.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hypothesis import HealthCheck, Phase, Verbosity, given, seed as hypothesis_seed, settings  # noqa: E402

try:
    BaseExceptionGroup
except NameError:  # Python 3.10: the backport Hypothesis depends on
    from exceptiongroup import BaseExceptionGroup  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from smimehelper.core.certs import load_certificate  # noqa: E402
from smimehelper.core.cms.enveloped import ContentCipher, EnvelopeEncoder  # noqa: E402
from smimehelper.core.cms.recipients import Recipient  # noqa: E402
from smimehelper.core.compose import ComposeRequest, compose_to_file  # noqa: E402
from smimehelper.core.errors import SmimeHelperError  # noqa: E402
from smimehelper.core.identity import Identity, load_pkcs12  # noqa: E402
from smimehelper.core.mime.writer import prepare_attachment  # noqa: E402
from smimehelper.core.reader import OpenedMessage, open_message  # noqa: E402
from tests.pki.make_pki import P12_PASSWORD, REFERENCE_NOW, build_pki  # noqa: E402

NOW = REFERENCE_NOW + dt.timedelta(minutes=1)
DEFAULT_CRASH_DIR = Path(__file__).resolve().parent / "crashes"
MAX_DOC = 8 * 1024 * 1024  # mutations never grow a message beyond this
PACKAGE_DIR = str(Path(__import__("smimehelper").__file__).resolve().parent)


# =================================================================================== seeds

@dataclasses.dataclass(frozen=True)
class Seed:
    name: str
    data: bytes  # the message as made
    identity: str  # PKI stem of the identity that opens it
    # Encrypted seeds: the decrypted content and how to encrypt a mutated one again.
    plaintext: bytes | None = None
    outer_headers: bytes = b""
    recipients: tuple[str, ...] = ()
    cipher: ContentCipher | None = None


class Seeds:
    """The PKI, the identities and the seed messages of one fuzzing session."""

    def __init__(self, work: Path, log) -> None:
        self.work = work
        self.pki = build_pki(work / "pki")
        self.identities: dict[str, Identity] = {
            name: load_pkcs12(self.pki.entity(name).p12, P12_PASSWORD.encode())
            for name in ("alice", "bob", "carol", "frank")
        }
        self.root = load_certificate(self.pki.root.cert_pem)
        self.items: list[Seed] = []
        self._files()
        self._ours()
        self._openssl()
        log(f"seeds: {', '.join(f'{s.name} ({len(s.data)} B)' for s in self.items)}")

    # -- inputs -----------------------------------------------------------------------
    def _files(self) -> None:
        xray = bytearray(os.urandom(1800))
        xray[128:132] = b"DICM"
        self.xray = self.work / "Röntgen 2026-05.dcm"
        self.xray.write_bytes(bytes(xray))
        self.pdf = self.work / "Befund.pdf"
        self.pdf.write_bytes(b"%PDF-1.4\n" + os.urandom(700) + b"\n%%EOF\n")
        self.body = "Sehr geehrte Kollegin,\n\nanbei die Aufnahme von Frau Müller.\n\nGrüße\nAlice\n"

    def _compose(self, name: str, sender: str, to: str, identity: str, **options: Any) -> None:
        out = self.work / f"{name}.eml"
        request = ComposeRequest(
            sender=f"Sender <{self.pki.entity(sender).email}>",
            to=(f"Recipient <{self.pki.entity(to).email}>",),
            subject="Überweisung: Röntgenbild",
            body=self.body,
            identity=self.identities[sender],
            attachments=(prepare_attachment(self.xray), prepare_attachment(self.pdf)),
            recipient_certs=(self.pki.entity(to).cert,),
            now=REFERENCE_NOW,
            **options,
        )
        compose_to_file(request, out)
        data = out.read_bytes()
        encrypted = options.get("encrypt", True)
        recipients = (sender, to) if encrypted else ()
        cipher = (ContentCipher.AES256_GCM if options.get("gcm") else ContentCipher.AES256_CBC) if encrypted else None
        self._add(name, data, identity, recipients, cipher)

    def _ours(self) -> None:
        self._compose("ours-rsa-cbc", "alice", "bob", "bob")
        self._compose("ours-ec", "frank", "carol", "carol")
        self._compose("ours-gcm-oaep", "alice", "bob", "bob", gcm=True, oaep=True)
        self._compose("ours-signed", "alice", "bob", "bob", encrypt=False)

    def _openssl(self) -> None:
        pki = self.pki
        boundary = "----=_Part_0_fuzz.1717243200"
        content = (
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            "Sehr geehrte Kollegin,=0A=0Aanbei der Befund.=0AGr=C3=BC=C3=9Fe\r\n"
            f"--{boundary}\r\n"
            'Content-Type: application/pdf; name="Befund.pdf"\r\n'
            "Content-Transfer-Encoding: base64\r\n"
            'Content-Disposition: attachment; filename="Befund.pdf"\r\n\r\n'
        ).encode() + base64.encodebytes(self.pdf.read_bytes()).replace(b"\n", b"\r\n") + (
            f"--{boundary}--\r\n".encode()
        )
        part = self.work / "ossl-content.mime"
        part.write_bytes(content)
        alice = ["-signer", str(pki.entity("alice").cert_pem), "-inkey", str(pki.entity("alice").key_path),
                 "-certfile", str(pki.inter.cert_pem), "-md", "sha256"]
        headers = ["-from", "Alice <alice@example.org>", "-to", "bob@example.org", "-subject", "Befund"]

        def openssl(*args: str) -> bytes:
            done = subprocess.run(["openssl", "cms", *args], capture_output=True)
            if done.returncode != 0:
                raise SystemExit(f"openssl cms {' '.join(args[:2])} failed:\n{done.stderr.decode(errors='replace')}")
            return done.stdout

        detached = openssl("-sign", "-in", str(part), *alice, *headers)
        self._add("ossl-signed-detached", detached, "bob", (), None)
        opaque = openssl("-sign", "-nodetach", "-in", str(part), *alice, *headers)
        self._add("ossl-signed-opaque", opaque, "bob", (), None)
        inner = self.work / "ossl-inner.mime"
        inner.write_bytes(openssl("-sign", "-in", str(part), *alice))
        for name, cipher, recipient in (("ossl-enc-rsa", "-aes256", "bob"), ("ossl-enc-ec", "-aes128", "carol")):
            data = openssl("-encrypt", "-binary", cipher, "-in", str(inner), *headers,
                           str(pki.entity(recipient).cert_pem))
            self._add(name, data, recipient, (recipient,), ContentCipher.AES256_CBC)

    def _add(self, name: str, data: bytes, identity: str, recipients: tuple[str, ...],
             cipher: ContentCipher | None) -> None:
        plaintext = None
        outer = b""
        if cipher is not None:
            entity = self.pki.entity(identity)
            source = self.work / f"{name}.eml"
            source.write_bytes(data)
            done = subprocess.run(
                ["openssl", "cms", "-decrypt", "-binary", "-in", str(source),
                 "-recip", str(entity.cert_pem), "-inkey", str(entity.key_path)],
                capture_output=True,
            )
            if done.returncode != 0:
                raise SystemExit(f"cannot decrypt seed {name} with openssl:\n{done.stderr.decode(errors='replace')}")
            plaintext = done.stdout
            end, width = _header_end(data)
            outer = data[: end + width]
        self.items.append(Seed(name, data, identity, plaintext, outer, recipients, cipher))

    # -- re-encryption ------------------------------------------------------------------
    def envelope(self, seed: Seed, plaintext: bytes) -> bytes:
        """``plaintext`` encrypted to the seed's recipients, under the seed's outer headers."""
        assert seed.cipher is not None
        recipients = [Recipient(self.pki.entity(r).cert) for r in seed.recipients]
        encoder = EnvelopeEncoder(recipients, seed.cipher)
        der = b"".join([encoder.start(), *encoder.update(plaintext), encoder.finish()])
        headers = seed.outer_headers
        if seed.cipher is ContentCipher.AES256_GCM:
            headers = headers.replace(b"enveloped-data", b"authEnveloped-data")
        eol = b"\r\n" if b"\r\n" in headers else b"\n"
        return headers + base64.encodebytes(der).replace(b"\n", eol)


# =================================================================================== mutations

OFFSET = st.integers(0, 1 << 20)
REGION = st.sampled_from(["any", "header", "body"])
TOKENS = [b"\r\n", b"\n", b"\r", b"\r\n\r\n", b"--", b"=", b"==", b":", b";", b'"', b"\x00", b"\xff",
          b" ", b"\t", b"=\r\n", b"=?utf-8?b?", b"\r\n--", b"\x30\x80", b"\x00\x00", b"\x80", b"MIME-Version: 1.0\r\n"]
B64_CHARS = [b"A", b"/", b"+", b"=", b"-", b"_", b"!", b" ", b"\t", b"\x00", b"\r\n", b"\n", b"\xc3\xa4"]
PARAM_NAMES = ["boundary", "charset", "smime-type", "name", "protocol", "micalg", "filename", "format"]
PARAM_VALUES = [
    '""', '"x"', "x", '"', '"unterminated', 'x"y', "=?utf-8?b?w7w=?=", "=?utf-8?q?=FF?=", '"' + "a" * 100 + '"',
    "a" * 5000, '"a b"', '"\x00"', "ü", "*", "'", "utf-8''%FF%FE", "-- ", '"--"', "", '"\\"', "a;b",
    "idna", "utf-7", "utf-16", "punycode", "base64", "rot13", "x-unknown", "utf-8-sig", "cp1252", "uu",
    "enveloped-data", "authEnveloped-data", "signed-data", "certs-only", "compressed-data",
    "application/pkcs7-signature", "application/x-pkcs7-signature", "sha-256", "sha1", "md5", "unknown",
    "../../evil.sh", "CON", ".", "..", "a/b\\c", "%2e%2e%2f", "\u202eexe.pdf", "x" * 300 + ".pdf",
]
MEDIA_TYPES = [
    "multipart/mixed", "multipart/signed", "multipart/alternative", "multipart/related", "multipart/",
    "multipart", "application/pkcs7-mime", "application/x-pkcs7-mime", "application/pkcs7-signature",
    "application/octet-stream", "text/plain", "text/html", "message/rfc822", "message/partial", "",
    "garbage", "text/plain; charset=idna", "TEXT/PLAIN", "multipart/signed; boundary=",
]
CTE_VALUES = ["base64", "quoted-printable", "7bit", "8bit", "binary", "x-uuencode", "", "BASE64",
              "base64 garbage", "=?utf-8?q?base64?=", "quoted-printable; x"]
HEADER_VALUES = [
    "", " ", "=?utf-8?q?=FF?=", "=?unknown?b?AAAA?=", "=?utf-8?b?!!!?=", "<>", '"', "a@", "@b", ":;,",
    "(comment", '"unterminated', "Group:;", "Undisclosed recipients:;", "x" * 2000, "=?utf-8?q?" + "a" * 100 + "?=",
    "\x00\x01", "\xff", "Mon, 32 Foo 2026 99:99:99 +9999", "Thu, 01 Jan 1970 00:00:00 -0000",
    "=?iso-2022-jp?b?GyRC?=", "attachment; filename*=utf-8''%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    'attachment; filename="../../x"', "attachment; filename=CON", 'attachment; filename=""', "inline",
    "attachment; filename*0*=utf-8''a; filename*1=b", "attachment; filename*=x-unknown''%FF",
    "Mallory <mallory@example.org>", "bob@example.org", "a@b, c@d, , ,", "=?utf-8?Q?a?= <@>",
]
HEADER_NAMES = ["Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "From", "To", "Date",
                "Subject", "X-\xff", "", "Content-Type ", "MIME-Version"]
LENGTH_FORMS = ["0", "1", "+1", "-1", "7f", "80", "81ff", "84-huge", "88-huge", "89", "nonminimal", "85"]

MUTATION = st.one_of(
    st.tuples(st.just("flip"), REGION, OFFSET, st.integers(1, 255)),
    st.tuples(st.just("insert"), REGION, OFFSET, st.one_of(st.sampled_from(TOKENS), st.binary(min_size=1, max_size=16))),
    st.tuples(st.just("delete"), REGION, OFFSET, st.integers(1, 256)),
    st.tuples(st.just("truncate"), OFFSET),
    st.tuples(st.just("duplicate"), OFFSET, st.integers(1, 4096), OFFSET),
    st.tuples(st.just("repeat"), OFFSET, st.integers(1, 200), st.integers(2, 40000)),
    st.tuples(st.just("b64"), st.integers(0, 20), st.sampled_from(["set", "insert", "delete", "pad"]), OFFSET,
              st.sampled_from(B64_CHARS)),
    st.tuples(st.just("der"), st.integers(0, 20), st.sampled_from(["len", "tag", "drop", "dup", "trunc", "flip", "insert"]),
              st.integers(0, 1 << 12), st.integers(0, 255)),
    st.tuples(st.just("header"), st.integers(0, 200), st.sampled_from(["value", "drop", "dup", "fold", "name"]),
              st.sampled_from(HEADER_VALUES), st.sampled_from(HEADER_NAMES)),
    st.tuples(st.just("ctype"), st.integers(0, 20), st.sampled_from(["type", "param", "drop_param", "rfc2231", "dup_param"]),
              st.sampled_from(PARAM_NAMES), st.sampled_from(PARAM_VALUES), st.sampled_from(MEDIA_TYPES)),
    st.tuples(st.just("cte"), st.integers(0, 20), st.sampled_from(CTE_VALUES)),
    st.tuples(st.just("boundary"), st.integers(0, 50), st.sampled_from(
        ["drop", "close", "unclose", "longer", "shorter", "ws", "dup", "param", "nocrlf"])),
    st.tuples(st.just("eol"), st.sampled_from(["crlf_to_lf", "lf_to_crlf", "crlf_to_cr", "lf_to_crcrlf"]), OFFSET,
              st.integers(1, 1 << 24)),
)


def _header_end(doc: bytes) -> tuple[int, int]:
    """(position, width) of the blank line ending the top-level header block."""
    candidates = [(p, 4) for p in (doc.find(b"\r\n\r\n"),) if p >= 0] + [(p, 2) for p in (doc.find(b"\n\n"),) if p >= 0]
    return min(candidates) if candidates else (len(doc), 0)


def _span(doc: bytes, region: str) -> tuple[int, int]:
    end, width = _header_end(doc)
    if region == "header":
        return 0, end
    if region == "body":
        return min(end + width, len(doc)), len(doc)
    return 0, len(doc)


def _pick(lo: int, hi: int, offset: int) -> int:
    return lo + offset % (hi - lo) if hi > lo else lo


_HEADER_LINE = re.compile(rb"(?m)^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*")
_B64_BLOCK = re.compile(rb"(?m)(?:^[A-Za-z0-9+/]{4,}={0,2}\r?\n)+")
_BOUNDARY = re.compile(rb'(?i)boundary\s*=\s*"?([^";\r\n]+)"?')


def _headers(doc: bytes, only: bytes | None = None) -> list[re.Match[bytes]]:
    found = list(_HEADER_LINE.finditer(doc))
    if only is not None:
        found = [m for m in found if m.group(1).lower() == only]
    return found


def _b64_blocks(doc: bytes) -> list[re.Match[bytes]]:
    return [m for m in _B64_BLOCK.finditer(doc) if m.end() - m.start() >= 64]


def der_nodes(data: bytes, limit: int = 4000) -> list[tuple[int, int, int | None]]:
    """(offset, header length, content length or None) of BER elements, outermost first.

    Tolerant: stops where the structure stops making sense. Primitive values are not entered
    (DER inside OCTET STRINGs stays opaque).
    """
    nodes: list[tuple[int, int, int | None]] = []

    def header(pos: int) -> tuple[int, int | None, bool] | None:
        if pos + 2 > len(data):
            return None
        first = data[pos]
        p = pos + 1
        if first & 0x1F == 0x1F:
            while p < len(data) and data[p] & 0x80:
                p += 1
            p += 1
        if p >= len(data):
            return None
        lb = data[p]
        p += 1
        if lb == 0x80:
            return p - pos, None, bool(first & 0x20)
        if lb & 0x80:
            count = lb & 0x7F
            if count > 4 or p + count > len(data):
                return None
            length = int.from_bytes(data[p:p + count], "big")
            p += count
        else:
            length = lb
        return p - pos, length, bool(first & 0x20)

    def walk(pos: int, end: int | None, depth: int) -> int | None:
        while len(nodes) < limit and depth < 40:
            if end is not None and pos >= end:
                return pos
            if end is None and data[pos:pos + 2] == b"\x00\x00":
                return pos + 2
            parsed = header(pos)
            if parsed is None:
                return None
            hl, length, constructed = parsed
            nodes.append((pos, hl, length))
            start = pos + hl
            if length is None:
                after = walk(start, None, depth + 1)
                if after is None:
                    return None
                pos = after
            else:
                if constructed:
                    walk(start, start + length, depth + 1)
                pos = start + length
            if end is None and pos >= len(data):
                return None
            if pos > len(data):
                return None
        return None

    walk(0, len(data), 0)
    return nodes


def _length_bytes(form: str, content_length: int | None) -> bytes:
    cl = content_length or 0

    def definite(n: int) -> bytes:
        n = max(n, 0)
        if n < 0x80:
            return bytes([n])
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return bytes([0x80 | len(raw)]) + raw

    return {
        "0": b"\x00", "1": b"\x01", "+1": definite(cl + 1), "-1": definite(cl - 1), "7f": b"\x7f",
        "80": b"\x80", "81ff": b"\x81\xff", "84-huge": b"\x84\x7f\xff\xff\xff", "88-huge": b"\x88" + b"\xff" * 8,
        "89": b"\x89" + b"\x01" * 9, "nonminimal": b"\x84" + cl.to_bytes(4, "big"), "85": b"\x85",
    }[form]


def _mutate_der(der: bytes, op: str, index: int, value: int) -> bytes:
    nodes = der_nodes(der)
    if not nodes:
        return der[: value % (len(der) + 1)] if op == "trunc" else der
    offset, hl, cl = nodes[index % len(nodes)]
    whole = hl + (cl if cl is not None else 0)
    if op == "len":
        form = LENGTH_FORMS[value % len(LENGTH_FORMS)]
        tag_len = 1
        if der[offset] & 0x1F == 0x1F:
            while offset + tag_len < len(der) and der[offset + tag_len] & 0x80:
                tag_len += 1
            tag_len += 1
        return der[: offset + tag_len] + _length_bytes(form, cl) + der[offset + hl:]
    if op == "tag":
        return der[:offset] + bytes([value]) + der[offset + 1:]
    if op == "drop":
        return der[:offset] + der[offset + whole:]
    if op == "dup":
        return der[: offset + whole] + der[offset: offset + whole] + der[offset + whole:]
    if op == "trunc":
        return der[: offset + value % (whole + 1)]
    if op == "flip":
        room = min(cl or 0, len(der) - offset - hl)
        if room <= 0:
            return der
        at = offset + hl + value * 7919 % room
        return der[:at] + bytes([der[at] ^ (value | 1)]) + der[at + 1:]
    if op == "insert":
        return der[:offset] + bytes([value]) + der[offset:]
    raise AssertionError(op)


def _replace(doc: bytes, start: int, end: int, new: bytes) -> bytes:
    return doc[:start] + new + doc[end:]


def _set_param(value: bytes, name: str, new: bytes | None, rfc2231: bool = False, duplicate: bool = False) -> bytes:
    pattern = re.compile(rb"(?i);\s*" + re.escape(name.encode()) + rb"\*?[0-9]*\*?\s*=\s*(\"[^\"]*\"|[^;\s]*)")
    if new is None:
        return pattern.sub(b"", value)
    if rfc2231:
        encoded = b"".join(b"%%%02X" % b if not (48 <= b < 58 or 65 <= b < 91 or 97 <= b < 123) else bytes([b]) for b in new)
        text = b"; " + name.encode() + b"*=utf-8''" + encoded
    else:
        text = b"; " + name.encode() + b"=" + new
    if duplicate:
        return value + text
    match = pattern.search(value)
    if match:
        return value[: match.start()] + text + value[match.end():]
    return value + text


def apply_mutation(doc: bytes, mutation: tuple) -> bytes:
    kind = mutation[0]
    if kind == "flip":
        _, region, offset, xor = mutation
        lo, hi = _span(doc, region)
        if hi <= lo:
            return doc
        at = _pick(lo, hi, offset)
        return doc[:at] + bytes([doc[at] ^ xor]) + doc[at + 1:]
    if kind == "insert":
        _, region, offset, data = mutation
        lo, hi = _span(doc, region)
        at = _pick(lo, hi + 1, offset)
        return doc[:at] + data + doc[at:]
    if kind == "delete":
        _, region, offset, count = mutation
        lo, hi = _span(doc, region)
        at = _pick(lo, hi, offset)
        return doc[:at] + doc[min(at + count, hi):]
    if kind == "truncate":
        return doc[: _pick(0, len(doc), mutation[1])]
    if kind == "duplicate":
        _, src, length, dst = mutation
        at = _pick(0, len(doc), src)
        piece = doc[at: at + length]
        to = _pick(0, len(doc) + 1, dst)
        return doc[:to] + piece + doc[to:]
    if kind == "repeat":
        _, src, length, times = mutation
        at = _pick(0, len(doc), src)
        piece = doc[at: at + length]
        if not piece:
            return doc
        times = min(times, max((MAX_DOC - len(doc)) // len(piece), 1))
        return doc[:at] + piece * times + doc[at + len(piece):]
    if kind == "b64":
        _, block, op, offset, char = mutation
        blocks = _b64_blocks(doc)
        if not blocks:
            return doc
        m = blocks[block % len(blocks)]
        at = _pick(m.start(), m.end(), offset)
        if op == "set":
            return doc[:at] + char + doc[at + 1:]
        if op == "insert":
            return doc[:at] + char + doc[at:]
        if op == "delete":
            return doc[:at] + doc[at + 1:]
        return doc[:at] + b"==" + doc[at:]  # pad
    if kind == "der":
        _, block, op, index, value = mutation
        blocks = _b64_blocks(doc)
        if not blocks:
            return doc
        m = blocks[block % len(blocks)]
        text = m.group(0)
        try:
            der = binascii.a2b_base64(text)
        except binascii.Error:
            return doc
        eol = b"\r\n" if b"\r\n" in text else b"\n"
        width = max(len(text.split(b"\n", 1)[0].rstrip(b"\r")), 4) // 4 * 3
        mutated = _mutate_der(der, op, index, value)
        lines = [base64.b64encode(mutated[i: i + width]) for i in range(0, len(mutated), width)]
        return _replace(doc, m.start(), m.end(), b"".join(line + eol for line in lines))
    if kind == "header":
        _, index, op, value, name = mutation
        found = _headers(doc)
        if not found:
            return doc
        m = found[index % len(found)]
        line = m.group(0)
        if op == "value":
            return _replace(doc, m.start(), m.end(), m.group(1) + b": " + value.encode("utf-8", "surrogateescape"))
        if op == "drop":
            end = m.end() + (2 if doc[m.end(): m.end() + 2] == b"\r\n" else 1)
            return _replace(doc, m.start(), end, b"")
        if op == "dup":
            eol = b"\r\n" if doc[m.end(): m.end() + 2] == b"\r\n" else b"\n"
            return _replace(doc, m.start(), m.start(), line + eol)
        if op == "fold":
            at = len(value) % max(len(line), 1)
            return _replace(doc, m.start() + at, m.start() + at, b"\r\n ")
        colon = line.index(b":")
        return _replace(doc, m.start(), m.start() + colon, name.encode("utf-8"))
    if kind == "ctype":
        _, index, op, param, value, media = mutation
        found = _headers(doc, b"content-type")
        if not found:
            return doc
        m = found[index % len(found)]
        line = m.group(0)
        colon = line.index(b":")
        head, rest = line[: colon + 1], line[colon + 1:]
        new_value = value.encode("utf-8", "surrogateescape")
        if op == "type":
            semicolon = rest.find(b";")
            rest = b" " + media.encode() + (rest[semicolon:] if semicolon >= 0 else b"")
        elif op == "param":
            rest = _set_param(rest, param, new_value)
        elif op == "drop_param":
            rest = _set_param(rest, param, None)
        elif op == "rfc2231":
            rest = _set_param(rest, param, new_value.strip(b'"'), rfc2231=True)
        else:
            rest = _set_param(rest, param, new_value, duplicate=True)
        return _replace(doc, m.start(), m.end(), head + rest)
    if kind == "cte":
        _, index, value = mutation
        found = _headers(doc, b"content-transfer-encoding")
        if not found:
            return doc
        m = found[index % len(found)]
        return _replace(doc, m.start(), m.end(), b"Content-Transfer-Encoding: " + value.encode())
    if kind == "boundary":
        _, index, op = mutation
        boundaries = sorted({m.group(1).strip() for m in _BOUNDARY.finditer(doc)})
        if not boundaries:
            return doc
        boundary = boundaries[index % len(boundaries)]
        if op == "param":
            m = next(m for m in _BOUNDARY.finditer(doc) if m.group(1).strip() == boundary)
            return _replace(doc, m.start(1), m.end(1), boundary + b"X")
        marker = b"--" + boundary
        lines = [m.start() for m in re.finditer(rb"(?m)^" + re.escape(marker), doc)]
        if not lines:
            return doc
        at = lines[(index // max(len(boundaries), 1)) % len(lines)]
        newline = doc.find(b"\n", at)
        line_end = len(doc) if newline < 0 else newline + 1
        after = at + len(marker)
        closing = doc[after: after + 2] == b"--"
        if op == "drop":
            return _replace(doc, at, line_end, b"")
        if op == "close":
            return doc if closing else _replace(doc, after, after, b"--")
        if op == "unclose":
            return _replace(doc, after, after + 2, b"") if closing else doc
        if op == "longer":
            return _replace(doc, after, after, b"x")
        if op == "shorter":
            return _replace(doc, after - 1, after, b"")
        if op == "ws":
            stop = after + (2 if closing else 0)
            return _replace(doc, stop, stop, b" \t ")
        if op == "dup":
            return _replace(doc, at, at, doc[at:line_end])
        # nocrlf: the delimiter no longer starts a line
        if at >= 2 and doc[at - 2: at] == b"\r\n":
            return _replace(doc, at - 2, at, b"")
        return _replace(doc, at - 1, at, b"") if at >= 1 else doc
    if kind == "eol":
        _, op, offset, length = mutation
        start = _pick(0, len(doc), offset)
        end = min(len(doc), start + length)
        middle = doc[start:end]
        if op == "crlf_to_lf":
            middle = middle.replace(b"\r\n", b"\n")
        elif op == "lf_to_crlf":
            middle = middle.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        elif op == "crlf_to_cr":
            middle = middle.replace(b"\r\n", b"\r")
        else:
            middle = middle.replace(b"\r\n", b"\n").replace(b"\n", b"\r\r\n")
        return doc[:start] + middle + doc[end:]
    raise AssertionError(kind)


def mutate(doc: bytes, mutations: list[tuple]) -> bytes:
    for mutation in mutations:
        changed = apply_mutation(doc, mutation)
        if len(changed) <= MAX_DOC:
            doc = changed
    return doc


# =================================================================================== running

@dataclasses.dataclass
class Case:
    seed: Seed
    target: str  # "outer" or "inner"
    mutations: list[tuple]

    def describe(self) -> str:
        return f"seed={self.seed.name} target={self.target} mutations={self.mutations!r}"


@dataclasses.dataclass
class Finding:
    key: str  # what makes two findings the same
    kind: str  # crash, slow, hang, leak, forgery
    summary: str
    details: str  # traceback or explanation
    elapsed: float
    case: Case | None = None
    message: bytes = b""
    plaintext: bytes | None = None
    minimised: bool = False


RESOURCE_KINDS = {"slow", "hang", "memory"}


class Hang(BaseException):
    """Raised by the alarm handler: the input took longer than --hang-timeout."""


@contextlib.contextmanager
def hard_timeout(seconds: float):
    def on_alarm(signum, frame):  # noqa: ARG001
        raise Hang()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _location(tb) -> str:
    frames = traceback.extract_tb(tb)
    ours = [f for f in frames if f.filename.startswith(PACKAGE_DIR)]
    frame = (ours or frames or [None])[-1]
    if frame is None:
        return "?"
    name = frame.filename
    if name.startswith(str(REPO)):
        name = os.path.relpath(name, REPO)
    return f"{name}:{frame.lineno} in {frame.name}"


def _status_kib(field: str) -> int:
    match = re.search(field + r":\s+(\d+)", Path("/proc/self/status").read_text())
    return int(match.group(1)) if match else 0


def _reset_peak_rss() -> bool:
    """Reset VmHWM (Linux >= 4.0: "5" to clear_refs), so every input's peak is its own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Runner:
    def __init__(self, seeds: Seeds, scratch: Path, budget: float, hang_timeout: float,
                 memory_budget_mb: int = 300) -> None:
        self.seeds = seeds
        self.scratch = scratch
        self.budget = budget
        self.hang_timeout = hang_timeout
        self.memory_budget_kib = memory_budget_mb * 1024
        self.per_input_peak = _reset_peak_rss()
        self.largest_growth_kib = 0
        self.message_path = scratch / "message.eml"
        self.save_dir = scratch / "saved"
        self.tmp = scratch / "tmp"
        self.tmp.mkdir()
        tempfile.tempdir = str(self.tmp)  # the reader's spool directory goes here: checked for leaks
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.per_seed: collections.Counter[str] = collections.Counter()
        self.per_mutation: collections.Counter[str] = collections.Counter()
        self.slowest = 0.0
        self.expected: dict[str, tuple] = {}
        for seed in seeds.items:
            opened = self.open(seed.data, seed)
            if not isinstance(opened, OpenedMessage):
                raise SystemExit(f"seed {seed.name} does not open cleanly: {opened}")
            if seed.cipher is not None and not opened.decrypted:
                raise SystemExit(f"seed {seed.name} does not decrypt: {opened.decryption_problem}")
            self.expected[seed.name] = _content(opened)

    def build(self, case: Case) -> tuple[bytes, bytes | None]:
        if case.target == "inner" and case.seed.plaintext is not None:
            plaintext = mutate(case.seed.plaintext, case.mutations)
            return self.seeds.envelope(case.seed, plaintext), plaintext
        return mutate(case.seed.data, case.mutations), None

    def open(self, message: bytes, seed: Seed) -> OpenedMessage | BaseException:
        self.message_path.write_bytes(message)
        shutil.rmtree(self.save_dir, ignore_errors=True)
        try:
            with hard_timeout(self.hang_timeout):
                return open_message(
                    self.message_path,
                    identities=[self.seeds.identities[seed.identity]],
                    anchors=[self.seeds.root],
                    save_dir=self.save_dir,
                    now=NOW,
                )
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 -- judged by the caller
            return exc

    def run(self, case: Case) -> Finding | None:
        try:
            message, plaintext = self.build(case)
        except MemoryError:  # the fuzzer's own re-encryption, not the reader: skip the input
            self.outcomes["skipped (no memory to build)"] += 1
            return None
        except Exception:  # a bug of this fuzzer's mutations: say so once, keep going
            if not self.outcomes["skipped (fuzzer bug)"]:
                print(f"fuzzer bug while mutating ({case.describe()}):\n{traceback.format_exc()}", file=sys.stderr)
            self.outcomes["skipped (fuzzer bug)"] += 1
            return None
        self.per_seed[f"{case.seed.name}/{case.target if case.seed.plaintext else 'outer'}"] += 1
        for mutation in case.mutations:
            self.per_mutation[mutation[0]] += 1
        finding = self._attempt(case, message)
        if finding is not None and finding.kind in RESOURCE_KINDS:
            # Time and memory depend on the machine (an fsync stalled by other I/O, ...): a
            # resource finding counts only when a second attempt confirms it.
            again = self._attempt(case, message)
            if again is None or again.kind != finding.kind:
                self.outcomes[f"{finding.kind} once, not reproduced"] += 1
                finding = again
            else:
                finding.summary += f"; again on a second attempt: {again.summary}"
        leftovers = os.listdir(self.tmp)
        if leftovers and finding is None:
            finding = Finding("LEAK temporary files", "leak", f"left behind in the temp dir: {leftovers[:5]}",
                              "open_message left files in the temporary directory", 0.0)  # (found after the attempt: no time of its own)
        for name in leftovers:
            shutil.rmtree(self.tmp / name, ignore_errors=True)
            with contextlib.suppress(OSError):
                (self.tmp / name).unlink()
        if finding is not None:
            finding.case, finding.message, finding.plaintext = case, message, plaintext
            self.outcomes[f"FINDING {finding.kind}"] += 1
        return finding

    def _attempt(self, case: Case, message: bytes) -> Finding | None:
        if self.per_input_peak:
            _reset_peak_rss()
        rss_before = _status_kib("VmRSS")
        start, cpu_start = time.perf_counter(), time.process_time()
        result = self.open(message, case.seed)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        growth = _status_kib("VmHWM") - rss_before
        self.slowest = max(self.slowest, elapsed)
        self.largest_growth_kib = max(self.largest_growth_kib, growth)
        finding = self.judge(case, result, elapsed)
        if finding is not None and finding.kind == "slow":
            finding.summary += f" (CPU {cpu:.2f} s)"
        if finding is None and growth > self.memory_budget_kib:
            finding = Finding("MEMORY peak over budget", "memory",
                              f"peak RSS rose by {growth / 1024:.0f} MB while opening a {len(message)} B message "
                              f"(budget {self.memory_budget_kib / 1024:.0f} MB)",
                              "", elapsed)
        return finding

    def judge(self, case: Case, result: OpenedMessage | BaseException, elapsed: float) -> Finding | None:
        if isinstance(result, Hang):
            location = _location(result.__traceback__)
            return Finding(f"HANG at {location}", "hang", f"no answer after {self.hang_timeout:.0f} s (interrupted at {location})",
                           "".join(traceback.format_exception(result)), elapsed)
        if isinstance(result, SmimeHelperError):
            self.outcomes[type(result).__name__] += 1
        elif isinstance(result, BaseException):
            location = _location(result.__traceback__)
            text = str(result).splitlines()[0][:200] if str(result) else ""
            return Finding(f"{type(result).__name__} at {location}", "crash",
                           f"{type(result).__name__}: {text} (at {location})",
                           "".join(traceback.format_exception(result)), elapsed)
        else:
            self.outcomes["opened" + (" (all good)" if result.all_good else "")] += 1
            problem = self._check_opened(case, result)
            if problem:
                return problem
        if elapsed > self.budget:
            return Finding("SLOW input", "slow", f"took {elapsed:.2f} s (budget {self.budget:.1f} s)",
                           f"open_message took {elapsed:.2f} s", elapsed)
        return None

    def _check_opened(self, case: Case, opened: OpenedMessage) -> Finding | None:
        save_dir = self.save_dir.resolve()
        for attachment in opened.attachments:
            if attachment.saved_to is not None and attachment.saved_to.resolve().parent != save_dir:
                return Finding("ESCAPE saved outside the save folder", "escape",
                               f"attachment saved to {attachment.saved_to}", repr(attachment), 0.0)
        # all_good is also true for a message without any signature: only signed ones count.
        if opened.all_good and opened.signatures and _content(opened) != self.expected[case.seed.name]:
            return Finding(f"FORGERY accepted ({case.seed.name})", "forgery",
                           "reported as all good but the content differs from the seed",
                           f"expected {self.expected[case.seed.name]!r}\ngot      {_content(opened)!r}", 0.0)
        return None


def _content(opened: OpenedMessage) -> tuple:
    return (tuple((a.sha256, a.size) for a in opened.attachments), (opened.body_text or "").strip())


# =================================================================================== reporting

def difference(before: bytes, after: bytes, context: int = 60, limit: int = 700) -> str:
    """Where ``after`` differs from ``before``: common prefix/suffix cut, the middle shown."""
    if before == after:
        return "(identical to the seed)"
    prefix = 0
    top = min(len(before), len(after))
    while prefix < top and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while suffix < top - prefix and before[-1 - suffix] == after[-1 - suffix]:
        suffix += 1
    start = max(prefix - context, 0)

    def show(data: bytes, end: int) -> str:
        text = repr(data[start: end + context])
        return text if len(text) <= limit else text[:limit] + f"... ({end + context - start} bytes)"

    return (
        f"sizes {len(before)} -> {len(after)}; differs from byte {prefix}, "
        f"{len(before) - prefix - suffix} bytes replaced by {len(after) - prefix - suffix}\n"
        f"  seed:    {show(before, len(before) - suffix)}\n"
        f"  mutated: {show(after, len(after) - suffix)}"
    )


def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-")[:80]


def save_finding(finding: Finding, seeds: Seeds, crash_dir: Path) -> Path:
    crash_dir.mkdir(parents=True, exist_ok=True)
    ignore = crash_dir / ".gitignore"
    if not ignore.exists():  # findings carry test keys: never commit them by accident
        ignore.write_text("*\n")
    target = crash_dir / _slug(finding.key)
    target.mkdir(exist_ok=True)
    assert finding.case is not None
    seed = finding.case.seed
    (target / "message.eml").write_bytes(finding.message)
    if finding.plaintext is not None:
        (target / "plaintext.mime").write_bytes(finding.plaintext)
    shutil.copyfile(seeds.pki.entity(seed.identity).p12, target / "identity.p12")
    shutil.copyfile(seeds.pki.root.cert_pem, target / "root.cert.pem")
    info = {
        "key": finding.key,
        "kind": finding.kind,
        "summary": finding.summary,
        "minimised": finding.minimised,
        "seed": seed.name,
        "target": finding.case.target if seed.plaintext else "outer",
        "mutations": repr(finding.case.mutations),
        "elapsed_s": round(finding.elapsed, 3),
        "identity": f"{seed.identity} (identity.p12, password {P12_PASSWORD})",
        "now": NOW.isoformat(),
        "replay": f"python tests/fuzz/fuzz_reader.py --replay {os.path.relpath(target, REPO)}",
    }
    (target / "finding.json").write_text(json.dumps(info, indent=2) + "\n")
    base = seed.plaintext if finding.plaintext is not None else seed.data
    (target / "finding.txt").write_text(
        f"{finding.summary}\n{finding.case.describe()}\n\n"
        f"{difference(base or b'', finding.plaintext if finding.plaintext is not None else finding.message)}\n\n"
        f"{finding.details}"
    )
    return target


def print_finding(number: int, finding: Finding, out) -> None:
    assert finding.case is not None
    seed = finding.case.seed
    base = seed.plaintext if finding.plaintext is not None else seed.data
    changed = finding.plaintext if finding.plaintext is not None else finding.message
    print(f"\n=== finding {number}: {finding.key}", file=out)
    print(f"    {finding.summary}", file=out)
    print(f"    minimal input ({'shrunk' if finding.minimised else 'NOT shrunk'}): {finding.case.describe()}", file=out)
    print("    " + difference(base or b"", changed).replace("\n", "\n    "), file=out)
    print("    " + finding.details.rstrip().replace("\n", "\n    "), file=out)


# =================================================================================== the search

class Found(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.key)
        self.finding = finding


def search(runner: Runner, seeds: Seeds, examples: int, hypothesis_seed_value: int | None, log,
           crash_dir: Path | None) -> tuple[dict[str, Finding], int]:
    """Find distinct findings until ``examples`` generated inputs were tried without a new one."""
    findings: dict[str, Finding] = {}
    unshrunk: dict[str, Finding] = {}
    generated = 0
    rounds = 0
    strategy = st.builds(
        Case,
        seed=st.sampled_from(seeds.items),
        target=st.sampled_from(["outer", "inner"]),
        mutations=st.lists(MUTATION, min_size=1, max_size=4),
    )
    while generated < examples:
        rounds += 1
        state = {"target": None, "calls": 0}

        def prop(case: Case) -> None:
            if state["target"] is None:
                state["calls"] += 1
            finding = runner.run(case)
            if finding is None or finding.key in findings:
                return
            if finding.kind in RESOURCE_KINDS:  # timing is not reproducible enough to shrink on
                if finding.key not in unshrunk:
                    unshrunk[finding.key] = finding
                    where = "" if crash_dir is None else f" -> {os.path.relpath(save_finding(finding, seeds, crash_dir), REPO)}"
                    log(f"[{generated + state['calls']}/{examples}] NEW finding (not shrunk): {finding.key}: "
                        f"{finding.summary}{where}")
                return
            if state["target"] is None or finding.key == state["target"]:
                state["target"] = finding.key
                raise Found(finding)
            unshrunk.setdefault(finding.key, finding)  # met while shrinking another: look again later

        test = settings(
            max_examples=examples - generated,
            deadline=None,
            database=None,
            derandomize=False,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate, Phase.shrink],
            verbosity=Verbosity.quiet,
            report_multiple_bugs=False,
            print_blob=False,
        )(given(strategy)(prop))
        if hypothesis_seed_value is not None:
            test = hypothesis_seed(hypothesis_seed_value + rounds)(test)
        started = time.perf_counter()
        try:
            test()
        except Found as exc:
            finding = exc.finding
            finding.minimised = True
            findings[finding.key] = finding
            unshrunk.pop(finding.key, None)
            generated += state["calls"]
            where = ""
            if crash_dir is not None:
                where = f" -> {os.path.relpath(save_finding(finding, seeds, crash_dir), REPO)}"
            log(f"[{generated}/{examples}] NEW finding #{len(findings)} after {state['calls']} inputs "
                f"(+ shrinking, {time.perf_counter() - started:.0f} s): {finding.key}{where}")
            continue
        except BaseExceptionGroup as group:  # FlakyFailure: it did not fail again when re-run
            _, rest = group.split(Found)
            if rest is not None:
                raise
            for found in _leaves(group):
                finding = found.finding
                finding.summary += " [flaky: did not fail again when re-run]"
                unshrunk.setdefault(finding.key, finding)
                log(f"[{generated + state['calls']}/{examples}] flaky finding (not shrunk): {finding.key}")
            generated += state["calls"]
            continue
        generated += state["calls"]
        break
    for key, finding in unshrunk.items():  # resource findings, flaky ones, or met while shrinking another
        if key not in findings:
            findings[key] = finding
            if crash_dir is not None:
                save_finding(finding, seeds, crash_dir)
    return findings, generated


def _leaves(group: BaseExceptionGroup) -> list[Found]:
    found: list[Found] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found += _leaves(exc)
        elif isinstance(exc, Found):
            found.append(exc)
    return found


# =================================================================================== replay

def replay(directory: Path) -> int:
    info = json.loads((directory / "finding.json").read_text())
    identity = load_pkcs12(directory / "identity.p12", P12_PASSWORD.encode())
    root = load_certificate(directory / "root.cert.pem")
    print(f"replaying {info['key']} ({info['seed']}, {info['target']}): {info['mutations']}")
    with tempfile.TemporaryDirectory() as save:
        start = time.perf_counter()
        try:
            opened = open_message(directory / "message.eml", identities=[identity], anchors=[root],
                                  save_dir=Path(save), now=dt.datetime.fromisoformat(info["now"]))
        except SmimeHelperError as exc:
            print(f"{type(exc).__name__}: {exc}  ({time.perf_counter() - start:.2f} s) -- a proper error, fixed?")
            return 0
        except Exception:
            traceback.print_exc()
            return 1
    print(f"opened in {time.perf_counter() - start:.2f} s: decrypted={opened.decrypted} "
          f"signatures={[(s.valid, s.trusted, s.reason) for s in opened.signatures]} "
          f"attachments={[(a.filename, a.size) for a in opened.attachments]}")
    return 0


# =================================================================================== main

def limit_memory(megabytes: int) -> str:
    if megabytes <= 0:
        return "no memory limit"
    try:
        status = Path("/proc/self/status").read_text()
        vm_kib = int(re.search(r"VmSize:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    except (OSError, AttributeError, ValueError):
        return "no memory limit (cannot read /proc/self/status)"
    limit = vm_kib * 1024 + megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    return f"address space limited to {limit / 1e6:.0f} MB (+{megabytes} MB over start-up): a memory bomb is a MemoryError crash"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="mutated inputs to try (default 2000)")
    parser.add_argument("--budget", type=float, default=5.0, help="seconds one input may take (default 5)")
    parser.add_argument("--hang-timeout", type=float, default=60.0,
                        help="seconds after which an input is interrupted as a hang (default 60)")
    parser.add_argument("--memory-budget-mb", type=int, default=300,
                        help="peak RSS growth one input may cause (default 300)")
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis random seed (default: random)")
    parser.add_argument("--max-memory-mb", type=int, default=2048,
                        help="address space allowed on top of start-up (default 2048; 0: no limit)")
    parser.add_argument("--crash-dir", type=Path, default=DEFAULT_CRASH_DIR,
                        help="where findings are saved (default tests/fuzz/crashes)")
    parser.add_argument("--no-save", action="store_true", help="do not save findings")
    parser.add_argument("--replay", type=Path, default=None, metavar="DIR", help="re-open one saved finding")
    args = parser.parse_args(argv)
    if args.replay is not None:
        return replay(args.replay)
    if args.examples < 1:
        parser.error("--examples must be at least 1")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="smimehelper-fuzz-") as work_name:
        work = Path(work_name)
        seeds = Seeds(work / "seeds", log)
        scratch = work / "scratch"
        scratch.mkdir()
        runner = Runner(seeds, scratch, args.budget, args.hang_timeout, args.memory_budget_mb)
        log(limit_memory(args.max_memory_mb))
        log(f"fuzzing open_message with up to {args.examples} inputs (budget {args.budget:.1f} s each) ...")
        fuzz_start = time.perf_counter()
        findings, generated = search(runner, seeds, args.examples, args.seed, log,
                                     None if args.no_save else args.crash_dir)
        fuzz_time = time.perf_counter() - fuzz_start
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.getrlimit(resource.RLIMIT_AS)[1]))
        out = sys.stdout
        print(f"\n{generated} inputs generated ({sum(runner.per_seed.values())} opened incl. shrinking) in "
              f"{fuzz_time:.0f} s (total with set-up {time.perf_counter() - started:.0f} s); "
              f"slowest input {runner.slowest:.2f} s; largest peak RSS growth of one input "
              f"{runner.largest_growth_kib / 1024:.0f} MB"
              f"{'' if runner.per_input_peak else ' (peak not resettable: cumulative)'}", file=out)
        print("outcomes: " + ", ".join(f"{k} {v}" for k, v in runner.outcomes.most_common()), file=out)
        print("inputs per seed/target: " + ", ".join(f"{k} {v}" for k, v in sorted(runner.per_seed.items())), file=out)
        print("mutations applied: " + ", ".join(f"{k} {v}" for k, v in runner.per_mutation.most_common()), file=out)
        print(f"{len(findings)} distinct finding(s)" + (":" if findings else "."), file=out)
        for number, finding in enumerate(findings.values(), 1):
            print_finding(number, finding, out)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())

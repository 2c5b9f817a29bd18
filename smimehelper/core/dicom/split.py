"""A study too large for one message, as N self-contained signed and encrypted messages.

Each part holds complete files (a colleague without smimehelper saves every attachment of every
part into one folder and has the study), is built by core/compose.py like any other message,
and carries the same manifest: the study, every file name with its SHA-256 and the part it is
in, this part's number and the count. ``smimehelper open`` given any set of parts checks them
against the manifest, names the missing parts and puts the files back together.

The size of a message is predicted from the S/MIME layout (base64 inside the signature, CMS,
base64 again: about 1.87x the files) and then checked on the written file: a part that came out
over the limit is split again, so no part ever exceeds it.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..compose import ComposeRequest, ComposeResult, compose_to_file
from ..errors import MessageFormatError, UserError
from ..mime.writer import Attachment, prepare_attachment

MANIFEST_NAME = "smimehelper-parts.json"
FORMAT = "smimehelper-parts/1"
_HEADROOM = 64 * 1024  # headers, signature with its certificate chain, recipient infos


class SplitError(UserError):
    """The study cannot be split as asked."""


class PartsMissing(UserError):
    """Some parts of a split study were not given."""


@dataclass(frozen=True)
class ManifestFile:
    name: str
    size: int
    sha256: str
    part: int


@dataclass(frozen=True)
class Manifest:
    send_id: str
    part: int
    parts: int
    study: dict[str, str]
    files: tuple[ManifestFile, ...]

    def to_json(self) -> bytes:
        return json.dumps({
            "format": FORMAT, "send_id": self.send_id, "part": self.part, "parts": self.parts,
            "study": self.study, "files": [vars(f) for f in self.files],
        }, indent=1, ensure_ascii=False).encode("utf-8")

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        try:
            raw = json.loads(data.decode("utf-8"))
            if raw.get("format") != FORMAT:
                raise ValueError("format")
            files = tuple(ManifestFile(str(f["name"]), int(f["size"]), str(f["sha256"]), int(f["part"])) for f in raw["files"])
            manifest = cls(str(raw["send_id"]), int(raw["part"]), int(raw["parts"]),
                           {str(k): str(v) for k, v in dict(raw.get("study", {})).items()}, files)
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            raise MessageFormatError(f"The list of parts ({MANIFEST_NAME}) in this message is damaged.") from None
        if not 1 <= manifest.part <= manifest.parts or any(not 1 <= f.part <= manifest.parts for f in files):
            raise MessageFormatError(f"The list of parts ({MANIFEST_NAME}) in this message is inconsistent.")
        return manifest


def message_size_estimate(attachment_sizes: Sequence[int], body: str, recipients: int = 2) -> int:
    """Bytes of the .eml that compose_to_file writes for these attachments (a slight overestimate)."""
    inner = len(body.encode("utf-8")) * 3 + 2048
    for size in attachment_sizes:
        inner += math.ceil(size / 57) * 78 + 512
    envelope = inner + inner // 1000 + 1024 * recipients + _HEADROOM
    return math.ceil(envelope / 57) * 78 + 4096


def plan(sizes: Sequence[int], limit: int, body: str, recipients: int = 2) -> list[list[int]]:
    """Indexes of files per part, in order, each part predicted under ``limit``."""
    parts: list[list[int]] = []
    current: list[int] = []
    for index, size in enumerate(sizes):
        if message_size_estimate([size, 4096], body, recipients) > limit:
            raise SplitError(
                f"One file is {size / 1e6:.1f} MB: even alone it does not fit into a message under "
                f"{limit / 1e6:.0f} MB. Compress it (--compress) or send it another way."
            )
        trial = [*current, index]
        if current and message_size_estimate([sizes[i] for i in trial] + [4096 + 200 * len(sizes)], body, recipients) > limit:
            parts.append(current)
            current = [index]
        else:
            current = trial
    if current:
        parts.append(current)
    return parts


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ComposedPart:
    """One written message of a split study and the files in it (the manifest not counted)."""

    result: ComposeResult
    files: tuple[Attachment, ...]


def compose_parts(
    base: ComposeRequest, files: Sequence[Attachment], limit: int, out: Path, scratch: Path, *,
    study: dict[str, str] | None = None, progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[ComposedPart]:
    """Write the parts ``<out stem>.part-K-of-N.eml`` beside ``out``; every one is under ``limit``."""
    if len({f.filename for f in files}) != len(files):
        raise SplitError("Two files to send have the same name; rename one of them.")
    hashes = [sha256_file(f.path) for f in files]
    groups = plan([f.size for f in files], limit, base.body, len(base.to) + len(base.cc) + 1)
    while True:
        results = _write(base, files, hashes, groups, limit, out, scratch, study or {}, progress, cancelled)
        too_big = [i for i, r in enumerate(results) if r.size > limit]
        if not too_big:
            return [ComposedPart(r, tuple(files[i] for i in group)) for r, group in zip(results, groups)]
        for result in results:
            result.path.unlink(missing_ok=True)
        index = too_big[0]
        if len(groups[index]) == 1:
            raise SplitError(f"{files[groups[index][0]].filename} does not fit into a message under {limit / 1e6:.0f} MB.")
        half = len(groups[index]) // 2
        groups[index:index + 1] = [groups[index][:half], groups[index][half:]]


def _write(base: ComposeRequest, files: Sequence[Attachment], hashes: Sequence[str], groups: list[list[int]], limit: int,
           out: Path, scratch: Path, study: dict[str, str], progress: Callable[[int, int], None] | None,
           cancelled: Callable[[], bool] | None) -> list[ComposeResult]:
    send_id = str(uuid.uuid4())
    count = len(groups)
    part_of = {i: k for k, group in enumerate(groups, start=1) for i in group}
    listing = tuple(ManifestFile(f.filename, f.size, hashes[i], part_of[i]) for i, f in enumerate(files))
    results: list[ComposeResult] = []
    try:
        for number, group in enumerate(groups, start=1):
            manifest_path = Path(scratch) / f"manifest-{number}" / MANIFEST_NAME
            manifest_path.parent.mkdir(parents=True, exist_ok=True)
            manifest_path.write_bytes(Manifest(send_id, number, count, study, listing).to_json())
            attachments = (*(files[i] for i in group), prepare_attachment(manifest_path))
            note = (f"\n\n(Part {number} of {count}: {len(group)} of the {len(files)} files of this study. "
                    "Save the attachments of all parts into one folder, or open all parts together with smimehelper.)")
            request = replace(base, subject=f"{base.subject} (part {number} of {count})".strip(),
                              body=base.body + note, attachments=attachments)
            target = out.with_name(f"{out.stem}.part-{number}-of-{count}{out.suffix or '.eml'}")
            results.append(compose_to_file(request, target, progress=progress, cancelled=cancelled))
    except BaseException:
        for result in results:
            result.path.unlink(missing_ok=True)
        raise
    return results


@dataclass(frozen=True)
class PartCheck:
    manifest: Manifest
    missing: tuple[int, ...]


def check_parts(manifests: Sequence[Manifest]) -> PartCheck:
    """All manifests describe the same send; which parts are missing (raises if they disagree)."""
    if not manifests:
        raise MessageFormatError("None of these messages is a part of a split study.")
    first = manifests[0]
    for m in manifests[1:]:
        if m.send_id != first.send_id or m.parts != first.parts or m.files != first.files:
            raise MessageFormatError("These messages are parts of different sends; open the parts of one study together.")
    for f in first.files:
        if not f.name or f.name in (".", "..") or Path(f.name).name != f.name or "\\" in f.name:
            raise MessageFormatError(f"The list of parts names a file {f.name!r} that is not a plain file name.")
    seen = {m.part for m in manifests}
    missing = tuple(k for k in range(1, first.parts + 1) if k not in seen)
    return PartCheck(first, missing)


def missing_text(check: PartCheck) -> str:
    total = check.manifest.parts
    names = ", ".join(str(k) for k in check.missing)
    word = "Part" if len(check.missing) == 1 else "Parts"
    verb = "is" if len(check.missing) == 1 else "are"
    return (f"{word} {names} of {total} {verb} missing. Open all {total} parts together "
            "(ask the sender to send the missing ones again if they did not arrive).")

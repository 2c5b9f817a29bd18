"""DICOM use cases shared by the CLI and the app: show what identifies the patient, remove it,
compress, bundle a study folder as a File-set, split a large study over several messages and
put the parts back together.

The files that travel are made in a private temporary folder (0700) and removed when the
message is written; the originals are only read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.dicom.annex_e import DeidOptions
from ..core.dicom.files import private_folder
from ..core.disclosure.model import DisclosedFile
from ..core.errors import InputFileError
from ..core.mime.writer import Attachment, prepare_attachment

if TYPE_CHECKING:
    from ..core.dicom.compress import CompressResult
    from ..core.dicom.deidentify import DeidSession
    from . import AskPassphrase
    from .compose import ComposeInput, ComposeOutcome
    from .stores import Stores

DEFAULT_SPLIT_LIMIT = 25 * 1000 * 1000
FILES_PROGRESS = "progress(-files done, files) while the DICOM copies are made, then progress(bytes, bytes)"


@dataclass(frozen=True)
class DicomPreparation:
    """What compose will attach instead of the user's files, and what was done to them."""

    attachments: tuple[Attachment, ...]
    notes: tuple[str, ...]
    deidentified: bool
    originals: tuple[Path, ...]  # the DICOM files the user chose (patient identifiers for the subject warning)
    study: dict[str, str] = field(default_factory=dict)
    # a study archive's path -> (name inside the ZIP, the member as written) of its DICOM files
    members: dict[Path, tuple[tuple[str, Path], ...]] = field(default_factory=dict)

    def disclosed(self, attachments: Sequence[Attachment] | None = None) -> tuple[DisclosedFile, ...]:
        """The disclosure log's description of the files that travel (default: all of them):
        each attachment as sent, and for a study archive also every DICOM file inside it, so the
        log holds the patient fields (or "de-identified") of exactly what the colleague gets."""
        from ..core.disclosure.files import describe_file

        described: list[DisclosedFile] = []
        for attachment in self.attachments if attachments is None else attachments:
            described.append(describe_file(attachment.path, name=attachment.filename, content_type=attachment.content_type))
            for inner, path in self.members.get(attachment.path, ()):
                described.append(describe_file(path, name=f"{attachment.filename}/{inner}", content_type="application/dicom"))
        return tuple(described)


def is_dicom(path: Path) -> bool:
    """A regular file with "DICM" at offset 128 (a pipe or device is never opened)."""
    if not Path(path).is_file():
        return False
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def prepare(paths: Sequence[Path], scratch: Path, *, deidentify: DeidOptions | None = None,
            compress: str | None = None, fileset: bool = True,
            progress: Callable[[int, int], None] | None = None,
            cancelled: Callable[[], bool] | None = None) -> DicomPreparation:
    """Expand folders to their DICOM files, de-identify and compress them into ``scratch`` (on
    every core when there are many), and (with ``fileset``) turn each folder into a File-set
    ZIP. Other files pass unchanged. ``progress(files done, files)``; ``cancelled()`` is polled
    between files (ComposeCancelled)."""
    from ..core.compose import ComposeCancelled
    from ..core.dicom.compress import saving_text
    from ..core.dicom.deidentify import DeidSession
    from ..core.dicom.fileset import dicom_files_in, write_fileset_zip
    from ..core.dicom.parallel import run_all

    session = DeidSession(deidentify) if deidentify is not None else None
    notes: list[str] = []
    originals: list[Path] = []
    members: dict[Path, tuple[tuple[str, Path], ...]] = {}
    used: set[str] = set()
    # What each of the user's paths becomes: ("folder", path, number, [job indexes]),
    # ("file", path, number, [job index]) or ("other", path); a job is one DICOM file.
    plan: list[tuple[Any, ...]] = []
    jobs: list[tuple[Path, Path, str]] = []  # (source, target, name as sent)
    for number, path in enumerate(map(Path, paths), start=1):
        if path.is_dir():
            files = dicom_files_in(path)
            if not files:
                raise InputFileError(f"{path} is a folder with no DICOM files in it; attach files, or a folder that holds a DICOM study.")
            kind, sources = "folder", files
        elif is_dicom(path):
            kind, sources = "file", [path]
        else:
            plan.append(("other", path))
            continue
        folder = Path(scratch) / f"{'study' if kind == 'folder' else 'file'}-{number}"
        folder.mkdir(parents=True)
        indexes = []
        for source in sources:
            name = f"IMG{len(jobs) + 1:05d}.dcm" if session else _unique(source.name, used)
            indexes.append(len(jobs))
            jobs.append((source, folder / name, name))
        originals.extend(sources)
        plan.append((kind, path, number, indexes))
    if session is not None or compress:
        made = run_all(make_copy, [(source, target, session, compress) for source, target, _ in jobs],
                       progress=progress, cancelled=cancelled, on_cancel=ComposeCancelled,
                       batch=1 if compress else 8)
    else:
        made = [(source, None) for source, _, _ in jobs]
    compressed = [result for _, result in made if result is not None]
    out: list[Attachment] = []
    for entry in plan:
        if entry[0] == "other":
            out.append(prepare_attachment(entry[1]))
            continue
        kind, path, number, indexes = entry
        if kind == "folder" and fileset:
            if cancelled is not None and cancelled():
                raise ComposeCancelled()
            zip_name = "study.zip" if session else _unique(f"{path.name or 'study'}.zip", used)
            result = write_fileset_zip([made[i][0] for i in indexes], Path(scratch) / f"fileset-{number}.zip",
                                       work_dir=Path(scratch) / f"fileset-{number}")
            members[result.path] = result.members
            out.append(prepare_attachment(result.path, zip_name))
            notes.append(f"{len(indexes)} DICOM files of {path.name} as one study archive with a DICOMDIR ({zip_name}).")
        else:
            out.extend(prepare_attachment(made[i][0], jobs[i][2]) for i in indexes)
    if session is not None:
        chosen = ", ".join(o.replace("_", " ") for o in deidentify.enabled()) if deidentify else ""
        notes.append(f"Patient details removed from {len(originals)} DICOM file(s) (DICOM PS3.15 Basic Profile"
                     + (f"; kept: {chosen}" if chosen else "") + "). The originals are unchanged.")
    if compressed:
        notes.append(f"Lossless compression: {saving_text(compressed)}.")
    study = _study(out)
    return DicomPreparation(tuple(out), tuple(notes), session is not None, tuple(originals), study, members)


def make_copy(source: Path, target: Path, session: DeidSession | None, compress: str | None) -> tuple[Path, CompressResult | None]:
    """The copy of one DICOM file that travels (de-identified, then compressed) as ``target``;
    the original itself when nothing is to be done. Runs in a worker process too."""
    from ..core.dicom.compress import compress_file
    from ..core.dicom.deidentify import deidentify_file

    current, result = source, None
    if session is not None:
        current = target.with_name(target.name + ".deid")
        deidentify_file(source, current, session)
    if compress:
        packed = target.with_name(target.name + ".cmp")
        result = compress_file(current, packed, compress)
        if current != source:
            current.unlink()
        current = packed
    if current == source:
        return source, result
    current.rename(target)
    return target, result


def _unique(name: str, used: set[str]) -> str:
    candidate, number = name, 1
    stem, dot, suffix = name.rpartition(".")
    while candidate.lower() in used:
        number += 1
        candidate = f"{stem} ({number}).{suffix}" if dot else f"{name} ({number})"
    used.add(candidate.lower())
    return candidate


def _study(attachments: Sequence[Attachment]) -> dict[str, str]:
    from ..core.dicom.summary import summarize

    for attachment in attachments:
        if attachment.content_type == "application/dicom":
            try:
                s = summarize(attachment.path)
            except InputFileError:
                continue
            return {"study_uid": s.study_uid, "description": s.study_description, "modality": s.modality}
    return {}


SCRATCH_PREFIX = "smimehelper-dicom-"


def scratch_folder() -> contextlib.AbstractContextManager[Path]:
    """A private temporary folder (0700) for the files that travel, removed by the caller's
    ``with``; one left by a kill -9 is removed the next time (core.dicom.files.private_folder)."""
    return private_folder(None, SCRATCH_PREFIX)


# -- dicom deidentify (files to a folder): the command line calls core directly ---------------
from ..core.dicom.tofolder import STAGING_PREFIX, DeidentifiedFile, deidentify_to_folder  # noqa: E402,F401


# -- open: several parts of one study (services/dicom_parts.py) ------------------------------
from .dicom_parts import Reassembled, ReassemblyCancelled, has_manifest, reassemble  # noqa: E402,F401 (the old home)


# -- compose with --deidentify / --compress / --split ----------------------------------------


def split_limit(stores: object | None, sender: str | None, explicit: int | None) -> int:
    """The size every part must stay under: given, else the mail account's, else 25 MB."""
    if explicit:
        return explicit
    if stores is not None:
        try:
            accounts = stores.accounts.list()  # type: ignore[attr-defined]
            wanted = [a for a in accounts if sender and a.email in sender.lower()] or list(accounts)
            if wanted:
                return int(wanted[0].size_limit)
        except Exception:  # no account set up: the common default
            pass
    return DEFAULT_SPLIT_LIMIT


def compose_dicom(request: ComposeInput, ask_passphrase: AskPassphrase | None, *, stores: Stores | None = None,
                  progress: Callable[[int, int], None] | None = None, cancelled: Callable[[], bool] | None = None,
                  extra: tuple[Attachment, ...] = ()) -> ComposeOutcome:
    """compose_message for DICOM options: prepare the files in a private temporary folder,
    then write one message (core/compose.py) or, with ``split``, the parts (core/dicom/split.py).

    What each message discloses is remembered for the disclosure log while the files that
    travel still exist: their own DICOM fields ("de-identified" for de-identified copies), and
    for a split study each part's files, as part "k of N"."""
    from dataclasses import replace

    from ..core.dicom.split import SplitError, compose_parts
    from .compose import ComposeOutcome, build_request, remember, write_message

    if request.split and request.bcc:
        raise SplitError("A split study cannot have Bcc recipients; send it to To/Cc recipients only.")
    with scratch_folder() as scratch:
        # While the copies are made: progress(-files done, files) (FILES_PROGRESS); then bytes.
        files_progress = (lambda done, total: progress(-done, total)) if progress is not None else None
        prep = prepare(request.attachments, Path(scratch), deidentify=request.deidentify,  # type: ignore[arg-type]
                       compress=request.compress, fileset=not request.split, progress=files_progress, cancelled=cancelled)
        base, warnings, terms = build_request(request, ask_passphrase, stores=stores,
                                              attachments=(*prep.attachments, *extra), terms_from=prep.originals)
        if not request.split:
            outcome = write_message(request, base, warnings, terms, progress=progress, cancelled=cancelled)
            outcome = replace(outcome, notes=prep.notes)
            try:
                remember(stores, request, base, outcome, files=(*prep.disclosed(), *prep.disclosed(extra)))
            except BaseException:
                _remove_written([outcome.result, *(c.result for c in outcome.bcc_copies)])
                raise
            return outcome
        from ..core.privacy import subject_warnings

        limit = split_limit(stores, base.sender, request.size_limit)
        parts = compose_parts(base, (*prep.attachments, *extra), limit, Path(request.out), Path(scratch) / "manifests",
                              study=prep.study, progress=progress, cancelled=cancelled)
        results = tuple(p.result for p in parts)
        notes = (*prep.notes, f"The study was split into {len(parts)} messages, each under {limit / 1e6:.0f} MB.")
        all_warnings = (*warnings, *results[0].warnings, *subject_warnings(request.subject, tuple(terms)))
        outcome = ComposeOutcome(result=results[0], warnings=tuple(all_warnings), parts=results, notes=notes)
        try:
            for number, part in enumerate(parts, start=1):
                remember(stores, request, base, replace(outcome, result=part.result), files=prep.disclosed(part.files),
                         part=f"{number} of {len(parts)}")
        except BaseException:
            _remove_written(results)
            raise
        return outcome


def _remove_written(results: Sequence[object]) -> None:
    """A message whose disclosure could not be remembered is not left behind half-accounted."""
    for result in results:
        Path(result.path).unlink(missing_ok=True)  # type: ignore[attr-defined]

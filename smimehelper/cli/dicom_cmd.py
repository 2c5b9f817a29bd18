"""``smimehelper dicom info`` and ``smimehelper dicom deidentify``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .commands import HELP
from .output import emit_json, printable, say, warn
from . import exit_codes


def add_deid_options(p: argparse.ArgumentParser) -> None:
    """The PS3.15 options, shared by ``dicom deidentify`` and ``compose --deidentify``."""
    dates = p.add_mutually_exclusive_group()
    dates.add_argument("--keep-dates", action="store_true", help="keep dates and times as they are (Retain Longitudinal Temporal Information Full Dates)")
    dates.add_argument("--shift-dates", action="store_true", help="move every date back by the same random number of days (Retain Longitudinal Temporal Information Modified Dates)")
    p.add_argument("--keep-patient-characteristics", action="store_true", help="keep sex, age, size, weight... (Retain Patient Characteristics)")
    p.add_argument("--keep-device-identity", action="store_true", help="keep the x-ray unit's name and serial number (Retain Device Identity)")
    p.add_argument("--clean-descriptors", action="store_true", help="keep study and series descriptions with the patient's name and IDs cut out (Clean Descriptors)")
    p.add_argument("--keep-safe-private", action="store_true", help="keep manufacturers' private numeric attributes known to be safe (Retain Safe Private)")


def deid_options(args: argparse.Namespace) -> object:
    from ..core.dicom.annex_e import DeidOptions

    return DeidOptions(
        keep_dates=args.keep_dates, shift_dates=args.shift_dates,
        keep_patient_characteristics=args.keep_patient_characteristics,
        keep_device_identity=args.keep_device_identity, clean_descriptors=args.clean_descriptors,
        keep_safe_private=args.keep_safe_private,
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("dicom", help=HELP["dicom"], description="DICOM files embed the patient's name, "
                              "birth date and IDs; renaming a file hides nothing. See what they carry, and remove it.")
    commands = p.add_subparsers(dest="dicom_command", metavar="SUBCOMMAND")
    commands.required = True
    info = commands.add_parser("info", help="show what identifies the patient in DICOM files",
                               description="Print patient name, ID, birth date, sex, study date and description, "
                               "institution and referring physician of each file, and warn about text burned into images.")
    info.add_argument("files", nargs="+", type=Path, metavar="FILE")
    info.add_argument("--json", action="store_true", help="print the result as JSON")
    info.set_defaults(handler=run_info)
    deid = commands.add_parser("deidentify", help="write copies without patient details (DICOM PS3.15)",
                               description="Write de-identified copies (DICOM PS3.15 Basic Application Level "
                               "Confidentiality Profile) into DIR as IMG00001.dcm... The originals are never changed. "
                               "UIDs are replaced consistently across all files given.")
    deid.add_argument("inputs", nargs="+", type=Path, metavar="IN", help="DICOM files or folders of them")
    deid.add_argument("-o", "--output", required=True, type=Path, metavar="DIR", help="folder for the copies (created if missing)")
    add_deid_options(deid)
    deid.add_argument("--json", action="store_true", help="print the result as JSON")
    deid.set_defaults(handler=run_deidentify)


def run_info(args: argparse.Namespace) -> int:
    from ..core.dicom.summary import summarize

    summaries = [summarize(path) for path in args.files]
    if args.json:
        emit_json({"files": [s.as_json() for s in summaries]})
        return exit_codes.OK
    labels = (("Patient", "patient_name"), ("Patient ID", "patient_id"), ("Birth date", "birth_date"), ("Sex", "sex"),
              ("Study date", "study_date"), ("Study", "study_description"), ("Institution", "institution"),
              ("Referring", "referring_physician"), ("Modality", "modality"), ("Kind", "sop_class"))
    for index, s in enumerate(summaries):
        if index:
            say("")
        say(f"{printable(str(s.path))}:")
        if s.deidentified:
            say("  Patient details were removed from this file (PatientIdentityRemoved: YES).")
        for label, attr in labels:
            value = getattr(s, attr)
            say(f"  {label + ':':<13}{printable(value) if value else '(none)'}")
        if s.frames > 1:
            say(f"  {'Frames:':<13}{s.frames}")
        if s.warning:
            warn(f"{s.path.name}: {s.warning}")
    return exit_codes.OK


def run_deidentify(args: argparse.Namespace) -> int:
    from ..core.dicom.tofolder import deidentify_to_folder  # not services.dicom: its MIME imports are not needed

    done = deidentify_to_folder(args.inputs, args.output, deid_options(args))  # SIGTERM: like Ctrl-C (cli.main)
    if args.json:
        emit_json({"files": [{"source": str(d.source), "output": str(d.output)} for d in done]})
    else:
        for d in done:
            say(f"{printable(str(d.source))} -> {printable(str(d.output))}")
        say(f"Wrote {len(done)} de-identified file(s) to {printable(str(args.output))}. The originals are unchanged.")
    return exit_codes.OK

"""``smimehelper log``: the disclosure log (list, verify, export, forward)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from .. import services
from ..core.errors import UserError
from . import exit_codes
from .commands import HELP
from .output import emit_json, printable, say, warn
from .prompt import passphrase_asker


def _date(text: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-01-31") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def register(subparsers: argparse._SubParsersAction) -> None:
    log = subparsers.add_parser("log", help=HELP["log"], description=(
        "Every transfer smimehelper makes is recorded before it leaves: when, from whom, to whom, how, "
        "which files (SHA-256, DICOM patient and study) and why, then its outcome. Entries are chained by "
        "SHA-256 and the chain is signed with your certificate; nothing deletes them."))
    sub = log.add_subparsers(dest="log_command", metavar="ACTION", required=True)
    lst = sub.add_parser("list", help="the transfers, newest last")
    lst.add_argument("--patient", metavar="TEXT", help="only transfers of a patient (name or ID, any part)")
    lst.add_argument("--since", type=_date, metavar="YYYY-MM-DD")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=run_list)
    ver = sub.add_parser("verify", help="check that no entry was changed, removed, reordered or added; exit 1 if one was")
    ver.add_argument("--sign", action="store_true", help="sign a checkpoint of the log's current state first")
    ver.add_argument("--passphrase-file", type=Path, metavar="FILE", help="your key's passphrase (for --sign), else asked")
    ver.add_argument("--json", action="store_true")
    ver.set_defaults(handler=run_verify)
    exp = sub.add_parser("export", help="one patient's accounting of disclosures as CSV or PDF")
    exp.add_argument("--patient", required=True, metavar="ID", help="the patient ID (DICOM Patient ID or the reference logged)")
    out = exp.add_mutually_exclusive_group(required=True)
    out.add_argument("--csv", type=Path, metavar="FILE.csv")
    out.add_argument("--pdf", type=Path, metavar="FILE.pdf")
    exp.add_argument("--practice", metavar="NAME", help="the practice name printed on it (remembered)")
    exp.add_argument("--since", type=_date, metavar="YYYY-MM-DD")
    exp.add_argument("--until", type=_date, metavar="YYYY-MM-DD")
    exp.add_argument("--passphrase-file", type=Path, metavar="FILE", help="your key's passphrase (the export signs a checkpoint)")
    exp.set_defaults(handler=run_export)
    fwd = sub.add_parser("forward", help="send every entry to the practice's log server (syslog over TLS, RFC 5425)")
    fwd.add_argument("--host", help="the log server (set up once; then every entry is sent)")
    fwd.add_argument("--port", type=int, default=6514, help="its port (default 6514)")
    fwd.add_argument("--cafile", type=Path, metavar="CA.pem", help="the authority that issued the server's certificate (default: the system's)")
    fwd.add_argument("--off", action="store_true", help="stop forwarding")
    fwd.add_argument("--status", action="store_true", help="show the set-up and how many entries wait")
    fwd.set_defaults(handler=run_forward)


def _view_json(view) -> dict:  # type: ignore[no-untyped-def]
    t = view.transfer
    return {
        "id": view.id, "seq": view.entry.seq, "time": view.entry.time, "state": view.state, "reply": view.reply,
        "sender": t.sender.to_data(), "recipients": [r.to_data() for r in t.recipients], "method": t.method,
        "via": t.via, "part": t.part, "purpose": t.purpose, "message_id": t.message_id,
        "files": [f.to_data() for f in t.files], "patients": list(t.patients),
        "outcomes": [{"time": o.time, "outcome": o.outcome, "reply": o.reply, "note": o.note} for o in view.outcomes],
    }


def run_list(args: argparse.Namespace) -> int:
    from ..services.disclosure_log import list_transfers

    views = list_transfers(services.Stores.open(args.home), patient=args.patient, since=args.since)
    if args.json:
        emit_json({"transfers": [_view_json(v) for v in views]})
        return exit_codes.OK
    if not views:
        say("No transfer recorded" + (" for that patient." if args.patient else "."))
    for view in views:
        t = view.transfer
        to = ", ".join(str(r) for r in t.recipients)
        say(f"{view.entry.time.replace('T', ' ')}  {view.state:10} to {printable(to)}")
        say(f"    {printable(t.method_words())}; purpose: {printable(t.purpose)}" + (f"; part {t.part}" if t.part else ""))
        for f in t.files:
            extra = f" - {f.dicom.words()}" if f.dicom else ""
            say(f"    {printable(f.name)} ({f.content_type}){printable(extra)}")
        if view.reply:
            say(f"    server: {printable(view.reply)}")
    return exit_codes.OK


def run_verify(args: argparse.Namespace) -> int:
    from ..services.disclosure_log import verify

    stores = services.Stores.open(args.home)
    result = verify(stores, sign=args.sign, ask_passphrase=passphrase_asker(args.passphrase_file))
    if args.json:
        bad = result.first_bad
        emit_json({
            "ok": result.ok, "entries": result.entries, "unsigned_after_last_checkpoint": result.unsigned_after,
            "first_bad": None if bad is None else {"seq": bad.seq, "line": bad.line, "problem": bad.problem},
            "problems": [{"seq": f.seq, "line": f.line, "problem": f.problem} for f in result.findings],
            "checkpoints": [{"name": c.name, "seq": c.seq, "signed_at": c.signed_at, "signer": c.signer,
                             "valid": c.valid, "reason": c.reason} for c in result.checkpoints],
            "notes": list(result.notes),
        })
        return exit_codes.OK if result.ok else exit_codes.SECURITY_FAILED
    for note in result.notes:
        warn(note)
    if not result.ok:
        bad = result.first_bad
        assert bad is not None
        say(f"The disclosure log does NOT verify. First bad entry: {bad.seq}" + (f" (line {bad.line})" if bad.line else "") + ".")
        for finding in result.findings:
            say(f"  - {finding.problem}")
        return exit_codes.SECURITY_FAILED
    valid = [c for c in result.checkpoints if c.valid]
    say(f"The disclosure log verifies: {result.entries} entries, each chained to the one before, none missing.")
    if valid:
        last = valid[-1]
        say(f"Last signed checkpoint: entry {last.seq}, signed {last.signed_at} by {printable(last.signer)}"
            + (f"; {result.unsigned_after} entries since." if result.unsigned_after else "."))
    return exit_codes.OK


def run_export(args: argparse.Namespace) -> int:
    from ..services.disclosure_log import export_accounting

    stores = services.Stores.open(args.home)
    target, kind = (args.csv, "csv") if args.csv is not None else (args.pdf, "pdf")
    done = export_accounting(stores, args.patient, target, kind=kind, ask_passphrase=passphrase_asker(args.passphrase_file),
                             practice=args.practice, since=args.since, until=args.until)
    count = len(done.report.transfers)
    if not done.verification.ok:
        warn("The disclosure log does not verify (see 'smimehelper log verify'); the export says so.")
    say(f"Wrote {done.path}: {count} disclosure{'s' if count != 1 else ''} of patient {printable(args.patient)}.")
    return exit_codes.OK if done.verification.ok else exit_codes.SECURITY_FAILED


def run_forward(args: argparse.Namespace) -> int:
    from ..core.disclosure.forward import ForwardConfig
    from ..services import disclosure_log as dlog

    stores = services.Stores.open(args.home)
    if args.off:
        dlog.configure_forward(stores, None)
        say("Entries are no longer sent to a log server.")
        return exit_codes.OK
    if args.host:
        dlog.configure_forward(stores, ForwardConfig(args.host, args.port, str(args.cafile) if args.cafile else None))
        say(f"Every entry is now also sent to {args.host}:{args.port} (syslog over TLS).")
    elif args.cafile is not None:
        raise UserError("Give the log server with --host as well.")
    config = dlog.forward_settings(stores)
    if config is None:
        say("No log server is set up. Set one up with 'smimehelper log forward --host HOST --cafile CA.pem'.")
        return exit_codes.OK if args.status else exit_codes.BAD_INPUT
    if args.status:
        waiting = dlog.forward_pending(stores)
        say(f"Log server: {config.where()}" + (f", authority {config.cafile}" if config.cafile else ", the system's authorities")
            + f". {waiting} entr{'y' if waiting == 1 else 'ies'} waiting.")
        return exit_codes.OK
    result = dlog.forward_now(stores)
    if result.busy:
        say("Another smimehelper is sending to the log server right now; the entries go with it.")
        return exit_codes.OK
    if result.problem:
        warn(result.problem)
        say(f"{result.pending} entr{'y' if result.pending == 1 else 'ies'} wait in the spool and are sent at the next transfer or 'smimehelper log forward'.")
        return exit_codes.DELIVERY_INCOMPLETE
    say(f"Sent {result.sent} entr{'y' if result.sent == 1 else 'ies'} to {config.where()}; none waiting.")
    return exit_codes.OK

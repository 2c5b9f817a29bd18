"""PS3.15 Annex E Table E.1-1: which action applies to an attribute under the chosen options.

Why two sources: the Basic Profile column is Kitware's dicom-anonymizer table, scraped from the
current edition of the standard by its maintainers (``dicomfields_2026c``); the option columns
come from innolitics' machine-readable extraction of the same table (annex_e_options.py,
generated). Neither is typed by hand. An attribute that a newer edition added is in the first
but may be missing from the second: then the Basic Profile action applies, which only ever
removes more, never less.

Compound codes are resolved without knowing the IOD's attribute types, always towards the
choice that leaks nothing and keeps the file valid for viewers: X/Z, Z/D and X/Z/D empty the
value (Z), X/D writes a dummy (D), X/Z/U* keeps the sequence and replaces every UID inside it.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass

from .annex_e_options import OPTION_ACTIONS

# Annex E edition of the Basic Profile column (a module of dicom-anonymizer).
BASIC_TABLE_MODULE = "dicomanonymizer.dicom_anonymization_databases.dicomfields_2026c"

_LISTS = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}
_RESOLVED = {"X/Z": "Z", "Z/D": "Z", "X/Z/D": "Z", "X/D": "D", "X/Z/U*": "U*"}


@dataclass(frozen=True)
class DeidOptions:
    """The PS3.15 options a clinician may choose (all off = the Basic Profile alone)."""

    keep_dates: bool = False  # Retain Longitudinal Temporal Information Full Dates Option
    shift_dates: bool = False  # Retain Longitudinal Temporal Information Modified Dates Option
    keep_patient_characteristics: bool = False  # Retain Patient Characteristics Option
    keep_device_identity: bool = False  # Retain Device Identity Option
    clean_descriptors: bool = False  # Clean Descriptors Option
    keep_safe_private: bool = False  # Retain Safe Private Option

    def __post_init__(self) -> None:
        if self.keep_dates and self.shift_dates:
            raise ValueError("keep_dates and shift_dates exclude each other")

    def enabled(self) -> tuple[str, ...]:
        return tuple(name for name in OPTION_CODES if getattr(self, name))


# CID 7050 codes (DCM) for DeidentificationMethodCodeSequence, in the order PS3.15 lists them.
BASIC_CODE = ("113100", "Basic Application Confidentiality Profile")
OPTION_CODES: dict[str, tuple[str, str]] = {
    "clean_descriptors": ("113105", "Clean Descriptors Option"),
    "keep_dates": ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
    "shift_dates": ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    "keep_patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
    "keep_device_identity": ("113109", "Retain Device Identity Option"),
    "keep_safe_private": ("113111", "Retain Safe Private Option"),
}


def _table_module() -> object:
    """dicom-anonymizer's table module, loaded from its file on its own: importing it the usual
    way runs the package's ``__init__``, which imports pydicom and numpy (0.3 s) for a module
    of plain lists. Falls back to the usual import if the file is not where the package is."""
    import importlib
    import importlib.util
    import sys

    if BASIC_TABLE_MODULE in sys.modules:
        return sys.modules[BASIC_TABLE_MODULE]
    package, _, rest = BASIC_TABLE_MODULE.partition(".")
    spec = importlib.util.find_spec(package)  # finds the package without running it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, *rest.split(".")) + ".py"
        if os.path.isfile(path):
            table_spec = importlib.util.spec_from_file_location(f"_smimehelper_annex_e_{rest.rsplit('.', 1)[-1]}", path)
            if table_spec is not None and table_spec.loader is not None:
                module = importlib.util.module_from_spec(table_spec)
                table_spec.loader.exec_module(module)
                return module
    return importlib.import_module(BASIC_TABLE_MODULE)


@functools.lru_cache(maxsize=1)
def basic_table() -> tuple[dict[int, str], tuple[tuple[int, int, str], ...]]:
    """(exact tags -> code, (value, mask, code) for repeating groups such as 50xx and 60xx)."""
    module = _table_module()
    exact: dict[int, str] = {}
    masked: list[tuple[int, int, str]] = []
    for name, code in _LISTS.items():
        for entry in getattr(module, name):
            if len(entry) == 2:
                exact[(entry[0] << 16) | entry[1]] = code
            else:
                group, element, gmask, emask = entry
                masked.append(((group << 16) | element, (gmask << 16) | emask, code))
    return exact, tuple(masked)


def _unlisted(tag: int) -> str:
    """Standard attributes the table does not list are retained (PS3.15 E.3); a tag the DICOM
    dictionary does not define at all is removed, as private ones are. Nobody can say what such
    a value holds: in a damaged or hand-edited file it is often a patient's name whose tag got
    garbled (found by fuzzing: both engines kept it). So are the retired repeating groups (ACR-NEMA
    compression tables, curves, Zonal Map: "1010xxxx" matches every tag of its group, so a garbled
    tag lands there and its value, called UN, could not be checked). Group lengths stay."""
    if tag & 0xFFFF == 0:
        return "K"
    exact, current, _retired = standard_tags()
    if tag in exact or any(tag & mask == value for value, mask in current):
        return "K"
    return "X"


def _dictionary_module() -> object:
    """pydicom's data dictionary module, loaded from its file on its own (5 ms from its cached
    bytecode): the byte-level engine must not pay for importing pydicom (0.25 s)."""
    return pydicom_file_module("_dicom_dict")


def pydicom_file_module(name: str) -> object:
    """A data module of pydicom (``_dicom_dict``, ``_uid_dict``) loaded from its file without
    importing pydicom itself."""
    import importlib
    import importlib.util
    import sys

    if f"pydicom.{name}" in sys.modules:
        return sys.modules[f"pydicom.{name}"]
    if f"_smimehelper{name}" in sys.modules:
        return sys.modules[f"_smimehelper{name}"]
    spec = importlib.util.find_spec("pydicom")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, f"{name}.py")
        if os.path.isfile(path):
            file_spec = importlib.util.spec_from_file_location(f"_smimehelper{name}", path)
            if file_spec is not None and file_spec.loader is not None:
                module = importlib.util.module_from_spec(file_spec)
                file_spec.loader.exec_module(module)
                sys.modules[f"_smimehelper{name}"] = module
                return module
    return importlib.import_module(f"pydicom.{name}")


_Masks = tuple[tuple[int, int], ...]


@functools.lru_cache(maxsize=1)
def standard_tags() -> tuple[frozenset[int], _Masks, _Masks]:
    """(every tag the DICOM dictionary defines, (value, mask) of its current repeating groups such
    as 60xx3000, and of its retired ones such as 50xx3000), from pydicom's copy of PS3.6."""
    module = _dictionary_module()
    current, retired = [], []
    for pattern, entry in module.RepeatersDictionary.items():  # e.g. "60xx3000": x is any hex digit
        value = int(pattern.replace("x", "0"), 16)
        mask = int("".join("0" if c == "x" else "F" for c in pattern), 16)
        (retired if entry[3] == "Retired" else current).append((value, mask))
    return frozenset(module.DicomDictionary), tuple(current), tuple(retired)


def _current_repeaters() -> dict[int, tuple[str, str]]:
    """Every tag of the current repeating groups (overlays: 60xx) -> (VR, VM), so their values are
    checked as any other (the retired groups are removed, so need no rules)."""
    tags: dict[int, tuple[str, str]] = {}
    for pattern, entry in _dictionary_module().RepeatersDictionary.items():  # type: ignore[attr-defined]
        if entry[3] == "Retired":
            continue
        holes = pattern.count("x")
        for n in range(16 ** holes):
            digits = iter(f"{n:0{holes}X}")
            tags[int("".join(next(digits) if c == "x" else c for c in pattern), 16)] = (entry[0], entry[1])
    return tags


_ASCII_MAX = {"AE": 16, "AS": 4, "CS": 16, "DA": 10, "DS": 16, "DT": 26, "IS": 12, "TM": 16, "UI": 64}
_CHARACTERS_MAX = {"SH": 16, "LO": 64, "PN": 3 * 64 + 2, "ST": 1024, "LT": 10240}
_BINARY_SIZE = {"US": 2, "SS": 2, "UL": 4, "SL": 4, "FL": 4, "FD": 8, "AT": 4, "UV": 8, "SV": 8}


@functools.lru_cache(maxsize=1)
def value_rules() -> dict[int, tuple[frozenset[str], int]]:
    """Tag -> (the VRs PS3.6 defines for it, the most bytes its value may take or 0 for no
    bound). The bound is for attributes of one value (VM 1) whose VR bounds the length (PS3.5
    Table 6.2-1): text up to 4 bytes a character plus room for character set switches; padded
    to even."""
    shared: dict[tuple[str, bool], tuple[frozenset[str], int]] = {}  # a few dozen kinds for 5,000 tags

    def rule(vr: str, single: bool) -> tuple[frozenset[str], int]:
        limit = 0
        if single:
            if vr in _ASCII_MAX:
                limit = _ASCII_MAX[vr]
            elif vr in _CHARACTERS_MAX:
                limit = _CHARACTERS_MAX[vr] * 4 + 64
            elif vr in _BINARY_SIZE:
                limit = _BINARY_SIZE[vr]
        vrs = frozenset(part.strip() for part in vr.split(" or ")) if vr and vr != "NONE" else frozenset()
        return (vrs | {"UN"} if vrs else frozenset(), limit + (limit & 1))

    rules: dict[int, tuple[frozenset[str], int]] = {}
    defined = {tag: (entry[0], entry[1]) for tag, entry in _dictionary_module().DicomDictionary.items()}  # type: ignore[attr-defined]
    for tag, (vr, vm) in {**_current_repeaters(), **defined}.items():
        key = (vr, vm == "1")
        found = shared.get(key)
        if found is None:
            found = shared[key] = rule(*key)
        rules[tag] = found
    return rules


_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 12, 13, 27))  # text may hold TAB, LF, FF, CR, ESC
_CONTROL_CHARACTER = re.compile(b"[" + re.escape(_CONTROL) + b"]")
TEXT_CHECKED = frozenset(_ASCII_MAX) | frozenset(_CHARACTERS_MAX) | {"UC", "UT", "UR"}


_REPERTOIRE = {  # PS3.5 Table 6.2-1: the characters these VRs may hold (backslash between values; lower case
    # CS and DA with slashes are tolerated: written by old devices, harmless)
    vr: re.compile(pattern) for vr, pattern in {
        "AS": rb"(\d{3}[DWMY])?", "CS": rb"[A-Za-z0-9 _\\]*", "DA": rb"[0-9./\- \\]*", "DS": rb"[0-9+\-Ee. \\]*",
        "DT": rb"[0-9+\-&. \\]*", "IS": rb"[0-9+\- \\]*", "TM": rb"[0-9.: \\]*", "UI": rb"[0-9.\\]*",
    }.items()
}


def controls_inside(buf: bytes, start: int, end: int) -> bool:
    """Whether the text ``buf[start:end]`` holds a control character before its padding (NULs or
    spaces). A text value that swallowed the attributes after it always does: their headers
    hold NUL bytes (groups below 0100) and small lengths (found by fuzzing: a Manufacturer 53
    bytes long, within LO's 64, held the Institution Name after it)."""
    found = _CONTROL_CHARACTER.search(buf, start, end)
    return found is not None and bool(buf[found.start():end].strip(b"\0 "))


def implausible(tag: int, vr: str | None, length: int, value: bytes | None = None) -> str | None:
    """Why a value to be kept cannot be what its attribute holds, or None. Found by fuzzing:
    a damaged length field makes a value swallow the attributes after it (a patient's name
    among them), a damaged VR or tag makes the rest of the file read as other attributes; both
    engines kept such values. ``vr`` None: the file does not state it (implicit VR)."""
    rule = value_rules().get(tag)
    where = f"attribute ({tag >> 16:04X},{tag & 0xFFFF:04X})"
    if rule is None:
        return f"{where} is not a File Meta attribute" if tag >> 16 == 2 else None
    vrs, limit = rule
    if vr is not None and vrs and vr not in vrs:
        return f"{where} says it holds {vr}; DICOM defines it as {' or '.join(sorted(vrs - {'UN'}))}"
    if limit and length != 0xFFFFFFFF and length > limit:
        return f"{where} is {length} bytes long; DICOM allows at most {limit}"
    stated = vr if vr is not None else next(iter(vrs - {"UN"})) if len(vrs) == 2 else None
    if value is not None and stated in TEXT_CHECKED and controls_inside(value, 0, len(value)):
        return f"{where} holds control characters where DICOM allows only text"
    if value is not None and vr is None and stated in _REPERTOIRE:  # implicit VR: nothing says this value is one
        if _REPERTOIRE[stated].fullmatch(value.rstrip(b"\0 ").lstrip(b" ")) is None:
            return f"{where} holds characters that a {stated} value cannot hold"
    return None


def basic_action(tag: int) -> str | None:
    """The Basic Profile code of a (public) tag as the table writes it; None if not listed."""
    exact, masked = basic_table()
    code = exact.get(tag)
    if code is not None:
        return code
    for value, mask, masked_code in masked:
        if tag & mask == value & mask:
            return masked_code
    return None


@functools.lru_cache(maxsize=8192)
def _resolve(tag: int, enabled: tuple[str, ...]) -> str:
    basic = basic_action(tag)
    if basic is None:
        return _unlisted(tag)
    codes = [OPTION_ACTIONS[name].get(tag) for name in enabled if name in OPTION_ACTIONS]
    if "K" in codes:
        return "K"
    if "C" in codes:
        return "C"
    return _RESOLVED.get(basic, basic)


def action_for(tag: int, options: DeidOptions) -> str:
    """One of K (keep), X (remove), Z (empty), D (dummy), U (new UID), U* (UIDs inside), C (clean)."""
    return _resolve(tag, options.enabled())


class ActionTable:
    """:func:`action_for` for one set of options, precomputed by tag: a dict lookup per
    attribute instead of walking the option columns (a study is hundreds of files of about a
    hundred attributes each). Tags of the repeating groups (50xx, 60xx...) and tags the table
    does not list are resolved once and remembered."""

    def __init__(self, options: DeidOptions) -> None:
        enabled = options.enabled()
        exact, masked = basic_table()
        standard_tags()  # loaded once here, before any helper process is forked
        value_rules()
        self._enabled = enabled
        self._masks = tuple({mask for _, mask, _ in masked})
        self._masked = {value & mask for value, mask, _ in masked}
        self._actions: dict[int, str] = {tag: _resolve(tag, enabled) for tag in exact}

    def known(self) -> dict[int, str]:
        """The actions resolved so far, by tag (a dict lookup before calling the table)."""
        return self._actions

    def __call__(self, tag: int) -> str:
        action = self._actions.get(tag)
        if action is None:
            action = _resolve(tag, self._enabled) if any(tag & m in self._masked for m in self._masks) else _unlisted(tag)
            self._actions[tag] = action
        return action

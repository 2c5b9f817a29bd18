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
        return "K"  # standard attributes the table does not list are retained (PS3.15 E.3)
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
            action = _resolve(tag, self._enabled) if any(tag & m in self._masked for m in self._masks) else "K"
            self._actions[tag] = action
        return action

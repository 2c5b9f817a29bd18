"""What two de-identified copies contain, as pydicom parses them: for comparing the byte-level
engine with the pydicom engine element by element (tags, VRs, values, nested items)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pydicom


def contents(path: Path) -> dict[str, Any]:
    """Preamble, File Meta and dataset of ``path`` (pixel data included) as plain values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        return {"preamble": ds.preamble, "meta": _elements(ds.file_meta), "dataset": _elements(ds)}


def _elements(ds: Any) -> list[tuple[str, str, Any]]:
    found = []
    for elem in ds:  # converts raw elements; in tag order
        if elem.VR == "SQ":
            value: Any = [_elements(item) for item in elem.value]
        else:
            value = _plain(elem.value)
        found.append((str(elem.tag), elem.VR, value))
    return found


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if type(value).__name__ == "MultiValue" or isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return (type(value).__name__, str(value))


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Where ``a`` and ``b`` differ, in words (empty when equivalent)."""
    found = []
    if a["preamble"] != b["preamble"]:
        found.append("preamble")
    for part in ("meta", "dataset"):
        found += _compare(a[part], b[part], part)
    return found


def _compare(a: list[Any], b: list[Any], where: str) -> list[str]:
    found = []
    tags_a, tags_b = [e[0] for e in a], [e[0] for e in b]
    if tags_a != tags_b:
        return [f"{where}: elements {sorted(set(tags_a) ^ set(tags_b))} in one only"]
    for (tag, vr_a, value_a), (_, vr_b, value_b) in zip(a, b):
        if vr_a != vr_b:
            found.append(f"{where} {tag}: VR {vr_a} vs {vr_b}")
        elif vr_a == "SQ":
            if len(value_a) != len(value_b):
                found.append(f"{where} {tag}: {len(value_a)} vs {len(value_b)} items")
            else:
                for number, (item_a, item_b) in enumerate(zip(value_a, value_b)):
                    found += _compare(item_a, item_b, f"{where} {tag}[{number}]")
        elif value_a != value_b:
            found.append(f"{where} {tag}: {str(value_a)[:80]!r} vs {str(value_b)[:80]!r}")
    return found


"""Which private attributes the Retain Safe Private Option keeps.

PS3.15 E.3.10 lets a de-identifier keep private attributes "known to be safe from identity
leakage" (Table E.3.10-1 lists some). No maintained package ships that table in a form we can
import, so we keep a stricter, mechanical rule instead of typing the list: a private attribute
is kept only when pydicom's private dictionary (generated from the manufacturers' conformance
statements, via GDCM) knows its private creator and element, and declares it a binary number
(US, SS, UL, SL, FL, FD) and the file stores it as such. Binary numbers cannot hold a name, an
ID or a text date; anything textual, a sequence, a blob or an unknown creator is removed.
"""

from __future__ import annotations

from typing import Any

SAFE_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD"})
MAX_BYTES = 1024  # a few acquisition numbers, not a hidden table


def is_safe_private(ds: Any, elem: Any) -> bool:
    """Whether private element ``elem`` of dataset ``ds`` may be kept."""
    from pydicom.datadict import private_dictionary_VR

    tag = elem.tag
    if not tag.is_private or tag.is_private_creator or tag.element < 0x1000:
        return False
    creator = ds.get((tag.group << 16) | (tag.element >> 8))
    if creator is None or not isinstance(creator.value, str):
        return False
    try:
        known_vr = private_dictionary_VR(tag, creator.value.strip())
    except KeyError:
        return False
    if known_vr not in SAFE_VRS:
        return False
    if elem.VR not in SAFE_VRS and elem.VR != "UN":
        return False
    length = getattr(elem, "length", 0) or 0
    return length <= MAX_BYTES

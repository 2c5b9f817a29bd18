"""The app is MPL-2.0 and ships with its dependencies: none of them may be GPL-only.

Walks the installed runtime dependency tree of smimehelper (not the test extra) and reads each
distribution's licence metadata. A GPL licence is acceptable only with a lesser or permissive
alternative (PySide6: "LGPL-3.0-only OR GPL-..."; fpdf2: LGPL). pylibjpeg-libjpeg (GPL-3.0)
was replaced for this reason (docs/dicom.md, Licences).
"""

from __future__ import annotations

import importlib.metadata as md
import re

from packaging.requirements import Requirement

GPL = re.compile(r"\bA?GPL\b|GNU (Affero )?General Public", re.I)
LESSER = re.compile(r"\bLGPL\b|Lesser|Library General", re.I)


def _licence(dist: md.Distribution) -> str:
    meta = dist.metadata
    parts = [meta.get("License-Expression") or "", (meta.get("License") or "")[:200]]
    parts += [c for c in meta.get_all("Classifier") or [] if c.startswith("License")]
    return " | ".join(p for p in parts if p)


def runtime_tree() -> dict[str, str]:
    found: dict[str, str] = {}

    def walk(name: str) -> None:
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            return
        dist = md.distribution(name)  # PackageNotFoundError: a declared dependency is missing
        found[key] = _licence(dist)
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                walk(req.name)

    walk("smimehelper")
    return found


def test_no_gpl_only_runtime_dependency() -> None:
    tree = runtime_tree()
    assert "pydicom" in tree and "python-gdcm" in tree and "pylibjpeg-libjpeg" not in tree
    bad = {name: text for name, text in tree.items() if GPL.search(text) and not LESSER.search(text)}
    assert not bad, f"GPL-only runtime dependencies (the app is MPL-2.0): {bad}"


def test_the_check_would_catch_gpl() -> None:
    assert GPL.search("GPL-3.0-or-later") and not LESSER.search("GPL-3.0-or-later")
    assert GPL.search("License :: OSI Approved :: GNU General Public License v3 (GPLv3)")
    assert LESSER.search("LGPL-3.0-only OR GPL-2.0-only")

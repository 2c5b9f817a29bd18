"""Find the user's Thunderbird profile (profiles.ini / installs.ini) and the program that uses it.

Thunderbird keeps one folder with ``profiles.ini`` per kind of installation: the Linux
package or tarball (``~/.thunderbird``), the Snap and the Flatpak (their own sandboxed
homes), Windows (``%APPDATA%\\Thunderbird``) and macOS (``~/Library/Thunderbird``). The
profile Thunderbird really opens is the install's default in ``installs.ini`` (or the
``[Install...]`` section of profiles.ini); ``Default=1`` in a ``[Profile]`` section is only
what older versions used -- a fresh Thunderbird 153 writes both and opens the *former*
(measured: a new profile directory has ``Default=1`` on an unused "default" profile).

Only the Linux package is verified by a test with the real program; the other locations
follow Mozilla's documented layout and are marked unverified in docs/interop.md.
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError


class ThunderbirdNotFound(UserError):
    """No Thunderbird profile (or program) on this computer."""


class ProfileChoiceNeeded(UserError):
    """Several Thunderbird profiles and no way to tell which one the user works with."""


@dataclass(frozen=True)
class ProfileRoot:
    """A folder holding profiles.ini, and which kind of Thunderbird installation uses it."""

    kind: str  # "linux", "snap", "flatpak", "windows", "macos"
    path: Path
    verified: bool  # a test drives this kind of installation for real


@dataclass(frozen=True)
class Profile:
    path: Path
    name: str
    root: ProfileRoot


def profile_roots(home: Path | None = None, platform: str | None = None, environ: Mapping[str, str] | None = None) -> list[ProfileRoot]:
    """Where profiles.ini may be, in the order they are preferred, for ``platform``."""
    home = Path.home() if home is None else home
    platform = sys.platform if platform is None else platform
    environ = os.environ if environ is None else environ
    if platform == "win32":
        appdata = environ.get("APPDATA")
        base = Path(appdata) if appdata else home / "AppData" / "Roaming"
        return [ProfileRoot("windows", base / "Thunderbird", False)]
    if platform == "darwin":
        return [ProfileRoot("macos", home / "Library" / "Thunderbird", False)]
    return [
        ProfileRoot("linux", home / ".thunderbird", True),
        ProfileRoot("snap", home / "snap" / "thunderbird" / "common" / ".thunderbird", False),
        ProfileRoot("flatpak", home / ".var" / "app" / "org.mozilla.Thunderbird" / ".thunderbird", False),
    ]


def _read_ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        pass
    except (OSError, configparser.Error) as exc:
        raise ThunderbirdNotFound(f"Thunderbird's profile list {path} cannot be read ({exc}).") from None
    return parser


def _profile_path(root: Path, relative: str, value: str) -> Path:
    if relative.strip() == "1":
        return root.joinpath(*value.replace("\\", "/").split("/"))
    return Path(value)


def profiles_in(root: ProfileRoot) -> tuple[list[Profile], list[Path], list[Path]]:
    """(every profile listed, the installs' defaults, the ``Default=1`` profiles) of ``root``."""
    ini = _read_ini(root.path / "profiles.ini")
    profiles: list[Profile] = []
    by_value: dict[str, Path] = {}
    legacy_defaults: list[Path] = []
    for section in ini.sections():
        if not section.startswith("Profile") or "Path" not in ini[section]:
            continue
        entry = ini[section]
        path = _profile_path(root.path, entry.get("IsRelative", "1"), entry["Path"])
        profiles.append(Profile(path=path, name=entry.get("Name", path.name), root=root))
        by_value[entry["Path"]] = path
        if entry.get("Default", "0").strip() == "1":
            legacy_defaults.append(path)
    installs: list[Path] = []
    sources = [(s, ini[s]) for s in ini.sections() if s.startswith("Install")]
    installs_ini = _read_ini(root.path / "installs.ini")
    sources += [(s, installs_ini[s]) for s in installs_ini.sections()]
    for _, entry in sources:
        value = entry.get("Default")
        if value:
            path = by_value.get(value) or _profile_path(root.path, "1", value)
            if path not in installs:
                installs.append(path)
    return profiles, installs, legacy_defaults


def _last_used_by(profile: Path) -> str | None:
    """The program folder that last opened ``profile`` (compatibility.ini's LastAppDir)."""
    ini = _read_ini(profile / "compatibility.ini")
    if ini.has_section("Compatibility"):
        return ini["Compatibility"].get("LastAppDir")
    return None


def find_profile(
    explicit: Path | None = None,
    *,
    roots: Sequence[ProfileRoot] | None = None,
    program_dir: str | None = None,
) -> Profile:
    """The profile the user's Thunderbird opens (see module doc), or ``explicit``.

    ``program_dir``: the folder of the Thunderbird program that will be started; when
    several installations have a default profile, the one that program last used wins.
    """
    roots = profile_roots() if roots is None else list(roots)
    if explicit is not None:
        explicit = Path(explicit).expanduser()
        if not (explicit / "prefs.js").is_file():
            raise ThunderbirdNotFound(
                f"{explicit} is not a Thunderbird profile folder (it has no prefs.js). In Thunderbird, "
                "Help > Troubleshooting Information > Profile Folder shows the right one."
            )
        kind = next((r for r in roots if explicit.is_relative_to(r.path)), ProfileRoot("custom", explicit.parent, False))
        return Profile(path=explicit, name=explicit.name, root=kind)
    listed: list[Profile] = []
    for root in roots:
        profiles, installs, legacy = profiles_in(root)
        listed.extend(profiles)
        existing = [p for p in installs if (p / "prefs.js").is_file()]
        if not existing:
            existing = [p for p in legacy if (p / "prefs.js").is_file()]
        if not existing:
            usable = [p.path for p in profiles if (p.path / "prefs.js").is_file()]
            existing = usable if len(usable) == 1 else []
        if len(existing) > 1 and program_dir:
            matching = [p for p in existing if _last_used_by(p) == program_dir]
            existing = matching or existing
        if len(existing) == 1:
            chosen = existing[0]
            name = next((p.name for p in profiles if p.path == chosen), chosen.name)
            return Profile(path=chosen, name=name, root=root)
        if len(existing) > 1:
            names = ", ".join(str(p) for p in existing)
            raise ProfileChoiceNeeded(
                f"Thunderbird has several profiles ({names}) and smimehelper cannot tell which one you use. "
                "Choose its folder (on the command line: --thunderbird-profile FOLDER); Thunderbird shows "
                "it under Help > Troubleshooting Information > Profile Folder."
            )
    if listed:
        raise ThunderbirdNotFound(
            "Thunderbird's profile list names no profile that exists on this computer. Start Thunderbird "
            "once and set up your mail account, then try again."
        )
    raise ThunderbirdNotFound(
        "Thunderbird is not set up on this computer (no Thunderbird profile was found). Send the message "
        "with smimehelper itself (Send), or set up your account in Thunderbird first."
    )

"""Finding the Thunderbird profile and reading its settings (no Thunderbird needed: the files
are written the way Thunderbird 153 writes them, as measured in tests/thunderbird)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smimehelper.core.handoff.prefs import ThunderbirdSetupError, identity_for, outbox, read_prefs
from smimehelper.core.handoff.profiles import ProfileChoiceNeeded, ProfileRoot, ThunderbirdNotFound, find_profile, profile_roots


def _root(tmp_path: Path) -> ProfileRoot:
    return ProfileRoot("linux", tmp_path / ".thunderbird", True)


def _profile(root: ProfileRoot, name: str, prefs: str = "") -> Path:
    path = root.path / name
    path.mkdir(parents=True)
    (path / "prefs.js").write_text(prefs, encoding="utf-8")
    return path


def test_the_install_default_wins_over_default_1(tmp_path: Path) -> None:
    """What a fresh Thunderbird 153 writes: Default=1 on an unused "default" profile, and the
    profile it really opens named in [Install...] and installs.ini."""
    root = _root(tmp_path)
    _profile(root, "0f76717s.default")
    used = _profile(root, "67yxp0q7.default-default")
    (root.path / "profiles.ini").write_text(
        "[Profile1]\nName=default\nIsRelative=1\nPath=0f76717s.default\nDefault=1\n\n"
        "[InstallFDC34C9F024745EB]\nDefault=67yxp0q7.default-default\nLocked=1\n\n"
        "[Profile0]\nName=default-default\nIsRelative=1\nPath=67yxp0q7.default-default\n\n"
        "[General]\nStartWithLastProfile=1\nVersion=2\n"
    )
    (root.path / "installs.ini").write_text("[FDC34C9F024745EB]\nDefault=67yxp0q7.default-default\nLocked=1\n")
    found = find_profile(roots=[root])
    assert found.path == used and found.name == "default-default" and found.root.kind == "linux"


def test_older_layouts_absolute_paths_and_a_single_profile(tmp_path: Path) -> None:
    root = _root(tmp_path)
    elsewhere = tmp_path / "elsewhere" / "work"
    elsewhere.mkdir(parents=True)
    (elsewhere / "prefs.js").write_text("")
    root.path.mkdir()
    (root.path / "profiles.ini").write_text(f"[Profile0]\nName=work\nIsRelative=0\nPath={elsewhere}\nDefault=1\n")
    assert find_profile(roots=[root]).path == elsewhere
    (root.path / "profiles.ini").write_text(f"[Profile0]\nName=work\nIsRelative=0\nPath={elsewhere}\n")
    assert find_profile(roots=[root]).path == elsewhere  # the only one with prefs.js


def test_several_installs_need_a_choice_unless_the_program_tells(tmp_path: Path) -> None:
    root = _root(tmp_path)
    a = _profile(root, "a.default-release")
    b = _profile(root, "b.default-esr")
    (root.path / "profiles.ini").write_text(
        "[Profile0]\nName=a\nIsRelative=1\nPath=a.default-release\n\n[Profile1]\nName=b\nIsRelative=1\nPath=b.default-esr\n\n"
        "[Install1111]\nDefault=a.default-release\n\n[Install2222]\nDefault=b.default-esr\n"
    )
    with pytest.raises(ProfileChoiceNeeded, match="several profiles.*--thunderbird-profile"):
        find_profile(roots=[root])
    (b / "compatibility.ini").write_text("[Compatibility]\nLastAppDir=/usr/lib/thunderbird\n")
    (a / "compatibility.ini").write_text("[Compatibility]\nLastAppDir=/opt/thunderbird-beta\n")
    assert find_profile(roots=[root], program_dir="/usr/lib/thunderbird").path == b
    assert find_profile(b, roots=[root]).path == b  # or the user names it


def test_no_thunderbird_and_wrong_folders_are_explained(tmp_path: Path) -> None:
    root = _root(tmp_path)
    with pytest.raises(ThunderbirdNotFound, match="not set up on this computer"):
        find_profile(roots=[root])
    root.path.mkdir()
    (root.path / "profiles.ini").write_text("[Profile0]\nName=gone\nIsRelative=1\nPath=gone.default\nDefault=1\n")
    with pytest.raises(ThunderbirdNotFound, match="names no profile that exists"):
        find_profile(roots=[root])
    with pytest.raises(ThunderbirdNotFound, match="not a Thunderbird profile folder"):
        find_profile(tmp_path, roots=[root])
    (root.path / "profiles.ini").write_bytes(b"\xff\xfe[[[ garbage\n")
    with pytest.raises(ThunderbirdNotFound):
        find_profile(roots=[root])


def test_snap_and_flatpak_homes_are_searched_and_other_platforms_have_theirs(tmp_path: Path) -> None:
    roots = profile_roots(tmp_path, "linux", {})
    assert [r.kind for r in roots] == ["linux", "snap", "flatpak"]
    snap = roots[1]
    path = _profile(snap, "x.default")
    (snap.path / "profiles.ini").write_text("[Profile0]\nName=x\nIsRelative=1\nPath=x.default\nDefault=1\n")
    found = find_profile(roots=roots)
    assert found.path == path and found.root.kind == "snap" and not found.root.verified
    assert profile_roots(tmp_path, "win32", {"APPDATA": "C:\\Users\\a\\AppData\\Roaming"})[0].path == Path("C:\\Users\\a\\AppData\\Roaming") / "Thunderbird"
    assert profile_roots(tmp_path, "darwin", {})[0].path == tmp_path / "Library" / "Thunderbird"


PREFS = r'''// Mozilla User Preferences
user_pref("mail.accountmanager.accounts", "account1,account3,account2");
user_pref("mail.accountmanager.localfoldersserver", "server2");
user_pref("mail.account.account1.identities", "id1,id3");
user_pref("mail.account.account3.identities", "id2");
user_pref("mail.identity.id1.useremail", "Alice@Example.org");
user_pref("mail.identity.id3.useremail", "praxis@example.org");
user_pref("mail.identity.id2.useremail", "other@example.org");
user_pref("mail.identity.id2.fullName", "Dr \"Quote\" \\ Back \u00e9");
user_pref("mail.server.server2.type", "none");
user_pref("mail.server.server2.hostname", "Local Folders");
user_pref("mail.server.server2.userName", "nobody");
user_pref("mail.server.server2.directory-rel", "[ProfD]Mail/Local Folders");
user_pref("mail.server.server2.directory", "/somewhere/else/Mail/Local Folders");
user_pref("some.number", -5);
user_pref("some.flag", true);
'''


def test_prefs_identities_and_the_outbox(tmp_path: Path) -> None:
    (tmp_path / "prefs.js").write_text(PREFS, encoding="utf-8")
    prefs = read_prefs(tmp_path)
    assert prefs["mail.identity.id2.fullName"] == 'Dr "Quote" \\ Back é'
    assert prefs["some.number"] == -5 and prefs["some.flag"] is True
    identity = identity_for(prefs, "alice@example.ORG")
    assert (identity.key, identity.account_key) == ("id1", "account1")
    assert identity_for(prefs, "other@example.org").account_key == "account3"
    with pytest.raises(ThunderbirdSetupError, match=r"no account for bob@example.org \(its addresses: Alice@Example.org, other@example.org, praxis@example.org\)"):
        identity_for(prefs, "bob@example.org")
    box = outbox(tmp_path, prefs)
    assert box.path == tmp_path / "Mail" / "Local Folders" / "Unsent Messages"
    assert box.store == "mbox" and box.uri == "mailbox://nobody@Local%20Folders/Unsent%20Messages"
    assert box.summary == box.path.with_name("Unsent Messages.msf")


def test_user_js_maildir_nested_outbox_and_what_is_refused(tmp_path: Path) -> None:
    (tmp_path / "prefs.js").write_text(PREFS, encoding="utf-8")
    (tmp_path / "user.js").write_text(
        'user_pref("mail.server.server2.storeContractID", "@mozilla.org/msgstore/maildirstore;1");\n'
        'user_pref("mail.default_sendlater_uri", "mailbox://nobody@Local%20Folders/Queue/Unsent%20Messages");\n'
    )
    box = outbox(tmp_path, read_prefs(tmp_path))
    assert box.store == "maildir" and box.path == tmp_path / "Mail" / "Local Folders" / "Queue.sbd" / "Unsent Messages"
    for uri, error in (
        ("imap://alice@imap.example.org/Outbox", "not in its Local Folders"),
        ("mailbox://nobody@Local%20Folders/..", "not one smimehelper understands"),
        ("mailbox://someone@Local%20Folders/Unsent%20Messages", "not in its Local Folders"),
    ):
        (tmp_path / "user.js").write_text(f'user_pref("mail.default_sendlater_uri", "{uri}");\n')
        with pytest.raises(ThunderbirdSetupError, match=error):
            outbox(tmp_path, read_prefs(tmp_path))
    (tmp_path / "user.js").write_text('user_pref("mail.server.server2.storeContractID", "@example.org/msgstore/sqlite;1");\n')
    with pytest.raises(ThunderbirdSetupError, match="does not know"):
        outbox(tmp_path, read_prefs(tmp_path))
    (tmp_path / "prefs.js").unlink()
    with pytest.raises(ThunderbirdSetupError, match="not a Thunderbird profile"):
        read_prefs(tmp_path)

"""``smimehelper account add --oauth`` / ``account signin`` as a real process: the browser it
opens is a script that records the address ($BROWSER, as Python's webbrowser honours it). The
full sign-in against a real provider is in tests/transport/test_oauth_signin.py; these cover what
needs no provider: Ctrl-C while waiting, missing settings, the address it would open."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

from tests.console import console_script

MS_ID = "11111111-2222-3333-4444-555555555555"


def _env(tmp_path: Path) -> dict[str, str]:
    script = tmp_path / "browser.sh"
    script.write_text('#!/bin/sh\nprintf "%s\\n" "$1" >> "$URL_FILE"\n')
    script.chmod(0o755)
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LC_ALL": "C.UTF-8", "SMIMEHELPER_HOME": str(tmp_path / "home"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "BROWSER": f"{script} %s", "URL_FILE": str(tmp_path / "urls")}


def test_ctrl_c_while_waiting_for_the_browser(tmp_path: Path) -> None:
    env = _env(tmp_path)
    proc = subprocess.Popen([str(console_script()), "account", "add", "--email", "dr@outlook.com", "--oauth-client-id", MS_ID],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    urls = tmp_path / "urls"
    deadline = time.monotonic() + 30
    while not (urls.exists() and urls.read_text().strip()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    url = urls.read_text().split()[0]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert url.startswith("https://login.microsoftonline.com/common/oauth2/v2.0/authorize?")
    assert query["client_id"] == MS_ID and query["code_challenge_method"] == "S256" and query["login_hint"] == "dr@outlook.com"
    redirect = urllib.parse.urlsplit(query["redirect_uri"])
    assert redirect.hostname == "localhost" and redirect.port
    with socket.create_connection(("127.0.0.1", redirect.port), timeout=5):
        pass  # listening while it waits
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert "Sign-in interrupted" in err and "account signin --email dr@outlook.com" in err and "Traceback" not in err
    assert url in err  # the address was shown, for a computer where no browser opens
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", redirect.port)) != 0  # the listener is gone
    listed = subprocess.run([str(console_script()), "account", "list", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert '"auth": "oauth2"' in listed.stdout and '"oauth_provider": "microsoft"' in listed.stdout


def test_missing_client_id_and_conflicting_options(tmp_path: Path) -> None:
    env = _env(tmp_path)
    run = lambda *a: subprocess.run([str(console_script()), *a], env=env, capture_output=True, text=True, timeout=60)  # noqa: E731
    no_id = run("account", "add", "--email", "dr@gmail.com")
    assert no_id.returncode == 2 and "--oauth-client-id" in no_id.stderr and "--password" in no_id.stderr
    both = run("account", "add", "--email", "dr@gmail.com", "--oauth", "--password-file", str(tmp_path / "pw"))
    assert both.returncode == 2 and "--password-file" in both.stderr
    unknown = run("account", "add", "--email", "dr@praxis.example", "--smtp-host", "mail.praxis.example", "--oauth",
                  "--oauth-client-id", "x")
    assert unknown.returncode == 2 and "--provider microsoft" in unknown.stderr
    password = run("account", "add", "--email", "dr@gmail.com", "--password")
    assert password.returncode == 0 and not (tmp_path / "urls").exists()  # an app password: no browser
    not_signed = run("account", "signin", "--email", "dr@gmail.com")
    assert not_signed.returncode == 2 and "password" in not_signed.stderr
    for result in (no_id, both, unknown, password, not_signed):
        assert "Traceback" not in result.stderr

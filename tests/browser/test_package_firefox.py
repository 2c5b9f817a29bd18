"""The password package in Debian's Firefox ESR (headless): the same contract as in Chromium."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.chromium import Browser, sha256_file
from tests.browser.firefox import available, firefox
from tests.core.package.helpers import PASSPHRASE, flipped_in_chunk, make_files, make_package, removed_chunk, swapped_chunks

READY = "!document.getElementById('passphrase').disabled || !document.getElementById('error').hidden"
DONE = "!document.getElementById('contents').hidden || !document.getElementById('error').hidden"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = available()
    if reason:
        pytest.fail(reason)  # scripts/test installs the judge: never a silent skip
    with tempfile.TemporaryDirectory(prefix="smimehelper-ff-downloads-") as folder:
        with firefox(Path(folder)) as judge:
            yield judge


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_files(tmp_path_factory.mktemp("files"))


@pytest.fixture(scope="module")
def package(files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_package(tmp_path_factory.mktemp("package") / "package.html", files).path


def _open(browser: Browser, passphrase: str) -> None:
    field = browser.driver.find_element("css selector", "input#passphrase")  # type: ignore[attr-defined]
    field.clear()
    field.send_keys(passphrase)
    browser.driver.find_element("css selector", "button#open").click()  # type: ignore[attr-defined]


def _error(browser: Browser) -> str:
    return browser.driver.execute_script("var e = document.getElementById('error'); return e.hidden ? '' : e.textContent;")  # type: ignore[attr-defined]


def test_firefox_opens_the_package_and_saves_every_file(browser: Browser, files: list[Path], package: Path) -> None:
    browser.open(package)
    browser.wait_for(READY)
    _open(browser, "wrong words entirely here now")
    browser.wait_for("!document.getElementById('error').hidden")
    assert "does not open" in _error(browser)
    _open(browser, PASSPHRASE.upper())
    browser.wait_for(DONE, timeout=60)
    assert _error(browser) == ""
    assert browser.driver.find_element("css selector", "#message").text == "Dear colleague,\nthe x-rays of our common patient."  # type: ignore[attr-defined]
    links = browser.driver.find_elements("css selector", "a[download]")  # type: ignore[attr-defined]
    assert [a.get_attribute("download") for a in links] == [p.name for p in files]
    for link, original in zip(links, files):
        link.click()
        saved = _wait(browser.downloads / original.name)
        assert sha256_file(saved) == hashlib.sha256(original.read_bytes()).hexdigest(), original.name


def _wait(path: Path, timeout: float = 60) -> Path:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and not list(path.parent.glob("*.part")):
            return path
        time.sleep(0.05)
    raise TimeoutError(f"{path.name} not downloaded: {sorted(p.name for p in path.parent.iterdir())}")


@pytest.mark.parametrize("damage", [lambda d: flipped_in_chunk(d, 2), lambda d: removed_chunk(d, 1), lambda d: swapped_chunks(d, 1, 2)],
                         ids=["flipped-byte", "removed-chunk", "swapped-chunks"])
def test_firefox_says_damaged_and_offers_nothing(browser: Browser, package: Path, tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "package.html"
    broken.write_bytes(damage(package.read_bytes()))
    browser.open(broken)
    browser.wait_for(READY)
    if not _error(browser):
        _open(browser, PASSPHRASE)
        browser.wait_for(DONE, timeout=60)
    assert _error(browser) == "This file is damaged; ask the sender to send it again."
    assert browser.driver.find_elements("css selector", "a[download]") == []  # type: ignore[attr-defined]

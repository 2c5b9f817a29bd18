"""The password package judged by a real browser: Debian's Chromium, headless and offline.

Each test opens a package made by the project from file:// and drives it through the page
contract (input#passphrase, button#open, #message, a[download], #error) as a recipient would.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from tests.browser.chromium import Browser, sha256_file
from tests.core.package.helpers import (
    PASSPHRASE,
    flip_byte,
    flipped_in_chunk,
    make_files,
    make_package,
    removed_chunk,
    swapped_chunks,
    truncated_after_chunk,
)

READY = "!document.getElementById('passphrase').disabled || !document.getElementById('error').hidden"
DONE = "!document.getElementById('contents').hidden || !document.getElementById('error').hidden"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_files(tmp_path_factory.mktemp("files"))


@pytest.fixture(scope="module")
def package(files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_package(tmp_path_factory.mktemp("package") / "package.html", files).path


def _type_and_open(browser: Browser, passphrase: str) -> None:
    driver = browser.driver
    field = driver.find_element("css selector", "input#passphrase")  # type: ignore[attr-defined]
    field.clear()
    field.send_keys(passphrase)
    driver.find_element("css selector", "button#open").click()  # type: ignore[attr-defined]


def _error(browser: Browser) -> str:
    return browser.driver.execute_script("var e = document.getElementById('error'); return e.hidden ? '' : e.textContent;")  # type: ignore[attr-defined]


def _links(browser: Browser) -> list[object]:
    return browser.driver.find_elements("css selector", "a[download]")  # type: ignore[attr-defined]


def _assert_no_network(browser: Browser, page: Path) -> None:
    """Every request in the DevTools log is the page itself or a blob: the page made in memory."""
    urls = browser.requests()
    assert page.resolve().as_uri() in urls
    others = [u for u in urls if u != page.resolve().as_uri() and not u.startswith("blob:null/")]
    assert others == [], f"the page made requests: {others}"


def test_wrong_then_right_passphrase_and_every_file_saves_identical(browser: Browser, downloads: Path, files: list[Path], package: Path) -> None:
    browser.requests()  # forget what came before this page
    browser.open(package)
    browser.wait_for(READY)
    assert _error(browser) == ""
    _type_and_open(browser, "abacus trident safeness uneasy acre wrongword")
    browser.wait_for("!document.getElementById('error').hidden")
    assert "does not open" in _error(browser)
    assert _links(browser) == []
    # Typed as a phone keyboard might: capital first letter, double spaces.
    _type_and_open(browser, "Abacus  trident safeness uneasy acre exuberant ")
    browser.wait_for(DONE)
    assert _error(browser) == ""
    message = browser.driver.find_element("css selector", "#message").text  # type: ignore[attr-defined]
    assert message == "Dear colleague,\nthe x-rays of our common patient."
    body = browser.driver.find_element("css selector", "body").text  # type: ignore[attr-defined]
    assert "Dr Alice Example <alice@example.org>" in body and "Referral: x-rays" in body
    links = _links(browser)
    assert [a.get_attribute("download") for a in links] == [p.name for p in files]  # type: ignore[attr-defined]
    for link, original in zip(links, files):
        link.click()  # type: ignore[attr-defined]
        saved = browser.wait_download(original.name)
        assert sha256_file(saved) == hashlib.sha256(original.read_bytes()).hexdigest(), original.name
    # The PNG shows itself; the DICOM x-ray shows the preview rendered when the package was made.
    sizes = browser.driver.execute_script(  # type: ignore[attr-defined]
        "return Array.from(document.querySelectorAll('img.preview')).map(i => [i.alt, i.naturalWidth]);")
    assert dict(sizes) == {"Preview of photo.png": 40, "Preview of bitewing.dcm": 512}
    _assert_no_network(browser, package)


def test_save_all_saves_every_file(browser: Browser, downloads: Path, files: list[Path], package: Path) -> None:
    browser.open(package)
    browser.wait_for(READY)
    _type_and_open(browser, PASSPHRASE)
    browser.wait_for(DONE)
    browser.driver.find_element("css selector", "button#save-all").click()  # type: ignore[attr-defined]
    for original in files:
        assert sha256_file(browser.wait_download(original.name)) == hashlib.sha256(original.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: flipped_in_chunk(d, 2), id="flipped-byte"),
        pytest.param(lambda d: flipped_in_chunk(d, 0), id="flipped-byte-in-manifest"),
        pytest.param(lambda d: removed_chunk(d, 1), id="removed-chunk"),
        pytest.param(lambda d: swapped_chunks(d, 1, 2), id="swapped-chunks"),
        pytest.param(lambda d: truncated_after_chunk(d, 2), id="cut-off"),
        pytest.param(lambda d: flip_byte(d, d.index(b'id="sh-header">\n') + 30), id="flipped-byte-in-header"),
    ],
)
def test_damaged_package_says_so_and_offers_no_file(browser: Browser, downloads: Path, package: Path, tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "package.html"
    broken.write_bytes(damage(package.read_bytes()))
    browser.requests()
    browser.open(broken)
    browser.wait_for(READY)
    if not _error(browser):  # structure intact: the damage shows when decrypting
        _type_and_open(browser, PASSPHRASE)
        browser.wait_for(DONE)
    assert _error(browser) == "This file is damaged; ask the sender to send it again."
    assert _links(browser) == []
    assert browser.driver.execute_script("return document.getElementById('contents').hidden") is True  # type: ignore[attr-defined]
    assert list(downloads.iterdir()) == []
    _assert_no_network(browser, broken)


def test_chosen_non_ascii_passphrase_normalizes_like_python(browser: Browser, files: list[Path], tmp_path: Path) -> None:
    chosen = "Ärztin  Straße Zürich ΟΔΟΣ Kupferkessel"
    page = make_package(tmp_path / "p.html", files[3:4], passphrase=chosen).path
    browser.open(page)
    browser.wait_for(READY)
    _type_and_open(browser, "ärztin straße zürich οδος kupferkessel")
    browser.wait_for(DONE)
    assert _error(browser) == ""
    assert [a.get_attribute("download") for a in _links(browser)] == ["Überweisung Müller.txt"]  # type: ignore[attr-defined]


def test_hostile_texts_are_shown_as_text(browser: Browser, files: list[Path], tmp_path: Path) -> None:
    nasty = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'
    page = make_package(tmp_path / "p.html", files[1:2], message=nasty, subject=nasty).path
    browser.open(page)
    browser.wait_for(READY)
    _type_and_open(browser, PASSPHRASE)
    browser.wait_for(DONE)
    assert browser.driver.find_element("css selector", "#message").text == nasty  # type: ignore[attr-defined]
    assert browser.driver.title == "Encrypted documents"  # type: ignore[attr-defined]
    assert browser.driver.execute_script("return document.querySelectorAll('#contents img, #contents script').length") == 0  # type: ignore[attr-defined]


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        _Counter.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


def test_even_a_modified_page_cannot_send_anything(browser: Browser, package: Path, tmp_path: Path) -> None:
    """With the network on and a listening server on 127.0.0.1, a page whose HTML an attacker
    extended (an image, a stylesheet, a form, a script) still makes no request: the CSP in the
    file forbids all of it. (Navigating away is outside CSP; the page itself never does.)"""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    driver = browser.driver
    try:
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})  # type: ignore[attr-defined]
        injected = (
            f'<img src="{url}/img"><link rel="stylesheet" href="{url}/css"><link rel="prefetch" href="{url}/prefetch">'
            f'<iframe src="{url}/frame"></iframe><script src="{url}/script.js"></script>'
            f'<script>fetch("{url}/fetch"); new Image().src = "{url}/js-img"; navigator.sendBeacon("{url}/beacon");</script>'
            f'<form id="leak" method="post" action="{url}/form"></form>'
        ).encode()
        data = package.read_bytes().replace(b"<main>", b"<main>" + injected, 1)
        # The same page without its CSP: the server does see requests (the test can fail).
        control = tmp_path / "without-csp.html"
        control.write_bytes(data.replace(b'http-equiv="Content-Security-Policy"', b'name="x-no-csp"', 1))
        browser.open(control)
        browser.wait_for("document.readyState === 'complete'")
        import time

        deadline = time.monotonic() + 10
        while not _Counter.hits and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _Counter.hits, "the control page without CSP should have reached the server"
        _Counter.hits.clear()
        modified = tmp_path / "modified.html"
        modified.write_bytes(data)
        browser.open(modified)
        browser.wait_for(READY)
        driver.execute_script(  # type: ignore[attr-defined]
            f"try {{ fetch('{url}/evaluated'); }} catch (e) {{}} try {{ document.getElementById('leak').submit(); }} catch (e) {{}}")
        _type_and_open(browser, PASSPHRASE)
        browser.wait_for(DONE)
        time.sleep(1.0)
        assert _Counter.hits == []
    finally:
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()
        thread.join()

#!/usr/bin/env python3
"""Screenshots of the desktop app for the user guide, taken under a real X server.

    python scripts/screenshots.py [--out docs/screenshots] [--platform auto|xcb|offscreen]

With no ``DISPLAY`` the script starts ``Xvfb :99 -screen 0 1280x800x24`` itself (the next free
display number if :99 is taken; ``apt-get install xvfb``, which scripts/test does) and runs the
app there with ``QT_QPA_PLATFORM=xcb``. The app runs in a child process on throw-away data
folders in a temporary directory: a fresh one (the assistant's first page as a new user sees
it) and one set up with the demo profile (``smimehelper demo``'s certificates, as "Try with demo
certificates" does). It opens each tab of the main window and each page of the first-run
assistant, and saves one PNG per window into ``docs/screenshots/``.

Qt's xcb platform plugin needs these Debian/Ubuntu packages besides Xvfb: libxcb-cursor0
libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0
libxcb-xfixes0 libxcb-xkb1 libxcb-sync1 libxcb-shm0 libxcb-util1 libx11-xcb1 libxkbcommon-x11-0.
When the plugin cannot start (a library missing), the script says which libraries are missing,
falls back to offscreen rendering (``QT_QPA_PLATFORM=offscreen``, same widgets, no X server) and
says so; the exit code is 0 when every screenshot was written.

No real keyring is touched: the child uses an in-memory keyring, so nothing asks for a passphrase.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.memory_keyring
DEFAULT_OUT = ROOT / "docs" / "screenshots"
SCREEN = "1280x800x24"

# Qt's xcb plugin: the libraries it loads and the Debian packages that ship them.
XCB_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# == the parent: an X server, the child, the fallback ==============================================


def missing_xcb_libraries() -> list[str]:
    """Libraries Qt's xcb plugin needs that the dynamic linker cannot find (via ldd)."""
    try:
        import PySide6
    except ImportError:
        return []
    qt = Path(PySide6.__file__).parent / "Qt"
    candidates = [qt / "plugins" / "platforms" / "libqxcb.so", *sorted((qt / "lib").glob("libQt6XcbQpa.so*"))[:1]]
    missing: set[str] = set()
    for library in candidates:
        if not library.exists() or shutil.which("ldd") is None:
            continue
        out = subprocess.run(["ldd", str(library)], capture_output=True, text=True).stdout
        missing.update(line.split()[0] for line in out.splitlines() if "not found" in line)
    return sorted(missing)


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("Xvfb")
    if binary is None:
        raise RuntimeError("Xvfb is not installed (Debian/Ubuntu: apt-get install xvfb)")
    for number in range(99, 120):
        if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
            continue
        display = f":{number}"
        proc = subprocess.Popen([binary, display, "-screen", "0", SCREEN, "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break  # the display was taken after all: try the next one
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                return proc, display
            time.sleep(0.05)
        if proc.poll() is None:
            proc.terminate()
            proc.wait(5)
    raise RuntimeError("Xvfb did not start on any display from :99 to :119")


def run_child(out: Path, platform: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**env, "QT_QPA_PLATFORM": platform, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "--out", str(out), "--platform", platform],
                          env=env, capture_output=True, text=True, timeout=600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the PNGs go (default docs/screenshots)")
    parser.add_argument("--platform", choices=("auto", "xcb", "offscreen"), default="auto",
                        help="auto: xcb under X (Xvfb started if needed), offscreen if that fails")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return capture(args.out, args.platform)

    args.out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    xvfb: subprocess.Popen[bytes] | None = None
    result: subprocess.CompletedProcess[str] | None = None
    used = "offscreen"
    try:
        if args.platform in ("auto", "xcb"):
            problem = None
            try:
                if not env.get("DISPLAY"):
                    xvfb, env["DISPLAY"] = start_xvfb()
                    log(f"started Xvfb on {env['DISPLAY']} ({SCREEN}), pid {xvfb.pid}")
                else:
                    log(f"using the X display {env['DISPLAY']}")
                result = run_child(args.out, "xcb", env)
                if result.returncode == 0:
                    used = "xcb"
                else:
                    lines = result.stderr.strip().splitlines()
                    telling = [line for line in lines if any(word in line for word in ("qt.qpa", "could not", "Could not", "Fatal", "Error", "error"))]
                    problem = (telling or lines or [f"exit status {result.returncode}"])[0]
            except RuntimeError as exc:
                problem = str(exc)
            if used != "xcb":
                log(f"The xcb platform could not be used: {problem}")
                missing = missing_xcb_libraries()
                if missing:
                    packages = sorted({XCB_PACKAGES.get(m, m) for m in missing})
                    log(f"Missing libraries: {' '.join(missing)}; install: apt-get install {' '.join(packages)}")
                if args.platform == "xcb":
                    if result is not None:
                        log(result.stderr)
                    return 1
                log("Falling back to offscreen rendering (QT_QPA_PLATFORM=offscreen): the same widgets, no X server.")
        if used != "xcb":
            result = run_child(args.out, "offscreen", env)
    finally:
        if xvfb is not None:
            xvfb.send_signal(signal.SIGTERM)
            try:
                xvfb.wait(10)
            except subprocess.TimeoutExpired:
                xvfb.kill()
    assert result is not None
    if result.stderr:
        sys.stderr.write(result.stderr)
    if result.returncode != 0:
        log(f"screenshots failed (exit status {result.returncode})")
        return 1
    print(result.stdout, end="")
    print(f"rendered with QT_QPA_PLATFORM={used}" + ("" if used == "xcb" else " (fallback: no X server could be used)"))
    return 0


# == the child: the app on demo data, one PNG per window =========================================


def capture(out: Path, platform: str) -> int:
    import keyring
    from PySide6.QtCore import QCoreApplication, QElapsedTimer, Qt
    from PySide6.QtGui import QPixmap
    from PySide6.QtWidgets import QApplication, QWidget, QWizard

    from tests.memory_keyring import MemoryKeyring  # the tests' stand-in for an OS keyring

    keyring.set_keyring(MemoryKeyring())

    from smimehelper import services
    from smimehelper.gui.context import GuiContext
    from smimehelper.gui.first_run import FirstRunWizard
    from smimehelper.gui.main_window import MainWindow
    from smimehelper.gui.style import app_icon
    from smimehelper.gui.tasks import TaskRunner

    QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication([sys.argv[0]])
    app.setApplicationName("smimehelper")
    app.setDesktopFileName("smimehelper")
    app.setWindowIcon(app_icon())
    tasks = TaskRunner()
    written: list[Path] = []

    def settle(ms: int = 300) -> None:
        """Let pending work finish and the windows paint."""
        tasks.wait(120_000)
        timer = QElapsedTimer()
        timer.start()
        while timer.elapsed() < ms:
            # Few calls, not a busy loop: with PySide6 6.12 on Python < 3.12 every call of a
            # void Qt method drops a reference to None, and the interpreter aborts once None's
            # reference count reaches zero (tens of thousands of calls).
            QCoreApplication.processEvents()
            time.sleep(0.02)
        QCoreApplication.processEvents()

    def wait_for(condition, what: str, seconds: float = 120) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            QCoreApplication.processEvents()
            time.sleep(0.02)

    def shoot(window: QWidget, name: str) -> None:
        if platform == "xcb":
            window.raise_()
            window.activateWindow()
        settle()
        pixmap = QPixmap()
        if platform == "xcb":
            pixmap = window.screen().grabWindow(window.winId())
            image = pixmap.toImage()
            if pixmap.isNull() or image.pixelColor(5, 5) == image.pixelColor(image.width() - 5, image.height() - 5) == image.pixelColor(image.width() // 2, image.height() // 2):
                pixmap = QPixmap()  # unmapped or blank: fall back to rendering the widget
        if pixmap.isNull():
            pixmap = window.grab()
        path = out / f"{name}.png"
        if not pixmap.save(str(path)):
            raise RuntimeError(f"cannot write {path}")
        written.append(path)
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {pixmap.width()}x{pixmap.height()}")

    out.mkdir(parents=True, exist_ok=True)
    # A fixed, readable folder name: paths show in some windows.
    tmp = Path(tempfile.gettempdir()) / "smimehelper-screenshots"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        fresh_home, demo_home = tmp / "fresh", tmp / "demo"
        demo = services.use_demo_profile(services.Stores.open(demo_home))

        # -- the first-run assistant, as a new user meets it --------------------------------
        wizard = FirstRunWizard(GuiContext(home=fresh_home, tasks=tasks))
        wizard.move(40, 40)
        wizard.show()
        shoot(wizard, "first-run-1-certificate")
        page = wizard.certificate_page
        page.demo_button.click()
        wait_for(lambda: not page.busy, "the demo certificates")
        shoot(wizard, "first-run-1-certificate-imported")
        wizard.next()
        shoot(wizard, "first-run-2-account-demo")
        wizard.button(QWizard.WizardButton.CustomButton1).click()  # Later
        wait_for(lambda: not wizard.self_test_page.running, "the self-test")
        shoot(wizard, "first-run-3-self-test")
        wizard.close()

        # The account page as for a Gmail address: the servers and the provider's note filled in.
        account_wizard = FirstRunWizard(GuiContext(home=demo_home, tasks=tasks))
        account_wizard.move(40, 40)
        account_wizard.show()
        settle()
        account_wizard.next()
        account_wizard.account_page.email_edit.setText("dr.sender@gmail.com")
        shoot(account_wizard, "first-run-2-account")
        account_wizard.close()

        # -- the main window on the demo profile ---------------------------------------------
        window = MainWindow(GuiContext(home=demo_home, tasks=tasks))
        window.move(0, 0)
        window.show()
        compose = window.compose
        fill = {"to_field": "Dr. Demo Colleague (DEMO) <dr.colleague@example.com>"}
        for attr, text in fill.items():
            edit = getattr(getattr(compose, attr, None), "edit", None)
            if edit is not None:
                edit.setText(text)
        if hasattr(compose, "subject_edit"):
            compose.subject_edit.setText("Your second opinion on an x-ray, please")
        if hasattr(compose, "body_edit"):
            compose.body_edit.setPlainText("Dear colleague,\n\nattached is the intra-oral x-ray we discussed.\n\nKind regards,\nDr. Demo Sender")
        compose.add_attachments([demo.xray])
        window.open_message(demo.message)
        settle(600)
        slugs = ["compose", "open", "contacts", "my-certificates", "outbox", "log", "inbox"]
        for index in range(window.tabs.count()):
            window.tabs.setCurrentIndex(index)
            slug = slugs[index] if index < len(slugs) else f"tab-{index + 1}"
            shoot(window, f"main-{index + 1}-{slug}")

        # A CBCT study too large for one message: the study entry with its file count, "Make
        # smaller (lossless)" and "Send as N messages" (the same split as compose --split).
        from tests.core.dicom.synthetic import write_study

        study = write_study(tmp / "CBCT_2026-01-15", 60, 512, 512)
        window.tabs.setCurrentWidget(compose)
        compose.clear_message()
        compose.to_field.edit.setText(fill["to_field"])
        compose.subject_edit.setText("The CBCT for the implant planning")
        compose.body_edit.setPlainText("Dear colleague,\n\nthe CBCT we discussed is attached.\n\nKind regards,\nDr. Demo Sender")
        compose.add_attachments([study.folder])
        wait_for(lambda: not compose.files.looking() and compose.split_offer.isVisible(), "the study looked at")
        settle(300)
        compose.split_offer.choice.setChecked(True)
        window.resize(1000, 790)
        settle(100)
        compose.scroller.ensureWidgetVisible(compose.split_offer)  # the study entry, the table, the offer
        shoot(window, "main-1b-compose-split")
        window.resize(1000, 720)

        # A colleague whose practice runs its own authority: not trusted yet, and the dialog that
        # trusts it after comparing the fingerprint (made by the OpenSSL command line).
        from smimehelper.gui.trust_dialog import TrustDialog
        from tests.practice_pki import SAM, make_practice_pki

        practice = make_practice_pki(tmp / "practice")
        stores = services.Stores.open(demo_home)
        real_clock = services.clock
        services.clock = lambda: datetime.datetime.now(datetime.timezone.utc)  # Sam's certificate is from today
        try:
            services.import_contacts(stores, (practice / "sam-signed.eml",), None)
            window.tabs.setCurrentWidget(window.contacts)
            window.contacts.refresh()
            wait_for(lambda: window.contacts.fetched and not window.contacts.is_busy(), "the contacts checked")
            window.contacts.select_email(SAM)
            shoot(window, "main-3b-contacts-not-trusted")
            entry = services.contact_for(stores, SAM)
            dialog = TrustDialog(window, GuiContext(home=demo_home, tasks=tasks), entry.cert, entry.chain, SAM)
            dialog.show()
            shoot(dialog, "trust-authority")
            dialog.close()
        finally:
            services.clock = real_clock
        window.close()
        settle(100)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(written)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

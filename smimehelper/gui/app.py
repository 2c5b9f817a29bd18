"""``smimehelper-gui`` / ``smimehelper gui``: start the desktop app."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="smimehelper-gui", description="The smimehelper desktop app.")
    parser.add_argument("--home", type=Path, help="data folder (default: your user data folder, or $SMIMEHELPER_HOME)")
    parser.add_argument("message", nargs="?", type=Path, help="a message (.eml) to open")
    args = parser.parse_args(argv)
    return run(args.home, args.message)


def run(home: Path | None, message: Path | None = None) -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from . import collector
    from .context import GuiContext
    from .main_window import MainWindow
    from .style import app_icon
    from .tasks import TaskRunner

    QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("smimehelper")
    app.setDesktopFileName("smimehelper")
    app.setWindowIcon(app_icon())
    collector.install(app)  # garbage is collected on this (the GUI) thread only
    window = MainWindow(GuiContext(home=home, tasks=TaskRunner()))
    window.start()
    if message is not None:
        window.open_message(message)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

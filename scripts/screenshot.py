"""Save a real screenshot of the running app (run under Xvfb): `xvfb-run -a python scripts/screenshot.py OUT.png`.

It grabs the X screen, not a widget rendering, so it shows what a user's display would.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import ferdesk.gui  # noqa: F401  (before Qt starts)
from PyQt5.QtCore import QSettings, QTimer
from PyQt5.QtWidgets import QApplication

from ferdesk.gui.main_window import MainWindow


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "assets/screenshot.png")
    app = QApplication(sys.argv[:1])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(settings=settings, source="demo")
    window.setGeometry(0, 0, 1180, 700)
    window.show()

    def grab() -> None:
        geometry = window.frameGeometry()
        shot = app.primaryScreen().grabWindow(0, geometry.x(), geometry.y(), geometry.width(), geometry.height())
        shot.save(str(out))
        print(f"saved {out} ({shot.width()}x{shot.height()}): {window.status_label.text()}")
        window.close()
        app.quit()

    QTimer.singleShot(9000, grab)
    return app.exec_()


if __name__ == "__main__":
    sys.exit(main())

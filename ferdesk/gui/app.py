"""Start-up: the window appears first; the pipeline (MediaPipe, LiteRT) loads on its own thread after it shows."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ferdesk", description="Real-time facial expression recognition.")
    parser.add_argument("--source", help="camera index, 'demo', a video file, an image or a folder of images")
    parser.add_argument("--model", help="model folder to start with (default: the last used, else models/default)")
    args = parser.parse_args(argv)

    import ferdesk.gui  # noqa: F401  (undoes OpenCV's Qt plugin path before Qt starts)
    from PyQt5.QtCore import QCoreApplication
    from PyQt5.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("ferdesk")
    QCoreApplication.setApplicationName("ferdesk")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from ferdesk.gui.main_window import MainWindow

    window = MainWindow(source=args.source, model=args.model)
    window.show()
    return app.exec_()

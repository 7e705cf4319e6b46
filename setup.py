"""Build step that puts the shipped files into the wheel; everything else is declared in setup.cfg.

The repository's top-level assets/ (face detector, its licence, demo faces), models/ (the shipped emotion models) and
the user guide (docs/user-guide.md, shown by Help > User guide) stay the one copy in git. Building the package copies
them to ferdesk/_shipped/ inside the build, so an installed wheel carries them as package data (ferdesk.paths finds
them there). An editable install copies nothing: it reads the checkout's folders.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED_FOLDERS = ("assets", "models")
SHIPPED_FILES = ("docs/user-guide.md",)  # of docs/, only what the app shows
SHIPPED_PACKAGE_DIR = "_shipped"  # ferdesk.paths.SHIPPED_PACKAGE_DIR
# Hidden folders are partial training outputs; caches never ship.
NOT_SHIPPED = shutil.ignore_patterns(".*", "__pycache__", "*.pyc")


class BuildPyWithShippedFiles(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in SHIPPED_FOLDERS:
            source = ROOT / name
            if not source.is_dir():
                raise SystemExit(f"{source} is missing: build from the repository or its sdist")
            target = Path(self.build_lib, "ferdesk", SHIPPED_PACKAGE_DIR, name)
            shutil.rmtree(target, ignore_errors=True)  # a reused build/ must not keep files deleted since
            shutil.copytree(source, target, ignore=NOT_SHIPPED)
        for name in SHIPPED_FILES:
            source = ROOT / name
            if not source.is_file():
                raise SystemExit(f"{source} is missing: build from the repository or its sdist")
            target = Path(self.build_lib, "ferdesk", SHIPPED_PACKAGE_DIR, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


setup(cmdclass={"build_py": BuildPyWithShippedFiles})

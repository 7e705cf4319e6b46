"""Where ferdesk finds its shipped files: the face detector and demo faces (assets/), the models (models/) and the
user guide (docs/user-guide.md).

In the repository they are the top-level assets/, models/ and docs/ folders, the one copy in git. A wheel carries a
copy of them as package data, ferdesk/_shipped/{assets,models,docs}, made at build time (setup.py). So a checkout (also
when installed editable) reads the top-level folders and an installed wheel reads its package data.
FERDESK_ASSETS and FERDESK_MODELS override either.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

# The folder above the package: the repository root in a checkout, site-packages in an installed wheel.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_PACKAGE_DIR = "_shipped"  # inside the ferdesk package of a wheel; setup.py writes it


def shipped_dir(name: str) -> Path:
    """The shipped folder `name` ("assets", "models" or "docs"): the wheel's package data, else the checkout's
    folder."""
    packaged = Path(str(files("ferdesk").joinpath(SHIPPED_PACKAGE_DIR, name)))
    return packaged if packaged.is_dir() else PROJECT_ROOT / name


ASSETS_DIR = Path(os.environ.get("FERDESK_ASSETS") or shipped_dir("assets"))
MODELS_DIR = Path(os.environ.get("FERDESK_MODELS") or shipped_dir("models"))
DEFAULT_MODEL = MODELS_DIR / "default"
DETECTOR_MODELS = {
    "short": ASSETS_DIR / "models" / "face_detection_short_range.tflite",
    "full": ASSETS_DIR / "models" / "face_detection_full_range_sparse.tflite",
}
# Help > User guide: a wheel ships this one page of docs/.
USER_GUIDE = shipped_dir("docs") / "user-guide.md"
# Models the user trains from the app (Model > Retrain...) or copies in.
USER_MODELS_DIR = Path(os.environ.get("FERDESK_USER_MODELS", Path.home() / ".local" / "share" / "ferdesk" / "models"))


def _visible_folders(root: Path) -> list[Path]:
    """Sorted by name, the default first: the Model menu leads with it."""
    return sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_menu_order)


def _menu_order(folder: Path) -> tuple[bool, str]:
    return folder != DEFAULT_MODEL, folder.name


def model_folders() -> list[Path]:
    """Candidate model folders: shipped ones first, then the user's; hidden (partial) folders are never listed.

    An ensemble's members that carry their own model.tflite follow it: each runs alone at a fraction of its cost.
    """
    from ferdesk.model_card import TFLITE_FILE

    found = []
    for root in (MODELS_DIR, USER_MODELS_DIR):
        if not root.is_dir():
            continue
        for folder in _visible_folders(root):
            found.append(folder)
            if (folder / "members").is_dir():
                found += [m for m in _visible_folders(folder / "members") if (m / TFLITE_FILE).is_file()]
    return found

"""Where ferdesk finds its shipped files (assets/ and models/ at the project root)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = Path(os.environ.get("FERDESK_ASSETS", PROJECT_ROOT / "assets"))
MODELS_DIR = Path(os.environ.get("FERDESK_MODELS", PROJECT_ROOT / "models"))
DETECTOR_MODELS = {
    "short": ASSETS_DIR / "models" / "face_detection_short_range.tflite",
    "full": ASSETS_DIR / "models" / "face_detection_full_range_sparse.tflite",
}
# Models the user trains from the app (Model > Retrain...) or copies in.
USER_MODELS_DIR = Path(os.environ.get("FERDESK_USER_MODELS", Path.home() / ".local" / "share" / "ferdesk" / "models"))


def _visible_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


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

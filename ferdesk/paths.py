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


def model_folders() -> list[Path]:
    """Candidate model folders: shipped ones first, then the user's; hidden (partial) folders are never listed."""
    found = []
    for root in (MODELS_DIR, USER_MODELS_DIR):
        if root.is_dir():
            found += sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return found

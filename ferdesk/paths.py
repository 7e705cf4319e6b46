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

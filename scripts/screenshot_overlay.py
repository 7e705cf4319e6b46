"""Save the overlay on six real demo faces close together, as the app draws it:
`python scripts/screenshot_overlay.py [OUT.png]` (default docs/images/overlay-close-faces.png).

The faces are detected and classified by the real pipeline with the shipped model; the one the side panel would
follow (the largest) carries the "following" mark.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from ferdesk.overlay import draw_overlay
from ferdesk.pipeline import DEFAULT_MODEL, EmotionPipeline
from ferdesk.sources import demo_faces

FACES = ["fer_angry", "fer_happy", "fer_sad", "fer_surprise", "fer_fear", "fer_neutral"]


def close_faces_frame(width: int = 1280, height: int = 720, side: int = 200, gap: int = 20, cols: int = 3) -> np.ndarray:
    """The demo faces in a tight grid in the middle of a gray frame."""
    faces = dict(demo_faces())
    rows = -(-len(FACES) // cols)
    frame = np.full((height, width, 3), 120, np.uint8)
    left, top = (width - cols * side - (cols - 1) * gap) // 2, (height - rows * side - (rows - 1) * gap) // 2
    for k, name in enumerate(FACES):
        r, c = divmod(k, cols)
        x, y = left + c * (side + gap), top + r * (side + gap)
        frame[y : y + side, x : x + side] = cv2.resize(faces[name], (side, side), interpolation=cv2.INTER_AREA)
    return frame


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images/overlay-close-faces.png")
    frame = close_faces_frame()
    with EmotionPipeline(DEFAULT_MODEL) as pipeline:
        result = pipeline.process(frame, 0.0, annotate=False)
    if not result.faces:
        print("no face found", file=sys.stderr)
        return 1
    followed = max(result.faces, key=lambda f: f.box.w * f.box.h).track_id
    image = draw_overlay(result.frame, result.faces, result.labels, followed=followed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        print(f"could not write {out}", file=sys.stderr)
        return 1
    print(f"saved {out} ({image.shape[1]}x{image.shape[0]}): {len(result.faces)} faces, following #{followed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

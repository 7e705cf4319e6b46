"""The `fer` package's face boxes and time per frame on saved frames, run in fer's own virtual environment.

benchmarks/detection.py writes its frames as PNGs (FRAMES_DIR/<scene>/*.png) and runs this file with
`--fer-python`; it imports nothing from ferdesk. For each frame it times `FER().detect_emotions` (fer's default
OpenCV Haar cascade, the way a fer user finds faces) and records the boxes it returns:

    /tmp/fer-venv/bin/python benchmarks/fer_detection_peer.py FRAMES_DIR --json fer_boxes.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="fer's face boxes and ms per frame on saved frames.")
    p.add_argument("frames_dir", help="folder with one subfolder of PNG frames per scene")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls first (default: 3)")
    p.add_argument("--json", required=True, help="write boxes and times here")
    args = p.parse_args(argv)

    import cv2
    from importlib.metadata import version

    from fer.fer import FER  # `from fer import FER` fails in fer 25.10.3

    scenes = sorted(d for d in Path(args.frames_dir).iterdir() if d.is_dir())
    if not scenes:
        p.error(f"no scene folders in {args.frames_dir}")
    detector = FER()
    first = cv2.imread(str(sorted(scenes[0].glob("*.png"))[0]))
    for _ in range(args.warmup):
        detector.detect_emotions(first)
    report: dict = {"fer": version("fer"), "opencv": cv2.__version__, "detector": "haar (FER default)", "frames": {}}
    for scene in scenes:
        for path in sorted(scene.glob("*.png")):
            frame = cv2.imread(str(path))
            t0 = time.perf_counter()
            found = detector.detect_emotions(frame)
            ms = (time.perf_counter() - t0) * 1000.0
            report["frames"][f"{scene.name}/{path.name}"] = {
                "ms": round(ms, 3),
                "boxes": [[int(v) for v in face["box"]] for face in found],
            }
    Path(args.json).write_text(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

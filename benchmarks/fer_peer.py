"""Time the `fer` package on the frames benchmarks/pipeline.py saved, in fer's own virtual environment.

fer pulls full TensorFlow, torch and its own OpenCV, so it cannot live in ferdesk's venv; this script imports
nothing from ferdesk. It reads FRAMES_DIR/<scene>/*.png (written by `pipeline.py --save-frames`), warms up,
times `FER().detect_emotions` (fer's default Haar detector) per frame and writes JSON for `--peer-json`:

    python3 -m venv /tmp/fer-venv && /tmp/fer-venv/bin/pip install fer 'setuptools<82'
    /tmp/fer-venv/bin/python benchmarks/fer_peer.py /tmp/bench-frames --json /tmp/fer.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def stats(values_ms: list[float]) -> dict[str, float]:
    import numpy as np

    a = np.asarray(values_ms, dtype=np.float64)
    return {
        "median_ms": round(float(np.median(a)), 3),
        "p95_ms": round(float(np.percentile(a, 95)), 3),
        "mean_ms": round(float(a.mean()), 3),
    }


def time_detect_emotions(detector, frames: list, warmup: int) -> dict:
    """fer's FER().detect_emotions per frame after warm-up (benchmarks/pipeline.py uses this in-process too)."""
    import numpy as np

    for i in range(warmup):
        detector.detect_emotions(frames[i % len(frames)])
    wall, counts = [], []
    start = time.perf_counter()
    for frame in frames:
        t0 = time.perf_counter()
        found = detector.detect_emotions(frame)
        wall.append((time.perf_counter() - t0) * 1000.0)
        counts.append(len(found))
    elapsed = time.perf_counter() - start
    return {
        "end_to_end": stats(wall),
        "fps": round(len(frames) / elapsed, 2),
        "faces_found": {"min": int(min(counts)), "max": int(max(counts)), "mean": round(float(np.mean(counts)), 3)},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Time fer's FER().detect_emotions on saved benchmark frames.")
    p.add_argument("frames_dir", help="folder with one subfolder of PNG frames per scene")
    p.add_argument("--warmup", type=int, default=5, help="untimed frames first (default: 5)")
    p.add_argument("--limit", type=int, default=0, help="time at most this many frames per scene (0: all)")
    p.add_argument("--json", required=True, help="write the figures here")
    args = p.parse_args(argv)

    import cv2
    from importlib.metadata import version

    from fer.fer import FER  # `from fer import FER` fails in fer 25.10.3

    scenes = sorted(d for d in Path(args.frames_dir).iterdir() if d.is_dir())
    if not scenes:
        p.error(f"no scene folders in {args.frames_dir}; run benchmarks/pipeline.py --save-frames first")
    detector = FER()
    report: dict = {
        "fer": version("fer"),
        "tensorflow": version("tensorflow"),
        "opencv": cv2.__version__,
        "python": platform.python_version(),
        "detector": "haar (FER default)",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "scenes": {},
    }
    for scene in scenes:
        paths = sorted(scene.glob("*.png"))
        if args.limit:
            paths = paths[: args.limit]
        frames = [cv2.imread(str(path)) for path in paths]
        result = {"frames": len(frames), **time_detect_emotions(detector, frames, args.warmup)}
        report["scenes"][scene.name] = result
        print(
            f"{scene.name}: {len(frames)} frames, median {result['end_to_end']['median_ms']:.2f} ms, "
            f"p95 {result['end_to_end']['p95_ms']:.2f} ms, {result['fps']:.1f} frames/s, "
            f"faces found mean {result['faces_found']['mean']}"
        )
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

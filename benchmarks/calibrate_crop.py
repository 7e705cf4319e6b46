"""Measure how MediaPipe face boxes relate to FER2013 framing, to set preprocess.CROP_SCALE / CROP_SHIFT_Y.

Each 48x48 FER2013 face is upscaled (cubic), optionally framed by a border so the detector sees some
context, and run through ferdesk's FaceDetector. For every detected face:

    scale   = image side / max(box w, box h)                 -> CROP_SCALE
    shift_y = (image centre y - box centre y) / box h         -> CROP_SHIFT_Y
    shift_x = (image centre x - box centre x) / box w         (reported only; crops are not shifted sideways)

so that crop_region(box) with the medians reproduces the dataset's framing.

    python benchmarks/calibrate_crop.py --n 400 --json runs/calibration.json
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a checkout without installing

from ferdesk.detect import FaceDetector  # noqa: E402
from ferdesk.preprocess import INPUT_SIZE, Box, crop_region  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# The full dataset: $FERDESK_DATA, else the documented place beside the repository.
DEFAULT_CSV = Path(os.environ.get("FERDESK_DATA", ROOT.parent / "shared" / "data" / "fer2013.csv.gz"))
# (name, border kind, border width as a fraction of the upscaled side)
VARIANTS: dict[str, tuple[str, float]] = {
    "plain": ("none", 0.0),
    "replicate25": ("replicate", 0.25),
    "replicate50": ("replicate", 0.5),
    "gray50": ("gray", 0.5),
}
CHOSEN = "replicate50"


def load_faces(path: Path, n: int, usage: str, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n faces of one Usage, taking every stride-th row so identities and emotions mix."""
    faces, labels = [], []
    with gzip.open(path, "rt", newline="") as fh:
        for i, row in enumerate(r for r in csv.DictReader(fh) if r["Usage"] == usage):
            if i % stride:
                continue
            faces.append(np.array(row["pixels"].split(), dtype=np.uint8).reshape(48, 48))
            labels.append(int(row["emotion"]))
            if len(faces) >= n:
                break
    return np.stack(faces), np.array(labels)


def frame_face(face: np.ndarray, size: int, border: str, frac: float) -> tuple[np.ndarray, int]:
    """Upscaled face inside its border, and the border width in pixels."""
    big = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
    pad = int(round(frac * size))
    if border == "replicate" and pad:
        big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    elif border == "gray" and pad:
        big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=128)
    else:
        pad = 0
    return big, pad


def recrop(image: np.ndarray, box: Box, scale: float, shift_y: float) -> np.ndarray:
    """The 48x48 face that crop_face would cut around box with the given geometry."""
    x0, y0, x1, y1 = crop_region(box, scale, shift_y)
    h, w = image.shape[:2]
    pads = (max(0, -y0), max(0, y1 - h), max(0, -x0), max(0, x1 - w))
    padded = cv2.copyMakeBorder(image, *pads, cv2.BORDER_REPLICATE)
    patch = padded[y0 + pads[0] : y1 + pads[0], x0 + pads[2] : x1 + pads[2]]
    return cv2.resize(patch, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)


def measure(
    detector: FaceDetector,
    faces: np.ndarray,
    size: int,
    border: str,
    frac: float,
    geometries: dict[str, tuple[float, float]] | None = None,
) -> dict:
    """Detection rate and median geometry for one framing variant.

    For each (scale, shift_y) in geometries, also the median absolute pixel difference between the
    48x48 re-crop around the detector box and the original face: how well that geometry restores
    the dataset's framing.
    """
    scales, shifts_y, shifts_x, scores = [], [], [], []
    errors: dict[str, list[float]] = {name: [] for name in (geometries or {})}
    for face in faces:
        image, pad = frame_face(face, size, border, frac)
        found = detector.detect(image)
        if not found:
            continue
        best = found[0].box
        cx = best.x - pad + best.w / 2.0
        cy = best.y - pad + best.h / 2.0
        scales.append(size / max(best.w, best.h))
        shifts_y.append((size / 2.0 - cy) / best.h)
        shifts_x.append((size / 2.0 - cx) / best.w)
        scores.append(found[0].score)
        for name, (scale, shift) in (geometries or {}).items():
            again = recrop(image, best, scale, shift).astype(np.float32)
            errors[name].append(float(np.mean(np.abs(again - face.astype(np.float32)))))

    def q(values: list[float]) -> dict:
        if not values:
            return {}
        qs = np.percentile(values, [25, 50, 75])
        return {"p25": round(float(qs[0]), 4), "median": round(float(qs[1]), 4), "p75": round(float(qs[2]), 4)}

    return {
        "border": border,
        "border_fraction": frac,
        "faces": int(len(faces)),
        "detected": len(scales),
        "detection_rate": round(len(scales) / max(1, len(faces)), 4),
        "scale": q(scales),
        "shift_y": q(shifts_y),
        "shift_x": q(shifts_x),
        "median_score": round(statistics.median(scores), 4) if scores else None,
        "recrop_mae": {n: round(statistics.median(v), 2) for n, v in errors.items() if v},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="FER2013 gzip CSV")
    parser.add_argument("--n", type=int, default=400, help="faces to measure")
    parser.add_argument("--usage", default="Training", help="FER2013 Usage to sample from")
    parser.add_argument("--stride", type=int, default=7, help="take every stride-th row")
    parser.add_argument("--size", type=int, default=192, help="upscaled face side in pixels")
    parser.add_argument("--model", default="short", help="detector model: short, full or a .tflite path")
    parser.add_argument("--min-confidence", type=float, default=0.5)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma list of {', '.join(VARIANTS)}")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    faces, _ = load_faces(args.csv, args.n, args.usage, args.stride)
    results: dict[str, dict] = {}
    with FaceDetector(args.model, min_confidence=args.min_confidence) as detector:
        for name in args.variants.split(","):
            border, frac = VARIANTS[name.strip()]
            results[name] = measure(detector, faces, args.size, border, frac)

    print(f"{len(faces)} FER2013 {args.usage} faces, upscaled to {args.size}px, model={args.model}")
    print(f"{'variant':<13}{'detected':>10}{'scale p25/med/p75':>26}{'shift_y p25/med/p75':>28}{'shift_x med':>13}")
    for name, r in results.items():
        if not r["detected"]:
            print(f"{name:<13}{'0':>10}")
            continue
        s, y, x = r["scale"], r["shift_y"], r["shift_x"]
        print(
            f"{name:<13}{r['detected']:>5}/{r['faces']:<4}"
            f"{s['p25']:>10.3f}{s['median']:>8.3f}{s['p75']:>8.3f}"
            f"{y['p25']:>12.3f}{y['median']:>8.3f}{y['p75']:>8.3f}{x['median']:>13.3f}"
        )
    chosen = CHOSEN if CHOSEN in results and results[CHOSEN]["detected"] else None
    if chosen:
        # Check the rounded medians: re-cropping with them should restore the faces better than the box alone.
        scale = round(results[chosen]["scale"]["median"], 2)
        shift = round(results[chosen]["shift_y"]["median"], 2)
        geometries = {"box_only(1.0,0.0)": (1.0, 0.0), f"measured({scale},{shift})": (scale, shift)}
        with FaceDetector(args.model, min_confidence=args.min_confidence) as detector:
            border, frac = VARIANTS[chosen]
            check = measure(detector, faces, args.size, border, frac, geometries)
        results[chosen]["recrop_mae"] = check["recrop_mae"]
        print("median |re-crop - original| in grey levels (48x48):")
        for name, mae in check["recrop_mae"].items():
            print(f"  {name:<24}{mae:>6.2f}")
    summary: dict = {
        "csv": str(args.csv),
        "usage": args.usage,
        "stride": args.stride,
        "size": args.size,
        "model": args.model,
        "min_confidence": args.min_confidence,
        "variants": results,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if chosen:
        summary["chosen_variant"] = chosen
        summary["CROP_SCALE"] = round(results[chosen]["scale"]["median"], 2)
        summary["CROP_SHIFT_Y"] = round(results[chosen]["shift_y"]["median"], 2)
        print(f"-> CROP_SCALE = {summary['CROP_SCALE']}, CROP_SHIFT_Y = {summary['CROP_SHIFT_Y']} (from {chosen})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

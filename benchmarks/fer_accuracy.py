"""Score the `fer` package's bundled emotion model on FER2013 faces, in fer's own virtual environment.

fer cannot share ferdesk's venv (it pulls full TensorFlow, torch and its own OpenCV), so this script imports
nothing from ferdesk. Each 48x48 face is handed to `FER().detect_emotions` with the whole image as the face box,
so fer's own crop, resize and scaling are used. Feed the JSON to `benchmarks/accuracy.py --peer-json`:

    /tmp/fer-venv/bin/python benchmarks/fer_accuracy.py --data fer2013.csv.gz --json fer_accuracy.json
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # FER2013 order, also fer's


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="FER2013 CSV (plain or .gz)")
    p.add_argument("--usage", default="PublicTest")
    p.add_argument("--json", required=True)
    args = p.parse_args(argv)

    import numpy as np
    from importlib.metadata import version

    from fer.fer import FER

    opener = gzip.open if args.data.endswith(".gz") else open
    faces, labels = [], []
    with opener(args.data, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Usage"] == args.usage:
                faces.append(np.array(row["pixels"].split(), dtype=np.uint8).reshape(48, 48))
                labels.append(int(row["emotion"]))
    model = FER()
    predicted = []
    for face in faces:
        bgr = np.ascontiguousarray(np.repeat(face[:, :, None], 3, axis=2))
        result = model.detect_emotions(bgr, face_rectangles=[(0, 0, 48, 48)])
        scores = result[0]["emotions"] if result else {}
        predicted.append(EMOTIONS.index(max(scores, key=scores.get)) if scores else -1)
    y, p_ = np.array(labels), np.array(predicted)
    recall = {e: float((p_[y == k] == k).mean()) for k, e in enumerate(EMOTIONS)}
    f1s = []
    for k in range(len(EMOTIONS)):
        tp = float(((p_ == k) & (y == k)).sum())
        precision = tp / max(1.0, float((p_ == k).sum()))
        f1s.append(0.0 if tp == 0 else 2 * precision * recall[EMOTIONS[k]] / (precision + recall[EMOTIONS[k]]))
    report = {
        "model": f"fer {version('fer')} (bundled emotion_model.hdf5)",
        "usage": args.usage,
        "n": len(y),
        "accuracy": float((p_ == y).mean()),
        "macro_f1": float(np.mean(f1s)),
        "per_class_recall": recall,
        "unclassified": int((p_ < 0).sum()),
    }
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"fer on {args.usage}: {len(y)} faces, accuracy {report['accuracy']:.4f}, macro-F1 {report['macro_f1']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

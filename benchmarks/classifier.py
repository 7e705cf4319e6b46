"""Cost of each model folder's classifier on this CPU: milliseconds per call for 1 and 5 faces through the app's
LiteRT path (EmotionClassifier, flip averaging as the card says), beside the machine-independent cost (multiply-adds
and parameters per face), with the CPU and its SIMD class printed first.

    python benchmarks/classifier.py [--model DIR ...] [--repeats 200] [--json benchmarks/results/classifier.json]

Faces are real (the shipped demo faces, cropped as the app crops them). Time figures transfer only to CPUs of the
same class (AVX2 only, AVX-512 VNNI, AMX): compare models by ratio within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from ferdesk.classify import EmotionClassifier  # noqa: E402
from ferdesk.model_card import load_keras_model  # noqa: E402
from ferdesk.paths import model_folders  # noqa: E402
from machine import cpu_info, describe  # noqa: E402

BATCHES = (1, 5)


def demo_crops() -> np.ndarray:
    from ferdesk.preprocess import INPUT_SIZE
    from ferdesk.sources import demo_faces

    import cv2

    crops = [
        cv2.resize(
            cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image,
            (INPUT_SIZE, INPUT_SIZE),
            interpolation=cv2.INTER_AREA,
        )
        for _, image in demo_faces()
    ]
    return np.stack(crops).astype(np.uint8)


def model_cost(folder: Path) -> dict:
    """Multiply-adds and parameters per face, counted from the folder's Keras model (x2 with flip averaging)."""
    from training.models import multiply_adds

    card, model = load_keras_model(folder)
    passes = 2 if card.training.get("flip_average") else 1
    return {
        "multiply_adds": multiply_adds(model) * passes,
        "parameters": int(model.count_params()),
        "passes_per_face": passes,
    }


def time_classifier(folder: Path, faces: np.ndarray, repeats: int, threads: int) -> dict:
    classifier = EmotionClassifier(folder, num_threads=threads)
    out = {}
    for n in BATCHES:
        batch = faces[np.arange(n) % len(faces)]
        for _ in range(10):
            classifier.predict(batch)
        wall, cpu = [], []
        for _ in range(repeats):
            w0, c0 = time.perf_counter(), time.process_time()
            classifier.predict(batch)
            wall.append((time.perf_counter() - w0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        out[f"{n}_faces"] = {
            "median_ms": round(float(np.median(wall)), 3),
            "p95_ms": round(float(np.percentile(wall, 95)), 3),
            "min_ms": round(float(np.min(wall)), 3),
            "cpu_ms": round(float(np.median(cpu)), 3),
            "ms_per_face": round(float(np.median(wall)) / n, 3),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", nargs="*", help="model folders (default: the shipped ones and their complete members)")
    p.add_argument("--repeats", type=int, default=200, help="timed calls per batch size (default: 200)")
    p.add_argument("--threads", type=int, default=2, help="LiteRT threads, as the app uses (default: 2)")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    if args.repeats < 1 or args.threads < 1:
        p.error("--repeats and --threads must be at least 1")
    folders = [Path(m) for m in args.model] if args.model else [f for f in model_folders() if "ferdesk" not in str(f)]
    if args.model:
        missing = [str(f) for f in folders if not (f / "card.json").is_file()]
        if missing:
            p.error(f"not a model folder: {', '.join(missing)}")
    info = cpu_info()
    print(describe(info))
    faces = demo_crops()
    rows = []
    header = f"{'model':<34}{'MACs/face':>11}{'params':>10}{'1 face ms':>11}{'5 faces ms':>12}{'ms/face@5':>11}{'cpu ms@5':>10}"
    print(header)
    print("-" * len(header))
    for folder in folders:
        row = {"model": str(folder), **model_cost(folder), **time_classifier(folder, faces, args.repeats, args.threads)}
        rows.append(row)
        print(
            f"{folder.name:<34}{row['multiply_adds'] / 1e6:>10.1f}M{row['parameters'] / 1e6:>9.2f}M"
            f"{row['1_faces']['median_ms']:>11.2f}{row['5_faces']['median_ms']:>12.2f}"
            f"{row['5_faces']['ms_per_face']:>11.2f}{row['5_faces']['cpu_ms']:>10.2f}"
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps({"system": info, "threads": args.threads, "models": rows}, indent=2) + "\n"
        )
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Accuracy of every shipped model (and any --model folders) on FER2013 PublicTest and extra datasets.

    python benchmarks/accuracy.py [--data FER_CSV] [--extra CSV_OR_FOLDER ...] [--model DIR ...] [--json FILE]

Scores through the app's own inference path (LiteRT, with the model's flip averaging). fer cannot be installed in
ferdesk's venv, so its bundled model is scored by benchmarks/fer_accuracy.py in fer's own venv and joined here
with --peer-json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ferdesk.model_card import ModelFolderError, load_keras_model, read_card  # noqa: E402
from ferdesk.paths import MODELS_DIR  # noqa: E402
from training.evaluate import evaluate  # noqa: E402
from machine import cpu_info, describe  # noqa: E402
from training.models import multiply_adds  # noqa: E402


def shipped_models() -> list[Path]:
    folders = []
    for folder in sorted(p for p in MODELS_DIR.iterdir() if p.is_dir()):
        try:
            read_card(folder)
            folders.append(folder)
        except ModelFolderError:
            continue
    return folders


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.environ.get("FERDESK_DATA"), help="FER2013 CSV (default: $FERDESK_DATA)")
    p.add_argument("--usage", default="PublicTest", help="rows of --data to score")
    p.add_argument("--extra", nargs="*", default=[], help="more CSVs or image folders (all their test rows)")
    p.add_argument("--model", nargs="*", default=None, help="model folders (default: every folder in models/)")
    p.add_argument("--peer-json", help="fer's figures from benchmarks/fer_accuracy.py (run in fer's own venv)")
    p.add_argument("--json", dest="json_out", help="write the results here")
    args = p.parse_args(argv)
    if not args.data:
        p.error("no dataset: pass --data or set FERDESK_DATA")
    models = [Path(m) for m in args.model] if args.model else shipped_models()
    datasets = [(Path(args.data), args.usage)] + [(Path(e), "test") for e in args.extra]
    print(describe(cpu_info()) + " (accuracy does not depend on it; the cost column is per face, any CPU)")
    rows = []
    for model in models:
        card, keras_model = load_keras_model(model)
        passes = 2 if card.training.get("flip_average") else 1
        cost = {"multiply_adds": multiply_adds(keras_model) * passes, "parameters": int(keras_model.count_params())}
        for data, usage in datasets:
            metrics = evaluate(model, data, usage, backend="tflite")
            rows.append(
                {
                    "model": model.name,
                    **cost,
                    "labels": metrics["labels"],
                    "data": data.name,
                    "usage": usage,
                    "n": metrics["n"],
                    "accuracy": metrics["accuracy"],
                    "macro_f1": metrics["macro_f1"],
                    "per_class_recall": metrics["per_class_recall"],
                }
            )
    if args.peer_json:
        peer = json.loads(Path(args.peer_json).read_text(encoding="utf-8"))
        rows.append(
            {
                "model": peer["model"].split(" (")[0],
                "labels": list(peer["per_class_recall"]),
                "data": Path(args.data).name,
                "usage": peer["usage"],
                "n": peer["n"],
                "accuracy": peer["accuracy"],
                "macro_f1": peer["macro_f1"],
                "per_class_recall": peer["per_class_recall"],
                "source": peer["model"],
            }
        )
    else:
        print("note: no --peer-json; run benchmarks/fer_accuracy.py in fer's own venv to compare with fer")
    header = (
        f"{'model':<22}{'MACs/face ':>11}{'data':<22}{'usage':<12}{'faces':>7}{'accuracy':>10}{'macro-F1':>10}"
        "  per-class recall"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        recall = ", ".join(f"{k} {v:.2f}" for k, v in r["per_class_recall"].items())
        macs = f"{r['multiply_adds'] / 1e6:.0f}M " if "multiply_adds" in r else "? "
        print(
            f"{r['model']:<22}{macs:>11}{r['data']:<22}{r['usage']:<12}{r['n']:>7}{r['accuracy']:>10.4f}"
            f"{r['macro_f1']:>10.4f}  {recall}"
        )
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

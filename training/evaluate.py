"""ferdesk-eval: evaluate a model folder on a FER2013-style CSV or image folder."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from ferdesk.defaults import data_path, quiet_tensorflow


def labelled_faces(card, data: Path, usage: str = "test", skip_bad: bool = False):
    """One split of a dataset for a model: (faces, labels in the model's output order, the dataset)."""
    from ferdesk.labels import EMOTIONS
    from ferdesk.model_card import ModelFolderError
    from training.data import load_dataset

    unknown = [label for label in card.labels if label not in EMOTIONS]
    if unknown:
        raise ModelFolderError(f"{card.folder}: labels {unknown} are not FER2013 emotions, so FER data cannot score it")
    dataset = load_dataset(data, card.labels, skip_bad)
    # Dataset labels follow FER2013 order; map them to the model's output order.
    to_model = np.array([card.labels.index(name) for name in dataset.emotions])
    if usage == "all":
        images, labels = dataset.images, dataset.labels
    else:
        images, labels = dataset.split(usage)
    if len(labels) == 0:
        raise ValueError(f"{data}: no rows with usage {usage!r} (try --usage all)")
    return images, to_model[labels], dataset


def evaluate(model_dir: Path, data: Path, usage: str = "test", backend: str = "keras", skip_bad: bool = False) -> dict:
    """Metrics of a model folder on one split of a dataset ('test' = all non-Training rows, 'all' = every row)."""
    from ferdesk.model_card import read_card
    from training.metrics import classification_metrics

    card = read_card(model_dir, need=())
    images, labels, dataset = labelled_faces(card, data, usage, skip_bad)
    if backend == "tflite":
        from ferdesk.classify import EmotionClassifier

        classifier = EmotionClassifier(model_dir)
        proba = np.concatenate([classifier.predict(images[i : i + 256]) for i in range(0, len(images), 256)])
    else:
        from ferdesk.model_card import load_keras_model
        from training.fit import predict_proba

        _, model = load_keras_model(model_dir)
        proba = predict_proba(model, images, bool(card.training.get("flip_average", False)))
    metrics = classification_metrics(labels, proba, card.labels)
    metrics.update(
        {
            "model": str(model_dir),
            "data": str(data),
            "data_sha256": dataset.sha256,
            "usage": usage,
            "backend": backend,
            "labels": card.labels,
            "skipped_rows": len(dataset.skipped),
        }
    )
    return metrics


def check_output_file(path: Path, option: str) -> None:
    """Fail before the work when its result could not be written to path."""
    try:
        path.resolve()
    except RuntimeError:  # Python < 3.13: "Symlink loop from ..."
        raise ValueError(f"{option} {path}: symbolic link loop") from None
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise ValueError(f"{option} {path}: folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"{option} {path}: not writable")


def main(argv: list[str] | None = None) -> int:
    """Ctrl-C or SIGTERM ends in one line with status 130."""
    from training import interrupts

    try:
        interrupts.install()
        return _main(argv)
    except KeyboardInterrupt:
        print("ferdesk-eval: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(prog="ferdesk-eval", description=__doc__)
    p.add_argument("--model", required=True, help="model folder (card.json, model.keras, model.tflite)")
    p.add_argument("--data", default=data_path(), help="CSV or image folder (default: $FERDESK_DATA)")
    p.add_argument(
        "--usage",
        default="test",
        help="rows to score: test (every non-Training row), all, or a Usage value such as PublicTest",
    )
    p.add_argument(
        "--backend",
        choices=("keras", "tflite"),
        default="keras",
        help="keras (model.keras, safe mode) or tflite (the app's inference path)",
    )
    p.add_argument("--skip-bad", action="store_true", help="skip malformed rows/images")
    p.add_argument("--json", dest="json_out", help="also write the metrics to this JSON file")
    args = p.parse_args(argv)
    quiet_tensorflow()
    if not args.data:
        print("ferdesk-eval: error: no dataset; pass --data or set FERDESK_DATA", file=sys.stderr)
        return 2
    from training.metrics import format_metrics

    try:
        if args.json_out:
            check_output_file(Path(args.json_out), "--json")
        metrics = evaluate(Path(args.model), Path(args.data), args.usage, args.backend, args.skip_bad)
    except (ValueError, OSError) as exc:
        print(f"ferdesk-eval: error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.model} on {args.data} ({args.usage}, {args.backend})")
    print(format_metrics(metrics, metrics["labels"]))
    if args.json_out:
        try:
            Path(args.json_out).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"ferdesk-eval: error: cannot write {args.json_out}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write a trained Keras model as a model folder the app can load (model.keras, model.tflite, card.json)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
from pathlib import Path

from ferdesk.defaults import quiet_tensorflow
from ferdesk.model_card import KERAS_FILE, TFLITE_FILE, ModelCard, write_card
from ferdesk.outputs import staged_file


def export_tflite(model, path: Path, quantize: bool = True) -> None:
    """LiteRT flatbuffer with a dynamic batch dimension, so one call classifies every face of a frame.

    quantize: dynamic-range int8 weights. On this CPU it makes cnn_medium about 3.5x faster per face (8x for five
    faces) and 4x smaller, with probabilities within about 0.01 of float32 (the card records both accuracies).
    """
    import tensorflow as tf

    signature = [tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name="face")]
    options = {"optimizations": [tf.lite.Optimize.DEFAULT]} if quantize else {}
    # The converter prints its own diagnostics; keep the console for progress.
    with contextlib.redirect_stdout(io.StringIO()):
        model.export(str(path), format="litert", input_signature=signature, verbose=False, **options)


def tflite_format(quantize: bool) -> str:
    return "dynamic-range int8 weights, float32 input/output" if quantize else "float32"


def can_export_tflite() -> bool:
    """The LiteRT converter ships with TensorFlow, which a JAX or PyTorch training machine may not have."""
    return importlib.util.find_spec("tensorflow") is not None


def write_model_folder(model, folder: Path, card: ModelCard, quantize: bool = True) -> bool:
    """Save model.keras and card.json, and model.tflite where TensorFlow is installed; True if it was."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / KERAS_FILE)
    tflite = can_export_tflite()
    if tflite:
        export_tflite(model, folder / TFLITE_FILE, quantize)
        card.training["tflite"] = tflite_format(quantize)
    else:
        card.training["tflite"] = (
            "not exported: TensorFlow is not installed where this was trained; "
            "run `python -m training.export MODEL_DIR --data DATA` where it is"
        )
    write_card(card, folder)
    for name in (KERAS_FILE, TFLITE_FILE) if tflite else (KERAS_FILE,):
        if os.path.getsize(folder / name) == 0:
            raise RuntimeError(f"{folder / name}: export produced an empty file")
    return tflite


def score_exported_tflite(folder: Path, card: ModelCard, images, labels) -> dict:
    """Score the folder's model.tflite (what the app runs) on the test faces and record it in the card.

    Returns the report's `exported_tflite` entry. Quantisation may shift a few predictions, so both are kept.
    """
    from ferdesk.classify import EmotionClassifier
    from training.metrics import classification_metrics

    app = classification_metrics(labels, EmotionClassifier(folder).predict(images), card.labels)
    card.metrics["test_accuracy_tflite"] = app["accuracy"]
    card.metrics["test_macro_f1_tflite"] = app["macro_f1"]
    return {"format": card.training["tflite"], "test_accuracy": app["accuracy"], "test_macro_f1": app["macro_f1"]}


def reexport(folder: Path, data: Path | None = None, quantize: bool = True) -> dict:
    """Rebuild a model folder's model.tflite from its model.keras (e.g. to quantise an older export).

    With data, the new file is scored on the card's test split and the card's TFLite metrics are updated (and
    the training report's, if the folder has one). The new file replaces the old one only once it is complete.
    """
    from ferdesk.model_card import load_keras_model

    folder = Path(folder)
    card, model = load_keras_model(folder)
    test = None
    if data is not None:  # read before the export, so unusable data changes nothing
        from training.evaluate import labelled_faces

        test = labelled_faces(card, Path(data), card.metrics.get("test_split", "test"))
    with staged_file(folder / TFLITE_FILE, overwrite=True) as staging:  # keeps the .tflite the exporter insists on
        export_tflite(model, staging, quantize)
    card.training["tflite"] = tflite_format(quantize)
    if test is not None:
        images, labels, dataset = test
        # Another file than the one trained on (e.g. the .gz of that CSV): the card says which one scored it.
        if dataset.sha256 != card.data.get("sha256"):
            card.data["scored_on"] = dataset.file_record()
        else:
            card.data.pop("scored_on", None)
        exported = score_exported_tflite(folder, card, images, labels)
        _update_report(folder, exported)
    write_card(card, folder)
    return card.metrics


def _update_report(folder: Path, exported: dict) -> None:
    """Record the new file's accuracy in the folder's training or ensemble report, re-rendering its Markdown."""
    from training.report import ensemble_markdown, markdown_report

    path = folder / "report.json"
    if not path.exists():  # a hand-made folder: the card alone carries the metrics
        return
    report = json.loads(path.read_text(encoding="utf-8"))
    report["exported_tflite"] = exported
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    render = ensemble_markdown if "members" in report else markdown_report
    (folder / "report.md").write_text(render(report), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m training.export", description=reexport.__doc__)
    p.add_argument("model", help="model folder holding model.keras and card.json")
    p.add_argument("--data", help="dataset to score the new model.tflite on (the card's test split)")
    p.add_argument("--no-quantize", action="store_true", help="export float32 instead of int8 weights")
    args = p.parse_args(argv)
    quiet_tensorflow()
    from ferdesk.model_card import ModelFolderError
    from training import interrupts

    try:
        interrupts.install()
        metrics = reexport(Path(args.model), Path(args.data) if args.data else None, not args.no_quantize)
    except (ValueError, OSError, ModelFolderError) as exc:
        print(f"training.export: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("training.export: interrupted; the model folder is as it was", file=sys.stderr)
        return 130
    print({k: v for k, v in metrics.items() if "tflite" in k} or "re-exported (no data given, card metrics unchanged)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

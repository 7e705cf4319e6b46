"""Average trained models of the same emotions into one model folder: an ensemble the app runs as one file.

    python -m training.ensemble MODEL_DIR MODEL_DIR [...] --data fer2013.csv --out models/NAME

The members' Keras models become branches of one Keras model whose output is the mean of their probabilities,
so the app, ferdesk-eval and the benchmarks need nothing new: one model.tflite, one call per frame. The
ensemble is scored on the members' test split, each member beside it, and nothing is written unless all of
that succeeds. Members should be trained independently (another seed or schedule): fine-tunes of one model
make the same mistakes and average to no gain.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from pathlib import Path

import numpy as np

from ferdesk.defaults import data_path, quiet_tensorflow
from ferdesk.outputs import staged_folder

ENSEMBLE = "ensemble"


def check_members(cards: list, flip_given: bool = False) -> None:
    """Members must agree on everything the app applies once for the whole model (flip averaging unless given)."""
    if len(cards) < 2:
        raise ValueError("an ensemble needs at least two model folders")
    folders = [Path(card.folder).resolve() for card in cards]
    twice = sorted({str(f) for f in folders if folders.count(f) > 1})
    if twice:
        raise ValueError(f"{', '.join(twice)} listed more than once; a model averaged with itself gains nothing")
    first = cards[0]
    for card in cards[1:]:
        shared = [
            ("labels", card.labels, first.labels),
            ("preprocessing", card.preprocessing, first.preprocessing),
            ("test split", card.metrics.get("test_split"), first.metrics.get("test_split")),
        ]
        if not flip_given:
            shared.insert(
                2,
                ("flip averaging", card.training.get("flip_average", False), first.training.get("flip_average", False)),
            )
        for what, mine, theirs in shared:
            if mine != theirs:
                raise ValueError(
                    f"{card.folder} and {first.folder} differ in {what} ({theirs!r} vs {mine!r}); "
                    "an ensemble's members must share it"
                )


def combine(models: list):
    """One Keras model: the same input through every member, probabilities averaged."""
    import keras
    from keras import layers

    inputs = keras.Input(models[0].input_shape[1:], name="face")
    # Rewrap each member under its own name: members built from one zoo entry share a name.
    branches = [keras.Model(m.input, m.output, name=f"member_{i}")(inputs) for i, m in enumerate(models)]
    outputs = layers.Average(name="probabilities")(branches)
    return keras.Model(inputs, outputs, name=ENSEMBLE)


def build_ensemble(
    members: list[Path],
    data: Path,
    out: Path,
    overwrite: bool = False,
    quantize: bool = True,
    command: str = "",
    flip_average: bool | None = None,
) -> dict:
    """flip_average: score each face and its mirror image (None: as the members do). Two members without it
    cost one member with it."""
    from ferdesk.model_card import KERAS_FILE, ModelCard, load_keras_model, read_card, write_card
    from training.evaluate import labelled_faces
    from training.export import score_exported_tflite, write_model_folder
    from training.fit import predict_proba
    from training.metrics import classification_metrics
    from training.models import trainable_parameters
    from training.report import write_ensemble_report
    from training.run import check_output, machine_description, model_lineage

    # Before the slow loading:
    check_members([read_card(folder, need=(KERAS_FILE,)) for folder in members], flip_average is not None)
    check_output(out, overwrite)  # fails early when out exists
    with staged_folder(out, overwrite) as staging:
        loaded = [load_keras_model(folder) for folder in members]
        cards = [card for card, _ in loaded]
        first = cards[0]
        flip = bool(first.training.get("flip_average", False)) if flip_average is None else flip_average
        split = first.metrics.get("test_split") or "test"
        images, labels, dataset = labelled_faces(first, data, split)
        member_rows, member_proba = [], []
        for card, model in loaded:
            proba = predict_proba(model, images, flip)
            member_proba.append(proba)
            member_rows.append(
                {
                    **model_lineage(card),
                    "architecture": card.architecture,
                    "parameters": trainable_parameters(model),
                    "test": classification_metrics(labels, proba, first.labels),
                }
            )
        ensemble = combine([model for _, model in loaded])
        proba = predict_proba(ensemble, images, flip)
        # The merged graph must compute exactly the mean of the members (up to float rounding).
        np.testing.assert_allclose(proba, np.mean(member_proba, axis=0), atol=1e-4)
        test = classification_metrics(labels, proba, first.labels)
        created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        card = ModelCard(
            name=out.name,
            labels=first.labels,
            architecture=ENSEMBLE,
            preprocessing=first.preprocessing,
            metrics={
                "cv_accuracy_mean": None,
                "cv_accuracy_std": None,
                "cv_macro_f1_mean": None,
                "test_accuracy": test["accuracy"],
                "test_macro_f1": test["macro_f1"],
                "test_per_class_recall": test["per_class_recall"],
                "test_split": split,
                "folds": 0,
                "repeats": 1,
            },
            data={**first.data, "scored_on": dataset.file_record()},
            training={
                "command": command,
                "created": created,
                "machine": machine_description(),
                "flip_average": flip,
                "parameters": sum(m["parameters"] for m in member_rows),
                "members": [{k: v for k, v in m.items() if k != "test"} for m in member_rows],
            },
        )
        write_model_folder(ensemble, staging, card, quantize)
        exported = score_exported_tflite(staging, card, images, labels)
        write_card(card, staging)
        report = {
            "command": command,
            "created": created,
            "machine": card.training["machine"],
            "data": {
                **dataset.file_record(),
                "emotions": first.labels,
                "test_usage": split,
                "test_size": int(len(labels)),
            },
            "flip_average": flip,
            "members": member_rows,
            "test": test,
            "exported_tflite": exported,
        }
        write_ensemble_report(report, staging)
    return report


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(
        prog="python -m training.ensemble", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("members", nargs="+", help="model folders (card.json and model.keras each)")
    p.add_argument(
        "--data",
        default=data_path(),
        help="the dataset the members were trained on, to score on its test split (default: $FERDESK_DATA)",
    )
    p.add_argument("--out", required=True, help="the ensemble's model folder")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists (only once all succeeded)")
    p.add_argument("--no-quantize", action="store_true", help="export model.tflite in float32")
    p.add_argument(
        "--flip-average",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="average each face with its mirror image (default: as the members do; "
        "without it, two members cost what one flip-averaged member does)",
    )
    args = p.parse_args(argv)
    if not args.data:
        p.error("no dataset: pass --data or set FERDESK_DATA")
    quiet_tensorflow()
    from ferdesk.model_card import ModelFolderError
    from training import interrupts

    try:
        interrupts.install()
        if not Path(args.data).exists():  # before the members load
            raise ValueError(f"{args.data}: no such file or folder")
        report = build_ensemble(
            [Path(m) for m in args.members],
            Path(args.data),
            Path(args.out),
            args.overwrite,
            not args.no_quantize,
            shlex.join(["python", "-m", "training.ensemble", *argv]),
            args.flip_average,
        )
    except (ValueError, OSError, ModelFolderError) as exc:
        print(f"training.ensemble: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("training.ensemble: interrupted; nothing was written", file=sys.stderr)
        return 130
    for member in report["members"]:
        print(
            f"{member['name']}: test accuracy {member['test']['accuracy']:.4f}, macro-F1 {member['test']['macro_f1']:.4f}"
        )
    print(
        f"ensemble: test accuracy {report['test']['accuracy']:.4f}, macro-F1 {report['test']['macro_f1']:.4f}; "
        f"model.tflite {report['exported_tflite']['test_accuracy']:.4f} -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the Retrain dialog says before and after a run, read from the cards and reports the trainer writes.

Before: too few faces or epochs for a useful model, and how long the run may take at the speed measured on this
machine. After: whether the new model does better than guessing, and than the model in use on the same test
faces. Plain Python (no Qt, no training code): the numbers all come from files.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

from ferdesk.model_card import ModelCard
from ferdesk.run_report import RunReport
from ferdesk.sources import IMAGE_SUFFIXES

FEW_FACES_PER_EMOTION = 200  # below this, a fresh model rarely learns more than the commonest emotion
FEW_EPOCHS = 5  # a fresh fit of any CNN here is still near its start after fewer
SPEED_FROM_FACES = 1000  # runs on fewer faces are mostly start-up time: their images/s says little
NEAR_CHANCE = 0.05  # a test accuracy within this of guessing is called no better than guessing

# TensorFlow's, absl's and LiteRT's own logging, which says nothing to someone retraining a model.
_NOISE = re.compile(
    r"^(WARNING:tensorflow:|WARNING:absl:|INFO: |WARNING: \[|WARNING: All log messages before absl|"
    r"WARNING: Logging before InitGoogle|[IWE]\d{4} [\d:.]+ +\d+ \S+:\d+\]|"
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] |.*oneDNN custom operations are on|"
    r".*This TensorFlow binary is optimized|To enable the following instructions|.*cuda_(?:dnn|blas|fft)|"
    r".*Unable to register cu(?:DNN|FFT|BLAS) factory|.*absl::InitializeLog\(\))"
)


def is_log_noise(line: str) -> bool:
    return bool(_NOISE.match(line))


_SHA: dict[tuple[str, int, float], str] = {}


def file_sha256(path: Path) -> str:
    """The file's SHA-256, as the trainer records it in cards (remembered per path, size and time)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime)
    if key not in _SHA:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _SHA[key] = digest.hexdigest()
    return _SHA[key]


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def training_faces(data: Path, emotions: list[str], folders: Iterable[Path]) -> dict[str, int] | None:
    """Training faces of each chosen emotion, when known without loading the data: counted in a folder dataset's
    train/<emotion>/, or taken from a model card trained on the same file (same SHA-256). None when unknown."""
    if data.is_dir():
        train = data / "train"
        if not train.is_dir():
            return None
        return {
            e: sum(1 for p in (train / e).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if (train / e).is_dir()
            else 0
            for e in emotions
        }
    if not data.is_file():
        return None
    sha = file_sha256(data)
    for folder in folders:
        card = read_json(folder / "card.json") or {}
        counts = card.get("data", {}).get("train_counts") or {}
        if card.get("data", {}).get("sha256") == sha and all(e in counts for e in emotions):
            return {e: int(counts[e]) for e in emotions}
    return None


def warnings(faces: dict[str, int] | None, epochs: int, fine_tune: bool) -> list[str]:
    """Plain warnings about a run that cannot give a useful model."""
    said = []
    if faces is not None:
        fewest = min(faces, key=faces.get)
        if faces[fewest] < FEW_FACES_PER_EMOTION:
            said.append(
                f"Far too few faces: {faces[fewest]} of '{fewest}' ({sum(faces.values())} in all). A useful "
                f"model needs thousands; with under {FEW_FACES_PER_EMOTION} of an emotion expect about "
                "chance accuracy."
            )
    if epochs < FEW_EPOCHS and not fine_tune:
        said.append(f"Far too few epochs: {epochs}. A new model needs {FEW_EPOCHS * 3} or more; a fine-tune fewer.")
    return said


def measured_speeds(reports: Iterable[RunReport]) -> dict[str, float]:
    """Images per second of each network, from runs on this machine with enough faces to tell (newest first)."""
    speeds: dict[str, float] = {}
    for report in reports:
        if (report.data.train_size or 0) < SPEED_FROM_FACES:
            continue
        for model in report.models:
            if model.images_per_second is not None and model.images_per_second > 0:
                speeds.setdefault(model.name, model.images_per_second)
    return speeds


def estimate_seconds(faces: int, epochs: int, folds: int, models: list[str], speeds: dict[str, float]) -> float | None:
    """The longest the fits may take (early stopping ends them sooner): each epoch of the K cross-validation fits
    sees (K-1)/K of the faces, the final fit all of them; None when a network's speed is not known."""
    if any(m not in speeds for m in models):
        return None
    passes = max(folds, 1)  # K fits of (K-1)/K of the faces, plus the final fit on all of them
    return sum(epochs * faces * passes / speeds[m] for m in models)


def duration_words(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def verdict(report: RunReport, in_use: ModelCard | None) -> tuple[bool, str]:
    """Whether the run's best model is worth using, and why, in words: against guessing (the commonest emotion of
    the test faces, at least 1/K), and against the model in use when it was tested on the same faces."""
    accuracy = report.best.test.accuracy
    emotions = report.data.emotions
    matrix = report.best.test.confusion_matrix
    rows = [sum(r) for r in matrix]
    guessing = max(1 / len(emotions), max(rows) / sum(rows) if rows and sum(rows) else 0.0)
    lines = []
    useful = accuracy >= guessing + NEAR_CHANCE
    if useful:
        lines.append(f"Test accuracy {accuracy:.1%}, against {guessing:.0%} by guessing.")
    else:
        lines.append(
            f"This model is no better than guessing: test accuracy {accuracy:.1%}, where always answering "
            f"the commonest emotion gives {guessing:.0%}. It was saved, but it is not worth using: train "
            "on more faces or for more epochs."
        )
    if in_use is not None:
        same_faces = (
            in_use.data.get("sha256") == report.data.sha256
            and sorted(in_use.labels) == sorted(emotions)
            and in_use.metrics.get("test_split") == report.data.test_usage
        )
        theirs = in_use.metrics.get("test_accuracy")
        if same_faces and isinstance(theirs, (int, float)):
            if accuracy > theirs:
                lines.append(f"Better than the model in use, {in_use.name}: {theirs:.1%} on the same test faces.")
            elif accuracy == theirs:
                lines.append(f"As good as the model in use, {in_use.name}, on the same test faces.")
            else:
                useful = False
                lines.append(f"The model in use, {in_use.name}, does better: {theirs:.1%} on the same test faces.")
        else:
            lines.append(
                f"The model in use, {in_use.name}, was tested on other faces or emotions, so the two "
                "cannot be compared directly."
            )
    return useful, " ".join(lines)

"""Model folders: model.tflite (what the app runs), model.keras (for evaluation and retraining) and card.json.

The card says what the model is: labels in output order, input spec and preprocessing, metrics, data and command.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ferdesk.preprocess import check_spec

CARD_FILE = "card.json"
KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
CARD_FORMAT = 1


class ModelFolderError(ValueError):
    """A folder that is not a usable ferdesk model; the message says what is wrong."""


@dataclass
class ModelCard:
    name: str
    labels: list[str]
    architecture: str
    preprocessing: dict
    metrics: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    folder: Path | None = None

    @property
    def multiply_adds(self) -> float | None:
        """Multiply-adds a face, where the card has them: machine-independent, so models compare on any CPU."""
        macs = self.training.get("multiply_adds")
        return float(macs) if isinstance(macs, (int, float)) and macs > 0 else None

    @property
    def summary(self) -> str:
        """One line for menus: name, emotions, test accuracy and cost (multiply-adds a face), where the card has them."""
        acc = self.app_accuracy
        acc_text = "" if acc is None else f", test accuracy {acc:.1%}"
        macs = self.multiply_adds
        cost_text = f", {macs / 1e6:.0f}M multiply-adds a face" if macs else ""
        return f"{self.name} ({', '.join(self.labels)}{acc_text}{cost_text})"

    @property
    def app_accuracy(self) -> float | None:
        """Test accuracy of the file the app runs (model.tflite) where it was measured, else of the Keras model."""
        acc = self.metrics.get("test_accuracy_tflite", self.metrics.get("test_accuracy"))
        return float(acc) if isinstance(acc, (int, float)) else None

    def to_json(self) -> dict:
        return {
            "format": CARD_FORMAT,
            "name": self.name,
            "labels": self.labels,
            "architecture": self.architecture,
            "input": {"shape": [None, 48, 48, 1], "dtype": "float32", "range": [0.0, 1.0]},
            "preprocessing": self.preprocessing,
            "metrics": self.metrics,
            "data": self.data,
            "training": self.training,
            "files": {"tflite": TFLITE_FILE, "keras": KERAS_FILE},
        }


def lighter_model(current: ModelCard, candidates, ms_per_face: float, budget_ms: float) -> ModelCard | None:
    """Of `candidates` with the same emotions at half `current`'s multiply-adds or fewer: the most accurate one that
    should take at most `budget_ms` a face (time taken as proportional to multiply-adds, roughly so on one CPU),
    else the cheapest; None if there is none."""
    if current.multiply_adds is None:
        return None
    fits = [
        card
        for card in candidates
        if card.labels == current.labels
        and card.multiply_adds is not None
        and card.multiply_adds <= current.multiply_adds / 2
        and card.folder != current.folder
    ]
    in_budget = [card for card in fits if ms_per_face * card.multiply_adds / current.multiply_adds <= budget_ms]
    if in_budget:
        return max(in_budget, key=lambda card: card.app_accuracy or 0.0)
    return min(fits, key=lambda card: card.multiply_adds, default=None)


def write_card(card: ModelCard, folder: Path) -> Path:
    path = Path(folder) / CARD_FILE
    path.write_text(json.dumps(card.to_json(), indent=2) + "\n", encoding="utf-8")
    return path


def read_card(folder: str | Path, need: tuple[str, ...] = (TFLITE_FILE,)) -> ModelCard:
    """Read and validate a model folder's card; raise ModelFolderError naming the problem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFolderError(f"{folder}: not a folder")
    card_path = folder / CARD_FILE
    if not card_path.is_file():
        raise ModelFolderError(
            f"{folder}: no {CARD_FILE}; a model folder holds {CARD_FILE}, {TFLITE_FILE}, {KERAS_FILE}"
        )
    try:
        raw = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFolderError(f"{card_path}: unreadable card ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != CARD_FORMAT:
        raise ModelFolderError(
            f"{card_path}: unknown card format {raw.get('format') if isinstance(raw, dict) else raw!r}"
        )
    labels = raw.get("labels")
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) for x in labels):
        raise ModelFolderError(f"{card_path}: 'labels' must list at least two label names")
    try:
        check_spec(raw.get("preprocessing") or {})
    except ValueError as exc:
        raise ModelFolderError(f"{card_path}: {exc}") from None
    for name in need:
        if not (folder / name).is_file():
            hint = ""
            if name == TFLITE_FILE and (folder / KERAS_FILE).is_file():  # e.g. trained where TensorFlow was absent
                hint = f"; make it from {KERAS_FILE} with `python -m training.export {folder}`"
            raise ModelFolderError(f"{folder}: missing {name}{hint}")
    return ModelCard(
        name=str(raw.get("name") or folder.name),
        labels=labels,
        architecture=str(raw.get("architecture", "unknown")),
        preprocessing=raw["preprocessing"],
        metrics=raw.get("metrics") or {},
        data=raw.get("data") or {},
        training=raw.get("training") or {},
        folder=folder,
    )


def load_keras_model(folder: str | Path):
    """The folder's Keras model, loaded with safe_mode (no arbitrary code from the file is run)."""
    import keras

    card = read_card(folder, need=(KERAS_FILE,))
    path = Path(folder) / KERAS_FILE
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # keras raises many types for corrupt archives
        raise ModelFolderError(f"{path}: cannot load Keras model ({type(exc).__name__}: {exc})") from None
    if model.output_shape[-1] != len(card.labels):
        raise ModelFolderError(f"{path}: {model.output_shape[-1]} outputs but the card lists {len(card.labels)} labels")
    return card, model

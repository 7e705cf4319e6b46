"""Knowledge distillation: teachers' soft targets for the training faces, and the loss that trains a student on them.

Teachers are model folders run through the app's own classifier (model.tflite), each face and its mirror image
averaged, once per face: the targets do not depend on the augmentation the student sees, because every augmentation
here (flip, small shifts, rotations, zoom, erasing) keeps the expression. Online teaching would run the teacher on
every augmented batch, several times the student's own cost on a CPU.

Targets are cached as plain arrays (`.npz`, read with allow_pickle=False), keyed by the teachers' file hashes and the
faces themselves, so a second run, a resumed run or a CPU-only machine given the file skips the teachers entirely.
A teacher folder may ship such files in its `soft-targets/` folder (the default does, for the FER2013 Training faces).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ferdesk.model_card import KERAS_FILE, TFLITE_FILE, ModelFolderError, read_card
from ferdesk.outputs import staged_file
from training.data import file_sha256

TEACHER_BATCH = 256
SHIPPED_TARGETS_DIR = "soft-targets"
# Hinton et al. (2015) scale the soft term by T^2 so its gradients keep their size as the temperature changes.


def teacher_record(folder: str | Path) -> dict:
    """A teacher's name, how it was made and the sha256 of its files: the lineage a student's card keeps."""
    folder = Path(folder)
    card = read_card(folder)
    files = {
        name: file_sha256(folder / name) for name in (TFLITE_FILE, KERAS_FILE, "card.json") if (folder / name).is_file()
    }
    return {
        "name": card.name,
        "path": str(folder),
        "architecture": card.architecture,
        "labels": list(card.labels),
        "command": card.training.get("command"),
        "test_accuracy": card.app_accuracy,
        "multiply_adds": card.training.get("multiply_adds"),
        "sha256": files,
    }


def check_teachers(folders: list[str], emotions: list[str]) -> list[dict]:
    """Fail before any data is loaded when a teacher is unusable or cannot score every emotion of this run."""
    records = []
    for folder in folders:
        try:
            record = teacher_record(folder)
        except (ModelFolderError, OSError) as exc:
            raise ValueError(f"teacher {folder}: {exc}") from None
        missing = [e for e in emotions if e not in record["labels"]]
        if missing:
            raise ValueError(
                f"teacher {folder} classifies {','.join(record['labels'])}; it cannot teach {','.join(missing)}"
            )
        records.append(record)
    return records


def _restricted(proba: np.ndarray, teacher_labels: list[str], emotions: list[str]) -> np.ndarray:
    """The teacher's probabilities over this run's emotions only, renormalised (a 7-emotion teacher for 2)."""
    columns = [teacher_labels.index(e) for e in emotions]
    sub = proba[:, columns].astype(np.float64)
    sub = np.maximum(sub, 1e-8)
    return (sub / sub.sum(axis=1, keepdims=True)).astype(np.float32)


def _cache_key(records: list[dict], images: np.ndarray, emotions: list[str]) -> str:
    digest = hashlib.sha256()
    for record in records:
        digest.update(record["sha256"].get(TFLITE_FILE, "").encode())
    digest.update(",".join(emotions).encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    return digest.hexdigest()[:24]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ferdesk" / "soft-targets"


def soft_targets(
    records: list[dict], images: np.ndarray, emotions: list[str], cache_dir: str | Path | None = None, progress=None
) -> np.ndarray:
    """(N, K) float32 probabilities: every teacher's mirror-averaged output on each face, averaged over teachers."""
    from ferdesk.classify import EmotionClassifier

    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    name = f"soft-{_cache_key(records, images, emotions)}.npz"
    path = cache / name
    for stored_path in [path, *(Path(r["path"]) / SHIPPED_TARGETS_DIR / name for r in records)]:
        if stored_path.is_file():
            with np.load(stored_path, allow_pickle=False) as stored:
                targets = stored["targets"]
            if targets.shape == (len(images), len(emotions)):
                if progress is not None:
                    progress.message(f"teacher soft targets read from {stored_path}")
                return targets
    total = np.zeros((len(images), len(emotions)), dtype=np.float64)
    for record in records:
        classifier = EmotionClassifier(record["path"], flip_average=True)
        if progress is not None:
            progress.message(f"teacher {record['name']}: scoring {len(images)} faces and their mirror images")
        proba = np.concatenate(
            [classifier.predict(images[i : i + TEACHER_BATCH]) for i in _batches(len(images), progress, record["name"])]
        )
        total += _restricted(proba, classifier.labels, emotions)
    targets = (total / len(records)).astype(np.float32)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with staged_file(path, overwrite=True) as partial:  # keeps .npz, so np.savez adds no suffix of its own
            np.savez(
                partial,
                targets=targets,
                emotions=np.array(emotions),
                teacher_tflite_sha256=np.array([r["sha256"].get(TFLITE_FILE, "") for r in records]),
            )
    except OSError:  # a read-only cache only costs the next run the teachers' time again
        pass
    return targets


def _batches(n: int, progress, name: str):
    starts = range(0, n, TEACHER_BATCH)
    if progress is None or progress.mode != "bar":
        return starts
    from tqdm import tqdm

    return tqdm(starts, desc=f"teacher {name}", unit="batch", file=progress.stream, leave=False)


def distillation_loss(n_classes: int, temperature: float, weight: float, label_smoothing: float = 0.0):
    """Loss on targets packed as [one-hot | teacher probabilities] (2K columns) and the student's softmax output.

    (1 - weight) * cross-entropy(labels) + weight * T^2 * KL(teacher_T || student_T), where p_T = softmax(log p / T):
    the student's log-probabilities are its logits up to a constant, so this softens it exactly as logits / T would.
    """
    import keras
    from keras import ops

    def loss(y_true, y_pred):
        hard, soft = y_true[:, :n_classes], y_true[:, n_classes:]
        y_pred = ops.cast(y_pred, "float32")
        hard_loss = keras.losses.categorical_crossentropy(hard, y_pred, label_smoothing=label_smoothing)
        student_log = ops.log_softmax(ops.log(ops.clip(y_pred, 1e-7, 1.0)) / temperature, axis=-1)
        teacher = ops.softmax(ops.log(ops.clip(soft, 1e-7, 1.0)) / temperature, axis=-1)
        kl = ops.sum(teacher * (ops.log(ops.clip(teacher, 1e-7, 1.0)) - student_log), axis=-1)
        return (1.0 - weight) * hard_loss + weight * temperature * temperature * kl

    return loss


def hard_label_accuracy(n_classes: int):
    """Accuracy against the true labels of packed targets, named "accuracy" so early stopping reads it as usual."""
    import keras

    def accuracy(y_true, y_pred):
        return keras.metrics.categorical_accuracy(y_true[:, :n_classes], y_pred)

    return keras.metrics.MeanMetricWrapper(accuracy, name="accuracy")

"""Teach ferdesk your face: the user's own labelled face crops, held in memory, and what a fine-tune needs of them.

The GUI (ferdesk/gui/personalise.py) collects crops; this module holds them, splits each emotion's faces into
training faces and held-back test faces, scores a model on the held-back ones, picks the model a fine-tune can start
from, and writes faces in the train/<emotion>/ and test/<emotion>/ folder layout that `ferdesk-train` reads. Nothing
here touches the disk unless asked to write a folder.
"""

from __future__ import annotations

import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ferdesk.architectures import is_zoo_cnn
from ferdesk.model_card import KERAS_FILE, ModelCard, ModelFolderError, read_card
from ferdesk.preprocess import INPUT_SIZE, crop_face

TEST_SHARE = 0.25  # of each emotion's faces held back to score the model before and after
MIN_PER_EMOTION = 2  # one to train on and one to test on
CAPTURE = "capture"  # how a sample came: the guided capture, or a right-click correction
CORRECTION = "correction"


@dataclass(frozen=True, eq=False)  # each sample is itself: two identical crops are still two samples
class Sample:
    face: np.ndarray  # 48x48 uint8, from ferdesk.preprocess.crop_face
    emotion: str
    origin: str = CAPTURE
    timestamp: float = 0.0  # the frame's time in its source
    track_id: int | None = None


def face_crop(frame: np.ndarray, face) -> np.ndarray:
    """The shared 48x48 crop of a pipeline FaceResult in the frame it was found in (turned upright as it was)."""
    return crop_face(frame, face.box, angle=face.angle)


@dataclass
class SampleSet:
    """The user's labelled faces, in memory, in the order they came."""

    samples: list[Sample] = field(default_factory=list)
    changed: bool = False  # samples added since they were last saved (the app asks before quitting loses them)

    def add(
        self, face: np.ndarray, emotion: str, origin: str = CAPTURE, timestamp: float = 0.0, track_id: int | None = None
    ) -> Sample:
        face = np.asarray(face)
        if face.shape != (INPUT_SIZE, INPUT_SIZE) or face.dtype != np.uint8:
            raise ValueError(f"a sample is a {INPUT_SIZE}x{INPUT_SIZE} uint8 crop, got {face.shape} {face.dtype}")
        sample = Sample(face.copy(), emotion, origin, timestamp, track_id)
        self.samples.append(sample)
        self.changed = True
        return sample

    def add_face(self, frame: np.ndarray, face, emotion: str, origin: str = CAPTURE, timestamp: float = 0.0) -> Sample:
        """The crop of a pipeline FaceResult, labelled `emotion`."""
        return self.add(face_crop(frame, face), emotion, origin, timestamp, face.track_id)

    def remove(self, sample: Sample) -> None:
        self.samples = [s for s in self.samples if s is not sample]

    def clear(self) -> None:
        self.samples = []

    def of(self, emotion: str) -> list[Sample]:
        return [s for s in self.samples if s.emotion == emotion]

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for s in self.samples:
            found[s.emotion] = found.get(s.emotion, 0) + 1
        return found

    def __len__(self) -> int:
        return len(self.samples)


@dataclass(frozen=True)
class Split:
    """Each emotion's samples, as training faces and held-back test faces."""

    train: dict[str, list[Sample]]
    test: dict[str, list[Sample]]

    def test_faces(self) -> tuple[np.ndarray, list[str]]:
        """The held-back faces (N, 48, 48) and their emotions, in a fixed order."""
        samples = [s for group in self.test.values() for s in group]
        faces = np.stack([s.face for s in samples]) if samples else np.zeros((0, INPUT_SIZE, INPUT_SIZE), np.uint8)
        return faces, [s.emotion for s in samples]


def missing(samples: SampleSet, emotions: list[str]) -> list[str]:
    """The emotions with too few samples to both train and test on (each needs MIN_PER_EMOTION)."""
    counts = samples.counts()
    return [e for e in emotions if counts.get(e, 0) < MIN_PER_EMOTION]


def split(
    samples: SampleSet, emotions: list[str], test_share: float = TEST_SHARE, seed: int = 0, need_test: bool = True
) -> Split:
    """Hold back `test_share` of each emotion's samples (at least one), drawn at random with `seed`; the rest train.

    need_test: raise ValueError naming every emotion with fewer than MIN_PER_EMOTION samples; without it, an
    emotion's only sample goes to training.
    """
    if not 0.0 < test_share < 1.0:
        raise ValueError(f"test_share must be between 0 and 1, got {test_share}")
    few = missing(samples, emotions)
    if few and need_test:
        counts = samples.counts()
        raise ValueError(
            "too few samples of "
            + ", ".join(f"{e} ({counts.get(e, 0)})" for e in few)
            + f": each emotion needs at least {MIN_PER_EMOTION}, one to learn from and one to test on"
        )
    train, test = {}, {}
    for emotion in emotions:
        group = samples.of(emotion)
        # Each emotion draws on its own: the same samples split alike whichever other emotions are split with them.
        order = np.random.default_rng([seed, zlib.crc32(emotion.encode())]).permutation(len(group))
        n_test = max(0, min(len(group) - 1, max(1, round(len(group) * test_share))))  # 0 for a lone sample
        test[emotion] = [group[i] for i in sorted(order[:n_test])]
        train[emotion] = [group[i] for i in sorted(order[n_test:])]
    return Split(train, test)


def accuracy(folder: str | Path, faces: np.ndarray, emotions: list[str]) -> float:
    """The share of faces the model folder's model.tflite (what the app runs) gives the right emotion."""
    from ferdesk.classify import EmotionClassifier

    if len(faces) == 0:
        raise ValueError("no faces to score")
    classifier = EmotionClassifier(folder, num_threads=1)
    predicted = np.argmax(classifier.predict(faces), axis=1)
    return float(np.mean([classifier.labels[k] == e for k, e in zip(predicted, emotions)]))


def fine_tunable(card: ModelCard) -> ModelCard | None:
    """The model a fine-tune starts from: the model itself when it is one of the zoo's CNNs with its model.keras,
    else the first of its members (an ensemble's members/ folder) that is; None when there is none."""
    folders = [card.folder] if card.folder is not None else []
    if card.folder is not None and (card.folder / "members").is_dir():
        folders += sorted(p for p in (card.folder / "members").iterdir() if p.is_dir() and not p.name.startswith("."))
    for folder in folders:
        try:
            found = read_card(folder, need=(KERAS_FILE,))
        except ModelFolderError:
            continue
        if is_zoo_cnn(found.architecture):
            return found
    return None


def _write_faces(folder: Path, samples: list[Sample], stem: str) -> int:
    """PNG files stem-001.png, stem-002.png...; never over an existing file (a number taken is skipped)."""
    folder.mkdir(parents=True, exist_ok=True)
    number = 0
    for sample in samples:
        while True:
            number += 1
            path = folder / f"{stem}-{number:03d}.png"
            if not path.exists():
                break
        ok, data = cv2.imencode(".png", sample.face)
        if not ok:
            raise OSError(f"cannot encode a face as PNG for {path}")
        with open(path, "xb") as handle:  # "x": a file that appeared meanwhile is never overwritten
            handle.write(data.tobytes())
    return number


def write_folder(root: str | Path, parts: Split, stem: str | None = None) -> Path:
    """Write the split as root/train/<emotion>/*.png and root/test/<emotion>/*.png, beside any faces already there.

    The 48x48 crops are written as they are: the folder loader's crop_face leaves a 48x48 image unchanged.
    """
    root = Path(root)
    stem = stem or f"me-{time.strftime('%Y%m%d-%H%M%S')}"
    for usage, groups in (("train", parts.train), ("test", parts.test)):
        for emotion, samples in groups.items():
            _write_faces(root / usage / emotion, samples, stem)
    return root


def private_folder() -> tempfile.TemporaryDirectory:
    """A temporary folder only this user can read (mode 0700, as mkdtemp makes it); cleanup() removes it."""
    return tempfile.TemporaryDirectory(prefix="ferdesk-faces-")

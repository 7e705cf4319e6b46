"""FER2013 loaders (Kaggle CSV, plain or gzip; train/test image folders) with row-level validation.

Every face goes through ferdesk.preprocess.crop_face, the same function the live app uses.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ferdesk.labels import EMOTIONS, parse_emotions
from ferdesk.media import IMAGE_SUFFIXES, ImageError, read_image
from ferdesk.preprocess import INPUT_SIZE, crop_face

CSV_HEADER = ("emotion", "pixels", "Usage")
PIXELS_PER_FACE = INPUT_SIZE * INPUT_SIZE
TRAIN_USAGE = "Training"
# Folder layout: train/ rows count as Training, test/ rows as PublicTest (the default test split).
FOLDER_USAGE = {"train": TRAIN_USAGE, "test": "PublicTest"}


class DatasetError(ValueError):
    """A dataset that cannot be used as it is; the message names the file and line or path."""


@dataclass(frozen=True)
class BadRow:
    """A row or image that was skipped with --skip-bad, and why."""

    where: str
    reason: str


@dataclass
class Dataset:
    """Faces as (N, 48, 48) uint8, compact labels 0..K-1 in the order of `emotions`, and each row's usage."""

    images: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    emotions: list[str]
    source: str
    sha256: str
    skipped: list[BadRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def file_record(self) -> dict:
        """Which file the faces came from, as cards and reports record it."""
        return {"source_name": Path(self.source).name, "sha256": self.sha256}

    def split(self, usage: str) -> tuple[np.ndarray, np.ndarray]:
        """Images and labels of one usage; 'test' means every non-Training row."""
        mask = self.usage != TRAIN_USAGE if usage == "test" else self.usage == usage
        return self.images[mask], self.labels[mask]

    def class_counts(self, usage: str | None = None) -> dict[str, int]:
        labels = self.labels if usage is None else self.split(usage)[1]
        counts = np.bincount(labels, minlength=len(self.emotions))
        return {name: int(c) for name, c in zip(self.emotions, counts)}

    def subset(self, emotions: list[str]) -> Dataset:
        """The faces of some of its emotions, relabelled 0..K-1 in the given order."""
        keep = [self.emotions.index(name) for name in emotions]
        relabel = np.full(len(self.emotions), -1)
        relabel[keep] = np.arange(len(keep))
        mask = np.isin(self.labels, keep)
        return Dataset(
            self.images[mask],
            relabel[self.labels[mask]],
            self.usage[mask],
            list(emotions),
            self.source,
            self.sha256,
            self.skipped,
        )


def check_emotions(dataset: Dataset, named: bool, test_usage: str, folds: int = 0) -> tuple[Dataset, list[str]]:
    """Make sure every emotion of a run can be trained and tested, before any fit; returns the dataset to train
    on and what to tell the user.

    named: the user listed the emotions (--emotions), so each must have faces; otherwise the run trains the
    emotions the data has training faces of. Test faces come from the test_usage rows, or, in a file with no
    test rows at all, from 10% of the training faces held back. Any other mismatch is refused, naming what is
    missing.
    """
    notes = []
    train = dataset.class_counts(TRAIN_USAGE)
    have = [name for name, count in train.items() if count]
    lacking = [name for name in dataset.emotions if name not in have]
    if not have:
        raise DatasetError(f"{dataset.source}: no {TRAIN_USAGE} rows (or train/ images) to train on")
    if named and lacking:
        raise DatasetError(
            f"{dataset.source}: no training faces of {', '.join(lacking)}; it has training faces of "
            f"{', '.join(have)} only: leave {', '.join(lacking)} out of --emotions"
        )
    if len(have) < 2:
        raise DatasetError(
            f"{dataset.source}: training faces of {have[0]} only; a classifier needs at least two emotions"
        )
    if lacking:
        dataset = dataset.subset(have)
        notes.append(f"training {', '.join(have)}: the data has no training faces of {', '.join(lacking)}")
        train = dataset.class_counts(TRAIN_USAGE)
    usages = set(dataset.usage.tolist()) - {TRAIN_USAGE}
    if test_usage in usages:
        test = dataset.class_counts(test_usage)
        untested = [name for name, count in test.items() if not count]
        if untested:
            raise DatasetError(
                f"{dataset.source}: no {test_usage} faces of {', '.join(untested)} to test on; "
                f"train only emotions it has test faces of (--emotions "
                f"{','.join(n for n in dataset.emotions if n not in untested)})"
            )
    elif usages:
        raise DatasetError(
            f"{dataset.source}: no {test_usage} rows to test on; its test rows are marked "
            f"{', '.join(sorted(usages))}: pass --test-usage {sorted(usages)[0]}"
        )
    else:
        notes.append(f"no test rows in {dataset.source}: testing on 10% of the training faces, held back")
    # The smallest class must fill every fold, and keep one face for the held-back test part if there is one.
    need = max(folds, 1 if usages else 2)
    few = [f"{name} ({count})" for name, count in train.items() if count < need]
    if few:
        why = f"--folds {folds}" if folds >= need and folds > 1 else "holding back test faces"
        raise DatasetError(
            f"{dataset.source}: too few training faces of {', '.join(few)} for {why} (at least {need} each)"
        )
    return dataset, notes


def file_sha256(path: Path, opener=open) -> str:
    digest = hashlib.sha256()
    with opener(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def gunzipped_sha256(path: Path) -> str:
    """Hash of what a .gz file holds: a card made from the decompressed copy records this one."""
    return file_sha256(path, gzip.open)


def folder_sha256(files: list[Path], root: Path) -> str:
    """Hash of every image's relative path and bytes, so renamed or edited images change the hash."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()


def imbalance_ratio(counts: dict[str, int]) -> float:
    """Largest class size over smallest (inf when a class is empty)."""
    values = list(counts.values())
    return float("inf") if min(values) == 0 else max(values) / min(values)


def class_weights(labels: np.ndarray, n_classes: int) -> dict[int, float]:
    """'Balanced' weights n_samples / (n_classes * count), as scikit-learn defines them."""
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    counts[counts == 0] = np.inf
    return {k: float(len(labels) / (n_classes * counts[k])) for k in range(n_classes)}


def _open_text(path: Path) -> io.TextIOBase:
    """utf-8-sig: spreadsheet programs start a saved CSV with a byte-order mark, which is not part of the header."""
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _parse_pixels(text: str) -> np.ndarray:
    values = text.split()
    if len(values) != PIXELS_PER_FACE:
        raise ValueError(f"expected {PIXELS_PER_FACE} pixel values, got {len(values)}")
    try:
        pixels = np.array(values, dtype=np.int32)
    except ValueError:
        bad = next(v for v in values if not v.lstrip("-").isdigit())
        raise ValueError(f"non-numeric pixel value {bad!r}") from None
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError("pixel values must lie in 0..255")
    return pixels.astype(np.uint8).reshape(INPUT_SIZE, INPUT_SIZE)


def _finish(images, labels, usage, emotions, source, sha, skipped) -> Dataset:
    if not labels:
        raise DatasetError(f"{source}: no faces of the selected emotions ({', '.join(emotions)})")
    return Dataset(
        images=np.stack(images).astype(np.uint8),
        labels=np.array(labels, dtype=np.int64),
        usage=np.array(usage),
        emotions=emotions,
        source=source,
        sha256=sha,
        skipped=skipped,
    )


def load_fer_csv(path: str | Path, emotions=None, skip_bad: bool = False) -> Dataset:
    """Read a Kaggle-style fer2013.csv(.gz); rows of other emotions are skipped before their pixels are parsed."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    emotions = parse_emotions(emotions)
    compact = {EMOTIONS.index(name): k for k, name in enumerate(emotions)}
    images, labels, usage, skipped = [], [], [], []
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or tuple(h.strip() for h in header[:3]) != CSV_HEADER:
                raise DatasetError(f"{path}:1: expected header {','.join(CSV_HEADER)}, got {header!r}")
            for row in reader:
                line = reader.line_num
                try:
                    if len(row) < 2:
                        raise ValueError(f"expected columns {','.join(CSV_HEADER)}, got {len(row)} column(s)")
                    try:
                        code = int(row[0])
                    except ValueError:
                        raise ValueError(f"emotion label {row[0]!r} is not an integer") from None
                    if not 0 <= code < len(EMOTIONS):
                        raise ValueError(f"emotion label {code} out of range 0..{len(EMOTIONS) - 1}")
                    if code not in compact:
                        continue
                    face = _parse_pixels(row[1])
                except ValueError as exc:
                    if not skip_bad:
                        raise DatasetError(f"{path}:{line}: {exc}") from None
                    skipped.append(BadRow(f"{path}:{line}", str(exc)))
                    continue
                images.append(face)
                labels.append(compact[code])
                usage.append(row[2].strip() if len(row) > 2 and row[2].strip() else TRAIN_USAGE)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    return _finish(images, labels, usage, emotions, str(path), file_sha256(path), skipped)


def load_image_folder(root: str | Path, emotions=None, skip_bad: bool = False) -> Dataset:
    """Read root/train/<emotion>/* and root/test/<emotion>/* images of any size into 48x48 gray faces."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    emotions = parse_emotions(emotions)
    splits = [d for d in sorted(root.iterdir()) if d.is_dir() and d.name.lower() in FOLDER_USAGE]
    if not splits:
        raise DatasetError(f"{root}: expected sub-folders train/<emotion>/ and test/<emotion>/")
    images, labels, usage, skipped, files = [], [], [], [], []
    for split_dir in splits:
        for emotion_dir in sorted(d for d in split_dir.iterdir() if d.is_dir()):
            name = emotion_dir.name.lower()
            if name not in EMOTIONS:
                raise DatasetError(f"{emotion_dir}: unknown emotion folder; expected one of {', '.join(EMOTIONS)}")
            if name not in emotions:
                continue
            for path in sorted(p for p in emotion_dir.iterdir() if p.is_file()):
                if path.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                try:
                    face = crop_face(read_image(path))
                except ValueError as exc:  # ImageError names the file itself
                    if not skip_bad:
                        raise DatasetError(str(exc) if isinstance(exc, ImageError) else f"{path}: {exc}") from None
                    skipped.append(BadRow(str(path), str(exc)))
                    continue
                files.append(path)
                images.append(face)
                labels.append(emotions.index(name))
                usage.append(FOLDER_USAGE[split_dir.name.lower()])
    return _finish(images, labels, usage, emotions, str(root), folder_sha256(files, root), skipped)


def load_dataset(path: str | Path, emotions=None, skip_bad: bool = False) -> Dataset:
    """A folder is read as the image layout, a file as the Kaggle CSV."""
    path = Path(path)
    if path.is_dir():
        return load_image_folder(path, emotions, skip_bad)
    return load_fer_csv(path, emotions, skip_bad)


def describe(dataset: Dataset) -> str:
    """Class counts per split and the imbalance, for the console and the report."""
    lines = [f"{dataset.source}: {len(dataset)} faces, emotions {', '.join(dataset.emotions)}"]
    for usage in sorted(Counter(dataset.usage.tolist())):
        counts = dataset.class_counts(usage)
        pretty = ", ".join(f"{k} {v}" for k, v in counts.items())
        lines.append(f"  {usage}: {sum(counts.values())} ({pretty}); imbalance {imbalance_ratio(counts):.2f}")
    if dataset.skipped:
        lines.append(
            f"  skipped {len(dataset.skipped)} bad row(s): "
            + "; ".join(f"{b.where} ({b.reason})" for b in dataset.skipped[:5])
            + (" ..." if len(dataset.skipped) > 5 else "")
        )
    return "\n".join(lines)

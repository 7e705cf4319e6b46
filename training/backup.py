"""Per-epoch fit backups that a kill at any moment leaves readable.

Keras's BackupAndRestore writes its weights file in place, so a trainer killed mid-save (SIGKILL, a Ray worker
torn down with its driver, a power cut) leaves a truncated HDF5 file, and every later run of the same command then
fails on it ("bad object header version number"). Here each save goes to staging files (ferdesk.outputs) that are
renamed over the backup only once complete, and a backup that still cannot be read is set aside so the fit starts afresh.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ferdesk.outputs import StagedFiles
from training.progress import Progress


def readable(folder: Path) -> bool:
    """Whether a backup folder holds a weights file and metadata that load in full."""
    import h5py

    def read(name, item) -> None:  # None: visititems stops at the first callback that returns anything else
        if isinstance(item, h5py.Dataset):
            item[()]

    weights, metadata = folder / "latest.weights.h5", folder / "training_metadata.json"
    try:
        if metadata.exists():
            int(json.loads(metadata.read_text())["epoch"])
        if weights.exists():
            with h5py.File(weights, "r") as file:  # a torn write fails here or on reading a dataset
                file.visititems(read)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def resume_epoch(folder: Path, progress: Progress, fit_name: str) -> int:
    """The epoch the fit backed up in `folder` resumes at (0 without a backup). Called before the fit is built:
    a backup that cannot be read is removed first, with a message, and the fit starts from the beginning."""
    if folder.exists() and not readable(folder):
        shutil.rmtree(folder, ignore_errors=True)
        progress.message(f"{fit_name}: its backup in {folder} could not be read; fitting from the start")
        return 0
    metadata = folder / "training_metadata.json"
    return int(json.loads(metadata.read_text())["epoch"]) if metadata.exists() else 0


def backup_callback(folder: Path):
    """BackupAndRestore for one fit under `folder`, saved atomically each epoch (check it first: resume_epoch)."""
    import keras

    class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
        def _save_model(self):
            folder.mkdir(parents=True, exist_ok=True)
            # Published in this order: a kill between the two renames repeats one epoch rather than skipping one.
            with StagedFiles(overwrite=True) as files:
                self.model.save_weights(str(files.add(self._weights_path)), overwrite=True)
                metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
                files.add(self._training_metadata_path).write_text(json.dumps(metadata))

    return AtomicBackupAndRestore(str(folder))


EARLY_STOPPING_STATE = "early_stopping.json"
BEST_WEIGHTS = "best_weights.npz"  # plain arrays (read with allow_pickle=False), not Keras' file: no optimizer in it


def early_stopping_callback(folder: Path | None, patience: int):
    """EarlyStopping on val_accuracy that ends the fit with its best epoch's weights.

    Keras keeps the best epoch in memory only, so a fit resumed from its backup used to end with the best epoch
    since the resume (a mid-schedule one, in a long run). With a backup folder, the best value, epoch, patience
    count and weights are saved beside the backup each epoch and read back when the fit resumes.
    """
    import keras
    import numpy as np

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            if folder is None or not (folder / EARLY_STOPPING_STATE).exists():
                return
            try:
                state = json.loads((folder / EARLY_STOPPING_STATE).read_text())
                with np.load(folder / BEST_WEIGHTS, allow_pickle=False) as stored:
                    weights = [stored[f"w{i}"] for i in range(len(stored.files))]
                best, best_epoch, wait = float(state["best"]), int(state["best_epoch"]), int(state["wait"])
            except (OSError, ValueError, KeyError, TypeError):
                return  # unreadable: early stopping starts afresh, as it did before
            if [w.shape for w in weights] != [tuple(v.shape) for v in self.model.weights]:
                return
            self.best, self.best_epoch, self.wait, self.best_weights = best, best_epoch, wait, weights

        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            if folder is None or self.best is None or self.best_weights is None:
                return
            folder.mkdir(parents=True, exist_ok=True)
            with StagedFiles(overwrite=True) as files:
                if self.best_epoch == epoch:  # the first epoch with a score always is
                    np.savez(files.add(folder / BEST_WEIGHTS), **{f"w{i}": w for i, w in enumerate(self.best_weights)})
                state = {"best": float(self.best), "best_epoch": self.best_epoch, "wait": self.wait}
                files.add(folder / EARLY_STOPPING_STATE).write_text(json.dumps(state))

    return ResumableEarlyStopping(monitor="val_accuracy", mode="max", patience=patience, restore_best_weights=True)

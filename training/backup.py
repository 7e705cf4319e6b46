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


def resume_epoch(folder: Path) -> int:
    """The epoch a fit backed up in `folder` resumes at: 0 when there is no backup or it cannot be read."""
    metadata = folder / "training_metadata.json"
    if not metadata.exists() or not readable(folder):
        return 0
    return int(json.loads(metadata.read_text())["epoch"])


def backup_callback(folder: Path, progress: Progress, fit_name: str):
    """BackupAndRestore for one fit under `folder`, saved atomically each epoch."""
    import keras

    class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
        def on_train_begin(self, logs=None):
            if folder.exists() and not readable(folder):
                shutil.rmtree(folder, ignore_errors=True)
                progress.message(f"{fit_name}: its backup in {folder} could not be read; fitting from the start")
            super().on_train_begin(logs)

        def _save_model(self):
            folder.mkdir(parents=True, exist_ok=True)
            # Published in this order: a kill between the two renames repeats one epoch rather than skipping one.
            with StagedFiles(overwrite=True) as files:
                self.model.save_weights(str(files.add(self._weights_path)), overwrite=True)
                metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
                files.add(self._training_metadata_path).write_text(json.dumps(metadata))

    return AtomicBackupAndRestore(str(folder))

"""Fit backups survive a kill at any moment: mid-save, or torn by an older trainer."""

from __future__ import annotations

import json

import keras
import pytest

from training.backup import readable, resume_epoch
from training.data import load_fer_csv
from training.fit import FitSettings, fit_cnn
from training.models import build_cnn
from training.progress import Progress


class Recorder(Progress):
    def __init__(self):
        super().__init__("quiet")
        self.events: list[tuple] = []

    def message(self, text):
        self.events.append(("message", text))

    def resumed(self, model, stage, fold, folds, epochs_done, epochs):
        self.events.append(("resumed", epochs_done))

    def epoch_done(self, model, stage, fold, folds, epoch, epochs, metrics):
        self.events.append(("epoch", epoch))


class KilledMidSave(Exception):
    pass


@pytest.fixture
def halves(sample_csv):
    data = load_fer_csv(sample_csv)
    half = len(data.labels) // 2
    return (data.images[:half], data.labels[:half]), (data.images[half:], data.labels[half:])


def fit(halves, checkpoints, progress, epochs=3):
    settings = FitSettings(epochs=epochs, patience=epochs, batch_size=32, checkpoint_dir=str(checkpoints))
    return fit_cnn("cnn_small", 7, *halves, settings, progress, stage="final")


def test_a_kill_during_a_save_leaves_the_last_backup_to_resume_from(halves, tmp_path, monkeypatch):
    save_weights = keras.Model.save_weights
    saves = []

    def dies_half_way_through_the_second_save(self, filepath, *args, **kwargs):
        saves.append(filepath)
        if len(saves) == 2:
            save_weights(self, filepath, *args, **kwargs)
            with open(filepath, "r+b") as file:  # what SIGKILL in the middle of the write leaves
                file.truncate(file.seek(0, 2) // 3)
            raise KilledMidSave
        return save_weights(self, filepath, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save_weights", dies_half_way_through_the_second_save)
    with pytest.raises(KilledMidSave):
        fit(halves, tmp_path, Recorder())
    monkeypatch.undo()

    backup = tmp_path / "cnn_small-final-0"
    assert readable(backup), "the epoch-1 backup must still load"
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 1

    progress = Recorder()
    result = fit(halves, tmp_path, progress)
    assert ("resumed", 1) in progress.events and [e for e in progress.events if e[0] == "epoch"][-1] == ("epoch", 3)
    assert result.model is not None and not backup.exists(), "a finished fit deletes its backup"


def test_a_torn_backup_from_an_older_trainer_is_set_aside_and_the_fit_starts_afresh(halves, tmp_path):
    backup = tmp_path / "cnn_small-final-0"
    backup.mkdir()
    (backup / "latest.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(200))  # a signature and nothing more
    (backup / "training_metadata.json").write_text('{"epoch": 2, "batch": 0}')
    assert not readable(backup)

    progress = Recorder()
    fit(halves, tmp_path, progress, epochs=2)
    messages = [text for kind, text in progress.events if kind == "message"]
    assert any("could not be read; fitting from the start" in text for text in messages), progress.events
    assert [e for e in progress.events if e[0] != "message"] == [("epoch", 1), ("epoch", 2)]


def test_a_backup_is_readable_only_if_every_weight_in_it_reads(tmp_path):
    import h5py
    import numpy as np

    backup = tmp_path / "cnn_small-final-0"
    backup.mkdir()
    (backup / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    stored = tmp_path / "second-layer.bin"
    stored.write_bytes(np.arange(4.0).tobytes())
    with h5py.File(backup / "latest.weights.h5", "w") as file:
        file.create_dataset("layers/first/kernel", data=np.ones(4))
        file.create_dataset("layers/second/kernel", shape=(4,), dtype="f8", external=[(str(stored), 0, 32)])
    assert readable(backup)
    stored.unlink()  # the file opens, but the second layer's weights are gone
    assert not readable(backup)


def test_a_resumed_fit_builds_its_pipeline_for_the_epoch_it_resumes_at(halves, tmp_path, monkeypatch):
    """The backup's epoch reaches the input pipeline, so a resumed fit draws new batches (see test_augment)."""
    from training import fit as fitting

    starts = []
    make_dataset = fitting.make_dataset

    def recording(*args, start_epoch=0, **kwargs):
        if kwargs.get("shuffle"):  # the training pipeline, not validation's
            starts.append(start_epoch)
        return make_dataset(*args, start_epoch=start_epoch, **kwargs)

    monkeypatch.setattr(fitting, "make_dataset", recording)
    backup = tmp_path / "cnn_small-final-0"
    assert resume_epoch(backup, Recorder(), "probe") == 0  # no backup yet

    class StopAfterTwoEpochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KilledMidSave  # after the epoch-2 backup was written (the backup callback runs first)

    monkeypatch.setattr(fitting.interrupts, "stop_fit_callback", StopAfterTwoEpochs)
    with pytest.raises(KilledMidSave):
        fit(halves, tmp_path, Recorder())
    assert resume_epoch(backup, Recorder(), "probe") == 2
    assert (backup / "early_stopping.json").is_file()  # early stopping's best epoch is kept with the backup
    monkeypatch.undo()
    monkeypatch.setattr(fitting, "make_dataset", recording)
    progress = Recorder()
    fit(halves, tmp_path, progress)
    assert starts == [0, 2] and ("resumed", 2) in progress.events


def test_early_stopping_keeps_its_best_epoch_across_a_resume(tmp_path):
    """A fit resumed from its backup ends with the best epoch of the whole fit, not the best since the resume."""
    import numpy as np

    from training.backup import early_stopping_callback

    model = build_cnn("cnn_small", 7)
    epoch_weights = [[w + k for w in model.get_weights()] for k in range(4)]  # distinct weights for each epoch

    def run_epochs(callback, epochs, val_accuracy):
        for epoch in epochs:
            model.set_weights(epoch_weights[epoch])
            callback.on_epoch_end(epoch, {"val_accuracy": val_accuracy[epoch]})

    val_accuracy = [0.50, 0.62, 0.55, 0.60]  # best at epoch 1, before the kill
    first = early_stopping_callback(tmp_path, patience=10)
    first.set_model(model)
    first.on_train_begin()
    run_epochs(first, [0, 1, 2], val_accuracy)  # then the process is killed

    resumed = early_stopping_callback(tmp_path, patience=10)  # a new process, same backup folder
    resumed.set_model(model)
    resumed.on_train_begin()
    assert (resumed.best, resumed.best_epoch, resumed.wait) == (0.62, 1, 1)
    run_epochs(resumed, [3], val_accuracy)
    resumed.on_train_end()
    for kept, best in zip(model.get_weights(), epoch_weights[1]):
        np.testing.assert_array_equal(kept, best)
    # Without a backup folder it is Keras' own early stopping, and a damaged state file is ignored.
    (tmp_path / "early_stopping.json").write_text("{")
    fresh = early_stopping_callback(tmp_path, patience=10)
    fresh.set_model(model)
    fresh.on_train_begin()
    assert fresh.best is None and fresh.best_weights is None

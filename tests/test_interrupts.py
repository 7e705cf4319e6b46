"""Ctrl-C and SIGTERM in a training process: honoured at a batch boundary inside a fit, at once outside one."""

from __future__ import annotations

import os
import signal
import time

import pytest

from training import interrupts
from training.data import load_fer_csv
from training.fit import FitSettings, fit_cnn
from training.progress import Progress


@pytest.fixture
def trainer_handlers():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    interrupts.install()
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


class SignalAfterFirstEpoch(Progress):
    """Sends the signal the moment the first epoch is reported, as a user cancelling a running fit would."""

    def __init__(self, sig):
        super().__init__("quiet")
        self.sig, self.epochs_reported = sig, 0

    def epoch_done(self, model, stage, fold, folds, epoch, epochs, metrics):
        self.epochs_reported += 1
        if epoch == 1:
            os.kill(os.getpid(), self.sig)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_fit_stops_it_at_the_next_batch_from_plain_python(sample_csv, trainer_handlers, sig):
    data = load_fer_csv(sample_csv)
    half = len(data.labels) // 2
    progress = SignalAfterFirstEpoch(sig)
    with pytest.raises(KeyboardInterrupt, match=f"signal {int(sig)}") as caught:
        fit_cnn("cnn_small", 7, (data.images[:half], data.labels[:half]), (data.images[half:], data.labels[half:]),
                FitSettings(epochs=20, patience=20, batch_size=16), progress)
    # Raised by the fit's own check between batches, not wherever the handler happened to run.
    assert caught.traceback[-1].name == "raise_if_requested"
    assert progress.epochs_reported == 1, "the fit must stop within the epoch after the signal"
    interrupts.raise_if_requested()  # nothing is left pending for the next fit


def test_a_signal_outside_a_fit_interrupts_at_once(trainer_handlers):
    with pytest.raises(KeyboardInterrupt, match="signal 15"):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the handler runs at the next bytecode; this line is never reached in full

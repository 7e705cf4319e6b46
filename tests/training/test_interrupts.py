"""Ctrl-C and SIGTERM in a training process: honoured at a batch boundary inside a fit, at once outside one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import REPO_ROOT, train_args
from training import interrupts
from training.data import load_fer_csv
from training.fit import FitSettings, fit_cnn
from training.progress import Progress


@pytest.fixture
def trainer_handlers():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    # pytest started as a shell's background job inherits SIGINT ignored, and install() rightly keeps that; these
    # tests are about a foreground trainer, which a user's Ctrl-C reaches.
    signal.signal(signal.SIGINT, signal.default_int_handler)
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
        fit_cnn(
            "cnn_small",
            7,
            (data.images[:half], data.labels[:half]),
            (data.images[half:], data.labels[half:]),
            FitSettings(epochs=20, patience=20, batch_size=16),
            progress,
        )
    # Raised by the fit's own check between batches, not wherever the handler happened to run.
    assert caught.traceback[-1].name == "raise_if_requested"
    assert progress.epochs_reported == 1, "the fit must stop within the epoch after the signal"
    interrupts.raise_if_requested()  # nothing is left pending for the next fit


def test_a_signal_outside_a_fit_interrupts_at_once(trainer_handlers):
    with pytest.raises(KeyboardInterrupt, match="signal 15"):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the handler runs at the next bytecode; this line is never reached in full


def _has_loaded(pid: int, library: str) -> bool:
    try:
        with open(f"/proc/{pid}/maps") as maps:
            return library in maps.read()
    except OSError:
        return False


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs /proc to see the trainer start")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_in_the_first_seconds_of_ferdesk_train_is_one_line(sample_csv, tmp_path, sig):
    """Ctrl-C while the trainer is still importing its libraries: one line and status 130, no traceback."""
    proc = subprocess.Popen(
        [sys.executable, *train_args(sample_csv, models="cnn_small", folds=0, out=tmp_path / "x")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while not _has_loaded(proc.pid, "_multiarray_umath"):  # numpy: the first of the heavy imports
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == "ferdesk-train: interrupted; nothing was written"
    assert "Traceback" not in stderr
    assert not list(tmp_path.iterdir())

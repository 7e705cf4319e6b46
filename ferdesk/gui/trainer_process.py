"""The trainer (`python -m training ... --progress json`) as a QProcess: what Retrain and Teach it my face share.

Training runs in its own process so the window and the camera stay live; these functions start it, read its JSON
progress lines, and stop it without ever blocking the window (except when the app is closing).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from PyQt5.QtCore import QObject, QProcess, QProcessEnvironment, QTimer
from PyQt5.QtWidgets import QLabel, QPushButton

from ferdesk import defaults, paths
from ferdesk.gui import retrain_advice as advice
from ferdesk.progress_events import Event, parse_event

KILL_AFTER_MS = 15000  # grace period for a cancelled trainer to clean up and exit


def trainer_process(parent: QObject) -> QProcess:
    """A QProcess set up to run the trainer (start it with start_trainer once its signals are connected)."""
    process = QProcess(parent)
    env = QProcessEnvironment.systemEnvironment()
    env.insert("PYTHONUNBUFFERED", "1")  # progress lines as they happen
    env.insert(defaults.TF_LOG_LEVEL_ENV, defaults.TF_LOG_LEVEL)
    process.setProcessEnvironment(env)
    process.setWorkingDirectory(str(paths.PROJECT_ROOT))  # where `-m training` is found in a checkout
    return process


def start_trainer(process: QProcess, args: list[str]) -> None:
    """Run `python -m training ARGS` (args start with "-m", "training") with this Python."""
    process.start(sys.executable, args)


def trainer_lines(process: QProcess) -> Iterator[Event | str]:
    """The complete lines the trainer has written to stdout so far: its progress events (ferdesk.progress_events)
    as events, other lines as text."""
    while process.canReadLine():
        line = bytes(process.readLine()).decode("utf-8", "replace").strip()
        event = parse_event(line)
        yield line if event is None else event


def trainer_log(text: str) -> str:
    """The trainer's stderr less TensorFlow's own logging (noise to the user); '' when nothing is left."""
    return "\n".join(line for line in text.rstrip().splitlines() if line.strip() and not advice.is_log_noise(line))


def stop_trainer(process: QProcess, kill_after_ms: int = KILL_AFTER_MS) -> None:
    """SIGTERM (the trainer removes its staging folder and exits); a trainer that ignores it is killed later,
    without blocking the window. The timer is the process's child, so it goes with the process."""
    if process.state() == QProcess.NotRunning:
        return
    process.terminate()
    kill_timer = QTimer(process)
    kill_timer.setSingleShot(True)
    kill_timer.timeout.connect(lambda: process.state() != QProcess.NotRunning and process.kill())
    kill_timer.start(kill_after_ms)


def end_trainer(process: QProcess, wait_ms: int = 5000) -> None:
    """Stop the trainer now because the app is closing: terminate, wait briefly for its clean-up, then kill.

    Blocking is fine here (the window is going away); it keeps the trainer from outliving the app.
    """
    if process.state() == QProcess.NotRunning:
        return
    process.terminate()
    if not process.waitForFinished(wait_ms):
        process.kill()
        process.waitForFinished(2000)


def offer_model(status: QLabel, use_button: QPushButton, worth_using: bool, model: str, why_not: str) -> None:
    """A finished run's last words: the status line says whether `model` (e.g. "the new model") is worth using,
    and the Use button offers it; it is the highlighted choice only when worth using, "Use it anyway" otherwise."""
    status.setText(f"Finished: {model} is ready." if worth_using else f"Finished, but {model} {why_not}.")
    use_button.setEnabled(True)
    use_button.setDefault(worth_using)
    use_button.setText("Use this model" if worth_using else "Use it anyway")

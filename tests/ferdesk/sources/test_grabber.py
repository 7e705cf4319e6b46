"""The grabber's states are GrabberState members that read as their plain words in signals, logs and comparisons."""

from __future__ import annotations

import time

import pytest

from helpers import REPO_ROOT
from ferdesk.sources import GrabberState, ImageSource, LatestFrameGrabber

DEMO = REPO_ROOT / "assets" / "demo"


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.01)
    return predicate()


def test_a_folder_played_to_its_end_passes_through_each_state_once():
    states: list[GrabberState] = []
    grabber = LatestFrameGrabber(ImageSource(DEMO), pace=False, on_state=states.append)
    assert grabber.state is GrabberState.IDLE and not grabber.state.finished
    with grabber:
        assert wait_for(lambda: grabber.state is GrabberState.ENDED)
    assert states == [GrabberState.OPENING, GrabberState.RUNNING, GrabberState.ENDED]
    assert all(type(s) is GrabberState for s in states)
    assert grabber.state.finished and grabber.frames_read == len(list(DEMO.glob("*.png")))
    assert [f"{s}" for s in states] == ["opening", "running", "ended"] and states[-1] == "ended"


def test_a_grabber_stopped_mid_stream_says_stopped():
    grabber = LatestFrameGrabber(ImageSource(DEMO, loop=True)).start()
    assert wait_for(lambda: grabber.state is GrabberState.RUNNING)
    grabber.stop()
    assert grabber.state is GrabberState.STOPPED and grabber.state.finished


def test_a_state_crosses_a_qt_signal_as_its_word():
    qtcore = pytest.importorskip("PyQt5.QtCore")

    class Sender(qtcore.QObject):
        state = qtcore.pyqtSignal(str, str)

    sender, received = Sender(), []
    sender.state.connect(lambda state, error: received.append(state))
    sender.state.emit(GrabberState.RETRYING, "")
    assert received == ["retrying"] and received[0] == GrabberState.RETRYING
    assert GrabberState(received[0]) is GrabberState.RETRYING

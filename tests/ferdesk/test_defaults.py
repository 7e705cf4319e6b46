"""ferdesk.defaults: the shared defaults reach every caller, and the settings a user made are kept."""

from __future__ import annotations

import os

from ferdesk import defaults
from ferdesk.annotate import build_parser
from ferdesk.detect import FaceFinder
from ferdesk.track import FaceTracker
from training import cli


def test_annotate_the_app_and_training_take_the_same_defaults(monkeypatch, tmp_path):
    args = build_parser().parse_args(["in.mp4"])
    assert (args.smoothing, args.min_confidence) == (defaults.SMOOTHING, defaults.MIN_CONFIDENCE)
    assert FaceTracker().alpha == defaults.SMOOTHING
    with FaceFinder() as finder:
        assert finder.min_confidence == defaults.MIN_CONFIDENCE
    data = str(tmp_path / "faces.csv")
    monkeypatch.setenv(defaults.DATA_ENV, data)
    assert defaults.data_path() == cli.default_data() == data
    monkeypatch.delenv(defaults.DATA_ENV)
    assert defaults.data_path() is None


def test_quiet_tensorflow_keeps_a_level_the_user_set(monkeypatch):
    monkeypatch.delenv(defaults.TF_LOG_LEVEL_ENV, raising=False)
    defaults.quiet_tensorflow()
    assert os.environ[defaults.TF_LOG_LEVEL_ENV] == defaults.TF_LOG_LEVEL
    env = {defaults.TF_LOG_LEVEL_ENV: "0"}  # a user chasing a TensorFlow problem wants every line
    defaults.quiet_tensorflow(env)
    assert env == {defaults.TF_LOG_LEVEL_ENV: "0"}

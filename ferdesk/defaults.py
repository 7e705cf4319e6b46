"""Defaults that the app, `ferdesk annotate` and training share, each written once here."""

from __future__ import annotations

import os
from collections.abc import MutableMapping

# Weight of the newest probabilities in a track's running average, in (0, 1]; 1 is no smoothing.
SMOOTHING = 0.4
# The app's load controls (View menu). The most frames a second it takes from the source (0: no cap; the frames in
# between are dropped, and with them their cost), and the choices offered.
FRAME_RATE_CAP = 0
FRAME_RATE_CAPS = (0, 30, 15, 10, 5)
# Analyse one frame in N; the frames in between are shown with the last analysis' faces (1: every frame).
ANALYSE_EVERY = 1
ANALYSE_EVERY_CHOICES = (1, 2, 3, 5)
# Faces the detector scores below this are dropped.
MIN_CONFIDENCE = 0.5
# The environment variable that names the dataset (a FER2013 CSV or an image folder) when --data is not given.
DATA_ENV = "FERDESK_DATA"
# TensorFlow's C++ log level for our processes: 2 keeps errors, hides its info and warning lines.
TF_LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
TF_LOG_LEVEL = "2"
# The lowest level of ferdesk's own log lines on stderr; $FERDESK_LOG_LEVEL (e.g. INFO, DEBUG) overrides it.
LOG_LEVEL = "WARNING"
LOG_LEVEL_ENV = "FERDESK_LOG_LEVEL"


def data_path() -> str | None:
    """The dataset $FERDESK_DATA names, or None when it is not set."""
    return os.environ.get(DATA_ENV)


def quiet_tensorflow(env: MutableMapping[str, str] | None = None) -> None:
    """Set TensorFlow's log level in `env` (default: this process, before TensorFlow is imported) unless the user
    set one."""
    env = os.environ if env is None else env
    env.setdefault(TF_LOG_LEVEL_ENV, TF_LOG_LEVEL)

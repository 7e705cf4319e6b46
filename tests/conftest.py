"""Shared fixtures: real FER2013 faces (the shipped sample, and the full file when available)."""

from __future__ import annotations

import atexit
import csv
import gzip
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Models trained from the app during tests go to a throw-away folder, never the user's.
os.environ["FERDESK_USER_MODELS"] = tempfile.mkdtemp(prefix="ferdesk-user-models-")
atexit.register(shutil.rmtree, os.environ["FERDESK_USER_MODELS"], ignore_errors=True)

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
SAMPLE_CSV = TESTS_DIR / "data" / "fer_sample.csv.gz"
# The full dataset: $FERDESK_DATA, else the documented default beside the repository.
DEFAULT_FULL_DATA = REPO_ROOT.parent / "shared" / "data" / "fer2013.csv.gz"


def full_data_path() -> Path | None:
    path = Path(os.environ.get("FERDESK_DATA", DEFAULT_FULL_DATA))
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def full_csv() -> Path:
    path = full_data_path()
    if path is None:
        pytest.skip(f"full FER2013 CSV not found: set FERDESK_DATA or place it at {DEFAULT_FULL_DATA}")
    return path


@pytest.fixture(scope="session")
def sample_csv() -> Path:
    return SAMPLE_CSV


@pytest.fixture(scope="session", autouse=True)
def isolated_qt_settings(tmp_path_factory):
    """QSettings() (what the app uses by default) reads and writes a throw-away folder, never the user's settings."""
    try:
        from PyQt5.QtCore import QSettings
    except ImportError:  # a machine without the GUI stack
        yield None
        return
    folder = str(tmp_path_factory.mktemp("qt-settings"))
    for fmt in (QSettings.NativeFormat, QSettings.IniFormat):
        for scope in (QSettings.UserScope, QSettings.SystemScope):
            QSettings.setPath(fmt, scope, folder)
    yield folder


@pytest.fixture
def gui_settings(tmp_path):
    """The app's settings in a fresh file of this test's own, empty until the test or the app writes them."""
    from PyQt5.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


def take_rows(source: Path, per_class: dict[str, int], emotions: set[str] | None = None) -> list[list[str]]:
    """The first rows of each (emotion code, usage) pair, up to per_class[usage] each."""
    seen: Counter = Counter()
    rows = []
    with gzip.open(source, "rt", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row in reader:
            if emotions is not None and row[0] not in emotions:
                continue
            key = (row[0], row[2])
            if seen[key] < per_class.get(row[2], 0):
                seen[key] += 1
                rows.append(row)
    return rows


def write_csv(path: Path, rows: list[list[str]], header=("emotion", "pixels", "Usage")) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def small_study_csv(full_csv, tmp_path_factory) -> Path:
    """A few hundred real sad/surprise faces from the full dataset (codes 4 and 5)."""
    rows = take_rows(full_csv, {"Training": 150, "PublicTest": 40}, emotions={"4", "5"})
    return write_csv(tmp_path_factory.mktemp("data") / "sad_surprise.csv", rows)


def load_module(path: Path):
    """A script that is not a package module (benchmarks/, scripts/), imported from its file."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cli(*args: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run a console entry point module the way a user would (python -m ...)."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=kwargs.pop("cwd", REPO_ROOT),
        **kwargs,
    )


@pytest.fixture(scope="session")
def tiny_cnn_model(small_study_csv, tmp_path_factory) -> Path:
    """The smallest CNN fitted for one epoch on real sad/surprise faces: a start model for fine-tuning."""
    out = tmp_path_factory.mktemp("runs") / "tiny-cnn"
    result = run_cli(
        "-m",
        "training",
        "--data",
        str(small_study_csv),
        "--emotions",
        "sad,surprise",
        "--models",
        "cnn_small",
        "--folds",
        "0",
        "--epochs",
        "1",
        "--no-augment",
        "--out",
        str(out),
        "--progress",
        "quiet",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def trained_model(small_study_csv, tmp_path_factory) -> Path:
    """A real model folder trained by ferdesk-train on real faces: LR baseline and the smallest CNN."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    result = run_cli(
        "-m",
        "training",
        "--data",
        str(small_study_csv),
        "--emotions",
        "sad,surprise",
        "--models",
        "logreg,cnn_small",
        "--folds",
        "3",
        "--epochs",
        "2",
        "--out",
        str(out),
        "--progress",
        "quiet",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def tiny_ensemble_model(tiny_cnn_model, trained_model, small_study_csv, tmp_path_factory) -> Path:
    """The two sad/surprise models above averaged into one model folder by training.ensemble."""
    out = tmp_path_factory.mktemp("runs") / "tiny-ensemble"
    result = run_cli(
        "-m",
        "training.ensemble",
        str(tiny_cnn_model),
        str(trained_model),
        "--data",
        str(small_study_csv),
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out

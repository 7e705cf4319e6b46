"""Shared fixtures: real FER2013 faces (the shipped sample, and the full file when available)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from helpers import (
    DEFAULT_FULL_DATA,
    SAMPLE_CSV,
    TESTS_DIR,
    full_data_path,
    run_cli,
    take_rows,
    train_args,
    write_csv,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Models trained from the app during tests go to a throw-away folder, never the user's.
os.environ["FERDESK_USER_MODELS"] = tempfile.mkdtemp(prefix="ferdesk-user-models-")
atexit.register(shutil.rmtree, os.environ["FERDESK_USER_MODELS"], ignore_errors=True)


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


@pytest.fixture(scope="session")
def small_study_csv(full_csv, tmp_path_factory) -> Path:
    """A few hundred real sad/surprise faces from the full dataset (codes 4 and 5)."""
    rows = take_rows(full_csv, {"Training": 150, "PublicTest": 40}, emotions={"4", "5"})
    return write_csv(tmp_path_factory.mktemp("data") / "sad_surprise.csv", rows)


@pytest.fixture(scope="session")
def tiny_cnn_model(small_study_csv, tmp_path_factory) -> Path:
    """The smallest CNN fitted for one epoch on real sad/surprise faces: a start model for fine-tuning."""
    out = tmp_path_factory.mktemp("runs") / "tiny-cnn"
    result = run_cli(
        *train_args(
            small_study_csv,
            emotions="sad,surprise",
            models="cnn_small",
            folds=0,
            epochs=1,
            no_augment=True,
            out=out,
            progress="quiet",
        )
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def trained_model(small_study_csv, tmp_path_factory) -> Path:
    """A real model folder trained by ferdesk-train on real faces: LR baseline and the smallest CNN."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    result = run_cli(
        *train_args(
            small_study_csv,
            emotions="sad,surprise",
            models="logreg,cnn_small",
            folds=3,
            epochs=2,
            out=out,
            progress="quiet",
        )
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


def pytest_collection_modifyitems(config, items):
    """Markers from where a test lives and what it uses: `gui` for tests/ferdesk/gui/, `needs_data` for any test
    that asks (directly or through another fixture) for the full FER2013 file."""
    gui_dir = TESTS_DIR / "ferdesk" / "gui"
    for item in items:
        if gui_dir in Path(item.fspath).resolve().parents:
            item.add_marker(pytest.mark.gui)
        if "full_csv" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.needs_data)

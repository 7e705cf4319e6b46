"""ferdesk.paths: the checkout's assets/ and models/ by default, the FERDESK_* folders when set.

The installed-wheel case (package data) is tests/test_packaging.py.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import REPO_ROOT

from ferdesk import paths

PROBE = (
    "import json, ferdesk.paths as p; print(json.dumps([str(p.ASSETS_DIR), str(p.MODELS_DIR), "
    "str(p.DETECTOR_MODELS['short']), [str(f) for f in p.model_folders()]]))"
)


def probe(**env: str) -> list:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FERDESK_")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(result.stdout)


def test_a_checkout_reads_its_top_level_folders():
    assets, models, detector, folders = probe(FERDESK_USER_MODELS="/nonexistent")
    assert (assets, models) == (str(REPO_ROOT / "assets"), str(REPO_ROOT / "models"))
    assert Path(detector).is_file()
    assert [Path(f).name for f in folders[:4]] == ["default", "gpu-cnn_wide-s22-e89", "compact", "study-sad-surprise"]
    assert paths.shipped_dir("models") == REPO_ROOT / "models"  # no package data in a checkout


def test_environment_folders_replace_the_shipped_ones(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(REPO_ROOT / "models" / "study-sad-surprise", models / "study")
    (models / ".study.partial").mkdir()  # an unfinished training output is never listed
    users = tmp_path / "user-models"
    users.mkdir()
    assets, models_dir, detector, folders = probe(
        FERDESK_ASSETS=str(tmp_path / "assets"), FERDESK_MODELS=str(models), FERDESK_USER_MODELS=str(users)
    )
    assert (assets, models_dir) == (str(tmp_path / "assets"), str(models))
    assert detector == str(tmp_path / "assets" / "models" / "face_detection_short_range.tflite")
    assert folders == [str(models / "study")]


def test_the_default_leads_the_model_list_whatever_the_other_names(tmp_path):
    """The Model menu follows model_folders(): the default first, then the others by name."""
    models = tmp_path / "models"
    for name in ("default", "compact", "ab"):
        shutil.copytree(REPO_ROOT / "models" / "study-sad-surprise", models / name)
    *_, folders = probe(FERDESK_MODELS=str(models), FERDESK_USER_MODELS="/nonexistent")
    assert [Path(f).name for f in folders] == ["default", "ab", "compact"]

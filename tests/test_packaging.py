"""The wheel is complete: built from the repository (sdist, then wheel) and installed without the checkout, it runs
`ferdesk annotate`, `ferdesk-eval`, `ferdesk-train` and the app on its own shipped detector, demo faces and models.

The wheel goes into a temporary folder with `pip install --no-deps --target` (the dependencies come from this
environment's site-packages, not from the wheel), and every command runs from a folder outside the repository with
that folder first on PYTHONPATH, so the checkout's ferdesk (installed editable here) cannot stand in for it.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import ferdesk

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CSV = REPO_ROOT / "tests" / "data" / "fer_sample.csv.gz"
# What the build must not see: the environment, caches and outputs of the checkout it is copied from.
NOT_BUILT_FROM = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "runs", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache"
)
SHIPPED = "ferdesk/_shipped"


def run(args: list, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built as `python -m build` does (sdist, then the wheel from the sdist), from a copy of the checkout.

    Built from a copy so the test leaves no build/ behind in the checkout; offline (--no-isolation), with this
    environment's setuptools.
    """
    source = tmp_path_factory.mktemp("source") / "ferdesk"
    shutil.copytree(REPO_ROOT, source, ignore=NOT_BUILT_FROM)
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, source], cwd=source)
    (built,) = dist.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """The wheel installed alone into a fresh folder; the environment to run its commands with."""
    target = tmp_path_factory.mktemp("installed")
    run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", target, wheel],
        cwd=target,
    )
    home = tmp_path_factory.mktemp("home")  # the app's settings and user models, not the developer's
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERDESK_") and k != "PYTHONPATH"}
    env.update(
        PYTHONPATH=str(target),
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        QT_QPA_PLATFORM="offscreen",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    return {"target": target, "bin": target / "bin", "env": env, "cwd": tmp_path_factory.mktemp("elsewhere")}


def test_wheel_lists_detector_licence_models_and_type_marker(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (REPO_ROOT / "assets" / "models", REPO_ROOT / "assets" / "demo"):
        for file in shipped.iterdir():
            assert f"{SHIPPED}/assets/{shipped.name}/{file.name}" in names
    assert f"{SHIPPED}/assets/models/face_detection_short_range.tflite" in names
    assert f"{SHIPPED}/assets/models/LICENSE-mediapipe-Apache-2.0.txt" in names
    assert f"{SHIPPED}/docs/user-guide.md" in names  # Help > User guide; no other page of docs/ ships
    assert not [n for n in names if n.startswith(f"{SHIPPED}/docs/") and not n.endswith("/user-guide.md")]
    for model in ("default", "default/members/gpu-cnn_wide-s22-e89", "compact", "study-sad-surprise"):
        assert {f"{SHIPPED}/models/{model}/card.json", f"{SHIPPED}/models/{model}/model.tflite"} <= names
    assert "ferdesk/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "training/cli.py" in names and "ferdesk/gui/app.py" in names
    # Only the two packages; nothing hidden (a partial training output) ships.
    assert {n.split("/")[0] for n in names} == {"ferdesk", "training", f"ferdesk-{ferdesk.__version__}.dist-info"}
    assert not [n for n in names if "/." in n or "__pycache__" in n]


def test_installed_package_finds_its_own_shipped_files(installed):
    probe = (
        "import json, ferdesk, training, ferdesk.paths as p; print(json.dumps([ferdesk.__file__, "
        "training.__file__, str(p.ASSETS_DIR), str(p.MODELS_DIR), *map(str, p.model_folders())]))"
    )
    found = json.loads(run([sys.executable, "-c", probe], installed["cwd"], installed["env"]).stdout)
    target = installed["target"].resolve()
    assert all(Path(path).resolve().is_relative_to(target) for path in found), found
    assert Path(found[3]).name == "models" and (Path(found[3]) / "default" / "model.tflite").is_file()
    assert [Path(f).name for f in found[4:8]] == ["default", "gpu-cnn_wide-s22-e89", "compact", "study-sad-surprise"]


def test_installed_annotate_finds_the_demo_faces_with_the_default_model(installed, tmp_path):
    demo = installed["target"] / SHIPPED / "assets" / "demo"
    run(
        [
            installed["bin"] / "ferdesk",
            "annotate",
            demo,
            "--csv",
            tmp_path / "faces.csv",
            "--json",
            tmp_path / "faces.json",
            "--no-progress",
        ],
        installed["cwd"],
        installed["env"],
    )

    log = json.loads((tmp_path / "faces.json").read_text())
    assert Path(log["model_dir"]).resolve() == (installed["target"] / SHIPPED / "models" / "default").resolve()
    with open(tmp_path / "faces.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    card = json.loads((installed["target"] / SHIPPED / "models" / "default" / "card.json").read_text())
    assert len(card["labels"]) == 7 and [f"p_{k}" for k in card["labels"]] == list(rows[0])[-7:]
    # The README of assets/demo: every demo face is detected alone; one face per image.
    assert sorted(int(r["frame"]) for r in rows) == list(range(len(list(demo.glob("*.png")))))
    assert all(r["label"] in card["labels"] and 0.0 < float(r["confidence"]) <= 1.0 for r in rows)


def test_installed_eval_scores_the_shipped_default_model(installed, tmp_path):
    model = installed["target"] / SHIPPED / "models" / "default"
    run(
        [
            installed["bin"] / "ferdesk-eval",
            "--model",
            model,
            "--data",
            SAMPLE_CSV,
            "--backend",
            "tflite",
            "--json",
            tmp_path / "metrics.json",
        ],
        installed["cwd"],
        installed["env"],
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["labels"] == json.loads((model / "card.json").read_text())["labels"]
    assert 0.0 <= metrics["accuracy"] <= 1.0


def test_installed_train_lists_the_model_zoo(installed):
    shown = run([installed["bin"] / "ferdesk-train", "--help"], installed["cwd"], installed["env"]).stdout
    assert "usage: ferdesk-train" in shown and "cnn_small" in shown


APP_PROBE = """
import json, sys, time
import ferdesk.gui
import ferdesk.paths
from PyQt5.QtWidgets import QApplication
from ferdesk.gui.main_window import MainWindow

app = QApplication(sys.argv[:1])
window = MainWindow(source="demo", model=None)
window.show()
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not (window.last_result is not None and window.last_result.faces):
    app.processEvents()
    time.sleep(0.02)
result = window.last_result
window.show_user_guide()
guide = window.guide_dialog.browser.toPlainText()
print(json.dumps({"faces": len(result.faces) if result else 0, "labels": list(result.labels) if result else [],
                  "guide": str(ferdesk.paths.USER_GUIDE), "guide_text": guide[:200]}))
window.close()
"""


def test_installed_app_starts_on_the_demo_with_the_default_model(installed):
    shown = run([sys.executable, "-c", APP_PROBE], installed["cwd"], installed["env"], timeout=180).stdout
    seen = json.loads(shown.strip().splitlines()[-1])
    card = json.loads((installed["target"] / SHIPPED / "models" / "default" / "card.json").read_text())
    assert seen["faces"] >= 1 and seen["labels"] == card["labels"]
    assert Path(seen["guide"]).resolve() == (installed["target"] / SHIPPED / "docs" / "user-guide.md").resolve()
    assert seen["guide_text"].startswith("ferdesk user guide")  # rendered from the wheel's copy

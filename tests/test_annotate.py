"""`ferdesk annotate` run as a user would: on a real video and real images, with a real model folder."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import run_cli
from ferdesk import annotate
from ferdesk.sources import demo_faces, read_image

VIDEO_FRAMES = 20
VIDEO_FPS = 10.0
SIZE = (640, 480)


def _faces() -> dict[str, np.ndarray]:
    found = dict(demo_faces())
    assert {"grace_hopper", "fer_happy"} <= set(found)
    return found


def annotate_cli(*args: str | Path):
    return run_cli("-m", "ferdesk.cli", "annotate", *map(str, args), timeout=300)


def visible_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """20 frames (10 fps) of two real faces drifting over a plain background, written with mp4v."""
    faces = _faces()
    path = tmp_path_factory.mktemp("video") / "two_faces.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), VIDEO_FPS, SIZE)
    assert writer.isOpened()
    for k in range(VIDEO_FRAMES):
        frame = np.full((SIZE[1], SIZE[0], 3), 110, np.uint8)
        for (name, x, y, side) in (("grace_hopper", 40 + 3 * k, 60, 200), ("fer_happy", 400 - 3 * k, 230, 180)):
            frame[y : y + side, x : x + side] = cv2.resize(faces[name], (side, side), interpolation=cv2.INTER_AREA)
        writer.write(frame)
    writer.release()
    assert count_frames(path) == VIDEO_FRAMES
    return path


def count_frames(path: Path) -> int:
    """Frames actually decodable (CAP_PROP_FRAME_COUNT is only the container's claim)."""
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


@pytest.mark.parametrize("every", [1, 3])
def test_video_to_video_csv_json(trained_model, video, tmp_path, every):
    out, log_csv, log_json = tmp_path / "out.mp4", tmp_path / "faces.csv", tmp_path / "faces.json"
    result = annotate_cli(video, "--out", out, "--csv", log_csv, "--json", log_json, "--model", trained_model,
                          "--every", every)
    assert result.returncode == 0, result.stderr[-3000:]
    assert visible_files(tmp_path) == ["faces.csv", "faces.json", "out.mp4"]  # no partials left behind

    expected = math.ceil(VIDEO_FRAMES / every)
    assert count_frames(out) == expected
    cap = cv2.VideoCapture(str(out))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(VIDEO_FPS / every, rel=0.02)
    ok, first_out = cap.read()
    cap.release()
    assert ok and first_out.shape == (SIZE[1], SIZE[0], 3)
    cap = cv2.VideoCapture(str(video))
    first_in = cap.read()[1]
    cap.release()
    changed = np.abs(first_out.astype(int) - first_in.astype(int)).max(axis=2) > 80
    assert changed.sum() > 500  # boxes, labels and bars drawn, well above codec noise

    doc = json.loads(log_json.read_text())
    assert doc["labels"] == ["sad", "surprise"]
    assert doc["fps"] == pytest.approx(VIDEO_FPS)
    assert doc["every"] == every and doc["input_kind"] == "video"
    assert doc["frames_read"] == VIDEO_FRAMES and doc["frames_processed"] == expected
    frames = doc["frames"]
    assert [f["frame"] for f in frames] == list(range(0, VIDEO_FRAMES, every))
    for f in frames:
        assert f["timestamp_s"] == pytest.approx(f["frame"] / VIDEO_FPS, abs=1e-3)
        assert len(f["faces"]) == 2
        for face in f["faces"]:
            assert face["label"] in doc["labels"]
            assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    ids = {face["track_id"] for f in frames for face in f["faces"]}
    assert len(ids) == 2  # two faces, tracked through the whole clip

    with open(log_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    assert header[:9] == ["frame", "timestamp_s", "track_id", "x", "y", "w", "h", "score", "label"]
    assert header[-2:] == ["p_sad", "p_surprise"]
    assert len(rows) == sum(len(f["faces"]) for f in frames)
    assert sorted({int(r["frame"]) for r in rows}) == [f["frame"] for f in frames]
    for row in rows:
        assert float(row["p_sad"]) + float(row["p_surprise"]) == pytest.approx(1.0, abs=1e-3)
        assert row["label"] == max(("sad", "surprise"), key=lambda k: float(row[f"p_{k}"]))


def test_folder_of_images(trained_model, tmp_path):
    from matplotlib import cbook

    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), images / "a_grace.jpg")
    happy = np.full((400, 500, 3), 140, np.uint8)
    happy[100:300, 150:350] = cv2.resize(_faces()["fer_happy"], (200, 200), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(images / "b_happy.png"), happy)
    cv2.imwrite(str(images / "c_blank.bmp"), np.full((240, 320, 3), 30, np.uint8))
    out, log_csv, log_json = tmp_path / "annotated", tmp_path / "log.csv", tmp_path / "log.json"

    result = annotate_cli(images, "--out", out, "--csv", log_csv, "--json", log_json, "--model", trained_model)
    assert result.returncode == 0, result.stderr[-3000:]
    assert visible_files(out) == ["a_grace.png", "b_happy.png", "c_blank.png"]
    for name, source in (("a_grace", "a_grace.jpg"), ("b_happy", "b_happy.png"), ("c_blank", "c_blank.bmp")):
        written = read_image(out / f"{name}.png")
        assert written is not None and written.shape == read_image(images / source).shape
    blank_in, blank_out = read_image(images / "c_blank.bmp"), read_image(out / "c_blank.png")
    assert np.array_equal(blank_in, blank_out)  # nothing found, nothing drawn, lossless

    doc = json.loads(log_json.read_text())
    assert doc["input_kind"] == "images"
    assert doc["files"] == ["a_grace.jpg", "b_happy.png", "c_blank.bmp"]
    assert [(f["file"], len(f["faces"])) for f in doc["frames"]] == [
        ("a_grace.jpg", 1), ("b_happy.png", 1), ("c_blank.bmp", 0)]
    with open(log_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    # The CSV has the GUI log's columns; a row's frame number indexes the JSON's "files".
    assert [doc["files"][int(r["frame"])] for r in rows] == ["a_grace.jpg", "b_happy.png"]


def test_missing_input_exits_2_and_writes_nothing(trained_model, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    missing = tmp_path / "no_such_video.mp4"
    result = annotate_cli(missing, "--out", out / "o.mp4", "--csv", out / "o.csv", "--json", out / "o.json",
                          "--model", trained_model)
    assert result.returncode == 2
    assert "input not found" in result.stderr and str(missing) in result.stderr
    assert "Traceback" not in result.stderr
    assert visible_files(out) == []


def test_unknown_format_exits_2(trained_model, tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a video\n" * 50)
    result = annotate_cli(bogus, "--csv", tmp_path / "o.csv", "--model", trained_model)
    assert result.returncode == 2
    assert "cannot read" in result.stderr and "notes.txt" in result.stderr  # FFmpeg would "play" it as ANSI art
    assert "Traceback" not in result.stderr
    assert visible_files(tmp_path) == ["notes.txt"]


@pytest.mark.parametrize("damage", ["missing", "garbage_card", "garbage_tflite"])
def test_unusable_model_exits_2_and_writes_nothing(trained_model, video, tmp_path, damage):
    model = tmp_path / "model"
    if damage != "missing":
        shutil.copytree(trained_model, model)
    if damage == "garbage_card":
        (model / "card.json").write_text("{ not json")
    elif damage == "garbage_tflite":
        (model / "model.tflite").write_bytes(b"\0garbage" * 64)
    out = tmp_path / "out"
    out.mkdir()
    result = annotate_cli(video, "--out", out / "o.mp4", "--csv", out / "o.csv", "--json", out / "o.json",
                          "--model", model)
    assert result.returncode == 2
    assert str(model) in result.stderr and "model" in result.stderr
    assert "Traceback" not in result.stderr
    assert visible_files(out) == []


def test_interrupted_run_removes_partials(trained_model, video, tmp_path, monkeypatch, capsys):
    """Ctrl-C half way: no file with a requested name appears, and the partial files are gone."""
    from ferdesk.pipeline import EmotionPipeline

    process = EmotionPipeline.process
    calls = {"n": 0}

    def interrupt_later(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return process(self, *args, **kwargs)

    monkeypatch.setattr(EmotionPipeline, "process", interrupt_later)
    out = tmp_path / "out"
    out.mkdir()
    code = annotate.main([str(video), "--out", str(out / "o.mp4"), "--csv", str(out / "o.csv"),
                          "--json", str(out / "o.json"), "--model", str(trained_model), "--no-progress"])
    assert code == 130
    assert calls["n"] == 5
    assert "interrupted" in capsys.readouterr().err
    assert visible_files(out) == []


def test_images_into_new_folder_removed_on_failure(tmp_path):
    """A bad model is found before anything is written; an --out folder created for the run is removed."""
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "x.png"), np.full((64, 64, 3), 50, np.uint8))
    code = annotate.main([str(images), "--out", str(tmp_path / "new_out"), "--model", str(tmp_path / "nope")])
    assert code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images"]

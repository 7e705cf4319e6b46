"""`ferdesk annotate` run as a user would: on a real video and real images, with a real model folder."""

from __future__ import annotations

import csv
import json
import math
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import REPO_ROOT, run_cli
from ferdesk import annotate, outputs
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
        for name, x, y, side in (("grace_hopper", 40 + 3 * k, 60, 200), ("fer_happy", 400 - 3 * k, 230, 180)):
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
    result = annotate_cli(
        video, "--out", out, "--csv", log_csv, "--json", log_json, "--model", trained_model, "--every", every
    )
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
    assert header[:10] == ["file", "frame", "timestamp_s", "track_id", "x", "y", "w", "h", "score", "label"]
    assert {r["file"] for r in rows} == {video.name}  # a video's rows name the video, as an image's name the image
    assert {f["file"] for f in frames} == {video.name}
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
        ("a_grace.jpg", 1),
        ("b_happy.png", 1),
        ("c_blank.bmp", 0),
    ]
    with open(log_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Each row names its image; its frame number also indexes the JSON's "files".
    assert [r["file"] for r in rows] == ["a_grace.jpg", "b_happy.png"]
    assert [doc["files"][int(r["frame"])] for r in rows] == ["a_grace.jpg", "b_happy.png"]


def test_the_demo_faces_folder_names_each_rows_file(tmp_path):
    """The shipped demo faces, as a user's folder of photos, through the shipped model: every CSV row and JSON frame
    names the image it came from, and that image alone gives what its row says."""
    from ferdesk.pipeline import DEFAULT_MODEL, EmotionPipeline

    demo = REPO_ROOT / "assets" / "demo"
    images = sorted(p.name for p in demo.glob("*.png"))
    assert len(images) == 7  # README.md beside them is no image
    log_csv, log_json = tmp_path / "faces.csv", tmp_path / "faces.json"
    assert annotate.main([str(demo), "--csv", str(log_csv), "--json", str(log_json), "--no-progress"]) == 0
    assert visible_files(tmp_path) == ["faces.csv", "faces.json"]
    with open(log_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    doc = json.loads(log_json.read_text())
    assert [r["file"] for r in rows] == images == doc["files"]  # one face each, in file order
    assert [f["file"] for f in doc["frames"]] == images
    with EmotionPipeline(DEFAULT_MODEL) as pipeline:
        for row in rows:
            pipeline.reset()
            result = pipeline.process(read_image(demo / row["file"]), 0.0)
            assert len(result.faces) == 1, row["file"]
            label, confidence = result.faces[0].top(result.labels)
            assert row["label"] == label and float(row["confidence"]) == pytest.approx(confidence, abs=1e-4)
    happy = next(r for r in rows if r["file"] == "fer_happy.png")
    assert happy["label"] == "happy" and float(happy["confidence"]) > 0.5


def test_missing_input_exits_2_and_writes_nothing(trained_model, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    missing = tmp_path / "no_such_video.mp4"
    result = annotate_cli(
        missing, "--out", out / "o.mp4", "--csv", out / "o.csv", "--json", out / "o.json", "--model", trained_model
    )
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
    result = annotate_cli(
        video, "--out", out / "o.mp4", "--csv", out / "o.csv", "--json", out / "o.json", "--model", model
    )
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
    code = annotate.main(
        [
            str(video),
            "--out",
            str(out / "o.mp4"),
            "--csv",
            str(out / "o.csv"),
            "--json",
            str(out / "o.json"),
            "--model",
            str(trained_model),
            "--no-progress",
        ]
    )
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


# ------------------------------------------------------------------------------------- bad input (issue 16)


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """600 small frames with a real face: long enough to be stopped half way."""
    face = cv2.resize(_faces()["grace_hopper"], (150, 150), interpolation=cv2.INTER_AREA)
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (320, 240))
    for k in range(600):
        frame = np.full((240, 320, 3), 90, np.uint8)
        x = 10 + (k % 150)
        frame[40:190, x : x + 150] = face
        writer.write(frame)
    writer.release()
    return path


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_termination_signal_removes_partials(trained_model, long_video, tmp_path, sig):
    """A kill (SIGTERM) or a closed terminal (SIGHUP) half way cleans up as Ctrl-C does."""
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ferdesk.cli",
            "annotate",
            str(long_video),
            "--out",
            str(out / "o.mp4"),
            "--csv",
            str(out / "o.csv"),
            "--model",
            str(trained_model),
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGTERM, signal.SIGHUP)],
    )
    partial = out / f".o.partial-{proc.pid}.mp4"  # ferdesk.outputs.staging_path, in the command's process
    try:
        deadline = time.monotonic() + 120
        while not (partial.exists() and partial.stat().st_size > 0):  # frames are being written
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:]
            time.sleep(0.02)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + sig, stderr[-3000:]
    assert f"stopped by {signal.Signals(sig).name}; partial outputs removed" in stderr
    assert "Traceback" not in stderr
    assert visible_files(out) == []


def has_loaded(pid: int, library: str) -> bool:
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except OSError:  # gone already
        return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc to see the command start")
def test_ctrl_c_while_loading_is_one_line(trained_model, video, tmp_path):
    """Ctrl-C while numpy, OpenCV and MediaPipe load: one line, status 130 (an import interrupted half way would
    otherwise surface as an ImportError traceback)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ferdesk.cli",
            "annotate",
            str(video),
            "--csv",
            str(tmp_path / "o.csv"),
            "--model",
            str(trained_model),
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while not has_loaded(proc.pid, "_multiarray_umath"):  # numpy is loading
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr[-3000:]
    assert own_lines(stderr)[-1].startswith("ferdesk annotate: interrupted") and "Traceback" not in stderr
    assert visible_files(tmp_path) == []


def symlink_loop(folder: Path, name: str) -> Path:
    loop = folder / name
    loop.symlink_to(folder / f"{name}.other")
    (folder / f"{name}.other").symlink_to(loop)
    return loop


@pytest.mark.parametrize("where", ["--model", "--csv", "input"])
def test_symlink_loop_is_one_clear_line(trained_model, video, tmp_path, capsys, where):
    loop = symlink_loop(tmp_path, "loop")
    args = {"input": str(video), "--csv": str(tmp_path / "o.csv"), "--model": str(trained_model)}
    args[where] = str(loop)
    code = annotate.main([args["input"], "--csv", args["--csv"], "--model", args["--model"], "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.strip() == f"ferdesk annotate: error: {where} {loop}: symbolic link loop"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.is_symlink()) == []


def test_bad_numbers_are_refused_before_any_work(tmp_path, capsys):
    image = tmp_path / "x.png"
    cv2.imwrite(str(image), np.full((64, 64, 3), 50, np.uint8))
    for option, value in (
        ("--every", "0"),
        ("--every", "1.5"),
        ("--min-confidence", "1.2"),
        ("--min-confidence", "nan"),
        ("--smoothing", "0"),
        ("--smoothing", "-1"),
    ):
        code = annotate.main([str(image), "--csv", str(tmp_path / "o.csv"), option, value])
        assert code == 2
        err = capsys.readouterr().err
        assert f"argument {option}: must" in err and value in err, err
    assert visible_files(tmp_path) == ["x.png"]


def test_truncated_video_is_said_to_have_ended_early(trained_model, tmp_path, capsys):
    full, cut = tmp_path / "full.avi", tmp_path / "cut.avi"
    face = cv2.resize(_faces()["fer_happy"], (120, 120), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    for k in range(100):
        frame = np.full((240, 320, 3), 100, np.uint8)
        frame[60:180, 20 + k : 140 + k] = face
        writer.write(frame)
    writer.release()
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) * 55 // 100])  # a download that stopped half way
    readable = count_frames(cut)
    assert 20 < readable < 100

    log = tmp_path / "log.json"
    code = annotate.main([str(cut), "--json", str(log), "--model", str(trained_model), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0
    assert f"ended early: {readable} of the 100 frames its header announces could be read" in captured.err
    assert f"{readable} frames read of 100 expected" in captured.out
    doc = json.loads(log.read_text())
    assert doc["frames_read"] == readable and doc["frames_expected"] == 100


def own_lines(stderr: str) -> list[str]:
    """What ferdesk itself printed (LiteRT logs a few INFO lines of its own when a model loads)."""
    return [line for line in stderr.splitlines() if line.startswith("ferdesk")]


@pytest.fixture
def tmpfs(tmp_path):
    """A mount of its own: read-only or tiny, as a user's USB stick or full disk would be."""
    mounts = []

    def mount(name: str, options: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.decode().strip()}")
        mounts.append(point)
        return point

    yield mount
    for point in mounts:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_read_only_output_folder_is_one_line(trained_model, video, tmpfs, capfd):
    folder = tmpfs("ro", "ro,size=1m")
    code = annotate.main(
        [
            str(video),
            "--out",
            str(folder / "o.mp4"),
            "--csv",
            str(folder / "o.csv"),
            "--model",
            str(trained_model),
            "--no-progress",
        ]
    )
    err = capfd.readouterr().err
    assert code == 2
    assert own_lines(err) == [f"ferdesk annotate: error: cannot write {folder / 'o.mp4'}: Read-only file system"]
    assert ".partial" not in err


@pytest.mark.parametrize("option, name", [("--out", "o.mp4"), ("--csv", "o.csv"), ("--json", "o.json")])
def test_full_disk_is_one_line_and_leaves_nothing(trained_model, long_video, tmpfs, capfd, option, name):
    folder = tmpfs("full", "size=8k")
    code = annotate.main([str(long_video), option, str(folder / name), "--model", str(trained_model), "--no-progress"])
    err = capfd.readouterr().err
    assert code == 2
    # One line of ours; none of OpenCV's per-frame "Failed to write frame" warnings; no hidden partial name.
    assert own_lines(err) == [f"ferdesk annotate: error: cannot write {folder / name}: no space left on device"]
    assert "Failed to write" not in err and ".partial" not in err
    assert not list(folder.iterdir())


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_an_image_in_gives_an_image_out(trained_model, tmp_path, suffix):
    from matplotlib import cbook

    photo = Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    out = tmp_path / f"annotated{suffix}"
    code = annotate.main([str(photo), "--out", str(out), "--model", str(trained_model), "--no-progress"])
    assert code == 0
    assert out.is_file() and visible_files(tmp_path) == [out.name]
    assert out.read_bytes()[:3] == {".png": b"\x89PN", ".jpg": b"\xff\xd8\xff"}[suffix]  # the format asked for
    written, original = read_image(out), read_image(photo)
    assert written.shape == original.shape
    assert (np.abs(written.astype(int) - original.astype(int)).max(axis=2) > 80).sum() > 500  # overlay drawn


def test_a_folder_of_images_is_not_written_into_an_image_name(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "x.png"), np.full((64, 64, 3), 50, np.uint8))
    assert annotate.main([str(images), "--out", str(tmp_path / "out.png")]) == 2
    assert "a folder of images is annotated into a folder" in capsys.readouterr().err
    assert visible_files(tmp_path) == ["images"]


def test_logs_are_streamed_while_frames_are_analysed(trained_model, video, tmp_path, monkeypatch):
    """The CSV rows of analysed frames are on disk (in the partial file) before the video ends: nothing is held."""
    from ferdesk.pipeline import EmotionPipeline

    process = EmotionPipeline.process
    rows_seen: list[int] = []

    def process_and_look(self, *args, **kwargs):
        partial = outputs.staging_path(tmp_path / "faces.csv")
        rows_seen.append(len(partial.read_text().splitlines()) - 1 if partial.exists() else -1)
        return process(self, *args, **kwargs)

    monkeypatch.setattr(EmotionPipeline, "process", process_and_look)
    code = annotate.main(
        [
            str(video),
            "--csv",
            str(tmp_path / "faces.csv"),
            "--json",
            str(tmp_path / "faces.json"),
            "--model",
            str(trained_model),
            "--no-progress",
        ]
    )
    assert code == 0
    # Two faces a frame: before frame k is analysed, the rows of frames 0..k-1 are already written.
    assert rows_seen[-VIDEO_FRAMES:] == [2 * k for k in range(VIDEO_FRAMES)]
    with open(tmp_path / "faces.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 2 * VIDEO_FRAMES
    assert len(json.loads((tmp_path / "faces.json").read_text())["frames"]) == VIDEO_FRAMES

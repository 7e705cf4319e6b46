"""The session log on real pipeline results: compact in memory, exported as CSV and JSON, each frame naming its
source, file, model and wall-clock time."""

from __future__ import annotations

import csv
import datetime as dt
import json
import threading
import tracemalloc
from dataclasses import replace

import pytest

from ferdesk.facelog import FaceLog, frame_record, wall_clock
from ferdesk.paths import MODELS_DIR
from ferdesk.pipeline import EmotionPipeline
from ferdesk.sources import DemoSource

STUDY_MODEL = MODELS_DIR / "study-sad-surprise"  # shipped, two emotions


@pytest.fixture(scope="module")
def demo_results():
    """60 frames of the demo source (three real faces) through the default model, then 20 through the study model."""
    source = DemoSource()
    source.open()
    with EmotionPipeline() as pipeline:
        results = []
        for index in range(80):
            if index == 60:
                pipeline.set_model(STUDY_MODEL)  # a model switch mid-session, as from the Model menu
            ok, frame, timestamp = source.read()
            assert ok
            results.append(pipeline.process(frame, timestamp=timestamp, index=index, annotate=False))
    source.close()
    assert sum(len(r.faces) for r in results) >= 200  # the demo's three faces are found in most frames
    return results


def test_a_long_session_takes_tens_of_bytes_per_face(demo_results):
    """An hour at 20 frames/s with three faces is 216,000 face rows; they must not take hundreds of MB."""
    seven = demo_results[:60]
    log = FaceLog([])
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for k in range(12_000):  # the same real faces at new frame numbers, as a long session would log them
            result = seven[k % len(seven)]
            log.add(replace(result, index=k, timestamp=k / 20))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    per_face = grown / log.face_count
    assert log.face_count > 30_000 and len(log) == 12_000
    assert per_face < 48, f"{per_face:.0f} bytes per logged face"


def test_export_holds_every_frame_rounded_as_before(demo_results, tmp_path):
    log = FaceLog([], {"app": "test"})
    start = 1_700_000_000.0
    for k, result in enumerate(demo_results):
        log.add(result, "demo", "", "default" if k < 60 else "study-sad-surprise", start + k / 20)
    assert log.labels == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]  # study's are a subset
    doc_path, table_path = tmp_path / "log.json", tmp_path / "log.csv"
    log.write(doc_path)
    log.write(table_path)
    doc = json.loads(doc_path.read_text())
    assert doc["app"] == "test" and doc["labels"] == log.labels
    assert len(doc["frames"]) == len(demo_results)
    for k, (frame, result) in enumerate(zip(doc["frames"], demo_results)):
        assert frame == {
            **frame_record(result),
            "source": "demo",
            "file": "",
            "wall_clock": wall_clock(start + k / 20),
            "model": "default" if k < 60 else "study-sad-surprise",
        }
        assert dt.datetime.fromisoformat(frame["wall_clock"]).timestamp() == pytest.approx(start + k / 20, abs=1e-3)
        assert frame["frame"] == result.index and frame["timestamp_s"] == round(result.timestamp, 4)
        for face, found in zip(frame["faces"], result.faces):
            label, confidence = found.top(result.labels)
            assert face["track_id"] == found.track_id and face["label"] == label
            assert face["confidence"] == pytest.approx(round(confidence, 4), abs=1e-12)
            assert face["box"] == [round(v, 1) for v in (found.box.x, found.box.y, found.box.w, found.box.h)]
            assert face["score"] == pytest.approx(round(found.score, 4), abs=1e-12)
            assert face["probabilities"] == pytest.approx(
                {k: round(float(p), 4) for k, p in zip(result.labels, found.probabilities)}, abs=1e-12
            )
    with open(table_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == log.face_count == sum(len(r.faces) for r in demo_results)
    assert list(rows[0])[:6] == ["source", "file", "model", "wall_clock", "frame", "timestamp_s"]
    study_rows = [r for r in rows if int(r["frame"]) >= 60]
    assert study_rows and all(r["p_happy"] == "" and r["label"] in ("sad", "surprise") for r in study_rows)
    assert {r["model"] for r in study_rows} == {"study-sad-surprise"} and {r["source"] for r in rows} == {"demo"}
    assert doc["sources"] == [{"source": "demo", "started": wall_clock(start), "frames": len(demo_results)}]
    assert all(float(r["p_sad"]) + float(r["p_surprise"]) == pytest.approx(1, abs=1e-3) for r in study_rows)


def test_export_while_the_worker_keeps_adding(demo_results, tmp_path):
    """The GUI exports on its thread while the worker thread logs; every export is a complete document."""
    log = FaceLog([])
    stop = threading.Event()

    def worker():
        k = 0
        while not stop.is_set() and k < 8_000:
            log.add(replace(demo_results[k % 60], index=k))
            k += 1

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        counts = []
        while len(log) < 5000:  # past the first chunk: exports read compressed and open chunks
            stop.wait(0.01)
        for n in range(3):
            path = tmp_path / f"export{n}.json"
            log.write_json(path)
            counts.append(len(json.loads(path.read_text())["frames"]))
    finally:
        stop.set()
        thread.join()
    assert counts == sorted(counts) and counts[0] >= 5000


def test_a_log_says_which_source_and_file_each_row_came_from(demo_results, tmp_path):
    """A session that goes from the demo to a folder and back: every row names its source and file, the JSON lists
    the sources in the order shown, and a thousand long paths are stored once, not on every frame."""
    log = FaceLog([])
    folder = str(tmp_path / "a folder with a long name" / "photos")
    plan = [("demo", "")] * 20 + [(folder, f"photo-{k:04d}.png") for k in range(1000)] + [("camera 0", "")] * 20
    for k, (source, file) in enumerate(plan):
        log.add(replace(demo_results[k % 60], index=k), source, file, "default", 1_700_000_000.0 + k)
    names = {"", "default", *(name for pair in plan for name in pair)}
    assert sorted(log._names) == sorted(names), "each distinct name is stored once"
    log.write(tmp_path / "log.csv")
    log.write(tmp_path / "log.json")
    with open(tmp_path / "log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["source"], r["file"]) for r in rows] == [plan[int(r["frame"])] for r in rows], (
        "each row names the source and file of its own frame"
    )
    assert {r["source"] for r in rows} == {"demo", folder, "camera 0"}
    doc = json.loads((tmp_path / "log.json").read_text())
    assert [(s["source"], s["frames"]) for s in doc["sources"]] == [("demo", 20), (folder, 1000), ("camera 0", 20)]
    assert doc["sources"][1]["started"] == wall_clock(1_700_000_020.0)
    assert doc["frames"][500]["file"] == "photo-0480.png" and doc["frames"][500]["source"] == folder


def test_it_knows_what_was_exported_and_a_failed_export_keeps_the_old_file(demo_results, tmp_path):
    log = FaceLog([])
    for result in demo_results[:10]:
        log.add(result, "demo")
    faces = log.face_count
    assert faces > 0 and log.unexported_faces == faces
    kept = tmp_path / "log.csv"
    log.write(kept)
    assert log.unexported_faces == 0
    log.add(demo_results[10], "demo")
    assert log.unexported_faces == len(demo_results[10].faces) > 0
    before = kept.read_bytes()
    with pytest.raises(OSError):
        log.write(tmp_path / "missing folder" / "log.csv")
    assert kept.read_bytes() == before and log.unexported_faces > 0

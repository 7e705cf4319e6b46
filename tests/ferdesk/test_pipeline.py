"""EmotionPipeline end to end on real faces with real model files.

The shipped 7-emotion model (models/default) serves most tests, so they run without the FER2013 data;
the session's tiny sad/surprise model (needs the data) is the second model for switching.
"""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from ferdesk.classify import EmotionClassifier
from ferdesk.model_card import ModelFolderError, read_card
from ferdesk.pipeline import DEFAULT_MODEL, STAGES, EmotionPipeline, FrameResult
from ferdesk.preprocess import Box, crop_face
from ferdesk.sources import demo_faces, read_image
from ferdesk.track import iou

# Grace Hopper's face in matplotlib's 512x600 sample, as the short-range model boxes it (see test_detect.py).
GRACE_FACE = Box(171, 146, 194, 194)
SEVEN = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


@pytest.fixture(scope="module")
def grace() -> np.ndarray:
    from matplotlib import cbook

    image = read_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    assert image is not None and image.shape == (600, 512, 3)
    return image


@pytest.fixture(scope="module")
def faces() -> dict[str, np.ndarray]:
    found = dict(demo_faces())
    assert "grace_hopper" in found and len(found) >= 8, sorted(found)
    return found


@pytest.fixture
def pipeline():
    with EmotionPipeline(DEFAULT_MODEL) as p:
        yield p


def face_grid(faces: dict[str, np.ndarray], cols: int = 4, rows: int = 4, cell: int = 200, side: int = 180):
    """A frame tiled with real faces (each demo face, then mirrored copies), one per cell."""
    tiles = list(faces.values()) + [cv2.flip(f, 1) for f in faces.values()]
    assert len(tiles) >= cols * rows
    frame = np.full((rows * cell, cols * cell, 3), 120, np.uint8)
    o = (cell - side) // 2
    for k in range(cols * rows):
        r, c = divmod(k, cols)
        frame[r * cell + o : r * cell + o + side, c * cell + o : c * cell + o + side] = cv2.resize(
            tiles[k], (side, side), interpolation=cv2.INTER_AREA
        )
    return frame


def paste(background: np.ndarray, face: np.ndarray, x: int, y: int, side: int) -> np.ndarray:
    frame = background.copy()
    frame[y : y + side, x : x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    return frame


def check_result(result: FrameResult, labels: list[str], n_faces: int) -> None:
    assert len(result.faces) == n_faces
    assert result.labels == labels
    assert set(result.timings_ms) == set(STAGES)
    assert all(v >= 0 for v in result.timings_ms.values())
    for face in result.faces:
        for probs in (face.probabilities, face.raw_probabilities):
            assert probs.shape == (len(labels),)
            assert np.all(probs >= 0)
            assert float(probs.sum()) == pytest.approx(1.0, abs=1e-4)


def test_grace_hopper_one_face_with_the_models_labels(pipeline, grace):
    labels = read_card(DEFAULT_MODEL).labels
    assert labels == SEVEN
    result = pipeline.process(grace, timestamp=0.0, index=7)
    check_result(result, labels, 1)
    face = result.faces[0]
    assert iou(face.box, GRACE_FACE) > 0.7
    assert face.score > 0.8
    assert face.top(labels)[0] in labels
    assert result.index == 7 and result.timestamp == 0.0
    assert result.frame.shape == grace.shape
    assert result.annotated is not None and result.annotated.shape == grace.shape
    assert not np.array_equal(result.annotated, grace)  # the overlay was drawn ...
    assert np.array_equal(result.frame, grace)  # ... on a copy


def test_blank_frame_has_no_faces(pipeline):
    frame = np.full((480, 640, 3), 128, np.uint8)
    result = pipeline.process(frame)
    check_result(result, pipeline.labels, 0)
    assert np.array_equal(result.annotated, frame)
    assert pipeline.process(np.zeros((480, 640, 3), np.uint8), annotate=False).annotated is None


def test_many_faces_batched_equals_one_by_one(faces):
    frame = face_grid(faces)
    with EmotionPipeline(DEFAULT_MODEL, min_confidence=0.3) as p:
        result = p.process(frame)
    check_result(result, p.labels, len(result.faces))
    assert len(result.faces) >= 12
    cells = {(int(f.box.y + f.box.h / 2) // 200, int(f.box.x + f.box.w / 2) // 200) for f in result.faces}
    assert len(cells) == len(result.faces)  # one detection per tiled face, no duplicates

    crops = np.stack([crop_face(frame, f.box, angle=f.angle) for f in result.faces])
    classifier = EmotionClassifier(DEFAULT_MODEL)
    batched = classifier.predict(crops)
    one_by_one = np.concatenate([classifier.predict(c[None]) for c in crops])
    assert batched.shape == (len(crops), len(p.labels))
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    # First sight of each track: nothing to smooth yet, so the pipeline's output is the batch itself.
    np.testing.assert_allclose(np.stack([f.raw_probabilities for f in result.faces]), batched, atol=1e-5)
    np.testing.assert_allclose(np.stack([f.probabilities for f in result.faces]), batched, atol=1e-5)
    # Different faces get different outputs: the rows are not all one broadcast value.
    assert np.ptp(batched[:, 0]) > 1e-3


def test_pipeline_crops_are_preprocess_crops(pipeline, faces):
    frame = face_grid(faces, cols=2, rows=2, cell=320, side=280)
    seen: list[np.ndarray] = []
    predict = pipeline.classifier.predict

    def spy(batch: np.ndarray) -> np.ndarray:
        seen.append(np.array(batch, copy=True))
        return predict(batch)

    pipeline.classifier.predict = spy
    result = pipeline.process(frame)
    assert len(seen) == 1 and len(result.faces) >= 3
    expected = np.stack([crop_face(frame, f.box, angle=f.angle) for f in result.faces])
    assert seen[0].dtype == np.uint8 and seen[0].shape == expected.shape
    assert np.array_equal(seen[0], expected)


@pytest.mark.parametrize("kind", ["gray", "bgra", "odd", "4k"])
def test_frame_layouts_and_sizes(pipeline, grace, faces, kind):
    if kind == "gray":
        frame = cv2.cvtColor(grace, cv2.COLOR_BGR2GRAY)
    elif kind == "bgra":
        frame = cv2.cvtColor(grace, cv2.COLOR_BGR2BGRA)
    elif kind == "odd":
        frame = paste(np.full((479, 641, 3), 90, np.uint8), faces["grace_hopper"], 201, 117, 261)
    else:
        frame = paste(np.full((2160, 3840, 3), 90, np.uint8), faces["grace_hopper"], 1111, 333, 1400)
    result = pipeline.process(frame)
    check_result(result, pipeline.labels, 1)
    height, width = frame.shape[:2]
    assert result.frame.shape == (height, width, 3) and result.frame.dtype == np.uint8
    assert result.annotated.shape == (height, width, 3)
    box = result.faces[0].box
    assert 0 <= box.x and box.x + box.w <= width and 0 <= box.y and box.y + box.h <= height


def test_tracking_keeps_ids_and_smooths(faces):
    background = np.full((480, 640, 3), 100, np.uint8)
    names = ["grace_hopper", "fer_happy"]
    with EmotionPipeline(DEFAULT_MODEL, smoothing=0.4) as p:
        history = []
        for k in range(8):  # two faces drifting 4 px per frame
            frame = paste(background, faces[names[0]], 40 + 4 * k, 60 + 2 * k, 200)
            frame = paste(frame, faces[names[1]], 380 - 4 * k, 220, 180)
            result = p.process(frame, timestamp=k / 30.0, index=k)
            assert len(result.faces) == 2
            history.append({f.track_id: f for f in result.faces})
    ids = set(history[0])
    assert len(ids) == 2
    assert all(set(h) == ids for h in history)
    for track_id in ids:  # the box follows its own face: left face stays left
        xs = [h[track_id].box.x for h in history]
        assert max(xs) - min(xs) < 60
    for prev, cur in zip(history, history[1:]):
        for track_id in ids:
            expected = 0.4 * cur[track_id].raw_probabilities + 0.6 * prev[track_id].probabilities
            np.testing.assert_allclose(cur[track_id].probabilities, expected, atol=1e-5)


@pytest.mark.parametrize("damage", ["missing_tflite", "garbage_tflite", "garbage_card"])
def test_set_model_with_broken_folder_keeps_the_old_model(pipeline, grace, tmp_path, damage):
    before = pipeline.process(grace).faces[0].raw_probabilities
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("card.json", "model.tflite"):
        shutil.copy(DEFAULT_MODEL / name, broken / name)
    if damage == "missing_tflite":
        (broken / "model.tflite").unlink()
    elif damage == "garbage_tflite":
        (broken / "model.tflite").write_bytes(b"this is not a flatbuffer" * 100)
    else:
        (broken / "card.json").write_text("{ not json")
    classifier = pipeline.classifier
    with pytest.raises(ModelFolderError):
        pipeline.set_model(broken)
    assert pipeline.classifier is classifier
    assert pipeline.labels == SEVEN
    after = pipeline.process(grace).faces[0].raw_probabilities
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_set_model_switches_to_a_second_model(grace, trained_model):
    """7 labels -> the session's sad/surprise model: new labels, fresh tracks, that model's own output."""
    with EmotionPipeline(DEFAULT_MODEL) as p:
        first = p.process(grace, timestamp=0.0)
        check_result(first, SEVEN, 1)
        p.set_model(trained_model)
        second = p.process(grace, timestamp=1 / 30)
    check_result(second, ["sad", "surprise"], 1)
    assert second.faces[0].track_id != first.faces[0].track_id  # 7-class averages were not carried over
    face = second.faces[0]
    expected = EmotionClassifier(trained_model).predict(crop_face(grace, face.box, angle=face.angle)[None])[0]
    np.testing.assert_allclose(second.faces[0].raw_probabilities, expected, atol=1e-5)


def test_webcam_path_finds_a_fast_moving_face_on_every_frame_of_a_video(grace, tmp_path):
    """One face moving fast across a 640x480 video file, read back like a camera: found on every frame."""
    from ferdesk.sources import VideoFileSource

    scale = 260 / grace.shape[1]
    face = cv2.resize(grace, (260, round(grace.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    background = np.full((480, 640, 3), 70, np.uint8)
    background[:, :, 1] = np.linspace(40, 160, 640, dtype=np.uint8)[None, :]
    path = tmp_path / "moving.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (640, 480))
    truth = []
    for k in range(60):  # 18 px per frame, back and forth, and up and down
        x = int(190 + 180 * np.sin(k * 18 / 180))
        y = int(85 + 80 * np.sin(k / 7))
        frame = background.copy()
        frame[y : y + face.shape[0], x : x + face.shape[1]][: 480 - y] = face[: 480 - y]
        writer.write(frame)
        truth.append(
            Box(x + GRACE_FACE.x * scale, y + GRACE_FACE.y * scale, GRACE_FACE.w * scale, GRACE_FACE.h * scale)
        )
    writer.release()
    ids = set()
    with VideoFileSource(path) as source, EmotionPipeline(DEFAULT_MODEL) as p:
        assert p.detector.mode == "auto"
        for k, expected in enumerate(truth):
            ok, frame, _ = source.read()
            assert ok
            result = p.process(frame, timestamp=k / 30.0, index=k, annotate=False)
            assert len(result.faces) == 1, f"frame {k}: {len(result.faces)} faces"
            assert iou(result.faces[0].box, expected) > 0.6, f"frame {k}"
            ids.add(result.faces[0].track_id)
    assert len(ids) == 1  # followed as one face throughout


def test_detector_mode_and_alignment_options(grace):
    with pytest.raises(ValueError, match="unknown detector mode"):
        EmotionPipeline(DEFAULT_MODEL, detector_mode="fast")
    tilted = cv2.warpAffine(
        grace, cv2.getRotationMatrix2D((256, 300), 25, 1.0), (512, 600), borderMode=cv2.BORDER_REPLICATE
    )
    with EmotionPipeline(DEFAULT_MODEL, detector_mode="short", align=False) as plain:
        (unaligned,) = plain.process(tilted).faces
    with EmotionPipeline(DEFAULT_MODEL, detector_mode="short") as p:
        (aligned,) = p.process(tilted).faces
        p.set_detector_mode("tiled")
        assert p.detector.mode == "tiled" and len(p.process(tilted).faces) == 1
        with pytest.raises(ValueError, match="unknown detector mode"):
            p.set_detector_mode("fast")
        assert p.detector.mode == "tiled" and len(p.process(tilted).faces) == 1
    assert unaligned.angle == 0.0 and aligned.angle == pytest.approx(-25 + 5, abs=5)  # less the dead band
    assert aligned.box == unaligned.box
    assert not np.allclose(aligned.raw_probabilities, unaligned.raw_probabilities, atol=1e-3)

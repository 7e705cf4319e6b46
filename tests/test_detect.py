"""FaceDetector on real faces (matplotlib's Grace Hopper, the shipped FER2013 demo faces) and on awkward frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ferdesk import preprocess
from ferdesk.detect import Detection, FaceDetector, as_rgb, clip_box
from ferdesk.paths import ASSETS_DIR
from ferdesk.preprocess import Box, crop_face, crop_region
from ferdesk.sources import demo_faces, read_image
from ferdesk.track import iou

DEMO_PNGS = sorted((ASSETS_DIR / "demo").glob("*.png"))
# Grace Hopper's face in matplotlib's 512x600 sample, as the short-range model boxes it.
GRACE_FACE = Box(171, 146, 194, 194)


@pytest.fixture(scope="module")
def detector():
    with FaceDetector("short") as det:
        yield det


@pytest.fixture(scope="module")
def full_detector():
    with FaceDetector("full") as det:
        yield det


@pytest.fixture(scope="module")
def grace() -> np.ndarray:
    from matplotlib import cbook

    image = read_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    assert image is not None and image.shape == (600, 512, 3)
    return image


def test_finds_grace_hopper(detector, grace):
    found = detector.detect(grace)
    assert len(found) == 1
    face = found[0]
    assert isinstance(face, Detection)
    assert face.score > 0.8
    assert iou(face.box, GRACE_FACE) > 0.7
    assert len(face.keypoints) == 6
    # Her right eye (image left) is left of her left eye, and both lie above the mouth.
    (rx, ry), (lx, ly), _, (_, my) = face.keypoints[:4]
    assert rx < lx and max(ry, ly) < my


@pytest.mark.parametrize("path", DEMO_PNGS, ids=lambda p: p.stem)
def test_finds_each_shipped_demo_face(detector, path: Path):
    image = read_image(path)
    found = detector.detect(image)
    assert len(found) == 1, f"{path.name}: {len(found)} faces"
    assert found[0].box.w > 0.6 * image.shape[1]


def test_ships_one_demo_face_per_emotion():
    assert [p.stem for p in DEMO_PNGS] == sorted(
        f"fer_{e}" for e in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    )


@pytest.mark.parametrize("value", [0, 128, 255])
def test_blank_frames_have_no_faces(detector, value):
    assert detector.detect(np.full((480, 640, 3), value, np.uint8)) == []


@pytest.mark.parametrize("layout", ["gray", "gray1", "bgra", "rgb", "float"])
def test_accepts_other_layouts(detector, grace, layout):
    if layout == "gray":
        frame, order = cv2.cvtColor(grace, cv2.COLOR_BGR2GRAY), "bgr"
    elif layout == "gray1":
        frame, order = cv2.cvtColor(grace, cv2.COLOR_BGR2GRAY)[:, :, None], "bgr"
    elif layout == "bgra":
        frame, order = cv2.cvtColor(grace, cv2.COLOR_BGR2BGRA), "bgr"
    elif layout == "rgb":
        frame, order = cv2.cvtColor(grace, cv2.COLOR_BGR2RGB), "rgb"
    else:
        frame, order = grace.astype(np.float32) / 255.0, "bgr"
    found = detector.detect(frame, order=order)
    assert len(found) == 1
    assert iou(found[0].box, GRACE_FACE) > 0.7


def test_rgb_conversion_is_contiguous_uint8(grace):
    view = grace[::2, ::2]  # a non-contiguous view, as slicing a frame gives
    rgb = as_rgb(view)
    assert rgb.flags["C_CONTIGUOUS"] and rgb.dtype == np.uint8 and rgb.shape == view.shape
    assert np.array_equal(rgb[..., 0], view[..., 2])


def test_odd_sizes(detector, grace):
    frame = np.full((479, 641, 3), 128, np.uint8)
    frame[:, 50:459] = cv2.resize(grace, (409, 479))
    found = detector.detect(frame)
    assert len(found) == 1
    box = found[0].box
    assert 50 <= box.x and box.x + box.w <= 459 + 1 and box.y + box.h <= 479
    assert detector.detect(cv2.resize(grace, (33, 17))) == []
    assert detector.detect(np.zeros((1, 1, 3), np.uint8)) == []
    with pytest.raises(ValueError):
        detector.detect(np.zeros((0, 10, 3), np.uint8))


def test_4k_frames(detector, full_detector, grace):
    frame = np.full((2160, 3840, 3), 100, np.uint8)
    frame[500:1700, 1400:2424] = cv2.resize(grace, (1024, 1200))
    found = detector.detect(frame)
    assert len(found) == 1
    assert iou(found[0].box, Box(1400 + 2 * 171, 500 + 2 * 146, 2 * 194, 2 * 194)) > 0.5
    # A face 5% of the frame width is out of the short-range model's reach; the full-range one finds it.
    small = np.full((2160, 3840, 3), 100, np.uint8)
    small[800:1400, 1600:2112] = grace
    assert len(full_detector.detect(small)) == 1


def _face_grid(side: int = 4) -> np.ndarray:
    """side x side tiles of real faces (the demo set and its mirror images), 160 px each."""
    tiles = [cv2.resize(f, (160, 160), interpolation=cv2.INTER_AREA) for _, f in demo_faces()]
    tiles += [cv2.flip(t, 1) for t in tiles]
    assert len(tiles) >= side * side
    rows = [np.hstack(tiles[r * side : (r + 1) * side]) for r in range(side)]
    return np.vstack(rows)


def test_many_faces_in_one_frame(detector, full_detector):
    grid = _face_grid(4)
    short = detector.detect(grid)
    full = full_detector.detect(grid)
    assert len(short) >= 10
    assert len(full) >= 12
    # Every detection sits on its own tile: no duplicates, no boxes spanning two faces.
    cells = {(int((d.box.x + d.box.w / 2) // 160), int((d.box.y + d.box.h / 2) // 160)) for d in full}
    assert len(cells) == len(full)
    assert all(d.box.w < 200 and d.box.h < 200 for d in full)
    assert [d.score for d in short] == sorted((d.score for d in short), reverse=True)


def test_min_confidence_filters(grace):
    with FaceDetector("short", min_confidence=0.99) as strict:
        assert strict.detect(grace) == []


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="face-detector model file not found"):
        FaceDetector(tmp_path / "nope.tflite")


def test_close_is_idempotent_and_final(grace):
    det = FaceDetector()
    assert len(det.detect(grace)) == 1
    det.close()
    det.close()
    with pytest.raises(RuntimeError, match="closed"):
        det.detect(grace)


def test_clip_box():
    assert clip_box(Box(-10, -5, 30, 20), 100, 50) == Box(0, 0, 20, 15)
    assert clip_box(Box(90, 40, 30, 30), 100, 50) == Box(90, 40, 10, 10)
    assert clip_box(Box(200, 0, 10, 10), 100, 50) is None


def test_dataset_face_crop_is_identity():
    face = read_image(DEMO_PNGS[0])[:, :, 0]
    face48 = cv2.resize(face, (48, 48), interpolation=cv2.INTER_AREA)
    out = crop_face(face48)
    assert out.shape == (48, 48) and out.dtype == np.uint8
    assert np.array_equal(out, face48)


def test_calibrated_crop_restores_fer_framing(detector):
    """A FER2013 face, upscaled and framed by context, re-cropped around its detector box, should look like itself.

    The calibrated CROP_SCALE / CROP_SHIFT_Y must do that better than the bare detector box.
    """
    errors = {"calibrated": [], "box": []}
    for path in DEMO_PNGS:
        face = read_image(path)[:, :, 0]
        original = cv2.resize(face, (48, 48), interpolation=cv2.INTER_AREA).astype(np.float32)
        pad = face.shape[0] // 2
        framed = cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        found = detector.detect(framed)
        assert found, path.name
        box = found[0].box
        errors["calibrated"].append(np.abs(crop_face(framed, box).astype(np.float32) - original).mean())
        x0, y0, x1, y1 = crop_region(box, 1.0, 0.0)
        bare = cv2.resize(framed[y0:y1, x0:x1], (48, 48), interpolation=cv2.INTER_AREA)
        errors["box"].append(np.abs(bare.astype(np.float32) - original).mean())
    assert preprocess.CROP_SCALE > 1.0 and preprocess.CROP_SHIFT_Y < 0.0
    # Measured here: about 25 grey levels against 43 for the bare box.
    assert np.mean(errors["calibrated"]) < 0.8 * np.mean(errors["box"])

"""The shared preprocessing on real faces: every layout and pixel type gives the same 48x48 model input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ferdesk.preprocess import (
    ALIGN_DEAD_BAND,
    Box,
    PreprocessMismatch,
    alignment_angle,
    check_spec,
    crop_face,
    crop_region,
    eye_angle,
    preprocessing_spec,
    to_gray,
    to_model_input,
)
from training.data import load_fer_csv


@pytest.fixture(scope="module")
def faces(sample_csv):
    return load_fer_csv(sample_csv).images


def test_layouts_and_pixel_types_agree(faces):
    gray = cv2.resize(faces[3], (96, 96), interpolation=cv2.INTER_CUBIC)
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    expected = crop_face(gray)
    for image in (
        bgr,
        cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
        gray[:, :, None],
        gray.astype(np.uint16) * 257,
        gray.astype(np.float32) / 255.0,
    ):
        np.testing.assert_array_equal(crop_face(image), expected)
    assert expected.shape == (48, 48) and expected.dtype == np.uint8


def test_channel_order_matters_for_colour():
    rgb = np.zeros((10, 10, 3), np.uint8)
    rgb[..., 0] = 255  # pure red in RGB order
    assert to_gray(rgb, "rgb")[0, 0] == 76  # 0.299 * 255
    assert to_gray(rgb, "bgr")[0, 0] == 29  # read as blue: 0.114 * 255


def test_box_crop_clamps_and_pads_at_frame_edges(faces):
    frame = cv2.resize(faces[0], (200, 200))
    for box in (Box(-30, -30, 80, 80), Box(160, 150, 80, 80), Box(0, 0, 200, 200)):
        crop = crop_face(frame, box)
        assert crop.shape == (48, 48)
    x0, y0, x1, y1 = crop_region(Box(100, 100, 50, 40))
    assert x1 - x0 == y1 - y0  # always square, so faces keep their shape
    with pytest.raises(ValueError, match="outside"):
        crop_face(frame, Box(500, 500, 20, 20))
    with pytest.raises(ValueError, match="empty"):
        crop_face(np.zeros((0, 5), np.uint8))


def test_model_input_scaling(faces):
    x = to_model_input(faces[:5])
    assert x.shape == (5, 48, 48, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 0] * 255, faces[:5], atol=1e-3)
    with pytest.raises(ValueError, match="expected faces"):
        to_model_input(np.zeros((2, 40, 40), np.uint8))


def test_spec_mismatch_is_detected():
    spec = preprocessing_spec()
    check_spec(spec)
    with pytest.raises(PreprocessMismatch, match="input_size"):
        check_spec({**spec, "input_size": 64})
    with pytest.raises(PreprocessMismatch, match="scale"):
        check_spec({**spec, "scale": "pixel/127.5-1"})


# ------------------------------------------------------------------------------------------- tilted heads


@pytest.fixture(scope="module")
def grace_framed() -> np.ndarray:
    """matplotlib's photograph of Grace Hopper with room around it to turn it."""
    from matplotlib import cbook

    from ferdesk.sources import read_image

    image = read_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    return cv2.copyMakeBorder(image, 150, 150, 150, 150, cv2.BORDER_REPLICATE)


def turned(frame: np.ndarray, degrees: float) -> np.ndarray:
    h, w = frame.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(frame, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)


def test_eye_angle_and_the_dead_band_of_alignment():
    assert alignment_angle((10, 20), (30, 21)) == 0.0  # about 3 degrees: left as it is
    assert alignment_angle((10, 20), (30, 40)) == pytest.approx(45.0 - ALIGN_DEAD_BAND)
    assert alignment_angle((10, 20), (30, 0)) == pytest.approx(-45.0 + ALIGN_DEAD_BAND)
    assert eye_angle((10, 20), (30, 20)) == 0.0
    assert eye_angle((10, 20), (30, 40)) == pytest.approx(45.0)  # her left eye lower: turn 45 degrees back
    assert eye_angle((10, 20), (30, 0)) == pytest.approx(-45.0)
    assert eye_angle((5, 5), (5, 5)) == 0.0


@pytest.mark.parametrize("degrees", [30, -30])
def test_a_face_turned_30_degrees_is_cropped_upright_and_classified_alike(grace_framed, degrees):
    from ferdesk.classify import EmotionClassifier
    from ferdesk.detect import FaceDetector
    from ferdesk.pipeline import DEFAULT_MODEL, face_angle

    with FaceDetector("short") as detector:
        (upright,) = detector.detect(grace_framed)
        (tilted,) = detector.detect(turned(grace_framed, degrees))
    reference = crop_face(grace_framed, upright.box, angle=face_angle(upright)).astype(np.float32)
    # The eyes give the tilt back (counter-clockwise on screen is a negative angle to undo).
    assert eye_angle(*tilted.keypoints[:2]) == pytest.approx(-degrees, abs=4)
    frame = turned(grace_framed, degrees)
    aligned = crop_face(frame, tilted.box, angle=face_angle(tilted)).astype(np.float32)
    unaligned = crop_face(frame, tilted.box).astype(np.float32)
    aligned_error, unaligned_error = np.abs(aligned - reference).mean(), np.abs(unaligned - reference).mean()
    # Measured: 20-31 grey levels aligned (the detector's box of a turned face is a little larger or smaller and
    # moves) against 46-48 unaligned.
    assert aligned_error < 34 and aligned_error < 0.7 * unaligned_error
    classifier = EmotionClassifier(DEFAULT_MODEL)
    probabilities = classifier.predict(np.stack([reference, aligned]).astype(np.uint8))
    assert np.argmax(probabilities[0]) == np.argmax(probabilities[1])
    assert np.abs(probabilities[0] - probabilities[1]).max() < 0.25


def test_angle_zero_is_the_plain_crop_and_a_whole_image_turns_about_its_centre(faces, grace_framed):
    box = Box(300, 290, 194, 194)
    assert np.array_equal(crop_face(grace_framed, box, angle=0.0), crop_face(grace_framed, box))
    # Turning by a tiny angle changes almost nothing: the aligned path frames the face like the plain one.
    near = crop_face(grace_framed, box, angle=0.01).astype(np.float32)
    assert np.abs(near - crop_face(grace_framed, box).astype(np.float32)).mean() < 1.0
    face = cv2.resize(faces[0], (96, 96))
    back = crop_face(crop_face(face, angle=20.0), angle=-20.0).astype(np.float32)
    assert np.abs(back - crop_face(face).astype(np.float32))[8:40, 8:40].mean() < 6.0
    with pytest.raises(ValueError, match="finite"):
        crop_face(face, angle=float("nan"))

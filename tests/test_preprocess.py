"""The shared preprocessing on real faces: every layout and pixel type gives the same 48x48 model input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ferdesk.preprocess import (
    Box, PreprocessMismatch, check_spec, crop_face, crop_region, preprocessing_spec, to_gray, to_model_input,
)
from training.data import load_fer_csv


@pytest.fixture(scope="module")
def faces(sample_csv):
    return load_fer_csv(sample_csv).images


def test_layouts_and_pixel_types_agree(faces):
    gray = cv2.resize(faces[3], (96, 96), interpolation=cv2.INTER_CUBIC)
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    expected = crop_face(gray)
    for image in (bgr, cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA), gray[:, :, None],
                  gray.astype(np.uint16) * 257, gray.astype(np.float32) / 255.0):
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

"""ferdesk.media (the one image reader and suffix list) and the one pixel normaliser (preprocess.to_color)
on a real face, through every path that takes a frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ferdesk import media
from ferdesk.detect import FaceDetector
from ferdesk.pipeline import DEFAULT_MODEL, EmotionPipeline
from ferdesk.preprocess import crop_face, to_color
from ferdesk.sources import ImageSource


@pytest.fixture(scope="module")
def grace() -> np.ndarray:
    from matplotlib import cbook

    image = media.read_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    assert image is not None and image.shape == (600, 512, 3)
    return image


def test_every_layout_and_pixel_type_gives_the_same_bgr_and_rgb(grace):
    gray = cv2.cvtColor(grace, cv2.COLOR_BGR2GRAY)
    for image in (
        grace,
        grace.astype(np.float32) / 255.0,
        grace.astype(np.float64),
        grace.astype(np.uint16) * 257,
        cv2.cvtColor(grace, cv2.COLOR_BGR2BGRA),
    ):
        np.testing.assert_array_equal(to_color(image), grace)
        np.testing.assert_array_equal(to_color(image, out="rgb"), grace[:, :, ::-1])
    rgba = cv2.cvtColor(grace, cv2.COLOR_BGR2RGBA)
    np.testing.assert_array_equal(to_color(rgba, order="rgb"), grace)
    np.testing.assert_array_equal(to_color(rgba, order="rgb", out="rgb"), grace[:, :, ::-1])
    for image in (gray, gray[:, :, None], gray.astype(np.float32) / 255.0):
        np.testing.assert_array_equal(to_color(image), cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    over = grace.astype(np.float32) * 2.0 - 100.0  # a float frame in [0,255] out of range is clipped, not scaled
    np.testing.assert_array_equal(to_color(over), np.clip(over, 0, 255).astype(np.uint8))
    view = to_color(grace[::2, ::2], out="rgb")
    assert view.flags["C_CONTIGUOUS"] and view.dtype == np.uint8


def test_a_float_frame_in_0_1_finds_and_crops_the_same_face_as_uint8(grace):
    unit = grace.astype(np.float32) / 255.0
    with FaceDetector("short") as detector:
        expected = detector.detect(grace)
        assert len(expected) == 1
        assert detector.detect(unit) == expected
    box = expected[0].box
    np.testing.assert_array_equal(crop_face(unit, box), crop_face(grace, box))
    with EmotionPipeline(DEFAULT_MODEL) as pipeline:
        want = pipeline.process(grace, 0.0)
        pipeline.reset()
        got = pipeline.process(unit, 0.0)  # the pipeline once clipped this to a nearly black frame and found nobody
    assert [f.box for f in got.faces] == [f.box for f in want.faces] and len(want.faces) == 1
    np.testing.assert_array_equal(got.frame, want.frame)
    np.testing.assert_allclose(got.faces[0].raw_probabilities, want.faces[0].raw_probabilities, atol=1e-6)


def test_sources_annotate_and_training_accept_the_same_image_files():
    from ferdesk import annotate, sources
    from training import data

    assert sources.IMAGE_SUFFIXES is annotate.IMAGE_SUFFIXES is data.IMAGE_SUFFIXES is media.IMAGE_SUFFIXES
    assert ".gif" in media.IMAGE_SUFFIXES  # training took GIFs, the app did not


def test_read_image_gives_bgr_uint8_from_any_file_and_names_a_bad_one(grace, tmp_path):
    gray = cv2.cvtColor(grace, cv2.COLOR_BGR2GRAY)
    files = {
        "color.png": grace,
        "alpha.png": cv2.cvtColor(grace, cv2.COLOR_BGR2BGRA),
        "deep.png": grace.astype(np.uint16) * 257,
        "gray.pgm": gray,
        "still.gif": grace,
    }
    for name, image in files.items():
        assert cv2.imwrite(str(tmp_path / name), image)
        read = media.read_image(tmp_path / name)
        assert read.dtype == np.uint8 and read.shape == grace.shape and read.flags["C_CONTIGUOUS"], name
        if name != "still.gif":  # GIF is paletted: close, not equal
            expected = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR) if name == "gray.pgm" else grace
            np.testing.assert_array_equal(read, expected, err_msg=name)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    for bad in (tmp_path / "broken.jpg", tmp_path / "missing.png"):
        with pytest.raises(media.ImageError, match=bad.name):
            media.read_image(bad)
    folder = ImageSource(tmp_path)  # the app skips the bad file and shows every image, the GIF too
    folder.open()
    shown = []
    while folder.read()[0]:
        shown.append(folder.current_path.name)
    assert sorted(shown) == sorted(files)


# Read back, FFmpeg names MPEG-4 part 2 (written as mp4v) by its decoder's tag, FMP4.
@pytest.mark.parametrize("suffix, fourcc", [(".avi", "MJPG"), (".mp4", "FMP4")])
def test_the_video_writer_picks_the_codec_from_the_suffix_and_takes_the_first_frames_size(
    grace, tmp_path, suffix, fourcc
):
    path = tmp_path / f"clip{suffix}"
    writer = media.VideoWriter(path, fps=12.0)
    assert not path.exists() and not writer.is_open  # nothing opened before a frame says the size
    with writer:
        for k in range(6):
            writer.write(np.roll(grace, 8 * k, axis=1))
        writer.write(cv2.resize(grace, (256, 300)))  # a source that changed size mid-way is scaled to the first
    assert writer.frames == 7 and writer.size == (512, 600)
    cap = cv2.VideoCapture(str(path))
    assert int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode().upper() == fourcc
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(12.0)
    frames = []
    while (frame := cap.read()[1]) is not None:
        frames.append(frame)
    cap.release()
    assert len(frames) == 7 and frames[0].shape == grace.shape
    assert np.abs(frames[0].astype(int) - grace.astype(int)).mean() < 6  # the face itself, up to codec loss


def test_the_video_writer_says_which_file_it_cannot_write(grace, tmp_path):
    with pytest.raises(media.VideoWriteError, match=r"clip\.mkv: unsupported suffix \.mkv; use \.mp4 or \.avi"):
        media.VideoWriter(tmp_path / "clip.mkv", fps=30)
    staging = tmp_path / "gone" / ".clip.partial-1.avi"  # its folder was removed: OpenCV cannot open the file
    writer = media.VideoWriter(staging, fps=30, name=tmp_path / "clip.avi")
    with pytest.raises(media.VideoWriteError) as caught:
        writer.write(grace)
    assert str(caught.value) == f"cannot write video {tmp_path / 'clip.avi'} (codec MJPG)"  # the name the user gave
    assert isinstance(caught.value, OSError)
    writer.close()

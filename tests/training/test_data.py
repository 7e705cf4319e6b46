"""Dataset loaders on real faces, and every kind of bad input."""

from __future__ import annotations

import gzip
import shutil

import cv2
import numpy as np
import pytest

from helpers import take_rows, write_csv
from ferdesk.labels import EMOTIONS, parse_emotions
from training.data import DatasetError, check_emotions, class_weights, imbalance_ratio, load_dataset, load_fer_csv


def test_sample_csv_loads_all_seven(sample_csv):
    data = load_fer_csv(sample_csv)
    assert data.emotions == list(EMOTIONS)
    assert data.images.shape == (42, 48, 48) and data.images.dtype == np.uint8
    assert data.class_counts("Training") == {e: 4 for e in EMOTIONS}
    assert data.class_counts("PublicTest") == {e: 2 for e in EMOTIONS}
    assert len(data.sha256) == 64
    assert data.images.std() > 20  # real faces, not blank images


def test_subset_is_relabelled_compactly_in_fer_order(sample_csv):
    data = load_fer_csv(sample_csv, "surprise,happy")
    assert data.emotions == ["happy", "surprise"]
    assert sorted(set(data.labels.tolist())) == [0, 1]
    full = load_fer_csv(sample_csv)
    happy = full.images[full.labels == EMOTIONS.index("happy")]
    np.testing.assert_array_equal(data.images[data.labels == 0], happy)


def test_plain_and_gzip_csv_agree(sample_csv, tmp_path):
    plain = tmp_path / "plain.csv"
    with gzip.open(sample_csv, "rb") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    a, b = load_fer_csv(sample_csv), load_fer_csv(plain)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)


@pytest.fixture
def rows(sample_csv):
    return take_rows(sample_csv, {"Training": 4, "PublicTest": 2})


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r.__setitem__(1, " ".join(r[1].split()[:-1])), "expected 2304 pixel values, got 2303"),
        (lambda r: r.__setitem__(1, r[1].replace(r[1].split()[5], "x7", 1)), "non-numeric pixel value"),
        (lambda r: r.__setitem__(1, "300 " + " ".join(r[1].split()[1:])), "0..255"),
        (lambda r: r.__setitem__(0, "7"), "emotion label 7 out of range"),
        (lambda r: r.__setitem__(0, "-1"), "out of range"),
        (lambda r: r.__setitem__(0, "happy"), "is not an integer"),
    ],
)
def test_bad_rows_name_file_and_line(rows, tmp_path, mutate, message):
    mutate(rows[9])  # data line 10 is file line 11
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DatasetError) as err:
        load_fer_csv(path)
    assert f"{path}:11:" in str(err.value) and message in str(err.value)


def test_skip_bad_skips_and_reports_each_row(rows, tmp_path):
    rows[3][1] = "1 2 3"
    rows[20][0] = "9"
    path = write_csv(tmp_path / "bad.csv", rows)
    data = load_fer_csv(path, skip_bad=True)
    assert len(data) == len(rows) - 2
    assert [b.where for b in data.skipped] == [f"{path}:5", f"{path}:22"]
    assert "pixel values" in data.skipped[0].reason and "out of range" in data.skipped[1].reason


def test_wrong_header_is_rejected(rows, tmp_path):
    path = write_csv(tmp_path / "h.csv", rows, header=("label", "pixels", "Usage"))
    with pytest.raises(DatasetError, match=r"h\.csv:1: expected header emotion,pixels,Usage"):
        load_fer_csv(path)


def test_empty_subset_and_missing_file(rows, tmp_path):
    path = write_csv(tmp_path / "happy_only.csv", [r for r in rows if r[0] == "3"])
    with pytest.raises(DatasetError, match="no faces of the selected emotions"):
        load_fer_csv(path, "sad,fear")
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "nope.csv")


def test_bad_emotion_names():
    with pytest.raises(ValueError, match="unknown emotion"):
        parse_emotions("happy,joy")
    with pytest.raises(ValueError, match="at least two"):
        parse_emotions("happy")


def write_folder_dataset(root, data):
    """The image-folder layout from real faces, in mixed formats, sizes and colour modes."""
    formats = [(".png", 48, "gray"), (".jpg", 96, "bgr"), (".bmp", 200, "bgra"), (".webp", 64, "gray")]
    for i, (face, label, usage) in enumerate(zip(data.images, data.labels, data.usage)):
        split = "train" if usage == "Training" else "test"
        suffix, size, mode = formats[i % len(formats)]
        image = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
        if mode == "bgr":
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif mode == "bgra":
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGRA)
        folder = root / split / data.emotions[label]
        folder.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(folder / f"face_{i:03d}{suffix}"), image)


def test_folder_layout_loads_any_format_and_size(sample_csv, tmp_path):
    data = load_fer_csv(sample_csv)
    write_folder_dataset(tmp_path, data)
    folder = load_dataset(tmp_path, "happy,sad,neutral")
    assert folder.emotions == ["happy", "sad", "neutral"]
    assert folder.class_counts("Training") == {"happy": 4, "sad": 4, "neutral": 4}
    assert folder.class_counts("PublicTest") == {"happy": 2, "sad": 2, "neutral": 2}
    assert folder.images.shape[1:] == (48, 48)
    # Faces saved resized, lossy or with alpha come back close to the originals.
    happy_csv = data.images[(data.labels == 3) & (data.usage == "Training")]
    happy_dir = folder.images[(folder.labels == 0) & (folder.usage == "Training")]
    assert np.abs(happy_csv.astype(int) - happy_dir.astype(int)).mean() < 6


def test_unreadable_image_names_its_path(sample_csv, tmp_path):
    write_folder_dataset(tmp_path, load_fer_csv(sample_csv, "happy,sad"))
    broken = tmp_path / "train" / "sad" / "broken.png"
    broken.write_bytes(b"not an image at all")
    with pytest.raises(DatasetError, match=r"broken\.png: unreadable"):
        load_dataset(tmp_path, "happy,sad")
    data = load_dataset(tmp_path, "happy,sad", skip_bad=True)
    assert len(data) == 12 and data.skipped[0].where == str(broken)


def test_unknown_emotion_folder_and_missing_layout(tmp_path):
    (tmp_path / "train" / "joy").mkdir(parents=True)
    with pytest.raises(DatasetError, match="unknown emotion folder"):
        load_dataset(tmp_path)
    with pytest.raises(DatasetError, match="expected sub-folders"):
        load_dataset(tmp_path / "train")


def test_class_weights_and_imbalance():
    labels = np.array([0] * 30 + [1] * 10)
    weights = class_weights(labels, 2)
    assert weights[1] == pytest.approx(3 * weights[0])
    assert weights[0] * 30 + weights[1] * 10 == pytest.approx(40)
    assert imbalance_ratio({"a": 30, "b": 10}) == 3


# --------------------------------------------------------------------------------------- issue 16: bad input


@pytest.mark.parametrize("compress", [False, True])
def test_csv_with_a_byte_order_mark_loads(rows, tmp_path, compress):
    """Spreadsheet programs save CSV as UTF-8 with a BOM before the header."""
    plain = write_csv(tmp_path / "plain.csv", rows)
    text = "\ufeff" + plain.read_text()
    path = tmp_path / ("bom.csv.gz" if compress else "bom.csv")
    if compress:
        with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    assert path.read_bytes()[:3] == (b"\x1f\x8b\x08" if compress else b"\xef\xbb\xbf")
    with_bom, without = load_fer_csv(path), load_fer_csv(plain)
    np.testing.assert_array_equal(with_bom.images, without.images)
    np.testing.assert_array_equal(with_bom.labels, without.labels)


def test_without_named_emotions_the_data_decides(sample_csv, tmp_path):
    write_folder_dataset(tmp_path, load_fer_csv(sample_csv, "happy,sad"))  # only happy/ and sad/ folders
    data, notes = check_emotions(load_dataset(tmp_path), named=False, test_usage="PublicTest")
    assert data.emotions == ["happy", "sad"] and sorted(set(data.labels.tolist())) == [0, 1]
    assert data.class_counts("Training") == {"happy": 4, "sad": 4}
    assert notes == ["training happy, sad: the data has no training faces of angry, disgust, fear, surprise, neutral"]


def test_named_emotions_need_training_and_test_faces(sample_csv, rows, tmp_path):
    write_folder_dataset(tmp_path / "folder", load_fer_csv(sample_csv, "happy,sad"))
    with pytest.raises(
        DatasetError,
        match="no training faces of fear, neutral; it has training faces of happy, sad "
        "only: leave fear, neutral out of --emotions",
    ):
        check_emotions(load_dataset(tmp_path / "folder", "happy,sad,fear,neutral"), named=True, test_usage="PublicTest")
    # Training faces of every emotion, but no PublicTest faces of sad (code 4).
    path = write_csv(tmp_path / "untested.csv", [r for r in rows if not (r[0] == "4" and r[2] == "PublicTest")])
    with pytest.raises(
        DatasetError,
        match=r"no PublicTest faces of sad to test on; .*--emotions angry,disgust,fear,"
        r"happy,surprise,neutral",
    ):
        check_emotions(load_fer_csv(path), named=True, test_usage="PublicTest")
    with pytest.raises(DatasetError, match="no PublicTest faces of sad"):  # the same without --emotions
        check_emotions(load_fer_csv(path), named=False, test_usage="PublicTest")


def test_one_emotion_is_refused_clearly(rows, tmp_path):
    path = write_csv(tmp_path / "happy_only.csv", [r for r in rows if r[0] == "3"])
    with pytest.raises(DatasetError, match="training faces of happy only; a classifier needs at least two emotions"):
        check_emotions(load_fer_csv(path), named=False, test_usage="PublicTest")


def test_where_test_faces_come_from(rows, tmp_path):
    both = write_csv(tmp_path / "both.csv", rows)
    with pytest.raises(
        DatasetError,
        match="no PrivateTest rows to test on; its test rows are marked PublicTest: pass --test-usage PublicTest",
    ):
        check_emotions(load_fer_csv(both), named=False, test_usage="PrivateTest")
    training_only = write_csv(tmp_path / "train.csv", [r for r in rows if r[2] == "Training"])
    data, notes = check_emotions(load_fer_csv(training_only), named=False, test_usage="PublicTest")
    assert notes == [f"no test rows in {training_only}: testing on 10% of the training faces, held back"]
    with pytest.raises(
        DatasetError, match=r"too few training faces of angry \(4\), .* for --folds 5 \(at least 5 each\)"
    ):
        check_emotions(load_fer_csv(both), named=False, test_usage="PublicTest", folds=5)

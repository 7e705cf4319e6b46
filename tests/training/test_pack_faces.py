"""scripts/pack_faces.py: FER2013 faces packed to travel to a GPU machine come back as the same CSV."""

from __future__ import annotations

import gzip

import numpy as np
from helpers import REPO_ROOT, SAMPLE_CSV, load_module

from training.data import load_fer_csv

pack_faces = load_module(REPO_ROOT / "scripts" / "pack_faces.py")


def test_packed_faces_unpack_to_the_same_csv_lines(tmp_path):
    packed, unpacked = tmp_path / "faces.npz.xz", tmp_path / "fer2013.csv"
    assert pack_faces.main(["pack", str(SAMPLE_CSV), str(packed)]) == 0
    assert pack_faces.main(["unpack", str(packed), str(unpacked)]) == 0
    # Byte for byte the original lines (the sample was written with Windows line ends; Kaggle's file has \n).
    assert unpacked.read_bytes() == gzip.decompress(SAMPLE_CSV.read_bytes()).replace(b"\r\n", b"\n")
    original, back = load_fer_csv(SAMPLE_CSV), load_fer_csv(unpacked)
    assert np.array_equal(original.images, back.images) and np.array_equal(original.labels, back.labels)
    assert list(original.usage) == list(back.usage)
    assert packed.stat().st_size < 0.8 * original.images.nbytes


def test_pack_keeps_only_the_usages_asked_for(tmp_path):
    packed, unpacked = tmp_path / "train.npz.xz", tmp_path / "train.csv"
    original = load_fer_csv(SAMPLE_CSV)
    training = original.usage == "Training"
    assert 0 < training.sum() < len(original)
    assert pack_faces.pack(SAMPLE_CSV, packed, ["Training"]) == training.sum()
    assert pack_faces.unpack(packed, unpacked) == training.sum()
    back = load_fer_csv(unpacked)
    assert np.array_equal(back.images, original.images[training]) and set(back.usage) == {"Training"}

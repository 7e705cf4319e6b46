"""Teach it my face, without the GUI: the held-back split, scoring, the fine-tunable model and the saved folder layout.

The samples are real FER2013 faces from the shipped sample; the saved folder is read back with the trainer's own
folder loader.
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from ferdesk import personalise as own
from ferdesk.model_card import read_card
from ferdesk.paths import MODELS_DIR
from ferdesk.pipeline import DEFAULT_MODEL
from training.data import FOLDER_USAGE, load_fer_csv, load_image_folder

STUDY_MODEL = MODELS_DIR / "study-sad-surprise"


@pytest.fixture(scope="module")
def real_faces(sample_csv):
    data = load_fer_csv(sample_csv, ["happy", "sad", "surprise"])
    return {e: data.images[data.labels == k] for k, e in enumerate(data.emotions)}


def collection(real_faces, counts: dict[str, int]) -> own.SampleSet:
    samples = own.SampleSet()
    for emotion, n in counts.items():
        for face in real_faces[emotion][:n]:
            samples.add(face, emotion)
    return samples


def test_split_holds_back_a_quarter_of_each_emotion_at_least_one(real_faces):
    samples = collection(real_faces, {"sad": 7, "surprise": 5, "happy": 1})
    parts = own.split(samples, ["sad", "surprise"])
    for emotion, n_test in (("sad", 2), ("surprise", 1)):  # round(7 / 4), and at least 1 of 5
        train, test = parts.train[emotion], parts.test[emotion]
        assert len(test) == n_test and len(train) + len(test) == len(samples.of(emotion))
        assert {id(s) for s in train}.isdisjoint({id(s) for s in test})
        assert {id(s) for s in train + test} == {id(s) for s in samples.of(emotion)}
    faces, emotions = parts.test_faces()
    assert faces.shape == (3, 48, 48) and emotions == ["sad", "sad", "surprise"]
    # The same samples split alike, whatever else is split with them; another seed draws other faces.
    alone = own.split(samples, ["sad"])
    assert [id(s) for s in alone.test["sad"]] == [id(s) for s in parts.test["sad"]]
    draws = {tuple(id(s) for s in own.split(samples, ["sad"], seed=seed).test["sad"]) for seed in range(6)}
    assert len(draws) > 1


def test_split_names_every_emotion_with_too_few_samples(real_faces):
    samples = collection(real_faces, {"sad": 3, "happy": 1})
    assert own.missing(samples, ["happy", "sad", "surprise"]) == ["happy", "surprise"]
    with pytest.raises(ValueError, match=r"happy \(1\), surprise \(0\)"):
        own.split(samples, ["happy", "sad", "surprise"])
    kept = own.split(samples, ["happy", "sad"], need_test=False)  # saving: a lone sample goes to training
    assert len(kept.train["happy"]) == 1 and kept.test["happy"] == [] and len(kept.test["sad"]) == 1


def test_samples_are_48x48_crops_and_each_is_itself(real_faces):
    samples = own.SampleSet()
    face = real_faces["sad"][0]
    first, second = samples.add(face, "sad"), samples.add(face, "sad")
    samples.remove(first)
    assert samples.samples == [second] and samples.counts() == {"sad": 1}
    with pytest.raises(ValueError, match="48x48"):
        samples.add(np.zeros((64, 64), np.uint8), "sad")


def test_saved_folder_is_what_the_trainer_reads(real_faces, tmp_path):
    samples = collection(real_faces, {"sad": 6, "surprise": 4, "happy": 1})
    parts = own.split(samples, ["happy", "sad", "surprise"], need_test=False)
    own.write_folder(tmp_path, parts, stem="me")
    data = load_image_folder(tmp_path, ["happy", "sad", "surprise"])
    assert {e for e, n in data.class_counts().items() if n} == {"happy", "sad", "surprise"}
    for usage, groups in (("train", parts.train), ("test", parts.test)):
        for emotion, group in groups.items():
            read = data.images[(data.usage == FOLDER_USAGE[usage]) & (data.labels == data.emotions.index(emotion))]
            # Lossless: the very crops come back, pixel for pixel.
            assert sorted(f.tobytes() for f in read) == sorted(s.face.tobytes() for s in group)
    # Saving again into the same folder adds beside what is there and never overwrites a file.
    own.write_folder(tmp_path, parts, stem="me")
    assert len(load_image_folder(tmp_path, ["happy", "sad", "surprise"])) == 2 * len(samples)


def test_accuracy_counts_the_faces_the_model_gets_right(real_faces):
    faces = np.concatenate([real_faces["sad"][:10], real_faces["surprise"][:10]])
    truth = ["sad"] * 10 + ["surprise"] * 10
    right = own.accuracy(STUDY_MODEL, faces, truth)
    flipped = own.accuracy(STUDY_MODEL, faces, ["surprise" if e == "sad" else "sad" for e in truth])
    assert right + flipped == pytest.approx(1.0)  # two emotions: each face is right under exactly one labelling
    assert right > 0.5  # the study model reads real sad and surprised faces better than chance


def test_fine_tunable_model_is_the_cnn_in_use_or_an_ensembles_member_with_weights():
    study = read_card(STUDY_MODEL)
    assert own.fine_tunable(study).folder == study.folder
    member = own.fine_tunable(read_card(DEFAULT_MODEL))
    assert member.folder == DEFAULT_MODEL / "members" / "gpu-cnn_wide-s22-e89"
    assert member.labels == read_card(DEFAULT_MODEL).labels


def test_private_folder_is_for_this_user_only_and_goes_away():
    folder = own.private_folder()
    path = folder.name
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    folder.cleanup()
    assert not os.path.exists(path)

"""The model zoo: sizes from about 30k to about 3.8M trainable parameters, each a softmax over the emotions."""

from __future__ import annotations

import numpy as np

from ferdesk.preprocess import to_model_input
from training.data import load_fer_csv
from training.models import BASELINE, ZOO, build_cnn, is_zoo_cnn, trainable_parameters


def test_zoo_cnns_span_the_documented_sizes_and_classify_real_faces(sample_csv):
    faces = to_model_input(load_fer_csv(sample_csv).images[:4])
    sizes = {}
    for name in ZOO:
        if not is_zoo_cnn(name):
            assert name == BASELINE
            continue
        model = build_cnn(name, 7)
        sizes[name] = trainable_parameters(model)
        proba = np.asarray(model(faces, training=False))
        assert proba.shape == (4, 7) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert 25_000 <= min(sizes.values()) <= 35_000 and 3_700_000 <= max(sizes.values()) <= 3_900_000
    # The wide network is the medium one at 1.5x the filters: about 2.25x its conv weights.
    assert 2.1 < sizes["cnn_wide"] / sizes["cnn_medium"] < 2.3

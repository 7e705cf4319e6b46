"""The architectures ferdesk-train can fit, by name: the one list the app and the training code both read.

training.models builds one network per name (tests/test_architectures.py checks that the two agree). The app's
Model > Retrain... dialog offers these names without importing training: ferdesk never imports training.
"""

from __future__ import annotations

BASELINE = "logreg"  # scikit-learn logistic regression on pixels; every other architecture is a Keras CNN
ARCHITECTURES = (
    BASELINE,
    "cnn_small",
    "cnn_separable",
    "cnn_slim",
    "cnn_medium",
    "cnn_lowrank",
    "cnn_wide",
    "cnn_large",
)


def is_zoo_cnn(name: str) -> bool:
    """True for the zoo's Keras CNNs: the models a fit can start from (fine-tuning)."""
    return name in ARCHITECTURES and name != BASELINE

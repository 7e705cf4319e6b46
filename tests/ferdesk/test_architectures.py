"""The app's list of architectures (ferdesk.architectures) is the training zoo's, name for name and kind for kind."""

from ferdesk import architectures
from training import models


def test_the_app_offers_exactly_the_architectures_training_builds():
    assert list(architectures.ARCHITECTURES) == list(models.ZOO)
    assert architectures.BASELINE == models.BASELINE


def test_the_app_and_training_agree_which_models_can_be_fine_tuned():
    fine_tunable = [name for name in models.ZOO if models.is_zoo_cnn(name)]
    assert [name for name in architectures.ARCHITECTURES if architectures.is_zoo_cnn(name)] == fine_tunable
    assert len(fine_tunable) == len(models.ZOO) - 1 and not architectures.is_zoo_cnn("resnet50")

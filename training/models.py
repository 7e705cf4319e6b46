"""The model zoo: a logistic-regression baseline on pixels and Keras CNNs from about 30k to about 3.8M parameters,
costing from about 2 to 530 million multiply-adds per face (multiply_adds counts them from the built network).

Every model takes the (N, 48, 48, 1) float input of ferdesk.preprocess.to_model_input and ends in a softmax,
so all of them export to the same model folder. Augmentation lives in the input pipeline (training.augment),
not in the models, so exported models hold inference layers only.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from ferdesk.architectures import BASELINE
from ferdesk.preprocess import INPUT_SIZE


@dataclass(frozen=True)
class ZooEntry:
    name: str
    description: str
    build: Callable | None  # None for the scikit-learn baseline


def _conv_block(x, filters: int, convs: int, dropout: float, ranks: tuple = ()):
    """`convs` 3x3 convs with batch norm and ReLU, then pooling. A rank r in `ranks` (one per conv, None for a full
    conv) factors that conv into a 3x3 conv into r channels and a 1x1 conv back out to `filters`."""
    from keras import layers

    for rank in ranks or (None,) * convs:
        if rank:
            x = layers.Conv2D(rank, 3, padding="same", use_bias=False)(x)
            x = layers.Conv2D(filters, 1, use_bias=False)(x)
        else:
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
    x = layers.MaxPooling2D()(x)
    return layers.Dropout(dropout)(x) if dropout else x


def _head(x, n_classes: int):
    from keras import layers

    # Softmax in float32 even under mixed precision, for stable probabilities.
    return layers.Dense(n_classes, activation="softmax", dtype="float32", name="probabilities")(x)


def build_cnn_small(n_classes: int):
    """Three single-conv blocks (20/40/60) and global average pooling: about 30k parameters, fastest."""
    import keras
    from keras import layers

    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    x = inputs
    for filters in (20, 40, 60):
        x = _conv_block(x, filters, convs=1, dropout=0.0)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    return keras.Model(inputs, _head(x, n_classes), name="cnn_small")


def _vgg_blocks(x, base_filters: int, ranks: tuple = ()):
    """Four VGG-style blocks of two convs with base, 2x, 4x and 8x filters; `ranks`: eight, as in _conv_block."""
    for block, filters in enumerate((base_filters, 2 * base_filters, 4 * base_filters, 8 * base_filters)):
        x = _conv_block(x, filters, convs=2, dropout=0.1, ranks=tuple(ranks[2 * block : 2 * block + 2]))
    return x


# One family at three widths (the first block's filters): a wider trained member can start a narrower one.
VGG_GAP_WIDTHS = {"cnn_slim": 24, "cnn_medium": 32, "cnn_wide": 48}


# cnn_wide's convs after the first, factored: the rank of each is the number of principal components of its
# response on real faces that it keeps (97-98% of the variance in each), allocated for the most variance per
# multiply-add within 120M and rounded to multiples of 8 (training.lowrank measured them; docs/training.md).
LOWRANK_RANKS = (None, 16, 40, 48, 104, 104, 152, 40)
# A factored network and the trained network whose convs it factors (--init-from).
FACTORS = {"cnn_lowrank": "cnn_wide"}


def _vgg_gap(name: str, n_classes: int, ranks: tuple = ()):
    """Four VGG-style blocks of two convs (base, 2x, 4x, 8x filters), global average pooling."""
    import keras
    from keras import layers

    width = VGG_GAP_WIDTHS[FACTORS.get(name, name)]
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    x = layers.GlobalAveragePooling2D()(_vgg_blocks(inputs, width, ranks))
    x = layers.Dropout(0.4)(x)
    return keras.Model(inputs, _head(x, n_classes), name=name)


def build_cnn_medium(n_classes: int):
    """Four VGG-style blocks of two convs (32/64/128/256), global average pooling: about 1.2M parameters."""
    return _vgg_gap("cnn_medium", n_classes)


def build_cnn_wide(n_classes: int):
    """The medium network 1.5x as wide (48/96/192/384): about 2.6M parameters, 2.25x the compute per face.

    For long 7-emotion schedules: after 60 epochs the medium network's train accuracy (68-70%) sits only a few
    points above validation (67%), so it underfits rather than overfits.
    """
    return _vgg_gap("cnn_wide", n_classes)


def build_cnn_lowrank(n_classes: int):
    """cnn_wide with each conv after the first factored into a narrow 3x3 and a 1x1 conv: about 0.87M parameters,
    119M multiply-adds (45% of cnn_wide's).

    Meant to start from a trained cnn_wide (--init-from), whose convs training.lowrank factors on the training
    faces; a short distilled fine-tune then recovers most of the wide network's accuracy.
    """
    return _vgg_gap("cnn_lowrank", n_classes, LOWRANK_RANKS)


def build_cnn_slim(n_classes: int):
    """The medium network at 3/4 of the filters (24/48/96/192): about 0.66M parameters, 56% of its compute.

    The compute-efficient default's shape: on an AVX2 CPU, int8 cost tracks multiply-adds closely.
    """
    return _vgg_gap("cnn_slim", n_classes)


def build_cnn_separable(n_classes: int):
    """VGG-style blocks of depthwise-separable convs (48/96/192/384): about 0.31M parameters, 32M multiply-adds.

    A full 3x3 conv stem, then each 3x3 conv split into a per-channel 3x3 and a 1x1 mix (as in MobileNet).
    """
    import keras
    from keras import layers

    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    x = layers.Conv2D(48, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    for i, filters in enumerate((48, 96, 192, 384)):
        for _ in range(1 if i == 0 else 2):
            x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D()(x)
        x = layers.Dropout(0.1)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.4)(x)
    return keras.Model(inputs, _head(x, n_classes), name="cnn_separable")


def build_cnn_large(n_classes: int):
    """The medium conv stack with a wide fully connected head (flatten -> 1024 -> 256): about 3.8M parameters.

    The extra parameters sit in dense layers, as in the classic FER CNNs, so it trains only a little slower.
    """
    import keras
    from keras import layers

    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    x = layers.Flatten()(_vgg_blocks(inputs, 32))
    for units in (1024, 256):
        x = layers.Dense(units, activation="relu")(x)
        x = layers.Dropout(0.5)(x)
    return keras.Model(inputs, _head(x, n_classes), name="cnn_large")


ZOO: dict[str, ZooEntry] = {
    BASELINE: ZooEntry(BASELINE, "scikit-learn logistic regression on standardised pixels", None),
    "cnn_small": ZooEntry("cnn_small", build_cnn_small.__doc__.split(":")[0], build_cnn_small),
    "cnn_separable": ZooEntry("cnn_separable", build_cnn_separable.__doc__.split(":")[0], build_cnn_separable),
    "cnn_slim": ZooEntry("cnn_slim", build_cnn_slim.__doc__.split(":")[0], build_cnn_slim),
    "cnn_medium": ZooEntry("cnn_medium", build_cnn_medium.__doc__.split(":")[0], build_cnn_medium),
    "cnn_lowrank": ZooEntry("cnn_lowrank", build_cnn_lowrank.__doc__.split(":")[0], build_cnn_lowrank),
    "cnn_wide": ZooEntry("cnn_wide", build_cnn_wide.__doc__.split(":")[0], build_cnn_wide),
    "cnn_large": ZooEntry("cnn_large", build_cnn_large.__doc__.split(":")[0], build_cnn_large),
}
# The study's comparison; the others are opt-in (--models ...): cnn_wide is meant for long 7-emotion schedules,
# cnn_slim and cnn_separable for distilled students (--teacher).
DEFAULT_MODELS = [BASELINE, "cnn_small", "cnn_medium", "cnn_large"]


def is_zoo_cnn(name: str) -> bool:
    """True for the zoo's Keras CNNs: the models a fit can start from (fine-tuning)."""
    return name in ZOO and ZOO[name].build is not None


def can_narrow(start: str, student: str) -> bool:
    """True when a trained `start` network can begin a fit of `student`: the same family, at least as wide."""
    return start in VGG_GAP_WIDTHS and student in VGG_GAP_WIDTHS and VGG_GAP_WIDTHS[start] >= VGG_GAP_WIDTHS[student]


def can_start(start: str, student: str) -> bool:
    """True when a trained `start` network can begin a fit of `student`: the same one, a narrower member of its
    family, or the factored network made from it."""
    return start == student or can_narrow(start, student) or FACTORS.get(student) == start


def narrowed_weights(wide: list[np.ndarray], student) -> list[np.ndarray]:
    """A wider family member's weights cut down to `student`'s shapes (structured pruning, as in network slimming).

    Each conv keeps the output channels whose batch-norm scale |gamma| is largest (a channel with a small scale adds
    little after normalisation); the next conv and the classifier keep the matching input channels. The student
    keeps part of what the wide network learnt and needs a fine-tune: docs/training.md has what 12 epochs gave.
    """
    try:
        return _narrow(wide, student)
    except (IndexError, ValueError) as error:  # another family's weights run out or index past their channels
        raise ValueError(f"these weights do not narrow to {student.name}") from error


def _narrow(wide: list[np.ndarray], student) -> list[np.ndarray]:
    from keras import layers

    narrowed, i, kept = [], 0, None  # kept: the previous layer's surviving output channels
    for layer in student.layers:
        if isinstance(layer, layers.Conv2D):  # always followed by its batch norm in this family
            kernel, gamma = wide[i], wide[i + 1]
            if kept is not None:
                kernel = kernel[:, :, kept, :]
            kept = np.sort(np.argsort(-np.abs(gamma), kind="stable")[: layer.filters])
            narrowed.append(kernel[..., kept])
            i += 1
        elif isinstance(layer, layers.BatchNormalization):  # gamma, beta, moving mean and variance
            narrowed.extend(w[kept] for w in wide[i : i + 4])
            i += 4
        elif isinstance(layer, layers.Dense):
            narrowed.extend([wide[i][kept], wide[i + 1]])
            i += 2
    if i != len(wide) or [w.shape for w in narrowed] != [w.shape for w in student.get_weights()]:
        raise ValueError("shapes differ")
    return narrowed


def parse_models(spec: str | None) -> list[str]:
    names = DEFAULT_MODELS if not spec else [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in ZOO]
    if unknown or not names:
        raise ValueError(f"unknown model(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(ZOO)}")
    return names


def build_cnn(name: str, n_classes: int):
    entry = ZOO[name]
    if entry.build is None:
        raise ValueError(f"{name} is not a Keras model")
    return entry.build(n_classes)


def trainable_parameters(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def multiply_adds(model) -> int:
    """Multiply-adds per face of the convolutions and dense layers (batch norm folds into them; pooling, activations
    and additions are left out, as is usual): the machine-independent cost beside every timing."""
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.SeparableConv2D):
            h, w, c_out = layer.output.shape[1:]
            c_in = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            total += h * w * c_in * layer.depth_multiplier * (kh * kw + c_out)
        elif isinstance(layer, layers.DepthwiseConv2D):
            h, w, _ = layer.output.shape[1:]
            kh, kw = layer.kernel_size
            total += h * w * layer.input.shape[-1] * layer.depth_multiplier * kh * kw
        elif isinstance(layer, layers.Conv2D):
            h, w, c_out = layer.output.shape[1:]
            kh, kw = layer.kernel_size
            total += h * w * kh * kw * layer.input.shape[-1] // layer.groups * c_out
        elif isinstance(layer, layers.Dense):
            total += int(np.prod(layer.input.shape[1:])) * layer.units
        elif hasattr(layer, "layers"):  # a nested model (an ensemble's members)
            total += multiply_adds(layer)
    return int(total)


def make_logreg(seed: int, max_iter: int = 300):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=max_iter, random_state=seed))


def logreg_parameters(n_classes: int) -> int:
    n_inputs = INPUT_SIZE * INPUT_SIZE
    outputs = 1 if n_classes == 2 else n_classes
    return outputs * (n_inputs + 1)


def logreg_to_keras(pipeline, n_classes: int):
    """The fitted scaler + logistic regression as one Keras Dense softmax layer (same probabilities).

    This lets the baseline be exported, loaded and run exactly like the CNNs, with no pickling.
    """
    import keras
    from keras import layers

    scaler, logreg = pipeline[0], pipeline[-1]
    scale = np.where(scaler.scale_ == 0, 1.0, scaler.scale_)
    coef = logreg.coef_ / scale  # fold the standardisation into the weights
    intercept = logreg.intercept_ - coef @ scaler.mean_
    if n_classes == 2:  # binary LR scores class 1 against a zero logit for class 0
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    x = layers.Flatten()(inputs)
    dense = layers.Dense(n_classes, activation="softmax", dtype="float32", name="probabilities")
    outputs = dense(x)
    model = keras.Model(inputs, outputs, name=BASELINE)
    dense.set_weights([coef.T.astype(np.float32), intercept.astype(np.float32)])
    return model

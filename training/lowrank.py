"""Starting a factored network (cnn_lowrank) from a trained cnn_wide: each conv W (Cin -> C) after the first becomes
W·A (a 3x3 conv, Cin -> r) followed by B (a 1x1 conv, r -> C).

A and B come from the principal components of the wide conv's response on real faces, measured after its batch
norm's scale (what the rest of the network sees), so each pair keeps the r directions of most variance. The part of
the response's mean outside them moves into the batch norm's moving mean. This is the linear step of Zhang et al.,
"Accelerating very deep convolutional networks for classification and detection" (2015); a distilled fine-tune
stands in for their nonlinear refinement. On the shipped wide member it keeps 67.0% of 69.1% on PublicTest before
any training (docs/training.md).
"""

from __future__ import annotations

import numpy as np

from ferdesk.preprocess import to_model_input

SAMPLE_FACES = 1500  # enough for stable 384x384 covariances; about 20 s on two cores
BATCH = 250


def response_moments(wide, faces: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(mean, covariance) of each conv's output channels over every position of `faces` (uint8, N x 48 x 48)."""
    import keras
    from keras import layers

    convs = [layer for layer in wide.layers if isinstance(layer, layers.Conv2D)]
    probe = keras.Model(wide.inputs, [conv.output for conv in convs])
    sums = [0.0] * len(convs)
    products = [0.0] * len(convs)
    count = [0] * len(convs)
    for start in range(0, len(faces), BATCH):
        outputs = probe.predict(to_model_input(faces[start : start + BATCH]), verbose=0)
        for k, out in enumerate(outputs):
            out = np.asarray(out, np.float64).reshape(-1, out.shape[-1])
            sums[k] = sums[k] + out.sum(0)
            products[k] = products[k] + out.T @ out
            count[k] += len(out)
    moments = []
    for total, product, n in zip(sums, products, count):
        mean = total / n
        moments.append((mean, product / n - np.outer(mean, mean)))
    return moments


def _factor(kernel, norm_weights, epsilon, moments, rank):
    """The 3x3 and 1x1 kernels of one factored conv, and its batch norm's new moving mean."""
    gamma, _beta, moving_mean, moving_var = norm_weights
    mean, cov = moments
    scale = gamma / np.sqrt(moving_var + epsilon)  # the batch norm's per-channel gain
    values, vectors = np.linalg.eigh(cov * np.outer(scale, scale))
    top = vectors[:, np.argsort(values)[::-1][:rank]]  # C x r, orthonormal in the scaled space
    down = scale[:, None] * top  # z = down^T y: the r components
    up = top / scale[:, None]  # y ~ up z, back in the conv's own units
    projected_mean = up @ (down.T @ mean)
    narrow = np.tensordot(kernel, down, axes=([3], [0]))  # 3 x 3 x Cin x r
    mix = up.T[None, None]  # 1 x 1 x r x C
    return narrow, mix, moving_mean - (mean - projected_mean)


def factored_weights(wide_weights: list[np.ndarray], student, faces: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """`student`'s weights factored from a trained cnn_wide's, measured on a sample of `faces` (uint8)."""
    from keras import layers

    from training.models import FACTORS, build_cnn

    n_classes = wide_weights[-1].shape[0]
    wide = build_cnn(FACTORS[student.name], n_classes)
    if [w.shape for w in wide_weights] != [w.shape for w in wide.get_weights()]:
        raise ValueError(f"these weights are not a {FACTORS[student.name]}'s, so they cannot start {student.name}")
    wide.set_weights(wide_weights)
    rng = np.random.default_rng(seed)
    sample = faces[np.sort(rng.choice(len(faces), min(SAMPLE_FACES, len(faces)), replace=False))]
    moments = response_moments(wide, sample)
    convs = [layer for layer in wide.layers if isinstance(layer, layers.Conv2D)]
    norms = [layer for layer in wide.layers if isinstance(layer, layers.BatchNormalization)]
    # Each wide conv's first student conv: narrower when factored (its rank), else the same conv.
    firsts = [layer for layer in student.layers if isinstance(layer, layers.Conv2D) and layer.kernel_size == (3, 3)]
    weights = []
    for conv, norm, conv_moments, first in zip(convs, norms, moments, firsts):
        kernel = conv.get_weights()[0]
        gamma, beta, moving_mean, variance = norm.get_weights()
        if first.filters < conv.filters:
            narrow, mix, moving_mean = _factor(kernel, norm.get_weights(), norm.epsilon, conv_moments, first.filters)
            weights += [narrow, mix]
        else:
            weights.append(kernel)
        weights += [gamma, beta, moving_mean, variance]
    weights += wide.get_layer("probabilities").get_weights()
    weights = [np.asarray(w, np.float32) for w in weights]
    if [w.shape for w in weights] != [w.shape for w in student.get_weights()]:
        raise ValueError(f"{student.name} does not factor {FACTORS[student.name]}'s convs one for one")
    return weights

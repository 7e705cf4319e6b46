"""Training-time augmentation of (N, 48, 48, 1) faces in [0, 1]: one recipe, one implementation (OpenCV).

The TensorFlow backend's tf.data pipeline (training.fit.make_dataset) calls augment_batch; other Keras backends
(JAX or PyTorch on a GPU machine without TensorFlow) get host-side batches (host_batches). Flip, shift, rotation
and zoom are one affine warp, so each face is resampled once: Keras' augmentation layers resample once per layer,
which blurred the faces (it halved their Laplacian energy) and cost CPU-trained networks several points on sharp
test faces. Keras' affine layers are also very slow compiled into an accelerator's train step
(keras-team/keras#23229); OpenCV warps a batch of 48x48 faces in well under a millisecond.
"""

from __future__ import annotations

import math

import numpy as np

# Small geometric changes only: FER2013 faces are already aligned and centred.
SHIFT = 0.08  # of the face's width/height
ROTATION = 0.04  # of a full turn (about +-14 degrees)
ZOOM = 0.08  # relative change of scale
# Strong: webcam light varies more than FER2013's; erased patches make the net use the whole face, not one cue.
BRIGHTNESS = 0.15  # added, in the [0, 1] input range
CONTRAST = 0.25  # relative change around each face's mean
ERASE_AREA = (0.02, 0.2)  # fraction of the face hidden by one noise patch


def augment_batch(x: np.ndarray, rng: np.random.Generator, strong: bool = False) -> np.ndarray:
    """The recipe on the host with OpenCV: a new augmented copy of x, drawn from rng."""
    import cv2

    n, height, width = x.shape[:3]
    out = np.empty_like(x)
    flips = rng.random(n) < 0.5
    angles = rng.uniform(-ROTATION, ROTATION, n) * 360.0
    scales = 1.0 + rng.uniform(-ZOOM, ZOOM, n)
    shifts = rng.uniform(-SHIFT, SHIFT, (n, 2)) * (width, height)
    centre = ((width - 1) / 2.0, (height - 1) / 2.0)
    for i in range(n):
        face = x[i, :, :, 0][:, ::-1] if flips[i] else x[i, :, :, 0]
        matrix = cv2.getRotationMatrix2D(centre, float(angles[i]), float(scales[i]))
        matrix[:, 2] += shifts[i]
        # Replicated borders: the Keras layers' "nearest" fill, so no black wedges enter the training faces.
        out[i, :, :, 0] = cv2.warpAffine(
            np.ascontiguousarray(face), matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
    if strong:
        means = out.mean(axis=(1, 2, 3), keepdims=True)
        # float32 factors: float64 ones would promote the whole batch to float64 and double the cost.
        contrast = (1.0 + rng.uniform(-CONTRAST, CONTRAST, (n, 1, 1, 1))).astype(np.float32)
        brightness = rng.uniform(-BRIGHTNESS, BRIGHTNESS, (n, 1, 1, 1)).astype(np.float32)
        np.clip((out - means) * contrast + means + brightness, 0.0, 1.0, out=out)
        # One noise patch per face, drawn for the whole batch at once (a per-face Python loop held the GIL).
        area = rng.uniform(*ERASE_AREA, n) * height * width
        aspect = np.exp(rng.uniform(math.log(0.5), math.log(2.0), n))
        h = np.clip(np.round(np.sqrt(area * aspect)), 1, height).astype(int)
        w = np.clip(np.round(np.sqrt(area / aspect)), 1, width).astype(int)
        top = (rng.random(n) * (height - h + 1)).astype(int)
        left = (rng.random(n) * (width - w + 1)).astype(int)
        rows, cols = np.arange(height)[None, :, None], np.arange(width)[None, None, :]
        patch = (
            (rows >= top[:, None, None])
            & (rows < (top + h)[:, None, None])
            & (cols >= left[:, None, None])
            & (cols < (left + w)[:, None, None])
        )
        noise = rng.random((n, height, width), dtype=np.float32)
        out[..., 0] = np.where(patch, noise, out[..., 0])
    return out


def host_batches(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    seed: int,
    strong: bool = False,
    augment: bool = True,
    start_epoch: int = 0,
):
    """A keras.utils.PyDataset of shuffled (optionally augmented) batches, reshuffled each epoch.

    Each batch draws from its own generator seeded by (seed, epoch, batch), so worker threads stay reproducible, and
    a fit resumed at `start_epoch` gets the batches an uninterrupted fit would have had, not epoch 1's again.
    """
    import keras

    class HostBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=4, use_multiprocessing=False)  # OpenCV releases the GIL while warping
            self.epoch = start_epoch
            self.order = np.random.default_rng([seed, self.epoch]).permutation(len(x))

        def __len__(self):
            return math.ceil(len(x) / batch_size)

        def __getitem__(self, index):
            rows = self.order[index * batch_size : (index + 1) * batch_size]
            faces = x[rows]
            if augment:
                faces = augment_batch(faces, np.random.default_rng([seed, self.epoch, index]), strong)
            return faces, y[rows]

        def on_epoch_end(self):
            self.epoch += 1
            self.order = np.random.default_rng([seed, self.epoch]).permutation(len(x))

    return HostBatches()

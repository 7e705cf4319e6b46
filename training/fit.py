"""Fitting one model on one split: input pipeline with augmentation, early stopping, throughput.

On the TensorFlow backend a tf.data pipeline augments on spare CPU threads. Other Keras backends (JAX or PyTorch,
e.g. on a GPU machine without TensorFlow) get batches augmented on the host with OpenCV (training.augment).
"""

from __future__ import annotations

import functools
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ferdesk.preprocess import to_model_input
from training import interrupts
from training.augment import augment_batch, host_batches
from training.backup import backup_callback, early_stopping_callback, resume_epoch
from training.models import (
    BASELINE,
    FACTORS,
    ZOO,
    build_cnn,
    can_start,
    is_zoo_cnn,
    logreg_to_keras,
    make_logreg,
    narrowed_weights,
)
from training.progress import Progress


@dataclass
class FitSettings:
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 6
    label_smoothing: float = 0.1
    class_weighting: bool = False
    augment: bool = True
    strong_augment: bool = False  # also erase patches and jitter brightness/contrast: for long schedules
    bf16: bool = False  # mixed bfloat16: faster on CPUs with AVX512-BF16, exported in float32 anyway
    flip_average: bool = False  # score each face and its mirror image, average (recorded in the card)
    seed: int = 0
    checkpoint_dir: str | None = None  # per-epoch backups: a killed run started again resumes where it stopped
    init_from: str | None = None  # model folder whose weights start the CNN fit (fine-tuning); same or wider net
    emotions: tuple[str, ...] = ()  # the run's classes in order (run_fit sets them); a start knowing more keeps these
    teachers: tuple[str, ...] = ()  # model folders whose soft targets the CNN also learns from (distillation)
    temperature: float = 2.0  # softens teacher and student alike in the distillation term
    distill_weight: float = 0.7  # share of the distillation term in the loss; the rest uses the true labels


@dataclass
class FitResult:
    model: object  # a float32 Keras model ready for export
    seconds: float
    images_per_second: float
    epochs_run: int
    history: dict = field(default_factory=dict)


PIPELINE_THREADS = min(os.cpu_count() or 2, 8)  # batched augmentation is cheap next to a training step
PREFETCH_BATCHES = 2


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    batch_size: int,
    shuffle: bool = False,
    augment: bool = False,
    seed: int = 0,
    strong_augment: bool = False,
    soft: np.ndarray | None = None,
    start_epoch: int = 0,
):
    """A cached, prefetched tf.data pipeline over uint8 faces; augmentation runs batched, after the cache.

    start_epoch: the epoch a resumed fit starts at. tf.data's shuffle and the augmentation layers restart their
    random streams with each new pipeline, so a resumed fit gets seeds of its own rather than epoch 1's draws again.
    """
    import tensorflow as tf

    if start_epoch:
        seed = int(np.random.SeedSequence([seed, start_epoch]).generate_state(1)[0] % 2**31)
    x = to_model_input(images)
    y = fit_targets(labels, n_classes, soft)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment:
        # The same OpenCV warp as the host pipeline, one resampling per face: Keras' four augmentation layers each
        # resampled the face and blurred it, so CPU-trained networks learnt blurred faces and lost several points
        # on sharp ones (docs/training.md). Each batch draws from a generator of its own, seeded in the pipeline.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

        def warp(faces, batch_seed):
            return augment_batch(faces, np.random.default_rng(int(batch_seed)), strong_augment)

        def augmented(faces, targets, batch_seed):
            out = tf.numpy_function(warp, [faces, batch_seed], tf.float32, stateful=False)
            return tf.ensure_shape(out, faces.shape), targets

        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda pair, batch_seed: augmented(*pair, batch_seed), num_parallel_calls=PIPELINE_THREADS
        )
    # Fixed parallelism, no autotuning: tearing down an autotuned iterator at the end of an epoch waited on the
    # autotuner's sleeping thread, idling both cores for up to 40 s at about every other epoch (seen with gdb).
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(PREFETCH_BATCHES).with_options(options)


def uses_tf_data() -> bool:
    import keras

    return keras.backend.backend() == "tensorflow"


def _one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes, dtype=np.float32)[labels]


def fit_targets(labels: np.ndarray, n_classes: int, soft: np.ndarray | None = None) -> np.ndarray:
    """One-hot labels, or [one-hot | teacher probabilities] when distilling (training.distill unpacks them)."""
    one_hot = _one_hot(labels, n_classes)
    return one_hot if soft is None else np.concatenate([one_hot, soft.astype(np.float32)], axis=1)


def _fit_inputs(train: tuple, val: tuple, n_classes: int, settings: FitSettings, start_epoch: int = 0) -> dict:
    """model.fit's data arguments for this backend; train and val are (images, labels[, soft targets]).

    start_epoch: where a fit resumed from its backup starts, so its batches are new draws, not epoch 1's again."""
    train_soft, val_soft = (train[2] if len(train) > 2 else None), (val[2] if len(val) > 2 else None)
    if uses_tf_data():
        return {
            "x": make_dataset(
                train[0],
                train[1],
                n_classes,
                settings.batch_size,
                shuffle=True,
                augment=settings.augment,
                seed=settings.seed,
                strong_augment=settings.strong_augment,
                soft=train_soft,
                start_epoch=start_epoch,
            ),
            "validation_data": make_dataset(val[0], val[1], n_classes, 256, soft=val_soft),
        }
    x = host_batches(
        to_model_input(train[0]),
        fit_targets(train[1], n_classes, train_soft),
        settings.batch_size,
        settings.seed,
        settings.strong_augment,
        settings.augment,
        start_epoch,
    )
    return {
        "x": x,
        "validation_data": (to_model_input(val[0]), fit_targets(val[1], n_classes, val_soft)),
        "validation_batch_size": 256,
    }


def _loss_and_metrics(n_classes: int, settings: FitSettings, distilling: bool):
    import keras

    if not distilling:
        return keras.losses.CategoricalCrossentropy(label_smoothing=settings.label_smoothing), ["accuracy"]
    from training.distill import distillation_loss, hard_label_accuracy

    loss = distillation_loss(n_classes, settings.temperature, settings.distill_weight, settings.label_smoothing)
    return loss, [hard_label_accuracy(n_classes)]


def check_init_from(folder: str | Path, models: list[str], emotions: list[str]) -> None:
    """Fail before any data is loaded when the fine-tuning start model cannot fit this run."""
    from ferdesk.model_card import KERAS_FILE, read_card

    card = read_card(folder, need=(KERAS_FILE,))
    if not is_zoo_cnn(card.architecture):
        raise ValueError(f"{folder} holds a {card.architecture} model; only the zoo's CNNs can be fine-tuned")
    cnns = [m for m in models if m != BASELINE]  # the baseline beside it learns from pixels as always
    if not (len(cnns) == 1 and can_start(card.architecture, cnns[0])):
        others = [n for n in ZOO if n != card.architecture and can_start(card.architecture, n)]
        also = f" (or a network it can start: {', '.join(others)})" if others else ""
        raise ValueError(
            f"{folder} holds a {card.architecture} model; fine-tuning needs --models {card.architecture}{also}"
        )
    missing = [e for e in emotions if e not in card.labels]
    if missing:
        raise ValueError(
            f"{folder} classifies {','.join(card.labels)}; it cannot start a run that also trains {','.join(missing)}"
        )


def starting_weights(folder: str | Path, emotions: tuple[str, ...] = ()) -> list:
    """The start model's weights, read from disk once per run (cross-validation fits it K+1 times).

    Given the run's `emotions`, a start model trained on more of them keeps only their classifier columns: its
    softmax over those emotions alone, the usual way to begin a subset study from a 7-emotion model.
    """
    from ferdesk.model_card import KERAS_FILE

    keras_file = Path(folder).resolve() / KERAS_FILE
    mtime_ns = keras_file.stat().st_mtime_ns if keras_file.exists() else 0  # missing: the loader says so
    labels, weights = _weights_of(str(keras_file.parent), mtime_ns)
    if not emotions or list(emotions) == labels:
        return weights
    columns = [labels.index(e) for e in emotions]  # check_init_from has made sure they are all there
    return [*weights[:-2], weights[-2][:, columns], weights[-1][columns]]  # the head: Dense kernel and bias


@functools.lru_cache(maxsize=1)
def _weights_of(folder: str, mtime_ns: int) -> tuple[list[str], list]:  # mtime in the key: a replaced file is reread
    from ferdesk.model_card import load_keras_model

    card, model = load_keras_model(folder)
    return list(card.labels), model.get_weights()


def _started(start: list, model, faces: np.ndarray) -> list:
    """The start model's weights in `model`'s shapes: as they are, narrowed, or factored on the training faces."""
    if [w.shape for w in start] == [w.shape for w in model.get_weights()]:
        return start
    if model.name in FACTORS:
        from training.lowrank import factored_weights

        return factored_weights(start, model, faces)
    return narrowed_weights(start, model)


def _progress_callback(progress: Progress, model: str, stage: str, fold: int, folds: int, epochs: int):
    import keras

    class EpochProgress(keras.callbacks.Callback):
        started = False

        def on_epoch_begin(self, epoch, logs=None):
            if not self.started and epoch > 0:  # BackupAndRestore moved the fit on to a saved epoch
                progress.resumed(model, stage, fold, folds, epoch, epochs)
            self.started = True

        def on_epoch_end(self, epoch, logs=None):
            progress.epoch_done(model, stage, fold, folds, epoch + 1, epochs, logs or {})

    return EpochProgress()


def fit_cnn(
    name: str,
    n_classes: int,
    train: tuple,
    val: tuple,
    settings: FitSettings,
    progress: Progress,
    stage: str = "cv",
    fold: int = 0,
    folds: int = 0,
) -> FitResult:
    import keras

    keras.utils.set_random_seed(settings.seed)
    policy = "mixed_bfloat16" if settings.bf16 else "float32"
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = build_cnn(name, n_classes)
        if settings.init_from:
            model.set_weights(_started(starting_weights(settings.init_from, settings.emotions), model, train[0]))
        steps = int(np.ceil(len(train[1]) / settings.batch_size)) * settings.epochs
        schedule = keras.optimizers.schedules.CosineDecay(settings.learning_rate, max(1, steps), alpha=0.05)
        distilling = len(train) > 2
        loss, metrics = _loss_and_metrics(n_classes, settings, distilling)
        model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4), loss=loss, metrics=metrics)
        backup = Path(settings.checkpoint_dir) / f"{name}-{stage}-{fold}" if settings.checkpoint_dir else None
        start_epoch = resume_epoch(backup, progress, f"{name} {stage} {fold}") if backup else 0
        inputs = _fit_inputs(train, val, n_classes, settings, start_epoch)
        weights = None
        if settings.class_weighting:
            from training.data import class_weights

            weights = class_weights(train[1], n_classes)
        callbacks = [
            interrupts.stop_fit_callback(),
            early_stopping_callback(backup, settings.patience),
            _progress_callback(progress, name, stage, fold, folds, settings.epochs),
        ]
        if backup:
            # Keras restores weights, optimizer state and the epoch count, and deletes the backup once the fit ends.
            callbacks.insert(0, backup_callback(backup))
        progress.fit_started(name, stage, fold, folds, settings.epochs)
        start = time.perf_counter()
        with warnings.catch_warnings(), interrupts.deferred_during_fit():
            # Keras warns that shuffle=True is ignored for tf.data input; the pipeline shuffles itself.
            warnings.filterwarnings("ignore", message=".*shuffle=True.*")
            history = model.fit(**inputs, epochs=settings.epochs, verbose=0, callbacks=callbacks, class_weight=weights)
        seconds = time.perf_counter() - start
    finally:
        keras.mixed_precision.set_global_policy("float32")
    epochs_fitted = len(history.epoch)  # this process only; a resumed fit starts past epoch 0
    epochs_run = history.epoch[-1] + 1 if history.epoch else 0
    if settings.bf16 or distilling:  # rebuild: float32 kernels, and no training-only loss in the saved file
        exported = build_cnn(name, n_classes)
        exported.set_weights(model.get_weights())
        model = exported
    return FitResult(
        model,
        seconds,
        epochs_fitted * len(train[1]) / max(seconds, 1e-9),
        epochs_run,
        {k: [float(v) for v in vals] for k, vals in history.history.items()},
    )


def fit_logreg(
    n_classes: int,
    train: tuple,
    settings: FitSettings,
    progress: Progress,
    stage: str = "cv",
    fold: int = 0,
    folds: int = 0,
) -> FitResult:
    x = to_model_input(train[0]).reshape(len(train[0]), -1)
    progress.fit_started(BASELINE, stage, fold, folds, 1)
    start = time.perf_counter()
    pipeline = make_logreg(settings.seed)
    fit_params = {}
    if settings.class_weighting:
        from training.data import class_weights

        weights = class_weights(train[1], n_classes)
        fit_params["logisticregression__sample_weight"] = np.array([weights[k] for k in train[1]])
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the capped iteration count is deliberate
        pipeline.fit(x, train[1], **fit_params)
    seconds = time.perf_counter() - start
    progress.epoch_done(BASELINE, stage, fold, folds, 1, 1, {})
    return FitResult(logreg_to_keras(pipeline, n_classes), seconds, len(x) / max(seconds, 1e-9), 1)


def fit_model(
    name: str,
    n_classes: int,
    train: tuple,
    val: tuple,
    settings: FitSettings,
    progress: Progress,
    stage: str = "cv",
    fold: int = 0,
    folds: int = 0,
) -> FitResult:
    """Fit the baseline on train+val (it needs no early stopping) or a CNN on train with val for early stopping."""
    if name == BASELINE:  # the baseline learns from the labels only, even when teachers are given
        both = (np.concatenate([train[0], val[0]]), np.concatenate([train[1], val[1]]))
        return fit_logreg(n_classes, both, settings, progress, stage, fold, folds)
    return fit_cnn(name, n_classes, train, val, settings, progress, stage, fold, folds)


def predict_proba(model, images: np.ndarray, flip_average: bool = False, batch_size: int = 512) -> np.ndarray:
    """Probabilities for uint8 faces in large batches (never model.predict per face); optionally flip-averaged."""
    x = to_model_input(images)
    out = np.concatenate(
        [np.asarray(model(x[i : i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    ).astype(np.float32)
    if flip_average:
        out = (out + predict_proba(model, images[:, :, ::-1])) / 2.0
    return out

"""Write a trained Keras model as a model folder the app can load (model.keras, model.tflite, card.json)."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from ferdesk.model_card import KERAS_FILE, TFLITE_FILE, ModelCard, write_card


def export_tflite(model, path: Path) -> None:
    """Float32 LiteRT flatbuffer with a dynamic batch dimension, so one call classifies every face of a frame."""
    import tensorflow as tf

    signature = [tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name="face")]
    # The converter prints its own diagnostics; keep the console for progress.
    with contextlib.redirect_stdout(io.StringIO()):
        model.export(str(path), format="litert", input_signature=signature, verbose=False)


def write_model_folder(model, folder: Path, card: ModelCard) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / KERAS_FILE)
    export_tflite(model, folder / TFLITE_FILE)
    write_card(card, folder)
    for name in (KERAS_FILE, TFLITE_FILE):
        if os.path.getsize(folder / name) == 0:
            raise RuntimeError(f"{folder / name}: export produced an empty file")

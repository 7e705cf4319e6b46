"""Model folder -> emotion probabilities for a batch of 48x48 faces, through LiteRT (TFLite) in one call."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ferdesk.model_card import TFLITE_FILE, ModelCard, ModelFolderError, read_card
from ferdesk.preprocess import INPUT_SIZE, to_model_input


class EmotionClassifier:
    """Runs a model folder's model.tflite. Not thread-safe: use it from one worker thread.

    `flip_average` also classifies each face mirrored and averages the two (test-time augmentation).
    """

    def __init__(self, folder: str | Path, num_threads: int = 2, flip_average: bool | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.card: ModelCard = read_card(folder)
        path = Path(folder) / TFLITE_FILE
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelFolderError(f"{path}: not a usable TFLite model ({exc})") from None
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        n_outputs = int(self._output["shape"][-1])
        if n_outputs != len(self.card.labels):
            raise ModelFolderError(f"{path}: {n_outputs} outputs but the card lists {len(self.card.labels)} labels")
        if tuple(self._input["shape"][1:]) != (INPUT_SIZE, INPUT_SIZE, 1):
            raise ModelFolderError(
                f"{path}: takes input of shape {list(self._input['shape'])}, not [N, {INPUT_SIZE}, {INPUT_SIZE}, 1]"
            )
        self._batch = int(self._input["shape"][0])
        self.flip_average = (
            bool(self.card.training.get("flip_average", False)) if flip_average is None else flip_average
        )
        self._check_runs(path)

    def _check_runs(self, path: Path) -> None:
        """Classify one blank face, so a model that loads but cannot run fails here, when it is chosen."""
        try:
            out = self._run(np.zeros((1, INPUT_SIZE, INPUT_SIZE, 1), dtype=np.float32))
        except (ValueError, RuntimeError) as exc:
            raise ModelFolderError(f"{path}: the model does not run ({exc})") from None
        if out.shape != (1, len(self.labels)) or not np.all(np.isfinite(out)):
            raise ModelFolderError(f"{path}: the model gives no usable probabilities (output {out.ravel()[:8]})")

    @property
    def labels(self) -> list[str]:
        return self.card.labels

    def _run(self, x: np.ndarray) -> np.ndarray:
        if len(x) != self._batch:
            self._interpreter.resize_tensor_input(self._input["index"], [len(x), *x.shape[1:]])
            self._interpreter.allocate_tensors()
            self._batch = len(x)
        self._interpreter.set_tensor(self._input["index"], x)
        self._interpreter.invoke()
        return np.array(self._interpreter.get_tensor(self._output["index"]), dtype=np.float32)

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """(N, 48, 48) uint8 faces from ferdesk.preprocess.crop_face -> (N, K) probabilities; N may be 0."""
        faces = np.asarray(faces)
        if faces.ndim == 3 and len(faces) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        x = to_model_input(faces)
        if not self.flip_average:
            return self._run(x)
        both = self._run(np.concatenate([x, x[:, :, ::-1]]))
        return (both[: len(x)] + both[len(x) :]) / 2.0

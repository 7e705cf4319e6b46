"""Progress of a training run: tqdm bars for people, or JSON lines (--progress json) for the app's Retrain dialog."""

from __future__ import annotations

import dataclasses
import sys
import time

from tqdm import tqdm

from ferdesk.progress_events import build_event


class Progress:
    """Receives run events; the console flavour draws one bar per fit, the JSON flavour prints one line per event."""

    def __init__(self, mode: str = "bar", stream=None):
        if mode not in ("bar", "json", "quiet"):
            raise ValueError(f"unknown progress mode {mode!r}")
        self.mode = mode
        self.stream = stream or sys.stdout
        self._bar = None

    def event(self, kind: str, **fields) -> None:
        """Every event passes here (the Ray engine relays them from here). The JSON line is written by its class in
        ferdesk.progress_events, which the app reads it back with; an event that class would not take raises."""
        event = build_event(kind, fields)
        if self.mode == "json":
            print(dataclasses.replace(event, time=round(time.time(), 3)).to_json(), file=self.stream, flush=True)

    def message(self, text: str) -> None:
        self.event("message", text=text)
        if self.mode == "bar":
            tqdm.write(text, file=self.stream)

    def fit_started(self, model: str, stage: str, fold: int, folds: int, epochs: int) -> None:
        self.event("fit_started", model=model, stage=stage, fold=fold, folds=folds, epochs=epochs)
        if self.mode == "bar":
            where = f"fold {fold}/{folds}" if stage == "cv" else "final fit"
            self._bar = tqdm(total=epochs, desc=f"{model} {where}", unit="epoch", file=self.stream, leave=True)

    def epoch_done(self, model: str, stage: str, fold: int, folds: int, epoch: int, epochs: int, metrics: dict) -> None:
        metrics = {k: round(float(v), 4) for k, v in metrics.items()}
        self.event("epoch", model=model, stage=stage, fold=fold, folds=folds, epoch=epoch, epochs=epochs, **metrics)
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix({k: metrics[k] for k in ("accuracy", "val_accuracy") if k in metrics})

    def resumed(self, model: str, stage: str, fold: int, folds: int, epochs_done: int, epochs: int) -> None:
        self.event("resumed", model=model, stage=stage, fold=fold, folds=folds, epoch=epochs_done, epochs=epochs)
        if self._bar is not None:  # fit_started made it; jump it to the restored epoch
            self._bar.update(epochs_done)

    def fit_done(self, model: str, stage: str, fold: int, folds: int, **results) -> None:
        self.event("fit_done", model=model, stage=stage, fold=fold, folds=folds, **results)
        if self._bar is not None:
            self._bar.close()
            self._bar = None

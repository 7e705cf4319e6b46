"""The trainer's progress events: what `python -m training --progress json` prints, one JSON object a line.

Each line is `{"event": kind, "time": unix_seconds, **fields}` (the kinds and their fields: docs/architecture.md).
training.progress writes every line through these classes and the app's trainer dialogs read them back with
parse_event, so writer and reader cannot drift. Reading is forgiving, so an app reads a newer trainer: fields it
does not know are ignored, a kind it does not know comes back as UnknownEvent, and a line that is not an event at
all gives None. Plain Python: `training` imports this module, never the other way round.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import numbers
import operator
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class Event:
    """Fields every event may carry. `fit` and `node` are set on the events of a fit that ran on Ray."""

    kind: ClassVar[str] = ""
    time: float | None = None  # Unix time the line was written
    fit: str | None = None  # the fit's key (model, stage, fold)
    node: str | None = None  # the Ray node that ran it

    def fields(self) -> dict[str, Any]:
        """The JSON fields after "event": "time" first, the kind's own fields, then any Ray tags; None omitted."""
        own = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in _BASE}
        tags = {name: getattr(self, name) for name in _BASE}
        return {k: v for k, v in {"time": self.time, **own, **tags}.items() if v is not None}

    def to_json(self) -> str:
        return json.dumps({"event": self.kind, **self.fields()})


_BASE = ("time", "fit", "node")


@dataclass(frozen=True)
class Message(Event):
    """A line of text for the log (the data found, a model's scores, what the engine is doing)."""

    kind: ClassVar[str] = "message"
    text: str


@dataclass(frozen=True)
class FitEvent(Event):
    """Which fit an event is about: cross-validation fold `fold` of `folds` (stage "cv"), or the final fit on all
    the training faces (stage "final", fold and folds 0)."""

    model: str
    stage: str
    fold: int
    folds: int

    @property
    def where(self) -> str:
        return f"fold {self.fold}/{self.folds}" if self.stage == "cv" else "final fit"


@dataclass(frozen=True)
class FitStarted(FitEvent):
    kind: ClassVar[str] = "fit_started"
    epochs: int  # at most; early stopping may end the fit sooner


@dataclass(frozen=True)
class Epoch(FitEvent):
    """An epoch finished. Its Keras metrics (loss, accuracy, val_loss, val_accuracy, ...) are top-level JSON fields."""

    kind: ClassVar[str] = "epoch"
    epoch: int  # epochs done, 1-based
    epochs: int
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def val_accuracy(self) -> float | None:
        return self.metrics.get("val_accuracy")

    def fields(self) -> dict[str, Any]:
        flat = super().fields()
        return {**{k: v for k, v in flat.items() if k != "metrics"}, **self.metrics}


@dataclass(frozen=True)
class Resumed(FitEvent):
    """A fit restored from its checkpoint after `epoch` epochs (a run started again with the same --checkpoints)."""

    kind: ClassVar[str] = "resumed"
    epoch: int
    epochs: int


@dataclass(frozen=True)
class FitDone(FitEvent):
    """A fit finished: a cross-validation fit with its held-out fold's scores, the final fit with its test scores."""

    kind: ClassVar[str] = "fit_done"
    accuracy: float | None = None
    macro_f1: float | None = None
    test_accuracy: float | None = None
    test_macro_f1: float | None = None


@dataclass(frozen=True)
class Done(Event):
    """The run is over and its folder written: a training run names its best model, a sweep its best settings."""

    kind: ClassVar[str] = "done"
    out: str
    best_model: str | None = None
    best: str | None = None  # a sweep's best configuration as its table names it, e.g. "model=cnn_small, seed=2"


@dataclass(frozen=True)
class UnknownEvent(Event):
    """An event of a kind this app does not know (a newer trainer): its name and fields as they came."""

    name: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.name

    def fields(self) -> dict[str, Any]:
        return {**({} if self.time is None else {"time": self.time}), **self.data}


KINDS: dict[str, type[Event]] = {cls.kind: cls for cls in (Message, FitStarted, Epoch, Resumed, FitDone, Done)}


def build_event(kind: str, fields: dict[str, Any]) -> Event:
    """The event a writer means, checked strictly: an unknown kind, a missing or unknown field or a value of the
    wrong type raises, so no line is written that parse_event would not read back the same."""
    if kind not in KINDS:
        raise ValueError(f"unknown progress event {kind!r}; known: {', '.join(KINDS)}")
    return _from_fields(KINDS[kind], fields, strict=True)


def parse_event(line: str | bytes) -> Event | None:
    """The event on one line of the trainer's output; None when the line is not an event (plain text, a JSON value
    that is not an object, a known kind with a missing or ill-typed field). Never raises."""
    try:
        data = json.loads(line)
    except (ValueError, TypeError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        return None
    kind = data.pop("event")
    try:
        if kind not in KINDS:
            time = data.pop("time", None)
            return UnknownEvent(name=kind, data=data, time=_convert(time, float | None))
        return _from_fields(KINDS[kind], data, strict=False)
    except (TypeError, ValueError, OverflowError):
        return None


def _from_fields(cls: type[Event], fields: dict[str, Any], strict: bool) -> Event:
    hints = _hints(cls)
    known = {name: _convert(value, hints[name]) for name, value in fields.items() if name in hints}
    extra = {name: value for name, value in fields.items() if name not in hints}
    if cls is Epoch:  # the metrics are the numeric top-level fields
        known["metrics"] = {**known.get("metrics", {}), **{k: float(v) for k, v in extra.items() if _is_number(v)}}
        extra = {k: v for k, v in extra.items() if not _is_number(v)}
    if strict and extra:
        raise TypeError(f"{cls.kind} events have no field(s) {', '.join(extra)}")
    return cls(**known)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _convert(value: Any, hint: Any) -> Any:
    """A JSON value as the field's type says (int, float, str, dict, or one of them or None); else TypeError."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(hint):
            return None
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
    base = typing.get_origin(hint) or hint
    if base is int and not isinstance(value, bool):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return operator.index(value)
    if base is float and _is_number(value):
        return float(value)
    if base in (str, dict) and isinstance(value, base):
        return value
    raise TypeError(f"expected {getattr(hint, '__name__', hint)}, got {value!r}")

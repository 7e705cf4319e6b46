"""The trainer's JSON progress lines: written through ferdesk.progress_events by training.progress, read back the same."""

from __future__ import annotations

import io
import json
import queue

import pytest

from helpers import run_cli
from ferdesk.progress_events import (
    KINDS,
    Done,
    Epoch,
    FitDone,
    FitStarted,
    Message,
    Resumed,
    UnknownEvent,
    build_event,
    parse_event,
)
from ferdesk.run_report import RunReport
from training.progress import Progress

# One event of every kind, with every field the trainer sets (the Ray engine's tags on one of them).
EXAMPLES = [
    Message("training on 10 faces", time=1.5),
    FitStarted("cnn_small", "cv", 2, 5, epochs=30, time=2.0),
    Epoch(
        "cnn_small",
        "cv",
        2,
        5,
        epoch=3,
        epochs=30,
        metrics={"loss": 0.9, "accuracy": 0.6, "val_accuracy": 0.55},
        time=3.25,
        fit="cnn_small-cv-2",
        node="a1b2c3",
    ),
    Resumed("cnn_small", "final", 0, 0, epoch=12, epochs=30, time=4.0),
    FitDone("cnn_small", "cv", 2, 5, accuracy=0.55, macro_f1=0.5, time=5.0),
    FitDone("cnn_small", "final", 0, 0, test_accuracy=0.61, test_macro_f1=0.58, time=5.5),
    Done("runs/x", best_model="cnn_small", time=6.0),
    Done("runs/sweep", best="model=cnn_small, seed=2, learning_rate=0.001", time=6.5),
]


def test_every_kind_has_an_example():
    assert {type(e) for e in EXAMPLES} == set(KINDS.values())


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.kind)
def test_every_kind_reads_back_as_written(event):
    line = event.to_json()
    assert json.loads(line)["event"] == event.kind
    assert parse_event(line) == event


def test_epoch_metrics_are_top_level_fields_as_before():
    line = json.loads(EXAMPLES[2].to_json())
    assert line["val_accuracy"] == 0.55 and "metrics" not in line
    assert line["fit"] == "cnn_small-cv-2" and line["node"] == "a1b2c3"
    assert parse_event(EXAMPLES[2].to_json()).val_accuracy == 0.55


def test_the_trainer_writes_its_lines_through_the_classes():
    stream = io.StringIO()
    progress = Progress("json", stream)
    progress.message("hello")
    progress.fit_started("logreg", "cv", 1, 3, 1)
    progress.epoch_done("logreg", "cv", 1, 3, 1, 1, {"accuracy": 0.71234567})
    progress.resumed("logreg", "cv", 1, 3, 1, 1)
    progress.fit_done("logreg", "cv", 1, 3, accuracy=0.7, macro_f1=0.6)
    progress.event("done", out="runs/y", best_model="logreg")
    events = [parse_event(line) for line in stream.getvalue().splitlines()]
    assert [type(e) for e in events] == [Message, FitStarted, Epoch, Resumed, FitDone, Done]
    assert events[0].text == "hello" and events[1].where == "fold 1/3" and events[1].epochs == 1
    assert events[2].metrics == {"accuracy": 0.7123}  # rounded by the trainer
    assert events[4].accuracy == 0.7 and events[4].test_accuracy is None
    assert all(isinstance(e.time, float) for e in events)


def test_events_relayed_from_a_ray_trial_keep_their_fit_and_node():
    from training.engine_ray import RelayProgress, forward

    relayed: queue.Queue = queue.Queue()
    trial = RelayProgress(relayed, {"fit": "cnn_small-cv-1", "node": "node-7"})
    trial.fit_started("cnn_small", "cv", 1, 2, 3)
    trial.epoch_done("cnn_small", "cv", 1, 2, 1, 3, {"val_accuracy": 0.5})
    trial.fit_done("cnn_small", "cv", 1, 2, accuracy=0.5, macro_f1=0.4)
    stream = io.StringIO()
    driver = Progress("json", stream)
    while not relayed.empty():
        _, kind, fields = relayed.get()
        forward(driver, kind, fields)
    events = [parse_event(line) for line in stream.getvalue().splitlines()]
    assert [type(e) for e in events] == [FitStarted, Epoch, FitDone]
    assert all((e.fit, e.node, e.where) == ("cnn_small-cv-1", "node-7", "fold 1/2") for e in events)
    assert events[1].val_accuracy == 0.5 and events[2].macro_f1 == 0.4


@pytest.mark.parametrize(
    "kind, fields, error",
    [
        ("finished", {}, ValueError),  # not a kind
        ("message", {"text": "x", "colour": "red"}, TypeError),  # not a field of the kind
        ("fit_started", {"model": "m", "stage": "cv", "fold": 1, "folds": 2}, TypeError),  # epochs missing
        ("epoch", {"model": "m", "stage": "cv", "fold": "one", "folds": 2, "epoch": 1, "epochs": 2}, TypeError),
    ],
)
def test_the_writer_refuses_what_the_reader_could_not_read(kind, fields, error):
    with pytest.raises(error):
        build_event(kind, fields)
    with pytest.raises(error):
        Progress("quiet").event(kind, **fields)


def test_a_newer_trainer_is_read_forgivingly():
    unknown = parse_event('{"event": "fit_paused", "time": 9, "model": "cnn_small", "why": "low battery"}')
    assert isinstance(unknown, UnknownEvent) and unknown.kind == "fit_paused" and unknown.time == 9.0
    assert unknown.data == {"model": "cnn_small", "why": "low battery"}
    assert json.loads(unknown.to_json()) == {
        "event": "fit_paused",
        "time": 9,
        "model": "cnn_small",
        "why": "low battery",
    }
    extra = parse_event(
        '{"event": "fit_started", "model": "m", "stage": "final", "fold": 0, "folds": 0, '
        '"epochs": 4, "gpu": "H200", "notes": ["a"]}'
    )
    assert extra == FitStarted("m", "final", 0, 0, epochs=4) and extra.where == "final fit"


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "Epoch 1/5",
        "not json {",
        "[1, 2]",
        "null",
        "42",
        '"message"',
        '{"text": "no event key"}',
        '{"event": 7}',
        '{"event": "message"}',
        '{"event": "message", "text": null}',
        '{"event": "epoch", "model": "m", "stage": "cv", "fold": 1, "folds": 2, "epoch": "3", "epochs": 5}',
        '{"event": "fit_started", "model": "m", "stage": "cv", "fold": 1.5, "folds": 2, "epochs": 5}',
        '{"event": "done", "out": "x", "best": [1]}',
        '{"event": "message", "text": "x", "time": "now"}',
        b"\xff\xfe",
        "[" * 100000,
    ],
)
def test_a_line_that_is_not_an_event_gives_none(line):
    assert parse_event(line) is None


def test_the_real_trainer_output_parses(sample_csv, tmp_path):
    out = tmp_path / "run"
    result = run_cli(
        "-m",
        "training",
        "--data",
        str(sample_csv),
        "--models",
        "cnn_small",
        "--folds",
        "0",
        "--epochs",
        "1",
        "--no-augment",
        "--progress",
        "json",
        "--out",
        str(out),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    events = [parse_event(line) for line in lines]
    assert None not in events, [line for line, e in zip(lines, events) if e is None]
    assert not any(isinstance(e, UnknownEvent) for e in events)
    assert [parse_event(e.to_json()) for e in events] == events
    kinds = [e.kind for e in events]
    assert {"message", "fit_started", "epoch", "fit_done", "done"} <= set(kinds) and kinds.count("done") == 1
    (epoch,) = [e for e in events if isinstance(e, Epoch)]
    assert (epoch.model, epoch.stage, epoch.epoch, epoch.epochs) == ("cnn_small", "final", 1, 1)
    assert {"loss", "accuracy"} <= set(epoch.metrics)
    (fit_done,) = [e for e in events if isinstance(e, FitDone)]
    report = RunReport.read(out)  # and the report it wrote reads as the app reads it
    assert report.best.name == "cnn_small" and fit_done.test_accuracy == report.best.test.accuracy
    (done,) = [e for e in events if isinstance(e, Done)]
    assert done == Done(str(out), best_model="cnn_small", time=done.time)


def test_a_sweep_names_its_best_configuration_as_its_table_does(tmp_path):
    """training.sweep ends with the best row's configuration string (CI caught a dict here, 2026-11-30)."""
    from training.engine import describe_overrides

    best = describe_overrides((("model", "cnn_small"), ("seed", 2), ("learning_rate", 0.001)))
    line = io.StringIO()
    Progress("json", stream=line).event("done", out=str(tmp_path), best=best)
    assert parse_event(line.getvalue()) == Done(str(tmp_path), best=best, time=parse_event(line.getvalue()).time)

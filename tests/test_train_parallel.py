"""scripts/train_parallel.py: fits sharing one machine, each sized to a wall-clock budget by a probe."""

from __future__ import annotations

import json

from conftest import REPO_ROOT, load_module

from ferdesk.model_card import read_card


def load_tool():
    return load_module(REPO_ROOT / "scripts" / "train_parallel.py")


def test_epochs_fill_the_time_left_after_start_up_and_finishing():
    plan = load_tool().plan_epochs
    assert plan(600, startup_s=80, epoch_s=3.0, finish_s=30, cap=400) == int(490 / 3.15)
    assert plan(600, startup_s=80, epoch_s=0.1, finish_s=30, cap=400) == 400  # capped
    assert plan(100, startup_s=80, epoch_s=3.0, finish_s=30, cap=400) == 1  # never below one epoch


def test_two_fits_at_once_become_two_model_folders(small_study_csv, tmp_path):
    out = tmp_path / "runs"
    code = load_tool().main(["--data", str(small_study_csv), "--runs", "cnn_small:1,cnn_small:2", "--budget-min", "4",
                             "--out", str(out), "--max-epochs", "4", "--", "--emotions", "sad,surprise"])
    assert code == 0
    summary = json.loads((out / "parallel.json").read_text())
    assert [r["exit_code"] for r in summary["runs"]] == [0, 0]
    assert all(0 < s < 240 for s in summary["probe_epoch_s"])
    for run, seed in zip(summary["runs"], (1, 2)):
        card = read_card(run["folder"])  # a complete model folder the app can load
        assert card.labels == ["sad", "surprise"] and card.training["seed"] == seed
        assert card.training["max_epochs"] == run["epochs"] == 4  # the budget allowed more; the cap holds
        epochs = [json.loads(line) for line in open(f"{run['folder']}.jsonl") if line.startswith('{"event": "epoch"')]
        assert [e["epoch"] for e in epochs] == [1, 2, 3, 4]
    assert not (out / ".probe").exists()  # the probe's throw-away fits are gone

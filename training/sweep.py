"""`ferdesk-train --sweep`: the same K-fold cross-validation for several configurations, ranked in one table.

A configuration sets some of: the model (the zoo's networks differ in width), the seed (weights, augmentation,
early-stopping split; the folds themselves stay those of --seed, so configurations are compared on the same faces),
the learning rate, the augmentation strength and the distillation temperature. `--search grid` runs every
combination; `--search random --samples N` runs N of them drawn with --seed. Every configuration's fold fits go to
the engine (Ray spreads them over a cluster) and come back to one results table: sweep.csv, sweep.json, sweep.md and
sweep.png in --out. Only cross-validation ranks configurations; a sweep fits no final model and never looks at the
test faces, so the chosen configuration can then be trained and tested with a plain `ferdesk-train` run.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ferdesk.argtypes import float_in, int_at_least, positive_float
from ferdesk.outputs import staged_folder
from training.cv import summarize_folds
from training.engine import AUGMENTATION, SWEEPABLE, describe_overrides, plan_fits
from training.progress import Progress
from training.run import RunConfig, check_output, load_run_data, machine_description

SWEEP_FILES = ("sweep.json", "sweep.csv", "sweep.md", "sweep.png")
SEARCHES = ("grid", "random")


def _choice(options) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(options)}")
        return text

    return parse


def value_parsers() -> dict:
    from training.models import ZOO

    return {
        "model": _choice(ZOO),
        "seed": int_at_least(0),
        "learning_rate": positive_float,
        "augment": _choice(tuple(AUGMENTATION)),
        "temperature": float_in(1.0, 20.0),
    }


def parse_sweep(specs: list[str], models: list[str], distilling: bool) -> dict[str, list]:
    """--sweep NAME=V1,V2 flags as {name: values}; the model comes first and defaults to --models."""
    parsers, space = value_parsers(), {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not values.strip():
            raise ValueError(f"--sweep {spec!r}: write NAME=VALUE,VALUE,... with NAME one of {', '.join(SWEEPABLE)}")
        if name not in parsers:
            raise ValueError(f"--sweep {spec!r}: {name!r} cannot be swept; choose from {', '.join(SWEEPABLE)}")
        if name in space:
            raise ValueError(f"--sweep {name} is given twice; list all its values in one flag")
        try:
            parsed = [parsers[name](v.strip()) for v in values.split(",")]
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"--sweep {spec!r}: {exc}") from None
        if len(set(parsed)) != len(parsed):
            raise ValueError(f"--sweep {spec!r} lists a value twice")
        space[name] = parsed
    if "temperature" in space and not distilling:
        raise ValueError("--sweep temperature=... needs --teacher: the temperature only softens a teacher's targets")
    return {"model": space.pop("model", list(models)), **space}


def plan_configurations(space: dict[str, list], search: str, samples: int | None, seed: int) -> list[tuple]:
    """Every combination (grid), or `samples` distinct ones drawn with the seed (random): a rerun draws the same."""
    grid = [tuple(zip(space, values)) for values in itertools.product(*space.values())]
    if search == "grid":
        return grid
    picks = np.random.default_rng(seed).choice(len(grid), size=min(samples or len(grid), len(grid)), replace=False)
    return [grid[i] for i in sorted(picks)]


def results_table(configurations: list[tuple], outcomes: dict) -> list[dict]:
    """One row per configuration, best cross-validation accuracy first."""
    rows = []
    for overrides in configurations:
        folds = sorted((o for job, o in outcomes.items() if job.overrides == overrides), key=lambda o: o.job.fold)
        cv = summarize_folds(folds)
        rows.append(
            {
                "configuration": describe_overrides(overrides),
                **dict(overrides),
                "accuracy_mean": cv["accuracy_mean"],
                "accuracy_std": cv["accuracy_std"],
                "macro_f1_mean": cv["macro_f1_mean"],
                "fold_accuracy": cv["fold_accuracy"],
                "epochs_mean": float(np.mean(cv["fold_epochs"])),
                "fit_seconds": cv["train_seconds"],
            }
        )
    rows.sort(key=lambda r: -r["accuracy_mean"])
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def write_table_csv(rows: list[dict], names: list[str], path: Path) -> None:
    columns = [
        "rank",
        *names,
        "accuracy_mean",
        "accuracy_std",
        "macro_f1_mean",
        "epochs_mean",
        "fit_seconds",
        "fold_accuracy",
    ]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([" ".join(f"{a:.4f}" for a in row[c]) if c == "fold_accuracy" else row[c] for c in columns])


def sweep_markdown(summary: dict) -> str:
    names = summary["search"]["names"]
    lines = [
        f"# Sweep: {len(summary['rows'])} configurations x {summary['settings']['folds']} folds"
        f" ({summary['search']['kind']} search)",
        "",
        f"Command: `{summary['command']}`  ",
        f"Data: {summary['data']['source_name']} "
        f"({summary['data']['train_size']} training faces, emotions {', '.join(summary['data']['emotions'])})  ",
        f"Engine: {summary['engine']['name']}; machine: {summary['machine']}  ",
        f"Wall time: {summary['wall_seconds']:.0f} s",
        "",
        "Ranked by mean cross-validation accuracy (the test faces are not used).",
        "",
        "| rank | " + " | ".join(names) + " | CV accuracy | macro-F1 | epochs | fit time |",
        "|---:|" + "---|" * len(names) + "---:|---:|---:|---:|",
    ]
    for row in summary["rows"]:
        lines.append(
            f"| {row['rank']} | "
            + " | ".join(str(row[n]) for n in names)
            + f" | {row['accuracy_mean']:.1%} ± {row['accuracy_std']:.1%} | {row['macro_f1_mean']:.3f}"
            f" | {row['epochs_mean']:.1f} | {row['fit_seconds']:.0f} s |"
        )
    return "\n".join(lines) + "\n"


def plot_sweep(rows: list[dict], path: Path) -> None:
    from training.report import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.4 * len(rows)))
    ordered = rows[::-1]  # best at the top
    ax.barh(
        range(len(rows)),
        [r["accuracy_mean"] for r in ordered],
        xerr=[r["accuracy_std"] for r in ordered],
        color="#4c72b0",
        capsize=3,
    )
    for i, row in enumerate(ordered):
        ax.plot(row["fold_accuracy"], [i] * len(row["fold_accuracy"]), "k.", markersize=4)
    ax.set_yticks(range(len(rows)), [r["configuration"] for r in ordered], fontsize=8)
    ax.set_xlabel("cross-validation accuracy (bar: mean ± std; dots: folds)")
    low = min(min(r["fold_accuracy"]) for r in rows)
    ax.set_xlim(max(0.0, low - 0.05), min(1.0, max(max(r["fold_accuracy"]) for r in rows) + 0.05))
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_sweep(config: RunConfig, space: dict[str, list], search: str, samples: int | None, progress: Progress) -> dict:
    start = time.perf_counter()
    if config.folds < 2:
        raise ValueError("a sweep ranks configurations by cross-validation: --folds must be at least 2")
    check_output(config.out, config.overwrite)
    configurations = plan_configurations(space, search, samples, config.fit.seed)
    data = load_run_data(config, progress)
    jobs = [
        job
        for overrides in configurations
        for job in plan_fits([dict(overrides)["model"]], len(data.train.splits), overrides, final=False)
    ]
    progress.message(f"sweep: {len(configurations)} configurations x {len(data.train.splits)} folds = {len(jobs)} fits")
    with staged_folder(config.out, config.overwrite) as staging:
        outcomes = {o.job: o for o in config.engine.run(jobs, data.train, config.fit, progress)}
        rows = results_table(configurations, outcomes)
        summary = {
            "command": config.command,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_description(),
            "data": {
                **data.dataset.file_record(),
                "emotions": data.train.emotions,
                "train_size": int(len(data.train.labels)),
            },
            "settings": {"folds": config.folds, "repeats": config.repeats, **asdict(config.fit)},
            "search": {"kind": search, "samples": samples, "space": space, "names": list(space)},
            "engine": {**config.engine.describe(), "fits": [outcomes[j].summary() for j in jobs]},
            "rows": rows,
            "best": rows[0]["configuration"],
            "wall_seconds": time.perf_counter() - start,
        }
        (staging / "sweep.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        write_table_csv(rows, list(space), staging / "sweep.csv")
        (staging / "sweep.md").write_text(sweep_markdown(summary), encoding="utf-8")
        plot_sweep(rows, staging / "sweep.png")
    progress.event("done", out=str(config.out), best=summary["best"])
    return summary

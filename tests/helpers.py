"""Constants and plain helpers the tests share (fixtures live in conftest.py files)."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
SAMPLE_CSV = TESTS_DIR / "data" / "fer_sample.csv.gz"
# The full dataset: $FERDESK_DATA, else the documented default beside the repository.
DEFAULT_FULL_DATA = REPO_ROOT.parent / "shared" / "data" / "fer2013.csv.gz"


def full_data_path() -> Path | None:
    path = Path(os.environ.get("FERDESK_DATA", DEFAULT_FULL_DATA))
    return path if path.is_file() else None


def take_rows(source: Path, per_class: dict[str, int], emotions: set[str] | None = None) -> list[list[str]]:
    """The first rows of each (emotion code, usage) pair, up to per_class[usage] each."""
    seen: Counter = Counter()
    rows = []
    with gzip.open(source, "rt", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row in reader:
            if emotions is not None and row[0] not in emotions:
                continue
            key = (row[0], row[2])
            if seen[key] < per_class.get(row[2], 0):
                seen[key] += 1
                rows.append(row)
    return rows


def write_csv(path: Path, rows: list[list[str]], header=("emotion", "pixels", "Usage")) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def load_module(path: Path):
    """A script that is not a package module (benchmarks/, scripts/), imported from its file."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cli(*args: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run a console entry point module the way a user would (python -m ...)."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=kwargs.pop("cwd", REPO_ROOT),
        **kwargs,
    )


def train_args(data, **flags) -> list[str]:
    """The arguments of `python -m training --data DATA ...`, one flag per keyword: folds=0 -> --folds 0,
    no_augment=True -> --no-augment, False or None -> left out, teacher=[a, b] -> --teacher a --teacher b."""
    args = ["-m", "training", "--data", str(data)]
    for name, value in flags.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                args += [flag, str(item)]
        elif value is not None and value is not False:
            args += [flag, str(value)]
    return args

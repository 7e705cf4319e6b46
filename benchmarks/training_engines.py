"""Wall time of one small K-fold model comparison with each training engine: in-process, and Ray started on this
machine with 1, 2, ... CPUs (one CPU per fit), as fits per hour; the CPU and its load are printed first.

    python benchmarks/training_engines.py --data fer2013.csv.gz [--per-class 150] [--models logreg,cnn_small]
        [--folds 3] [--epochs 2] [--ray-cpus 1,2] [--json benchmarks/results/training_engines.json]

Every run is the same `ferdesk-train` command on the same faces (the first --per-class Training faces of each
--emotions, and a quarter as many PublicTest faces), timed from start to finished model folder: Ray's start-up and
its workers' imports are part of the cost a user pays. "fitting" is the span from the first fit started to the last
fit done, read from the --progress json events. Figures depend on the CPU (and on other work on the machine: see the
load average printed): compare engines within one run.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_info, describe  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CODES = {"angry": "0", "disgust": "1", "fear": "2", "happy": "3", "sad": "4", "surprise": "5", "neutral": "6"}


def subset_csv(source: Path, emotions: list[str], per_class: int, path: Path) -> int:
    """The first per_class Training and per_class/4 PublicTest faces of each emotion, in the FER2013 layout."""
    wanted = {CODES[e] for e in emotions}
    limits = {"Training": per_class, "PublicTest": max(2, per_class // 4)}
    seen, rows = Counter(), []
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rt", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        for row in reader:
            if row[0] in wanted and seen[(row[0], row[2])] < limits.get(row[2], 0):
                seen[(row[0], row[2])] += 1
                rows.append(row)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return len(rows)


def timed_run(command: list[str]) -> dict:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    started = [e["time"] for e in events if e["event"] == "fit_started"]
    done = [e["time"] for e in events if e["event"] == "fit_done"]
    return {"wall_s": round(wall, 1), "fitting_s": round(max(done) - min(started), 1), "fits": len(done)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="FER2013 CSV (.csv or .csv.gz)")
    p.add_argument("--emotions", default="sad,surprise")
    p.add_argument("--per-class", type=int, default=150, help="Training faces per emotion")
    p.add_argument("--models", default="logreg,cnn_small")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--ray-cpus", default="1,2", help="CPU counts to give a local Ray, comma-separated")
    p.add_argument("--json", default=None, help="write the figures here")
    args = p.parse_args(argv)

    info = cpu_info()
    print(describe(info), flush=True)
    with tempfile.TemporaryDirectory(prefix="ferdesk-engines-") as tmp:
        data = Path(tmp) / "faces.csv"
        faces = subset_csv(Path(args.data), args.emotions.split(","), args.per_class, data)
        base = [
            sys.executable,
            "-m",
            "training",
            "--data",
            str(data),
            "--emotions",
            args.emotions,
            "--models",
            args.models,
            "--folds",
            str(args.folds),
            "--epochs",
            str(args.epochs),
            "--patience",
            str(args.epochs),
            "--progress",
            "json",
        ]
        engines = [("in-process", [])] + [
            (
                f"ray local, {n} CPU{'s' if n != '1' else ''}",
                ["--engine", "ray", "--ray-cpus", n, "--cpus-per-fit", "1"],
            )
            for n in args.ray_cpus.split(",")
        ]
        runs = []
        for name, extra in engines:
            figures = timed_run([*base, *extra, "--out", str(Path(tmp) / name.replace(" ", "-").replace(",", ""))])
            figures["fits_per_hour"] = round(figures["fits"] / figures["wall_s"] * 3600)
            runs.append({"engine": name, "flags": extra, **figures})
            print(
                f"{name:<22} wall {figures['wall_s']:7.1f} s  fitting {figures['fitting_s']:7.1f} s  "
                f"{figures['fits']} fits  {figures['fits_per_hour']:6d} fits/hour",
                flush=True,
            )
    result = {
        "benchmark": "training_engines",
        "machine": info,
        "command": " ".join(["python", *sys.argv]),
        "faces": faces,
        "setup": {k: v for k, v in vars(args).items() if k not in ("data", "json")},
        "runs": runs,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

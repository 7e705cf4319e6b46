"""Run several ferdesk-train fits at once on one machine (a GPU they share), each sized to a wall-clock budget.

    KERAS_BACKEND=jax python scripts/train_parallel.py --data fer2013.csv --runs cnn_wide:22,cnn_wide:24 \\
        --budget-min 8 --out runs -- --strong-augment --bf16

A cosine schedule needs its length up front, and how long an epoch takes depends on how many fits share the
device. So a probe first starts every fit at once for 3 epochs and times a steady epoch under that load; each
real fit then gets as many epochs as fit what is left of the budget. This is how the shipped default's members
were trained (four fits on one H100). Each run becomes a model folder <out>/<arch>-s<seed>-e<epochs>, with its
progress (JSON lines) in <folder>.jsonl; a summary goes to <out>/parallel.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

PROBE_EPOCHS = 3


def plan_epochs(seconds_left: float, startup_s: float, epoch_s: float, finish_s: float,
                cap: int, floor: int = 1) -> int:
    """Epochs that fit: start-up, then epochs (with 5% slack), then scoring and writing the folder."""
    fits = int((seconds_left - startup_s - finish_s) / (1.05 * epoch_s))
    return max(floor, min(cap, fits))


class Fit:
    """One ferdesk-train process and the times of its finished epochs, read from its JSON progress lines."""

    def __init__(self, arch: str, seed: int, epochs: int, out: Path, data: str, extra: list[str]):
        self.arch, self.seed, self.epochs, self.out = arch, seed, epochs, out
        self.log = out.with_name(out.name + ".jsonl")
        self.epoch_times: list[float] = []
        self.started = time.monotonic()
        command = [sys.executable, "-m", "training", "--data", data, "--models", arch, "--folds", "0",
                   "--epochs", str(epochs), "--patience", str(epochs), "--seed", str(seed),
                   "--progress", "json", "--out", str(out), *extra]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with open(self.log, "w", encoding="utf-8") as log:
            for line in self.process.stdout:
                log.write(line)
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # warnings and tracebacks stay in the log
                if event.get("event") == "epoch":
                    self.epoch_times.append(time.monotonic())
                    if event["epoch"] % 10 == 0 or event["epoch"] == event["epochs"]:
                        print(f"{self.arch} seed {self.seed}: epoch {event['epoch']}/{event['epochs']}, "
                              f"val accuracy {event.get('val_accuracy')}", flush=True)

    def done(self, epochs: int | None = None) -> bool:
        return self.process.poll() is not None or (epochs is not None and len(self.epoch_times) >= epochs)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join(timeout=5)


def wait_all(fits: list[Fit], deadline: float, epochs: int | None = None) -> bool:
    while not all(f.done(epochs) for f in fits):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="dataset for ferdesk-train --data")
    p.add_argument("--runs", required=True, help="architecture:seed pairs, comma-separated (cnn_wide:22,...)")
    p.add_argument("--budget-min", type=float, required=True, help="wall-clock minutes for everything")
    p.add_argument("--out", default="runs", help="folder for the model folders and logs")
    p.add_argument("--max-epochs", type=int, default=400)
    p.add_argument("--finish-s", type=float, default=30.0, help="seconds a fit needs after its last epoch")
    args = p.parse_args(argv)
    runs = [(arch, int(seed)) for arch, seed in (item.split(":") for item in args.runs.split(","))]
    start, deadline = time.monotonic(), time.monotonic() + 60 * args.budget_min
    out = Path(args.out)
    (out / ".probe").mkdir(parents=True, exist_ok=True)

    probe = [Fit(a, s, PROBE_EPOCHS, out / ".probe" / f"{a}-s{s}", args.data, extra) for a, s in runs]
    finished = wait_all(probe, deadline, PROBE_EPOCHS)
    for fit in probe:
        fit.stop()
    if not finished or any(len(f.epoch_times) < PROBE_EPOCHS for f in probe):
        print(f"probe failed or ran out of time; its logs are in {out / '.probe'}", file=sys.stderr)
        return 1
    shutil.rmtree(out / ".probe")  # killed mid-run: nothing in it is a model
    epoch_s = [f.epoch_times[-1] - f.epoch_times[-2] for f in probe]
    startup_s = [f.epoch_times[0] - f.started - e for f, e in zip(probe, epoch_s)]
    left = deadline - time.monotonic()
    plans = [plan_epochs(left, st, e, args.finish_s, args.max_epochs) for st, e in zip(startup_s, epoch_s)]
    print(f"probe: {', '.join(f'{e:.1f}' for e in epoch_s)} s per epoch with {len(runs)} fits at once; "
          f"{left:.0f} s left; epochs {plans}", flush=True)

    fits = [Fit(a, s, n, out / f"{a}-s{s}-e{n}", args.data, extra) for (a, s), n in zip(runs, plans)]
    wait_all(fits, deadline + args.finish_s)
    summary = {"budget_min": args.budget_min, "probe_epoch_s": epoch_s, "probe_startup_s": startup_s, "runs": []}
    for fit in fits:
        fit.stop()
        summary["runs"].append({"folder": str(fit.out), "architecture": fit.arch, "seed": fit.seed,
                                "epochs": fit.epochs, "exit_code": fit.process.returncode,
                                "seconds": round(time.monotonic() - fit.started, 1)})
    summary["wall_s"] = round(time.monotonic() - start, 1)
    (out / "parallel.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    failed = [r["folder"] for r in summary["runs"] if r["exit_code"] != 0]
    print(f"done in {summary['wall_s']} s" + (f"; failed or cut off: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

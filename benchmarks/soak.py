"""Memory over a long session: the real app, offscreen, on the demo source for N minutes, its RSS sampled.

    .venv/bin/python benchmarks/soak.py --minutes 10 --json benchmarks/results/soak.json

Runs ferdesk's main window (Qt offscreen; settings and user models in a throw-away folder) on the demo source (three
real faces), samples the process's resident memory every few seconds, and fits a line to the samples after the
warm-up: its slope, in MB per minute, is what a day with the app left open adds. It also prints the frames analysed,
the face rows the session log holds and the bytes they take. Goal: under 0.2 MB per minute. Linux only
(reads /proc/self/status).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_info, describe  # noqa: E402

GOAL_MB_PER_MIN = 0.2


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def slope_per_minute(samples: list[dict], key: str, after_s: float) -> float | None:
    points = [(s["t_s"] / 60.0, s[key]) for s in samples if s["t_s"] >= after_s and s[key] is not None]
    if len(points) < 3:
        return None
    t, y = np.array(points).T
    return float(np.polyfit(t, y, 1)[0])


def soak(minutes: float, warmup_min: float, interval_s: float, model: str | None) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    scratch = tempfile.mkdtemp(prefix="ferdesk-soak-")
    os.environ["XDG_CONFIG_HOME"] = scratch  # QSettings: never the user's last-used model or window layout
    os.environ["FERDESK_USER_MODELS"] = str(Path(scratch) / "models")

    import ferdesk.gui  # noqa: F401  (undoes OpenCV's Qt plugin path before Qt starts)
    from PyQt5.QtCore import QCoreApplication, QTimer
    from PyQt5.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("ferdesk")
    QCoreApplication.setApplicationName("ferdesk-soak")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from ferdesk.gui.main_window import MainWindow

    start = time.monotonic()
    window = MainWindow(source="demo", model=model)
    window.show()
    samples: list[dict] = []

    def sample() -> None:
        log = window.session_log
        worker = getattr(window, "worker", None)
        samples.append(
            {
                "t_s": round(time.monotonic() - start, 2),
                "rss_mb": round(rss_mb(), 2),
                "frames": getattr(worker, "frames_processed", None),
                "log_frames": len(log),
                "log_faces": log.face_count,
                "log_mb": round(log.nbytes / 1e6, 4),
            }
        )
        if len(samples) % max(1, round(60 / interval_s)) == 0:
            s = samples[-1]
            print(
                f"{s['t_s'] / 60:5.1f} min: RSS {s['rss_mb']:.1f} MB, {s['frames']} frames, "
                f"{s['log_faces']} faces logged ({s['log_mb']:.2f} MB)",
                flush=True,
            )

    timer = QTimer()
    timer.timeout.connect(sample)
    timer.start(int(interval_s * 1000))
    QTimer.singleShot(int(minutes * 60_000), lambda: (sample(), window.close(), app.quit()))
    app.exec_()
    timer.stop()

    warmup_s = warmup_min * 60.0
    last = samples[-1]
    elapsed_min = last["t_s"] / 60.0
    slope = slope_per_minute(samples, "rss_mb", warmup_s)
    return {
        "minutes": round(elapsed_min, 2),
        "warmup_minutes": warmup_min,
        "interval_s": interval_s,
        "rss_slope_mb_per_min": None if slope is None else round(slope, 4),
        "log_slope_mb_per_min": slope_per_minute(samples, "log_mb", warmup_s),
        "rss_mb_after_warmup": next((s["rss_mb"] for s in samples if s["t_s"] >= warmup_s), None),
        "rss_mb_end": last["rss_mb"],
        "frames_per_second": round(last["frames"] / last["t_s"], 2) if last["frames"] else None,
        "face_rows": last["log_faces"],
        "log_frames": last["log_frames"],
        "log_bytes_per_face": round(last["log_mb"] * 1e6 / last["log_faces"], 1) if last["log_faces"] else None,
        "goal_mb_per_min": GOAL_MB_PER_MIN,
        "within_goal": slope is not None and slope < GOAL_MB_PER_MIN,
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="how long the app runs (default: 10)")
    p.add_argument(
        "--warmup-min",
        type=float,
        default=2.0,
        help="minutes left out of the fit: model loading, caches, allocator pools (default: 2)",
    )
    p.add_argument("--interval-s", type=float, default=5.0, help="seconds between RSS samples (default: 5)")
    p.add_argument("--model", help="model folder (default: the app's default model)")
    p.add_argument("--json", help="write the figures and every sample here")
    args = p.parse_args(argv)
    if not 0 <= args.warmup_min < args.minutes or args.interval_s <= 0:
        p.error("need 0 <= --warmup-min < --minutes and --interval-s > 0")
    machine = cpu_info()
    print(describe(machine), flush=True)
    result = soak(args.minutes, args.warmup_min, args.interval_s, args.model)
    result = {
        "command": shlex.join(["python", "benchmarks/soak.py", *(sys.argv[1:] if argv is None else argv)]),
        "machine": machine,
        **result,
    }
    slope = result["rss_slope_mb_per_min"]
    print(
        f"RSS {result['rss_mb_after_warmup']} MB after {args.warmup_min:g} min warm-up, {result['rss_mb_end']} MB "
        f"after {result['minutes']:g} min: slope {slope if slope is None else f'{slope:+.3f}'} MB/min "
        f"(goal < {GOAL_MB_PER_MIN}); {result['frames_per_second']} frames/s, {result['face_rows']} face rows "
        f"logged, {result['log_bytes_per_face']} bytes each"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

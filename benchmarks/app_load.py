"""What the load controls save: the real app, offscreen, on the demo source, with each setting for a while; the
process's CPU use (all its threads), frames analysed and shown a second, and frames dropped.

    .venv/bin/python benchmarks/app_load.py --seconds 20 --json benchmarks/results/app_load.json

Runs ferdesk's main window (Qt offscreen; settings and user models in a throw-away folder) with the app's default
model on the demo source (three real faces, 30 frames a second), and measures each setting in turn in the same
process, after a warm-up: "off" (no cap, every frame analysed, as before the controls existed), "cap10" (View >
Frame-rate cap > 10 FPS) and any others asked for ("cap5", "every3", "cap15+every2"). CPU is the process's CPU time
over wall time (time.process_time), as a share of the cores it may use and of one core. Other work on the machine
slows the app and changes its figures: the load average is printed and stored with them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_info, describe  # noqa: E402

SETTING = re.compile(r"^(off|cap(\d+)|every(\d+))$")


def parse_setting(name: str) -> tuple[int, int]:
    """'cap10+every2' -> (frame-rate cap, analyse every N); 'off' -> (0, 1)."""
    cap, every = 0, 1
    for part in name.split("+"):
        match = SETTING.match(part)
        if not match:
            raise argparse.ArgumentTypeError(f"unknown setting {part!r}: use off, capN, everyN or a + of them")
        cap = int(match.group(2)) if match.group(2) else cap
        every = int(match.group(3)) if match.group(3) else every
    return cap, every


def measure(settings: list[str], seconds: float, warmup_s: float, model: str | None) -> list[dict]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    scratch = tempfile.mkdtemp(prefix="ferdesk-load-")
    os.environ["XDG_CONFIG_HOME"] = scratch  # QSettings: never the user's settings
    os.environ["FERDESK_USER_MODELS"] = str(Path(scratch) / "models")

    import ferdesk.gui  # noqa: F401  (undoes OpenCV's Qt plugin path before Qt starts)
    from PyQt5.QtCore import QCoreApplication, QEventLoop, QTimer
    from PyQt5.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("ferdesk")
    QCoreApplication.setApplicationName("ferdesk-load")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from ferdesk.gui.main_window import MainWindow
    from ferdesk.gui.worker import CpuMeter

    def run_for(s: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(s * 1000), loop.quit)
        loop.exec_()

    window = MainWindow(source="demo", model=model)
    window.show()
    while window.last_result is None:
        run_for(0.2)
    worker, results = window.worker, []
    for name in settings:
        cap, every = parse_setting(name)
        worker.set_frame_rate_cap(cap)  # the worker's commands, so caps the menu does not offer work too
        worker.set_analyse_every(every)
        run_for(warmup_s)
        before = (worker.frames_processed, worker.frames_offered, worker.frames_from_source, worker.frames_dropped)
        meter, start = CpuMeter(), time.monotonic()
        run_for(seconds)
        share, wall = meter.read(), time.monotonic() - start
        analysed, offered, given, dropped = (
            now - then
            for now, then in zip(
                (worker.frames_processed, worker.frames_offered, worker.frames_from_source, worker.frames_dropped),
                before,
            )
        )
        results.append(
            {
                "setting": name,
                "frame_rate_cap": cap,
                "analyse_every": every,
                "seconds": round(wall, 2),
                "cpu_percent_of_all_cores": round(share, 1),
                "cpu_percent_of_one_core": round(share * meter.cores, 1),
                "cores": meter.cores,
                "analysed_per_s": round(analysed / wall, 2),
                "shown_per_s": round(offered / wall, 2),
                "source_frames_per_s": round(given / wall, 2),
                "dropped_share": round(dropped / given, 3) if given else None,
            }
        )
        r = results[-1]
        print(
            f"{name:>14}: CPU {r['cpu_percent_of_all_cores']:5.1f}% of {r['cores']} cores "
            f"({r['cpu_percent_of_one_core']:.0f}% of one core), {r['analysed_per_s']:.1f} frames analysed/s, "
            f"{r['shown_per_s']:.1f} shown/s, {r['dropped_share']:.0%} of the source's frames dropped",
            flush=True,
        )
    window.summary.changed = False  # nothing to ask about on close
    window.close()
    app.processEvents()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20.0, help="how long each setting is measured (default: 20)")
    p.add_argument("--warmup-s", type=float, default=3.0, help="seconds before each measurement (default: 3)")
    p.add_argument(
        "--settings",
        default="off,cap10",
        help="comma-separated: off, capN, everyN, or both joined by + (default: off,cap10)",
    )
    p.add_argument("--model", help="model folder (default: the app's default model)")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    try:
        for name in settings:
            parse_setting(name)
    except argparse.ArgumentTypeError as exc:
        p.error(str(exc))
    if args.seconds <= 0 or args.warmup_s < 0:
        p.error("need --seconds > 0 and --warmup-s >= 0")
    machine = cpu_info()
    print(describe(machine), flush=True)
    results = measure(settings, args.seconds, args.warmup_s, args.model)
    after = cpu_info().get("load_average")
    if after:
        print(f"load average after: {' '.join(map(str, after))}")
    if args.json:
        record = {
            "command": shlex.join(["python", "benchmarks/app_load.py", *(sys.argv[1:] if argv is None else argv)]),
            "machine": machine,
            "load_average_after": after,
            "model": args.model or "default",
            "source": "demo",
            "results": results,
        }
        Path(args.json).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

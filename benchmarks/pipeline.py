"""Per-stage latency and frames/s of ferdesk's pipeline on this CPU, optionally against the `fer` package.

Two synthetic 640x480 streams built from real faces (Grace Hopper from matplotlib, the shipped FER2013 demo
faces) pasted at moving positions over a textured background: one with 1 face and one with 5. The detector's
face count on every frame is checked and printed, so a "fast" figure can never come from missing faces.
After a warm-up, each frame goes through EmotionPipeline.process (overlay included); we report the median
and 95th percentile of each stage (FrameResult.timings_ms), of the whole call, and frames/s.

`fer` needs its own TensorFlow/OpenCV and cannot share our venv. When it is importable here it is timed
in-process. Otherwise --fer-python runs benchmarks/fer_peer.py in fer's venv on each scene's frames right after
ferdesk's timing of them (so both see the same machine load), or its JSON from an earlier run comes back
with --peer-json:

    python benchmarks/pipeline.py --fer-python /tmp/fer-venv/bin/python --json runs/bench.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # fer_peer.py beside this file

from ferdesk.detect import DETECTOR_MODES  # noqa: E402
from ferdesk.pipeline import DEFAULT_MODEL, STAGES, EmotionPipeline  # noqa: E402
from ferdesk.sources import demo_faces  # noqa: E402
from fer_peer import stats, time_detect_emotions  # noqa: E402
from machine import cpu_info, describe  # noqa: E402

SIZE = (640, 480)
SCENES = {"1face": 1, "5faces": 5}
PREFERRED_FACES = ("grace_hopper", "fer_happy", "fer_neutral", "fer_surprise", "fer_angry", "fer_sad")
TARGET_MEDIAN_MS = 10.0
TARGET_SPEEDUP = 5.0
# The stages that do the work fer's detect_emotions does (find faces, crop, classify; no tracking, no drawing).
FER_EQUIVALENT = ("detect", "crop", "classify")


# ------------------------------------------------------------------------------------------- frames


def background(width: int, height: int) -> np.ndarray:
    """A gradient with faint stripes: some texture for the detector, nothing face-like."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (x / (width - 1) + y / (height - 1)) / 2.0
    stripes = 8.0 * np.sin((x - 2 * y) / 17.0)
    bgr = np.dstack([90 + 50 * ramp + stripes, 100 + 20 * ramp + stripes, 120 - 40 * ramp + stripes])
    return np.clip(bgr, 0, 255).astype(np.uint8)


def _layout(n_faces: int, t: float, width: int, height: int) -> list[tuple[float, float, int]]:
    """Centre and side of each face at time t (s): slots far enough apart that faces never overlap."""
    if n_faces == 1:
        return [(width / 2 + 120 * math.sin(0.9 * t), height / 2 + 40 * math.sin(0.6 * t), int(200 + 20 * math.sin(t)))]
    if n_faces > 5:
        raise ValueError("at most 5 faces fit this layout")
    # Sides of 150-166 px: the short-range BlazeFace model misses some upscaled FER2013 faces below ~135 px.
    slots = [(100, 110), (320, 110), (540, 110), (210, 355), (430, 355)][:n_faces]
    return [
        (cx + 12 * math.sin(1.1 * t + i), cy + 10 * math.sin(0.8 * t + 2 * i), int(158 + 8 * math.sin(t + i)))
        for i, (cx, cy) in enumerate(slots)
    ]


def make_frames(n_faces: int, count: int, fps: float = 30.0) -> list[np.ndarray]:
    """`count` BGR 640x480 frames with n_faces real faces moving smoothly."""
    available = dict(demo_faces())
    # The faces the detector scores highest at these sizes first (checked per frame in time_pipeline).
    faces = [available[n] for n in PREFERRED_FACES if n in available]
    faces += [image for name, image in available.items() if name not in PREFERRED_FACES]
    if len(faces) < n_faces:
        raise SystemExit(f"need {n_faces} distinct faces, found {len(faces)} (matplotlib sample data, assets/demo)")
    width, height = SIZE
    base = background(width, height)
    frames = []
    for k in range(count):
        frame = base.copy()
        for i, (cx, cy, side) in enumerate(_layout(n_faces, k / fps, width, height)):
            face = cv2.resize(faces[i], (side, side), interpolation=cv2.INTER_AREA)
            x0 = int(round(min(max(cx - side / 2, 0), width - side)))
            y0 = int(round(min(max(cy - side / 2, 0), height - side)))
            frame[y0 : y0 + side, x0 : x0 + side] = face
        frames.append(frame)
    return frames


# ------------------------------------------------------------------------------------------- timing


def time_pipeline(pipeline: EmotionPipeline, frames: list[np.ndarray], warmup: int, expected: int) -> dict:
    """Stage and end-to-end latencies over the frames after `warmup` untimed ones; face counts per frame."""
    for i in range(warmup):
        pipeline.process(frames[i % len(frames)], timestamp=i / 30.0, index=i)
    pipeline.tracker.reset()
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    wall: list[float] = []
    cpu: list[float] = []
    counts: list[int] = []
    detector_runs: list[int] = []
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        c0, t0 = time.process_time(), time.perf_counter()
        result = pipeline.process(frame, timestamp=i / 30.0, index=i)
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
        counts.append(len(result.faces))
        detector_runs.append(pipeline.detector.calls)
        for s in STAGES:
            stages[s].append(result.timings_ms[s])
    elapsed = time.perf_counter() - start
    return {
        "frames": len(frames),
        "faces_expected": expected,
        "faces_found": {
            "min": int(min(counts)),
            "max": int(max(counts)),
            "mean": round(float(np.mean(counts)), 3),
            "frames_with_expected": int(sum(c == expected for c in counts)),
        },
        "stages": {s: stats(v) for s, v in stages.items()},
        "fer_equivalent": stats([sum(stages[s][i] for s in FER_EQUIVALENT) for i in range(len(frames))]),
        "end_to_end": stats(wall),
        "cpu_per_frame": stats(cpu),  # process CPU time (all threads): less sensitive to other load
        # BlazeFace runs per frame (0 on frames held while faces stand still): machine-independent
        "detector_runs_per_frame": round(float(np.mean(detector_runs)), 3),
        "fps": round(len(frames) / elapsed, 2),
    }


def load_fer():
    """fer's FER class, or None (with a printed note) when fer is not importable in this interpreter."""
    try:
        from fer.fer import FER  # `from fer import FER` is broken in fer 25.10.3
    except Exception as exc:  # ImportError, or a broken install failing on its own imports
        print(
            f"note: fer not importable here ({type(exc).__name__}: {exc}); no in-process comparison "
            "(see --fer-python and --peer-json)"
        )
        return None
    return FER


def time_fer_inprocess(fer_class, frames: list[np.ndarray], warmup: int) -> dict:
    """fer's FER().detect_emotions (default Haar detector) on the same frames."""
    return time_detect_emotions(fer_class(), frames, warmup)


def save_frames(frames: list[np.ndarray], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:05d}.png"), frame)  # PNG: lossless, fer sees the very same pixels


def time_fer_subprocess(fer_python: str, scene: str, frames: list[np.ndarray], warmup: int) -> dict:
    """fer_peer.py in fer's own interpreter on this scene's frames: its JSON report, with one scene in it."""
    with tempfile.TemporaryDirectory(prefix="ferdesk-bench-") as tmp:
        save_frames(frames, Path(tmp) / "frames" / scene)
        out = Path(tmp) / "fer.json"
        cmd = [
            fer_python,
            str(Path(__file__).with_name("fer_peer.py")),
            str(Path(tmp) / "frames"),
            "--warmup",
            str(warmup),
            "--json",
            str(out),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"fer_peer.py failed in {fer_python} (exit {done.returncode}):\n{done.stderr[-2000:]}")
        return json.loads(out.read_text())


def fer_versions(fer_report: dict) -> dict:
    """fer's versions and machine facts from a fer_peer.py report, its per-scene figures left out."""
    return {k: v for k, v in fer_report.items() if k != "scenes"}


# ------------------------------------------------------------------------------------------- report


def print_table(scene: str, r: dict) -> None:
    f = r["faces_found"]
    print(
        f"\n== {scene}: 640x480, {r['frames']} frames; faces found per frame min {f['min']} / max {f['max']} / "
        f"mean {f['mean']} (expected {r['faces_expected']}; {f['frames_with_expected']} frames exact)"
    )
    print(f"   {'stage':<12}{'median ms':>11}{'p95 ms':>10}")
    for s in STAGES:
        print(f"   {s:<12}{r['stages'][s]['median_ms']:>11.2f}{r['stages'][s]['p95_ms']:>10.2f}")
    print(
        f"   {'fer-like':<12}{r['fer_equivalent']['median_ms']:>11.2f}{r['fer_equivalent']['p95_ms']:>10.2f}"
        f"   ({'+'.join(FER_EQUIVALENT)}: the work fer's detect_emotions does)"
    )
    print(
        f"   {'end-to-end':<12}{r['end_to_end']['median_ms']:>11.2f}{r['end_to_end']['p95_ms']:>10.2f}"
        f"   -> {r['fps']:.1f} frames/s"
    )
    print(
        f"   {'cpu time':<12}{r['cpu_per_frame']['median_ms']:>11.2f}{r['cpu_per_frame']['p95_ms']:>10.2f}"
        "   (process CPU, all threads)"
    )
    print(f"   detector runs per frame: {r['detector_runs_per_frame']:.2f}")


def compare(scene: str, ours: dict, fer: dict, origin: str) -> dict:
    """Speed ratios against fer: our whole pipeline (tracking and overlay included) and the same work as fer."""
    ratio = fer["end_to_end"]["median_ms"] / ours["end_to_end"]["median_ms"]
    same_work = fer["end_to_end"]["median_ms"] / ours["fer_equivalent"]["median_ms"]
    f = fer.get("faces_found", {})
    print(
        f"   fer ({origin}): median {fer['end_to_end']['median_ms']:.2f} ms, p95 {fer['end_to_end']['p95_ms']:.2f} ms, "
        f"{fer['fps']:.1f} frames/s, faces found mean {f.get('mean', '?')}"
    )
    print(
        f"   -> ferdesk is {ratio:.1f}x faster end to end (tracking and overlay included), {same_work:.1f}x on the "
        f"same work (median; target >= {TARGET_SPEEDUP:g}x)"
    )
    return {"origin": origin, **fer, "speedup_median": round(ratio, 2), "speedup_same_work_median": round(same_work, 2)}


def system_info() -> dict:
    return {**cpu_info(), "opencv": cv2.__version__, "numpy": np.__version__}


def model_cost(folder: str) -> dict:
    """Multiply-adds and parameters per face pass, the machine-independent cost beside the times."""
    from ferdesk.model_card import load_keras_model
    from training.models import multiply_adds

    _, model = load_keras_model(folder)
    return {"multiply_adds_per_pass": multiply_adds(model), "parameters": int(model.count_params())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL), help=f"model folder (default: {DEFAULT_MODEL})")
    p.add_argument("--frames", type=int, default=300, help="timed frames per scene (default: 300)")
    p.add_argument("--warmup", type=int, default=20, help="untimed frames first (default: 20)")
    p.add_argument(
        "--no-flip-average",
        action="store_true",
        help="classify each face once even if the model card asks for flip averaging (shows its cost)",
    )
    p.add_argument(
        "--detector",
        default="auto",
        choices=list(DETECTOR_MODES),
        help="where the detector looks (ferdesk.detect.DETECTOR_MODES; default: auto, as the app)",
    )
    p.add_argument(
        "--max-hold",
        type=int,
        default=None,
        metavar="N",
        help="auto mode: at most N frames in a row without a detector while faces stand still "
        "(default: the app's; 0: a detector on every frame, as before 2026-11-30)",
    )
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--save-frames", metavar="DIR", help="also write each scene's frames as PNGs to DIR/<scene>/")
    p.add_argument("--peer-json", metavar="FILE", help="fer figures from benchmarks/fer_peer.py to compare with")
    p.add_argument(
        "--fer-python",
        metavar="PYTHON",
        help="interpreter of a venv with fer installed: time fer there on each scene right after ferdesk",
    )
    args = p.parse_args(argv)
    if args.frames < 1 or args.warmup < 0:
        p.error("--frames must be >= 1 and --warmup >= 0")
    if args.fer_python and args.peer_json:
        p.error("--fer-python and --peer-json both give fer's figures; pass one")
    if args.fer_python and not Path(args.fer_python).is_file():
        p.error(f"--fer-python {args.fer_python}: no such interpreter")
    if not Path(args.model, "card.json").is_file():
        p.error(f"no model folder at {args.model}; pass --model DIR (a folder with card.json and model.tflite)")

    peer = None
    if args.peer_json:
        try:
            peer = json.loads(Path(args.peer_json).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            p.error(f"cannot read --peer-json {args.peer_json}: {exc}")

    info = system_info()
    print(describe(info))
    report: dict = {
        "system": info,
        "model": args.model,
        "frame_size": list(SIZE),
        "warmup": args.warmup,
        "targets": {"end_to_end_median_ms_1face": TARGET_MEDIAN_MS, "speedup_vs_fer": TARGET_SPEEDUP},
        "scenes": {},
    }
    fer_class = load_fer()
    with EmotionPipeline(args.model, detector_mode=args.detector) as pipeline:
        if args.max_hold is not None:
            pipeline.detector.max_hold = args.max_hold
        report["detector"] = {"mode": args.detector, "max_hold": pipeline.detector.max_hold}
        print(f"detector: {args.detector}, at most {pipeline.detector.max_hold} frame(s) in a row held")
        card = pipeline.classifier.card
        if args.no_flip_average:
            pipeline.classifier.flip_average = False
        flip = pipeline.classifier.flip_average
        print(
            f"model: {card.name} ({card.architecture}, {len(card.labels)} labels) from {args.model}; "
            f"flip averaging {'on (2 passes per face)' if flip else 'off'}"
        )
        report["model_name"] = card.name
        report["flip_average"] = flip
        report["model_cost"] = cost = model_cost(args.model)
        print(
            f"classifier cost per face: {cost['multiply_adds_per_pass'] * (2 if flip else 1) / 1e6:.0f}M multiply-adds, "
            f"{cost['parameters'] / 1e6:.2f}M parameters"
        )
        for scene, n_faces in SCENES.items():
            frames = make_frames(n_faces, args.frames)
            if args.save_frames:
                save_frames(frames, Path(args.save_frames) / scene)
            result = time_pipeline(pipeline, frames, args.warmup, n_faces)
            print_table(scene, result)
            if result["faces_found"]["frames_with_expected"] < len(frames):
                print(f"   WARNING: the detector did not find exactly {n_faces} faces on every frame")
            if fer_class is not None:
                fer_here = time_fer_inprocess(fer_class, frames, min(args.warmup, 5))
                result["fer"] = compare(scene, result, fer_here, "in-process")
            elif args.fer_python:
                fer_run = time_fer_subprocess(args.fer_python, scene, frames, min(args.warmup, 5))
                report["peer"] = fer_versions(fer_run)
                result["fer"] = compare(
                    scene, result, fer_run["scenes"][scene], f"fer {fer_run.get('fer', '?')}, just after"
                )
            elif peer is not None and scene in peer.get("scenes", {}):
                result["fer"] = compare(
                    scene, result, peer["scenes"][scene], f"fer_peer.py, fer {peer.get('fer', '?')}"
                )
            report["scenes"][scene] = result
    if peer is not None:
        report["peer"] = fer_versions(peer)

    one = report["scenes"]["1face"]
    verdict = one["end_to_end"]["median_ms"] <= TARGET_MEDIAN_MS
    print(
        f"\ntarget: 1-face end-to-end median <= {TARGET_MEDIAN_MS:g} ms: "
        f"{'met' if verdict else 'MISSED'} ({one['end_to_end']['median_ms']:.2f} ms)"
    )
    if "fer" in one:
        for key, what in (("speedup_median", "end to end"), ("speedup_same_work_median", "on the same work")):
            print(
                f"target: >= {TARGET_SPEEDUP:g}x faster than fer with 1 face, {what}: "
                f"{'met' if one['fer'][key] >= TARGET_SPEEDUP else 'MISSED'} ({one['fer'][key]:.1f}x)"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

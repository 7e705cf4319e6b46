"""How many faces ferdesk finds, how many it invents, and how long it takes, on frames built from real photographs.

Frames: real portraits (matplotlib's grace_hopper.jpg, scikit-image's astronaut.png when scikit-image is
installed, and the shipped FER2013 demo faces with some context around them), mirrored, re-lit and re-framed,
tiled at several sizes and counts over a real background photo (scikit-learn's china.jpg / flower.jpg, which hold
no faces) into 640x480, 1280x720 and 1920x1080 frames. Every placed face's box is known (the short-range model's
box on the upright source photo, moved and scaled with it), so:

- recall by face size: a placed face counts as found when a detection's centre lies in its box, its centre lies in
  the detection's box, and the two sizes differ by less than 2x (a criterion that does not depend on how a
  detector draws its boxes, so `fer`'s Haar boxes are judged like BlazeFace's);
- false detections: every detection not paired with a placed face (one face pairs with one detection: a second box
  on the same face is false too);
- ms per frame for each detector mode (ferdesk.detect.DETECTOR_MODES), and for `fer` with `--fer-python`.

Then moving-face streams (640x480 webcam-like and a 1280x720 group) through each mode, frame by frame, with the
faces found on every frame; the reach of each BlazeFace model by face size (the source of detect.REACH); and with
`--data` (FER2013), the accuracy of the app's pipeline on faces rotated by 0, +-15, +-30 degrees, with and without
turning them upright from the eye keypoints.

    .venv/bin/python benchmarks/detection.py --fer-python /tmp/fer-venv/bin/python --data fer2013.csv.gz \
        --json benchmarks/results/detection.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a checkout without installing

from ferdesk.detect import DETECTOR_MODES, FaceDetector, FaceFinder  # noqa: E402
from ferdesk.preprocess import Box  # noqa: E402
from ferdesk.sources import demo_faces, read_image  # noqa: E402

SIZE_BINS = [(0, 40), (40, 60), (60, 90), (90, 140), (140, 210), (210, 10_000)]
GOAL_MIN_FACE = 40  # px: the goal counts faces of 40 px and up
GOAL_RECALL = 0.95

# (name, frame width, height, columns, rows) for grids; "mixed" scenes scatter faces of many sizes.
SCENES = [
    ("640x480 1 face", 640, 480, 1, 1),
    ("640x480 2x2", 640, 480, 2, 2),
    ("640x480 4x3", 640, 480, 4, 3),
    ("640x480 6x4", 640, 480, 6, 4),
    ("1280x720 3x2", 1280, 720, 3, 2),
    ("1280x720 6x3", 1280, 720, 6, 3),
    ("1280x720 10x5", 1280, 720, 10, 5),
    ("1280x720 mixed", 1280, 720, 0, 0),
    ("1920x1080 3x2", 1920, 1080, 3, 2),
    ("1920x1080 5x3", 1920, 1080, 5, 3),
    ("1920x1080 6x4", 1920, 1080, 6, 4),
    ("1920x1080 8x5", 1920, 1080, 8, 5),
    ("1920x1080 12x7", 1920, 1080, 12, 7),
    ("1920x1080 mixed", 1920, 1080, 0, 0),
]


# ---------------------------------------------------------------------------------------------- photos


@dataclass(frozen=True)
class Portrait:
    name: str
    image: np.ndarray  # BGR
    face: Box  # the short-range model's box on the upright photo


def _astronaut() -> np.ndarray | None:
    """scikit-image's astronaut.png read from the installed package's data folder, without importing it."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "data" / "astronaut.png"
        if path.is_file():
            return read_image(path)
    return None


def portraits(detector: FaceDetector) -> list[Portrait]:
    """Real photographs of one person each, with their face box; FER2013 demo faces get replicated context."""
    photos = [(name, image) for name, image in demo_faces()]
    astronaut = _astronaut()
    if astronaut is not None:
        photos.insert(1, ("astronaut", astronaut))
    found = []
    for name, image in photos:
        if name.startswith("fer_"):  # a tight 48x48-like crop: give it surroundings as a photo would have
            pad = image.shape[0] // 2
            image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        faces = detector.detect(image)
        if faces:
            found.append(Portrait(name, image, faces[0].box))
    return found


def backgrounds() -> list[np.ndarray]:
    """Real photographs without faces (scikit-learn's sample images), else a textured gradient."""
    folder = None
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "images"
    images = [read_image(p) for p in sorted(folder.glob("*.jpg"))] if folder is not None and folder.is_dir() else []
    images = [im for im in images if im is not None]
    if not images:
        y, x = np.mgrid[0:480, 0:640].astype(np.float32)
        images = [np.clip(np.dstack([90 + 0.1 * x, 100 + 0.1 * y, 120 + 8 * np.sin(x / 9)]), 0, 255).astype(np.uint8)]
    return images


def cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The image scaled to cover width x height and centre-cropped."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    big = cv2.resize(image, (math.ceil(w * scale), math.ceil(h * scale)), interpolation=cv2.INTER_AREA)
    y0, x0 = (big.shape[0] - height) // 2, (big.shape[1] - width) // 2
    return big[y0 : y0 + height, x0 : x0 + width].copy()


def place(
    frame: np.ndarray,
    portrait: Portrait,
    face_side: float,
    region: tuple[int, int, int, int],
    margin: float,
    rng: np.random.Generator,
) -> Box:
    """Paste a square crop of the portrait (the face plus `margin` face widths each side), scaled so the face box
    is face_side wide, centred in `region` (x0, y0, x1, y1) with jitter; mirrored and re-lit at random.
    Returns the face's box in the frame."""
    face = portrait.face
    side = face.w * (1 + 2 * margin)
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    h, w = portrait.image.shape[:2]
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
    crop = portrait.image[y0:y1, x0:x1].astype(np.float32)
    fx, fy = face.x - x0, face.y - y0
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
        fx = crop.shape[1] - fx - face.w
    crop = np.clip(crop * rng.uniform(0.75, 1.15) + rng.uniform(-20, 20), 0, 255).astype(np.uint8)
    scale = face_side / face.w
    out_w, out_h = max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))
    crop = cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    rx0, ry0, rx1, ry1 = region
    px = int(rx0 + rng.uniform(0, max(0, rx1 - rx0 - out_w)))
    py = int(ry0 + rng.uniform(0, max(0, ry1 - ry0 - out_h)))
    fh, fw = frame.shape[:2]
    cw, ch = min(out_w, fw - px), min(out_h, fh - py)
    frame[py : py + ch, px : px + cw] = crop[:ch, :cw]
    return Box(px + fx * scale, py + fy * scale, face.w * scale, face.h * scale)


def make_scene(
    name: str, width: int, height: int, cols: int, rows: int, people: list[Portrait], background: np.ndarray, seed: int
) -> tuple[np.ndarray, list[Box], list[bool]]:
    """One frame of a scene, the boxes of the faces in it and whether each comes from a real photograph."""
    rng = np.random.default_rng(seed)
    frame = cover(background, width, height)
    truth: list[Box] = []
    # Real photographs and FER2013 faces take turns, so every scene has both.
    real = [p for p in people if not p.name.startswith("fer_")]
    fer = [p for p in people if p.name.startswith("fer_")]
    order = [
        (real or fer)[k // 2 % len(real or fer)] if k % 2 == 0 or not fer else fer[k // 2 % len(fer)]
        for k in range(200)
    ]
    order = [order[k] for k in rng.permutation(len(order))]
    if cols:  # a grid: one portrait per cell, faces about as large as the cells allow
        cw, ch = width / cols, height / rows
        for k in range(cols * rows):
            r, c = divmod(k, cols)
            margin = rng.uniform(0.3, 0.8)
            face_side = min(cw, ch) / (1 + 2 * margin) * rng.uniform(0.8, 1.0)
            region = (int(c * cw), int(r * ch), int((c + 1) * cw), int((r + 1) * ch))
            truth.append(place(frame, order[k], face_side, region, margin, rng))
    else:  # scattered faces from 40 px to a third of the frame height, never overlapping
        taken: list[tuple[int, int, int, int]] = []
        for _ in range(400):  # tries
            if len(truth) >= 24:
                break
            face_side = math.exp(rng.uniform(math.log(40), math.log(height / 3)))
            margin = rng.uniform(0.3, 0.6)
            side = int(face_side * (1 + 2 * margin)) + 2
            x0, y0 = int(rng.uniform(0, width - side)), int(rng.uniform(0, height - side))
            region = (x0, y0, x0 + side, y0 + side)
            if any(
                not (region[2] <= t[0] or t[2] <= region[0] or region[3] <= t[1] or t[3] <= region[1]) for t in taken
            ):
                continue
            taken.append(region)
            truth.append(place(frame, order[len(truth)], face_side, region, margin, rng))
    n = len(truth)
    return frame, truth, [not p.name.startswith("fer_") for p in order[:n]]


# ---------------------------------------------------------------------------------------------- scoring


def pair(truth: list[Box], found: list[Box]) -> list[tuple[int, int]]:
    """Placed faces paired one-to-one with detections: centres inside each other's box, sizes within 2x."""
    if not truth or not found:
        return []
    score = np.zeros((len(truth), len(found)))
    for i, t in enumerate(truth):
        for j, f in enumerate(found):
            tc, fc = (t.x + t.w / 2, t.y + t.h / 2), (f.x + f.w / 2, f.y + f.h / 2)
            inside = (
                t.x <= fc[0] <= t.x + t.w
                and t.y <= fc[1] <= t.y + t.h
                and f.x <= tc[0] <= f.x + f.w
                and f.y <= tc[1] <= f.y + f.h
            )
            ratio = math.sqrt(f.w * f.h) / math.sqrt(t.w * t.h)
            if inside and 0.5 <= ratio <= 2.0:
                score[i, j] = 1.0 + 1.0 / (1.0 + math.hypot(tc[0] - fc[0], tc[1] - fc[1]) / t.w)
    rows, cols = linear_sum_assignment(-score)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if score[r, c] > 0]


class Tally:
    """Placed faces and finds by face size, false detections and times, for one detector over many frames."""

    def __init__(self) -> None:
        self.placed = [0] * len(SIZE_BINS)
        self.found = [0] * len(SIZE_BINS)
        self.false = 0
        self.frames = 0
        self.ms: list[float] = []

    def add(self, truth: list[Box], found: list[Box], ms: float) -> tuple[int, int]:
        pairs = pair(truth, found)
        hit = {i for i, _ in pairs}
        for i, box in enumerate(truth):
            b = next(k for k, (lo, hi) in enumerate(SIZE_BINS) if lo <= box.w < hi)
            self.placed[b] += 1
            self.found[b] += i in hit
        self.false += len(found) - len(pairs)
        self.frames += 1
        self.ms.append(ms)
        return len(pairs), len(found) - len(pairs)

    def recall(self, min_size: int = GOAL_MIN_FACE) -> float:
        keep = [k for k, (lo, _) in enumerate(SIZE_BINS) if lo >= min_size]
        placed = sum(self.placed[k] for k in keep)
        return sum(self.found[k] for k in keep) / placed if placed else float("nan")

    def summary(self) -> dict:
        return {
            "frames": self.frames,
            "recall_40px_and_up": round(self.recall(), 4),
            "by_face_width": {
                f"{lo}-{hi if hi < 10_000 else ''}": {"placed": p, "found": f}
                for (lo, hi), p, f in zip(SIZE_BINS, self.placed, self.found)
            },
            "false_detections": self.false,
            "ms_per_frame": {"median": round(float(np.median(self.ms)), 2), "mean": round(float(np.mean(self.ms)), 2)},
        }


# ---------------------------------------------------------------------------------------------- runs


def still_frames(people, seeds_per_scene: int) -> list[tuple[str, list[bool], np.ndarray, list[Box]]]:
    bgs = backgrounds()
    out = []
    for s, (name, width, height, cols, rows) in enumerate(SCENES):
        for k in range(seeds_per_scene):
            seed = 1000 * s + k
            frame, truth, real = make_scene(name, width, height, cols, rows, people, bgs[seed % len(bgs)], seed)
            out.append((name, real, frame, truth))
    return out


def tally_frames(frames, finds: list[tuple[list[Box], float]]) -> dict:
    """Figures over all frames, per scene, and for real photographs and FER2013 faces apart."""
    total, real, fer, per_scene = Tally(), Tally(), Tally(), {}
    for (name, is_real, _, truth), (boxes, ms) in zip(frames, finds):
        total.add(truth, boxes, ms)
        per_scene.setdefault(name, Tally()).add(truth, boxes, ms)
        # Split by source: each detection goes with the kind of face it was paired to (false ones with neither).
        pairs = dict(pair(truth, boxes))
        for kind, tally in ((True, real), (False, fer)):
            keep = [i for i, r in enumerate(is_real) if r == kind]
            tally.add([truth[i] for i in keep], [boxes[pairs[i]] for i in keep if i in pairs], ms)
    return {
        "all": total.summary(),
        "real_photos": real.summary(),
        "fer2013_faces": fer.summary(),
        "scenes": {k: v.summary() for k, v in per_scene.items()},
    }


def draw_check(folder: Path, label: str, frames, finds) -> None:
    """Frames with placed faces (green) and detections (red, thick when unpaired: a false detection), to look at."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, ((name, _, frame, truth), (boxes, _)) in enumerate(zip(frames, finds)):
        image = frame.copy()
        paired = {j for _, j in pair(truth, boxes)}
        for t in truth:
            cv2.rectangle(image, (int(t.x), int(t.y)), (int(t.x + t.w), int(t.y + t.h)), (0, 255, 0), 1)
        for j, b in enumerate(boxes):
            cv2.rectangle(
                image, (int(b.x), int(b.y)), (int(b.x + b.w), int(b.y + b.h)), (0, 0, 255), 1 if j in paired else 4
            )
        cv2.imwrite(str(folder / f"{label}-{i:02d}-{name.replace(' ', '_')}.jpg"), image)


def run_modes(frames, modes: list[str], check_dir: Path | None = None) -> dict[str, dict]:
    """Each mode on each still frame as a fresh image (what `ferdesk annotate` does with photos)."""
    results: dict[str, dict] = {}
    for mode in modes:
        finds = []
        with FaceFinder(mode) as finder:
            finder.find(frames[0][2], 0.0)  # warm-up
            for _, _, frame, _ in frames:
                finder.reset()
                t0 = time.perf_counter()
                found = finder.find(frame, 0.0)
                finds.append(([d.box for d in found], (time.perf_counter() - t0) * 1000.0))
        results[mode] = tally_frames(frames, finds)
        if check_dir is not None:
            draw_check(check_dir, mode, frames, finds)
    return results


def run_fer(frames, fer_python: str, check_dir: Path | None = None) -> dict:
    """fer's detect_emotions on the same frames, in its own interpreter (benchmarks/fer_detection_peer.py)."""
    with tempfile.TemporaryDirectory(prefix="ferdesk-detect-") as tmp:
        keys = []
        for i, (_, _, frame, _) in enumerate(frames):
            folder = Path(tmp) / "frames" / f"{i:03d}"
            folder.mkdir(parents=True)
            cv2.imwrite(str(folder / "frame.png"), frame)
            keys.append(f"{i:03d}/frame.png")
        out = Path(tmp) / "fer.json"
        cmd = [
            fer_python,
            str(Path(__file__).with_name("fer_detection_peer.py")),
            str(Path(tmp) / "frames"),
            "--json",
            str(out),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(
                f"fer_detection_peer.py failed in {fer_python} (exit {done.returncode}):\n{done.stderr[-2000:]}"
            )
        peer = json.loads(out.read_text())
    finds = [([Box(*map(float, b)) for b in peer["frames"][key]["boxes"]], peer["frames"][key]["ms"]) for key in keys]
    if check_dir is not None:
        draw_check(check_dir, "fer", frames, finds)
    return {"version": peer["fer"], "detector": peer["detector"], **tally_frames(frames, finds)}


def moving_frames(
    people, width: int, height: int, n_faces: int, side: float, count: int, speed: float, background: np.ndarray
) -> list[tuple[np.ndarray, list[Box]]]:
    """A stream of real photographs' faces (mirrored every other one) on their own paths (up to `speed` px per
    frame), never overlapping."""
    people = [p for p in people if not p.name.startswith("fer_")] or people
    people = [
        q
        for p in people
        for q in (
            p,
            Portrait(
                p.name + " mirrored",
                p.image[:, ::-1].copy(),
                Box(p.image.shape[1] - p.face.x - p.face.w, p.face.y, p.face.w, p.face.h),
            ),
        )
    ]
    base = cover(background, width, height)
    cols = math.ceil(math.sqrt(n_faces * width / height))
    rows = math.ceil(n_faces / cols)
    cw, ch = width / cols, height / rows
    crops = []
    for i in range(n_faces):
        p = people[i % len(people)]
        margin = 0.4
        s = p.face.w * (1 + 2 * margin)
        cx, cy = p.face.x + p.face.w / 2, p.face.y + p.face.h / 2
        h, w = p.image.shape[:2]
        x0, y0 = int(max(0, cx - s / 2)), int(max(0, cy - s / 2))
        crop = p.image[y0 : int(min(h, cy + s / 2)), x0 : int(min(w, cx + s / 2))]
        scale = side / p.face.w
        crop = cv2.resize(
            crop,
            (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
            interpolation=cv2.INTER_AREA,
        )
        crops.append((crop, (p.face.x - x0) * scale, (p.face.y - y0) * scale, p.face.w * scale, p.face.h * scale))
    out = []
    for k in range(count):
        frame = base.copy()
        truth = []
        for i, (crop, fx, fy, fw, fh) in enumerate(crops):
            r, c = divmod(i, cols)
            free_x, free_y = max(0.0, cw - crop.shape[1]), max(0.0, ch - crop.shape[0])
            # An oscillation whose peak speed is `speed` px per frame along x when the cell leaves room.
            amp = free_x / 2
            omega = min(speed / amp, 0.5) if amp > 0 else 0.0
            x = c * cw + free_x / 2 + amp * math.sin(omega * k + i)
            y = r * ch + free_y / 2 + free_y / 2 * math.sin(0.05 * k + 2 * i)
            px, py = int(round(x)), int(round(y))
            hh, ww = min(crop.shape[0], height - py), min(crop.shape[1], width - px)
            frame[py : py + hh, px : px + ww] = crop[:hh, :ww]
            truth.append(Box(px + fx, py + fy, fw, fh))
        out.append((frame, truth))
    return out


AUTO_EVERY_FRAME = "auto, detector every frame"


def run_streams(people, modes: list[str], count: int, warmup: int) -> dict:
    bg = backgrounds()[0]
    streams = {
        "640x480, 1 face of 200 px, up to 12 px/frame": moving_frames(people, 640, 480, 1, 200, count + warmup, 12, bg),
        "640x480, 4 faces of 55 px": moving_frames(people, 640, 480, 4, 55, count + warmup, 6, bg),
        "1280x720, 8 faces of 70 px": moving_frames(people, 1280, 720, 8, 70, count + warmup, 6, bg),
    }
    results: dict = {}
    # auto as it was before it held still faces: the detector on every frame.
    finder_of = {mode: (lambda mode=mode: FaceFinder(mode)) for mode in modes}
    if "auto" in modes:
        finder_of[AUTO_EVERY_FRAME] = lambda: FaceFinder("auto", max_hold=0)
        modes = [*modes, AUTO_EVERY_FRAME]
    for name, frames in streams.items():
        # The modes take turns frame by frame (each frame starting with the next one), so they share whatever
        # else the machine is doing; process CPU time is reported beside wall time, as it depends less on that.
        finders = {mode: finder_of[mode]() for mode in modes}
        ms: dict[str, list[float]] = {m: [] for m in modes}
        cpu: dict[str, list[float]] = {m: [] for m in modes}
        calls: dict[str, list[int]] = {m: [] for m in modes}
        every = dict.fromkeys(modes, 0)
        false = dict.fromkeys(modes, 0)
        try:
            for k, (frame, truth) in enumerate(frames):
                for i in range(len(modes)):
                    mode = modes[(k + i) % len(modes)]
                    finder = finders[mode]
                    c0, t0 = time.process_time(), time.perf_counter()
                    found = finder.find(frame, k / 30.0)
                    if k < warmup:
                        continue
                    ms[mode].append((time.perf_counter() - t0) * 1000.0)
                    cpu[mode].append((time.process_time() - c0) * 1000.0)
                    calls[mode].append(finder.calls)
                    pairs = pair(truth, [d.box for d in found])
                    every[mode] += len(pairs) == len(truth)
                    false[mode] += len(found) - len(pairs)
        finally:
            for finder in finders.values():
                finder.close()
        results[name] = {
            mode: {
                "frames": len(ms[mode]),
                "frames_with_every_face": every[mode],
                "false_detections": false[mode],
                "ms": {
                    "median": round(float(np.median(ms[mode])), 2),
                    "p95": round(float(np.percentile(ms[mode], 95)), 2),
                    "mean": round(float(np.mean(ms[mode])), 2),
                },
                "cpu_ms": {
                    "median": round(float(np.median(cpu[mode])), 2),
                    "mean": round(float(np.mean(cpu[mode])), 2),
                },
                "detector_runs_per_frame": round(float(np.mean(calls[mode])), 2),
            }
            for mode in modes
        }
    return results


def run_reach(people) -> dict:
    """Each model on square images where the real faces (not FER2013 crops) take a given fraction of the side."""
    real = [p for p in people if not p.name.startswith("fer_")]
    fractions = [0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    out = {}
    for model in ("short", "full"):
        with FaceDetector(model) as detector:
            row = {}
            for frac in fractions:
                hits, scores = 0, []
                for p in real:
                    for side in (480, 960):
                        canvas = cover(backgrounds()[0], side, side)
                        fs = frac * side
                        margin = min(0.6, (side / fs - 1) / 2)
                        box = place(canvas, p, fs, (0, 0, side, side), margin, np.random.default_rng(0))
                        found = [d for d in detector.detect(canvas) if pair([box], [d.box])]
                        hits += bool(found)
                        scores += [found[0].score] if found else []
                row[str(frac)] = {
                    "found": hits,
                    "of": 2 * len(real),
                    "mean_score": round(float(np.mean(scores)), 3) if scores else None,
                }
            out[model] = row
    return out


def run_alignment(data: Path, limit: int, angles: list[int]) -> dict:
    """PublicTest faces, padded, enlarged to 200 px, rotated, placed in a 640x480 frame, through EmotionPipeline."""
    from ferdesk.pipeline import DEFAULT_MODEL, EmotionPipeline
    from training.data import load_fer_csv

    dataset = load_fer_csv(data)
    # Every k-th PublicTest face, so all emotions come in their test proportions.
    public = np.flatnonzero(dataset.usage == "PublicTest")
    test = public[:: max(1, len(public) // limit)][:limit]
    bg = cover(backgrounds()[0], 640, 480)
    out: dict = {"faces": len(test), "angles": {}, "classifier_alone": {}}
    # The classifier alone on the dataset crops turned by the angle, then turned back by the true angle: what
    # a tilt costs and what alignment can give back, without the detector's share.
    from ferdesk.classify import EmotionClassifier
    from ferdesk.preprocess import crop_face

    classifier = EmotionClassifier(DEFAULT_MODEL)
    truth = np.array([dataset.emotions[int(dataset.labels[i])] for i in test])
    for angle in angles:
        tilted = [crop_face(dataset.images[i], angle=angle) if angle else dataset.images[i] for i in test]
        upright = [crop_face(t, angle=-angle) if angle else t for t in tilted]
        row = {}
        for name, crops in (("unaligned", tilted), ("aligned", upright)):
            top = np.argmax(classifier.predict(np.stack(crops)), axis=1)
            row[name] = round(float(np.mean(np.array(classifier.labels)[top] == truth)), 4)
        out["classifier_alone"][str(angle)] = row
        print(f"   classifier alone {angle:+4d} deg: {row['unaligned']:.1%} tilted, {row['aligned']:.1%} turned back")
    pipelines = {align: EmotionPipeline(DEFAULT_MODEL, align=align) for align in (False, True)}
    try:
        labels = pipelines[True].labels
        for angle in angles:
            row = {}
            for align, pipeline in pipelines.items():
                right = detected = 0
                for i in test:
                    face = cv2.resize(dataset.images[i], (200, 200), interpolation=cv2.INTER_CUBIC)
                    face = cv2.copyMakeBorder(face, 60, 60, 60, 60, cv2.BORDER_REPLICATE)
                    turn = cv2.getRotationMatrix2D((160, 160), angle, 1.0)
                    face = cv2.warpAffine(face, turn, (320, 320), borderMode=cv2.BORDER_REPLICATE)
                    frame = bg.copy()
                    frame[80:400, 160:480] = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
                    pipeline.reset()
                    result = pipeline.process(frame, timestamp=0.0, annotate=False)
                    if result.faces:
                        detected += 1
                        best = max(result.faces, key=lambda f: f.score)
                        right += (
                            labels[int(np.argmax(best.raw_probabilities))] == dataset.emotions[int(dataset.labels[i])]
                        )
                row["aligned" if align else "unaligned"] = {
                    "accuracy": round(right / len(test), 4),
                    "detected": round(detected / len(test), 4),
                    "accuracy_of_detected": round(right / max(1, detected), 4),
                }
            out["angles"][str(angle)] = row
            print(
                f"   pipeline {angle:+4d} deg: accuracy {row['unaligned']['accuracy']:.1%} unaligned, "
                f"{row['aligned']['accuracy']:.1%} aligned (faces detected {row['aligned']['detected']:.1%}; "
                f"of those {row['unaligned']['accuracy_of_detected']:.1%} / {row['aligned']['accuracy_of_detected']:.1%})"
            )
    finally:
        for pipeline in pipelines.values():
            pipeline.close()
    return out


# ---------------------------------------------------------------------------------------------- report


def cpu_info() -> dict:
    info = {"python": platform.python_version(), "cores": os.cpu_count(), "opencv": cv2.__version__}
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        text = ""
    flags: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model name":
            info["cpu"] = value.strip()
        elif key.strip() == "Flags":
            flags = value.split()
    if not flags and Path("/proc/cpuinfo").is_file():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                break
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")
    info["simd"] = [f for f in wanted if f in flags]
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return info


def print_tally(label: str, summary: dict) -> None:
    bins = "  ".join(f"{k}: {v['found']}/{v['placed']}" for k, v in summary["by_face_width"].items() if v["placed"])
    print(
        f"   {label:<10} recall(>=40px) {summary['recall_40px_and_up']:6.1%}  false {summary['false_detections']:3d}  "
        f"ms/frame median {summary['ms_per_frame']['median']:7.1f}   [{bins}]"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--modes", default=",".join(DETECTOR_MODES), help="detector modes to compare (default: all)")
    p.add_argument("--seeds", type=int, default=2, help="frames per scene, each laid out anew (default: 2)")
    p.add_argument("--stream-frames", type=int, default=150, help="timed frames per moving stream (default: 150)")
    p.add_argument("--fer-python", metavar="PYTHON", help="interpreter of a venv with fer: compare with fer's finds")
    p.add_argument("--data", help="FER2013 CSV: also measure accuracy on rotated faces with and without alignment")
    p.add_argument("--align-faces", type=int, default=300, help="PublicTest faces for the alignment run (default: 300)")
    p.add_argument(
        "--align-angles", default="0,-15,15,-30,30", help="degrees to turn the faces by (default: %(default)s)"
    )
    p.add_argument("--skip", default="", help="comma-separated parts to skip: stills, streams, reach")
    p.add_argument("--check-dir", help="write each still frame with placed faces and detections drawn here")
    p.add_argument("--json", help="write the figures here (e.g. benchmarks/results/detection.json)")
    args = p.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    unknown = [m for m in modes if m not in DETECTOR_MODES]
    if unknown:
        p.error(f"unknown modes {unknown}; choose from {', '.join(DETECTOR_MODES)}")
    if args.fer_python and not Path(args.fer_python).is_file():
        p.error(f"--fer-python {args.fer_python}: no such interpreter")
    if args.data and not Path(args.data).is_file():
        p.error(f"--data {args.data}: no such file")
    skip = set(filter(None, args.skip.split(",")))

    info = cpu_info()
    print(
        f"CPU: {info.get('cpu', '?')}, {info['cores']} cores, SIMD {' '.join(info['simd']) or 'none listed'}, "
        f"load average {info.get('load_average', '?')}"
    )
    with FaceDetector("short") as detector:
        people = portraits(detector)
    print(f"portraits: {', '.join(p.name for p in people)}")
    report: dict = {
        "system": info,
        "portraits": [p.name for p in people],
        "size_bins": SIZE_BINS,
        "goal": {"recall_40px_and_up": GOAL_RECALL},
    }

    if "stills" not in skip:
        frames = still_frames(people, args.seeds)
        n_faces = sum(len(t) for *_, t in frames)
        print(f"\n== still frames: {len(frames)} frames, {n_faces} faces placed; each frame analysed as a new image")
        check = Path(args.check_dir) if args.check_dir else None
        report["stills"] = run_modes(frames, modes, check)
        if args.fer_python:
            report["stills"]["fer"] = run_fer(frames, args.fer_python, check)
        for name in dict.fromkeys(f[0] for f in frames):
            print(f"  {name}:")
            for mode, r in report["stills"].items():
                print_tally(mode, r["scenes"][name])
        for part, what in (
            ("all", "all faces"),
            ("real_photos", "faces from real photographs (the goal)"),
            ("fer2013_faces", "FER2013 demo faces (blurry 48x48 crops enlarged)"),
        ):
            print(f"  {what}:")
            for mode, r in report["stills"].items():
                print_tally(mode, r[part])
        if "fer" in report["stills"]:
            fer_all = report["stills"]["fer"]["all"]
            for mode in modes:
                ours = report["stills"][mode]["all"]
                more = sum(v["found"] for v in ours["by_face_width"].values()) - sum(
                    v["found"] for v in fer_all["by_face_width"].values()
                )
                print(
                    f"  {mode}: {more:+d} faces found vs fer, false detections {ours['false_detections']} vs "
                    f"{fer_all['false_detections']}"
                )

    if "streams" not in skip:
        print(f"\n== moving faces, {args.stream_frames} frames at 30 frames/s after 10 warm-up frames")
        report["streams"] = run_streams(people, modes, args.stream_frames, 10)
        for name, by_mode in report["streams"].items():
            print(f"  {name}:")
            for mode, r in by_mode.items():
                print(
                    f"   {mode:<6} every face on {r['frames_with_every_face']}/{r['frames']} frames, false "
                    f"{r['false_detections']}, ms median {r['ms']['median']:.2f} p95 {r['ms']['p95']:.2f} mean "
                    f"{r['ms']['mean']:.2f}, cpu ms median {r['cpu_ms']['median']:.2f} mean {r['cpu_ms']['mean']:.2f}, "
                    f"detector runs/frame {r['detector_runs_per_frame']}"
                )

    if "reach" not in skip:
        print("\n== reach: real faces found by face size (fraction of the image's side)")
        report["reach"] = run_reach(people)
        for model, row in report["reach"].items():
            print(f"   {model:<6}" + " ".join(f"{k}:{v['found']}/{v['of']}" for k, v in row.items()))

    if args.data:
        print(f"\n== alignment: {args.align_faces} PublicTest faces rotated, through EmotionPipeline (auto mode)")
        angles = [int(a) for a in args.align_angles.split(",")]
        report["alignment"] = run_alignment(Path(args.data), args.align_faces, angles)

    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

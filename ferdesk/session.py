"""A session's story, face by face: when each face showed which emotion, the time spent in each, counts and means.

Fed with every analysed frame (on the app's worker thread) and read by the summary window and its exports. A face
is one track of one scene (a source, or one photo of a folder): ids restart with each, so a face is known by
(scene number, track id). Its timeline is kept as runs of one emotion, not frame by frame, so a day-long session
stays small.
"""

from __future__ import annotations

import csv
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ferdesk.facelog import wall_clock
from ferdesk.pipeline import FrameResult

GAP_S = 1.0  # a face unseen for longer has left: the time between is not counted, and its timeline has a gap


@dataclass
class Run:
    """One stretch of time in which a face showed one emotion (its most probable label), wall-clock seconds."""

    start: float
    end: float
    label: str


@dataclass
class FaceStory:
    number: int  # the face's number in the session (1, 2, ...), in order of first appearance
    source: str
    track_id: int
    model: str
    labels: list[str]
    first_seen: float  # wall clock (time.time())
    last_seen: float
    frames: int = 0
    files: list[str] = field(default_factory=list)  # the images it was seen in (image folders)
    seconds: dict[str, float] = field(default_factory=dict)  # time with each emotion on top
    counts: dict[str, int] = field(default_factory=dict)  # frames with each emotion on top
    probability_sums: dict[str, float] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"Face {self.number} (#{self.track_id} in {self.source})"

    @property
    def seen_seconds(self) -> float:
        return sum(self.seconds.values())

    def mean(self, label: str) -> float:
        return self.probability_sums.get(label, 0.0) / self.frames if self.frames else 0.0

    @property
    def main_emotion(self) -> str:
        """The emotion shown longest (by frames where no time was measured, as for single photos)."""
        if self.seen_seconds > 0:
            return max(self.seconds, key=self.seconds.get)
        return max(self.counts, key=self.counts.get) if self.counts else ""


class SessionSummary:
    """add() may run on one thread while another reads faces() or exports."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faces: dict[tuple[int, int], FaceStory] = {}
        self.sources: list[tuple[str, float]] = []  # (source name, wall clock it started), as they came
        self.changed = False  # data added since the last export

    def add(self, result: FrameResult, scene: int, source: str, model: str, at: float, file: str | None = None) -> None:
        with self._lock:
            if not self.sources or self.sources[-1][0] != source:
                self.sources.append((source, at))
            for face in result.faces:
                key = (scene, face.track_id)
                story = self._faces.get(key)
                if story is None or story.labels != list(result.labels):  # a new face, or a model with other labels
                    story = FaceStory(len(self._faces) + 1, source, face.track_id, model, list(result.labels), at, at)
                    self._faces[key] = story
                label, _ = face.top(result.labels)
                previous = story.runs[-1] if story.runs else None
                if previous is not None and at - story.last_seen <= GAP_S:
                    story.seconds[previous.label] = story.seconds.get(previous.label, 0.0) + at - story.last_seen
                    previous.end = at
                if previous is None or previous.label != label or at - story.last_seen > GAP_S:
                    story.runs.append(Run(at, at, label))
                story.last_seen = at
                story.frames += 1
                story.counts[label] = story.counts.get(label, 0) + 1
                for name, p in zip(result.labels, np.asarray(face.probabilities, dtype=float).tolist()):
                    story.probability_sums[name] = story.probability_sums.get(name, 0.0) + p
                if file is not None and (not story.files or story.files[-1] != file):
                    story.files.append(file)
            self.changed = self.changed or bool(result.faces)

    def faces(self) -> list[FaceStory]:
        """Copies, in order of first appearance."""
        with self._lock:
            stories = sorted(self._faces.values(), key=lambda s: s.number)
            return [
                FaceStory(
                    **{
                        **s.__dict__,
                        "runs": [Run(**r.__dict__) for r in s.runs],
                        "files": list(s.files),
                        "seconds": dict(s.seconds),
                        "counts": dict(s.counts),
                        "probability_sums": dict(s.probability_sums),
                    }
                )
                for s in stories
            ]

    def labels(self, faces: list[FaceStory] | None = None) -> list[str]:
        seen: dict[str, None] = {}
        for story in faces if faces is not None else self.faces():
            seen.update(dict.fromkeys(story.labels))
        return list(seen)

    def rows(self) -> list[dict]:
        """One row per face: where and when it was seen, and per emotion its time, share, frame count and mean."""
        faces = self.faces()
        labels = self.labels(faces)
        rows = []
        for s in faces:
            row = {
                "face": s.number,
                "source": s.source,
                "track_id": s.track_id,
                "model": s.model,
                "first_seen": wall_clock(s.first_seen),
                "last_seen": wall_clock(s.last_seen),
                "seen_s": round(s.seen_seconds, 2),
                "frames": s.frames,
                "main_emotion": s.main_emotion,
                "files": ";".join(s.files),
            }
            for label in labels:
                row[f"{label}_s"] = round(s.seconds.get(label, 0.0), 2)
                row[f"{label}_share"] = round(s.seconds.get(label, 0.0) / s.seen_seconds, 4) if s.seen_seconds else ""
                row[f"{label}_frames"] = s.counts.get(label, 0)
                row[f"{label}_mean_p"] = round(s.mean(label), 4) if label in s.labels else ""
            rows.append(row)
        return rows

    def write(self, path: str | Path) -> None:
        """CSV (one row per face) or JSON (the same, with each face's timeline), by suffix."""
        path = Path(path)
        rows = self.rows()
        if path.suffix.lower() == ".json":
            faces = self.faces()
            doc = {
                "sources": [{"source": n, "started": wall_clock(t)} for n, t in self.sources],
                "labels": self.labels(faces),
                "faces": [
                    {
                        **row,
                        "timeline": [
                            {"start": wall_clock(r.start), "end": wall_clock(r.end), "emotion": r.label}
                            for r in face.runs
                        ],
                    }
                    for row, face in zip(rows, faces)
                ],
            }
            path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        else:
            with open(path, "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["face"])
                writer.writeheader()
                writer.writerows(rows)
        self.changed = False

"""The per-frame, per-face log of a run (headless annotate or a GUI session), written as CSV or JSON."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ferdesk.pipeline import FrameResult


class FaceLog:
    """Rows of plain numbers only (no frames are kept), so a long session stays small."""

    def __init__(self, labels: list[str], meta: dict | None = None):
        self.labels = list(labels)
        self.meta = dict(meta or {})
        self.frames: list[dict] = []

    def add(self, result: FrameResult) -> None:
        if list(result.labels) != self.labels:  # the model changed mid-session: keep both label sets readable
            self.labels = list(dict.fromkeys(self.labels + list(result.labels)))
        faces = []
        for face in result.faces:
            top, confidence = face.top(result.labels)
            faces.append({
                "track_id": face.track_id,
                "box": [round(face.box.x, 1), round(face.box.y, 1), round(face.box.w, 1), round(face.box.h, 1)],
                "score": round(face.score, 4),
                "label": top,
                "confidence": round(confidence, 4),
                "probabilities": {k: round(float(p), 4) for k, p in zip(result.labels, face.probabilities)},
            })
        self.frames.append({"frame": result.index, "timestamp_s": round(result.timestamp, 4), "faces": faces})

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def face_count(self) -> int:
        return sum(len(f["faces"]) for f in self.frames)

    def csv_header(self) -> list[str]:
        return ["frame", "timestamp_s", "track_id", "x", "y", "w", "h", "score", "label", "confidence",
                *[f"p_{k}" for k in self.labels]]

    def csv_rows(self):
        for frame in self.frames:
            for face in frame["faces"]:
                yield [frame["frame"], frame["timestamp_s"], face["track_id"], *face["box"], face["score"],
                       face["label"], face["confidence"], *[face["probabilities"].get(k, "") for k in self.labels]]

    def write_csv(self, path: str | Path) -> None:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(self.csv_header())
            writer.writerows(self.csv_rows())

    def write_json(self, path: str | Path) -> None:
        document = {**self.meta, "labels": self.labels, "frames": self.frames}
        Path(path).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")

    def write(self, path: str | Path) -> None:
        """CSV or JSON by file suffix."""
        if str(path).lower().endswith(".json"):
            self.write_json(path)
        else:
            self.write_csv(path)

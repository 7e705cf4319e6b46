"""The per-frame, per-face log of a run (headless annotate or a GUI session), written as CSV or JSON.

A GUI session may stay open all day, so the log keeps numbers, not objects: each face is one row of a numpy chunk
(about 40 bytes with seven emotions) and full chunks are zlib-compressed. The writers stream, one frame at a
time: an export never builds the whole document in memory, and `ferdesk annotate` writes its logs as it goes.
"""

from __future__ import annotations

import csv
import functools
import json
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

from ferdesk.pipeline import FrameResult

SCALE = 10_000  # probabilities, scores and confidences are logged with 4 decimals: stored as integers of 1e-4
CHUNK_ROWS = 4096  # frames (and faces) per chunk; a full chunk is compressed
FRAME_DTYPE = np.dtype([("frame", np.int64), ("timestamp", np.float64), ("faces", np.uint16)])
CSV_COLUMNS = ("frame", "timestamp_s", "track_id", "x", "y", "w", "h", "score", "label", "confidence")


@functools.cache
def face_dtype(n_labels: int) -> np.dtype:
    return np.dtype([("track_id", np.int32), ("box", np.float32, (4,)), ("score", np.uint16),
                     ("label", np.uint16), ("p", np.uint16, (n_labels,))])


def encode(result: FrameResult) -> tuple[tuple, np.ndarray]:
    """A frame as (frame, timestamp, faces) plus one face_dtype row per face."""
    faces = np.empty(len(result.faces), face_dtype(len(result.labels)))
    if result.faces:
        probabilities = np.array([face.probabilities for face in result.faces], np.float64)
        faces["track_id"] = [face.track_id for face in result.faces]
        faces["box"] = np.array([(face.box.x, face.box.y, face.box.w, face.box.h) for face in result.faces]).round(1)
        faces["score"] = np.rint(np.array([face.score for face in result.faces]) * SCALE)
        faces["label"] = probabilities.argmax(axis=1)  # as FaceResult.top
        faces["p"] = np.rint(probabilities * SCALE)
    return (result.index, result.timestamp, len(faces)), faces


def decode(labels: tuple[str, ...], frames: np.ndarray, faces: np.ndarray) -> Iterator[dict]:
    """The logged form of FRAME_DTYPE rows and their faces: what a JSON log's "frames" list holds."""
    tracks = faces["track_id"].tolist()
    boxes = np.round(faces["box"].astype(np.float64), 1).tolist()
    scores = (faces["score"] / SCALE).tolist()
    tops = faces["label"].tolist()
    probabilities = (faces["p"] / SCALE).tolist()
    start = 0
    for frame, timestamp, count in frames.tolist():
        yield {"frame": frame, "timestamp_s": round(timestamp, 4), "faces": [
            {"track_id": tracks[k], "box": boxes[k], "score": scores[k], "label": labels[tops[k]],
             "confidence": probabilities[k][tops[k]], "probabilities": dict(zip(labels, probabilities[k]))}
            for k in range(start, start + count)]}
        start += count


def frame_record(result: FrameResult, file: str | None = None) -> dict:
    """The logged form of an analysed frame, rounded exactly as a FaceLog stores it."""
    frame, faces = encode(result)
    record = next(decode(tuple(result.labels), np.array([frame], FRAME_DTYPE), faces))
    if file is not None:
        record["file"] = file
    return record


# ------------------------------------------------------------------------------------------- writers


class CsvLogWriter:
    """One row per face: the fixed columns, then p_<label> for every label (empty where a face's model lacked it).
    With file_column, a first column `file` names the file each row's frame came from (a record's "file")."""

    def __init__(self, handle: TextIO, labels: list[str], file_column: bool = False):
        self.labels = list(labels)
        self.file_column = file_column
        self._writer = csv.writer(handle)
        self._writer.writerow([*(["file"] if file_column else []), *CSV_COLUMNS, *[f"p_{k}" for k in self.labels]])

    def add(self, record: dict) -> None:
        file = [record.get("file", "")] if self.file_column else []
        self._writer.writerows(
            [*file, record["frame"], record["timestamp_s"], face["track_id"], *face["box"], face["score"],
             face["label"], face["confidence"], *[face["probabilities"].get(k, "") for k in self.labels]]
            for face in record["faces"])


class JsonLogWriter:
    """{head..., "frames": [one frame per line], tail...}: written as frames come, closed with what came last."""

    def __init__(self, handle: TextIO, head: dict):
        self._handle = handle
        self._frames = 0
        handle.write("{\n" + "".join(f" {json.dumps(k)}: {json.dumps(v)},\n" for k, v in head.items()) + ' "frames": [')

    def add(self, record: dict) -> None:
        self._handle.write((",\n  " if self._frames else "\n  ") + json.dumps(record))
        self._frames += 1

    def close(self, tail: dict | None = None) -> None:
        self._handle.write(("\n ]" if self._frames else "]")
                           + "".join(f",\n {json.dumps(k)}: {json.dumps(v)}" for k, v in (tail or {}).items())
                           + "\n}\n")


# ---------------------------------------------------------------------------------------------- log


class _Chunk:
    """Frames and faces of one label set (a model switch starts a new chunk); compressed once sealed."""

    def __init__(self, labels: tuple[str, ...], face_rows: int = CHUNK_ROWS):
        self.labels = labels
        self.frames = np.empty(CHUNK_ROWS, FRAME_DTYPE)  # np.empty: memory is committed as rows are written
        self.faces = np.empty(face_rows, face_dtype(len(labels)))
        self.n_frames = self.n_faces = 0
        self.packed: bytes | None = None

    def has_room(self, faces: int) -> bool:
        return self.n_frames < len(self.frames) and self.n_faces + faces <= len(self.faces)

    def append(self, frame: tuple, faces: np.ndarray) -> None:
        self.frames[self.n_frames] = frame
        self.faces[self.n_faces:self.n_faces + len(faces)] = faces
        self.n_frames += 1
        self.n_faces += len(faces)

    def seal(self) -> None:
        self.packed = zlib.compress(self.frames[:self.n_frames].tobytes() + self.faces[:self.n_faces].tobytes(), 6)
        self.frames = self.faces = None

    def snapshot(self) -> tuple:
        """What a reader needs; rows below the counts never change, so no copy is made."""
        if self.packed is not None:
            return self.labels, self.packed, self.n_frames, self.n_faces
        return self.labels, (self.frames[:self.n_frames], self.faces[:self.n_faces]), self.n_frames, self.n_faces

    @property
    def nbytes(self) -> int:
        """Bytes of its rows: compressed, or as written so far (np.empty commits pages only as they are written)."""
        if self.packed is not None:
            return len(self.packed)
        return self.n_frames * self.frames.itemsize + self.n_faces * self.faces.itemsize


def _unpack(labels: tuple[str, ...], data, n_frames: int, n_faces: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(data, bytes):
        return data
    raw = zlib.decompress(data)
    split = n_frames * FRAME_DTYPE.itemsize
    return (np.frombuffer(raw, FRAME_DTYPE, n_frames), np.frombuffer(raw, face_dtype(len(labels)), n_faces, split))


class FaceLog:
    """A session's faces as compact rows; add() may run on a worker thread while another thread exports."""

    def __init__(self, labels: list[str], meta: dict | None = None):
        self.labels = list(labels)  # every label seen, in order of appearance (a model switch adds its own)
        self.meta = dict(meta or {})
        self._chunks: list[_Chunk] = []
        self._lock = threading.Lock()
        self._frames = self._faces = 0

    def add(self, result: FrameResult) -> None:
        frame, faces = encode(result)
        labels = tuple(result.labels)
        with self._lock:
            if list(labels) != self.labels:
                self.labels = list(dict.fromkeys(self.labels + list(labels)))
            chunk = self._chunks[-1] if self._chunks else None
            if chunk is None or chunk.labels != labels or not chunk.has_room(len(faces)):
                if chunk is not None:
                    chunk.seal()
                chunk = _Chunk(labels, max(CHUNK_ROWS, len(faces)))
                self._chunks.append(chunk)
            chunk.append(frame, faces)
            self._frames += 1
            self._faces += len(faces)

    def __len__(self) -> int:
        return self._frames

    @property
    def face_count(self) -> int:
        return self._faces

    @property
    def nbytes(self) -> int:
        """Memory the rows take."""
        with self._lock:
            return sum(chunk.nbytes for chunk in self._chunks)

    def _snapshot(self) -> tuple[list[str], list[tuple]]:
        with self._lock:
            return list(self.labels), [chunk.snapshot() for chunk in self._chunks]

    def frames(self, snapshots: list[tuple] | None = None) -> Iterator[dict]:
        """Every logged frame in its JSON form, decoded one chunk at a time."""
        for labels, data, n_frames, n_faces in self._snapshot()[1] if snapshots is None else snapshots:
            yield from decode(labels, *_unpack(labels, data, n_frames, n_faces))

    def csv_header(self) -> list[str]:
        return [*CSV_COLUMNS, *[f"p_{k}" for k in self.labels]]

    def write_csv(self, path: str | Path) -> None:
        labels, snapshots = self._snapshot()
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = CsvLogWriter(handle, labels)
            for record in self.frames(snapshots):
                writer.add(record)

    def write_json(self, path: str | Path) -> None:
        labels, snapshots = self._snapshot()
        with open(path, "w", encoding="utf-8") as handle:
            writer = JsonLogWriter(handle, {**self.meta, "labels": labels})
            for record in self.frames(snapshots):
                writer.add(record)
            writer.close()

    def write(self, path: str | Path) -> None:
        """CSV or JSON by file suffix."""
        if str(path).lower().endswith(".json"):
            self.write_json(path)
        else:
            self.write_csv(path)

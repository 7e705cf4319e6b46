"""The per-frame, per-face log of a run (headless annotate or a GUI session), written as CSV or JSON.

A GUI session may stay open all day, so the log keeps numbers, not objects: each face is one row of a numpy chunk
(about 40 bytes with seven emotions) and full chunks are zlib-compressed. What each frame came from (the source, the
file, the model) is stored as small ids into one table of the distinct names, with the wall-clock time. The writers
stream, one frame at a time: an export never builds the whole document in memory, and `ferdesk annotate` writes its
logs as it goes.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from ferdesk.outputs import staged_file
from ferdesk.pipeline import FrameResult

SCALE = 10_000  # probabilities, scores and confidences are logged with 4 decimals: stored as integers of 1e-4
CHUNK_ROWS = 4096  # frames (and faces) per chunk; a full chunk is compressed
FRAME_DTYPE = np.dtype([("frame", np.int64), ("timestamp", np.float64), ("faces", np.uint16)])
# A session's frame also says where and when it was analysed: ids into the log's table of names, and time.time().
SESSION_FRAME_DTYPE = np.dtype(
    [*FRAME_DTYPE.descr, ("source", np.uint32), ("file", np.uint32), ("model", np.uint32), ("wall", np.float64)]
)
CSV_COLUMNS = ("frame", "timestamp_s", "track_id", "x", "y", "w", "h", "score", "label", "confidence")
# What a session log adds in front of CSV_COLUMNS (and to each JSON frame).
SESSION_COLUMNS = ("source", "file", "model", "wall_clock")


def wall_clock(t: float) -> str:
    """A time.time() as ISO 8601 local time with its UTC offset, to the millisecond: 2025-05-01T14:03:12.345+02:00
    (sorts as text; spreadsheets and pandas.to_datetime read it)."""
    return dt.datetime.fromtimestamp(t).astimezone().isoformat(timespec="milliseconds")


@functools.cache
def face_dtype(n_labels: int) -> np.dtype:
    return np.dtype(
        [
            ("track_id", np.int32),
            ("box", np.float32, (4,)),
            ("score", np.uint16),
            ("label", np.uint16),
            ("p", np.uint16, (n_labels,)),
        ]
    )


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


def decode(
    labels: tuple[str, ...], frames: np.ndarray, faces: np.ndarray, names: Sequence[str] | None = None
) -> Iterator[dict]:
    """The logged form of FRAME_DTYPE rows and their faces: what a JSON log's "frames" list holds. SESSION_FRAME_DTYPE
    rows, with `names` (their ids' table), also give each frame's SESSION_COLUMNS."""
    tracks = faces["track_id"].tolist()
    boxes = np.round(faces["box"].astype(np.float64), 1).tolist()
    scores = (faces["score"] / SCALE).tolist()
    tops = faces["label"].tolist()
    probabilities = (faces["p"] / SCALE).tolist()
    where = (
        zip(frames["source"].tolist(), frames["file"].tolist(), frames["model"].tolist(), frames["wall"].tolist())
        if names is not None
        else None
    )
    start = 0
    for frame, timestamp, count in zip(
        frames["frame"].tolist(), frames["timestamp"].tolist(), frames["faces"].tolist()
    ):
        record = {"frame": frame, "timestamp_s": round(timestamp, 4)}
        if where is not None:
            source, file, model, wall = next(where)
            record.update(source=names[source], file=names[file], model=names[model], wall_clock=wall_clock(wall))
        record["faces"] = [
            {
                "track_id": tracks[k],
                "box": boxes[k],
                "score": scores[k],
                "label": labels[tops[k]],
                "confidence": probabilities[k][tops[k]],
                "probabilities": dict(zip(labels, probabilities[k])),
            }
            for k in range(start, start + count)
        ]
        yield record
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

    `frame_columns`: record keys written first on each of its faces' rows, e.g. ("file",) for annotate (which
    file_column=True also asks for) or SESSION_COLUMNS for the app's session log."""

    def __init__(self, handle: TextIO, labels: list[str], file_column: bool = False, frame_columns: Sequence[str] = ()):
        self.labels = list(labels)
        self.frame_columns = ("file",) if file_column else tuple(frame_columns)
        self._writer = csv.writer(handle)
        self._writer.writerow([*self.frame_columns, *CSV_COLUMNS, *[f"p_{k}" for k in self.labels]])

    def add(self, record: dict) -> None:
        first = [record.get(key, "") for key in self.frame_columns]
        self._writer.writerows(
            [
                *first,
                record["frame"],
                record["timestamp_s"],
                face["track_id"],
                *face["box"],
                face["score"],
                face["label"],
                face["confidence"],
                *[face["probabilities"].get(k, "") for k in self.labels],
            ]
            for face in record["faces"]
        )


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
        self._handle.write(
            ("\n ]" if self._frames else "]")
            + "".join(f",\n {json.dumps(k)}: {json.dumps(v)}" for k, v in (tail or {}).items())
            + "\n}\n"
        )


# ---------------------------------------------------------------------------------------------- log


class _Chunk:
    """Frames and faces of one label set (a model switch starts a new chunk); compressed once sealed."""

    def __init__(self, labels: tuple[str, ...], face_rows: int = CHUNK_ROWS):
        self.labels = labels
        self.frames = np.empty(CHUNK_ROWS, SESSION_FRAME_DTYPE)  # np.empty: memory is committed as rows are written
        self.faces = np.empty(face_rows, face_dtype(len(labels)))
        self.n_frames = self.n_faces = 0
        self.packed: bytes | None = None

    def has_room(self, faces: int) -> bool:
        return self.n_frames < len(self.frames) and self.n_faces + faces <= len(self.faces)

    def append(self, frame: tuple, faces: np.ndarray) -> None:
        self.frames[self.n_frames] = frame
        self.faces[self.n_faces : self.n_faces + len(faces)] = faces
        self.n_frames += 1
        self.n_faces += len(faces)

    def seal(self) -> None:
        self.packed = zlib.compress(self.frames[: self.n_frames].tobytes() + self.faces[: self.n_faces].tobytes(), 6)
        self.frames = self.faces = None

    def snapshot(self) -> tuple:
        """What a reader needs; rows below the counts never change, so no copy is made."""
        if self.packed is not None:
            return self.labels, self.packed, self.n_frames, self.n_faces
        return self.labels, (self.frames[: self.n_frames], self.faces[: self.n_faces]), self.n_frames, self.n_faces

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
    split = n_frames * SESSION_FRAME_DTYPE.itemsize
    return (
        np.frombuffer(raw, SESSION_FRAME_DTYPE, n_frames),
        np.frombuffer(raw, face_dtype(len(labels)), n_faces, split),
    )


class FaceLog:
    """A session's faces as compact rows; add() may run on a worker thread while another thread exports.

    Each frame says what it came from: the source the user opened ('demo', 'camera 0', a path), the file (an image
    of a folder, or the video; '' for a camera or the demo), the model and the wall-clock time, so a log of a session
    that went from one source to another says which rows are which."""

    def __init__(self, labels: list[str], meta: dict | None = None):
        self.labels = list(labels)  # every label seen, in order of appearance (a model switch adds its own)
        self.meta = dict(meta or {})
        self._chunks: list[_Chunk] = []
        self._names: list[str] = []  # the distinct sources, files and models; frames hold ids into it
        self._name_ids: dict[str, int] = {}
        self._lock = threading.Lock()
        self._frames = self._faces = 0
        self._exported_faces = 0  # face rows the last export held

    def _name_id(self, name: str) -> int:
        found = self._name_ids.get(name)
        if found is None:
            found = self._name_ids[name] = len(self._names)
            self._names.append(name)
        return found

    def add(
        self, result: FrameResult, source: str = "", file: str = "", model: str = "", at: float | None = None
    ) -> None:
        """Log an analysed frame; `at`: its wall-clock time (time.time(), now when not given)."""
        at = time.time() if at is None else at
        (index, timestamp, count), faces = encode(result)
        labels = tuple(result.labels)
        with self._lock:
            frame = (index, timestamp, count, self._name_id(source), self._name_id(file), self._name_id(model), at)
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
    def unexported_faces(self) -> int:
        """Face rows logged since the last export (all of them before the first)."""
        return self._faces - self._exported_faces

    @property
    def nbytes(self) -> int:
        """Memory the rows take."""
        with self._lock:
            return sum(chunk.nbytes for chunk in self._chunks)

    def _snapshot(self) -> tuple[list[str], list[tuple], list[str], int]:
        """What an export reads: the labels, the chunks, the names table (it only grows: a copy of its length now
        is enough) and the face rows they hold."""
        with self._lock:
            return list(self.labels), [chunk.snapshot() for chunk in self._chunks], self._names[:], self._faces

    def frames(self, snapshot: tuple | None = None) -> Iterator[dict]:
        """Every logged frame in its JSON form, decoded one chunk at a time."""
        _, chunks, names, _ = self._snapshot() if snapshot is None else snapshot
        for labels, data, n_frames, n_faces in chunks:
            yield from decode(labels, *_unpack(labels, data, n_frames, n_faces), names)

    def csv_header(self) -> list[str]:
        return [*SESSION_COLUMNS, *CSV_COLUMNS, *[f"p_{k}" for k in self.labels]]

    def write_csv(self, path: str | Path) -> None:
        """One row per face, each naming its source, file, model and wall-clock time (SESSION_COLUMNS first)."""
        snapshot = self._snapshot()
        with staged_file(path, overwrite=True) as staging, open(staging, "w", newline="", encoding="utf-8") as handle:
            writer = CsvLogWriter(handle, snapshot[0], frame_columns=SESSION_COLUMNS)
            for record in self.frames(snapshot):
                writer.add(record)
        self._exported_faces = max(self._exported_faces, snapshot[3])

    def write_json(self, path: str | Path) -> None:
        """{meta..., "labels", "frames": [...], "sources": [{"source", "started"}, ...]}: the sources in the order
        the session showed them, each with the wall-clock time of its first logged frame (a source opened again
        later is listed again)."""
        snapshot = self._snapshot()
        sources: list[dict] = []
        with staged_file(path, overwrite=True) as staging, open(staging, "w", encoding="utf-8") as handle:
            writer = JsonLogWriter(handle, {**self.meta, "labels": snapshot[0]})
            for record in self.frames(snapshot):
                if not sources or sources[-1]["source"] != record["source"]:
                    sources.append({"source": record["source"], "started": record["wall_clock"], "frames": 0})
                sources[-1]["frames"] += 1
                writer.add(record)
            writer.close({"sources": sources})
        self._exported_faces = max(self._exported_faces, snapshot[3])

    def write(self, path: str | Path) -> None:
        """CSV or JSON by file suffix; written whole or not at all (an existing file stays as it was on failure)."""
        if str(path).lower().endswith(".json"):
            self.write_json(path)
        else:
            self.write_csv(path)

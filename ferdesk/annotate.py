"""`ferdesk annotate`: run the pipeline over a video file, an image or a folder of images, headless.

Every frame is read in order straight from the source (never through the threaded grabber, which drops
frames). With `--every N` only frames 0, N, 2N, ... are analysed, and only those are written to the
annotated video (at fps/N) and logged: the output never shows an overlay that belongs to another frame.

Outputs go to hidden temporary siblings (`.name.partial.ext`) and are renamed into place only once the
whole input has been processed, so a file with the requested name is always complete. On an error or
Ctrl-C the partial files are removed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ferdesk import __version__
from ferdesk.sources import IMAGE_SUFFIXES, FrameSource, ImageSource, SourceError, VideoFileSource

VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG"}
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class AnnotateError(Exception):
    """A problem the user can fix (input, output or model); reported in one line with exit code 2."""


# ------------------------------------------------------------------------------------------ arguments


def build_parser() -> argparse.ArgumentParser:
    from ferdesk.pipeline import DEFAULT_MODEL

    p = argparse.ArgumentParser(
        prog="ferdesk annotate",
        description="Detect faces and classify their expressions in a video, an image or a folder of images; "
        "write an annotated copy and/or a per-face log.",
        epilog="With --every N only every Nth frame is analysed; only those frames are written (video at fps/N) "
        "and logged. Outputs appear only when the whole input was processed.",
    )
    p.add_argument("input", help="video file (.mp4, .avi, ...), image file, or folder of images")
    p.add_argument("--out", help="annotated output: OUT.mp4 (mp4v) or OUT.avi (MJPG) for a video; "
                   "a folder for images (annotated PNGs with the same file names)")
    p.add_argument("--csv", help="per-frame, per-face CSV log")
    p.add_argument("--json", help="per-frame JSON log (frames without faces included)")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help=f"model folder (default: {DEFAULT_MODEL})")
    p.add_argument("--every", type=int, default=1, metavar="N",
                   help="analyse frames 0, N, 2N, ... only; only those are annotated, written and logged "
                   "(default: 1: every frame)")
    p.add_argument("--min-confidence", type=float, default=0.5, metavar="X",
                   help="face-detector score threshold in [0, 1] (default: 0.5)")
    p.add_argument("--smoothing", type=float, default=0.4, metavar="A",
                   help="weight of the newest probabilities per track, in (0, 1]; 1 = no smoothing (default: 0.4)")
    p.add_argument("--sequence", action="store_true",
                   help="treat an image folder as consecutive frames (track and smooth across images); "
                   "by default each image is analysed on its own")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _check_args(args: argparse.Namespace) -> None:
    if args.every < 1:
        raise AnnotateError(f"--every must be at least 1, got {args.every}")
    if not 0.0 <= args.min_confidence <= 1.0:
        raise AnnotateError(f"--min-confidence must lie in [0, 1], got {args.min_confidence}")
    if not 0.0 < args.smoothing <= 1.0:
        raise AnnotateError(f"--smoothing must lie in (0, 1], got {args.smoothing}")
    if not (args.out or args.csv or args.json):
        raise AnnotateError("nothing to write: give --out, --csv and/or --json")


# ---------------------------------------------------------------------------------------------- input


def open_input(path: Path) -> FrameSource:
    """An opened ImageSource or VideoFileSource for the path, or AnnotateError saying why not."""
    if not path.exists():
        raise AnnotateError(f"input not found: {path}")
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        source: FrameSource = ImageSource(path, fps=1.0)  # fps 1: an image's timestamp_s is its index
    elif path.is_file():
        source = VideoFileSource(path)
    else:
        raise AnnotateError(f"input is neither a file nor a folder: {path}")
    try:
        source.open()
    except SourceError as exc:
        if isinstance(source, VideoFileSource):
            raise AnnotateError(
                f"cannot read {path} as a video (unknown format or damaged file); images must end in "
                f"{', '.join(sorted(IMAGE_SUFFIXES))}"
            ) from None
        raise AnnotateError(str(exc)) from None
    except OSError as exc:
        raise AnnotateError(f"cannot read {path}: {exc.strerror or exc}") from None
    if isinstance(source, VideoFileSource) and _is_text_played_as_video(path):
        source.close()
        raise AnnotateError(f"cannot read {path} as a video: it is a text file")
    return source


def _is_text_played_as_video(path: Path) -> bool:
    """FFmpeg's tty demuxer 'plays' .txt/.nfo/... files as ANSI-art frames; that is never what the user meant."""
    cap = cv2.VideoCapture(str(path))
    try:
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF if cap.isOpened() else 0
    finally:
        cap.release()
    return fourcc.to_bytes(4, "little") == b"ansi"


def image_output_names(paths: list[Path]) -> dict[Path, str]:
    """Output PNG name per input image: same stem, or the full name plus .png where two stems collide."""
    stems: dict[str, int] = {}
    for p in paths:
        stems[p.stem] = stems.get(p.stem, 0) + 1
    return {p: (p.stem if stems[p.stem] == 1 else p.name) + ".png" for p in paths}


# --------------------------------------------------------------------------------------------- output


def partial_path(path: Path) -> Path:
    """Hidden sibling that keeps the suffix (OpenCV picks the container from it): out.mp4 -> .out.partial.mp4."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


@dataclass
class Outputs:
    """Every file being written, under its partial name until commit()."""

    pending: list[tuple[Path, Path]] = field(default_factory=list)  # (partial, final)
    created_dirs: list[Path] = field(default_factory=list)

    def add(self, final: Path) -> Path:
        partial = partial_path(final)
        self.pending.append((partial, final))
        return partial

    def commit(self) -> None:
        for partial, final in self.pending:
            os.replace(partial, final)
        self.pending.clear()
        self.created_dirs.clear()

    def discard(self) -> None:
        for partial, _ in self.pending:
            try:
                partial.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                print(f"ferdesk annotate: could not remove {partial}: {exc}", file=sys.stderr)
        self.pending.clear()
        for folder in reversed(self.created_dirs):
            try:
                folder.rmdir()  # only if still empty
            except OSError:
                pass
        self.created_dirs.clear()


def _check_output_file(path: Path, what: str, suffixes: tuple[str, ...] | None = None) -> None:
    if suffixes and path.suffix.lower() not in suffixes:
        raise AnnotateError(f"{what} {path}: unsupported suffix {path.suffix or '(none)'}; use {' or '.join(suffixes)}")
    if path.is_dir():
        raise AnnotateError(f"{what} {path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise AnnotateError(f"{what} {path}: folder {path.parent} does not exist")


class VideoOutput:
    """An annotated video opened lazily on the first frame, whose size it takes."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps
        self.frames = 0
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            self._size = (frame.shape[1], frame.shape[0])
            fourcc = cv2.VideoWriter_fourcc(*VIDEO_CODECS[self.path.suffix.lower()])
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, self._size)
            if not self._writer.isOpened():
                raise AnnotateError(f"cannot write video {self.path} (codec {VIDEO_CODECS[self.path.suffix.lower()]})")
        if (frame.shape[1], frame.shape[0]) != self._size:  # a stream that changes size mid-way
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


def write_png(path: Path, image: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise AnnotateError(f"cannot encode {path.name} as PNG")
    try:
        path.write_bytes(data.tobytes())
    except OSError as exc:
        raise AnnotateError(f"cannot write {path}: {exc.strerror or exc}") from None


# ------------------------------------------------------------------------------------------------ run


def _frames(source: FrameSource) -> Iterator[tuple[int, np.ndarray, float, Path | None]]:
    """(index, BGR frame, timestamp, image path or None) for every frame, in order."""
    index = 0
    while True:
        ok, frame, timestamp = source.read()
        if not ok:
            if source.ended:
                return
            raise AnnotateError(f"reading {source.name} failed at frame {index}")
        path = source.current_path if isinstance(source, ImageSource) else None
        yield index, frame, timestamp, path
        index += 1


def _progress(total: int | None, disable: bool):
    from tqdm import tqdm

    # disable=None: only on a terminal, so logs and pipes stay clean.
    return tqdm(total=total, unit="frame", file=sys.stderr, disable=True if disable else None,
                dynamic_ncols=True, leave=False)


def _load_pipeline(model: Path, min_confidence: float, smoothing: float):
    from ferdesk.model_card import ModelFolderError
    from ferdesk.pipeline import DEFAULT_MODEL, EmotionPipeline

    if not model.exists():
        default = model.resolve() == DEFAULT_MODEL.resolve()
        hint = ("train one with ferdesk-train and copy it there, or pass --model DIR" if default
                else "pass --model with a model folder (card.json + model.tflite)")
        raise AnnotateError(f"model folder not found: {model}{' (the default model)' if default else ''}; {hint}")
    try:
        return EmotionPipeline(model, min_confidence=min_confidence, smoothing=smoothing)
    except ModelFolderError as exc:
        raise AnnotateError(f"unusable model folder: {exc}") from None
    except FileNotFoundError as exc:  # the face-detector model file
        raise AnnotateError(str(exc)) from None


def annotate(args: argparse.Namespace) -> str:
    """Do the work; return the summary line. Raises AnnotateError for anything the user can fix."""
    _check_args(args)
    source = open_input(Path(args.input).expanduser())
    outputs = Outputs()
    pipeline = None
    video: VideoOutput | None = None
    try:
        is_video = isinstance(source, VideoFileSource)
        out = Path(args.out).expanduser() if args.out else None
        out_names: dict[Path, str] = {}
        if out is not None:
            if is_video:
                _check_output_file(out, "--out", tuple(VIDEO_CODECS))
                video = VideoOutput(outputs.add(out), (source.fps or VideoFileSource.DEFAULT_FPS) / args.every)
            else:
                assert isinstance(source, ImageSource)
                folder = source.path if source.path.is_dir() else source.path.parent
                if out.resolve() == folder.resolve():
                    raise AnnotateError(f"--out {out} is the input folder; choose another folder")
                if out.suffix.lower() in VIDEO_CODECS or out.is_file():
                    raise AnnotateError(f"--out {out}: image input writes PNGs into a folder; give a folder")
                if not out.exists():
                    if not out.parent.is_dir():
                        raise AnnotateError(f"--out {out}: folder {out.parent} does not exist")
                    out.mkdir()
                    outputs.created_dirs.append(out)
                out_names = image_output_names(source.paths)
        csv_path = Path(args.csv).expanduser() if args.csv else None
        json_path = Path(args.json).expanduser() if args.json else None
        for path, what in ((csv_path, "--csv"), (json_path, "--json")):
            if path is not None:
                _check_output_file(path, what)
        finals = [p.resolve() for p in (out if is_video else None, csv_path, json_path) if p is not None]
        if Path(args.input).expanduser().resolve() in finals:
            raise AnnotateError("an output file is the input file; choose another name")
        if len(set(finals)) < len(finals):
            raise AnnotateError("two outputs have the same file name")

        pipeline = _load_pipeline(Path(args.model).expanduser(), args.min_confidence, args.smoothing)
        from ferdesk.facelog import FaceLog

        log = FaceLog(pipeline.labels, {
            "ferdesk": __version__,
            "model": pipeline.classifier.card.name,
            "model_dir": str(Path(args.model).expanduser()),
            "input": str(Path(args.input).expanduser()),
            "input_kind": "video" if is_video else "images",
            "fps": source.fps if is_video else None,
            "every": args.every,
            "min_confidence": args.min_confidence,
            "smoothing": args.smoothing,
        })
        total = source.frame_count
        read_names: list[str] = []  # image inputs: the file behind each frame index (unreadable files skipped)
        read = processed = faces = 0
        with _progress(total, args.no_progress) as bar:
            for index, frame, timestamp, image_path in _frames(source):
                read += 1
                bar.update(1)
                if image_path is not None:
                    read_names.append(image_path.name)
                if index % args.every:
                    continue
                if not is_video and not args.sequence:
                    pipeline.tracker.reset()  # separate photos: no tracks or smoothing across them
                result = pipeline.process(frame, timestamp=timestamp, index=index, annotate=out is not None)
                processed += 1
                faces += len(result.faces)
                log.add(result)
                if image_path is not None:  # JSON names the image; a CSV row's frame indexes meta["files"]
                    log.frames[-1]["file"] = image_path.name
                if video is not None:
                    video.write(result.annotated)
                elif out is not None and image_path is not None:
                    write_png(outputs.add(out / out_names[image_path]), result.annotated)
        if processed == 0:
            raise AnnotateError(f"no readable frames in {args.input}")
        if video is not None:
            video.close()
        log.meta.update(frames_read=read, frames_processed=processed)
        if not is_video:
            log.meta["files"] = read_names
        if csv_path is not None:
            log.write_csv(outputs.add(csv_path))
        if json_path is not None:
            log.write_json(outputs.add(json_path))
        written = [str(path) for path in (out if is_video else None, csv_path, json_path) if path is not None]
        if out is not None and not is_video:
            written.insert(0, f"{out}{os.sep} ({processed} PNG)")
        outputs.commit()
        return (f"{read} frames read, {processed} analysed, {faces} faces found"
                + (f" -> {', '.join(written)}" if written else ""))
    except BaseException:
        if video is not None:
            video.close()
        outputs.discard()
        raise
    finally:
        source.close()
        if pipeline is not None:
            pipeline.close()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return int(exc.code or 0)
    try:
        summary = annotate(args)
    except AnnotateError as exc:
        print(f"ferdesk annotate: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except SourceError as exc:  # e.g. the video changed or vanished while being read
        print(f"ferdesk annotate: error: {exc}; no output written", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"ferdesk annotate: error: {exc}; no output written", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("ferdesk annotate: interrupted; partial outputs removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())

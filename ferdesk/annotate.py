"""`ferdesk annotate`: run the pipeline over a video file, an image or a folder of images, headless.

Every frame is read in order straight from the source (never through the threaded grabber, which drops
frames). With `--every N` only frames 0, N, 2N, ... are analysed, and only those are written to the
annotated video (at fps/N) and logged: the output never shows an overlay that belongs to another frame.

Outputs go to hidden staging siblings (`.name.partial-PID.ext`, ferdesk.outputs), created before any frame is read
(so an unwritable place is found at once) and renamed into place only once the whole input has been processed, so
a file with the requested name is always complete. The CSV and JSON logs are written frame by frame into their
partial files, so memory does not grow with the length of the input. On an error, Ctrl-C, SIGTERM or SIGHUP
the partial files are removed.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import cv2
import numpy as np

from ferdesk import __version__
from ferdesk.argtypes import float_in, int_at_least
from ferdesk.defaults import MIN_CONFIDENCE, SMOOTHING
from ferdesk.media import IMAGE_SUFFIXES, VIDEO_CODECS, VideoWriteError, VideoWriter
from ferdesk.outputs import StagedFiles
from ferdesk.signals import ctrl_c_held
from ferdesk.sources import FrameSource, ImageSource, SourceError, VideoFileSource, open_source

if TYPE_CHECKING:
    from ferdesk.pipeline import EmotionPipeline

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # Ctrl-C; SIGTERM and SIGHUP exit with 128 + their number, as the shell reports them
CLEAN_EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class AnnotateError(Exception):
    """A problem the user can fix (input, output or model); reported in one line with exit code 2."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, so the partial outputs are removed."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# ------------------------------------------------------------------------------------------ arguments


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ferdesk annotate",
        description="Detect faces and classify their expressions in a video, an image or a folder of images; "
        "write an annotated copy and/or a per-face log.",
        epilog="With --every N only every Nth frame is analysed; only those frames are written (video at fps/N) "
        "and logged. Outputs appear only when the whole input was processed.",
    )
    p.add_argument("input", help="video file (.mp4, .avi, ...), image file, or folder of images")
    _add_output_options(p)
    _add_analysis_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        help="annotated output: OUT.mp4 (mp4v) or OUT.avi (MJPG) for a video; "
        "an image file (OUT.png, OUT.jpg, ...) for an image; a folder for images "
        "(annotated PNGs with the same file names)",
    )
    p.add_argument("--csv", help="per-frame, per-face CSV log")
    p.add_argument("--json", help="per-frame JSON log (frames without faces included)")


def _add_analysis_options(p: argparse.ArgumentParser) -> None:
    from ferdesk.detect import DETECTOR_MODES
    from ferdesk.pipeline import DEFAULT_MODEL

    p.add_argument("--model", default=str(DEFAULT_MODEL), help=f"model folder (default: {DEFAULT_MODEL})")
    p.add_argument(
        "--every",
        type=int_at_least(1),
        default=1,
        metavar="N",
        help="analyse frames 0, N, 2N, ... only; only those are annotated, written and logged "
        "(default: 1: every frame)",
    )
    p.add_argument(
        "--min-confidence",
        type=float_in(0.0, 1.0),
        default=MIN_CONFIDENCE,
        metavar="X",
        help=f"face-detector score threshold in [0, 1] (default: {MIN_CONFIDENCE})",
    )
    p.add_argument(
        "--smoothing",
        type=float_in(0.0, 1.0, low_open=True),
        default=SMOOTHING,
        metavar="A",
        help=f"weight of the newest probabilities per track, in (0, 1]; 1 = no smoothing (default: {SMOOTHING})",
    )
    p.add_argument(
        "--detector",
        choices=list(DETECTOR_MODES),
        default="auto",
        help="where to look for faces: "
        + "; ".join(f"{k}: {v}" for k, v in DETECTOR_MODES.items())
        + " (default: auto)",
    )
    p.add_argument(
        "--sequence",
        action="store_true",
        help="treat an image folder as consecutive frames (track and smooth across images); "
        "by default each image is analysed on its own",
    )


def resolved(path: Path, what: str) -> Path:
    """path.resolve(), with a symbolic-link loop reported as the user's problem it is."""
    try:
        return path.resolve()
    except (RuntimeError, OSError) as exc:  # Python < 3.13 raises RuntimeError("Symlink loop ...")
        if isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP:
            raise AnnotateError(f"{what} {path}: symbolic link loop") from None
        raise AnnotateError(f"{what} {path}: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------------------------------- input


def open_input(path: Path) -> FrameSource:
    """An opened ImageSource or VideoFileSource for the path (sources.open_source), or AnnotateError saying why not."""
    resolved(path, "input")
    try:
        source = open_source(path, files_only=True, fps=1.0)  # fps 1: an image's timestamp_s is its index
    except SourceError as exc:
        raise AnnotateError(f"input {exc}") from None
    try:
        source.open()
    except SourceError as exc:
        if isinstance(source, VideoFileSource) and not str(exc).endswith("it is a text file"):
            raise AnnotateError(
                f"cannot read {path} as a video (unknown format or damaged file); images must end in "
                f"{', '.join(sorted(IMAGE_SUFFIXES))}"
            ) from None
        raise AnnotateError(str(exc)) from None
    except OSError as exc:
        raise AnnotateError(f"cannot read {path}: {exc.strerror or exc}") from None
    return source


def image_output_names(paths: list[Path]) -> dict[Path, str]:
    """Output PNG name per input image: same stem, or the full name plus .png where two stems collide."""
    stems: dict[str, int] = {}
    for p in paths:
        stems[p.stem] = stems.get(p.stem, 0) + 1
    return {p: (p.stem if stems[p.stem] == 1 else p.name) + ".png" for p in paths}


# --------------------------------------------------------------------------------------------- output


def write_failure(final: Path, exc: OSError) -> AnnotateError:
    """One line naming the file the user asked for (never its hidden staging name) and the reason."""
    reason = "no space left on device" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
    return AnnotateError(f"cannot write {final}: {reason}")


class Outputs:
    """Every file being written, under its staging name (ferdesk.outputs) until commit(); errors name the final
    file. Also the folder made for annotated images, removed again on discard() if it stayed empty."""

    def __init__(self) -> None:
        self.files = StagedFiles(overwrite=True)
        self.created_dirs: list[Path] = []

    def create(self, final: Path) -> Path:
        """Create the staging file now, so an unwritable place or a full disk shows before the work."""
        try:
            return self.files.add(final)
        except OSError as exc:
            raise write_failure(final, exc) from None

    def commit(self) -> None:
        try:
            self.files.publish()
        except OSError as exc:
            raise write_failure(Path(exc.filename), exc) from None
        self.created_dirs.clear()

    def discard(self) -> None:
        self.files.discard()
        for folder in reversed(self.created_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty
        self.created_dirs.clear()


def _check_output_file(path: Path, what: str, suffixes: tuple[str, ...] | None = None) -> None:
    if suffixes and path.suffix.lower() not in suffixes:
        raise AnnotateError(f"{what} {path}: unsupported suffix {path.suffix or '(none)'}; use {' or '.join(suffixes)}")
    resolved(path, what)
    if path.is_dir():
        raise AnnotateError(f"{what} {path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise AnnotateError(f"{what} {path}: folder {path.parent} does not exist")


def write_image(partial: Path, final: Path, image: np.ndarray) -> None:
    """Encode in the final name's format (PNG, JPEG, ...) and write it under the partial name."""
    ok, data = cv2.imencode(final.suffix.lower(), image)
    if not ok:
        raise AnnotateError(f"cannot encode {final.name} as {final.suffix}")
    try:
        partial.write_bytes(data.tobytes())
    except OSError as exc:
        raise write_failure(final, exc) from None


class LogStreams:
    """The CSV and JSON logs, written frame by frame into their partial files."""

    def __init__(self, outputs: Outputs, csv_path: Path | None, json_path: Path | None, labels: list[str], head: dict):
        from ferdesk.facelog import CsvLogWriter, JsonLogWriter

        self._streams: list[tuple[object, TextIO, Path]] = []  # (writer, file, final path)
        self._json = None
        for final, make, newline in (
            (csv_path, lambda h: CsvLogWriter(h, labels, file_column=True), ""),
            (json_path, lambda h: JsonLogWriter(h, {**head, "labels": labels}), None),
        ):
            if final is None:
                continue
            partial = outputs.create(final)
            with self._reporting(final):
                handle = open(partial, "w", encoding="utf-8", newline=newline)
                self._streams.append((make(handle), handle, final))
                handle.flush()
        if json_path is not None:
            self._json = self._streams[-1]

    @staticmethod
    @contextlib.contextmanager
    def _reporting(final: Path) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise write_failure(final, exc) from None

    def add(self, record: dict) -> None:
        for writer, handle, final in self._streams:
            with self._reporting(final):
                writer.add(record)
                handle.flush()  # a full disk shows at the frame it happens, not at the end

    def finish(self, tail: dict) -> None:
        if self._json is not None:
            writer, _, final = self._json
            with self._reporting(final):
                writer.close(tail)
        self.close()

    def close(self) -> None:
        streams, self._streams = self._streams, []
        for _, handle, final in streams:
            with self._reporting(final):
                handle.close()


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
    return tqdm(
        total=total, unit="frame", file=sys.stderr, disable=True if disable else None, dynamic_ncols=True, leave=False
    )


def _load_pipeline(model: Path, min_confidence: float, smoothing: float, detector_mode: str = "auto"):
    from ferdesk.model_card import ModelFolderError
    from ferdesk.pipeline import DEFAULT_MODEL, EmotionPipeline

    resolved(model, "--model")
    if not model.exists():
        default = model.resolve() == DEFAULT_MODEL.resolve()
        hint = (
            "train one with ferdesk-train and copy it there, or pass --model DIR"
            if default
            else "pass --model with a model folder (card.json + model.tflite)"
        )
        raise AnnotateError(f"model folder not found: {model}{' (the default model)' if default else ''}; {hint}")
    try:
        with ctrl_c_held():  # MediaPipe and LiteRT load here
            return EmotionPipeline(model, detector_mode, min_confidence=min_confidence, smoothing=smoothing)
    except ModelFolderError as exc:
        raise AnnotateError(f"unusable model folder: {exc}") from None
    except FileNotFoundError as exc:  # the face-detector model file
        raise AnnotateError(str(exc)) from None


def warn(text: str) -> None:
    print(f"ferdesk annotate: warning: {text}", file=sys.stderr)


@dataclass
class OutputPlan:
    """The outputs the user asked for, every path checked before any work starts."""

    out: Path | None  # --out as given: a video, an image file or a folder
    out_file: Path | None  # --out when it is one file: the annotated video or the one annotated image
    csv: Path | None
    json: Path | None
    image_names: dict[Path, str]  # --out as a folder: the PNG name for each input image

    @property
    def out_folder(self) -> Path | None:
        return self.out if self.out_file is None else None

    def written(self, processed: int) -> list[str]:
        """The outputs, as the summary line names them."""
        written = [str(path) for path in (self.out_file, self.csv, self.json) if path is not None]
        if self.out_folder is not None:
            written.insert(0, f"{self.out_folder}{os.sep} ({processed} PNG)")
        return written


def plan_outputs(args: argparse.Namespace, input_path: Path, source: FrameSource) -> OutputPlan:
    """Check every output path against the input and each other; AnnotateError says what is wrong."""
    out = Path(args.out).expanduser() if args.out else None
    out_file: Path | None = None
    image_names: dict[Path, str] = {}
    if out is not None and isinstance(source, VideoFileSource):
        _check_output_file(out, "--out", tuple(VIDEO_CODECS))
        out_file = out
    elif out is not None:
        assert isinstance(source, ImageSource)
        out_file, image_names = _plan_image_output(out, source)
    csv_path = Path(args.csv).expanduser() if args.csv else None
    json_path = Path(args.json).expanduser() if args.json else None
    for path, what in ((csv_path, "--csv"), (json_path, "--json")):
        if path is not None:
            _check_output_file(path, what)
    finals = [p.resolve() for p in (out_file, csv_path, json_path) if p is not None]
    if input_path.resolve() in finals:
        raise AnnotateError("an output file is the input file; choose another name")
    if len(set(finals)) < len(finals):
        raise AnnotateError("two outputs have the same file name")
    return OutputPlan(out, out_file, csv_path, json_path, image_names)


def _plan_image_output(out: Path, source: ImageSource) -> tuple[Path | None, dict[Path, str]]:
    """--out for image input: (out, {}) for one image into one image file, (None, PNG names) for a folder."""
    folder = source.path if source.path.is_dir() else source.path.parent
    image_suffix = out.suffix.lower() in IMAGE_SUFFIXES and not out.is_dir()
    if image_suffix and source.path.is_file():
        _check_output_file(out, "--out")
        return out, {}
    if image_suffix:
        raise AnnotateError(f"--out {out}: a folder of images is annotated into a folder; give a folder name")
    if resolved(out, "--out") == folder.resolve():
        raise AnnotateError(f"--out {out} is the input folder; choose another folder")
    if out.suffix.lower() in VIDEO_CODECS or out.is_file():
        raise AnnotateError(
            f"--out {out}: image input is annotated into an image file "
            f"({', '.join(sorted(IMAGE_SUFFIXES))}) or a folder"
        )
    return None, image_output_names(source.paths)


@dataclass
class Tally:
    """What the frame loop counted."""

    total: int | None  # frames the input announces (a video's header), if known
    read: int = 0
    processed: int = 0
    faces: int = 0
    read_names: list[str] = field(default_factory=list)  # image input: the file behind each frame index


class AnnotateRun:
    """One run, step by step; as a context manager it removes the partial outputs on any error, Ctrl-C or
    signal, and always closes the input and the pipeline."""

    def __init__(self, args: argparse.Namespace, input_path: Path, source: FrameSource):
        self.args, self.input_path, self.source = args, input_path, source
        self.is_video = isinstance(source, VideoFileSource)
        self.outputs = Outputs()
        self.plan: OutputPlan | None = None
        self.pipeline: EmotionPipeline | None = None
        self.video: VideoWriter | None = None
        self.partial_image: Path | None = None  # one image in, one image out
        self.logs: LogStreams | None = None

    def __enter__(self) -> AnnotateRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is not None:
                self._discard()
        finally:
            self.source.close()
            if self.pipeline is not None:
                self.pipeline.close()

    def _discard(self) -> None:
        if self.video is not None:
            self.video.close(check=False)
        if self.logs is not None:
            with contextlib.suppress(AnnotateError):
                self.logs.close()
        self.outputs.discard()

    def create_outputs(self, plan: OutputPlan) -> None:
        """The output folder and the staging files for the video or image, made now so a problem shows at once."""
        self.plan = plan
        folder = plan.out_folder
        if folder is not None and not folder.exists():
            if not folder.parent.is_dir():
                raise AnnotateError(f"--out {folder}: folder {folder.parent} does not exist")
            try:
                folder.mkdir()
            except OSError as exc:
                raise AnnotateError(f"cannot create folder {folder}: {exc.strerror or exc}") from None
            self.outputs.created_dirs.append(folder)
        if self.is_video and plan.out is not None:
            fps = (self.source.fps or VideoFileSource.DEFAULT_FPS) / self.args.every
            self.video = VideoWriter(self.outputs.create(plan.out), fps, name=plan.out)
        elif plan.out_file is not None:
            self.partial_image = self.outputs.create(plan.out_file)

    def load_pipeline(self) -> None:
        args = self.args
        self.pipeline = _load_pipeline(
            Path(args.model).expanduser(), args.min_confidence, args.smoothing, args.detector
        )

    def open_logs(self) -> None:
        """The CSV and JSON logs, their JSON head naming the model, the input and the settings."""
        args, plan = self.args, self.plan
        head = {
            "ferdesk": __version__,
            "model": self.pipeline.classifier.card.name,
            "model_dir": str(Path(args.model).expanduser()),
            "input": str(self.input_path),
            "input_kind": "video" if self.is_video else "images",
            "fps": self.source.fps if self.is_video else None,
            "every": args.every,
            "min_confidence": args.min_confidence,
            "smoothing": args.smoothing,
        }
        self.logs = LogStreams(self.outputs, plan.csv, plan.json, self.pipeline.labels, head)

    def analyse_frames(self) -> Tally:
        """Every Nth frame through the pipeline, logged and (with --out) written annotated."""
        from ferdesk.facelog import frame_record

        args, tally = self.args, Tally(total=self.source.frame_count)
        with _progress(tally.total, args.no_progress) as bar:
            for index, frame, timestamp, image_path in _frames(self.source):
                tally.read += 1
                bar.update(1)
                if image_path is not None:
                    tally.read_names.append(image_path.name)
                if index % args.every:
                    continue
                if not self.is_video and not args.sequence:
                    self.pipeline.reset()  # separate photos: no tracks, smoothing or faces carried across them
                result = self.pipeline.process(
                    frame, timestamp=timestamp, index=index, annotate=self.plan.out is not None
                )
                tally.processed += 1
                tally.faces += len(result.faces)
                # Every CSV row and JSON frame names its file: the image's, or the video's for all of its frames.
                self.logs.add(frame_record(result, (image_path or self.input_path).name))
                self._write_annotated(result.annotated, image_path)
        return tally

    def _write_annotated(self, annotated: np.ndarray | None, image_path: Path | None) -> None:
        plan = self.plan
        if self.video is not None:
            self.video.write(annotated)
        elif self.partial_image is not None:
            write_image(self.partial_image, plan.out_file, annotated)
        elif plan.out is not None and image_path is not None:
            final = plan.out / plan.image_names[image_path]
            write_image(self.outputs.create(final), final, annotated)

    def finish(self, tally: Tally) -> str:
        """Close the video and logs, put every output in place, and return the summary line."""
        if tally.processed == 0:
            raise AnnotateError(f"no readable frames in {self.args.input}")
        if self.video is not None:
            self.video.close()
        ended_early = self.is_video and tally.total is not None and tally.read < tally.total
        log_tail: dict = {"frames_read": tally.read, "frames_processed": tally.processed}
        if ended_early:
            log_tail["frames_expected"] = tally.total
        if not self.is_video:
            log_tail["files"] = tally.read_names
        self.logs.finish(log_tail)
        written = self.plan.written(tally.processed)
        self.outputs.commit()
        if ended_early:
            warn(
                f"{self.input_path} ended early: {tally.read} of the {tally.total} frames its header announces could "
                "be read (truncated or damaged file?); the outputs cover those frames"
            )
        return (
            f"{tally.read} frames read"
            + (f" of {tally.total} expected" if ended_early else "")
            + f", {tally.processed} analysed, {tally.faces} faces found"
            + (f" -> {', '.join(written)}" if written else "")
        )


def annotate(args: argparse.Namespace) -> str:
    """Do the work; return the summary line. Raises AnnotateError for anything the user can fix."""
    if not (args.out or args.csv or args.json):
        raise AnnotateError("nothing to write: give --out, --csv and/or --json")
    input_path = Path(args.input).expanduser()
    with AnnotateRun(args, input_path, open_input(input_path)) as run:
        run.create_outputs(plan_outputs(args, input_path, run.source))
        run.load_pipeline()
        run.open_logs()
        tally = run.analyse_frames()
        return run.finish(tally)


@contextlib.contextmanager
def signals_unwind() -> Iterator[None]:
    """SIGTERM and SIGHUP raise Interrupted, so a killed run cleans up as Ctrl-C does (signals left ignored,
    e.g. by nohup, stay ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise Interrupted(signum)

    saved = {}
    for signum in CLEAN_EXIT_SIGNALS:
        if signal.getsignal(signum) is signal.SIG_DFL:
            saved[signum] = signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    try:
        with ctrl_c_held():  # the parser imports the pipeline's modules
            args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return int(exc.code or 0)
    except KeyboardInterrupt:
        print("ferdesk annotate: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        with signals_unwind():
            summary = annotate(args)
    except (AnnotateError, VideoWriteError) as exc:
        print(f"ferdesk annotate: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except SourceError as exc:  # e.g. the video changed or vanished while being read
        print(f"ferdesk annotate: error: {exc}; no output written", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"ferdesk annotate: error: {exc}; no output written", file=sys.stderr)
        return EXIT_ERROR
    except Interrupted as exc:
        print(f"ferdesk annotate: stopped by {exc}; partial outputs removed", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("ferdesk annotate: interrupted; partial outputs removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Outputs that appear whole or not at all: written under a hidden staging name, renamed into place on success.

Everything ferdesk and its trainer write for a user (model folders, sweeps, annotated videos and logs, caches)
goes through here, so a crash, Ctrl-C or a killed process never leaves a half-written file under the name the
user asked for, and a failure never replaces the output that was there before.

A staging name is the final name hidden and marked with this process's id, keeping the suffix (OpenCV, NumPy and
the LiteRT exporter pick the format from it): `out/model` -> `out/.model.partial-1234`, `clip.mp4` ->
`.clip.partial-1234.mp4`. `remove_leftovers` finds those of a process that was killed outright.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

MARK = ".partial-"


COMPOUND_SUFFIXES = (".weights.h5",)  # Keras refuses to write weights to a name without the whole ending


def _split(final: Path, is_dir: bool) -> tuple[str, str]:
    """(stem, suffix) of a final name; a folder keeps its whole name (models/cnn.v2 is not a .v2 file)."""
    if is_dir:
        return final.name, ""
    suffix = next((s for s in COMPOUND_SUFFIXES if final.name.endswith(s)), final.suffix)
    return final.name[: len(final.name) - len(suffix)], suffix


def staging_path(final: str | os.PathLike, is_dir: bool = False) -> Path:
    """The hidden sibling that `final` is written under by this process."""
    final = Path(final)
    stem, suffix = _split(final, is_dir)
    return final.with_name(f".{stem}{MARK}{os.getpid()}{suffix}")


def remove_leftovers(final: str | os.PathLike, is_dir: bool = False) -> list[Path]:
    """Remove the staging files or folders of `final` left by any process (e.g. one killed with SIGKILL, which
    cannot clean up); returns what was removed. Only call it when no other process is writing `final`."""
    final = Path(final)
    stem, suffix = _split(final, is_dir)
    removed = []
    for path in final.parent.glob(f".{glob.escape(stem)}{MARK}*{glob.escape(suffix)}"):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _refuse_existing(final: Path, overwrite: bool) -> None:
    """An existing output is replaced only when asked; an empty folder holds nothing to lose."""
    if overwrite or not final.exists():
        return
    if final.is_dir() and not any(final.iterdir()):
        return
    raise FileExistsError(f"{final} already exists")


def disk_nearly_full(folder: str | os.PathLike) -> bool:
    """Less than 1 MiB free: what a failed write most likely ran into when the writer gives no reason."""
    try:
        return shutil.disk_usage(folder).free < (1 << 20)
    except OSError:
        return False


# ------------------------------------------------------------------------------------------------ folders


@contextlib.contextmanager
def staged_folder(final: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty hidden folder to write into; on success it becomes `final`.

    Without overwrite an existing `final` (other than an empty folder) raises FileExistsError before anything is
    made. With it, the old folder is replaced only once the new one is complete, and put back if the swap fails.
    On any exception (KeyboardInterrupt included) the staging folder is removed and `final` is left as it was.
    """
    final = Path(final)
    _refuse_existing(final, overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(final, is_dir=True)
    shutil.rmtree(staging, ignore_errors=True)  # left by an earlier process that had this id
    staging.mkdir()
    try:
        yield staging
        _refuse_existing(final, overwrite)  # another process may have written it meanwhile
        _swap_in(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_in(staging: Path, final: Path) -> None:
    old = None
    if final.exists() or final.is_symlink():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    try:
        os.replace(staging, final)
    except BaseException:
        if old is not None:
            os.replace(old, final)
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


# -------------------------------------------------------------------------------------------------- files


class StagedFiles:
    """Files written under staging names and published together: all of them, or (on discard) none.

    Each staging file is created empty by `add`, so an unwritable place or a missing folder fails before any
    work. As a context manager: published on a normal exit, discarded on any exception.
    """

    def __init__(self, overwrite: bool = False) -> None:
        self.overwrite = overwrite
        self.pending: list[tuple[Path, Path]] = []  # (staging, final)

    def add(self, final: str | os.PathLike) -> Path:
        """Create and return the staging file for `final`. Raises OSError (e.g. a read-only folder) or, without
        overwrite, FileExistsError."""
        final = Path(final)
        _refuse_existing(final, self.overwrite)
        staging = staging_path(final)
        staging.open("wb").close()
        self.pending.append((staging, final))
        return staging

    def publish(self) -> None:
        """Rename every staging file to its final name. An OSError names the final file (its filename)."""
        while self.pending:
            staging, final = self.pending[0]
            _refuse_existing(final, self.overwrite)  # another process may have written it meanwhile
            try:
                os.replace(staging, final)
            except OSError as exc:  # os.replace names the staging file; the user knows the final one
                raise OSError(exc.errno, exc.strerror or str(exc), str(final)) from exc
            self.pending.pop(0)

    def discard(self) -> None:
        """Remove every staging file not yet published; a file that cannot be removed is logged, not raised."""
        pending, self.pending = self.pending, []
        for staging, _ in pending:
            try:
                staging.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not remove %s: %s", staging, exc.strerror or exc)

    def __enter__(self) -> StagedFiles:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            try:
                self.publish()
            except BaseException:
                self.discard()
                raise
        else:
            self.discard()


@contextlib.contextmanager
def staged_file(final: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield the (empty, already created) staging file for `final`, which it becomes on success; removed on any
    exception, leaving an existing `final` as it was."""
    with StagedFiles(overwrite) as files:
        yield files.add(final)

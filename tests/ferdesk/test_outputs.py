"""ferdesk.outputs: an output appears whole under its name, or not at all, and a failure never replaces the old one."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import REPO_ROOT
from ferdesk import outputs
from ferdesk.media import read_image


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def model_folder(root: Path, text: str) -> Path:
    root.mkdir(parents=True)
    (root / "card.json").write_text(text)
    return root


def test_a_folder_is_published_on_success_and_hidden_until_then(tmp_path):
    final = tmp_path / "models" / "new"  # the parent is made too
    with outputs.staged_folder(final) as staging:
        assert staging.parent == final.parent and staging.name.startswith(".new.partial-")
        (staging / "card.json").write_text("new")
        assert not final.exists()  # nothing under the final name while it is being written
    assert names(final.parent) == ["new"]
    assert (final / "card.json").read_text() == "new"


@pytest.mark.parametrize("error", [RuntimeError("fit failed"), KeyboardInterrupt()])
def test_a_failed_folder_leaves_nothing_and_the_old_one_intact(tmp_path, error):
    final = model_folder(tmp_path / "model", "old")
    with pytest.raises(type(error)):
        with outputs.staged_folder(final, overwrite=True) as staging:
            (staging / "card.json").write_text("half")
            raise error
    assert names(tmp_path) == ["model"]
    assert (final / "card.json").read_text() == "old"


def test_overwrite_replaces_only_when_asked(tmp_path):
    final = model_folder(tmp_path / "model", "old")
    body_ran = False
    with pytest.raises(FileExistsError, match="model already exists"):
        with outputs.staged_folder(final):
            body_ran = True
    assert not body_ran and names(tmp_path) == ["model"]  # refused before anything was made

    with outputs.staged_folder(final, overwrite=True) as staging:
        (staging / "report.md").write_text("new")
    assert names(tmp_path) == ["model"]  # the old folder, moved aside during the swap, is gone too
    assert names(final) == ["report.md"]

    empty = tmp_path / "empty"
    empty.mkdir()
    with outputs.staged_folder(empty) as staging:  # an empty folder holds nothing to lose
        (staging / "card.json").write_text("x")
    assert names(empty) == ["card.json"]


def test_a_failed_swap_puts_the_old_folder_back(tmp_path, monkeypatch):
    final = model_folder(tmp_path / "model", "old")
    replace = os.replace

    def failing_replace(src, dst):
        if Path(src).name.startswith(".model.partial-"):
            raise OSError(28, "No space left on device")
        replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space"):
        with outputs.staged_folder(final, overwrite=True) as staging:
            (staging / "card.json").write_text("new")
    assert names(tmp_path) == ["model"] and (final / "card.json").read_text() == "old"


def test_a_file_keeps_its_suffix_so_writers_pick_the_format(tmp_path):
    face = read_image(REPO_ROOT / "assets" / "demo" / "fer_happy.png")
    final = tmp_path / "face.png"
    with outputs.staged_file(final) as staging:
        assert staging.suffix == ".png" and staging.is_file() and staging.stat().st_size == 0  # made at once
        assert cv2.imwrite(str(staging), face)
    cache = tmp_path / "targets.npz"
    with outputs.staged_file(cache) as staging:
        np.savez(staging, targets=np.eye(3))  # savez adds no ".npz" of its own to a name that has it
    assert names(tmp_path) == ["face.png", "targets.npz"]
    np.testing.assert_array_equal(read_image(final), face)
    with np.load(cache) as stored:
        np.testing.assert_array_equal(stored["targets"], np.eye(3))


def test_files_are_published_together_or_not_at_all(tmp_path):
    old = tmp_path / "log.csv"
    old.write_text("old log")
    with pytest.raises(KeyboardInterrupt):
        with outputs.StagedFiles(overwrite=True) as files:
            files.add(old).write_text("new log")
            files.add(tmp_path / "clip.mp4").write_bytes(b"half a video")
            raise KeyboardInterrupt
    assert names(tmp_path) == ["log.csv"] and old.read_text() == "old log"

    with pytest.raises(FileExistsError):
        outputs.StagedFiles().add(old)  # without overwrite an existing file is never replaced
    with outputs.StagedFiles(overwrite=True) as files:
        files.add(old).write_text("new log")
        files.add(tmp_path / "clip.mp4").write_bytes(b"a video")
    assert names(tmp_path) == ["clip.mp4", "log.csv"] and old.read_text() == "new log"


def test_an_unwritable_place_fails_at_once_and_a_failed_publish_names_the_final_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        outputs.StagedFiles().add(tmp_path / "no-such-folder" / "log.csv")
    blocked = tmp_path / "out.json"
    files = outputs.StagedFiles(overwrite=True)
    files.add(blocked).write_text("{}")
    blocked.mkdir()  # a folder took the name meanwhile: the file cannot be renamed onto it
    (blocked / "keep").write_text("")
    with pytest.raises(OSError) as caught:
        with files:
            pass
    assert caught.value.filename == str(blocked)
    assert names(tmp_path) == ["out.json"] and names(blocked) == ["keep"]  # the staging file is gone


def test_leftovers_of_a_killed_process_are_found_and_only_they_are_removed(tmp_path):
    final = tmp_path / "run [1]"  # glob characters in the name are taken literally
    script = textwrap.dedent(f"""
        import os, signal
        from ferdesk import outputs
        with outputs.staged_folder({str(final)!r}) as staging:
            (staging / "model.keras").write_text("half")
            with outputs.staged_file({str(tmp_path / "log.csv")!r}) as log:
                log.write_text("half")
                os.kill(os.getpid(), signal.SIGKILL)  # as the GUI's Cancel or an out-of-memory killer does
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True)
    assert result.returncode == -9
    left = names(tmp_path)
    assert len(left) == 2 and all(".partial-" in name for name in left)  # nothing cleaned up after SIGKILL
    (tmp_path / "run 1").mkdir()
    (tmp_path / ".run 1.partial-7").mkdir()  # another output's staging folder stays
    (tmp_path / "log.json").write_text("{}")

    removed = outputs.remove_leftovers(final, is_dir=True)
    assert [p.name for p in removed] == [n for n in left if n.startswith(".run [1]")]
    assert [p.name for p in outputs.remove_leftovers(tmp_path / "log.csv")] == [n for n in left if "log" in n]
    assert names(tmp_path) == [".run 1.partial-7", "log.json", "run 1"]


def test_a_staging_file_keeps_the_whole_ending_a_writer_checks(tmp_path):
    # Keras writes weights only to a name ending .weights.h5; an image writer picks its codec from the last suffix.
    assert outputs.staging_path(tmp_path / "latest.weights.h5").name == f".latest.partial-{os.getpid()}.weights.h5"
    assert outputs.staging_path(tmp_path / "a.b.png").name == f".a.b.partial-{os.getpid()}.png"

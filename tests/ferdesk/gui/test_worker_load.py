"""Load controls in the real window on the demo source: the frame-rate cap, analysing one frame in N, and the load
figures in the status bar (frames analysed a second, frames dropped, CPU).

Counts are taken over a second or two of wall time with wide bounds: these check that the controls work, not how
fast this machine is (that is benchmarks/app_load.py). Fixtures come from conftest.py.
"""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest

from ferdesk.gui.worker import CpuMeter


def count_analyses(win) -> list[float]:
    """The moments (time.monotonic()) the worker starts analysing a frame, from now on."""
    calls = []
    pipeline = win.worker.pipeline
    process = pipeline.process

    def counted(*args, **kwargs):
        calls.append(time.monotonic())
        return process(*args, **kwargs)

    pipeline.process = counted
    return calls


def record_shown(win) -> list:
    """Every result the window takes from the worker, from now on."""
    taken = []
    take = win.worker.take_result

    def recorded():
        shown = take()
        if shown is not None:
            taken.append(shown)
        return shown

    win.worker.take_result = recorded
    return taken


def test_the_frame_rate_cap_limits_the_frames_analysed_and_counts_the_rest_as_dropped(window, qtbot, messages):
    window.frame_rate_actions[5].trigger()
    assert window.frame_rate_actions[5].isChecked() and window.settings.value("performance/max_fps") == 5
    qtbot.wait(400)  # the worker takes the command on its next turn
    calls = count_analyses(window)
    from_source, dropped = window.worker.frames_from_source, window.worker.frames_dropped
    qtbot.wait(2000)
    capped = list(calls)
    assert 4 <= len(capped) <= 12, f"{len(capped)} frames analysed in 2 s with a cap of 5 FPS"
    assert min(np.diff(capped)) > 0.15  # never two frames closer than 1/5 s, less a margin for the analysis time
    # The demo gives 30 frames a second: about 25 of them were never shown, and the status bar says so.
    gave, lost = window.worker.frames_from_source - from_source, window.worker.frames_dropped - dropped
    assert gave >= 30 and lost >= gave // 2
    qtbot.waitUntil(lambda: bool(re.search(r"Dropped \d+ of \d+ frames", window.status_label.text())), timeout=3000)

    window.frame_rate_actions[0].trigger()  # Off: as fast as the analysis goes
    qtbot.wait(400)
    calls.clear()
    qtbot.wait(1000)
    assert len(calls) > 3 and min(np.diff(list(calls))) < 0.15
    assert not messages


def test_analysing_every_third_frame_shows_the_others_with_the_last_faces(window, qtbot, messages):
    window.analyse_every_actions[3].trigger()
    assert window.settings.value("performance/analyse_every") == 3
    qtbot.wait(400)
    calls, taken, offered = count_analyses(window), record_shown(window), window.worker.frames_offered
    qtbot.wait(2000)
    offered = window.worker.frames_offered - offered
    assert offered >= 9 and len(calls) >= 2
    assert len(calls) * 3 <= offered + 3, f"{len(calls)} analyses for {offered} frames offered to the screen"
    analysed = [s for s in taken if s.analysed]
    reused = [s for s in taken if not s.analysed]
    assert len(reused) >= len(analysed) // 2  # the screen may miss a frame offered right after another
    # A frame not analysed is a new frame of the source, with the last analysis' boxes drawn on it.
    shown = next(s for s in reused if s.result.faces)
    assert shown.result.index not in {s.result.index for s in analysed}
    box = shown.result.faces[0].box
    x, y, h = int(box.x), int(box.y), int(box.h)
    assert np.any(shown.result.annotated[y : y + h, x : x + 3] != shown.result.frame[y : y + h, x : x + 3])
    assert "FPS analysed (" in window.status_label.text() and " shown)" in window.status_label.text()

    window.analyse_every_actions[1].trigger()  # every frame again
    qtbot.wait(400)
    taken.clear()
    qtbot.wait(1000)
    assert taken and all(s.analysed for s in taken)
    assert not messages


def test_load_settings_persist_and_reach_a_new_windows_worker(start_window, qtbot, gui_settings):
    first = start_window(source="demo")
    assert first.frame_rate_actions[0].isChecked() and first.analyse_every_actions[1].isChecked()  # the defaults
    first.frame_rate_actions[10].trigger()
    first.analyse_every_actions[2].trigger()
    first.close()

    second = start_window(source="demo")
    assert second.frame_rate_actions[10].isChecked() and second.analyse_every_actions[2].isChecked()
    assert (second.worker.max_fps, second.worker.analyse_every) == (10, 2)

    gui_settings.setValue("performance/max_fps", "7")  # not one of the choices (an edited settings file)
    gui_settings.setValue("performance/analyse_every", "two")
    third = start_window(source="demo")
    assert (third.worker.max_fps, third.worker.analyse_every) == (0, 1)


def test_the_status_bar_shows_analysed_fps_cpu_load_and_dropped_frames(window, qtbot):
    qtbot.waitUntil(lambda: "CPU" in window.status_label.text(), timeout=5000)
    text = window.status_label.text()
    fps = re.search(r"([\d.]+) FPS analysed", text)
    cpu = re.search(r"CPU (\d+)% of (\d+) cores", text)
    dropped = re.search(r"Dropped (\d+) of (\d+) frames", text)
    assert fps and cpu and dropped, text
    assert float(fps.group(1)) > 0 and 0 < int(cpu.group(1)) <= 100 and int(cpu.group(2)) == window.cpu_meter.cores
    assert int(dropped.group(1)) <= int(dropped.group(2)) > 0


def test_the_cpu_meter_sees_this_process_work():
    meter = CpuMeter()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:  # one core busy
        pass
    assert 100 / meter.cores / 8 < meter.read() <= 100 * 1.05


def test_the_load_benchmark_measures_each_setting(qapp, tmp_path, monkeypatch, capsys):
    from helpers import REPO_ROOT, load_module

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # what the script sets for itself: undone after the test
    monkeypatch.setenv("FERDESK_USER_MODELS", str(tmp_path / "models"))
    bench = load_module(REPO_ROOT / "benchmarks" / "app_load.py")
    out = tmp_path / "load.json"
    assert (
        bench.main(["--seconds", "1.5", "--warmup-s", "0.5", "--settings", "off,cap5+every2", "--json", str(out)]) == 0
    )
    report = json.loads(out.read_text())
    off, low = report["results"]
    assert (off["frame_rate_cap"], off["analyse_every"], low["frame_rate_cap"], low["analyse_every"]) == (0, 1, 5, 2)
    assert "CPU:" in capsys.readouterr().out and report["machine"]["cores"] >= 1
    for r in (off, low):
        assert 0 < r["cpu_percent_of_all_cores"] <= 100 * 1.05
        assert r["cpu_percent_of_one_core"] == pytest.approx(r["cpu_percent_of_all_cores"] * r["cores"], abs=0.2)
        assert (
            0 <= r["dropped_share"] <= 1 and r["analysed_per_s"] <= r["shown_per_s"] + 1 <= r["source_frames_per_s"] + 2
        )
    assert low["shown_per_s"] <= 5 * 1.4 and low["analysed_per_s"] <= low["shown_per_s"] * 0.5 + 1

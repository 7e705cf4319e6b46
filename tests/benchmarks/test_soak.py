"""benchmarks/soak.py runs the real app offscreen and its figures add up (how much memory grows is its own output)."""

from __future__ import annotations

import json

import pytest

from helpers import REPO_ROOT, run_cli


@pytest.mark.skipif(not (REPO_ROOT / "benchmarks" / "soak.py").exists(), reason="benchmarks/ not shipped")
def test_soak_runs_the_app_on_the_demo_and_samples_its_memory(tmp_path):
    out = tmp_path / "soak.json"
    result = run_cli(
        "benchmarks/soak.py",
        "--minutes",
        "0.4",
        "--warmup-min",
        "0.1",
        "--interval-s",
        "1",
        "--json",
        str(out),
        timeout=300,
    )  # soak.py runs Qt offscreen itself
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    samples = report["samples"]
    assert len(samples) >= 10 and report["machine"]["cpu"] in result.stdout
    assert samples[-1]["frames"] > 0 and samples[-1]["log_faces"] > 0  # the pipeline ran and the session logged
    assert [s["log_faces"] for s in samples] == sorted(s["log_faces"] for s in samples)
    assert all(s["rss_mb"] > 50 for s in samples)
    assert isinstance(report["rss_slope_mb_per_min"], float) and "MB/min" in result.stdout

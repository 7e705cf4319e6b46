"""`ferdesk-train --engine ray` on real faces: Ray started locally, and a real two-node Ray cluster on this machine.

Each run is tiny (cnn_small, 1 epoch, 2 folds, a few hundred sad/surprise faces); Ray itself takes most of the time.
The cluster (a head and a second node, one CPU each) is started and stopped here, in a temporary folder, with its own
token; nothing else on the machine is touched.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helpers import REPO_ROOT, run_cli, train_args
from ferdesk.model_card import read_card
from training.engine import FitJob
from training.progress import Progress
from training.sweep import parse_sweep, plan_configurations

pytest.importorskip("ray.tune", reason="Ray is the extra ferdesk[cluster]; make test installs it")

pytestmark = [pytest.mark.needs_data, pytest.mark.timeout(900)]
TINY = {"emotions": "sad,surprise", "folds": 2, "epochs": 1, "progress": "json"}
RAY_BIN = Path(sys.executable).with_name("ray")


def events(stdout: str) -> list[dict]:
    """Every stdout line of a --progress json run is a JSON event (the Retrain dialog reads them)."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def train(data, out, *, env=None, timeout=600, **flags) -> subprocess.CompletedProcess:
    result = run_cli(*train_args(data, **TINY, out=out, **flags), timeout=timeout, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def shape(value):
    """A JSON document's structure: keys and types, not values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__ if value is not None else "null"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_local_ray_gives_the_same_splits_and_report_as_in_process(small_study_csv, tmp_path):
    train(small_study_csv, tmp_path / "in-process", models="logreg,cnn_small")
    ray_run = train(small_study_csv, tmp_path / "ray", models="logreg,cnn_small", engine="ray", ray_cpus=2)
    local, on_ray = (json.loads((tmp_path / name / "report.json").read_text()) for name in ("in-process", "ray"))

    assert shape({k: v for k, v in local.items() if k != "engine"}) == shape(
        {k: v for k, v in on_ray.items() if k != "engine"}
    )
    assert local["engine"]["name"] == "in-process" and on_ray["engine"]["name"] == "ray"
    assert on_ray["engine"]["address"] == "local" and on_ray["engine"]["nodes"] == 1
    assert [f["fit"] for f in local["engine"]["fits"]] == [f["fit"] for f in on_ray["engine"]["fits"]]
    # The same held-out faces in every fold, and the deterministic baseline scores them identically.
    assert [f["held_out"] for f in local["engine"]["fits"]] == [f["held_out"] for f in on_ray["engine"]["fits"]]
    assert local["models"][0]["cv"]["fold_accuracy"] == on_ray["models"][0]["cv"]["fold_accuracy"]
    assert local["models"][0]["test"]["accuracy"] == on_ray["models"][0]["test"]["accuracy"]
    assert len(on_ray["models"][1]["cv"]["fold_accuracy"]) == 2 and on_ray["models"][1]["final_epochs"] == 1
    for name in ("in-process", "ray"):
        assert read_card(tmp_path / name).labels == ["sad", "surprise"]
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == sorted(
        p.name for p in (tmp_path / "in-process").iterdir()
    )

    progress = events(ray_run.stdout)
    assert sum(e["event"] == "fit_started" for e in progress) == 6
    assert sum(e["event"] == "fit_done" for e in progress) == 6
    assert {e["fit"] for e in progress if e["event"] == "epoch"} == {f["fit"] for f in on_ray["engine"]["fits"]}
    assert progress[-2]["event"] == "done"
    assert not list(tmp_path.glob(".*partial*"))


# Asks the cluster from a separate driver process: Ray reads its token settings once per process, at import.
CLUSTER_QUERY = """
import json, sys, time
import ray
ray.init(address=sys.argv[1], log_to_driver=False, logging_level="ERROR")
wanted, deadline = float(sys.argv[2]), time.monotonic() + float(sys.argv[3])
while True:
    alive = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    free = ray.available_resources().get("CPU", 0)
    if (len(alive) >= 2 and free >= wanted) or time.monotonic() > deadline:
        break
    time.sleep(1)
gpu_nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("GPU")]
print(json.dumps({"nodes": alive, "gpu_nodes": gpu_nodes, "free_cpus": free}))
"""


def query_cluster(cluster: dict, free_cpus: float = 0, timeout: float = 120) -> dict:
    """The cluster's live node ids, once both nodes are up and at least free_cpus are free (or timeout passed)."""
    result = subprocess.run(
        [sys.executable, "-c", CLUSTER_QUERY, cluster["address"], str(free_cpus), str(timeout)],
        capture_output=True,
        text=True,
        timeout=timeout + 120,
        env=cluster["env"],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def ray_cluster():
    """A head node and a second node (one CPU each) on this machine, with a token of their own. The head also
    declares one GPU: Ray's resources are logical, so fits can be placed on it here; on a machine without one,
    TensorFlow runs them on the CPU."""
    folder = Path(tempfile.mkdtemp(prefix="rc", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    # Ray Client's per-driver server must answer within 30 s by default; a loaded 2-core CI machine can take longer.
    env["RAY_CLIENT_SERVER_CHECK_CHANNEL_TIMEOUT_S"] = "180"
    common = [
        "--block",
        "--num-cpus",
        "1",
        "--object-store-memory",
        str(100 * 1024 * 1024),
        "--node-ip-address",
        "127.0.0.1",
        "--disable-usage-stats",
    ]
    nodes, client_port = [], free_port()

    def start(name, *args):
        log = open(folder / f"{name}.log", "w")
        nodes.append(
            subprocess.Popen(
                [str(RAY_BIN), "start", *args, *common],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        )

    try:
        start(
            "head",
            "--head",
            "--port",
            str(free_port()),
            "--temp-dir",
            str(folder),
            "--include-dashboard=false",
            "--dashboard-port",
            str(free_port()),
            "--ray-client-server-port",
            str(client_port),
            "--num-gpus",
            "1",
        )
        address_file = folder / "ray_current_cluster"
        deadline = time.monotonic() + 240
        while not address_file.exists():
            assert nodes[0].poll() is None and time.monotonic() < deadline, (folder / "head.log").read_text()[-3000:]
            time.sleep(0.5)
        address = address_file.read_text().strip()  # Ray names the machine's address for 127.0.0.1
        start("worker", "--address", address, "--num-gpus", "0")
        cluster = {"address": address, "env": env}
        found = query_cluster(cluster, timeout=240)
        assert len(found["nodes"]) == 2, (folder / "worker.log").read_text()[-3000:]
        yield {**cluster, "nodes": set(found["nodes"]), "gpu_nodes": found["gpu_nodes"], "client_port": client_port}
    finally:
        for node in reversed(nodes):  # `ray start --block` stops its node's processes when it ends
            node.send_signal(signal.SIGTERM)
        for node in nodes:
            try:
                node.wait(60)
            except subprocess.TimeoutExpired:
                node.kill()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_a_two_node_cluster_runs_fits_on_both_nodes_into_one_model_folder(ray_cluster, small_study_csv, tmp_path):
    out = tmp_path / "cluster-model"
    result = train(
        small_study_csv, out, models="cnn_small", engine="ray", address=ray_cluster["address"], env=ray_cluster["env"]
    )
    report = json.loads((out / "report.json").read_text())
    fits = report["engine"]["fits"]
    assert [f["fit"] for f in fits] == ["cnn_small-cv-1", "cnn_small-cv-2", "cnn_small-final-0"]
    assert {f["node"] for f in fits} == ray_cluster["nodes"], "fits ran on both nodes"
    assert report["engine"]["nodes"] == 2 and report["engine"]["address"] == ray_cluster["address"]
    card = read_card(out)  # one complete model folder, written by the driver
    assert card.labels == ["sad", "surprise"] and (out / "model.tflite").stat().st_size > 0
    assert {e["node"] for e in events(result.stdout) if e["event"] == "fit_started"} == ray_cluster["nodes"]
    assert [p.name for p in tmp_path.iterdir()] == ["cluster-model"]


@pytest.mark.slow
def test_fits_given_half_a_gpu_share_it_two_at_a_time(ray_cluster, small_study_csv, tmp_path):
    """--gpus-per-fit 0.5 on one GPU machine (what scripts/train_parallel.py once did by hand): every fit goes to the
    node with the GPU, is given GPU 0, and two fits hold it at once."""
    out = tmp_path / "shared-gpu"
    train(
        small_study_csv,
        out,
        models="cnn_small",
        engine="ray",
        address=ray_cluster["address"],
        gpus_per_fit=0.5,
        cpus_per_fit=0.5,
        env=ray_cluster["env"],
    )
    report = json.loads((out / "report.json").read_text())
    fits = report["engine"]["fits"]
    assert len(fits) == 3 and report["engine"]["gpus_per_fit"] == 0.5
    assert {f["node"] for f in fits} == set(ray_cluster["gpu_nodes"]), "only the node with the GPU can take them"
    assert all(f["gpus"] == ["0"] for f in fits), fits
    spans = sorted((f["started"], f["started"] + f["seconds"]) for f in fits)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])), f"never two at once: {spans}"


@pytest.mark.slow
def test_a_killed_driver_run_again_skips_the_fits_it_finished(ray_cluster, small_study_csv, tmp_path):
    out, checkpoints = tmp_path / "model", tmp_path / "checkpoints"
    command = [
        sys.executable,
        *train_args(
            small_study_csv,
            **dict(
                TINY,
                models="cnn_small",
                epochs=3,
                engine="ray",
                address=ray_cluster["address"],
                checkpoints=checkpoints,
                out=out,
            ),
        ),
    ]
    log = tmp_path / "first-run.log"
    with open(log, "w") as handle:
        first = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=ray_cluster["env"], cwd=REPO_ROOT
        )
    deadline = time.monotonic() + 400
    while not list(checkpoints.glob("ray-fits/*/*.json")):
        assert first.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    first.kill()  # a crash: no clean-up of any kind
    first.wait()
    finished = {p.stem for p in checkpoints.glob("ray-fits/*/*.json")}
    assert finished and not out.exists()
    assert finished < {"cnn_small-cv-1", "cnn_small-cv-2", "cnn_small-final-0"}, (
        f"killed after the last fit: {finished}"
    )
    assert query_cluster(ray_cluster, free_cpus=2, timeout=60)["free_cpus"] == 2, "its trials were stopped"

    result = run_cli(*command[1:], timeout=600, env=ray_cluster["env"])
    assert result.returncode == 0, result.stderr[-3000:]
    started = {e["fit"] for e in events(result.stdout) if e["event"] == "fit_started"}
    assert started and not started & finished, f"fitted again: {started & finished}"
    fits = json.loads((out / "report.json").read_text())["engine"]["fits"]
    assert {f["fit"] for f in fits if f["restored"]} == finished
    assert read_card(out).labels == ["sad", "surprise"]
    left = list(checkpoints.glob("ray-fits/*/*"))
    assert not left, f"records go once the run has its model folder: {left}"


@pytest.mark.slow
def test_cancelling_stops_every_trial_and_leaves_no_model_folder(ray_cluster, small_study_csv, tmp_path):
    out = tmp_path / "cancelled"
    trainer = subprocess.Popen(
        [
            sys.executable,
            *train_args(
                small_study_csv,
                **dict(TINY, models="cnn_small", epochs=200, engine="ray", address=ray_cluster["address"], out=out),
            ),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ray_cluster["env"],
        cwd=REPO_ROOT,
    )
    for line in trainer.stdout:  # wait until fits are training
        if json.loads(line)["event"] == "epoch":
            break
    trainer.send_signal(signal.SIGTERM)  # the Retrain dialog's Cancel
    _, stderr = trainer.communicate(timeout=120)
    assert trainer.returncode == 130, stderr[-3000:]
    assert "interrupted; nothing was written" in stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert query_cluster(ray_cluster, free_cpus=2, timeout=60)["free_cpus"] == 2, "no trial outlives the run"


@pytest.mark.slow
def test_a_sweep_ranks_configurations_in_a_table_and_a_plot(ray_cluster, small_study_csv, tmp_path):
    """Through Ray Client (ray://HOST:PORT), the address form for a driver outside the cluster's network."""
    out = tmp_path / "sweep"
    client = f"ray://127.0.0.1:{ray_cluster['client_port']}"
    result = train(
        small_study_csv,
        out,
        models="cnn_small",
        sweep=["seed=0,1,2", "learning_rate=0.001,0.003"],
        search="random",
        samples=2,
        engine="ray",
        address=client,
        env=ray_cluster["env"],
    )
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["engine"]["address"] == client
    assert sorted(p.name for p in out.iterdir()) == ["sweep.csv", "sweep.json", "sweep.md", "sweep.png"]
    rows = summary["rows"]
    assert len(rows) == 2 and len({(r["seed"], r["learning_rate"]) for r in rows}) == 2
    assert [r["rank"] for r in rows] == [1, 2] and rows[0]["accuracy_mean"] >= rows[1]["accuracy_mean"]
    assert all(len(r["fold_accuracy"]) == 2 for r in rows)
    assert {f["node"] for f in summary["engine"]["fits"]} <= ray_cluster["nodes"]
    assert len(summary["engine"]["fits"]) == 4 and not any(f["stage"] == "final" for f in summary["engine"]["fits"])
    with open(out / "sweep.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [row["seed"] for row in table] == [str(r["seed"]) for r in rows]
    assert "| rank | model | seed | learning_rate |" in (out / "sweep.md").read_text()
    assert summary["best"] in events(result.stdout)[-1]["text"]


def test_random_search_draws_the_same_distinct_configurations_for_a_seed():
    space = parse_sweep(["seed=0,1,2", "augment=none,strong", "learning_rate=0.001,0.0003"], ["cnn_small"], False)
    assert list(space) == ["model", "seed", "augment", "learning_rate"]
    grid = plan_configurations(space, "grid", None, seed=0)
    assert len(grid) == 12 and len(set(grid)) == 12
    drawn = plan_configurations(space, "random", 5, seed=4)
    assert drawn == plan_configurations(space, "random", 5, seed=4) and len(set(drawn)) == 5 and set(drawn) <= set(grid)
    assert plan_configurations(space, "random", 50, seed=4) == grid  # asking for more than there are: all of them
    # Each configuration's fits are told apart (their own records, backups and progress lines).
    keys = {FitJob("cnn_small", "cv", 1, 2, c).key for c in grid}
    assert len(keys) == 12


CLIENT_SERVER_DIED = (
    "Initialization failure from server:\nTraceback (most recent call last):\n"
    "RuntimeError: Starting Ray client server failed. See ray_client_server_23000.err for detailed logs."
)


class Messages(Progress):
    def __init__(self):
        super().__init__("quiet")
        self.texts: list[str] = []

    def message(self, text):
        self.texts.append(text)


def test_a_ray_client_server_that_died_at_start_is_asked_for_again(monkeypatch):
    """CI saw a ray:// head's per-connection server die at start on an idle machine; a new connection gets a new one.
    Only that failure is retried, and only a few times."""
    import ray

    from training import engine_ray

    failures = []

    def init(address, **kwargs):
        if failures:
            raise ConnectionAbortedError(failures.pop(0))

    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(engine_ray, "CLIENT_SERVER_RETRY_S", 0)
    engine = engine_ray.RayEngine(address="ray://127.0.0.1:10001")

    failures[:] = [CLIENT_SERVER_DIED, CLIENT_SERVER_DIED]
    progress = Messages()
    engine._init_client({}, progress)  # the third connection starts
    assert not failures and len([t for t in progress.texts if "trying again" in t]) == 2

    failures[:] = [CLIENT_SERVER_DIED] * 4
    with pytest.raises(ConnectionAbortedError, match="Starting Ray client server failed"):
        engine._init_client({}, Messages())
    assert len(failures) == 4 - engine_ray.CLIENT_SERVER_TRIES

    failures[:] = ["Initialization failure from server:\nPermission denied", CLIENT_SERVER_DIED]
    with pytest.raises(ConnectionAbortedError, match="Permission denied"):  # anything else fails at once
        engine._init_client({}, Messages())


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--sweep", "depth=1,2"], "'depth' cannot be swept"),
        (["--sweep", "temperature=2,4"], "needs --teacher"),
        (["--sweep", "seed=1,1"], "lists a value twice"),
        (["--sweep", "augment=heavy"], "not one of none, standard, strong"),
        (["--address", "127.0.0.1:6379"], "--address only apply to --engine ray"),
        (["--gpus-per-fit", "0.5"], "--gpus-per-fit only apply to --engine ray"),
        (["--engine", "ray", "--address", "127.0.0.1:1"], "cannot reach a Ray cluster at 127.0.0.1:1"),  # in seconds
    ],
)
def test_bad_sweep_and_engine_flags_fail_before_any_work(flags, message, tmp_path, capsys):
    from training.cli import main

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = main(["--data", str(tmp_path / "missing.csv"), "--models", "cnn_small", *flags])
    finally:  # main installs the trainer's own handlers
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert code == 2
    assert message in capsys.readouterr().err


def test_without_ray_installed_the_error_says_how_to_get_it(tmp_path):
    block_ray = "import sys; sys.modules['ray'] = None; from training.cli import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run(
        [sys.executable, "-c", block_ray, "--data", str(tmp_path / "x.csv"), "--engine", "ray"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 2
    assert "pip install 'ferdesk[cluster]'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.gui
def test_retrain_dialog_offers_ray_off_by_default(qtbot, small_study_csv, tmp_path):
    from ferdesk.gui.retrain import RetrainDialog

    dialog = RetrainDialog(data_path=str(small_study_csv), output_root=tmp_path)
    qtbot.addWidget(dialog)
    assert not dialog.parallel.isChecked() and not dialog.address_edit.isEnabled()
    assert "--engine" not in dialog.arguments()
    dialog.parallel.setChecked(True)
    assert dialog.address_edit.isEnabled()
    assert dialog.arguments()[-2:] == ["--engine", "ray"]  # no address: Ray on this machine
    dialog.address_edit.setText(" 10.0.0.5:6379 ")
    assert dialog.arguments()[-4:] == ["--engine", "ray", "--address", "10.0.0.5:6379"]

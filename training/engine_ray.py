"""The Ray engine (`ferdesk-train --engine ray`): every fit a Ray Tune trial, on this machine or on a Ray cluster.

Each fit runs `training.engine.run_fit`, as the in-process engine does, inside a Tune function trainable with its own
resources (--cpus-per-fit, --gpus-per-fit; fractions let fits share a GPU). Without an address Ray starts on this
machine; with --address or $RAY_ADDRESS the fits go to that cluster. The faces travel through Ray's object store
(tune.with_parameters), so no node needs the dataset file. Trials send their progress events and their outcome
(metrics, and the Keras model of a final fit) back through a Ray queue; the driver forwards the events to its own
progress output and keeps a record of each finished fit under --checkpoints, so the same command run again after a
crash skips them. The report, card and model folder are written by training.run on the driver, as in-process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ferdesk import outputs
from ferdesk.defaults import TF_LOG_LEVEL, TF_LOG_LEVEL_ENV
from training.engine import EngineError, FitJob, FitOutcome, TrainingData, run_fit
from training.fit import FitSettings
from training.progress import Progress

INSTALL_HINT = "pip install 'ferdesk[cluster]' (or pip install 'ray[tune]')"
RECORDS_FOLDER = "ray-fits"
MIN_OBJECT_STORE = 100 * 1024 * 1024  # Ray refuses less than about 75 MB
POLL_SECONDS = 0.5
CONNECT_SECONDS = 10
CLIENT_SERVER_TRIES = 3  # connections to a ray:// head whose per-connection server failed to start
CLIENT_SERVER_RETRY_S = 2.0


def require_ray() -> str:
    """Ray's version; a clear error naming the install command when Ray is missing."""
    try:
        import ray
        from ray import tune  # noqa: F401  (Tune's own dependencies: pandas, pyarrow)
    except ImportError as exc:
        raise EngineError(f"--engine ray needs Ray Tune, which is not installed ({exc}); {INSTALL_HINT}") from None
    return ray.__version__


class RelayProgress(Progress):
    """A trial's progress: every event goes to the driver through the run's queue, tagged with the fit and node."""

    def __init__(self, queue, tags: dict):
        super().__init__("quiet")
        self.queue, self.tags = queue, tags

    def event(self, kind: str, **fields) -> None:
        self.queue.put(("event", kind, {**fields, **self.tags}))


def _where(fields: dict) -> str:
    return f"fold {fields.get('fold')}/{fields.get('folds')}" if fields.get("stage") == "cv" else "final fit"


def forward(progress: Progress, kind: str, fields: dict) -> None:
    """A trial's event on the driver: the same JSON line as in-process, or one console line per event for people
    (bars cannot show fits that run at once)."""
    if progress.mode != "bar":
        progress.event(kind, **fields)
        return
    if kind == "message":
        progress.message(fields.get("text", ""))
        return
    fit = f"{fields.get('model')} {_where(fields)}"
    if kind == "fit_started":
        progress.message(f"{fit}: started on node {str(fields.get('node'))[:8]}")
    elif kind == "epoch":
        accuracy = fields.get("val_accuracy")
        progress.message(
            f"{fit}: epoch {fields.get('epoch')}/{fields.get('epochs')}"
            + (f", val accuracy {accuracy:.4f}" if isinstance(accuracy, float) else "")
        )
    elif kind == "resumed":
        progress.message(f"{fit}: resumed from its backup after epoch {fields.get('epoch')}")
    elif kind == "fit_done" and "accuracy" in fields:
        progress.message(f"{fit}: held-out accuracy {fields['accuracy']:.4f}")


def _ship_folder(folder: str | None) -> dict | None:
    """A model folder's files as bytes, so a fine-tuning start reaches nodes that do not have the folder."""
    if not folder:
        return None
    return {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}


def _limit_threads(cpus: float) -> None:
    """TensorFlow takes every core by default; a fit given N CPUs gets N threads, so fits side by side do not fight."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    threads = max(1, math.ceil(cpus))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # a reused trial process: already set, to the same resources
        pass


def model_bytes(model) -> bytes:
    with tempfile.TemporaryDirectory(prefix="ferdesk-fit-") as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        return path.read_bytes()


def fit_trial(
    config: dict, data: TrainingData, settings: FitSettings, queue, start_model: dict | None, cpus: float
) -> None:
    """Tune function trainable: one fit, its events and outcome sent to the driver through `queue`."""
    import ray
    from ray import tune

    job = FitJob.from_dict(config["fit"])
    node = ray.get_runtime_context().get_node_id()
    _limit_threads(cpus)
    folder = None
    if start_model is not None:  # a node-local copy of the fine-tuning start (the driver's path may not exist)
        folder = tempfile.mkdtemp(prefix="ferdesk-start-")
        for name, content in start_model.items():
            (Path(folder) / name).write_bytes(content)
        settings = dataclasses.replace(settings, init_from=folder)
    try:
        outcome = run_fit(job, data, settings, RelayProgress(queue, {"fit": job.key, "node": node}), node)
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    outcome.gpus = tuple(str(g) for g in ray.get_runtime_context().get_accelerator_ids().get("GPU", []))
    payload = model_bytes(outcome.model) if outcome.model is not None else None
    queue.put(("outcome", outcome.record(), payload))
    tune.report({"seconds": outcome.seconds, **(outcome.scores or {})})


class FitRecords:
    """Finished fits on the driver's disk: <folder>/<fit>.json, and <fit>.keras (the model) for final fits."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _write(self, path: Path, content: bytes) -> None:
        with outputs.staged_file(
            path, overwrite=True
        ) as staging:  # a crash mid-write leaves no finished-looking record
            staging.write_bytes(content)

    def save(self, record: dict, payload: bytes | None) -> FitOutcome:
        key = FitJob.from_dict(record["job"]).key
        if payload is not None:
            self._write(self.folder / f"{key}.keras", payload)
        self._write(self.folder / f"{key}.json", json.dumps(record).encode())
        return self.load(FitJob.from_dict(record["job"]), restored=False)

    def load(self, job: FitJob, restored: bool = True) -> FitOutcome | None:
        path = self.folder / f"{job.key}.json"
        if not path.is_file():
            return None
        record = {**json.loads(path.read_text(encoding="utf-8")), "restored": restored}
        model = None
        if job.stage == "final":
            import keras

            model = keras.saving.load_model(self.folder / f"{job.key}.keras", compile=False, safe_mode=True)
        return FitOutcome.from_record(record, model)


@dataclass
class RayEngine:
    """Runs fits as Ray Tune trials. address None: $RAY_ADDRESS, else a Ray started here for this run only."""

    address: str | None = None
    cpus_per_fit: float = 1.0
    gpus_per_fit: float = 0.0
    local_cpus: int | None = None  # CPUs a Ray started here may use (default: all)
    checkpoints: str | None = None  # --checkpoints: records of finished fits go under it, for resuming
    name: str = field(default="ray", init=False)
    _cluster: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        self.address = self.address or os.environ.get("RAY_ADDRESS") or None
        if self.cpus_per_fit <= 0:
            raise ValueError("--cpus-per-fit must be above 0")
        if self.gpus_per_fit < 0 or (self.gpus_per_fit > 1 and self.gpus_per_fit != int(self.gpus_per_fit)):
            raise ValueError("--gpus-per-fit must be 0, a fraction of one GPU, or a whole number of GPUs")
        if self.address and self.local_cpus:
            raise ValueError("--ray-cpus sizes a Ray started on this machine; a cluster (--address) has its own")

    def check_reachable(self) -> None:
        """Fail in seconds on an address nothing listens at: ray.init itself retries for many minutes."""
        if not self.address or ":" not in self.address:  # local, or Ray's own "auto"
            return
        host, _, port = self.address.split("://")[-1].rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS):
                pass
        except (OSError, ValueError) as exc:
            raise EngineError(
                f"cannot reach a Ray cluster at {self.address} ({exc}); start one with `ray start "
                "--head` (docs/cluster.md) or check --address / $RAY_ADDRESS"
            ) from None

    def describe(self) -> dict:
        return {
            "name": self.name,
            "address": self.address or "local",
            "cpus_per_fit": self.cpus_per_fit,
            "gpus_per_fit": self.gpus_per_fit,
            **self._cluster,
        }

    def _records_folder(self, data: TrainingData, settings: FitSettings) -> Path | None:
        """Records are kept per run: the same faces, folds and settings (the command) find them again."""
        if not self.checkpoints:
            return None
        recipe = {k: v for k, v in dataclasses.asdict(settings).items() if k != "checkpoint_dir"}
        digest = hashlib.sha256((data.fingerprint() + json.dumps(recipe, sort_keys=True, default=str)).encode())
        return Path(self.checkpoints).absolute() / RECORDS_FOLDER / digest.hexdigest()[:16]

    def run(
        self, jobs: list[FitJob], data: TrainingData, settings: FitSettings, progress: Progress
    ) -> Iterator[FitOutcome]:
        require_ray()
        kept = self._records_folder(data, settings)
        records = FitRecords(kept or Path(tempfile.mkdtemp(prefix="ferdesk-fits-")))
        try:
            todo = []
            for job in jobs:
                done = records.load(job)
                if done is None:
                    todo.append(job)
                    continue
                progress.message(
                    f"{job.model} {_where(dataclasses.asdict(job))}: finished by an earlier run of "
                    "this command, not fitted again"
                )
                if done.scores:
                    progress.fit_done(job.model, job.stage, job.fold, job.folds, **done.scores)
                yield done
            if todo:
                yield from self._run_trials(todo, data, settings, progress, records)
        finally:
            if kept is None:
                shutil.rmtree(records.folder, ignore_errors=True)
        if kept is not None:  # every fit handed over: the records have done their job
            shutil.rmtree(kept, ignore_errors=True)

    def _init_client(self, common: dict, progress: Progress) -> None:
        """ray.init at an address, tried again when a ray:// head could not start this connection's server."""
        import ray

        for attempt in range(1, CLIENT_SERVER_TRIES + 1):
            try:
                ray.init(address=self.address, **common)
                return
            except ConnectionAbortedError as exc:
                # Ray Client's head starts a server process per connection, and now and then that process dies
                # at start (seen in CI on an idle machine); the next connection gets a new one.
                if "Starting Ray client server failed" not in str(exc) or attempt == CLIENT_SERVER_TRIES:
                    raise
                progress.message(f"the cluster's Ray Client server did not start (try {attempt}); trying again")
                time.sleep(CLIENT_SERVER_RETRY_S)

    def _connect(self, data: TrainingData, progress: Progress) -> bool:
        """Start or join Ray; True when this run did (and must disconnect, which stops a Ray started here)."""
        import ray

        env = {TF_LOG_LEVEL_ENV: os.environ.get(TF_LOG_LEVEL_ENV, TF_LOG_LEVEL)}  # the user's level, else ours
        if os.environ.get("KERAS_BACKEND"):
            env["KERAS_BACKEND"] = os.environ["KERAS_BACKEND"]
        if self.gpus_per_fit:  # fits sharing a GPU must not each grab all of its memory at start
            env.update(TF_FORCE_GPU_ALLOW_GROWTH="true", XLA_PYTHON_CLIENT_PREALLOCATE="false")
        common = {"runtime_env": {"env_vars": env}, "log_to_driver": False, "logging_level": logging.WARNING}
        if ray.is_initialized():  # a caller (a notebook, a test) already connected this process
            return False
        try:
            if self.address:
                self.check_reachable()
                progress.message(f"connecting to the Ray cluster at {self.address}")
                self._init_client(common, progress)
            else:
                store = max(MIN_OBJECT_STORE, 3 * (data.images.nbytes + (0 if data.soft is None else data.soft.nbytes)))
                progress.message(
                    "starting Ray on this machine" + (f" ({self.local_cpus} CPUs)" if self.local_cpus else "")
                )
                ray.init(num_cpus=self.local_cpus, include_dashboard=False, object_store_memory=store, **common)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "this machine"
            why = f"{exc} {exc.__cause__ or ''}"
            hint = (
                "; the cluster wants its token: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (docs/cluster.md)"
                if "Authentication token" in why
                else ""
            )
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
            # Ray Client puts the server's traceback under a heading: its last line says what went wrong.
            said = lines[0] + (f" {lines[-1]}" if lines[0].endswith(":") and len(lines) > 1 else "")
            raise EngineError(f"cannot start or reach Ray at {where}: {said}{hint}") from None
        finally:
            from training import interrupts

            interrupts.install()  # ray.init replaces the SIGTERM handler; Cancel must still clean up
        return True

    def _check_resources(self) -> None:
        import ray

        nodes = [n for n in ray.nodes() if n.get("Alive")]
        cpus = max(n["Resources"].get("CPU", 0) for n in nodes)
        gpus = max(n["Resources"].get("GPU", 0) for n in nodes)
        self._cluster = {
            "nodes": len(nodes),
            "cpus": sum(n["Resources"].get("CPU", 0) for n in nodes),
            "gpus": sum(n["Resources"].get("GPU", 0) for n in nodes),
            "ray": ray.__version__,
        }
        if self.cpus_per_fit > cpus:
            raise EngineError(
                f"--cpus-per-fit {self.cpus_per_fit}: no Ray node has that many (the largest has {cpus:g})"
            )
        if self.gpus_per_fit > gpus:
            raise EngineError(
                f"--gpus-per-fit {self.gpus_per_fit}: no Ray node has that many GPUs (the largest has {gpus:g})"
            )

    def _run_trials(
        self, jobs: list[FitJob], data: TrainingData, settings: FitSettings, progress: Progress, records: FitRecords
    ) -> Iterator[FitOutcome]:
        # Tune's console table and Ctrl-C handling are off (progress and cancelling go through ours), and of its
        # result files only result.json is written (into a temporary folder).
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
        os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
        os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
        import ray
        from ray import tune
        from ray.tune.logger import JsonLoggerCallback
        from ray.util.queue import Empty, Queue

        connected = self._connect(data, progress)
        # Beside the records: a driver killed outright leaves it where the next run of the command removes it.
        storage = Path(tempfile.mkdtemp(prefix="tune-", dir=records.folder))
        finished: set[FitJob] = set()
        try:
            self._check_resources()
            progress.message(
                f"{len(jobs)} fits on Ray ({self._cluster['nodes']} node(s), {self._cluster['cpus']:g} "
                f"CPUs, {self._cluster['gpus']:g} GPUs), {self.cpus_per_fit:g} CPUs"
                + (f" and {self.gpus_per_fit:g} GPUs" if self.gpus_per_fit else "")
                + " each"
            )
            queue = Queue(actor_options={"num_cpus": 0})
            if settings.checkpoint_dir:  # trials run in their own working folders
                settings = dataclasses.replace(settings, checkpoint_dir=str(Path(settings.checkpoint_dir).absolute()))
            trainable = tune.with_resources(
                tune.with_parameters(
                    fit_trial,
                    data=data,
                    settings=settings,
                    queue=queue,
                    start_model=_ship_folder(settings.init_from),
                    cpus=self.cpus_per_fit,
                ),
                {"cpu": self.cpus_per_fit, "gpu": self.gpus_per_fit},
            )
            # Final fits (all training faces, the longest) first: the fold fits fill in around them.
            ordered = sorted(jobs, key=lambda j: j.stage != "final")
            tuner = tune.Tuner(
                trainable,
                param_space={"fit": tune.grid_search([j.to_dict() for j in ordered])},
                tune_config=tune.TuneConfig(reuse_actors=True, trial_dirname_creator=lambda t: t.trial_id),
                run_config=tune.RunConfig(
                    name="ferdesk",
                    storage_path=str(storage),
                    verbose=0,
                    log_to_file=False,
                    callbacks=[JsonLoggerCallback()],
                    failure_config=tune.FailureConfig(fail_fast=True),
                ),
            )
            outcome_box: list = []

            def fit_all():
                try:
                    outcome_box.append(tuner.fit())
                except BaseException as exc:  # handed to the driver thread, which raises it
                    outcome_box.append(exc)

            runner = threading.Thread(target=fit_all, name="ray-tune", daemon=True)
            runner.start()
            while True:
                alive = runner.is_alive()  # read before draining: a trial's last message precedes its end
                try:
                    message = queue.get(timeout=POLL_SECONDS)
                except Empty:
                    if alive:
                        continue
                    break
                if message[0] == "event":
                    forward(progress, message[1], message[2])
                else:
                    outcome = records.save(message[1], message[2])
                    finished.add(outcome.job)
                    yield outcome
            runner.join()
            result = outcome_box[0] if outcome_box else None
            if isinstance(result, BaseException):
                raise EngineError(f"Ray Tune stopped: {result}") from result
            missing = [j for j in jobs if j not in finished]
            if missing:
                errors = [str(e).strip().splitlines()[-1] for e in (result.errors if result is not None else [])]
                raise EngineError(
                    f"{len(missing)} fit(s) did not finish on Ray ({', '.join(j.key for j in missing)})"
                    + (f": {errors[0]}" if errors else "")
                )
        finally:
            # Stops the trials: a Ray started here goes entirely; on a cluster, the trials (actors this driver owns)
            # end when it disconnects.
            if connected:
                ray.shutdown()
            shutil.rmtree(storage, ignore_errors=True)

"""ferdesk-train: cross-validate the baseline and the CNN zoo on FER2013-style data and export the best model."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from ferdesk.argtypes import float_in, folds, int_at_least, positive_float
from ferdesk.defaults import data_path, quiet_tensorflow
from ferdesk.labels import parse_emotions
from training import interrupts


def default_data() -> str | None:
    return data_path()


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: X)" only where the help text does not say the default itself and X is a value."""

    def _get_help_string(self, action):
        unset = action.default is None or action.default is False or action.default == []  # flags and lists
        if unset or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    from training.models import DEFAULT_MODELS, ZOO

    p = argparse.ArgumentParser(prog="ferdesk-train", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument(
        "--data",
        default=default_data(),
        help="fer2013.csv(.gz) or a folder with train/<emotion>/ and test/<emotion>/ (default: $FERDESK_DATA)",
    )
    p.add_argument(
        "--emotions",
        default=None,
        help="comma-separated subset, e.g. sad,surprise; each needs training "
        "and test faces (default: every emotion the data has training faces of)",
    )
    p.add_argument(
        "--models", default=None, help=f"comma-separated, from: {', '.join(ZOO)} (default: {','.join(DEFAULT_MODELS)})"
    )
    p.add_argument("--folds", type=folds, default=5, help="K of the K-fold cross-validation; 0 skips it (one model)")
    p.add_argument(
        "--repeats", type=int_at_least(1), default=1, help="repeats of the K-fold split, reshuffled each time"
    )
    p.add_argument(
        "--epochs", type=int_at_least(1), default=30, help="maximum epochs per CNN fit (early stopping may end sooner)"
    )
    p.add_argument("--patience", type=int_at_least(0), default=6, help="early-stopping patience in epochs")
    p.add_argument("--batch-size", type=int_at_least(1), default=64, help="faces per training step")
    p.add_argument("--learning-rate", type=positive_float, default=1e-3, help="the optimizer's starting learning rate")
    p.add_argument("--class-weights", action="store_true", help="weight classes inversely to their frequency")
    p.add_argument("--no-augment", action="store_true", help="train without flip/shift/rotation/zoom augmentation")
    p.add_argument(
        "--strong-augment",
        action="store_true",
        help="also random erasing and brightness/contrast jitter (pays off on long schedules)",
    )
    p.add_argument("--bf16", action="store_true", help="mixed bfloat16 training (faster on AVX512-BF16 CPUs)")
    p.add_argument(
        "--flip-average",
        action="store_true",
        help="score faces and their mirror images and average (test-time augmentation; the app does too)",
    )
    p.add_argument(
        "--no-quantize",
        action="store_true",
        help="export model.tflite in float32 instead of with dynamic-range int8 weights",
    )
    p.add_argument(
        "--test-usage",
        default="PublicTest",
        help="Usage value of the held-back test rows; a file without any test rows holds back 10%% of "
        "Training instead (and says so)",
    )
    p.add_argument("--skip-bad", action="store_true", help="skip malformed rows/images and report them")
    p.add_argument("--out", default=None, help="output model folder (default: runs/<emotions>-<time>)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists (only once the run succeeds)")
    p.add_argument(
        "--seed", type=int_at_least(0), default=0, help="seed of the splits, initial weights and augmentation"
    )
    p.add_argument(
        "--checkpoints",
        default=None,
        metavar="DIR",
        help="back up every CNN fit each epoch under DIR; the same command run again resumes from there",
    )
    p.add_argument(
        "--init-from",
        default=None,
        metavar="MODEL_DIR",
        help="fine-tune: start from this model folder's weights (its emotions or a subset, whose classifier columns it "
        "keeps; same --models, or a narrower member of its family, e.g. cnn_wide -> cnn_medium, which keeps each "
        "layer's strongest channels)",
    )
    p.add_argument(
        "--teacher",
        action="append",
        default=[],
        metavar="MODEL_DIR",
        help="distil: the CNNs also learn each face's probabilities from this model folder (repeat the flag "
        "for several teachers, averaged); the teacher must classify every emotion of the run",
    )
    p.add_argument(
        "--temperature",
        type=float_in(1.0, 20.0),
        default=2.0,
        help="distillation temperature (>= 1): higher softens teacher and student more",
    )
    p.add_argument(
        "--distill-weight",
        type=float_in(0.0, 1.0),
        default=0.7,
        help="share of the teacher term in the loss, 0-1 (the rest is cross-entropy with the labels)",
    )
    p.add_argument(
        "--progress",
        choices=("bar", "json", "quiet"),
        default="bar",
        help="progress bars, JSON lines (for programs) or nothing",
    )
    ray = p.add_argument_group("parallel fits on Ray (docs/cluster.md; needs pip install 'ferdesk[cluster]')")
    ray.add_argument(
        "--engine",
        choices=("in-process", "ray"),
        default="in-process",
        help="in-process: one fit after another in this process; ray: every fit a Ray Tune trial, "
        "as many at once as the resources allow",
    )
    ray.add_argument(
        "--address",
        default=None,
        metavar="HOST:PORT",
        help="Ray cluster to run on (HOST:PORT or ray://HOST:PORT; default: $RAY_ADDRESS, else a Ray "
        "started on this machine for this run)",
    )
    ray.add_argument(
        "--cpus-per-fit", type=positive_float, default=1.0, help="CPUs each fit reserves (fractions allowed)"
    )
    ray.add_argument(
        "--gpus-per-fit",
        type=float_in(0.0, 8.0),
        default=0.0,
        help="GPUs each fit reserves; a fraction (0.25) lets fits share one GPU",
    )
    ray.add_argument(
        "--ray-cpus",
        type=int_at_least(1),
        default=None,
        help="CPUs a Ray started on this machine may use (default: all)",
    )
    sweep = p.add_argument_group("sweeps (training/sweep.py): rank configurations by cross-validation")
    sweep.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="sweep NAME over the values (repeat the flag for more): model, seed, learning_rate, "
        "augment (none, standard, strong), temperature (with --teacher); --out gets the table",
    )
    sweep.add_argument(
        "--search",
        choices=("grid", "random"),
        default="grid",
        help="every combination, or --samples of them drawn with --seed",
    )
    sweep.add_argument("--samples", type=int_at_least(1), default=8, help="configurations a random search draws")
    return p


def fit_engine(args):
    """The engine the flags ask for; Ray's flags without --engine ray, or Ray missing, are errors before any work."""
    ray_flags = {
        "--address": args.address,
        "--ray-cpus": args.ray_cpus,
        "--cpus-per-fit": args.cpus_per_fit != 1.0,
        "--gpus-per-fit": args.gpus_per_fit,
    }
    if args.engine != "ray":
        given = [flag for flag, value in ray_flags.items() if value]
        if given:
            raise ValueError(f"{', '.join(given)} only apply to --engine ray")
        return None  # training.run's default: in-process
    with interrupts.deferred_during_fit():
        from training.engine import EngineError
        from training.engine_ray import RayEngine, require_ray
    engine = RayEngine(
        address=args.address,
        cpus_per_fit=args.cpus_per_fit,
        gpus_per_fit=args.gpus_per_fit,
        local_cpus=args.ray_cpus,
        checkpoints=args.checkpoints,
    )
    try:
        with interrupts.deferred_during_fit():  # Ray's imports, held like the others
            require_ray()
        engine.check_reachable()
    except EngineError as exc:
        raise ValueError(str(exc)) from None
    return engine


def main(argv: list[str] | None = None) -> int:
    """Ctrl-C or SIGTERM at any moment (imports and data loading take seconds) ends in one line with status 130."""
    try:
        interrupts.install()  # a cancelled run (SIGTERM) cleans up like Ctrl-C
        return _main(argv)
    except KeyboardInterrupt:
        print("ferdesk-train: interrupted; nothing was written", file=sys.stderr)
        # Staging is gone and backups are closed; skip interpreter teardown, where TensorFlow's input-pipeline
        # threads can take minutes to wind down on a busy machine (a cancel must end the process promptly).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # A C extension interrupted while it imports fails with a misleading ImportError (numpy: "could not import
    # module datetime"), so a Ctrl-C during an import is held until it is done.
    with interrupts.deferred_during_fit():
        args = build_parser().parse_args(argv)
        from training.models import parse_models
    quiet_tensorflow()
    try:
        emotions = parse_emotions(args.emotions)
        models = parse_models(args.models)
        if args.init_from:
            from training.fit import check_init_from

            check_init_from(args.init_from, models, emotions)
        if args.teacher:
            from training.distill import check_teachers

            check_teachers(args.teacher, emotions if args.emotions else [])  # the data decides otherwise
        engine = fit_engine(args)
        if args.sweep:
            from training.sweep import parse_sweep

            space = parse_sweep(args.sweep, models, bool(args.teacher))
    except ValueError as exc:
        print(f"ferdesk-train: error: {exc}", file=sys.stderr)
        return 2
    if not args.data:
        print("ferdesk-train: error: no dataset; pass --data FILE_OR_FOLDER or set FERDESK_DATA", file=sys.stderr)
        return 2
    named = "-".join(emotions) if args.emotions else "all"  # all: every emotion the data has faces of
    named = f"sweep-{named}" if args.sweep else named
    out = Path(args.out or f"runs/{named}-{time.strftime('%Y%m%d-%H%M%S')}")

    with interrupts.deferred_during_fit():
        import keras  # noqa: F401  (every model, the baseline too, goes through Keras: imported here, held)

        from training.engine import EngineError
        from training.fit import FitSettings
        from training.progress import Progress
        from training.run import RunConfig, run_training

    config = RunConfig(
        data=Path(args.data),
        out=out,
        emotions=emotions if args.emotions else None,  # None: as the data has them
        models=models,
        folds=args.folds,
        repeats=args.repeats,
        test_usage=args.test_usage,
        skip_bad=args.skip_bad,
        overwrite=args.overwrite,
        quantize=not args.no_quantize,
        command=shlex.join(["ferdesk-train", *argv]),
        fit=FitSettings(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            patience=args.patience,
            class_weighting=args.class_weights,
            augment=not args.no_augment,
            strong_augment=args.strong_augment,
            bf16=args.bf16,
            flip_average=args.flip_average,
            seed=args.seed,
            checkpoint_dir=args.checkpoints,
            init_from=args.init_from,
            teachers=tuple(args.teacher),
            temperature=args.temperature,
            distill_weight=args.distill_weight,
        ),
        engine=engine,
    )
    progress = Progress(args.progress)
    try:
        if args.sweep:
            from training.sweep import run_sweep

            summary = run_sweep(config, space, args.search, args.samples, progress)
            progress.message(f"best configuration {summary['best']}; table in {out / 'sweep.md'}")
            return 0
        report = run_training(config, progress)
    except (ValueError, FileExistsError, OSError, EngineError) as exc:
        print(f"ferdesk-train: error: {exc}", file=sys.stderr)
        return 2
    progress.message(f"best model {report['best_model']} written to {out} (report: {out / 'report.md'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

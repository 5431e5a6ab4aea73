"""ganbench command line: parse flags, call ganbench.api, print. Nothing else lives here.

Exit codes (each failure is one line on stderr, never a traceback):
  0    success: every run finished or diverged (a divergence is a result)
  1    a claim or regression check failed (`check`)
  2    bad input: unreadable or invalid suite, unknown name, bad flag
  3    the output dir or tracking store is unusable: read-only, full, or a corrupt mlflow.db
  4    some runs failed (the summary names each with its first error line); `run` again retries them
  75   another `ganbench run` holds the output dir (sysexits' EX_TEMPFAIL); `--wait` waits instead
  130  interrupted by SIGINT, 143 by SIGTERM: runs in flight stopped and marked KILLED, resumable

`ganbench` with no command prints the help (the command list) on stdout and exits 2, as for any
other missing argument.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

from ganbench.errors import BadInput, Locked, OutputError

EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_OUTPUT = 3
EXIT_RUNS_FAILED = 4
EXIT_LOCKED = 75


EPILOGS = {
    "run": "example:\n  ganbench run suites/ci_smoke.yaml --steps 200 --set variants.wgan_gp.optimizer.lr=1e-4",
    "check": "example:\n  ganbench check suites/ci_smoke.yaml --baseline results/ci_smoke.csv --json",
    "leaderboard": "example:\n  ganbench leaderboard runs/ci_smoke --format md -o results/ci_smoke.md",
    "tune": "example:\n  ganbench tune suites/wgan_vs_gan.yaml --trials 20 --workers 2 --export tuned.yaml",
    "report": "example:\n  ganbench report runs/ci_smoke -o report.html",
    "validate": "example:\n  ganbench validate suites/ci_smoke.yaml --set seeds=3 --json",
    "list": "example:\n  ganbench list",
    "schema": "example:\n  ganbench schema --out docs --check",
    "sample": "example:\n  ganbench sample 3f2a9c1e -n 5000 -o samples.npy   # a run id (or prefix) from runs.csv",
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each flag's default, except where there is none to show (None, False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # one line and exit 2, not a usage dump
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def positive(text: str) -> int:
    value = int(text) if text.lstrip("-").isdigit() else -1
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return int(text)


def version() -> str:
    """The installed distribution's version, else the package's own."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("ganbench")
    except PackageNotFoundError:
        from ganbench import __version__

        return __version__


def override(text: str) -> tuple[str, Any]:
    """`--set key.path=value`: the value is read as YAML (numbers, booleans, lists, mappings)."""
    from ganbench import safe_yaml
    from ganbench.errors import BadInput

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key.path=value, got {text!r}")
    try:
        parsed = safe_yaml.load(value, Path(f"--set {key.strip()}")) if value.strip() else None
    except BadInput as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return key.strip(), parsed


def add_overrides(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY.PATH=VALUE",
        type=override,
        action="append",
        help="override a suite key before validation, value read as YAML (repeatable), "
        "e.g. --set defaults.steps=100 --set variants.wgan.optimizer.lr=1e-4",
    )


def backend(text: str) -> str:
    """`--backend`: a registered backend's name or an import path (a plugin's entry point may add names)."""
    from ganbench.registry import BACKENDS, UnknownName

    try:
        return BACKENDS.check(text)
    except UnknownName as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_slurm_flags(command: argparse.ArgumentParser) -> None:
    """`--backend slurm`'s settings (runner/slurm_backend.py): one submitit job per work unit."""
    command.add_argument(
        "--slurm-executor",
        choices=["auto", "slurm", "local"],
        default="auto",
        help="slurm: sbatch; local: submitit's local executor (laptops, tests); auto: "
        "GANBENCH_SLURM_EXECUTOR if set, else slurm where sbatch exists, else local",
    )
    command.add_argument("--slurm-partition", metavar="P", help="Slurm partition (default: the cluster's)")
    command.add_argument(
        "--slurm-time", metavar="MIN", type=positive, default=60, help="time limit of a job, minutes"
    )
    command.add_argument(
        "--slurm-gpus-per-job",
        metavar="N",
        type=non_negative,
        default=0,
        help="GPUs per job (a unit uses one)",
    )
    command.add_argument(
        "--slurm-cpus-per-job", metavar="N", type=positive, default=1, help="CPU cores per job"
    )
    command.add_argument(
        "--slurm-folder", metavar="DIR", type=Path, help="job scripts and logs (default OUT/slurm_logs)"
    )


def add_json(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--json",
        action="store_true",
        help="print a machine-readable summary on stdout, and nothing else there (the rest goes to stderr)",
    )


def build_parser() -> Parser:
    parser = Parser(
        prog="ganbench",
        description="Declarative GAN benchmark and reproducibility harness.",
        epilog="run `ganbench COMMAND -h` for a command's flags and an example",
    )
    parser.add_argument("--version", action="version", version=f"ganbench {version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")

    def add_command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text, epilog=EPILOGS[name])

    def suite_command(name: str, help_text: str, out: str = "runs/<suite name>") -> argparse.ArgumentParser:
        """A command that runs a suite: every flag of `run` (tune's trials take them too)."""
        command = add_command(name, help_text)
        command.add_argument("suite", type=Path, help="suite YAML file")
        command.add_argument("--out", type=Path, help=f"output dir (default {out})")
        command.add_argument("--tracking-uri", help="MLflow tracking URI (default: SQLite in the output dir)")
        command.add_argument("--devices", default="auto", help="auto | cpu | cuda:0,1")
        command.add_argument(
            "--runs-per-device", type=non_negative, default=0, help="worker slots per device (0: auto)"
        )
        command.add_argument(
            "--backend",
            metavar="NAME",
            type=backend,
            default="local",
            help="where the runs train: local, ray, slurm, a plugin's backend or an import path",
        )
        command.add_argument(
            "--ray-address", help="address of a running Ray cluster (default: start a local one)"
        )
        add_slurm_flags(command)
        command.add_argument("--seeds", type=positive, help="override the suite's seeds with 0..N-1")
        command.add_argument("--steps", type=positive, help="override every variant's generator steps")
        command.add_argument("--rerun", action="store_true", help="train again even runs that finished")
        command.add_argument("--retries", type=non_negative, default=0, help="retries of a failed work unit")
        command.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")
        command.add_argument("--data-root", help="folder with image datasets (or GANBENCH_DATA_ROOT)")
        command.add_argument(
            "--precision",
            choices=["auto", "fp32", "bf16"],
            default="auto",
            help="forward passes in bf16 (autocast) or fp32; auto: bf16 for conv nets on CUDA",
        )
        command.add_argument(
            "--inception-weights", help="local Inception weights file (or GANBENCH_INCEPTION_WEIGHTS)"
        )
        command.add_argument(
            "--checkpoint-every",
            type=non_negative,
            metavar="N",
            help="checkpoint each training ensemble every N generator steps (rounded up to 50), so a "
            "killed run resumes from there with the same numbers; 0: never (default: once a minute)",
        )
        command.add_argument(
            "--wait",
            action="store_true",
            help="if another run holds the output dir, wait for it (default: exit 75)",
        )
        add_overrides(command)
        add_json(command)
        return command

    suite_command("run", "train and evaluate every run of a suite")
    check = suite_command("check", "run a suite, then gate on its claims and a baseline (exit 1 on failure)")
    check.add_argument("--baseline", type=Path, help="leaderboard CSV to compare against")

    board = add_command("leaderboard", "re-aggregate a finished output dir")
    board.add_argument("dir", type=Path, help="output dir of `ganbench run`")
    board.add_argument("--format", choices=["csv", "md"], default="csv", help="table format")
    board.add_argument("-o", "--output", type=Path, help="file to write (default: print)")

    tune = suite_command(
        "tune",
        "tune a variant's hyperparameters with Optuna; each trial runs as `run` would, with run's flags",
        out="runs/<suite name>-tune",
    )
    tune.add_argument(
        "--trials", type=positive, help="finished trials the study should have (default: tune.trials)"
    )
    tune.add_argument("--workers", type=positive, default=1, help="trials at once")
    tune.add_argument("--storage", help="Optuna storage URL (default: SQLite OUT/optuna.db)")
    tune.add_argument("--study", help="study name (default: <suite>-<variant>); a stored one is resumed")
    tune.add_argument("--per-variant", action="store_true", help="a study per variant, not only tune.variant")
    tune.add_argument("--export", type=Path, help="write the best values as YAML overrides (for --set)")

    report = add_command("report", "HTML report of a finished output dir")
    report.add_argument("dir", type=Path, help="output dir of `ganbench run`")
    report.add_argument("-o", "--output", type=Path, default=None, help="file (default DIR/report.html)")

    validate = add_command("validate", "check a suite file, train nothing")
    validate.add_argument("suite", type=Path, help="suite YAML file")
    validate.add_argument("--seeds", type=positive, help="override the suite's seeds with 0..N-1")
    validate.add_argument("--steps", type=positive, help="override every variant's generator steps")
    add_overrides(validate)
    add_json(validate)
    add_command("list", "registered losses, archs, datasets, metrics, optimizers")
    schema = add_command("schema", "write the suite reference (JSON Schema + Markdown)")
    schema.add_argument("--out", type=Path, default=Path("docs"), help="folder")
    schema.add_argument("--check", action="store_true", help="write nothing; exit 1 if the files are stale")
    add_sample_command(add_command)
    return parser


def add_sample_command(add_command: Any) -> None:
    sample = add_command("sample", "draw samples from a finished run's saved generator")
    sample.add_argument("run_id", help="the run's id (runs.csv's run_id column) or a unique prefix of it")
    sample.add_argument("--out", type=Path, help="its output dir, or a folder of output dirs (default runs/)")
    sample.add_argument("-n", type=positive, required=True, help="how many samples")
    sample.add_argument("-o", "--output", type=Path, required=True, help="the .npy file to write")
    sample.add_argument(
        "--seed",
        type=non_negative,
        help="noise stream seed (default: the run's, whose first samples are its final ones)",
    )
    add_json(sample)


def main(argv: list[str] | None = None) -> int:
    from ganbench.runner import interrupts

    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):
        parser.print_help()
        return EXIT_BAD_INPUT
    args = parser.parse_args(argv)
    machine = getattr(args, "json", False)
    stdout = sys.stdout
    try:
        # --json: stdout holds the summary alone; whatever else a command prints goes to stderr.
        redirect = contextlib.redirect_stdout(sys.stderr) if machine else contextlib.nullcontext()
        with redirect, interrupts.handled():  # SIGINT/SIGTERM -> Interrupted, for the whole command
            code = COMMANDS[args.command](args)
        if machine:
            summary = {"command": args.command, "exit_code": code, **getattr(args, "summary", {})}
            print(json.dumps(summary, allow_nan=False), file=stdout, flush=True)
        return code
    except BadInput as err:
        return _fail(err, EXIT_BAD_INPUT)
    except OutputError as err:
        return _fail(err, EXIT_OUTPUT)
    except Locked as err:
        return _fail(err, EXIT_LOCKED)
    except KeyboardInterrupt as err:  # Interrupted (SIGINT/SIGTERM) or a bare Ctrl-C
        finished, pending = getattr(err, "finished", None), getattr(err, "pending", None)
        counts = f": {finished} runs finished, {pending} pending" if finished is not None else ""
        print(f"interrupted{counts}; run the same command to resume", file=sys.stderr, flush=True)
        return getattr(err, "exit_code", 130)


def _fail(err: Exception, code: int) -> int:
    """The error as exactly one line: whatever a message holds, newlines never reach stderr."""
    print(f"error: {' '.join(str(err).split())}", file=sys.stderr, flush=True)
    return code


def _load(args: argparse.Namespace):
    from ganbench.suite import load_suite

    return load_suite(
        args.suite,
        steps=getattr(args, "steps", None),
        seeds=getattr(args, "seeds", None),
        overrides=dict(getattr(args, "overrides", None) or []),
    )


def _options(args: argparse.Namespace):
    from ganbench.api import RunOptions

    return RunOptions(
        out=args.out,
        tracking_uri=args.tracking_uri,
        devices=args.devices,
        runs_per_device=args.runs_per_device,
        backend=args.backend,
        ray_address=args.ray_address,
        slurm_executor=args.slurm_executor,
        slurm_partition=args.slurm_partition,
        slurm_time=args.slurm_time,
        slurm_gpus_per_job=args.slurm_gpus_per_job,
        slurm_cpus_per_job=args.slurm_cpus_per_job,
        slurm_folder=args.slurm_folder,
        rerun=args.rerun,
        retries=args.retries,
        quiet=args.quiet,
        data_root=args.data_root,
        inception_weights=args.inception_weights,
        precision=args.precision,
        wait=args.wait,
        checkpoint_every=args.checkpoint_every,
    )


def cmd_run(args: argparse.Namespace) -> int:
    suite = _load(args)
    _prestart_tracker()
    from ganbench import api
    from ganbench.summary import outcome_summary, print_failures, print_outcome

    outcome = api.run_suite(suite, _options(args))
    print_outcome(outcome)
    code = EXIT_RUNS_FAILED if print_failures(outcome) else 0
    args.summary = {"suite": suite.name, **outcome_summary(outcome)}
    return code


def cmd_check(args: argparse.Namespace) -> int:
    suite = _load(args)
    _prestart_tracker()
    from ganbench import api
    from ganbench.summary import check_summary, outcome_summary, print_check, print_failures, print_outcome

    outcome, failed_claims, regressions = api.check_suite(suite, _options(args), args.baseline)
    print_outcome(outcome)
    failed_runs = print_failures(outcome)
    gate = print_check(failed_claims, regressions)
    args.summary = {
        "suite": suite.name,
        **outcome_summary(outcome),
        "check": check_summary(failed_claims, regressions),
    }
    return EXIT_RUNS_FAILED if failed_runs else gate


def _prestart_tracker() -> None:
    """MLflow is imported in a side process while this one imports torch (ganbench/tracker_process.py)."""
    from ganbench.tracker_process import prestart

    prestart()


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from ganbench.summary import publish_leaderboard

    publish_leaderboard(args.dir, args.format, args.output)
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from ganbench.tune import TuneOptions, tune_suite

    options = TuneOptions(
        run=_options(args),
        steps=args.steps,
        seeds=args.seeds,
        overrides=dict(args.overrides or []),
        trials=args.trials,
        workers=args.workers,
        storage=args.storage,
        study=args.study,
        per_variant=args.per_variant,
        export=args.export,
    )
    tuned = tune_suite(args.suite, options)
    args.summary = {"suite": tuned.suite, "out_dir": str(tuned.out_dir), "studies": tuned.summary()}
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ganbench.report import write_report

    path = write_report(args.dir, args.output)
    print(f"report written to {path}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    suite = _load(args)
    args.summary = {
        "suite": suite.name,
        "file": str(args.suite),
        "valid": True,
        "variants": len(suite.variants),
        "configurations": sum(map(len, suite.configs.values())),
        "datasets": len(suite.datasets),
        "seeds": len(suite.seeds),
        "runs": len(suite.specs),
        "claims": len(suite.file.claims),
    }
    print(
        f"{args.suite}: ok: {len(suite.variants)} variants ({sum(map(len, suite.configs.values()))} "
        f"configurations) x {len(suite.datasets)} datasets x "
        f"{len(suite.seeds)} seeds = {len(suite.specs)} runs, {len(suite.file.claims)} claims"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from ganbench.summary import print_registries

    print_registries()
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from ganbench import schema

    if args.check:
        stale = schema.stale(args.out)
        for path in stale:
            print(f"{path}: stale; run `ganbench schema --out {args.out}`", file=sys.stderr)
        return EXIT_CHECK_FAILED if stale else 0
    for path in schema.write(args.out):
        print(f"wrote {path}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from ganbench import sampling

    found = sampling.find_run(args.run_id, args.out)
    drawn = sampling.draw(found, args.n, args.seed)
    sampling.write_samples(args.output, drawn)
    rec = found.record
    what = f"run {rec.run_id} ({rec.variant}, {rec.dataset}, seed {rec.seed})"
    print(f"{args.output}: {len(drawn)} samples of shape {list(drawn.shape[1:])} from {what}")
    args.summary = {
        "run_id": rec.run_id,
        "out_dir": str(found.out_dir),
        "file": str(args.output),
        "shape": list(drawn.shape),
    }
    return 0


COMMANDS = {
    "run": cmd_run,
    "check": cmd_check,
    "leaderboard": cmd_leaderboard,
    "tune": cmd_tune,
    "report": cmd_report,
    "validate": cmd_validate,
    "list": cmd_list,
    "schema": cmd_schema,
    "sample": cmd_sample,
}


def entry() -> NoReturn:
    """The `ganbench` command: ``main``, then ``exit_now`` with its code."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """Exit without the interpreter's teardown, which frees the objects of torch, SciPy, pandas
    and the rest one module at a time: 0.6-0.9 s after a `ganbench run` of 7 s. What an exit must
    do is done first: the atexit handlers (multiprocessing's clean-up, temporary folders, an
    unused tracker process, logging) and flushing stdout and stderr; files are closed by then
    (every write goes through a ``with`` or ``write_atomic``). While a thread that a normal exit
    would wait for is still running, this is a normal exit."""
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()  # noqa: SLF001 - what sys.exit runs before the teardown
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe (`| head`): nothing to flush into
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()

"""The command line itself: --version, help, `--set` overrides, `--json` and progress lines in logs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ganbench import __version__
from ganbench.cli import main
from ganbench.errors import BadInput
from ganbench.suite import load_suite
from tests.proc_helpers import env


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"ganbench {__version__}"


def test_no_arguments_prints_the_commands_and_exits_2(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    for command in ("run", "check", "validate", "list", "tune", "report", "leaderboard", "schema"):
        assert command in out


def test_help_shows_defaults_and_an_example(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "-h"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "(default: auto)" in out and "(default: local)" in out
    assert "example:\n  ganbench run " in out and "--set KEY.PATH=VALUE" in out and "--json" in out


def test_overrides_apply_before_validation(tiny_suite):
    suite = load_suite(
        tiny_suite,
        overrides={
            "defaults.steps": 7,
            "variants.wgan.optimizer.lr": 1e-4,
            "seeds": 3,
            "datasets": ["ring8"],
            "variants.extra.loss": "ns",  # creates the variant and, below, its optimizer mapping
            "variants.extra.optimizer.name": "adam",
        },
    )
    assert suite.seeds == [0, 1, 2] and list(suite.datasets) == ["ring8"]
    assert set(suite.variants) == {"gan", "wgan", "extra"}
    assert all(config.steps == 7 for config in suite.variants.values())
    assert suite.variants["wgan"].optimizer.lr == pytest.approx(1e-4)
    assert len(suite.specs) == 3 * 3
    assert load_suite(tiny_suite).variants["wgan"].optimizer.lr == pytest.approx(1e-3)  # file untouched


def test_override_through_a_non_mapping_names_the_key_path(tiny_suite):
    with pytest.raises(BadInput, match=r"suite\.yaml: seeds\.x: cannot set a key inside seeds"):
        load_suite(tiny_suite, overrides={"seeds.x": 1})


@pytest.mark.parametrize(
    ("setting", "key_path"),
    [("seeds.x=1", "seeds.x"), ("variants.gan.optimizer.lr=-1", "variants.gan.optimizer.lr")],
)
def test_bad_set_is_one_line_naming_the_key_path(tiny_suite, capsys, setting, key_path):
    assert main(["validate", str(tiny_suite), "--set", setting]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f": {key_path}: " in err


def test_set_without_equals_is_a_flag_error(tiny_suite, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["validate", str(tiny_suite), "--set", "seeds"])
    assert exit_.value.code == 2
    assert "expected key.path=value" in capsys.readouterr().err


def test_validate_json_is_all_of_stdout(tiny_suite, capsys):
    assert main(["validate", str(tiny_suite), "--json", "--set", "seeds=3", "--set", "datasets=[ring8]"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["command"] == "validate" and summary["exit_code"] == 0 and summary["valid"] is True
    assert summary["runs"] == 2 * 3 and summary["seeds"] == 3 and summary["claims"] == 1
    assert ": ok: " in captured.err  # the human line went to stderr


def test_run_in_a_log_prints_run_lines_and_heartbeats_then_json(tiny_suite, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "ganbench.cli", "run", str(tiny_suite), "--out", str(out)]
    command += ["--steps", "20", "--seeds", "1", "--set", "datasets=[ring8]", "--devices", "cpu"]
    environment = {**env(), "GANBENCH_HEARTBEAT_S": "0"}
    log = tmp_path / "log"
    with open(log, "w") as stdout:
        done = subprocess.run(
            command, stdout=stdout, stderr=subprocess.PIPE, text=True, env=environment, timeout=300
        )
    assert done.returncode == 0, done.stderr
    text = log.read_text()
    assert "run gan/ring8 seed 0: finished" in text and "run wgan/ring8 seed 0: " in text, text
    assert "progress: 40/40 run-steps (100%), 2 runs done" in text, text
    assert "run-steps/s" in text and "ETA" in text

    again = subprocess.run([*command, "--json"], capture_output=True, text=True, env=environment, timeout=300)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)  # stdout is the summary and nothing else
    assert summary["command"] == "run" and summary["out_dir"] == str(out) and summary["trained"] == 0
    assert summary["runs"]["status"].get("finished", 0) + summary["runs"]["status"].get("diverged", 0) == 2
    assert sum(summary["runs"]["health"].values()) == summary["runs"]["total"]
    assert [claim["id"] for claim in summary["claims"]] == ["gan-beats-wgan"]
    assert {"dataset", "verdict", "p_adjusted"} <= set(summary["claims"][0])
    assert "runs in" in again.stderr  # the human summary went to stderr


def test_heartbeats_come_while_no_step_arrives():
    import io
    import time

    from ganbench.progress import LineProgress

    log = io.StringIO()
    lines = LineProgress(100, log, interval=0.1)
    lines.start()
    lines(10)
    time.sleep(0.5)
    lines.close()
    beats = [line for line in log.getvalue().splitlines() if line.startswith("progress: 10/100 run-steps")]
    assert len(beats) >= 2 and all("run-steps/s" in line and "ETA" in line for line in beats)


EXIT = """
import atexit, sys, threading, time
from ganbench.cli import exit_now
out = sys.argv[1]
class Teardown:  # what the interpreter's teardown would run
    def __del__(self, open=open, path=out + ".teardown"):  # bound now: builtins may be gone by then
        open(path, "w").close()
keep = Teardown()
atexit.register(lambda: open(out + ".atexit", "w").close())
if "--thread" in sys.argv:  # a thread a normal exit waits for
    threading.Thread(target=lambda: (time.sleep(0.5), open(out + ".thread", "w").close())).start()
print("flushed?", end="")
exit_now(3)
"""


@pytest.mark.parametrize("thread", [False, True])
def test_exit_now_runs_the_exit_handlers_and_skips_the_teardown(tmp_path, thread):
    """`ganbench` exits without the interpreter's teardown (0.6-0.9 s after torch and SciPy), yet
    with its code, its atexit handlers run and its output flushed; while a non-daemon thread runs,
    it exits as usual instead (waiting for the thread)."""
    out = tmp_path / "mark"
    argv = [sys.executable, "-c", EXIT, str(out), *(["--thread"] if thread else [])]
    done = subprocess.run(argv, capture_output=True, text=True, env=env(), timeout=60)
    assert done.returncode == 3 and done.stdout == "flushed?", done.stderr
    assert (tmp_path / "mark.atexit").exists()
    assert (tmp_path / "mark.thread").exists() == thread
    assert (tmp_path / "mark.teardown").exists() == thread  # a plain exit tears down

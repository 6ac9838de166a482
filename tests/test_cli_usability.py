"""The command line a newcomer meets: a closed pipe ends quietly, every flag says its default, typos get a
"did you mean", and TensorFlow-free paths stay TensorFlow-free."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from seq2exp import cli

from tests.conftest import REPO_ROOT

ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


def run_into_a_closed_pipe(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``seq2exp ARGV | head -0``, deterministically: stdout is a pipe whose reader is gone before the first write."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "seq2exp.cli", *argv], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=timeout, env=ENV, cwd=REPO_ROOT)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("stage", [None, *cli.STAGES])
def test_help_into_a_closed_pipe_ends_without_a_traceback(stage):
    result = run_into_a_closed_pipe(*([stage] if stage else []), "--help")
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr
    assert result.returncode in (0, 141)  # 0: argparse itself swallows a failed write of a long help text


def test_configs_list_into_a_closed_pipe():
    result = run_into_a_closed_pipe("configs", "list")
    assert result.returncode == 141 and result.stderr == ""


def test_score_json_into_a_closed_pipe(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    sequences = ["".join(row) for row in np.array(list("ACGT"))[rng.integers(0, 4, size=(40, 20))]]
    truth = tmp_path / "truth.txt"
    truth.write_text("".join(f"{s}\t{v:.3f}\n" for s, v in zip(sequences, rng.normal(size=40))))
    (tmp_path / "pred.txt").write_text("".join(f"{s}\t{v:.3f}\n" for s, v in zip(sequences, rng.normal(size=40))))
    result = run_into_a_closed_pipe("score", "--predictions", str(tmp_path / "pred.txt"), "--truth", str(truth),
                                    "--json")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 141


def test_models_json_into_a_closed_pipe():
    result = run_into_a_closed_pipe("models", "--json")
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr
    assert result.returncode == 141


def _walk(parser, prefix=()):
    """(command words, parser) for the top-level parser, every stage and every sub-command."""
    import argparse

    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _walk(child, prefix + (name,))


def test_every_argument_has_help_and_every_option_shows_its_default():
    import argparse

    parser = cli.build_parser()  # every stage's options
    missing, no_default = [], []
    for words, sub in _walk(parser):
        text = " ".join(sub.format_help().split())
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            name = action.option_strings[-1] if action.option_strings else action.dest
            if not action.help:
                missing.append((" ".join(words), name))
            default = action.default
            if action.option_strings and default not in (None, False, [], (), argparse.SUPPRESS) and \
                    not isinstance(action, argparse._VersionAction):
                shown = " ".join(str(default).split())
                if "default" not in (action.help or "").lower() and f"(default: {shown})" not in text:
                    no_default.append((" ".join(words), name, default))
    assert not missing, f"arguments without help: {missing}"
    assert not no_default, f"options whose help does not show the default: {no_default}"


def test_the_defaults_formatter_adds_the_default_once():
    parser = cli.Parser(prog="x")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs")
    parser.add_argument("--seed", type=int, default=0, help="")
    parser.add_argument("--named", default=5, help="already says it (default: %(default)s)")
    parser.add_argument("--flag", action="store_true", help="a switch")
    text = " ".join(parser.format_help().split())
    assert "training epochs (default: 3)" in text
    assert text.count("(default: 5)") == 1 and "a switch (default" not in text


@pytest.mark.parametrize("argv, hint", [
    (["trian"], "did you mean train"),
    (["configs", "lst"], "did you mean list"),
    (["run", "--epcohs", "3"], "did you mean --epochs"),
    (["score", "--predictons", "p.txt", "--truth", "t.txt"], "did you mean --predictions"),
    (["train", "autosome", "--out", "o", "--strategy", "mirored"], "did you mean mirrored"),
])
def test_a_mistyped_stage_flag_or_choice_gets_did_you_mean(argv, hint, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert hint in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if "error:" in line]) == 1  # usage + one error line

"""The ``seq2exp`` command: one sub-command per stage.

Each stage lives in its own module that defines ``add_arguments(parser)`` and ``main(args) -> int`` and keeps its
top-level imports light (TensorFlow is imported inside ``main``). Only the requested stage's module is imported
(``seq2exp score ...`` imports nothing of the other stages; ``seq2exp --help`` imports none), so the command starts
fast. A stage whose module is not installed is simply absent.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from typing import Iterable, Sequence

# command -> (module, one-line help). Order is the order of a real project: data, simulate, models, train, ...
STAGES: dict[str, tuple[str, str]] = {
    "run": ("seq2exp.job", "the main job in 5 stages: simulate -> train (+ baseline) -> export -> serve + predict -> "
                           "score + report"),
    "data": ("seq2exp.data.cli", "data files: download the challenge data, build the training cache, validate"),
    "simulate": ("seq2exp.simulate.cli", "simulate a random-promoter library with ground truth"),
    "models": ("seq2exp.models.cli", "list the registered architectures"),
    "configs": ("seq2exp.training.configs_cli", "list the registered training recipes, or print one to copy and edit"),
    "train": ("seq2exp.training.cli", "train a model with model.fit from a config"),
    "import": ("seq2exp.training.import_cli", "import a team's own trained weights (PyTorch/Keras) as a run folder"),
    "export": ("seq2exp.serving.export_cli", "export a trained run as a versioned SavedModel"),
    "serve-config": ("seq2exp.serving.config_cli", "write TF Serving models.config / batching.config"),
    "serve": ("seq2exp.serving.server_cli", "embedded TF-Serving-compatible gRPC server"),
    "predict": ("seq2exp.serving.predict_cli", "batch inference over FASTA/TSV/DREAM files"),
    "batch": ("seq2exp.batch.cli", "batch inference past one machine: an Apache Beam RunInference pipeline"),
    "score": ("seq2exp.evaluation.cli", "score predictions the way the challenge did"),
    "subsets": ("seq2exp.evaluation.subsets_cli", "the test subsets as FASTA / DREAM / variant TSV files"),
    "explain": ("seq2exp.interpret.explain_cli", "attribution, in-silico mutagenesis, motif effects, TF-MoDISco"),
    "variants": ("seq2exp.interpret.variants_cli", "predicted variant effects (alt - ref), scorable by seq2exp score"),
    "design": ("seq2exp.interpret.design_cli", "design sequences towards a target expression (genetic algorithm)"),
}


# stages that start TensorFlow: on a machine without a GPU their start-up noise (absl "log messages before
# InitializeLog", cudart_stub, cuInit errors, oneDNN notes) is hidden unless -v is given
TENSORFLOW_STAGES = frozenset({"run", "models", "import", "train", "export", "serve", "predict", "batch", "explain",
                               "variants", "design"})


def _tensorflow_free_client(args: argparse.Namespace) -> bool:
    """``predict --server`` / ``batch --server``: a gRPC/REST client (grpcio + protobuf + numpy) that never imports
    TensorFlow, so the CLI does not start it either (start-up well under a second instead of several)."""
    return bool(getattr(args, "server", None))


# stage -> options under which that TensorFlow stage needs no TensorFlow
TENSORFLOW_FREE = {"predict": _tensorflow_free_client, "batch": _tensorflow_free_client,
                   "models": lambda args: not (getattr(args, "build", False) or getattr(args, "no_params", False))}


def starts_tensorflow(args: argparse.Namespace) -> bool:
    """Whether the parsed command will import TensorFlow (and so gets its start-up noise hidden first)."""
    command = getattr(args, "command", None)
    if command not in TENSORFLOW_STAGES:
        return False
    free = TENSORFLOW_FREE.get(command)
    return not (free is not None and free(args))


def _has_gpu_driver() -> bool:
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidia0")


def quiet_tensorflow_start() -> str:
    """Import TensorFlow and initialise its devices with C-level stderr captured; return what it printed.

    TensorFlow's C++ start-up lines are written before its logging is configured, so ``TF_CPP_MIN_LOG_LEVEL``
    alone does not hide them; capturing file descriptor 2 for the import does. On an import error the captured
    text is replayed on stderr. A Python-level import error is raised as usual.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return ""
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        failed = True
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
            if failed:
                sys.stderr.write(text)
    return text


def _module_exists(name: str) -> bool:
    """Whether a ``seq2exp`` module is installed, found on disk without importing it or its parent packages."""
    import seq2exp

    parts = name.split(".")[1:]
    for root in getattr(seq2exp, "__path__", []):
        base = os.path.join(root, *parts)
        if os.path.isfile(base + ".py") or os.path.isfile(os.path.join(base, "__init__.py")):
            return True
    try:  # not a plain folder layout (e.g. a zip): ask the import system, which imports the parent packages
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _available_stages() -> dict[str, tuple[str, str]]:
    return {command: entry for command, entry in STAGES.items() if _module_exists(entry[0])}


def requested_stage(argv: Sequence[str]) -> str | None:
    """The stage named on a command line (the first word that is not an option), or ``None``."""
    for token in argv:
        if token == "--":
            return None
        if not token.startswith("-"):
            return token
    return None


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, ``(default: X)``, unless the text already names it or there is
    nothing to say (a switch that is off, no default, a list that starts empty). One place for every stage."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if text is argparse.SUPPRESS or "default" in text.lower() or not action.option_strings:
            return text
        default = action.default
        if default is None or default is argparse.SUPPRESS or default is False or default == [] or \
                isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._StoreConstAction)):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


def _suggestion(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean X?)`` for the close candidates of a mistyped ``word``, or ``""``."""
    import difflib

    close = difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with :class:`DefaultsHelpFormatter` and a "did you mean" on a mistyped choice
    (a stage, ``--strategy mirored``); sub-parsers (stages and their sub-commands) are of this class too."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # type: ignore[override]
        import re

        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if match:
            message += _suggestion(match.group(1), re.findall(r"'([^']*)'", match.group(2)))
        super().error(message)


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string of ``parser`` and of its sub-commands' parsers (``--epochs``, ``-o``, ...)."""
    found = []
    for action in parser._actions:
        found += [option for option in action.option_strings if option.startswith("--")]
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += option_strings(child)
    return found


def build_parser(stages: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """Return the top-level parser with one sub-parser per available stage.

    ``stages``: the stages whose modules are imported and whose options are added (``None``: every stage); the
    others are listed (for ``--help``) without their options.
    """
    parser = Parser(prog="seq2exp", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging, and TensorFlow's start-up messages (hidden on a machine without a GPU)")
    from seq2exp import __version__

    parser.add_argument("--version", action="version", version=f"seq2exp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<stage>")
    wanted = None if stages is None else set(stages)
    for command, (module_name, help_text) in _available_stages().items():
        stage_parser = sub.add_parser(command, help=help_text, description=help_text)
        if wanted is None or command in wanted:
            module = importlib.import_module(module_name)
            module.add_arguments(stage_parser)
            stage_parser.set_defaults(_stage_main=module.main)
    return parser


def _refuse_unknown_options(parser: argparse.ArgumentParser, stage: str | None, words: Sequence[str],
                            all_words: bool = False) -> None:
    """Exit with the stage's usage and "unrecognized arguments: --epcohs (did you mean --epochs?)" when ``words``
    hold a ``--option`` that neither the stage nor ``seq2exp`` itself knows (nor abbreviates), before argparse
    reports something else first (such as a required option that the typo was meant to be)."""
    stage_parser = _stage_parser(parser, stage) or parser
    known = list(dict.fromkeys(option_strings(stage_parser) + option_strings(parser)))
    unknown = []
    for word in words:
        if word == "--":
            break
        name = word.split("=")[0]
        if word.startswith("--") and not any(option.startswith(name) for option in known):
            unknown.append(word)
    if all_words:
        unknown = list(words)
    if unknown:
        hints = "".join(_suggestion(word.split("=")[0], known) for word in unknown if word.startswith("--"))
        stage_parser.error(f"unrecognized arguments: {' '.join(unknown)}{hints}")


def _stage_parser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``seq2exp`` console script; returns the process exit code.

    A closed pipe on stdout (``seq2exp models --json | head``) ends the command quietly with exit code 141 (as
    a process killed by SIGPIPE), for every stage and for ``--help``: no ``BrokenPipeError`` traceback."""
    try:
        try:
            code = _main(argv)
        except SystemExit as exit_:  # --help, --version and usage errors print too (and may meet a closed pipe)
            sys.stdout.flush()
            raise exit_
        sys.stdout.flush()  # a reader that left shows here, not in the interpreter's final flush
        return code
    except BrokenPipeError:
        return _stdout_to_devnull()


def _stdout_to_devnull() -> int:
    """After a closed pipe: point stdout at devnull (the interpreter's final flush would fail again) -> 141."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return 141


def _main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser([stage] if (stage := requested_stage(argv)) else [])
    _refuse_unknown_options(parser, stage, argv)
    args, extras = parser.parse_known_args(argv)
    if extras:  # as parse_args, but the error comes from the stage's parser, with a "did you mean"
        _refuse_unknown_options(parser, getattr(args, "command", None), extras, all_words=True)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    if starts_tensorflow(args) and not args.verbose and not _has_gpu_driver():
        quiet_tensorflow_start()
    try:
        return int(args._stage_main(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - user-facing errors become one clear line + non-zero exit
        from seq2exp.errors import Seq2ExpError

        if isinstance(error, Seq2ExpError):
            text = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())  # one line
            print(f"seq2exp {args.command}: error: {text}", file=sys.stderr)
            return 2
        if isinstance(error, OSError) and error.filename is not None:  # a path the user gave cannot be used
            print(f"seq2exp {args.command}: error: {error.filename}: {error.strerror or error}", file=sys.stderr)
            return 2
        if isinstance(error, UnicodeDecodeError):
            print(f"seq2exp {args.command}: error: an input file is not UTF-8 text ({error.reason} at byte "
                  f"{error.start}); save it as UTF-8", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())

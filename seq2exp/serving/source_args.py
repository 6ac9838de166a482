"""The model-source flags shared by ``seq2exp predict`` and ``seq2exp batch``: one definition, one check.

``--server HOST:PORT --model NAME [--version V | --label L]`` or ``--saved-model DIR``, plus positive counts.
Argparse only; nothing heavy is imported here (the CLI starts fast).
"""
from __future__ import annotations

import argparse

from seq2exp.argtypes import version_int


def add_model_source_arguments(parser: argparse.ArgumentParser, *, server_help: str, saved_model_help: str,
                               version_help: str) -> None:
    """Add the mutually exclusive ``--server`` / ``--saved-model`` pair and ``--model``, ``--version``/``--label``."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--server", help=server_help)
    source.add_argument("--saved-model", help=saved_model_help)
    parser.add_argument("--model", help="model name on the server (with --server)")
    version = parser.add_mutually_exclusive_group()
    version.add_argument("--version", type=version_int, help=version_help)
    version.add_argument("--label", help="version label on the server, e.g. stable")


def check_model_source(args: argparse.Namespace) -> None:
    """Raise ``ConfigError`` for a flag combination that cannot be honoured (the numbers are checked by argparse:
    :mod:`seq2exp.argtypes`)."""
    from seq2exp.errors import ConfigError

    if args.server and not args.model:
        raise ConfigError("--server needs --model NAME")
    if not args.server and (args.model or args.version or args.label):
        raise ConfigError("--model/--version/--label go with --server; --saved-model names its version folder")

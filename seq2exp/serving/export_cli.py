"""``seq2exp export RUN [RUN ...] --model-base-path M --name NAME [--version V]``: a run -> ``M/NAME/V/``
(SavedModel); several runs -> one SavedModel serving the mean of their predictions (an ensemble)."""
from __future__ import annotations

import argparse

from seq2exp.argtypes import version_int
from seq2exp.jsonio import dumps


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", nargs="+", help="training run folder (RUN/model.keras, RUN/run.json, "
                        "RUN/config.yaml); several: export their ensemble (mean prediction)")
    parser.add_argument("--model-base-path", required=True, help="TF Serving model base path M (M/NAME/VERSION/)")
    parser.add_argument("--name", required=True, help="model name (the folder under M and the name clients use)")
    parser.add_argument("--version", type=version_int, default=None,
                        help="version number (default: the highest existing version + 1); versions are immutable")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip reloading the export and comparing it with the in-process prediction")


def main(args: argparse.Namespace) -> int:
    from seq2exp.errors import ConfigError
    from seq2exp.serving.config import check_model_name
    from seq2exp.serving.export import export_run

    check_model_name(args.name)  # before anything is loaded: --name is one folder under --model-base-path
    if args.version is not None and not 1 <= args.version <= 2**63 - 1:
        raise ConfigError(f"--version must be between 1 and 2^63-1 (TF Serving's int64), got {args.version}")
    result = export_run(args.run[0] if len(args.run) == 1 else args.run, args.model_base_path, args.name, args.version, verify=not args.no_verify)
    print(dumps({"path": str(result.path), "name": result.name, "version": result.version,
                 "check": result.metadata.get("check")}))
    return 0

"""``seq2exp serve-config``: write TF Serving's ``models.config`` and ``batching.config``.

Examples::

    # for the serving image (models under /models inside the container), serving the latest version:
    seq2exp serve-config --name dream --container-base /models --out-dir serving
    # from exported models on this machine, keeping versions 1 and 2 with labels:
    seq2exp serve-config --model-base-path M --policy specific --versions 1,2 --label stable=1 --label canary=2
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from seq2exp.argtypes import INT64_MAX, int_list, int_range, nonnegative_int, version_int
from seq2exp.serving import signatures as names

_versions = int_list(1, INT64_MAX, unique=True)  # TF Serving's int64 versions, each once
_batching_count = int_range(1, INT64_MAX)
_num_versions = int_range(1, 1_000_000)


def _label(text: str) -> tuple[str, int]:
    label, _, version = text.partition("=")
    label = label.strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,127}", label):
        raise argparse.ArgumentTypeError(f"expected LABEL=VERSION with LABEL a word not starting with a digit "
                                         f"(e.g. stable=1), got {text!r}")
    try:
        return label, version_int(version)
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: the version {error}") from None


def _serving_version(text: str) -> str:
    if not re.fullmatch(r"[0-9]{1,4}(\.[0-9]{1,4}){1,2}([.-]?(rc|dev|a|b)[0-9]{0,4})?", text.strip()):
        raise argparse.ArgumentTypeError(f"expected a TensorFlow Serving release such as 2.18.0, got {text!r}")
    return text.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("models")
    where.add_argument("--model-base-path", help="serve every model exported under this folder (M/<name>/<version>)")
    where.add_argument("--name", action="append", default=[],
                       help="model name (repeatable); with --model-base-path: only these models")
    where.add_argument("--container-base", default=None,
                       help=f"base path written into the config instead of M (e.g. {names.CONTAINER_MODEL_BASE} "
                            "inside the tensorflow/serving image); required without --model-base-path")
    policy = parser.add_argument_group("version policy")
    policy.add_argument("--policy", choices=["latest", "all", "specific"], default="latest", help="TF Serving's version policy: the newest --num-versions, all, or --versions")
    policy.add_argument("--num-versions", type=_num_versions, default=1, help="latest: how many of the newest versions")
    policy.add_argument("--versions", type=_versions, default=(), help="specific: e.g. 1,2")
    policy.add_argument("--label", type=_label, action="append", default=[],
                        help="version label LABEL=VERSION (repeatable), e.g. stable=1 canary=2")
    batching = parser.add_argument_group("batching (batching.config)")
    batching.add_argument("--max-batch-size", type=_batching_count, default=names.DEFAULT_MAX_BATCH_SIZE, help="rows per server-side batch at most")
    batching.add_argument("--batch-timeout-micros", type=nonnegative_int, default=2000, help="longest wait to fill a batch, µs")
    batching.add_argument("--num-batch-threads", type=_batching_count, default=names.DEFAULT_NUM_BATCH_THREADS, help="batches run in parallel")
    batching.add_argument("--max-enqueued-batches", type=_batching_count, default=100, help="queued batches before requests are refused")
    parser.add_argument("--serving-version", type=_serving_version, default=names.SERVING_TENSORFLOW_VERSION,
                        help="the TensorFlow Serving release that will load the models (default: the tested one, "
                             f"{names.SERVING_TENSORFLOW_VERSION}); warns about versions exported by a newer "
                             "TensorFlow")
    parser.add_argument("--out-dir", default="serving", help="where models.config and batching.config go")


def _check_labels(models, model_base_path: str | None) -> None:
    """Refuse a label whose version the policy will not serve, where that can be known: the exported version folders
    under ``--model-base-path``, or ``--versions`` of a specific policy (with ``--container-base`` only, ``latest``
    and ``all`` serve versions that are not here). TF Serving only assigns a label to a version it has loaded."""
    from seq2exp.errors import ConfigError
    from seq2exp.serving.config import list_versions

    for model in models:
        if model_base_path:
            folder = Path(model_base_path) / model.name
            exported = list_versions(folder)
            served = model.select_versions(exported)
            where = (f"model {model.name}: {model.policy_text()} serves {', '.join(map(str, served))} of "
                     f"{', '.join(map(str, exported))} under {folder}")
        elif model.policy == "specific":
            served, where = list(model.versions), model.policy_text()
        else:
            continue
        for label, version in model.unserved_labels(served).items():
            raise ConfigError(f"--label {label}={version}: version {version} is not served ({where}); TF Serving "
                              "only accepts a label for a version it has loaded")


def main(args: argparse.Namespace) -> int:
    from seq2exp.errors import ConfigError
    from seq2exp.serving.config import (BatchingOptions, ModelConfig, discover_models, exports_newer_than,
                                        write_model_config)

    from seq2exp.utils import check_output_folder, staged_dir

    labels = dict(args.label)
    if len(labels) != len(args.label):
        repeated = sorted({label for label, _ in args.label if [x for x, _ in args.label].count(label) > 1})
        raise ConfigError(f"--label {repeated[0]} is given twice; each label points to one version")
    if args.versions and args.policy != "specific":
        raise ConfigError(f"--versions goes with --policy specific, not {args.policy}")
    if args.policy == "specific" and not args.versions:
        raise ConfigError("--policy specific needs --versions, e.g. --versions 1,2")
    if args.batch_timeout_micros > INT64_MAX:
        raise ConfigError(f"--batch-timeout-micros must be at most {INT64_MAX}")
    out = check_output_folder(args.out_dir, "--out-dir")
    batching = BatchingOptions(max_batch_size=args.max_batch_size, batch_timeout_micros=args.batch_timeout_micros,
                               num_batch_threads=args.num_batch_threads,
                               max_enqueued_batches=args.max_enqueued_batches)  # checked before anything is written
    policy = {"policy": args.policy, "num_versions": args.num_versions, "versions": args.versions,
              "labels": labels}
    if args.model_base_path:
        models = discover_models(args.model_base_path, container_base=args.container_base, only=args.name or None,
                                 **policy)
    else:
        if not args.name or not args.container_base:
            raise ConfigError("give --model-base-path, or --name and --container-base")
        models = [ModelConfig(name=name, base_path=f"{args.container_base.rstrip('/')}/{name}", **policy)
                  for name in args.name]
    _check_labels(models, args.model_base_path)
    if args.model_base_path:
        local = {model.name: str(Path(args.model_base_path) / model.name) for model in models}
        for name, version, exported in exports_newer_than(models, args.serving_version, local):
            print(f"warning: {name} version {version} was exported by TensorFlow {exported}, newer than the target "
                  f"TensorFlow Serving {args.serving_version}: it may fail to load there (export it with TensorFlow "
                  f"{args.serving_version}, or serve with a newer image)", file=sys.stderr)
    header = ("Generated by `seq2exp serve-config`; TF Serving text format (tensorflow_model_server "
              "--model_config_file / --batching_parameters_file).\nRegenerate rather than edit: see docs/deployment.md.")
    with staged_dir(out) as staging:  # both files or neither
        write_model_config(staging / "models.config", models, header)
        batching.write(staging / "batching.config", header)
    models_path, batching_path = out / "models.config", out / "batching.config"
    print(f"wrote {models_path} ({', '.join(m.name for m in models)}) and {batching_path}")
    return 0

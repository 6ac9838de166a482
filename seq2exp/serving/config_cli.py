"""``seq2exp serve-config``: write TF Serving's ``models.config`` and ``batching.config``.

Examples::

    # for the serving image (models under /models inside the container), serving the latest version:
    seq2exp serve-config --name dream --container-base /models --out-dir serving
    # from exported models on this machine, keeping versions 1 and 2 with labels:
    seq2exp serve-config --model-base-path M --policy specific --versions 1,2 --label stable=1 --label canary=2
"""
from __future__ import annotations

import argparse
from pathlib import Path

from seq2exp.serving import signatures as names


def _label(text: str) -> tuple[str, int]:
    label, _, version = text.partition("=")
    if not label or not version.isdigit():
        raise argparse.ArgumentTypeError(f"expected LABEL=VERSION (e.g. stable=1), got {text!r}")
    return label, int(version)


def _versions(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated version numbers, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("models")
    where.add_argument("--model-base-path", help="serve every model exported under this folder (M/<name>/<version>)")
    where.add_argument("--name", action="append", default=[],
                       help="model name (repeatable); with --model-base-path: only these models")
    where.add_argument("--container-base", default=None,
                       help=f"base path written into the config instead of M (e.g. {names.CONTAINER_MODEL_BASE} "
                            "inside the tensorflow/serving image); required without --model-base-path")
    policy = parser.add_argument_group("version policy")
    policy.add_argument("--policy", choices=["latest", "all", "specific"], default="latest")
    policy.add_argument("--num-versions", type=int, default=1, help="latest: how many of the newest versions")
    policy.add_argument("--versions", type=_versions, default=(), help="specific: e.g. 1,2")
    policy.add_argument("--label", type=_label, action="append", default=[],
                        help="version label LABEL=VERSION (repeatable), e.g. stable=1 canary=2")
    batching = parser.add_argument_group("batching (batching.config)")
    batching.add_argument("--max-batch-size", type=int, default=names.DEFAULT_MAX_BATCH_SIZE)
    batching.add_argument("--batch-timeout-micros", type=int, default=2000)
    batching.add_argument("--num-batch-threads", type=int, default=names.DEFAULT_NUM_BATCH_THREADS)
    batching.add_argument("--max-enqueued-batches", type=int, default=100)
    parser.add_argument("--out-dir", default="serving", help="where models.config and batching.config go")


def main(args: argparse.Namespace) -> int:
    from seq2exp.errors import ConfigError
    from seq2exp.serving.config import BatchingOptions, ModelConfig, discover_models, write_model_config

    policy = {"policy": args.policy, "num_versions": args.num_versions, "versions": args.versions,
              "labels": dict(args.label)}
    if args.model_base_path:
        models = discover_models(args.model_base_path, container_base=args.container_base, only=args.name or None,
                                 **policy)
    else:
        if not args.name or not args.container_base:
            raise ConfigError("give --model-base-path, or --name and --container-base")
        models = [ModelConfig(name=name, base_path=f"{args.container_base.rstrip('/')}/{name}", **policy)
                  for name in args.name]
    out = Path(args.out_dir)
    models_path = write_model_config(out / "models.config", models)
    batching_path = BatchingOptions(max_batch_size=args.max_batch_size, batch_timeout_micros=args.batch_timeout_micros,
                                    num_batch_threads=args.num_batch_threads,
                                    max_enqueued_batches=args.max_enqueued_batches).write(out / "batching.config")
    print(f"wrote {models_path} ({', '.join(m.name for m in models)}) and {batching_path}")
    return 0

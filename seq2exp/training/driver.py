"""The training driver: config -> data cache -> model -> ``model.fit`` (or the multi-worker loop) -> run folder.

``seq2exp train`` and ``training/train.py`` both call :func:`train`. Everything the config names is checked before
any training starts (:mod:`seq2exp.training.config`). The run folder layout is in
:mod:`seq2exp.inference`. A run is resumable: restarting the same command on the same ``out`` folder
continues from the last step checkpoint with the same data order, so it ends with the same number of optimiser
steps and the same weights as an uninterrupted run. A resume on other data is refused: the folder records the
checksums, row counts and split of the data it was trained on (``RUN/checkpoints/data.json``), and a rerun with
another or edited file, another split or other parse options is a ``ConfigError`` (``restart=True`` /
``seq2exp train --restart`` discards the folder's training state and starts afresh). Parsed data caches live in
``data.cache_dir`` (default ``RUN/cache``) under a name keyed by the file's SHA-256 and parse options, so a cache
folder shared by several runs never hands one run another's rows.
"""
from __future__ import annotations

import datetime
import logging
import math
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from seq2exp.errors import ConfigError
from seq2exp.inference import runs as inference
from seq2exp.training.config import load_config, resolve_config
from seq2exp.training.setup import TrainingSetup, compile_model, validation_callback, validation_functions  # noqa: F401
from seq2exp.utils import missing_folders

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------------------------
def _resolve_paths(config: dict, data: str | Path | None, val: str | Path | None) -> tuple[Path, Path | None]:
    train_path = data or config.get("data", {}).get("train")
    if not train_path:
        raise ConfigError("data.train: no training file (pass --data TRAIN or set data.train in the config)")
    train_path = Path(train_path)
    if not train_path.is_file():
        raise ConfigError(f"data.train: training file not found: {train_path}")
    val_path = val or config.get("data", {}).get("val")
    if val_path:
        val_path = Path(val_path)
        if not val_path.is_file():
            raise ConfigError(f"data.val: validation file not found: {val_path}")
    return train_path, (Path(val_path) if val_path else None)


def _open_cache(path: Path, sha256: str, cache_root: Path, role: str, on_invalid: str, table=None):
    """The parsed cache of ``path``, in ``cache_root/<role>-<sha256[:16]>-<options>`` (built if missing or stale):
    a folder name per content and options, so runs sharing ``cache_root`` never read each other's rows.
    ``table``: the config's ``data.table`` (a file with a header and named target columns)."""
    from seq2exp.data.cache import build_cache

    name = f"{role}-{sha256[:16]}-{on_invalid}"
    if table is not None:
        import hashlib
        import json

        name += "-table-" + hashlib.sha256(json.dumps(table.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
    return build_cache(path, cache_root / name, on_invalid=on_invalid, source_sha256=sha256, table=table)


DATA_RECORD = "data.json"  # in RUN/checkpoints: what the run's training state was trained on
_DATA_IDENTITY = ("train_sha256", "val_sha256", "n_train", "n_val", "val_fraction", "split_seed", "on_invalid")
_TRAINING_STATE = (inference.CHECKPOINT_DIR, inference.MODEL_FILE, inference.RUN_INFO_FILE, inference.METRICS_CSV,
                   inference.METRICS_JSON, inference.CONFIG_FILE, inference.TENSORBOARD_DIR, "kmer_embeddings.npy")


def _recorded_data(out: Path) -> dict | None:
    from seq2exp.jsonio import load_file

    for path, key in ((out / inference.CHECKPOINT_DIR / DATA_RECORD, None), (out / inference.RUN_INFO_FILE, "data")):
        if path.exists():
            record = load_file(path, expect=dict)
            return record.get(key) if key else record
    return None


def _check_run_data(out: Path, data_info: Mapping[str, Any]) -> None:
    """Refuse to resume (or re-finish) a run folder on data other than the data it was trained on."""
    previous = _recorded_data(out)
    if not previous:
        return
    changed = [key for key in _DATA_IDENTITY if key in previous and previous.get(key) != data_info.get(key)]
    if changed:
        details = ", ".join(f"{key}: {previous.get(key)!r} -> {data_info.get(key)!r}" for key in changed)
        raise ConfigError(f"--out {out}: the folder holds a run trained on other data ({details}; was "
                          f"{previous.get('train')}); resuming would continue on the wrong rows. Use a new --out "
                          "folder, the same data, or --restart to discard this run's training state")


def discard_training_state(out: Path) -> None:
    """Remove a run folder's checkpoints, model, metrics and records (``--restart``); caches are kept."""
    import shutil

    for name in _TRAINING_STATE:
        path = Path(out) / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _check_run_folder(out: Path, config: dict) -> None:
    """A run folder is reused only for the same config (resume); otherwise refuse before overwriting it."""
    from seq2exp.training.config import yaml_load

    saved = out / inference.CONFIG_FILE
    if saved.exists():
        previous = yaml_load(saved.read_text()) or {}
        if previous != config:
            raise ConfigError(f"--out {out}: the folder holds a run with a different config; "
                              "use a new folder, the same config to resume, or --restart")


def prepare(config: Mapping[str, Any] | str | Path, data: str | Path | None, val: str | Path | None,
            out: str | Path, *, strategy: str = "auto", smoke: bool = False,
            overrides: Mapping[str, Any] | None = None, restart: bool = False) -> TrainingSetup:
    """Validate everything and build the data cache; no model is built and no step is taken yet.

    ``restart``: discard the run folder's training state first (else an existing run is resumed, and refused when
    its config or data differ)."""
    from seq2exp.data.cache import split_rows
    from seq2exp.models import registry
    from seq2exp.training.losses import get_loss
    from seq2exp.training.strategy import choose_precision, choose_strategy, detect_devices
    from seq2exp.inference.transforms import fit_target_transform
    from seq2exp.utils import sha256_file

    raw = load_config(config) if isinstance(config, (str, Path)) else dict(config)
    config = resolve_config(raw, smoke=smoke, overrides=overrides)
    train_path, val_path = _resolve_paths(config, data, val)
    init_from = config["model"].get("init_from")
    if init_from and not (Path(init_from) / inference.MODEL_FILE).is_file():
        raise ConfigError(f"model.init_from: no trained run at {init_from} ({inference.MODEL_FILE} missing)")
    out = Path(out)
    devices = detect_devices()
    strategy_name = choose_strategy(strategy, devices)
    if strategy_name == "multi_worker":
        from seq2exp.training.strategy import make_strategy

        make_strategy(strategy_name)  # before any TensorFlow op runs (collectives are configured at start-up)
    precision = choose_precision(config.get("precision", "float32"), strategy_name, devices)
    architecture = config["model"]["architecture"]
    stored_config = {k: v for k, v in config.items() if not k.startswith("_")}
    stored_config["_smoke"] = config["_smoke"]
    if not restart:
        _check_run_folder(out, stored_config)
    model_config = registry.get(architecture).config(config["model"].get("config"), smoke=config["_smoke"])
    from seq2exp.data.encoding import BASES, Encoder

    encoder = Encoder(model_config["input"], construct=config.get("construct"))
    augment = config.get("augment", {})
    if augment.get("conjoined_rc") and (encoder.spec.kind != "onehot" or encoder.input_shape[-1] != 4
                                        or encoder.spec.onehot_letters != BASES):
        raise ConfigError("augment.conjoined_rc: needs a plain 4-channel A, C, G, T one-hot input "
                          f"(model input is {encoder.spec.kind} {encoder.input_shape}, "
                          f"letters {encoder.spec.onehot_letters})")
    callbacks = config.get("callbacks") or {}
    if callbacks.get("reduce_lr_on_plateau") and config["schedule"]["name"] not in ("constant", "plateau"):
        raise ConfigError("callbacks.reduce_lr_on_plateau: needs schedule.name 'plateau' or 'constant' "
                          f"(got {config['schedule']['name']!r})")
    loss = get_loss(config.get("loss", "mse"))

    on_invalid = config["data"].get("on_invalid", "error")
    cache_root = Path(config["data"].get("cache_dir") or out / "cache")
    train_sha = sha256_file(train_path)
    val_sha = sha256_file(val_path) if val_path else None
    from seq2exp.data.formats import TableSpec

    table = TableSpec.from_dict(config["data"].get("table"))
    train_cache = _open_cache(train_path, train_sha, cache_root, "train", on_invalid, table)
    row_filter = config["data"].get("filter")

    def kept_rows(cache) -> np.ndarray:
        return np.flatnonzero(_filter_mask(cache, row_filter)) if row_filter else np.arange(cache.n)

    if val_path is not None:
        val_cache = _open_cache(val_path, val_sha, cache_root, "val", on_invalid, table)
        train_indices, val_indices = kept_rows(train_cache), kept_rows(val_cache)
    else:  # the team's order: filter the rows, then split what is left
        val_cache = train_cache
        train_indices, val_indices = split_rows(kept_rows(train_cache), float(config["data"]["val_fraction"]),
                                                int(config["data"]["split_seed"]))
    if len(train_indices) == 0 or (len(val_indices) == 0 and float(config["data"]["val_fraction"]) > 0):
        raise ConfigError(f"data: {train_path} gives {len(train_indices)} training and {len(val_indices)} "
                          "validation rows; both must be non-empty (or data.val_fraction 0: no validation)")
    _warn_rows_without_flanks(train_cache, train_indices, encoder.construct, train_path)
    model_config = _fit_input_embeddings(architecture, model_config, train_cache, train_indices, out,
                                         construct=encoder.construct)
    if table is not None and len(table.targets) > 1:  # several tasks: [B, T] outputs, a masked loss per task
        from seq2exp.training.losses import multitask_loss

        if config["data"].get("sample_weight") or row_filter or augment.get("label_noise"):
            raise ConfigError("data.table with several targets: data.sample_weight, data.filter and "
                              "augment.label_noise are for one target; remove them")
        model_config = {**model_config, "tasks": list(table.targets)}
        loss = multitask_loss(loss, len(table.targets))
    target_transform = fit_target_transform(config.get("target"),
                                            np.asarray(train_cache.targets)[train_indices])
    steps = config.get("steps_per_epoch") or max(1, math.ceil(len(train_indices) / config["batch_size"]))
    data_info = {"train": str(train_path), "train_sha256": train_sha, "n_train": int(len(train_indices)),
                 "val": str(val_path) if val_path else None, "val_sha256": val_sha, "n_val": int(len(val_indices)),
                 "val_fraction": None if val_path else float(config["data"]["val_fraction"]),
                 "split_seed": None if val_path else int(config["data"]["split_seed"]), "on_invalid": on_invalid}
    if restart:
        discard_training_state(out)
    else:
        _check_run_data(out, data_info)
    return TrainingSetup(config=config, out=out, train_path=train_path, val_path=val_path,
                         strategy_name=strategy_name, precision=precision, architecture=architecture,
                         model_config=model_config, encoder=encoder, loss=loss, target_transform=target_transform,
                         train_cache=train_cache, train_indices=train_indices, val_cache=val_cache,
                         val_indices=val_indices, steps_per_epoch=int(steps),
                         total_steps=int(steps) * int(config["epochs"]), data_info=data_info)


def _filter_mask(cache, row_filter: Mapping[str, Any]) -> np.ndarray:
    """Rows kept by ``data.filter`` (NAD: ``{length: 110, no_n: true}``: exactly 110 nt, no N)."""
    from seq2exp.data.alphabet import N_CODE

    keep = np.ones(cache.n, bool)
    if row_filter.get("length") is not None:
        keep &= np.asarray(cache.lengths) == int(row_filter["length"])
    if row_filter.get("no_n"):
        keep &= ~(np.asarray(cache.codes) == N_CODE).any(axis=1)
    return keep


def _warn_rows_without_flanks(cache, indices: np.ndarray, construct: Any, path: Any, sample: int = 10_000) -> int:
    """Log a warning when training rows (the first ``sample`` kept ones) lack the construct's constant flanks (a
    construct declared for other data); returns how many of them do."""
    if not construct.has_flanks or len(indices) == 0:
        return 0
    rows = np.asarray(indices[:sample])
    missing = construct.rows_missing_flanks(cache.sequences(rows))
    if missing:
        logger.warning("%s: %d of the first %d training rows (e.g. line %d) lack the constant flanks of %s; set the "
                       "config's construct to the data's own (e.g. 'genomic' for rows without flanks)", path,
                       len(missing), len(rows), int(cache.line_numbers[rows[missing[0]]]), construct.describe())
    return len(missing)


def _fit_input_embeddings(architecture: str, model_config: dict, cache, indices: np.ndarray, out: Path,
                          construct: Any = None) -> dict:
    """Architectures whose input embedding is fitted on the training data (NAD's GloVe k-mer vectors): when the
    model config has ``kmer_embeddings_path: null`` and the architecture's module offers ``fit_kmer_embeddings``,
    fit the table on the training rows, save ``RUN/kmer_embeddings.npy`` and point the config at it."""
    import importlib

    if "kmer_embeddings_path" not in model_config or model_config["kmer_embeddings_path"]:
        return model_config
    from seq2exp.models import registry

    module = importlib.import_module(registry.get(architecture).builder.__module__)
    fit = getattr(module, "fit_kmer_embeddings", None)
    if fit is None:
        return model_config
    path = out / "kmer_embeddings.npy"
    if not path.exists():
        from seq2exp.utils import atomic_write

        spec = model_config["input"]
        table = fit(cache.sequences(indices), int(model_config.get("embedding_dim", 128)), k=int(spec.get("k", 5)),
                    max_sequences=200_000, construct=construct)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as handle:
            np.save(handle, np.asarray(table, np.float32))
        logger.info("fitted %s input embeddings on %d training rows -> %s", architecture, len(indices), path)
    return {**model_config, "kmer_embeddings_path": str(path)}


def _write_config(setup: TrainingSetup) -> None:
    """``RUN/config.yaml`` and the data record a resume is checked against (``RUN/checkpoints/data.json``)."""
    import yaml

    from seq2exp.utils import atomic_write

    stored = {k: v for k, v in setup.config.items() if not k.startswith("_")}
    stored["_smoke"] = setup.config["_smoke"]
    with atomic_write(setup.out / inference.CONFIG_FILE) as handle:
        yaml.safe_dump(stored, handle, sort_keys=False)
    record = setup.out / inference.CHECKPOINT_DIR / DATA_RECORD
    if not record.exists():
        record.parent.mkdir(parents=True, exist_ok=True)
        inference.write_json_atomically(record, setup.data_info)


def _fit_keras(setup: TrainingSetup, verbose: int | None) -> dict:
    """``model.fit`` under the chosen strategy, resumable; returns a summary."""
    import keras
    import tensorflow as tf

    from seq2exp.training import callbacks as cb
    from seq2exp.training.optimizers import build_optimizer, build_optimizer_variables
    from seq2exp.training.strategy import make_strategy

    config, out = setup.config, setup.out
    strategy = make_strategy(setup.strategy_name)
    with strategy.scope():
        model = setup.build_model()
        trained = model
        sam = config.get("sam")
        if sam:
            from seq2exp.training.sam import SAMModel

            trained = SAMModel(model, **sam)
        optimizer = build_optimizer(config["optimizer"], config.get("schedule"), setup.total_steps)
        compile_model(setup, trained, optimizer)
        if sam:  # a subclassed wrapper: built by calling it once
            trained(tf.zeros((1, *setup.encoder.input_shape), setup.encoder.input_dtype))
        state = cb.restore_checkpoint(trained, out / inference.CHECKPOINT_DIR)
        build_optimizer_variables(trained)  # before the first step: the step is then traced once, not twice
    start_step = int(state.get("step", 0))
    validation = validation_callback(setup, model)
    callbacks_config = config.get("callbacks") or {}
    stopping = callbacks_config.get("early_stopping") or {}
    callbacks: list = [validation]
    plateau = callbacks_config.get("reduce_lr_on_plateau")
    if plateau:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(**{"monitor": "val_loss", **plateau}))
    swa = None
    if callbacks_config.get("swa"):
        swa = cb.StochasticWeightAveraging(**callbacks_config["swa"])
        callbacks.append(swa)
    callbacks.append(cb.ResumeCheckpoint(out / inference.CHECKPOINT_DIR, int(config["checkpoint_every"])))
    callbacks.append(cb.ProgressLog(setup.steps_per_epoch * int(config["epochs"]), setup.batch_size,
                                    start_step=start_step))
    if callbacks_config.get("tensorboard", True) and _tensorboard_installed():
        callbacks.append(keras.callbacks.TensorBoard(str(out / inference.TENSORBOARD_DIR), update_freq="epoch",
                                                     profile_batch=0, write_graph=False))
    if verbose is None:  # library default: no progress bar (opt in with verbose=1/2; the CLI does)
        verbose = 0
    steps, epochs = setup.steps_per_epoch, int(config["epochs"])
    already_stopped = _early_stopped(validation, stopping)
    epoch = start_step // steps
    offset = start_step % steps
    if offset and not already_stopped and epoch < epochs:
        # finish the interrupted epoch first (same batches as an uninterrupted run: the stream skips what was done)
        trained.fit(setup.train_dataset(skip_steps=start_step), epochs=epoch + 1, initial_epoch=epoch,
                    steps_per_epoch=steps - offset, callbacks=callbacks, verbose=verbose, shuffle=False)
        epoch += 1
    if epoch < epochs and not validation.stopped and not already_stopped:
        trained.fit(setup.train_dataset(skip_steps=epoch * steps), epochs=epochs, initial_epoch=epoch,
                    steps_per_epoch=steps, callbacks=callbacks, verbose=verbose, shuffle=False)
    if swa is not None:
        swa.apply(model)
        cb.save_model_atomically(model, out / inference.MODEL_FILE)
    elif not (out / inference.MODEL_FILE).exists():
        cb.save_model_atomically(model, out / inference.MODEL_FILE)
    best = validation.best or {}
    return {"optimizer_steps": int(keras.ops.convert_to_numpy(trained.optimizer.iterations)),
            "epochs_run": len(validation.history), "best_epoch": best.get("epoch"),
            "model_selection": _model_selection(validation, swa),
            "replicas": int(strategy.num_replicas_in_sync), "params": int(model.count_params()),
            "best": best, "early_stopped": validation.stopped or already_stopped}


def _model_selection(validation, swa) -> str:
    if swa is not None:
        return "swa_average"
    if validation.select_last:
        return "last_epoch (no validation rows)"
    return f"best {validation.monitor}"


def _tensorboard_installed() -> bool:
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        logger.warning("tensorboard is not installed: no TensorBoard logs (pip install tensorboard)")
        return False
    return True


def _early_stopped(validation, stopping: Mapping[str, Any]) -> bool:
    return validation.should_stop()


def finish_run(setup: TrainingSetup, summary: dict) -> inference.Run:
    """Final validation with the run's full prediction graph (TTA + post-processing), then ``RUN/run.json``,
    written once: a folder with a ``run.json`` is a finished run."""
    from seq2exp import __version__
    from seq2exp.data.encoding import Encoder, codes_to_sequences
    from seq2exp.training.callbacks import pearson_spearman, write_json_atomically
    from seq2exp.inference.graph import TTA

    info = {
        "tasks": setup.task_names,
        "architecture": setup.architecture,
        "model_config": setup.model_config,
        "encoding": setup.encoder.spec.to_dict(),
        "construct": setup.encoder.construct.to_dict(),
        "target_transform": setup.target_transform.to_dict(),
        "tta": TTA.from_dict(setup.config.get("tta")).to_dict(),
        "postprocess": setup.config.get("postprocess") or [],
        "loss": {"name": setup.loss.name, "output": setup.loss.output, **setup.loss.params} if setup.loss else None,
        "data": setup.data_info,
        "strategy": setup.strategy_name,
        "precision": setup.precision,
        "smoke": setup.config["_smoke"],
        "batch_size": setup.batch_size,
        "steps_per_epoch": setup.steps_per_epoch,
        "planned_steps": setup.total_steps,
        "seq2exp_version": __version__,
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **{k: v for k, v in summary.items() if k != "best"},
    }
    model = inference.load_model_file(setup.out / inference.MODEL_FILE)
    run = inference.Run(path=setup.out, model=model, config=dict(setup.config), info=info,
                        encoder=Encoder(info["encoding"], construct=info["construct"]))
    metrics: dict[str, Any] = {"n_val": int(len(setup.val_indices)), "best_epoch_metrics": summary.get("best", {}),
                               "model_selection": summary.get("model_selection")}
    if len(setup.val_indices):
        codes, lengths, measured = setup.validation_data()
        graph = run.prediction_graph()
        sequences = codes_to_sequences(codes, lengths)
        orientation = setup.validation_orientation()  # the is_reverse channel of reverse rows, as per epoch
        raw = graph.predict_outputs(sequences, orientation=orientation)["expression"]
        if np.ndim(measured) == 2:  # several tasks: each task's, and their mean
            names = setup.task_names or [f"task{j}" for j in range(measured.shape[1])]
            scores = {name: pearson_spearman(raw[:, j], measured[:, j]) for j, name in enumerate(names)}
            metrics["tasks"] = {name: {"pearson": p, "spearman": r} for name, (p, r) in scores.items()}
            metrics["val_pearson"] = float(np.mean([p for p, _ in scores.values()]))
            metrics["val_spearman"] = float(np.mean([r for _, r in scores.values()]))
        else:
            metrics["val_pearson"], metrics["val_spearman"] = pearson_spearman(raw, measured)
        if graph.batch_postprocess:
            final = graph.predict(sequences, orientation=orientation)
            metrics["val_pearson_postprocessed"], metrics["val_spearman_postprocessed"] = \
                pearson_spearman(final, measured)
        logger.info("final validation (%d rows, %s weights, the run's prediction graph: test-time augmentation %s): "
                    "val_pearson %.4f val_spearman %.4f; the per-epoch val_pearson above is the bare model without "
                    "test-time augmentation", len(setup.val_indices), metrics.get("model_selection") or "final",
                    _tta_words(info["tta"]), metrics["val_pearson"], metrics["val_spearman"])
    info["metrics"] = metrics
    write_json_atomically(setup.out / inference.RUN_INFO_FILE, info)
    run.metrics = metrics
    return run


def _tta_words(tta: Mapping[str, Any]) -> str:
    """``{"reverse_complement": True, "shifts": [-1, 0, 1]}`` -> ``reverse complement + shifts [-1, 0, 1]``."""
    parts = ["reverse complement"] if tta.get("reverse_complement") else []
    if [s for s in tta.get("shifts") or [] if s]:
        parts.append(f"shifts {list(tta['shifts'])}")
    return " + ".join(parts) or "none"


def train(config: Mapping[str, Any] | str | Path, data: str | Path | None = None, val: str | Path | None = None,
          out: str | Path = "run", strategy: str = "auto", *, smoke: bool = False,
          overrides: Mapping[str, Any] | None = None, verbose: int | None = None,
          restart: bool = False) -> inference.Run:
    """Train the model a config describes and return the loaded :class:`~seq2exp.inference.runs.Run`.

    Args:
        config: a config dict, a recipe name (``autosome``; ``seq2exp configs list``) or a YAML path.
        data: the DREAM training file (else ``data.train`` of the config).
        val: a separate validation file (else a seeded ``data.val_fraction`` split of ``data``).
        out: the run folder; an existing one with the same config is resumed.
        strategy: ``auto``, ``default``, ``one_device``, ``mirrored``, ``multi_worker`` or ``tpu``.
        smoke: train the tiny version (the architecture's smoke config + the config's ``smoke`` section).
        overrides: a dict deep-merged into the config last (e.g. ``{"epochs": 1}``).
        verbose: Keras progress output (default 0: none; the CLI asks for a bar on a terminal, else a line per epoch).
        restart: discard the run folder's training state and start afresh (instead of resuming it).
    """
    with _TrainingGlobals() as globals_:
        created = missing_folders(out)  # what this call makes, removed again if preparing fails
        try:
            setup = prepare(config, data, val, out, strategy=strategy, smoke=smoke, overrides=overrides,
                            restart=restart)
        except BaseException:  # bad data found while its cache was built: no new run folder is left behind
            if created:
                shutil.rmtree(created[-1], ignore_errors=True)
            raise
        setup.out.mkdir(parents=True, exist_ok=True)
        _write_config(setup)
        globals_.apply(setup)
        fit = registry_fit(setup.architecture)
        if fit is not None:
            summary = fit(setup)
        elif setup.strategy_name == "multi_worker":
            from seq2exp.training.multiworker import fit_multi_worker

            summary = fit_multi_worker(setup)
        else:
            summary = _fit_keras(setup, verbose)
        return finish_run(setup, summary)


def registry_fit(architecture: str):
    """The closed-form trainer an architecture registers (``Architecture.fit``), or ``None`` (``model.fit``)."""
    import importlib

    from seq2exp.models import registry

    path = registry.get(architecture).fit
    if path is None:
        return None
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class _TrainingGlobals:
    """Seeds and the mixed-precision policy set for one training run, then restored: no state leaks out."""

    def __enter__(self):
        import random

        import keras

        self.python_state, self.numpy_state = random.getstate(), np.random.get_state()
        self.tf_seed = _tf_global_seed()
        self.policy = keras.mixed_precision.global_policy()
        return self

    def apply(self, setup: TrainingSetup) -> None:
        import keras

        keras.utils.set_random_seed(setup.seed)
        keras.mixed_precision.set_global_policy(setup.precision)

    def __exit__(self, *exc) -> None:
        import random

        import keras
        import tensorflow as tf

        keras.mixed_precision.set_global_policy(self.policy)
        random.setstate(self.python_state)
        np.random.set_state(self.numpy_state)
        tf.random.set_seed(self.tf_seed)
        try:
            from keras.src.backend.common import global_state

            global_state.set_global_attribute("global_seed_generator", None)
        except ImportError:  # pragma: no cover - a Keras without this private module
            pass


def _tf_global_seed() -> int | None:
    try:
        from tensorflow.python.eager import context

        return context.global_seed()
    except (ImportError, AttributeError):  # pragma: no cover
        return None

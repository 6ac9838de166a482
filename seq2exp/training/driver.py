"""The training driver: config -> data cache -> model -> ``model.fit`` (or the multi-worker loop) -> run folder.

``seq2exp train`` and ``training/train.py`` both call :func:`train`. Everything the config names is checked before
any training starts (:mod:`seq2exp.training.config`). The run folder layout is in
:mod:`seq2exp.inference`. A run is resumable: restarting the same command on the same ``out`` folder
continues from the last step checkpoint with the same data order, so it ends with the same number of optimiser
steps as an uninterrupted run.
"""
from __future__ import annotations

import datetime
import logging
import math
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from seq2exp.errors import ConfigError
from seq2exp.inference import runs as inference
from seq2exp.training.config import KMER_BASELINES, load_config, resolve_config
from seq2exp.training.setup import TrainingSetup, compile_model, validation_callback, validation_functions  # noqa: F401

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


def _open_cache(path: Path, cache_dir: Path, on_invalid: str):
    from seq2exp.data.cache import TrainingCache, build_cache

    if cache_dir.exists():
        try:
            return TrainingCache.open(cache_dir)
        except Exception as error:  # noqa: BLE001 - a half-written cache is rebuilt
            logger.warning("rebuilding cache %s: %s", cache_dir, error)
            import shutil

            shutil.rmtree(cache_dir, ignore_errors=True)
    return build_cache(path, cache_dir, on_invalid=on_invalid)


def _check_run_folder(out: Path, config: dict) -> None:
    """A run folder is reused only for the same config (resume); otherwise refuse before overwriting it."""
    from seq2exp.training.config import yaml_load

    saved = out / inference.CONFIG_FILE
    if saved.exists():
        previous = yaml_load(saved.read_text()) or {}
        if previous != config:
            raise ConfigError(f"--out {out}: the folder holds a run with a different config; "
                              "use a new folder (or the same config to resume)")


def prepare(config: Mapping[str, Any] | str | Path, data: str | Path | None, val: str | Path | None,
            out: str | Path, *, strategy: str = "auto", smoke: bool = False,
            overrides: Mapping[str, Any] | None = None) -> TrainingSetup:
    """Validate everything and build the data cache; no model is built and no step is taken yet."""
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
    _check_run_folder(out, stored_config)

    if architecture in KMER_BASELINES:
        from seq2exp.training.baselines import kmer_model_config

        model_config = kmer_model_config(config["model"].get("config", {}))
    else:
        model_config = registry.get(architecture).config(config["model"].get("config"), smoke=config["_smoke"])
    from seq2exp.data.encoding import Encoder

    encoder = Encoder(model_config["input"])
    augment = config.get("augment", {})
    if augment.get("conjoined_rc") and (encoder.spec.kind != "onehot" or encoder.input_shape[-1] != 4):
        raise ConfigError("augment.conjoined_rc: needs a plain 4-channel one-hot input "
                          f"(model input is {encoder.spec.kind} {encoder.input_shape})")
    callbacks = config.get("callbacks") or {}
    if callbacks.get("reduce_lr_on_plateau") and config["schedule"]["name"] not in ("constant", "plateau"):
        raise ConfigError("callbacks.reduce_lr_on_plateau: needs schedule.name 'plateau' or 'constant' "
                          f"(got {config['schedule']['name']!r})")
    loss = get_loss(config.get("loss", "mse"))

    on_invalid = config["data"].get("on_invalid", "error")
    cache_root = Path(config["data"].get("cache_dir") or out / "cache")
    train_cache = _open_cache(train_path, cache_root / "train", on_invalid)
    if val_path is not None:
        val_cache = _open_cache(val_path, cache_root / "val", on_invalid)
        train_indices = np.arange(train_cache.n)
        val_indices = np.arange(val_cache.n)
    else:
        val_cache = train_cache
        train_indices, val_indices = train_cache.split(float(config["data"]["val_fraction"]),
                                                       int(config["data"]["split_seed"]))
    train_indices, val_indices = np.asarray(train_indices), np.asarray(val_indices)
    if len(train_indices) == 0 or len(val_indices) == 0:
        raise ConfigError(f"data: {train_path} gives {len(train_indices)} training and {len(val_indices)} "
                          "validation rows; both must be non-empty")
    model_config = _fit_input_embeddings(architecture, model_config, train_cache, train_indices, out)
    target_transform = fit_target_transform(config.get("target"),
                                            np.asarray(train_cache.targets)[train_indices])
    steps = config.get("steps_per_epoch") or max(1, math.ceil(len(train_indices) / config["batch_size"]))
    data_info = {"train": str(train_path), "train_sha256": sha256_file(train_path), "n_train": int(len(train_indices)),
                 "val": str(val_path) if val_path else None,
                 "val_sha256": sha256_file(val_path) if val_path else None, "n_val": int(len(val_indices)),
                 "val_fraction": None if val_path else float(config["data"]["val_fraction"]),
                 "split_seed": None if val_path else int(config["data"]["split_seed"])}
    return TrainingSetup(config=config, out=out, train_path=train_path, val_path=val_path,
                         strategy_name=strategy_name, precision=precision, architecture=architecture,
                         model_config=model_config, encoder=encoder, loss=loss, target_transform=target_transform,
                         train_cache=train_cache, train_indices=train_indices, val_cache=val_cache,
                         val_indices=val_indices, steps_per_epoch=int(steps),
                         total_steps=int(steps) * int(config["epochs"]), data_info=data_info)


def _fit_input_embeddings(architecture: str, model_config: dict, cache, indices: np.ndarray, out: Path) -> dict:
    """Architectures whose input embedding is fitted on the training data (NAD's GloVe k-mer vectors): when the
    model config has ``kmer_embeddings_path: null`` and the architecture's module offers ``fit_kmer_embeddings``,
    fit the table on the training rows, save ``RUN/kmer_embeddings.npy`` and point the config at it."""
    import importlib

    if architecture in KMER_BASELINES or "kmer_embeddings_path" not in model_config \
            or model_config["kmer_embeddings_path"]:
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
                    max_sequences=200_000)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as handle:
            np.save(handle, np.asarray(table, np.float32))
        logger.info("fitted %s input embeddings on %d training rows -> %s", architecture, len(indices), path)
    return {**model_config, "kmer_embeddings_path": str(path)}


def _write_config(setup: TrainingSetup) -> None:
    import yaml

    from seq2exp.utils import atomic_write

    stored = {k: v for k, v in setup.config.items() if not k.startswith("_")}
    stored["_smoke"] = setup.config["_smoke"]
    with atomic_write(setup.out / inference.CONFIG_FILE) as handle:
        yaml.safe_dump(stored, handle, sort_keys=False)


def _fit_keras(setup: TrainingSetup, verbose: int | None) -> dict:
    """``model.fit`` under the chosen strategy, resumable; returns a summary."""
    import keras
    import tensorflow as tf

    from seq2exp.training import callbacks as cb
    from seq2exp.training.optimizers import build_optimizer
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
    if verbose is None:
        verbose = 1 if sys.stderr.isatty() else 2
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
            "replicas": int(strategy.num_replicas_in_sync), "params": int(model.count_params()),
            "best": best, "early_stopped": validation.stopped or already_stopped}


def _tensorboard_installed() -> bool:
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        logger.warning("tensorboard is not installed: no TensorBoard logs (pip install tensorboard)")
        return False
    return True


def _early_stopped(validation, stopping: Mapping[str, Any]) -> bool:
    patience = stopping.get("patience")
    best = validation.best
    if patience is None or best is None or not validation.history:
        return False
    return validation.history[-1]["epoch"] - best["epoch"] >= patience


def finish_run(setup: TrainingSetup, summary: dict) -> inference.Run:
    """Final validation with the run's full prediction graph (TTA + post-processing); write ``RUN/run.json``."""
    from seq2exp import __version__
    from seq2exp.data.encoding import codes_to_sequences
    from seq2exp.training.callbacks import pearson_spearman, write_json_atomically
    from seq2exp.inference.graph import TTA

    codes, lengths, measured = setup.validation_data()
    info = {
        "architecture": setup.architecture,
        "model_config": setup.model_config,
        "encoding": setup.encoder.spec.to_dict(),
        "target_transform": setup.target_transform.to_dict(),
        "tta": TTA.from_dict(setup.config.get("tta")).to_dict(),
        "postprocess": setup.config.get("postprocess") or [],
        "loss": {"name": setup.loss.name, "output": setup.loss.output, **setup.loss.params},
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
    write_json_atomically(setup.out / inference.RUN_INFO_FILE, info)
    run = inference.load_run(setup.out)
    graph = run.prediction_graph()
    sequences = codes_to_sequences(codes, lengths)
    raw = graph.predict_outputs(sequences)["expression"]
    pearson, spearman = pearson_spearman(raw, measured)
    metrics = {"val_pearson": pearson, "val_spearman": spearman, "n_val": int(len(measured)),
               "best_epoch_metrics": summary.get("best", {})}
    if graph.batch_postprocess:
        final = graph.predict(sequences)
        metrics["val_pearson_postprocessed"], metrics["val_spearman_postprocessed"] = pearson_spearman(final, measured)
    info["metrics"] = metrics
    write_json_atomically(setup.out / inference.RUN_INFO_FILE, info)
    run.info, run.metrics = info, metrics
    return run


def train(config: Mapping[str, Any] | str | Path, data: str | Path | None = None, val: str | Path | None = None,
          out: str | Path = "run", strategy: str = "auto", *, smoke: bool = False,
          overrides: Mapping[str, Any] | None = None, verbose: int | None = None) -> inference.Run:
    """Train the model a config describes and return the loaded :class:`~seq2exp.inference.runs.Run`.

    Args:
        config: a config dict or the path of a YAML config (``training/configs/<team>.yaml``).
        data: the DREAM training file (else ``data.train`` of the config).
        val: a separate validation file (else a seeded ``data.val_fraction`` split of ``data``).
        out: the run folder; an existing one with the same config is resumed.
        strategy: ``auto``, ``default``, ``one_device``, ``mirrored``, ``multi_worker`` or ``tpu``.
        smoke: train the tiny version (the architecture's smoke config + the config's ``smoke`` section).
        overrides: a dict deep-merged into the config last (e.g. ``{"epochs": 1}``).
        verbose: Keras progress output (default: a progress bar on a terminal, one line per epoch otherwise).
    """
    import keras

    setup = prepare(config, data, val, out, strategy=strategy, smoke=smoke, overrides=overrides)
    setup.out.mkdir(parents=True, exist_ok=True)
    _write_config(setup)
    keras.utils.set_random_seed(setup.seed)
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(setup.precision)
    try:
        if setup.architecture in KMER_BASELINES:
            from seq2exp.training.baselines import fit_kmer_ridge_run

            summary = fit_kmer_ridge_run(setup)
        elif setup.strategy_name == "multi_worker":
            from seq2exp.training.multiworker import fit_multi_worker

            summary = fit_multi_worker(setup)
        else:
            summary = _fit_keras(setup, verbose)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    return finish_run(setup, summary)

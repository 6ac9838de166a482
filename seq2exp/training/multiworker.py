"""Multi-worker training (``--strategy multi_worker``, MultiWorkerMirroredStrategy from ``TF_CONFIG``).

Keras 3 ``model.fit`` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585, see KNOWN_ISSUES), so this
is a custom loop on the SAME pieces as the ``model.fit`` path: the model from the registry, the config's loss
(per-sample, averaged over the GLOBAL batch with ``tf.nn.compute_average_loss``; auxiliary ``add_loss`` terms
added), the Keras optimizer and schedule (its ``apply_gradients`` all-reduces the gradients across workers), the
validation callback (metrics, best model, early stopping), the resumable step checkpoints, SWA.

Each worker reads its shard of the training rows (``make_dataset(..., input_context=ctx)`` via
``strategy.distribute_datasets_from_function``: rows split by input pipeline, per-replica batch = global batch /
replicas). Give every worker its own ``--out`` folder (they write the same weights: the chief's copy is the run);
TF_CONFIG names the cluster and this worker's task.
"""
from __future__ import annotations

import logging
import os

import numpy as np

logger = logging.getLogger(__name__)


def is_chief(tf_config: str | None = None) -> bool:
    """The chief of a TF_CONFIG cluster: task ``chief``, or worker 0 when the cluster has no chief."""
    from seq2exp.jsonio import loads

    config = loads(tf_config if tf_config is not None else os.environ.get("TF_CONFIG", "{}"), "TF_CONFIG", expect=dict)
    task = config.get("task", {})
    if task.get("type") == "chief":
        return True
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0 and "chief" not in config.get("cluster", {})


def fit_multi_worker(setup) -> dict:
    """Train ``setup`` with the custom distributed loop; returns the same summary as the ``model.fit`` path."""
    import keras
    import tensorflow as tf

    from seq2exp.training import callbacks as cb
    from seq2exp.inference import runs as inference
    from seq2exp.training.setup import compile_model, validation_callback
    from seq2exp.training.optimizers import build_optimizer
    from seq2exp.training.strategy import make_strategy

    if setup.config.get("sam"):
        from seq2exp.errors import ConfigError

        raise ConfigError("sam: SAM/GSAM is not supported by the multi-worker loop; use another strategy")
    strategy = make_strategy("multi_worker")
    config, out = setup.config, setup.out
    with strategy.scope():
        model = setup.build_model()
        optimizer = build_optimizer(config["optimizer"], config.get("schedule"), setup.total_steps)
        compile_model(setup, model, optimizer)  # no training by Keras: gives model.optimizer to the callbacks
        optimizer.build(model.trainable_variables)
        state = cb.restore_checkpoint(model, out / inference.CHECKPOINT_DIR)
    start_step = int(state.get("step", 0))
    steps = setup.steps_per_epoch
    global_batch = setup.batch_size
    loss_spec = setup.loss

    dataset = strategy.distribute_datasets_from_function(
        lambda context: setup.train_dataset(skip_steps=start_step, input_context=context))
    iterator = iter(dataset)

    def step_fn(inputs, targets):
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            per_sample = loss_spec.fn(targets[loss_spec.output], outputs[loss_spec.output])
            loss = tf.nn.compute_average_loss(per_sample, global_batch_size=global_batch)
            if model.losses:
                loss += tf.add_n([tf.cast(x, tf.float32) for x in model.losses]) / strategy.num_replicas_in_sync
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    @tf.function
    def train_step(iterator):
        inputs, targets = next(iterator)
        per_replica = strategy.run(step_fn, args=(inputs, targets))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    validation = validation_callback(setup, model)
    callbacks_config = config.get("callbacks") or {}
    checkpoint = cb.ResumeCheckpoint(out / inference.CHECKPOINT_DIR, int(config["checkpoint_every"]))
    callbacks = [validation]
    swa = None
    if callbacks_config.get("swa"):
        swa = cb.StochasticWeightAveraging(**callbacks_config["swa"])
        callbacks.append(swa)
    callbacks.append(checkpoint)
    for callback in callbacks:
        callback.set_model(model)
    model.stop_training = False
    step = start_step
    while step < setup.total_steps and not model.stop_training:
        epoch = step // steps
        losses = []
        while True:
            losses.append(float(train_step(iterator)))
            step += 1
            for callback in callbacks:
                callback.on_train_batch_end(step - 1 - epoch * steps)
            if step % steps == 0:
                break
        logs = {"loss": float(np.mean(losses))}
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        logger.info("worker epoch %d: loss %.4f (%d steps, %d replicas)", epoch + 1, logs["loss"], step,
                    strategy.num_replicas_in_sync)
    if swa is not None:
        swa.apply(model)
        cb.save_model_atomically(model, out / inference.MODEL_FILE)
    best = validation.best or {}
    return {"optimizer_steps": int(keras.ops.convert_to_numpy(optimizer.iterations)),
            "epochs_run": len(validation.history), "best_epoch": best.get("epoch"),
            "replicas": int(strategy.num_replicas_in_sync), "params": int(model.count_params()), "best": best,
            "early_stopped": validation.stopped, "chief": is_chief()}

"""Unit tests of the training components: target transforms, losses, schedules, optimisers, SAM, post-processing,
strategy and precision selection. Each is checked against an independent reference (numpy / scipy / formulas)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from seq2exp.errors import ConfigError
from seq2exp.inference import postprocess
from seq2exp.training.strategy import Devices, choose_precision, choose_strategy
from seq2exp.inference.transforms import TargetTransform, fit_target_transform

import tensorflow as tf
import keras


# --- target transforms ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", [{"transform": "identity"}, {"transform": "standardize"},
                                  {"transform": "standardize", "center": 11.0},
                                  {"transform": "minmax", "low": 0.001, "high": 0.999}, {"transform": "nad"}])
def test_target_transform_round_trip(spec):
    y = np.linspace(0, 17, 35).astype(np.float32)
    transform = fit_target_transform(spec, y)
    again = TargetTransform.from_dict(transform.to_dict())
    np.testing.assert_allclose(again.inverse(again.forward(y)), y, atol=1e-4)


def test_target_transform_values():
    y = np.array([0.0, 8.0, 17.0], np.float32)
    np.testing.assert_allclose(fit_target_transform({"transform": "nad"}, y).forward(y), [0.0, 0.25, 1.0], atol=1e-6)
    standard = fit_target_transform({"transform": "standardize", "center": 11.0}, y)
    np.testing.assert_allclose(standard.forward(y), (y - 11.0) / y.std(), rtol=1e-5)
    scaled = fit_target_transform({"transform": "minmax", "low": 0.001, "high": 0.999}, y).forward(y)
    np.testing.assert_allclose(scaled, [0.001, 0.001 + 0.998 * 8 / 17, 0.999], rtol=1e-5)
    with pytest.raises(ConfigError, match="standardize"):
        fit_target_transform({"transform": "standardise"}, y)
    with pytest.raises(ConfigError, match="center"):
        fit_target_transform({"transform": "minmax", "center": 1.0}, y)


# --- losses -----------------------------------------------------------------------------------------------------------
def _loss(name, **params):
    from seq2exp.training.losses import get_loss

    return get_loss({"name": name, **params})


def test_regression_losses_match_numpy():
    t = np.array([0.0, 1.0, 2.0, 5.0], np.float32)
    p = np.array([0.5, -1.0, 2.0, 1.0], np.float32)
    e = np.abs(p - t)
    cases = {
        "mse": ({}, e ** 2),
        "l1": ({}, e),
        "huber": ({"delta": 1.0}, np.where(e <= 1, 0.5 * e ** 2, e - 0.5)),
        # torch SmoothL1Loss(beta): 0.5 e^2 / beta if e < beta else e - 0.5 beta
        "smooth_l1": ({"beta": 0.1}, np.where(e < 0.1, 0.5 * e ** 2 / 0.1, e - 0.05)),
    }
    for name, (params, expected) in cases.items():
        np.testing.assert_allclose(_loss(name, **params).fn(t, p).numpy(), expected, rtol=1e-5, err_msg=name)
    # a [B, K] prediction (NAD's level heads) is compared column by column with the [B] target
    levels = np.stack([p, p + 1], axis=1)
    np.testing.assert_allclose(_loss("mse").fn(t, levels).numpy(), (e ** 2 + (p + 1 - t) ** 2) / 2, rtol=1e-5)
    bce = _loss("bce").fn(np.array([0.2], np.float32), np.array([0.7], np.float32)).numpy()
    np.testing.assert_allclose(bce, -(0.2 * np.log(0.7) + 0.8 * np.log(0.3)), rtol=1e-5)


def test_bin_losses():
    from scipy.stats import norm

    y = np.array([3.2, 10.0], np.float32)
    kl = _loss("kl_bins")
    target = kl.make_target(tf.constant(y), None).numpy()
    edges = np.concatenate([[-np.inf], np.arange(1, 18), [np.inf]])
    expected = np.diff(norm.cdf(edges, loc=y[:, None] + 0.5, scale=0.5), axis=1)
    np.testing.assert_allclose(target, expected, atol=1e-5)
    assert kl.output == "bins"
    np.testing.assert_allclose(kl.fn(target, target).numpy(), [0.0, 0.0], atol=1e-5)
    uniform = np.full((2, 18), 1 / 18, np.float32)
    reference = (expected * (np.log(np.clip(expected, 1e-7, None)) - np.log(1 / 18))).sum(1)
    np.testing.assert_allclose(kl.fn(target, uniform).numpy(), reference, rtol=1e-4)
    focal = _loss("bin_focal", gamma=2.0, stochastic_rounding=False)
    onehot = focal.make_target(tf.constant([3.4, 3.6]), None).numpy()
    assert onehot.argmax(1).tolist() == [3, 4]
    p = np.full((1, 18), 0.5 / 17, np.float32)
    p[0, 3] = 0.5
    np.testing.assert_allclose(focal.fn(onehot[:1], p).numpy(), [-(0.5 ** 2) * np.log(0.5)], rtol=1e-5)
    rounded = _loss("bin_focal").make_target(tf.fill([4000], 2.3), None).numpy().argmax(1)
    assert set(rounded) == {2, 3} and abs((rounded == 3).mean() - 0.3) < 0.05  # floor(y + U(0, 1))


def test_unknown_loss_lists_choices():
    with pytest.raises(ConfigError, match=r"loss.name.*huber.*kl_bins"):
        _loss("hubber")
    with pytest.raises(ConfigError, match="delta"):
        _loss("mse", delta=1.0)


# --- schedules and optimisers -----------------------------------------------------------------------------------------
def test_one_cycle_matches_pytorch_formula():
    from seq2exp.training.optimizers import OneCycle

    schedule = OneCycle(0.005, total_steps=1000, pct_start=0.3, div_factor=25, final_div_factor=1e4)
    lr = lambda s: float(schedule(s))  # noqa: E731
    assert lr(0) == pytest.approx(0.005 / 25, rel=1e-5)
    assert lr(299) == pytest.approx(0.005, rel=1e-5)
    assert lr(999) == pytest.approx(0.005 / 25 / 1e4, rel=1e-3)
    # cosine annealing half-way up: mean of the ends
    assert lr(149.5) == pytest.approx((0.005 + 0.0002) / 2, rel=1e-4)


def test_noam_cosine_linear_piecewise():
    from seq2exp.training.optimizers import LinearFactor, Noam, WarmupCosine, build_optimizer

    noam = Noam(512, 12500)
    assert float(noam(12499)) == pytest.approx(512 ** -0.5 * 12500 ** -0.5, rel=1e-5)
    assert float(noam(99)) == pytest.approx(512 ** -0.5 * 100 * 12500 ** -1.5, rel=1e-5)
    cosine = WarmupCosine(1.0, total_steps=110, warmup_steps=10)
    assert float(cosine(4)) == pytest.approx(0.5, rel=1e-5)
    assert float(cosine(60)) == pytest.approx(0.5, abs=1e-6)
    assert float(LinearFactor(2e-4, 100, 1.0, 0.01)(100)) == pytest.approx(2e-6, rel=1e-5)
    optimizer = build_optimizer({"name": "adamax", "learning_rate": 1e-4},
                                {"name": "piecewise", "boundaries": [10], "values": [1e-4, 1e-6]}, 100)
    assert isinstance(optimizer, keras.optimizers.Adamax)
    assert float(optimizer.learning_rate) == pytest.approx(1e-4, rel=1e-5)


def test_radam_matches_reference():
    """RAdam on a quadratic against a plain numpy transcription of the algorithm (Liu et al. 2020, Alg. 2)."""
    from seq2exp.training.optimizers import RAdam

    b1, b2, lr, eps = 0.9, 0.999, 0.1, 1e-8
    w_ref, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    rho_inf = 2 / (1 - b2) - 1
    variable = keras.Variable(np.array([1.0, -2.0], np.float32))
    optimizer = RAdam(learning_rate=lr)
    for t in range(1, 9):
        grad = 2 * w_ref
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad ** 2
        m_hat = m / (1 - b1 ** t)
        rho = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho > 5:
            r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            w_ref = w_ref - lr * r * m_hat * math.sqrt(1 - b2 ** t) / (np.sqrt(v) + eps)
        else:
            w_ref = w_ref - lr * m_hat
        optimizer.apply_gradients([(tf.constant(2 * variable.numpy()), variable)])
        np.testing.assert_allclose(variable.numpy(), w_ref, rtol=1e-4, err_msg=f"step {t}")


def test_optimizer_validation_lists_choices():
    from seq2exp.training.optimizers import validate_optimizer

    with pytest.raises(ConfigError, match=r"optimizer.name.*adamw.*radam"):
        validate_optimizer({"name": "adamm"}, None)
    with pytest.raises(ConfigError, match=r"schedule.name.*one_cycle"):
        validate_optimizer({"name": "adam"}, {"name": "onecycle"})
    with pytest.raises(ConfigError, match="momentum"):
        validate_optimizer({"name": "adam", "momentum": 0.9}, None)


def test_sam_step_matches_manual_computation():
    """One SAM step with SGD on f(w) = sum(w^2 x) equals w - lr * grad f(w + rho g/|g|)."""
    from seq2exp.training.sam import SAMModel

    inputs = keras.Input((2,))
    outputs = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones", name="d")(inputs)
    inner = keras.Model(inputs, {"expression": keras.layers.Reshape(())(outputs)})
    sam = SAMModel(inner, rho=0.5)
    sam.compile(optimizer=keras.optimizers.SGD(0.1), loss={"expression": lambda t, p: (p - t) ** 2})
    x, y = np.array([[1.0, 2.0]], np.float32), np.array([0.0], np.float32)
    sam.fit(x, {"expression": y}, epochs=1, verbose=0, batch_size=1)
    w = np.ones(2)
    grad = lambda w: 2 * (x[0] @ w) * x[0]  # noqa: E731
    g = grad(w)
    expected = w - 0.1 * grad(w + 0.5 * g / np.linalg.norm(g))
    np.testing.assert_allclose(inner.get_layer("d").kernel.numpy()[:, 0], expected, rtol=1e-5)


# --- post-processing ---------------------------------------------------------------------------------------------------
def test_postprocess_steps():
    from scipy.stats import norm, rankdata

    values = np.array([3.0, -1.0, 2.0, 2.0, 10.0], np.float32)
    np.testing.assert_allclose(postprocess.apply_batch_steps([{"name": "rank"}], values),
                               (rankdata(values) - 1) / len(values), rtol=1e-6)
    quantiles = postprocess.apply_batch_steps([{"name": "quantile"}], values)
    np.testing.assert_allclose(quantiles, [0.75, 0.0, 0.375, 0.375, 1.0], atol=1e-6)  # ties -> their mid-quantile
    cdf = postprocess.apply_graph_steps([{"name": "normal_cdf", "loc": 0.062, "scale": 1.0}],
                                        tf.constant(values), tf.constant(values * 0))
    np.testing.assert_allclose(cdf.numpy(), norm.cdf(values, loc=0.062), rtol=1e-5)
    with pytest.raises(ConfigError, match=r"postprocess\[0\].name.*normal_cdf.*rank.*quantile"):
        postprocess.validate_postprocess([{"name": "ranks"}])
    with pytest.raises(ConfigError, match="cannot follow a batch step"):
        postprocess.validate_postprocess([{"name": "rank"}, {"name": "normal_cdf"}])


# --- strategy and precision selection (pure functions) -----------------------------------------------------------------
TF_CONFIG_2 = '{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 0}}'


@pytest.mark.parametrize("devices, expected", [
    (Devices(), "default"),
    (Devices(gpus=1), "one_device"),
    (Devices(gpus=4), "mirrored"),
    (Devices(tpus=8), "tpu"),
    (Devices(env={"TPU_NAME": "grpc://10.0.0.2:8470"}), "tpu"),
    (Devices(gpus=4, env={"TF_CONFIG": TF_CONFIG_2}), "multi_worker"),
    (Devices(tpus=8, gpus=2), "tpu"),
])
def test_auto_strategy(devices, expected):
    assert choose_strategy("auto", devices) == expected


def test_explicit_strategy_checks():
    assert choose_strategy("mirrored", Devices()) == "mirrored"  # MirroredStrategy works on CPU devices too
    assert choose_strategy("one_device", Devices()) == "default"
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        choose_strategy("multi_worker", Devices())
    with pytest.raises(ConfigError, match="no TPU"):
        choose_strategy("tpu", Devices(gpus=1))
    with pytest.raises(ConfigError, match="auto, default, one_device, mirrored, multi_worker, tpu"):
        choose_strategy("horovod", Devices())


def test_precision_only_where_supported():
    volta, pascal = Devices(gpus=1, gpu_compute_capabilities=((7, 0),)), Devices(gpus=1, gpu_compute_capabilities=((6, 1),))
    assert choose_precision("auto", "default", Devices()) == "float32"
    assert choose_precision("auto", "one_device", volta) == "mixed_float16"
    assert choose_precision("auto", "one_device", pascal) == "float32"
    assert choose_precision("auto", "tpu", Devices(tpus=8)) == "mixed_bfloat16"
    assert choose_precision("mixed_float16", "default", Devices()) == "float32"
    assert choose_precision("mixed_bfloat16", "default", Devices(cpu_bf16=True)) == "mixed_bfloat16"
    assert choose_precision("mixed_bfloat16", "default", Devices(cpu_bf16=False)) == "float32"
    with pytest.raises(ConfigError, match="precision"):
        choose_precision("fp8", "default", Devices())


# --- callbacks ----------------------------------------------------------------------------------------------------------
def test_validation_callback_best_model_and_early_stopping(tmp_path):
    """Best model saved only on improvement of val_pearson; stop after `patience` epochs without one; the history
    (and so early stopping) survives a restart."""
    from seq2exp.training.callbacks import ValidationCallback

    measured = np.arange(20, dtype=np.float32)
    noise = np.random.default_rng(0).normal(size=20).astype(np.float32)
    quality = iter([0.5, 2.0, 0.1, 1.0, 0.2, 0.3])  # noise scale per epoch: epoch 2 is the best
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")

    def predict_fn():
        return {"expression_units": measured + next(quality) * noise * 10}, measured

    def run_epochs(callback, epochs):
        for epoch in epochs:
            logs = {"loss": 1.0}
            callback.on_epoch_end(epoch, logs)
            if model.stop_training:
                return epoch
        return None

    callback = ValidationCallback(predict_fn, lambda outputs: 0.0, tmp_path, model, patience=2)
    callback.set_model(model)
    model.stop_training = False
    assert run_epochs(callback, range(2)) is None
    assert callback.best["epoch"] == 0
    restarted = ValidationCallback(predict_fn, lambda outputs: 0.0, tmp_path, model, patience=2)
    restarted.set_model(model)
    assert [row["epoch"] for row in restarted.history] == [0, 1]
    assert run_epochs(restarted, range(2, 6)) == 4  # best at epoch 2, no improvement in 3 and 4
    assert restarted.best["epoch"] == 2 and restarted.stopped
    assert (tmp_path / "model.keras").is_file() and (tmp_path / "metrics.csv").read_text().count("\n") == 6


def test_ema_and_swa_options():
    from seq2exp.training.callbacks import StochasticWeightAveraging
    from seq2exp.training.optimizers import build_optimizer

    optimizer = build_optimizer({"name": "adamw", "learning_rate": 1e-3, "ema": 0.999}, None, 10)
    assert optimizer.use_ema and optimizer.ema_momentum == pytest.approx(0.999)
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1, kernel_initializer="zeros", use_bias=False)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    swa = StochasticWeightAveraging(start_step=2, period=2)
    swa.set_model(model)
    for step in range(1, 7):  # pretend the optimiser made `step` steps with weight = step
        model.optimizer.iterations.assign(step)
        model.trainable_variables[0].assign([[float(step)]])
        swa.on_train_batch_end(step)
    swa.apply()
    assert float(model.trainable_variables[0].numpy()[0, 0]) == pytest.approx(np.mean([2, 4, 6]))


# --- recipes Keras cannot express directly ---------------------------------------------------------------------------
def _torch_one_cycle(step: int, total: int, pct: float, start: float, peak: float, end: float) -> float:
    """torch.optim.lr_scheduler.OneCycleLR (two phases, cos), transcribed: phase ends at pct*total-1 and total-1."""
    up_end = float(pct * total) - 1
    if step <= up_end:
        fraction, a, b = step / up_end, start, peak
    else:
        fraction, a, b = (step - up_end) / (total - 1 - up_end), peak, end
    return b + (a - b) / 2.0 * (math.cos(math.pi * fraction) + 1)


def test_one_cycle_cycles_adam_beta_1_like_pytorch():
    """autosome's OneCycleLR also cycles Adam's beta_1 0.95 -> 0.85 -> 0.95 (PyTorch's cycle_momentum default):
    Adam's trajectory on constant gradients matches a numpy Adam stepped with PyTorch's momentum curve."""
    from seq2exp.training.optimizers import build_optimizer

    total, lr_max = 20, 0.1
    optimizer = build_optimizer({"name": "adam", "learning_rate": lr_max, "epsilon": 1e-7},
                                {"name": "one_cycle", "pct_start": 0.3}, total)
    variable = keras.Variable(np.array([1.0, -2.0], np.float32))
    gradients = [np.array([0.5, -1.0], np.float32), np.array([-0.2, 0.3], np.float32)]
    w, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for step in range(total):
        g = gradients[step % 2]
        optimizer.apply([keras.ops.convert_to_tensor(g)], [variable])
        b1 = _torch_one_cycle(step, total, 0.3, 0.95, 0.85, 0.95)
        lr = _torch_one_cycle(step, total, 0.3, lr_max / 25, lr_max, lr_max / 25 / 1e4)
        t = step + 1
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - 0.999)
        w -= m * lr * math.sqrt(1 - 0.999 ** t) / (1 - b1 ** t) / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(variable.numpy(), w, rtol=1e-4, atol=1e-6)
    fixed = build_optimizer({"name": "adam", "learning_rate": lr_max},
                            {"name": "one_cycle", "pct_start": 0.3, "cycle_momentum": False}, total)
    assert not hasattr(fixed, "seq2exp_beta_1_cycle") and fixed.beta_1 == 0.9


def _traced_adamw_one_cycle(n_variables: int, total: int, lr_max: float, decay: float):
    from seq2exp.training.optimizers import build_optimizer, build_optimizer_variables

    optimizer = build_optimizer({"name": "adamw", "learning_rate": lr_max, "weight_decay": decay, "epsilon": 1e-7},
                                {"name": "one_cycle", "pct_start": 0.3}, total)
    variables = [keras.Variable(np.linspace(-1.0, 1.0, 3).astype(np.float32) * (i + 1)) for i in range(n_variables)]
    holder = keras.Sequential()  # only to carry the optimizer for build_optimizer_variables
    holder.optimizer = optimizer
    optimizer.build(variables)
    assert optimizer.built
    build_optimizer_variables(holder)  # already built: a no-op

    @tf.function
    def step(grads):
        optimizer.apply(grads, variables)
    return optimizer, variables, step


def test_traced_adamw_with_one_cycle_equals_numpy_and_evaluates_the_schedule_once_per_step():
    """The training step as model.fit traces it: AdamW (decoupled decay, Keras's order: decay with the step's lr, then
    Adam) with the one-cycle lr and cycled beta_1, against numpy with PyTorch's curves; and the schedule's cosines
    appear once per step in the graph, not once per variable."""
    total, lr_max, decay = 12, 0.05, 0.1
    optimizer, variables, step = _traced_adamw_one_cycle(3, total, lr_max, decay)
    rng = np.random.default_rng(3)
    w = [v.numpy().astype(np.float64) for v in variables]
    m, v2 = [np.zeros(3) for _ in w], [np.zeros(3) for _ in w]
    for t in range(total):
        grads = [rng.normal(size=3).astype(np.float32) for _ in w]
        step([tf.constant(g) for g in grads])
        b1 = _torch_one_cycle(t, total, 0.3, 0.95, 0.85, 0.95)
        lr = _torch_one_cycle(t, total, 0.3, lr_max / 25, lr_max, lr_max / 25 / 1e4)
        for i, g in enumerate(grads):
            w[i] -= w[i] * decay * lr
            m[i] += (g - m[i]) * (1 - b1)
            v2[i] += (g.astype(np.float64) ** 2 - v2[i]) * (1 - 0.999)
            w[i] -= m[i] * lr * math.sqrt(1 - 0.999 ** (t + 1)) / (1 - b1 ** (t + 1)) / (np.sqrt(v2[i]) + 1e-7)
    for variable, expected in zip(variables, w):
        np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5, atol=1e-6)

    def cosines(n_variables: int) -> int:
        _, _, traced = _traced_adamw_one_cycle(n_variables, total, lr_max, decay)
        graph = traced.get_concrete_function([tf.TensorSpec([3], tf.float32)] * n_variables).graph
        return sum(op.type == "Cos" for op in graph.get_operations())

    assert cosines(1) == cosines(6) > 0


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_fused_adam_update_equals_keras_own_optimizer(name):
    """Our Adam/AdamW (TensorFlow's fused ResourceApplyAdam per weight) against Keras's own optimizer of the same
    settings, both traced, over steps with a warm-up schedule, on a conv kernel, a vector and a scalar weight."""
    from seq2exp.training.optimizers import WarmupCosine, build_optimizer

    total, lr = 8, 0.03
    spec = {"name": name, "learning_rate": lr, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6,
            **({"weight_decay": 0.05} if name == "adamw" else {})}
    ours = build_optimizer(spec, {"name": "cosine", "warmup_steps": 3}, total)
    keras_class = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW}[name]
    theirs = keras_class(learning_rate=WarmupCosine(lr, total, warmup_steps=3),
                         **{k: v for k, v in spec.items() if k not in ("name", "learning_rate")})
    rng = np.random.default_rng(5)
    shapes = [(5, 4, 3), (7,), ()]
    start = [rng.normal(size=shape).astype(np.float32) for shape in shapes]
    ours_vars = [keras.Variable(value) for value in start]
    theirs_vars = [keras.Variable(value) for value in start]
    def traced_step(optimizer, variables):
        optimizer.build(variables)
        return tf.function(lambda grads: optimizer.apply(grads, variables))

    steps = {"ours": traced_step(ours, ours_vars), "theirs": traced_step(theirs, theirs_vars)}
    graph = steps["ours"].get_concrete_function([tf.TensorSpec(shape, tf.float32) for shape in shapes]).graph
    assert sum(op.type == "ResourceApplyAdam" for op in graph.get_operations()) == len(shapes)
    assert sum(op.type == "Pow" for op in graph.get_operations()) == 2  # beta_1^t, beta_2^t: once per step
    for _ in range(total):
        grads = [tf.constant(rng.normal(size=shape).astype(np.float32)) for shape in shapes]
        steps["ours"](grads)
        steps["theirs"](grads)
    for a, b in zip(ours_vars, theirs_vars):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-6, atol=1e-7)
    assert not np.allclose(ours_vars[0].numpy(), start[0])


def test_fused_adamw_equals_keras_adamw_in_fit_under_a_mirrored_strategy():
    """The driver's path: ``model.fit`` under ``tf.distribute.MirroredStrategy``, where the update and AdamW's decay go
    through the strategy's merge call; our AdamW (decay factor once per step) against Keras's AdamW."""
    from seq2exp.training.optimizers import WarmupCosine, build_optimizer

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 5)).astype(np.float32), rng.normal(size=(64, 2)).astype(np.float32)
    spec = {"name": "adamw", "learning_rate": 0.03, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6,
            "weight_decay": 0.3}
    keras_settings = {k: v for k, v in spec.items() if k not in ("name", "learning_rate")}
    weights = {}
    for which in ("ours", "theirs"):
        with strategy.scope():
            keras.utils.set_random_seed(1)
            model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4), keras.layers.Dense(2)])
            optimizer = (build_optimizer(spec, {"name": "cosine", "warmup_steps": 3}, 8) if which == "ours" else
                         keras.optimizers.AdamW(learning_rate=WarmupCosine(0.03, 8, warmup_steps=3), **keras_settings))
            model.compile(optimizer=optimizer, loss="mse")
        start = [w.numpy() for w in model.weights]
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        weights[which] = [w.numpy() for w in model.weights]
    for ours, theirs, first in zip(weights["ours"], weights["theirs"], start):
        np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-6)
        assert not np.allclose(ours, first)


def test_clipvalue_and_clipnorm_together_in_tf_keras_2_order():
    """Unlock_DNA's Adam(clipnorm=1, clipvalue=0.5): Keras 3 refuses two modes; ours applies both, value first."""
    from seq2exp.training.optimizers import build_optimizer

    optimizer = build_optimizer({"name": "sgd", "learning_rate": 1.0, "clipnorm": 1.0, "clipvalue": 0.5}, None, 10)
    variable = keras.Variable(np.zeros(5, np.float32))
    g = np.array([3.0, 3.0, -3.0, 3.0, 0.1])
    optimizer.apply([keras.ops.convert_to_tensor(g.astype(np.float32))], [variable])
    clipped = np.clip(g, -0.5, 0.5)
    clipped = clipped * min(1.0, 1.0 / np.linalg.norm(clipped))
    np.testing.assert_allclose(-variable.numpy(), clipped, rtol=1e-5)
    norm_first = np.clip(g * min(1.0, 1.0 / np.linalg.norm(g)), -0.5, 0.5)
    assert not np.allclose(clipped, norm_first)  # the order is observable, and ours is tf.keras 2's


def test_unlock_dna_config_clips_both_ways():
    from seq2exp.training.config import load_config

    config = load_config(Path(__file__).resolve().parents[2] / "training" / "configs" / "unlock_dna.yaml")
    assert config["optimizer"]["clipnorm"] == 1.0 and config["optimizer"]["clipvalue"] == 0.5

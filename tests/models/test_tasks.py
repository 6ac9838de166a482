"""Every registered architecture for T tasks: ``expression`` [B, T] (or a ConfigError naming why not at build
time), one named task keeps today's [B] model exactly."""
from __future__ import annotations

import numpy as np
import pytest

from seq2exp.errors import ConfigError
from seq2exp.models import registry

TOP_TEN_AND_REFERENCE = ("vaishnav", "autosome", "bhi", "unlock_dna", "camformers", "nad", "wztr", "high_schoolers",
                         "bionml", "bugf", "mt", "dream_rnn", "dream_cnn", "dream_attn")


# the package's architectures (tests may register tiny extras of their own, e.g. tests/training/tiny_arch.py)
PACKAGED = [name for name in registry.names() if registry.get(name).builder.__module__.startswith("seq2exp.")]


@pytest.mark.parametrize("name", PACKAGED)
def test_builds_for_two_tasks_or_says_why(name):
    architecture = registry.get(name)
    if name in registry.SINGLE_TASK:
        with pytest.raises(ConfigError, match="one task only"):
            architecture.build({"tasks": ["dev", "hk"]}, smoke=True)
        return
    model = architecture.build({"tasks": ["dev", "hk"]}, smoke=True)
    assert tuple(model.output["expression"].shape) == (None, 2)
    if "bins" in model.output:
        assert tuple(model.output["bins"].shape)[1:] == (2, 18)
    assert registry.build_info(model)["config"]["tasks"] == ["dev", "hk"]
    if name in TOP_TEN_AND_REFERENCE:  # the outputs are real numbers per task (not one value broadcast)
        import tensorflow as tf

        shape, dtype = model.input.shape[1:], model.input.dtype
        if "int" in str(dtype):
            x = tf.random.stateless_uniform([3, *shape], seed=[1, 2], maxval=4, dtype=tf.int32)
        else:
            x = tf.one_hot(tf.random.stateless_uniform([3, shape[0]], seed=[1, 2], maxval=4, dtype=tf.int32),
                           shape[-1])
        out = model(x, training=False)["expression"].numpy()
        assert out.shape == (3, 2) and np.isfinite(out).all()


def test_every_top_ten_team_and_dream_net_supports_tasks():
    assert not set(TOP_TEN_AND_REFERENCE) & set(registry.SINGLE_TASK)


@pytest.mark.parametrize("name", ["vaishnav", "autosome", "dream_rnn"])
def test_one_task_keeps_the_single_task_model(name):
    plain = registry.build(name, smoke=True)
    named = registry.build(name, {"tasks": ["mean_value"]}, smoke=True)
    assert tuple(named.output["expression"].shape) == (None,)
    assert [w.shape for w in named.weights] == [w.shape for w in plain.weights]
    assert [layer.name for layer in named.layers] == [layer.name for layer in plain.layers]


def test_bad_tasks_are_config_errors():
    with pytest.raises(ConfigError, match="tasks"):
        registry.build("bhi", {"tasks": ["a", "a"]}, smoke=True)
    with pytest.raises(ConfigError, match="tasks"):
        registry.build("bhi", {"tasks": "a"}, smoke=True)

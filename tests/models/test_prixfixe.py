"""Prix Fixe composition: any first/core/final blocks compose into a working model; clear config errors."""
from __future__ import annotations

import numpy as np
import pytest

from tests.models import harness  # noqa: I001
from seq2exp import models
from seq2exp.errors import ConfigError
from seq2exp.models import prixfixe

SMOKE_AUTOSOME = models.get("autosome").config(smoke=True)


def test_every_team_block_is_registered():
    for kind in prixfixe.KINDS:
        assert set(prixfixe.block_names(kind)) >= {"autosome", "bhi", "camformers", "wztr", "mt"}


def test_compose_bhi_first_with_autosome_core_and_final(demo_train):
    config = dict(SMOKE_AUTOSOME, first={"block": "bhi", "filters": 8})
    model = prixfixe.compose(first="bhi", core="autosome", final="autosome", config=config)
    sequences, _ = harness.demo_examples(demo_train, 4)
    outputs = harness.predict(model, harness.encode(config, sequences))
    harness.assert_outputs(model, outputs, "bins", batch_size=4)
    assert model.get_layer("first_branch1_conv").kernel.shape == (15, 6, 4)  # BHI's k15 branch on 6 x 150


@pytest.mark.parametrize("first,core,final", [("camformers", "wztr", "mt"), ("mt", "bhi", "camformers"),
                                               ("wztr", "camformers", "bhi")])
def test_mixed_team_blocks_compose_with_their_smoke_settings(first, core, final, demo_train):
    def smoke_section(kind, team):
        return {"block": team, **models.get(team).smoke_config.get(kind, {})}

    config = {"input": models.get(first).default_config["input"],
              "first": smoke_section("first", first), "core": smoke_section("core", core),
              "final": smoke_section("final", final)}
    model = prixfixe.compose(config=config)
    sequences, _ = harness.demo_examples(demo_train, 3)
    harness.assert_outputs(model, harness.predict(model, harness.encode(config, sequences)), "regression", 3)


def test_team_builders_are_compositions_of_the_registered_blocks():
    model = models.build("autosome", smoke=True)
    direct = prixfixe.compose(first="autosome", core="autosome", final="autosome", config=SMOKE_AUTOSOME)
    assert [layer.name for layer in model.layers] == [layer.name for layer in direct.layers]
    assert harness.trainable_params(model) == harness.trainable_params(direct)


def test_dream_hybrids_are_registered_architectures():
    for name in ("dream_cnn", "dream_rnn"):
        architecture = models.get(name)
        assert architecture.head == "bins"
        assert architecture.default_config["first"]["block"] == "bhi"


def test_unknown_block_option_and_strand_mode_are_config_errors():
    with pytest.raises(ConfigError, match="unknown core block 'nope'.*autosome"):
        prixfixe.compose(first="autosome", core="nope", final="autosome", config=SMOKE_AUTOSOME)
    with pytest.raises(ConfigError, match="unknown option.*widht"):
        prixfixe.compose(config=dict(SMOKE_AUTOSOME, first={"block": "autosome", "widht": 3}))
    with pytest.raises(ConfigError, match="strands"):
        prixfixe.compose(config=dict(SMOKE_AUTOSOME, strands="both"))
    # no "input": the first block's team encoding (autosome: 150 x 6), see the test below
    assert tuple(prixfixe.compose(first="autosome", core="autosome", final="autosome", config={}).input_shape) == \
        (None, 150, 6)


def test_a_section_written_for_another_block_is_not_applied_to_the_chosen_one():
    # the autosome config's "first" section (filters 16) is for the autosome stem, not BHI's first block
    model = prixfixe.compose(first="bhi", core="autosome", final="autosome",
                             config=dict(SMOKE_AUTOSOME, core={"block": "autosome", "block_sizes": [4]}))
    assert model.get_layer("first_branch0_conv").filters == 256  # BHI default 512 split over two branches


def test_register_block_adds_a_usable_block_and_refuses_a_second_definition():
    import keras

    @prixfixe.register_block("core", "test_identity_core", defaults={"scale": 1.0})
    def identity_core(x, config, name):
        return keras.layers.Rescaling(config["scale"], name=f"{name}_rescale")(x)

    model = prixfixe.compose(first="autosome", core="test_identity_core", final="autosome",
                             config=dict(SMOKE_AUTOSOME, core={"block": "test_identity_core", "scale": 2.0}))
    assert model.get_layer("core_rescale").scale == 2.0
    with pytest.raises(ValueError, match="registered twice"):
        prixfixe.register_block("core", "test_identity_core")(lambda x, config, name: x)
    outputs = harness.as_numpy_outputs(model(np.zeros((2, 150, 6), np.float32), training=False))
    assert outputs["bins"].shape == (2, 18)


def test_compose_without_an_input_reads_the_first_blocks_team_encoding():
    """The README's ``compose(first="bhi", core="autosome", final="autosome")`` builds: BHI's 110-bp one-hot input
    (the encoding spec from the registry, written out here as the team's 110 x 4), the same model as with it."""
    model = prixfixe.compose(first="bhi", core="autosome", final="autosome")
    assert tuple(model.input_shape) == (None, 110, 4)
    explicit = prixfixe.compose(first="bhi", core="autosome", final="autosome",
                                config={"input": models.get("bhi").default_config["input"]})
    assert model.count_params() == explicit.count_params()


def test_compose_without_an_input_and_no_team_says_what_to_pass():
    @prixfixe.register_block("first", "test_teamless_first")
    def teamless(x, config, name):
        return x

    with pytest.raises(ConfigError, match=r"config\['input'\] is required .*'test_teamless_first'.*'kind': 'onehot'"):
        prixfixe.compose(first="test_teamless_first", core="autosome", final="autosome")

"""BUGF (rank 9): a weight-tied transformer (ONE encoder layer applied 16 times) with ALiBi and PEG, 18-bin
classification and an auxiliary mutated-position detection objective.

Source: ``../shared/reference/teams/bugf/code/nndef_exp_alibi.py`` (``TransformerNet``, ``SeqEncoderLayer``,
``MultiheadAttention``, ``AlibiPositionalBias``, ``PEGLayer``), ``pytorch_xla_train.py`` (tokens, losses); paper
Table 1 (4.5M parameters: the 16 layers share weights, ALBERT-style).

I/O: input ``"inputs"`` = int32 tokens ``[B, 112]`` of the variable region in BUGF's order A0 T1 G2 C3 N4,
right-padded with token 5 (``EncodingSpec(kind="tokens", length=112, region="variable", pad="zero_right",
token_order="ATGCN", pad_token=5)``). Outputs: ``"bins"`` ``[B, 18]`` softmax, ``"expression"`` ``[B]`` = expected
bin, ``"mutations"`` ``[B, 112]`` per-position mutation logits.

Graph: Embedding(6, 512) -> PEG (x + depthwise Conv1D(k7, bias)) -> 16 × the same pre-LN encoder layer
[``x + Dropout(sigmoid(Gate(LN x)) * MHA(LN x, ALiBi))``, ``x + FF(LN x)``; MHA 16 heads of 32, q/k/v without bias,
symmetric ALiBi ``-slope_h * min(|i-j|, 40)``; Gate init W=0, b=1; FF = Dense(4096) -> SwiGLU -> Dropout(0.1) ->
Dense(512, zero-init)] -> ``bins`` = softmax(Dense(18)(mean over all 112 positions, padding included)),
``mutations`` = Dense(1) per position.

Mutation detection (training only): 15% of the base positions (tokens 0-3) of a copy of the batch are mutated to a
different base; the trunk runs once on [clean ‖ mutated] stacked along the batch (the team ran a second forward
pass: the same computation); the expression uses the clean half (contrast Unlock_DNA), the mutation logits the
mutated half, and ``mutation_loss_weight * BCE`` (1 in the original) is added with ``add_loss``. At inference
``mutations`` are the logits on the input itself. BUGF's focal loss on stochastically rounded bins and its per-sample
length weights belong to the training config, not to the model.
"""
from __future__ import annotations

import keras
from keras import layers

from seq2exp.models.blocks.attention import ALiBiBias, BiasedMultiHeadAttention, apply_swiglu_feedforward
from seq2exp.models.blocks.heads import n_tasks
from seq2exp.models.blocks.layers import ExpectedBin, FusedDropout, FusedLayerNormalization, SqueezeLast
from seq2exp.models.blocks.objectives import MutationDetectionLoss, PairWithMutated, SplitPairedBatch
from seq2exp.models.prixfixe import model_input
from seq2exp.models.registry import Architecture, register

DEFAULT_CONFIG = {
    "input": {"kind": "tokens", "length": 112, "region": "variable", "pad": "zero_right", "trim": "right",
              "token_order": "ATGCN", "pad_token": 5},
    "vocabulary_size": 6,
    "width": 512,
    "depth": 16,
    "heads": 16,
    "ff_mult": 8,             # Linear(512, 4096) -> SwiGLU -> 2048 -> Linear(512)
    "dropout": 0.1,
    "peg_kernel_size": 7,
    "alibi_max_distance": 40,
    "n_bins": 18,
    "mutation_ratio": 0.15,
    "mutation_loss_weight": 1.0,
    "seed": None,
}
SMOKE_CONFIG = {"width": 16, "depth": 2, "heads": 2, "ff_mult": 4}


def build_shared_encoder_layer(length: int, config: dict, name: str = "shared_encoder_layer") -> keras.Model:
    """BUGF's ``SeqEncoderLayer`` as a small functional model, so that calling it ``depth`` times ties the weights."""
    width, heads = config["width"], config["heads"]
    x = keras.Input(shape=(length, width), name=f"{name}_input")
    h = FusedLayerNormalization(epsilon=1e-5, name=f"{name}_attention_norm")(x)
    gate = layers.Dense(width, activation="sigmoid", kernel_initializer="zeros", bias_initializer="ones",
                        name=f"{name}_gate")(h)
    bias = ALiBiBias(heads, max_distance=config["alibi_max_distance"], name=f"{name}_alibi")(h)
    attention = BiasedMultiHeadAttention(heads, width // heads, use_bias=False, output_bias=True,
                                         name=f"{name}_attention")(h, attention_bias=bias)
    attention = layers.Multiply(name=f"{name}_gated")([gate, attention])
    attention = FusedDropout(config["dropout"], name=f"{name}_attention_dropout")(attention)
    y = layers.Add(name=f"{name}_attention_residual")([x, attention])
    h = FusedLayerNormalization(epsilon=1e-5, name=f"{name}_ff_norm")(y)
    ff = apply_swiglu_feedforward(h, config["ff_mult"] * width, width, use_bias=True, dropout=config["dropout"],
                                  output_initializer="zeros", name=f"{name}_ff")
    y = layers.Add(name=f"{name}_ff_residual")([y, ff])
    return keras.Model(x, y, name=name)


def build_bugf(config: dict) -> keras.Model:
    """BUGF's weight-tied ALiBi transformer with bin, expression and mutation outputs (see the module docstring)."""
    width = config["width"]
    if width % config["heads"]:
        raise ValueError(f"bugf: width {width} must be divisible by heads {config['heads']}")
    inputs = model_input(config)
    paired, mutated_mask = PairWithMutated(config["mutation_ratio"], n_letters=4, seed=config["seed"],
                                           name="mutate")(inputs)
    x = layers.Embedding(config["vocabulary_size"], width, embeddings_initializer=keras.initializers.RandomNormal(
        stddev=1.0), name="embedding")(paired)
    peg = layers.DepthwiseConv1D(config["peg_kernel_size"], padding="same", name="peg_conv")(x)
    x = layers.Add(name="peg")([x, peg])
    encoder = build_shared_encoder_layer(x.shape[1], config)
    for _ in range(config["depth"]):
        x = encoder(x)
    clean, mutated = SplitPairedBatch(name="split_paired")(x)

    pooled = layers.GlobalAveragePooling1D(name="mean_pool")(clean)
    logits = layers.Dense(config["n_bins"] * n_tasks(), name="to_bins")(pooled)
    if n_tasks() > 1:  # one bin distribution per task: bins [B, T, n_bins], expression [B, T]
        logits = layers.Reshape((n_tasks(), config["n_bins"]), name="to_task_bins")(logits)
    bins = layers.Activation("softmax", dtype="float32", name="bins")(logits)
    expression = ExpectedBin(dtype="float32", name="expression")(bins)
    mutation_logits = SqueezeLast(name="mutation_logits")(layers.Dense(1, name="to_mutations")(mutated))
    mutations = MutationDetectionLoss(config["mutation_loss_weight"], dtype="float32", name="mutations")(
        [mutation_logits, mutated_mask])
    return keras.Model(inputs, {"bins": bins, "expression": expression, "mutations": mutations}, name="bugf")


register(Architecture(
    name="bugf", builder=build_bugf, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=4_500_000, head="bins", team="BUGF",
    paper_params_source="paper Table 1 (4.5M)",
    source="teams/bugf/code/nndef_exp_alibi.py, pytorch_xla_train.py; paper Table 1", fidelity="faithful", rank=9,
    description="weight-tied ALiBi+PEG transformer (1 layer × 16), 18 bins, mutated-position detection",
))

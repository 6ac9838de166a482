"""Zeta (rank 27): a small two-layer transformer classifying sequences into the 18 expression bins.

Source: team report + notebook (``train_test_code.py``: cell 2 classes, cell 6 hyper-parameters)::

    tokens -> Embedding(vocab, 32) * sqrt(32) + sinusoidal positions -> Dropout(0.1)
    -> 2 x post-norm block: MHA (8 heads of 4, q/k/v/o 32x32 with bias, attention dropout 0.1) -> AddNorm
       -> FFN 32 -> 64 (relu) -> 32 -> AddNorm          (AddNorm = LayerNorm over BOTH positions and features,
                                                          PyTorch ``LayerNorm([110, 32])``)
    -> Flatten (110 x 32) -> Dense(18) -> softmax

Outputs ``bins`` (softmax over the 18 integer expression classes; the team trained cross-entropy on the integer
label) and ``expression`` = expected bin. Deviation: the team decoded with the arg-max class plus a tie-break
``max_logit / 10^digits`` that ranks sequences within a class; the expected bin is the standard continuous
read-out of the same softmax. Tokens: the team used A=1, C=2, G=3, T=4 (0 unused) on 110-nt sequences without N;
here A,C,G,T,N = 0..4 with padding 5 (vocabulary 6; the team's had 5 rows).
Estimated parameters (ARCHITECTURES_MORE.md): ~0.11 M.
"""
from __future__ import annotations

import math

import keras

from seq2exp.models.blocks.layers import ExpectedBin, FusedDropout
from seq2exp.models.blocks.transformer import SinusoidalPositionEncoding, apply_post_norm_transformer_stack
from seq2exp.models.prixfixe import model_input
from seq2exp.models.registry import Architecture, register

ASSUMPTIONS = (  # one line for docs/models.md; details in the docstring above
    "Expected bin (sum p_i i) instead of the team's arg-max + logit tie-break decoding; ACGTN tokens 0..4 + padding"
    ' 5.'
)

DEFAULT_CONFIG: dict = {
    "input": {"kind": "tokens", "length": 110, "pad": "zero_right", "trim": "right", "pad_token": 5},
    "vocab_size": 6,
    "embedding_dim": 32,
    "num_layers": 2,
    "num_heads": 8,
    "ff_dim": 64,
    "dropout": 0.1,
    "n_bins": 18,
}

SMOKE_CONFIG: dict = {"embedding_dim": 8, "num_layers": 1, "num_heads": 2, "ff_dim": 8}


def build_zeta(config: dict) -> keras.Model:
    """Zeta's 2-layer transformer with an 18-bin softmax head."""
    inputs = model_input(config)
    dim = config["embedding_dim"]
    x = keras.layers.Embedding(config["vocab_size"], dim, name="embedding")(inputs)
    x = SinusoidalPositionEncoding(input_scale=math.sqrt(dim), name="position_encoding")(x)
    x = FusedDropout(config["dropout"], name="embedding_dropout")(x)
    x = apply_post_norm_transformer_stack(x, num_layers=config["num_layers"], num_heads=config["num_heads"],
                                          ff_dim=config["ff_dim"], dropout=config["dropout"], norm_axis=[1, 2],
                                          name="encoder")
    x = keras.layers.Flatten(name="flatten")(x)
    logits = keras.layers.Dense(config["n_bins"], name="logits")(x)
    bins = keras.layers.Activation("softmax", dtype="float32", name="bins")(logits)
    expression = ExpectedBin(dtype="float32", name="expression")(bins)
    return keras.Model(inputs, {"bins": bins, "expression": expression}, name="zeta")


register(Architecture(
    name="zeta", builder=build_zeta, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=None, head="bins", team="Zeta", rank=27,
    source="report + team notebook train_test_code.ipynb", fidelity="faithful",
    description="2-layer transformer (d=32, 8 heads, LayerNorm over [L, D]) -> flatten -> 18-bin softmax",
))

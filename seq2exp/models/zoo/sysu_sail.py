"""SYSU-SAIL-2022 (rank 11): a 3-layer BERT on non-overlapping 3-mers in three reading frames, averaged.

Source: team report + code (``pretrain_expr.py``, ``train_expr_group.py``, ``train_utils.py``, run scripts); the
dataset module (``dataloaders_expr.py``: tokeniser and the 3-stream construction) is not in the team's repository.
The team first pre-trained the BERT with masked-language modelling on the top-20 % expressed training sequences,
then fine-tuned everything for regression: pre-training used challenge data only (allowed by the rules). seq2exp
builds the fine-tuning architecture and trains it end to end from scratch; the MLM pre-training stage is not part
of this model (a documented simplification)::

    sequence + 150 bp of the real vector on each side (410 nt) -> 3 streams of non-overlapping 3-mer ids (frames
    0, 1, 2; 136 tokens each) -> each stream: BERT (hidden 512, 3 layers, 8 heads, FFN 2048, GELU, post-LN)
    -> pooler Dense(512, tanh) on [CLS] -> Dropout(0.1) -> Dense(1)  ->  mean over the 3 streams

Assumptions (the missing dataset module): the 3 token streams per sequence (the code reshapes ``(B, 3, S)`` to
``(B*3, S)`` and averages the 3 predictions) are read as the 3 reading frames of non-overlapping 3-mers. Here the
``kmer`` encoding gives the 3-mer centred on every position of the 410-nt window; :class:`ReadingFrames` takes
every third one from offsets 1, 2, 3 (positions 1..408), i.e. the 3 frames, and folds them into the batch. Vocabulary:
64 3-mers + 1 "contains N" id + a learned [CLS] vector (the team's: 5^3 k-mers over ACGTN + 5 specials = 130);
learned positions for the 137 positions used (BERT's table has 512 rows); no token-type embedding.
Estimated parameters of the team's model (ARCHITECTURES_MORE.md): ~10.0 M.
"""
from __future__ import annotations

import keras
from keras import ops

from seq2exp.models.blocks.transformer import apply_bert_regressor
from seq2exp.models.prixfixe import model_input
from seq2exp.models.registry import Architecture, register

ASSUMPTIONS = (  # one line for docs/models.md; details in the docstring above
    '3 token streams read as the 3 reading frames of non-overlapping 3-mers (dataset module missing); MLM self-pre-'
    'training stage not reproduced (trained end to end); 65-id k-mer vocabulary + learned [CLS]; vector flanks from'
    " seq2exp's plasmid constants."
)

DEFAULT_CONFIG: dict = {
    "input": {"kind": "kmer", "k": 3, "length": 410, "pad": "plasmid_split", "trim": "center"},
    "frames": 3,
    "vocab_size": 4**3 + 1,
    "hidden_size": 512,
    "num_layers": 3,
    "num_heads": 8,
    "intermediate_size": 2048,
    "dropout": 0.1,
}

SMOKE_CONFIG: dict = {"input": {"length": 110}, "hidden_size": 16, "num_layers": 1, "num_heads": 2,
                      "intermediate_size": 32}


@keras.saving.register_keras_serializable(package="seq2exp")
class ReadingFrames(keras.layers.Layer):
    """Centred k-mer ids ``[B, L]`` -> the ``frames`` reading frames of non-overlapping k-mers folded into the batch,
    ``[B * frames, n]`` (row ``b * frames + f`` = ids at positions ``1 + f + frames * j``, ``n = (L - 2) // frames``).
    """

    def __init__(self, frames: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.frames = int(frames)

    def _tokens_per_frame(self, length: int) -> int:
        return (length - 2) // self.frames

    def call(self, ids):
        per_frame = self._tokens_per_frame(ids.shape[1])
        window = ids[:, 1: 1 + per_frame * self.frames]
        window = ops.transpose(ops.reshape(window, (-1, per_frame, self.frames)), (0, 2, 1))
        return ops.reshape(window, (-1, per_frame))

    def compute_output_shape(self, input_shape):
        return (None, self._tokens_per_frame(input_shape[1]))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(frames=self.frames)
        return config


@keras.saving.register_keras_serializable(package="seq2exp")
class MeanOverFrames(keras.layers.Layer):
    """``[B * frames, 1]`` predictions -> their mean per sequence ``[B]`` (float32)."""

    def __init__(self, frames: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.frames = int(frames)

    def call(self, predictions):
        return ops.cast(ops.mean(ops.reshape(predictions, (-1, self.frames)), axis=-1), "float32")

    def compute_output_shape(self, input_shape):
        return (None,)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(frames=self.frames)
        return config


def build_sysu_sail(config: dict) -> keras.Model:
    """SYSU-SAIL's BERT over 3 reading frames of 3-mers, predictions averaged over the frames."""
    inputs = model_input(config)
    frames = ReadingFrames(config["frames"], name="reading_frames")(inputs)
    x = apply_bert_regressor(frames, config)
    expression = MeanOverFrames(config["frames"], name="expression")(x)
    return keras.Model(inputs, {"expression": expression}, name="sysu_sail")


register(Architecture(
    name="sysu_sail", builder=build_sysu_sail, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=None, head="regression", team="SYSU-SAIL-2022", rank=11,
    source="report + team code (dataset module missing; MLM pre-training stage not reproduced)",
    fidelity="reconstructed",
    description="3-layer BERT (512) on non-overlapping 3-mers, 3 reading frames averaged, +150 bp vector flanks",
))

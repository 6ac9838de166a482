"""In-model auxiliary objectives: corruption layers (active only when ``training=True``) and their loss layers.

A model with an auxiliary objective wires it into its functional graph (DESIGN.md "Models"):

- Unlock_DNA (masked-nucleotide reconstruction): ``tokens -> RandomTokenMasking -> (masked, mask)``; the trunk
  reads ``masked``; ``MaskedTokenLoss(loss_weight)([tokens, logits, mask])`` adds
  ``loss_weight * sum(mask * CE(tokens, logits)) / (sum(mask) + 1)`` with ``add_loss`` and passes ``logits`` through
  to the ``"masked_tokens"`` output.
- BUGF (mutated-position detection): ``tokens -> PairWithMutated -> (paired, mutated_mask)`` stacks the clean and
  a mutated copy along the batch in training (inference: the clean batch alone), the trunk runs ONCE on the
  stack, ``SplitPairedBatch`` returns (clean half, mutated half) (inference: the same tensor twice), and
  ``MutationDetectionLoss(loss_weight)([logits, mutated_mask])`` adds the mean binary cross-entropy.

So ``model.fit`` sums the auxiliary loss with the compiled main loss, and inference (and the exported graph)
contains no randomness. Random draws use a ``keras.random.SeedGenerator`` (a variable: export- and
distribution-safe).
"""
from __future__ import annotations

import keras
from keras import layers, ops

PACKAGE = "seq2exp"


def _seed_generator(seed: int | None) -> keras.random.SeedGenerator:
    return keras.random.SeedGenerator(seed)


@keras.saving.register_keras_serializable(package=PACKAGE)
class RandomTokenMasking(layers.Layer):
    """Replace a random ``ratio`` of the positions whose token is below ``maskable_below`` by ``mask_token``.

    ``call(tokens, training)`` -> ``(tokens_out int32 [B, L], mask float32 [B, L])``; ``mask`` is 1 where a token
    was replaced. Identity (and an all-zero mask) unless ``training``.
    """

    def __init__(self, ratio: float, mask_token: int, maskable_below: int = 4, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= ratio < 1.0:
            raise ValueError(f"masking ratio must be in [0, 1), got {ratio}")
        self.ratio = float(ratio)
        self.mask_token = int(mask_token)
        self.maskable_below = int(maskable_below)
        self.seed = seed
        self.seed_generator = _seed_generator(seed)

    def call(self, tokens, training=None):
        tokens = ops.cast(tokens, "int32")
        if not training or self.ratio == 0.0:
            return tokens, ops.zeros(ops.shape(tokens), dtype="float32")
        draw = keras.random.uniform(ops.shape(tokens), seed=self.seed_generator)
        mask = ops.logical_and(draw < self.ratio, tokens < self.maskable_below)
        return ops.where(mask, self.mask_token, tokens), ops.cast(mask, "float32")

    def compute_output_spec(self, tokens, training=None):
        return (keras.KerasTensor(tokens.shape, dtype="int32"), keras.KerasTensor(tokens.shape, dtype="float32"))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(ratio=self.ratio, mask_token=self.mask_token, maskable_below=self.maskable_below,
                      seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class PairWithMutated(layers.Layer):
    """In training, stack ``tokens`` and a copy with a random ``ratio`` of its bases mutated along the batch axis.

    A base (token below ``n_letters``) chosen for mutation becomes ``(t + U{1..n_letters-1}) mod n_letters``, i.e.
    always a different base (BUGF). ``call(tokens, training)`` -> ``(paired, mutated_mask)``: in training
    ``paired`` is ``[2B, L]`` (clean rows first) and ``mutated_mask`` ``[B, L]`` float32 (1 = mutated); otherwise
    ``paired`` is ``tokens`` and the mask is zeros.
    """

    def __init__(self, ratio: float, n_letters: int = 4, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= ratio < 1.0:
            raise ValueError(f"mutation ratio must be in [0, 1), got {ratio}")
        self.ratio = float(ratio)
        self.n_letters = int(n_letters)
        self.seed = seed
        self.seed_generator = _seed_generator(seed)

    def call(self, tokens, training=None):
        tokens = ops.cast(tokens, "int32")
        if not training:
            return tokens, ops.zeros(ops.shape(tokens), dtype="float32")
        shape = ops.shape(tokens)
        draw = keras.random.uniform(shape, seed=self.seed_generator)
        mutate = ops.logical_and(draw < self.ratio, tokens < self.n_letters)
        offset = keras.random.randint(shape, 1, self.n_letters, seed=self.seed_generator, dtype="int32")
        mutated = ops.where(mutate, ops.mod(tokens + offset, self.n_letters), tokens)
        return ops.concatenate([tokens, mutated], axis=0), ops.cast(mutate, "float32")

    def compute_output_spec(self, tokens, training=None):
        return (keras.KerasTensor(tokens.shape, dtype="int32"), keras.KerasTensor(tokens.shape, dtype="float32"))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(ratio=self.ratio, n_letters=self.n_letters, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class SplitPairedBatch(layers.Layer):
    """Undo :class:`PairWithMutated`'s stacking: ``(first half, second half)`` in training, ``(x, x)`` otherwise."""

    def call(self, x, training=None):
        if not training:
            return x, x
        half = ops.shape(x)[0] // 2
        return x[:half], x[half:]

    def compute_output_spec(self, x, training=None):
        return (keras.KerasTensor(x.shape, dtype=x.dtype), keras.KerasTensor(x.shape, dtype=x.dtype))


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedTokenLoss(layers.Layer):
    """Adds ``loss_weight * sum(mask * CE(targets, logits)) / (sum(mask) + 1)`` (training only); returns ``logits``.

    ``call([targets int [B, L], logits [B, L, V], mask float [B, L]])`` (Unlock_DNA's masked-nucleotide loss).
    """

    def __init__(self, loss_weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.loss_weight = float(loss_weight)

    def call(self, inputs, training=None):
        targets, logits, mask = inputs
        if training and self.loss_weight:
            per_token = keras.losses.sparse_categorical_crossentropy(
                ops.cast(targets, "int32"), ops.cast(logits, "float32"), from_logits=True)
            mask = ops.cast(mask, "float32")
            self.add_loss(self.loss_weight * ops.sum(mask * per_token) / (ops.sum(mask) + 1.0))
        return logits

    def compute_output_spec(self, inputs, training=None):
        return keras.KerasTensor(inputs[1].shape, dtype=inputs[1].dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(loss_weight=self.loss_weight)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class MutationDetectionLoss(layers.Layer):
    """Adds ``loss_weight * mean BCE(sigmoid(logits), mutated_mask)`` over all positions (training only); returns logits.

    ``call([logits [B, L], mutated_mask float [B, L]])`` (BUGF's mutated-position detection).
    """

    def __init__(self, loss_weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.loss_weight = float(loss_weight)

    def call(self, inputs, training=None):
        logits, mask = inputs
        if training and self.loss_weight:
            per_position = ops.binary_crossentropy(ops.cast(mask, "float32"), ops.cast(logits, "float32"),
                                                   from_logits=True)
            self.add_loss(self.loss_weight * ops.mean(per_position))
        return logits

    def compute_output_spec(self, inputs, training=None):
        return keras.KerasTensor(inputs[0].shape, dtype=inputs[0].dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(loss_weight=self.loss_weight)
        return config

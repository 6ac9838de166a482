"""Sharpness-aware minimisation (SAM, Foret et al. 2021) and its surrogate-gap variant GSAM (Zhuang et al. 2022)
as a ``keras.Model`` wrapper with its own ``train_step``, so it still trains with ``model.fit`` (NAD).

Per step: gradient g at w; move to w + rho * g / ||g|| (``adaptive``: scaled by w^2, ASAM); gradient g_p there;
back to w. SAM applies g_p. GSAM (``alpha > 0``) applies ``g_p - alpha * g_perp`` where g_perp is the part of g
orthogonal to g_p, as in the GSAM reference code (NAD: rho 0.1, alpha 0.05, base AdamW). BatchNorm statistics are
updated on both passes (NAD froze them on the second; documented difference).
"""
from __future__ import annotations

import keras
import tensorflow as tf


class SAMModel(keras.Model):
    """Wraps ``inner`` (the real model, saved on its own) and trains it with SAM/GSAM steps."""

    def __init__(self, inner: keras.Model, rho: float = 0.05, alpha: float = 0.0, adaptive: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner
        self.rho, self.alpha, self.adaptive = float(rho), float(alpha), bool(adaptive)

    def call(self, inputs, training=False):
        return self.inner(inputs, training=training)

    def _loss_and_gradients(self, x, y, sample_weight):
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
        return y_pred, loss, tape.gradient(loss, self.trainable_variables)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        variables = self.trainable_variables
        y_pred, loss, gradients = self._loss_and_gradients(x, y, sample_weight)
        gradients = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(gradients, variables)]
        if self.adaptive:
            scaled = [g * tf.square(tf.convert_to_tensor(v)) for g, v in zip(gradients, variables)]
        else:
            scaled = gradients
        scale = self.rho / (tf.linalg.global_norm(scaled) + 1e-12)
        steps = [s * scale for s in scaled]
        for variable, step in zip(variables, steps):
            variable.assign_add(tf.cast(step, variable.dtype))
        _, _, perturbed = self._loss_and_gradients(x, y, sample_weight)
        for variable, step in zip(variables, steps):
            variable.assign_sub(tf.cast(step, variable.dtype))
        perturbed = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(perturbed, variables)]
        if self.alpha:
            dot = tf.add_n([tf.reduce_sum(g * p) for g, p in zip(gradients, perturbed)])
            p_norm_sq = tf.add_n([tf.reduce_sum(tf.square(p)) for p in perturbed]) + 1e-12
            perturbed = [p - self.alpha * (g - dot / p_norm_sq * p) for g, p in zip(gradients, perturbed)]
        self.optimizer.apply_gradients(zip(perturbed, variables))
        self._loss_tracker.update_state(loss, sample_weight=tf.shape(tf.nest.flatten(x)[0])[0])
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def get_config(self):
        return {"rho": self.rho, "alpha": self.alpha, "adaptive": self.adaptive}

"""Graph post-processing against scipy: ``normal_cdf`` with a location and a scale other than 0 and 1."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from seq2exp.inference import postprocess


@pytest.mark.parametrize("loc, scale", [(0.3, 2.5), (-1.2, 0.4), (0.062, 1.0)])
@pytest.mark.parametrize("on", ["model", "expression"])
def test_normal_cdf_matches_scipy(loc, scale, on):
    import tensorflow as tf

    model_units = np.array([-3.0, -0.5, 0.0, 0.3, 1.7, 4.0], np.float32)
    expression = model_units * 3.0 + 11.0  # a target transform: the two readings differ
    step = {"name": "normal_cdf", "loc": loc, "scale": scale, "on": on}
    got = postprocess.apply_graph_steps([step], tf.constant(model_units), tf.constant(expression)).numpy()
    source = model_units if on == "model" else expression
    np.testing.assert_allclose(got, norm.cdf(source, loc=loc, scale=scale), rtol=1e-5, atol=1e-7)

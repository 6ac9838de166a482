"""Shared pieces of the benchmarks: the models they time (run from the repo root: ``python benchmarks/X.py``)."""
from __future__ import annotations


def build_graph(name: str):
    """(PredictionGraph, description) for a registry architecture (smoke size, RC TTA) or the 1-layer 'tiny' CNN."""
    import keras

    from seq2exp.data.encoding import Encoder
    from seq2exp.models import registry
    from seq2exp.inference.graph import PredictionGraph

    keras.utils.set_random_seed(0)
    if name == "tiny":
        encoder = Encoder({"kind": "onehot", "length": 110})
        inputs = keras.Input(shape=encoder.input_shape, name="inputs")
        hidden = keras.layers.GlobalMaxPooling1D()(keras.layers.Conv1D(8, 7, activation="relu")(inputs))
        model = keras.Model(inputs, {"expression": keras.layers.Flatten()(keras.layers.Dense(1)(hidden))})
        return PredictionGraph(model, encoder), "tiny (Conv1D 8x7 + dense), no TTA"
    config = registry.get(name).config(smoke=True)
    model = registry.build(name, smoke=True)
    tta = {"reverse_complement": True}
    return (PredictionGraph(model, Encoder(config["input"]), tta),
            f"{name} (smoke config, {model.count_params()} params), TTA {tta}")

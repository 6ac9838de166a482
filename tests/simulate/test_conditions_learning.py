"""A small two-task network trained on a 2-condition simulation beats a per-task k-mer ridge on EACH task, scored
on held-out test rows against the simulator's noise-free truth of that condition (the ridge is plain numpy: k-mer
counts k = 1..4, closed-form solve, alpha picked on validation rows)."""
from __future__ import annotations

import json

import numpy as np

from seq2exp.data.formats import read_table
from seq2exp.simulate import simulate

N_TRAIN, N_TEST, FLANK5, INSERT = 4000, 1000, 17, 80


def _insert_codes(sequences: list[str]) -> np.ndarray:
    table = np.full(256, 0, np.int64)
    for code, letter in enumerate("ACGT"):
        table[ord(letter)] = code
    return np.stack([table[np.frombuffer(s[FLANK5:FLANK5 + INSERT].encode(), np.uint8)] for s in sequences])


def _kmer_counts(codes: np.ndarray, ks=(1, 2, 3, 4)) -> np.ndarray:
    blocks = []
    for k in ks:
        ids = np.zeros((len(codes), codes.shape[1] - k + 1), np.int64)
        for j in range(k):
            ids = ids * 4 + codes[:, j:j + ids.shape[1]]
        counts = np.zeros((len(codes), 4 ** k))
        np.add.at(counts, (np.repeat(np.arange(len(codes)), ids.shape[1]), ids.ravel()), 1.0)
        blocks.append(counts)
    return np.concatenate(blocks, axis=1)


def _ridge(train_x, train_y, val_x, val_y, test_x) -> np.ndarray:
    mean, std = train_x.mean(0), train_x.std(0) + 1e-9
    z, zv, zt = ((x - mean) / std for x in (train_x, val_x, test_x))
    best = None
    for alpha in (1.0, 10.0, 100.0, 1000.0, 10000.0):
        w = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (train_y - train_y.mean()))
        r = np.corrcoef(zv @ w, val_y)[0, 1]
        if best is None or r > best[0]:
            best = (r, w)
    return zt @ best[1]


def test_a_two_task_network_beats_a_per_task_ridge_on_each_task(tmp_path):
    import keras

    out = simulate(tmp_path / "sim", n_train=N_TRAIN, n_test=N_TEST, seed=5, conditions="dev,hk", planted_sites=3)
    spec = json.loads(out.manifest.read_text())["table"]
    train, truth = read_table(out.train, spec), read_table(out.ground_truth, spec)
    codes, test_codes = _insert_codes(train.sequences), _insert_codes(truth.sequences)
    n_fit = int(0.9 * N_TRAIN)
    y = train.targets
    # the ridge, one task at a time
    features, test_features = _kmer_counts(codes), _kmer_counts(test_codes)
    ridge = np.stack([_ridge(features[:n_fit], y[:n_fit, t], features[n_fit:], y[n_fit:, t], test_features)
                      for t in range(2)], axis=1)
    # the network: one model, two outputs
    keras.utils.set_random_seed(0)
    onehot, test_onehot = np.eye(4, dtype=np.float32)[codes], np.eye(4, dtype=np.float32)[test_codes]
    inputs = keras.Input((INSERT, 4))
    h = keras.layers.Conv1D(64, 10, padding="same", activation="relu")(inputs)  # site-sized filters
    h = keras.layers.Concatenate()([keras.layers.GlobalMaxPool1D()(h), keras.layers.GlobalAveragePooling1D()(h)])
    h = keras.layers.Dense(64, activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    model.compile(keras.optimizers.Adam(2e-3), "mse")
    mean, std = y[:n_fit].mean(0), y[:n_fit].std(0)
    model.fit(onehot[:n_fit], (y[:n_fit] - mean) / std, validation_data=(onehot[n_fit:], (y[n_fit:] - mean) / std),
              batch_size=128, epochs=30, verbose=0,
              callbacks=[keras.callbacks.EarlyStopping(patience=4, restore_best_weights=True)])
    network = model.predict(test_onehot, batch_size=1000, verbose=0)
    scores = {}
    for t, name in enumerate(truth.target_names):
        r_net = float(np.corrcoef(network[:, t], truth.targets[:, t])[0, 1])
        r_ridge = float(np.corrcoef(ridge[:, t], truth.targets[:, t])[0, 1])
        scores[name] = (round(r_net, 3), round(r_ridge, 3))
    print("Pearson r vs truth (network, ridge):", scores)
    for name, (r_net, r_ridge) in scores.items():
        assert r_net > r_ridge + 0.05, scores
    # the two conditions are different tasks: each prediction tracks its own condition's truth best
    own = [np.corrcoef(network[:, t], truth.targets[:, t])[0, 1] for t in range(2)]
    other = [np.corrcoef(network[:, t], truth.targets[:, 1 - t])[0, 1] for t in range(2)]
    assert own[0] > other[0] and own[1] > other[1], (own, other)

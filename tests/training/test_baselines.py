"""The k-mer ridge's closed-form fit with missing targets (a multi-condition table's empty cells): rows whose value
is NaN are left out of the fit and of the alpha's validation Pearson r, never imputed. The oracle is plain numpy: k-mer
frequencies counted on the strings, a standardised ridge solved with ``np.linalg.solve``, alpha picked on the measured
validation rows."""
from __future__ import annotations

import itertools

import numpy as np

LENGTH, KS, ALPHAS = 80, (1, 2, 3), (1.0, 300.0)


def _frequencies(sequences: list[str]) -> np.ndarray:
    """k-mer frequencies (occurrences / positions), k-mers in ACGT lexicographic order, counted on the strings."""
    columns = []
    for k in KS:
        index = {"".join(kmer): i for i, kmer in enumerate(itertools.product("ACGT", repeat=k))}
        block = np.zeros((len(sequences), 4 ** k))
        for row, sequence in enumerate(sequences):
            for start in range(LENGTH - k + 1):
                block[row, index[sequence[start:start + k]]] += 1
        columns.append(block / (LENGTH - k + 1))
    return np.concatenate(columns, axis=1)


def _numpy_ridge(x, y, val_x, val_y):
    """Standardised ridge over ``ALPHAS`` on the measured rows only; the best alpha by validation Pearson r."""
    keep, val_keep = np.isfinite(y), np.isfinite(val_y)
    x, y = x[keep], y[keep]
    mean, std = x.mean(0), x.std(0)
    std[std < 1e-12] = 1.0
    z = (x - mean) / std
    best = None
    for alpha in ALPHAS:
        w = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (y - y.mean())) / std
        b = y.mean() - mean @ w
        r = np.corrcoef(val_x[val_keep] @ w + b, val_y[val_keep])[0, 1]
        if best is None or r > best[0]:
            best = (r, alpha, w, b)
    return best


def test_missing_targets_are_left_out_of_the_ridge_fit():
    from seq2exp.data.cache import TrainingCache
    from seq2exp.data.datasets import make_dataset
    from seq2exp.data.encoding import Encoder
    from seq2exp.training.baselines import fit_kmer_ridge, kmer_model_config

    rng = np.random.default_rng(3)
    sequences = ["".join(rng.choice(list("ACGT"), LENGTH)) for _ in range(600)]
    y = np.array([2 * s.count("GAT") - s.count("CC") for s in sequences], float) + rng.normal(0, 0.5, 600)
    y[rng.random(600) < 0.25] = np.nan  # a quarter of the rows miss this task's value
    y[::7] = np.nan
    cache = TrainingCache.from_sequences(sequences, y.astype(np.float32))
    config = kmer_model_config({"ks": list(KS), "alphas": list(ALPHAS), "input": {"length": LENGTH}})
    encoder = Encoder(config["input"])
    train_rows, val_rows = np.arange(450), np.arange(450, 600)
    datasets = [make_dataset(cache, encoder, batch_size=128, indices=rows, shuffle=False, target="regression")
                for rows in (train_rows, val_rows)]
    model, details = fit_kmer_ridge(config, *datasets, y[val_rows].astype(np.float32))

    features = _frequencies(sequences)
    r, alpha, w, b = _numpy_ridge(features[train_rows], y[train_rows], features[val_rows], y[val_rows])
    assert details["n_train"] == int(np.isfinite(y[train_rows]).sum()) < 450
    assert details["alpha"] == alpha
    assert abs(details["val_pearson_by_alpha"][alpha] - r) < 1e-5
    predicted = model.predict(encoder.encode([sequences[i] for i in val_rows]), verbose=0)["expression"]
    expected = features[val_rows] @ w + b
    print(f"k-mer ridge with {int(np.isnan(y).sum())} NaN targets vs numpy: alpha {alpha}, val r {r:.4f}, "
          f"max |diff| {float(np.max(np.abs(predicted - expected))):.2g}")
    np.testing.assert_allclose(predicted, expected, atol=1e-4, rtol=0)
    assert np.isfinite(predicted).all()

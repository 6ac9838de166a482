"""The authors' own Prix Fixe benchmark code, loaded in one place for the benchmarks that run it.

``../shared/reference/prixfixe_benchmarks/<benchmark>/prixfixe`` (benchmark ``drosophila`` or ``human``; both ship a
package named ``prixfixe``, so one process holds one of them: :func:`load` drops the other's modules). From it:

- :func:`build_net`: their ``PrixFixeNet`` composed with the arguments of ``DREAMNets_buildModel_Train_Predict.ipynb``
  (DREAM-RNN / -CNN / -Attn), or smaller widths (``sizes``) for quick runs;
- :func:`train_and_predict`: their ``AutosomeDataProcessor`` (``SeqDatasetProb``: ``Seq2Tensor`` one-hot A,G,C,T +
  the ``rev`` channel from ``add_rev``), their ``AutosomeTrainer`` (AdamW + OneCycleLR, the notebooks' learning rate,
  batch 32, ``BATCH_PER_EPOCH = len(pd.read_csv(TRAIN_DATA_PATH)) // 32``), their best-checkpoint rule
  (Drosophila: ``model_best_MSE.pth``, mean val MSE of the tasks; human: ``model_best.pth``, val Pearson), then the
  test rows encoded by their dataset code and predicted in eval mode.

Run as a script (``python3 benchmarks/_prixfixe.py SPEC_JSON OUT_JSON``) it trains one net in a fresh process (torch
and TensorFlow are never imported together) and writes ``{"predictions": [[...]], "params": n, "seconds": s}``.
torch is a benchmark/test-only dependency.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEQ2EXP_SHARED", REPO.parent / "shared"))
REFERENCE = SHARED / "reference" / "prixfixe_benchmarks"
LENGTHS = {"drosophila": 249, "human": 230}
# the notebooks' ``lr``: "0.005 for DREAM-RNN and DREAM-CNN, 0.001 for DREAM-Attn"
LEARNING_RATES = {"rnn": 0.005, "cnn": 0.005, "attn": 0.001}
BATCH_SIZE = 32  # TRAIN_BATCH_SIZE = VALID_BATCH_SIZE = 32
# the checkpoint each notebook loads for prediction (written by its Trainer._dump_best)
BEST_CHECKPOINT = {"drosophila": "model_best_MSE.pth", "human": "model_best.pth"}
# the notebooks' widths; ``sizes`` in build_net overrides them (quick runs)
NOTEBOOK_SIZES = {"first": 320, "lstm": 320, "core": 320, "attn_first": 256, "blocks": 4, "heads": 8}


def load(benchmark: str):
    """Import the authors' ``prixfixe`` package of ``benchmark`` (dropping another benchmark's, if loaded)."""
    import importlib

    path = str(REFERENCE / benchmark)
    loaded = sys.modules.get("prixfixe")
    if loaded is not None and not str(getattr(loaded, "__file__", "")).startswith(path):
        for name in [name for name in sys.modules if name == "prixfixe" or name.startswith("prixfixe.")]:
            del sys.modules[name]
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module("prixfixe")


def build_net(benchmark: str, net: str, generator, sizes: dict[str, int] | None = None):
    """The authors' PrixFixeNet for ``net`` (rnn, cnn, attn) as the benchmark notebook builds it (in_channels 5:
    one-hot + rev), with ``sizes`` (keys of :data:`NOTEBOOK_SIZES`) replacing the notebook's widths."""
    load(benchmark)
    from prixfixe.autosome import AutosomeFinalLayersBlock
    from prixfixe.prixfixe import PrixFixeNet

    size = {**NOTEBOOK_SIZES, **(sizes or {})}
    length = LENGTHS[benchmark]
    if net in ("rnn", "cnn"):
        from prixfixe.bhi import BHIFirstLayersBlock

        first = BHIFirstLayersBlock(in_channels=5, out_channels=size["first"], seqsize=length, kernel_sizes=[9, 15],
                                    pool_size=1, dropout=0.2)
        if net == "rnn":
            from prixfixe.bhi import BHICoreBlock

            core = BHICoreBlock(in_channels=first.out_channels, out_channels=size["core"],
                                seqsize=first.infer_outseqsize(), lstm_hidden_channels=size["lstm"],
                                kernel_sizes=[9, 15], pool_size=1, dropout1=0.2, dropout2=0.5)
        else:
            from prixfixe.autosome import AutosomeCoreBlock

            core = AutosomeCoreBlock(in_channels=first.out_channels, out_channels=64,
                                     seqsize=first.infer_outseqsize())
    elif net == "attn":
        from prixfixe.autosome import AutosomeFirstLayersBlock
        from prixfixe.unlockdna import UnlockDNACoreBlock

        first = AutosomeFirstLayersBlock(in_channels=5, out_channels=size["attn_first"], seqsize=length)
        core = UnlockDNACoreBlock(in_channels=first.out_channels, out_channels=first.out_channels, seqsize=length,
                                  n_blocks=size["blocks"], kernel_size=15, rate=0.1, num_heads=size["heads"])
    else:
        raise ValueError(f"net must be rnn, cnn or attn, got {net!r}")
    return PrixFixeNet(first=first, core=core, final=AutosomeFinalLayersBlock(in_channels=core.out_channels),
                       generator=generator)


def encode_rows(benchmark: str, path: str | Path):
    """Rows of a benchmark file as the authors' training code encodes them: ``preprocess_df`` (their ``rev``
    flag from the id) then ``SeqDatasetProb`` (``Seq2Tensor`` + rev channel). Returns (x [n, 5, L], y [n, T])."""
    import numpy as np

    load(benchmark)
    from prixfixe.autosome.dataset import SeqDatasetProb
    from prixfixe.autosome.utils import preprocess_df

    frame = preprocess_df(path=path, seqsize=LENGTHS[benchmark])
    dataset = SeqDatasetProb(frame, seqsize=LENGTHS[benchmark])
    items = [dataset[i] for i in range(len(dataset))]
    x = np.stack([item["x"].numpy() for item in items])
    y = np.stack([np.asarray(item["y"], np.float32).reshape(-1) for item in items])
    return x, y


def predict(model, x) -> Any:
    """Eval-mode predictions [n, T] of a PrixFixeNet on encoded rows (the Drosophila head returns a tuple)."""
    import numpy as np
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), 256):
            y = model(torch.from_numpy(np.ascontiguousarray(x[start:start + 256], np.float32)))
            heads = y if isinstance(y, (tuple, list)) else (y,)
            out.append(np.stack([h.reshape(len(h), -1)[:, 0].numpy() for h in heads], axis=1))
    return np.concatenate(out).astype(np.float64)


def train_and_predict(benchmark: str, net: str, train: Path, val: Path, test: Path, *, epochs: int, seed: int,
                      workdir: Path, sizes: dict[str, int] | None = None) -> dict:
    """Train the authors' net with their data processor and trainer, keep their best checkpoint, predict ``test``.

    ``seed`` seeds the notebook's ``generator`` (weights init and shuffling) and torch's global RNG (dropout).
    Data-loader workers: 0 (the notebooks use 4-8; the batches are the same, drawn in the main process).
    """
    import pandas as pd
    import torch

    load(benchmark)
    from prixfixe.autosome import AutosomeDataProcessor, AutosomeTrainer

    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    model = build_net(benchmark, net, generator, sizes)
    processor = AutosomeDataProcessor(
        path_to_training_data=str(train), path_to_validation_data=str(val), train_batch_size=BATCH_SIZE,
        batch_per_epoch=len(pd.read_csv(train)) // BATCH_SIZE, train_workers=0, valid_batch_size=BATCH_SIZE,
        valid_workers=0, shuffle_train=True, shuffle_val=False, seqsize=LENGTHS[benchmark], generator=generator)
    model_dir = Path(workdir) / "model_weight"
    trainer = AutosomeTrainer(model, device=torch.device("cpu"), model_dir=model_dir, dataprocessor=processor,
                              num_epochs=epochs, lr=LEARNING_RATES[net])
    trainer.fit()
    best = model_dir / BEST_CHECKPOINT[benchmark]
    selected = best.exists()  # the human rule never saves when every val Pearson is NaN (constant predictions)
    if selected:
        model.load_state_dict(torch.load(best))
    x, _ = encode_rows(benchmark, test)
    return {"predictions": predict(model, x).tolist(), "best_checkpoint": selected,
            "params": int(sum(p.numel() for p in model.parameters() if p.requires_grad))}


def main(argv: list[str]) -> int:
    """``SPEC_JSON OUT_JSON``: train one net (spec keys: benchmark, net, train, val, test, epochs, seed, workdir,
    sizes, threads) and write its test predictions."""
    spec, out = json.loads(argv[0]), Path(argv[1])
    import torch

    torch.set_num_threads(int(spec.get("threads", 2)))
    started = time.perf_counter()
    result = train_and_predict(spec["benchmark"], spec["net"], Path(spec["train"]), Path(spec["val"]),
                               Path(spec["test"]), epochs=int(spec["epochs"]), seed=int(spec["seed"]),
                               workdir=Path(spec["workdir"]), sizes=spec.get("sizes"))
    result["seconds"] = round(time.perf_counter() - started, 1)
    out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

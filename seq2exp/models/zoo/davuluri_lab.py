"""Davuluri lab (rank 16): DNABERT-6 (BERT-base on overlapping 6-mers) fine-tuned for regression -- here trained
from scratch.

Source: team report + code (``run.py``, ``make_prediction.py``; the vendored HuggingFace fork was not needed).
The team fine-tuned the published DNABERT-6 checkpoint, pre-trained on the HUMAN GENOME: the organisers flagged
this as a breach of the challenge's rule 1 (no external data) and kept it only as a benchmark. seq2exp builds the
same architecture and trains it from scratch on the challenge data (no external weights are loaded, ever), so its
results are expected to differ from the team's (r = 0.74 on the leaderboard).

Architecture (HF ``BertForSequenceClassification``, ``num_labels=1``, regression)::

    overlapping 6-mer ids -> BERT-base encoder (12 layers, hidden 768, 12 heads, FFN 3072, GELU, post-LN,
    dropout 0.1) -> pooler Dense(768, tanh) on [CLS] -> Dropout(0.1) -> Dense(1)

Deviations / assumptions:
- Tokens: seq2exp's ``kmer`` encoding gives one 6-mer id per position of the 110-nt window (the k-mer centred on
  it; a k-mer touching N or padding gets the "unknown" id 4096): 110 tokens + [CLS] instead of DNABERT's
  ~104 k-mers + [CLS]/[SEP]. Vocabulary 4097 + a learned [CLS] vector (DNABERT: 4101 incl. 5 specials).
- Learned position embeddings for the 111 positions used (BERT keeps a 512-row table), no token-type embedding.
These change the parameter count by < 1 % of the team's ~89 M.
"""
from __future__ import annotations

import keras

from seq2exp.models.blocks.heads import regression_outputs
from seq2exp.models.blocks.transformer import apply_bert_regressor
from seq2exp.models.prixfixe import model_input
from seq2exp.models.registry import Architecture, register

ASSUMPTIONS = (  # one line for docs/models.md; details in the docstring above
    'Pre-trained DNABERT (human genome, against rule 1) NOT used: same BERT-base architecture trained from scratch;'
    ' one centred 6-mer per position (110 tokens + [CLS]).'
)

DEFAULT_CONFIG: dict = {
    "input": {"kind": "kmer", "k": 6, "length": 110, "pad": "n_right", "trim": "right"},
    "vocab_size": 4**6 + 1,  # k-mer ids 0 .. 4^6 - 1, plus 4^6 = k-mer with N / padding
    "hidden_size": 768,
    "num_layers": 12,
    "num_heads": 12,
    "intermediate_size": 3072,
    "dropout": 0.1,
}

SMOKE_CONFIG: dict = {"input": {"k": 3}, "vocab_size": 4**3 + 1, "hidden_size": 16, "num_layers": 1,
                      "num_heads": 2, "intermediate_size": 32}


def build_davuluri_lab(config: dict) -> keras.Model:
    """DNABERT-6 architecture (BERT-base on 6-mer tokens) with a regression head, randomly initialised."""
    inputs = model_input(config)
    x = apply_bert_regressor(inputs, config)
    return keras.Model(inputs, regression_outputs(x), name="davuluri_lab")


register(Architecture(
    name="davuluri_lab", builder=build_davuluri_lab, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=None, head="regression", team="Davuluri lab", rank=16,
    source="report + team code run.py (DNABERT-6 fine-tuning; pretrained weights NOT used)", fidelity="reconstructed",
    description="BERT-base on overlapping 6-mers (DNABERT-6 architecture) trained from scratch, CLS-pooler regression",
))

"""UTKbioinformatics (rank 24): a randomly initialised BERT-base reading one token per nucleotide.

Source: team report + notebooks (``DREAM_NLP_Regression_Train.py``, ``DREAM_NLP_Regression_Finetune.py``). The
team built ``AutoModelForSequenceClassification.from_config(bert-base-uncased, num_labels=1)``: the architecture
of BERT-base with random weights (no pre-training, so no external data)::

    nucleotide tokens -> BERT-base encoder (12 layers, hidden 768, 12 heads, FFN 3072, GELU, post-LN, dropout 0.1)
    -> pooler Dense(768, tanh) on [CLS] -> Dropout(0.1) -> Dense(1)

Deviations / assumptions:
- Vocabulary: the code tokenised the letters with the ``bert-base-uncased`` tokenizer, so the model carried the
  30,522-row English embedding table (23 M parameters, ~109.5 M in total) of which only a handful of rows were ever
  used; the report describes a custom 10-token vocabulary. Here: the 5 letters + padding (6 rows) and a learned
  [CLS] vector, ~86 M parameters (the report's reading).
- ``max_length=128`` with [CLS]/[SEP]: here 126 nucleotide positions + [CLS] (no [SEP]), padding masked out of
  attention; learned positions for the 127 positions used (BERT keeps 512), no token-type embedding.
- Training (two stages: MSE on all data, then Huber on a bin-balanced 18 x 25,000 subset, AdamW lr 1e-5) is in
  ``training/configs/utk_bioinformatics.yaml``.
"""
from __future__ import annotations

import keras

from seq2exp.models.blocks.heads import regression_outputs
from seq2exp.models.blocks.transformer import apply_bert_regressor
from seq2exp.models.prixfixe import model_input
from seq2exp.models.registry import Architecture, register

ASSUMPTIONS = (  # one line for docs/models.md; details in the docstring above
    'Letter vocabulary (6 tokens) instead of the unused 30,522-row English vocabulary (-23 M parameters); no [SEP];'
    ' padding masked.'
)

DEFAULT_CONFIG: dict = {
    "input": {"kind": "tokens", "length": 126, "pad": "zero_right", "trim": "right", "pad_token": 5},
    "vocab_size": 6,  # A, C, G, T, N, padding
    "hidden_size": 768,
    "num_layers": 12,
    "num_heads": 12,
    "intermediate_size": 3072,
    "dropout": 0.1,
}

SMOKE_CONFIG: dict = {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32}


def build_utk_bioinformatics(config: dict) -> keras.Model:
    """BERT-base on single-nucleotide tokens with a regression head, randomly initialised."""
    inputs = model_input(config)
    x = apply_bert_regressor(inputs, config, pad_token=config["input"].get("pad_token", 5))
    return keras.Model(inputs, regression_outputs(x), name="utk_bioinformatics")


register(Architecture(
    name="utk_bioinformatics", builder=build_utk_bioinformatics, default_config=DEFAULT_CONFIG,
    smoke_config=SMOKE_CONFIG, paper_params=110_000_000, head="regression", team="UTKbioinformatics", rank=24,
    paper_params_source="team report (teams_more/utk_bioinformatics/report.txt: around 110M, BERT-base)",
    source="report + team notebooks (BERT-base from config, random init)", fidelity="reconstructed",
    description="BERT-base (12 x 768) on one token per nucleotide, from scratch, CLS-pooler regression",
))

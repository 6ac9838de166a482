"""Interpretation and design of trained models: attribution, in-silico mutagenesis, variant and motif effects,
motif discovery (TF-MoDISco + JASPAR), sequence design and plots — in-process or against a served model.

Names are imported lazily (TensorFlow loads only when a run folder is opened)::

    from seq2exp import interpret
    model = interpret.open_predictor("runs/autosome")            # or server="host:8500", model="autosome"
    maps = interpret.ism(model, sequences)                        # [n, L, 4] alt - ref
    ig = interpret.attribute(model, sequences, "integrated_gradients", baseline="shuffle")
"""
from __future__ import annotations

from seq2exp.utils import lazy_exports

_LAZY = {
    "open_predictor": "predictors", "RunPredictor": "predictors", "SavedModelPredictor": "predictors",
    "ServerPredictor": "predictors", "Predictor": "predictors", "GradientsUnavailableError": "predictors",
    "attribute": "attribution", "Attribution": "attribution", "mean_normalise": "attribution",
    "ism": "mutagenesis", "ISMResult": "mutagenesis", "window_scan": "mutagenesis",
    "variant_effects": "mutagenesis", "apply_snvs": "mutagenesis", "VariantEffects": "mutagenesis",
    "motif_effects": "motif_effects", "motif_pair_effects": "motif_effects", "make_backgrounds": "motif_effects",
    "discover": "discovery", "run_modisco": "discovery", "match_patterns": "discovery",
    "design": "design", "DesignResult": "design",
    "parse_motif": "sequences", "Motif": "sequences", "dinucleotide_shuffle": "sequences",
    "jaspar_fungi_motifs": "sequences",
}
__all__ = sorted(_LAZY)

__getattr__ = lazy_exports(__name__, {name: f".{module}" for name, module in _LAZY.items()})

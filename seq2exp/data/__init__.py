"""seq2exp.data: file formats, sequence encodings, the training cache and tf.data pipelines, data download.

Modules (TensorFlow is imported only by ``encoding`` and ``datasets``):

- ``alphabet``: codes (``A C G T N`` = 0..4, ``PAD`` = 5), the constant flanks, numpy ``sequences_to_codes``.
- ``plasmid``: the real vector sequence around the insert (padding / shifting context), ``read_plasmid_json``.
- ``formats``: ``read_dream`` / ``write_dream``, ``read_fasta`` / ``iter_fasta`` / ``write_fasta``, ``read_sequences``,
  ``read_test_subsets``, ``read_public_leaderboard_ids``.
- ``targets``: ``soft_bin_targets`` / ``expected_bin`` (numpy or TensorFlow).
- ``encoding``: ``EncodingSpec``, ``Encoder`` (codes/strings -> model input), ``tf_strings_to_codes``, augmentations.
- ``cache``: ``build_cache`` / ``TrainingCache`` (memory-mapped parsed training data).
- ``datasets``: ``make_dataset`` (tf.data over a cache).
- ``download``: the Zenodo record's manifest, ``download_dataset``, ``verify_dataset``.

Every public name is also available here (``from seq2exp.data import read_dream, Encoder``); the attribute is
imported on first use so that ``import seq2exp.data`` stays free of TensorFlow.
"""
from __future__ import annotations

from seq2exp.utils import lazy_exports

_EXPORTS = {
    "alphabet": ("ALPHABET", "PAD_CODE", "N_CODE", "FLANK5", "FLANK3", "VARIABLE_LENGTH", "PROMOTER_LENGTH",
                 "SequenceError", "sequences_to_codes", "codes_to_sequences", "reverse_complement",
                 "is_integer_expression"),
    "plasmid": ("PLASMID_UPSTREAM", "PLASMID_DOWNSTREAM", "read_plasmid_json", "flanks_from_plasmid"),
    "formats": ("DreamTable", "SequenceTable", "read_dream", "write_dream", "iter_dream_chunks", "iter_fasta",
                "read_fasta", "write_fasta", "read_sequences", "read_test_subsets", "read_public_leaderboard_ids",
                "SUBSET_FILES", "SINGLE_SUBSET_FILES", "PAIR_SUBSET_FILES"),
    "targets": ("soft_bin_targets", "expected_bin", "N_BINS"),
    "encoding": ("EncodingSpec", "Encoder", "tf_strings_to_codes", "reverse_complement_codes", "shift_codes"),
    "cache": ("TrainingCache", "build_cache"),
    "datasets": ("make_dataset",),
    "download": ("MANIFEST", "download_dataset", "fetch_resumable", "load_manifest", "verify_dataset"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)

__getattr__ = lazy_exports(__name__, {name: f".{module}" for name, module in _MODULE_OF.items()})


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

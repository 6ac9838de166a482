"""seq2exp: the Random Promoter DREAM Challenge 2022 architectures as Keras models, end to end.

Importing the package is cheap (no TensorFlow import); sub-packages import it when needed.

TensorFlow's oneDNN CPU kernels are asked for (``TF_ENABLE_ONEDNN_OPTS=1``) unless the variable is already set or
TensorFlow is already imported: TensorFlow turns them on by itself only on some x86 CPUs (not, e.g., on AVX2-only
AMD EPYC, where LegNet then trains 1.4-2.3x slower and its grouped convolutions have no native CPU gradient).
Set ``TF_ENABLE_ONEDNN_OPTS=0`` before the first import to keep TensorFlow's own choice.

TensorFlow prints its C++ start-up block (absl, CUDA, oneDNN lines) twice, once from each of two libraries; after
``import seq2exp`` the first ``import tensorflow`` shows it once (:func:`seq2exp.utils.show_tensorflow_start_once`;
set ``SEQ2EXP_RAW_STDERR=1`` to see TensorFlow's output untouched).
"""
import os as _os
import sys as _sys

if "tensorflow" not in _sys.modules:
    _os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"

if "tensorflow" not in _sys.modules:  # TensorFlow prints its start-up lines twice (two libraries): show them once
    from seq2exp.utils import show_tensorflow_start_once as _show_once

    _show_once()

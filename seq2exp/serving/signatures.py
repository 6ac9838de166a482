"""The one place for the serving names: signatures, tensors, files, gRPC method paths and defaults.

The exporter, the embedded server, the client, the deployment files and the tests all read these constants, and
``../shared/CONTRACT.md`` ("Serving") documents them for users. This module imports nothing heavy, so the
TensorFlow-free client can use it.
"""
from __future__ import annotations

# Signatures of an exported model (SavedModel signature keys).
SERVING_DEFAULT = "serving_default"  # raw DNA strings -> predictions (encoding inside the graph)
ONEHOT_SIGNATURE = "onehot"  # one-hot tensors -> predictions
SIGNATURE_NAMES = (SERVING_DEFAULT, ONEHOT_SIGNATURE)

# Input tensor names (one per signature).
SEQUENCES_INPUT = "sequences"  # string [None]
ONEHOT_INPUT = "onehot"  # float32 [None, L, 4], L = the model's maximum sequence length
SIGNATURE_INPUTS = {SERVING_DEFAULT: SEQUENCES_INPUT, ONEHOT_SIGNATURE: ONEHOT_INPUT}
# Models with an is_reverse input channel (rows measured in both orientations, e.g. human lentiMPRA) also have
# "serving_oriented": sequences string [None] + is_reverse bool [None] (True: the row was measured in reverse
# orientation) -> the same outputs. Its key sorts after serving_default, so the SignatureDefs of serving_default and
# onehot keep their tensor names; both still predict every row as forward.
ORIENTED_SIGNATURE = "serving_oriented"
IS_REVERSE_INPUT = "is_reverse"  # bool [None]

# Output tensor names.
EXPRESSION_OUTPUT = "expression"  # float32 [None]
BINS_OUTPUT = "bins"  # float32 [None, N_BINS], bin models only
N_BINS = 18
OUTPUT_NAMES = (EXPRESSION_OUTPUT, BINS_OUTPUT)
# Several tasks: expression is float32 [None, T] and each task is also its own output "expression_<task>" [None]
# (letters other than A-Z, a-z, 0-9 and _ in a task name become _), so gRPC, REST and the client name the tasks.
TASK_OUTPUT_PREFIX = "expression_"


def task_output(task: str) -> str:
    """The output alias of one task of a model with several tasks."""
    return TASK_OUTPUT_PREFIX + "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in task)


def task_outputs(output_names) -> dict[str, str]:
    """``{task: output alias}`` of a signature's outputs (sorted by alias; empty for a single-task model)."""
    return {alias[len(TASK_OUTPUT_PREFIX):]: alias for alias in sorted(output_names)
            if alias.startswith(TASK_OUTPUT_PREFIX)}
ONEHOT_CHANNELS = 4  # A, C, G, T; N = 0.25 in each, padding = all zeros

PREDICT_METHOD_NAME = "tensorflow/serving/predict"  # SignatureDef.method_name of both signatures

# Files inside a version folder M/<name>/<version>/.
ASSETS_EXTRA_DIR = "assets.extra"
WARMUP_FILE = f"{ASSETS_EXTRA_DIR}/tf_serving_warmup_requests"  # TFRecord of PredictionLog (TF Serving replays it)
METADATA_FILE = f"{ASSETS_EXTRA_DIR}/seq2exp_metadata.json"  # architecture, config, data checksum, metrics, lengths
SAVED_MODEL_FILE = "saved_model.pb"
N_WARMUP_REQUESTS = 4

# gRPC API (TensorFlow Serving's own method paths; the client calls them by path with its own messages).
PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"
GET_MODEL_METADATA_METHOD = "/tensorflow.serving.PredictionService/GetModelMetadata"
GET_MODEL_STATUS_METHOD = "/tensorflow.serving.ModelService/GetModelStatus"
SIGNATURE_DEF_METADATA_FIELD = "signature_def"  # the one metadata field TF Serving serves
SIGNATURE_DEF_MAP_TYPE_URL = "type.googleapis.com/tensorflow.serving.SignatureDefMap"

# Server defaults (TF Serving's where it has one).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8500
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
DEFAULT_POLL_SECONDS = 1.0  # TF Serving's --file_system_poll_wait_seconds default
DEFAULT_REST_TIMEOUT_SECONDS = 30.0  # TF Serving's --rest_api_timeout_in_ms default (30000)
DEFAULT_MAX_BATCH_SIZE = 1024
DEFAULT_BATCH_TIMEOUT_MICROS = 0  # embedded server: batch what is queued, never wait (see server.py)
DEFAULT_NUM_BATCH_THREADS = 2

# The TensorFlow Serving release the exports are tested against (the Dockerfile's TENSORFLOW_VERSION and
# KERAS_VERSION build args must equal these; `seq2exp serve-config --serving-version` defaults to it).
SERVING_TENSORFLOW_VERSION = "2.21.0"
SERVING_KERAS_VERSION = "3.15.1"

# Paths inside the deployment image (Dockerfile, serving/models.config).
CONTAINER_MODEL_BASE = "/models"
CONTAINER_CONFIG_DIR = "/models/config"

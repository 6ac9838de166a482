"""Export a trained run as a versioned SavedModel that TensorFlow Serving loads unchanged.

``M/<name>/<version>/`` holds:

* ``saved_model.pb`` + ``variables/`` with two signatures (names in :mod:`seq2exp.serving.signatures`):
  ``serving_default``: ``sequences`` string ``[None]`` -> ``expression`` float32 ``[None]`` (+ ``bins`` float32
  ``[None, 18]`` for bin models), the DNA encoding inside the graph; ``onehot``: ``onehot`` float32 ``[None, L, 4]``
  -> the same outputs (``L`` = the longest accepted sequence; rows of zeros past a sequence's end, 0.25 x 4 = N).
  Both call the run's :class:`~seq2exp.inference.graph.PredictionGraph`, so the run's test-time augmentation,
  inverse target transform and graph post-processing are in the served graph and served values equal in-process
  ones. A bad letter, an empty or an over-long sequence fails the request with ``INVALID_ARGUMENT``.
* ``assets.extra/tf_serving_warmup_requests``: a TFRecord of ``PredictionLog`` that TF Serving replays on load
  (``serving_default`` requests; ``serving_oriented`` ones too where the model has an ``is_reverse`` channel).
* ``assets.extra/seq2exp_metadata.json``: architecture, config, data checksum, validation metrics, lengths, and the
  construct the model was trained in (``construct``: :class:`seq2exp.data.construct.Construct` as a dict; an export
  without one is ``dream_yeast``).

The version is proven on TensorFlow Serving's own loading path before it is published: :func:`_verify` loads it with
the session loader (:class:`seq2exp.serving.session.SessionModel`), replays the warm-up requests and compares both
signatures with the in-process prediction. Folders are 0755 and files 0644. The metadata records the exporting
TensorFlow and Keras versions (TF Serving must be at least as new: ``seq2exp serve-config`` warns otherwise).

The version is written to a temporary folder beside its final name and renamed when complete, so a server polling
the folder never sees half a version, and a killed export leaves the previous versions as they were.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from seq2exp.errors import ConfigError, Seq2ExpError
from seq2exp.inference.onehot import codes_to_onehot, tf_onehot_to_codes
from seq2exp.jsonio import dumps
from seq2exp.serving import signatures as names
from seq2exp.utils import atomic_dir

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportResult:
    """Where a version was written."""

    path: Path
    name: str
    version: int
    metadata: dict


def next_version(model_dir: str | os.PathLike) -> int:
    """``max(existing versions) + 1`` (1 for a new model). Any version-named folder counts as taken."""
    model_dir = Path(model_dir)
    from seq2exp.serving.config import parse_version

    taken = [parse_version(p.name) for p in model_dir.iterdir()] if model_dir.is_dir() else []
    return max((v for v in taken if v is not None), default=0) + 1


def _renames_only_captures(record: logging.LogRecord) -> bool:
    """Whether a log record is TensorFlow's "Function `f` contains input name(s) 2732, 2734, ... with unsupported
    characters which will be renamed to unknown, unknown_0, ..." about captured variables only: the concrete
    functions' extra inputs are the model's variable captures, whose placeholders TensorFlow names by number. Their
    SignatureDef inputs (``sequences``, ``onehot``) keep their names; the record says nothing about them."""
    if "with unsupported characters which will be renamed to" not in str(record.msg):
        return False
    args = record.args if isinstance(record.args, tuple) else ()
    names_ = str(args[1]).split(", ") if len(args) >= 2 else []
    return bool(names_) and all(name.isdigit() for name in names_)


@contextlib.contextmanager
def _captured_inputs_renaming_unlogged() -> Iterator[None]:
    """Drop :func:`_renames_only_captures` records (two ~1.6 KB lines per export) from the ``absl`` logger
    TensorFlow logs through, for the body only; any other record, and a rename of a real input, still shows."""
    absl_logger = logging.getLogger("absl")

    def keep(record: logging.LogRecord) -> bool:
        if _renames_only_captures(record):
            logger.debug("TensorFlow renamed %d captured-variable inputs of %s", len(str(record.args[1]).split(", ")),
                         record.args[0])
            return False
        return True

    absl_logger.addFilter(keep)
    try:
        yield
    finally:
        absl_logger.removeFilter(keep)


def serving_functions(graph: Any, onehot_length: int, max_length: int) -> tuple[Any, dict, dict]:
    """(a ``tf.Module`` holding the model's variables, {signature key: concrete function}, the traced prediction
    functions the signatures call: ``{"codes": f(codes, lengths)}`` and, with an ``is_reverse`` channel,
    ``{"oriented": f(codes, lengths, orientation)}``; the export's check runs them in process).

    THE one place where a prediction graph becomes the saved functions: a graph rewrite for serving (e.g. folding
    BatchNorm into convolutions) transforms ``graph`` before this call, and everything below sees the result.

    Both signatures turn their input into codes and call ONE traced function of ``graph.tf_predict_codes`` (its TTA
    variants are traced once; the model itself once for every variant and function, through the graph's kept model
    function). The module tracks the variables, not the Keras object, and the
    functions are not attributes of it, so saving neither walks the Keras layers nor traces anything again.
    """
    import tensorflow as tf

    from seq2exp.data import encoding

    output_keys = (names.EXPRESSION_OUTPUT, names.BINS_OUTPUT)
    predict_codes = tf.function(graph.tf_predict_codes, input_signature=[
        tf.TensorSpec([None, None], tf.uint8, name="codes"), tf.TensorSpec([None], tf.int32, name="lengths")])

    tasks = list(getattr(graph, "task_names", None) or [])
    aliases = [names.task_output(task) for task in tasks] if len(tasks) > 1 else []
    if len(set(aliases)) != len(aliases):
        raise ConfigError(f"task names {tasks} give clashing output names {aliases}; rename the tasks")

    def select(outputs: Mapping[str, Any]) -> dict:
        selected = {key: tf.identity(outputs[key], name=key) for key in output_keys if key in outputs}
        for column, alias in enumerate(aliases):  # several tasks: each task also as its own named output
            selected[alias] = tf.identity(outputs[names.EXPRESSION_OUTPUT][:, column], name=alias)
        return selected

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=names.SEQUENCES_INPUT)])
    def serve_sequences(sequences):
        codes, lengths = encoding.tf_strings_to_codes(sequences, max_length)
        return select(predict_codes(tf.cast(codes, tf.uint8), tf.cast(lengths, tf.int32)))

    @tf.function(input_signature=[tf.TensorSpec([None, onehot_length, names.ONEHOT_CHANNELS], tf.float32,
                                                name=names.ONEHOT_INPUT)])
    def serve_onehot(onehot):
        codes, lengths = tf_onehot_to_codes(onehot)
        return select(predict_codes(codes, lengths))

    functions = {names.SERVING_DEFAULT: serve_sequences.get_concrete_function(),
                 names.ONEHOT_SIGNATURE: serve_onehot.get_concrete_function()}
    traced = {"codes": predict_codes}
    if getattr(graph, "has_orientation", False):  # the is_reverse channel: a third signature, the others unchanged
        predict_oriented = tf.function(
            lambda codes, lengths, orientation: graph.tf_predict_codes(codes, lengths, orientation=orientation),
            input_signature=[tf.TensorSpec([None, None], tf.uint8, name="codes"),
                             tf.TensorSpec([None], tf.int32, name="lengths"),
                             tf.TensorSpec([None], tf.bool, name="orientation")])

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=names.SEQUENCES_INPUT),
                                      tf.TensorSpec([None], tf.bool, name=names.IS_REVERSE_INPUT)])
        def serve_oriented(sequences, is_reverse):
            codes, lengths = encoding.tf_strings_to_codes(sequences, max_length)
            tf.debugging.assert_equal(tf.shape(is_reverse)[0], tf.shape(sequences)[0],
                                      message="is_reverse needs one flag per sequence")
            return select(predict_oriented(tf.cast(codes, tf.uint8), tf.cast(lengths, tf.int32), is_reverse))

        functions[names.ORIENTED_SIGNATURE] = serve_oriented.get_concrete_function()
        traced["oriented"] = predict_oriented

    module = tf.Module(name="seq2exp_serving")
    # Track the tf.Variables behind Keras 3's Variable wrappers: tracking the wrappers saves a second set of
    # variable handles that the restore op fills while the functions read the first set, so TF Serving's session
    # loader fails with "Could not find variable" (../shared/KNOWN_ISSUES.md, "TensorFlow Serving's loading path").
    module.model_variables = backing_variables(graph.model)  # tracked: saved with the graph
    return module, functions, traced


def backing_variables(model: Any) -> list:
    """The ``tf.Variable`` behind each of a Keras model's variables (what a SavedModel must track)."""
    return [getattr(variable, "value", variable) for variable in model.variables]


def warmup_sequences(n: int = names.N_WARMUP_REQUESTS * 2, seed: int = 0, construct: Any = None,
                     max_length: int | None = None) -> list[str]:
    """Valid rows of the model's construct (default ``dream_yeast``: the constant flanks + a random 80 bp insert)
    for warm-up requests and checks; an insert of unknown length is 80 bp, cut to fit ``max_length``."""
    from seq2exp.data.construct import resolve_construct

    construct = resolve_construct(construct)
    insert = construct.insert_length or 80
    if max_length is not None:
        insert = max(1, min(insert, int(max_length) - construct.flank_length))
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACGT"))
    return [construct.with_flanks("".join(rng.choice(letters, insert))) for _ in range(n)]


def graph_construct(graph: Any) -> Any:
    """The :class:`~seq2exp.data.construct.Construct` a prediction graph's encoder works in (an ensemble's, when
    its members share one; ``None`` when they differ or the graph has no encoder)."""
    encoder = getattr(graph, "encoder", None)
    if encoder is not None:
        return getattr(encoder, "construct", None)
    constructs = [graph_construct(member) for member in getattr(graph, "members", ())]
    if constructs and all(c is not None and c == constructs[0] for c in constructs):
        return constructs[0]
    return None


def write_warmup_requests(path: Path, model_name: str, sequences: Sequence[str], oriented: bool = False) -> int:
    """Write ``assets.extra/tf_serving_warmup_requests`` (TFRecord of ``PredictionLog``); returns the count.

    ``serving_default`` requests of two rows each; with ``oriented`` (a model with an ``is_reverse`` channel) the
    same rows follow as ``serving_oriented`` requests, every other row reverse, so TF Serving's load warms that
    signature too. Without it the file is what it always was."""
    import tensorflow as tf
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path.parent.mkdir(parents=True, exist_ok=True)
    signatures = [names.SERVING_DEFAULT] + ([names.ORIENTED_SIGNATURE] if oriented else [])
    n_requests = 0
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature in signatures:
            for start in range(0, len(sequences), 2):
                rows = sequences[start:start + 2]
                request = predict_pb2.PredictRequest(
                    model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature))
                request.inputs[names.SEQUENCES_INPUT].CopyFrom(
                    tf.make_tensor_proto([s.encode("ascii") for s in rows], dtype=tf.string))
                if signature == names.ORIENTED_SIGNATURE:
                    request.inputs[names.IS_REVERSE_INPUT].CopyFrom(tf.make_tensor_proto(
                        [(start + i) % 2 == 1 for i in range(len(rows))], dtype=tf.bool))
                log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
                writer.write(log.SerializeToString())
                n_requests += 1
    return n_requests


def export_graph(graph: Any, model_base_path: str | os.PathLike, name: str, version: int | None = None, *,
                 metadata: Mapping[str, Any] | None = None, verify: bool = True) -> ExportResult:
    """Export a ``PredictionGraph`` (``model``, ``encoder.max_sequence_length``, ``tf_predict_strings``,
    ``tf_predict_codes``) as ``model_base_path/name/version``; ``version=None`` takes the next free number."""
    import tensorflow as tf

    from seq2exp.serving.config import ModelConfig, clean_stale_exports

    ModelConfig(name=name, base_path=str(model_base_path))  # validates the name
    model_dir = Path(model_base_path) / name
    clean_stale_exports(model_dir)  # temporary folders of interrupted exports (never served: not version names)
    version = next_version(model_dir) if version is None else int(version)
    if not 1 <= version <= 2**63 - 1:
        raise ConfigError(f"--version must be between 1 and 2^63-1 (TF Serving's int64), got {version}")
    final = model_dir / str(version)
    if final.exists():
        raise ConfigError(f"{final} already exists: versions are immutable; export as a new version "
                          f"(next free: {next_version(model_dir)})")
    onehot_length = max_sequence_length(graph)
    construct = graph_construct(graph)
    check_sequences = warmup_sequences(construct=construct, max_length=onehot_length)
    info = {
        "name": name,
        "version": version,
        "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seq2exp_version": _package_version(),
        "tensorflow_version": tf.__version__,
        "keras_version": _keras_version(),
        "max_sequence_length": onehot_length,
        "onehot_length": onehot_length,
        "signatures": {
            names.SERVING_DEFAULT: {"inputs": {names.SEQUENCES_INPUT: ["DT_STRING", [-1]]}},
            names.ONEHOT_SIGNATURE: {"inputs": {names.ONEHOT_INPUT: ["DT_FLOAT",
                                                                     [-1, onehot_length, names.ONEHOT_CHANNELS]]}},
        },
        "outputs": [names.EXPRESSION_OUTPUT] + ([names.BINS_OUTPUT] if getattr(graph, "has_bins", False) else [])
        + [names.task_output(task) for task in (getattr(graph, "task_names", None) or [])
           if len(graph.task_names) > 1],
        # several tasks: expression is [-1, T], its columns named here (T = 1 or no tasks: [-1], as always)
        "tasks": getattr(graph, "task_names", None),
        "tta": graph.tta.to_dict() if hasattr(getattr(graph, "tta", None), "to_dict") else None,
        "batch_postprocess_not_in_graph": list(getattr(graph, "batch_postprocess", []) or []),
        "construct": construct.to_dict() if construct is not None else None,
        **dict(metadata or {}),
    }
    info["orientation"] = orientation_record(graph, info.get("config"))
    if info["orientation"] is not None:
        info["signatures"][names.ORIENTED_SIGNATURE] = {"inputs": {names.SEQUENCES_INPUT: ["DT_STRING", [-1]],
                                                                   names.IS_REVERSE_INPUT: ["DT_BOOL", [-1]]}}
    with atomic_dir(final) as tmp:
        module, functions, traced = serving_functions(graph, onehot_length, onehot_length)
        # no gradients are served: skip tracing them (it doubled the export time)
        with _captured_inputs_renaming_unlogged():
            tf.saved_model.save(module, str(tmp), signatures=functions,
                                options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
        write_warmup_requests(tmp / names.WARMUP_FILE, name, check_sequences,
                              oriented=names.ORIENTED_SIGNATURE in functions)
        if verify:
            info["check"] = _verify(tmp, graph, check_sequences, traced)
        (tmp / names.METADATA_FILE).write_text(dumps(info, indent=2, sort_keys=True, default=str) + "\n")
        _make_world_readable(tmp)
    logger.info("exported %s version %d to %s", name, version, final)
    return ExportResult(final, name, version, info)


def orientation_record(graph: Any, config: Mapping[str, Any] | None) -> dict | None:
    """The export metadata's ``orientation``: the ``serving_oriented`` signature, its ``is_reverse`` input and the rule
    the run's table used to tell reverse rows (``data.table.orientation``: ``{column, contains | values}``;
    ``seq2exp predict`` applies it to its input rows); ``None`` for a model without an ``is_reverse`` channel
    (a training table's orientation is then ignored, with a logged note)."""
    table = ((config or {}).get("data") or {}).get("table") if isinstance(config, Mapping) else None
    rule = table.get("orientation") if isinstance(table, Mapping) else None
    if not getattr(graph, "has_orientation", False):
        if rule:
            logger.info("the run's table marks reverse-orientation rows (%s), but the model has no is_reverse "
                        "channel: the export predicts every row as given", rule)
        return None
    return {"signature": names.ORIENTED_SIGNATURE, "input": names.IS_REVERSE_INPUT, "rule": rule or None}


def max_sequence_length(graph: Any) -> int:
    """The longest sequence the graph accepts (the encoder's ``max_sequence_length``)."""
    value = getattr(graph, "max_sequence_length", None) or getattr(graph.encoder, "max_sequence_length", None)
    if not value:
        raise ConfigError("the prediction graph has no max_sequence_length")
    return int(value)


def _verify(saved_dir: Path, graph: Any, sequences: Sequence[str], traced: Mapping[str, Any]) -> dict:
    """Load the version the way TensorFlow Serving does (session loader, ``Session.run`` by SignatureDef tensor
    names), replay its warm-up requests, and compare both signatures with the in-process graph on ``sequences``:
    ``traced``'s functions of ``graph.tf_predict_codes`` (see :func:`serving_functions`), run in this process on
    codes made in numpy. (Run eagerly instead, a recurrent model's loop steps one op at a time: 10x slower.)"""
    import tensorflow as tf

    from seq2exp.data.alphabet import sequences_to_codes
    from seq2exp.serving.session import SessionModel

    codes, lengths = sequences_to_codes(list(sequences))
    reference = traced["codes"](tf.constant(codes, tf.uint8), tf.constant(lengths, tf.int32))
    onehot = codes_to_onehot(codes, lengths, max_sequence_length(graph))
    try:
        with SessionModel(saved_dir) as model:
            replayed = model.replay_warmup()
            served = model.run(names.SERVING_DEFAULT,
                               {names.SEQUENCES_INPUT: np.array([s.encode("ascii") for s in sequences], object)})
            served_onehot = model.run(names.ONEHOT_SIGNATURE, {names.ONEHOT_INPUT: onehot})
            oriented = []
            if names.ORIENTED_SIGNATURE in model.signatures:  # every other row reverse, against the graph
                flags = np.arange(len(sequences)) % 2 == 1
                oriented_reference = traced["oriented"](tf.constant(codes, tf.uint8), tf.constant(lengths, tf.int32),
                                                        tf.constant(flags))
                oriented = [(oriented_reference, model.run(names.ORIENTED_SIGNATURE, {
                    names.SEQUENCES_INPUT: np.array([s.encode("ascii") for s in sequences], object),
                    names.IS_REVERSE_INPUT: flags}))]
    except tf.errors.OpError as error:
        raise Seq2ExpError(f"the export does not run on TensorFlow Serving's session path: "
                           f"{type(error).__name__}: {str(error).splitlines()[0]}") from None
    worst = 0.0
    for expected, outputs in [(reference, served), (reference, served_onehot), *oriented]:
        for key, value in expected.items():
            worst = max(worst, float(np.max(np.abs(outputs[key] - value.numpy()))))
    if not worst <= 1e-4:
        raise Seq2ExpError(f"exported graph disagrees with the in-process prediction (max |diff| {worst:.3g})")
    return {"rows": len(sequences), "max_abs_diff_vs_in_process": worst, "warmup_requests_replayed": replayed,
            "loader": "tf.compat.v1.saved_model.loader.load + Session.run"}


def _make_world_readable(root: Path) -> None:
    """Folders 0755, files 0644 (``mkdtemp`` makes 0700: unreadable by a server running as another uid)."""
    os.chmod(root, 0o755)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


def run_metadata(run: Any) -> dict:
    """The metadata file's description of a training run (architecture, config, data checksum, metrics)."""
    from seq2exp.utils import sha256_file

    info = dict(run.info)
    model_file = Path(run.path) / "model.keras"
    return {
        "architecture": info.get("architecture"),
        "encoding": info.get("encoding"),
        "target_transform": info.get("target_transform"),
        "postprocess": info.get("postprocess"),
        "data_sha256": (info.get("data") or {}).get("train_sha256") or info.get("data_sha256"),
        "data": info.get("data"),
        "validation_metrics": run.metrics or info.get("metrics", {}),
        "config": run.config,
        "run": str(Path(run.path).resolve()),
        "model_sha256": sha256_file(model_file) if model_file.exists() else None,
        "model_card": info.get("model_card"),  # imported runs (seq2exp import): provenance, licence, scores
        "run_info": info,
    }


def export_run(run_dir: str | os.PathLike | Sequence[str | os.PathLike], model_base_path: str | os.PathLike,
               name: str, version: int | None = None, *, verify: bool = True) -> ExportResult:
    """Export the training run in ``run_dir`` (``seq2exp export``); several run folders export one ensemble
    (:class:`seq2exp.inference.graph.EnsembleGraph`: the mean of the runs' predictions, same signatures)."""
    from seq2exp.inference.graph import EnsembleGraph
    from seq2exp.inference.runs import load_run

    run_dirs = [run_dir] if isinstance(run_dir, (str, os.PathLike)) else list(run_dir)
    if not run_dirs:
        raise ConfigError("export needs at least one run folder")
    runs = [load_run(path) for path in run_dirs]
    if len(runs) == 1:
        return export_graph(runs[0].prediction_graph(), model_base_path, name, version,
                            metadata=run_metadata(runs[0]), verify=verify)
    members = [run_metadata(run) for run in runs]
    metadata = {"ensemble": {"members": len(runs), "combine": "mean of the members' expression predictions"},
                "members": members, "architecture": sorted({m["architecture"] for m in members if m["architecture"]}),
                "data_sha256": sorted({m["data_sha256"] for m in members if m["data_sha256"]})}
    return export_graph(EnsembleGraph([run.prediction_graph() for run in runs]), model_base_path, name, version,
                        metadata=metadata, verify=verify)


def _keras_version() -> str | None:
    try:
        import keras
    except ImportError:  # pragma: no cover - keras is a core dependency
        return None
    return keras.__version__


def _package_version() -> str:
    from seq2exp import __version__

    return __version__

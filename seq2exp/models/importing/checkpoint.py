"""Reading the teams' saved weights into ``{name: numpy array}`` and checking them tensor by tensor.

Readers (no team code is imported; PyTorch and h5py are imported only when a file of theirs is read):

- :func:`read_torch_state_dict`: a PyTorch ``state_dict`` saved with ``torch.save(model.state_dict(), path)``
  (autosome, BHI, Camformers, NAD, BUGF) or a checkpoint dict holding one (``{"state_dict": ...}``: PyTorch
  Lightning, wztr), loaded with ``torch.load(weights_only=True)`` (no pickled code runs).
- :func:`read_keras_weights`: a Keras HDF5 weights file (``model.save_weights("x.h5")``) or a Keras 3 ``.weights.h5``.
- :func:`read_tf_checkpoint`: a TensorFlow object-based checkpoint (``model.save_weights(dir)`` /
  ``ModelCheckpoint(save_weights_only=True)`` of TF 2.x Keras: Unlock_DNA's ``tf_ckpts``), given as its folder, its
  prefix, its ``.index`` file or a ``.tar`` of the folder; names are the object-graph paths without
  ``/.ATTRIBUTES/VARIABLE_VALUE``, optimizer slots and counters left out.

:class:`TensorSource` hands tensors to an importer's mapping and turns every misfit into one
:class:`CheckpointError` naming the tensor: a missing tensor, an unexpected one, a wrong shape.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from seq2exp.errors import Seq2ExpError

logger = logging.getLogger(__name__)


class CheckpointError(Seq2ExpError, ValueError):
    """A weights file that does not fit: unreadable, another format or architecture, a missing, unexpected or
    wrongly shaped tensor. The message names the file and the tensor."""


def read_torch_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A PyTorch ``state_dict`` file as ``{name: float32/int64 numpy array}`` (CPU; ``weights_only=True``).

    A checkpoint dict that holds the ``state_dict`` under ``"state_dict"``, ``"model_state_dict"`` or ``"model"``
    is unwrapped. Raises :class:`CheckpointError` for a missing, truncated or non-PyTorch file, or one that holds
    no tensors (e.g. an optimizer state or a pickled model object).
    """
    path = _existing(path)
    try:
        import torch
    except ImportError as error:  # pragma: no cover - the import extra is in the dev extra
        raise CheckpointError(f"{path}: reading a PyTorch checkpoint needs PyTorch: pip install 'seq2exp[import]'"
                              ) from error
    try:
        loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises RuntimeError, UnpicklingError, EOFError, ...
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        with open(path, "rb") as handle:
            head = handle.read(4)
        if not head.startswith((b"PK\x03\x04", b"\x80")):  # torch.save writes a zip archive (or, legacy, a pickle)
            reason = f"not a PyTorch file: it starts with {head!r}, not a zip archive or a pickle"
        elif "Unsupported global" in str(error):
            reason = "it pickles Python objects, not only tensors (save model.state_dict(), not the model)"
        raise CheckpointError(f"{path}: not a readable PyTorch state_dict ({reason[:200]})") from None
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(loaded, Mapping) and isinstance(loaded.get(key), Mapping):
            loaded = loaded[key]
            break
    if not isinstance(loaded, Mapping):
        raise CheckpointError(f"{path}: a PyTorch file holding a {type(loaded).__name__}, not a state_dict")
    tensors = {str(name): value.detach().cpu().numpy() for name, value in loaded.items()
               if isinstance(value, torch.Tensor)}
    others = sorted(str(name) for name, value in loaded.items() if not isinstance(value, torch.Tensor))
    if not tensors or others:
        what = f"entries that are not tensors ({', '.join(others[:3])})" if others else "no tensors"
        raise CheckpointError(f"{path}: not a model state_dict: it has {what} (an optimizer or scheduler state?)")
    return tensors


def read_keras_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A Keras HDF5 weights or whole-model file as ``{"layer/weight path": array}`` in the file's layer order
    (Keras 2 ``save_weights`` / ``model.save("x.h5")`` layout: per layer a group whose ``weight_names`` attribute
    lists its weights, e.g. ``bidirectional/forward_gru/gru_cell/kernel``; Keras 3 ``.weights.h5``: ``vars``
    datasets ``0, 1, ...`` per layer, named ``layer/<index>``)."""
    path = _existing(path)
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise CheckpointError(f"{path}: not a readable Keras HDF5 weights file ({str(error)[:200]})") from None
    tensors: dict[str, np.ndarray] = {}
    with handle:
        root = handle["model_weights"] if "model_weights" in handle else handle
        if "layer_names" in root.attrs:  # Keras 2 (tf.keras) layout
            for layer_name in _decode(root.attrs["layer_names"]):
                group = root[layer_name]
                for weight_name in _decode(group.attrs.get("weight_names", [])):
                    path = weight_name.split(":")[0]
                    path = path[len(layer_name) + 1:] if path.startswith(layer_name + "/") else path
                    tensors[f"{layer_name}/{path}"] = np.asarray(group[weight_name])
        else:  # Keras 3 layout: layers/<name>/vars/<i>
            def visit(name, item):
                if hasattr(item, "shape") and "/vars/" in name:
                    layer = name.split("/vars/")[0].split("/")[-1]
                    tensors[f"{layer}/{name.rsplit('/', 1)[-1]}"] = np.asarray(item)
            root.visititems(visit)
    if not tensors:
        raise CheckpointError(f"{path}: an HDF5 file without Keras layer weights")
    return tensors


def read_tf_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A TensorFlow 2 object-based checkpoint as ``{object path: array}`` (see the module docstring)."""
    import shutil
    import tarfile
    import tempfile

    path = Path(path)
    if not path.exists() and not path.with_name(path.name + ".index").exists():  # a prefix names no file itself
        raise CheckpointError(f"{path}: no such file or folder")
    with tempfile.TemporaryDirectory(prefix="seq2exp-ckpt-") as scratch:
        if path.is_file() and tarfile.is_tarfile(path):
            from seq2exp.data.download import extract_archive

            extract_archive(path, scratch)
            path = Path(scratch)
        index = _checkpoint_index(path)
        # a prefix with an empty base name ("tf_ckpts/" -> "tf_ckpts/.index"), which TensorFlow's reader cannot
        # open, is read through links with an ordinary name
        linked = Path(scratch) / "linked"
        linked.mkdir()
        stem = index.name[: -len(".index")]
        for part in index.parent.iterdir():
            if part.name.startswith(stem + ".") and (part.name.endswith(".index") or ".data-" in part.name):
                os.symlink(part.resolve(), linked / ("ckpt" + part.name[len(stem):]))
        import tensorflow as tf

        try:
            reader = tf.train.load_checkpoint(str(linked / "ckpt"))
            names = reader.get_variable_to_shape_map()
            tensors = {}
            for name in names:
                if name == "_CHECKPOINTABLE_OBJECT_GRAPH" or "OPTIMIZER_SLOT" in name or name.startswith(
                        ("optimizer/", "save_counter", "keras_api/")):
                    continue
                tensors[name.replace("/.ATTRIBUTES/VARIABLE_VALUE", "")] = np.asarray(reader.get_tensor(name))
        except (tf.errors.OpError, ValueError) as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise CheckpointError(f"{path}: not a readable TensorFlow checkpoint ({message[:200]})") from None
        finally:
            shutil.rmtree(linked, ignore_errors=True)
    if not tensors:
        raise CheckpointError(f"{path}: a TensorFlow checkpoint without model variables")
    return tensors


def _checkpoint_index(path: Path) -> Path:
    """The ``.index`` file of the checkpoint at ``path`` (folder, prefix or the index itself)."""
    if path.is_file() and path.name.endswith(".index"):
        return path
    if path.is_dir():
        indexes = sorted(path.rglob("*.index"))
        if len(indexes) == 1:
            return indexes[0]
        if not indexes:
            raise CheckpointError(f"{path}: a folder without a TensorFlow checkpoint (no *.index file)")
        raise CheckpointError(f"{path}: several checkpoints ({', '.join(p.name for p in indexes[:3])}); give the "
                              "prefix or .index file of one")
    candidate = path.with_name(path.name + ".index")
    if candidate.exists():
        return candidate
    raise CheckpointError(f"{path}: not a TensorFlow checkpoint (no {candidate.name})")


def _decode(values: Iterable) -> list[str]:
    return [value.decode("utf8") if isinstance(value, bytes) else str(value) for value in values]


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: an empty file, not a checkpoint")
    return path


# --------------------------------------------------------------------------------------------------------------
# layouts: how a team's tensor becomes a Keras weight (and which team shape a Keras shape asks for)
# --------------------------------------------------------------------------------------------------------------
def _conv(keras_shape):  # torch Conv1d [out, in, k] -> Keras Conv1D [k, in, out]
    return tuple(reversed(keras_shape)), lambda a: np.transpose(a, (2, 1, 0))


def _dense(keras_shape):  # torch Linear [out, in] -> Keras Dense [in, out]
    return tuple(reversed(keras_shape)), lambda a: np.transpose(a)


def _copy(keras_shape):
    return tuple(keras_shape), lambda a: a


def grouped_layout(groups: int) -> Callable:
    """torch grouped Conv1d ``[G·o, i, k]`` -> seq2exp ``GroupedConv1D`` ``[k, G·i, o]`` (depthwise layout: input
    channel ``g·i + c`` of group ``g`` feeds that group's ``o`` outputs)."""
    def layout(keras_shape):
        k, channels, out_per_group = keras_shape
        in_per_group = channels // groups

        def convert(a):
            a = a.reshape(groups, out_per_group, in_per_group, k)
            return np.transpose(a, (3, 0, 2, 1)).reshape(k, channels, out_per_group)
        return (groups * out_per_group, in_per_group, k), convert
    return layout


LAYOUTS: dict[str, Callable] = {"conv": _conv, "dense": _dense, "copy": _copy}


def bilstm_pairs(keras_layer: str, torch_lstm: str) -> list[tuple[str, str | tuple[str, str], str]]:
    """Mapping pairs of a PyTorch bidirectional one-layer ``nn.LSTM`` (``torch_lstm``: its state_dict prefix) onto
    the Keras ``Bidirectional(LSTM)`` named ``keras_layer``: ``weight_ih``/``weight_hh`` ``[4H, in]`` ->
    ``kernel``/``recurrent_kernel`` ``[in, 4H]`` (gate order i, f, g, o in both), ``bias_ih + bias_hh`` -> Keras's
    one bias, ``_reverse`` -> the backward LSTM."""
    pairs = []
    for direction, suffix in (("forward", ""), ("backward", "_reverse")):
        cell = f"{keras_layer}/{direction}_{keras_layer}_lstm/lstm_cell"
        pairs += [(f"{cell}/kernel", f"{torch_lstm}.weight_ih_l0{suffix}", "dense"),
                  (f"{cell}/recurrent_kernel", f"{torch_lstm}.weight_hh_l0{suffix}", "dense"),
                  (f"{cell}/bias", (f"{torch_lstm}.bias_ih_l0{suffix}", f"{torch_lstm}.bias_hh_l0{suffix}"), "copy")]
    return pairs


class TensorSource:
    """The tensors of one checkpoint, handed out by name; what was not taken is reported at the end.

    ``describe`` names the checkpoint in messages (``"model_80.pth (autosome SeqNN state_dict)"``).
    """

    def __init__(self, tensors: Mapping[str, np.ndarray], describe: str):
        self.tensors = dict(tensors)
        self.describe = describe
        self.taken: set[str] = set()
        self.files: dict[str, Path] = {}  # the importer's extra files read into it: {option: path}

    def __contains__(self, name: str) -> bool:
        return name in self.tensors

    def shape(self, name: str) -> tuple[int, ...]:
        """The shape of tensor ``name`` (a :class:`CheckpointError` naming it when it is missing)."""
        return tuple(self._get(name).shape)

    def peek(self, name: str) -> np.ndarray:
        """Tensor ``name`` without taking it."""
        return self._get(name)

    def take(self, name: str, shape: Sequence[int] | None = None) -> np.ndarray:
        """Tensor ``name`` (its shape checked against ``shape`` when given), marked as used."""
        value = self._get(name)
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise CheckpointError(f"{self.describe}: tensor {name!r} has shape {tuple(value.shape)}, the "
                                  f"architecture needs {tuple(shape)}")
        self.taken.add(name)
        return value

    def skip(self, predicate: Callable[[str], bool]) -> None:
        """Mark tensors that carry no weights (e.g. BatchNorm's ``num_batches_tracked``) as used."""
        self.taken.update(name for name in self.tensors if predicate(name))

    def check_all_taken(self) -> None:
        """A :class:`CheckpointError` naming the first tensor the architecture has no place for."""
        left = sorted(set(self.tensors) - self.taken)
        if left:
            more = f" (and {len(left) - 1} more)" if len(left) > 1 else ""
            raise CheckpointError(f"{self.describe}: unexpected tensor {left[0]!r} {tuple(self.tensors[left[0]].shape)}"
                                  f"{more}: the architecture has no weight for it")

    def _get(self, name: str) -> np.ndarray:
        if name not in self.tensors:
            raise CheckpointError(f"{self.describe}: missing tensor {name!r}")
        return self.tensors[name]


def assign_weights(model, source: TensorSource, mapping: Sequence[tuple[str, str, str | Callable]]) -> None:
    """Set every weight of the Keras ``model`` from ``mapping``: ``(keras weight path, team tensor, layout)``; a
    tuple of team tensors is their sum (PyTorch LSTMs keep two biases per gate, Keras one).

    ``layout`` is a name of :data:`LAYOUTS` or a callable ``keras_shape -> (team_shape, convert)``. Each team tensor
    is checked against the shape the Keras weight asks for; a Keras weight left without a tensor is an error (the
    mapping is incomplete), so nothing keeps its random initial value.
    """
    weights = {weight.path: weight for weight in model.weights}
    pending = {}
    for keras_path, team_name, layout in mapping:
        if keras_path not in weights:
            raise CheckpointError(f"{source.describe}: the model has no weight {keras_path!r} (for {team_name!r})")
        keras_shape = tuple(int(d) for d in weights[keras_path].shape)
        layout = LAYOUTS[layout] if isinstance(layout, str) else layout
        team_shape, convert = layout(keras_shape)
        if isinstance(team_name, tuple):  # several team tensors summed (PyTorch LSTM's bias_ih + bias_hh)
            value = convert(sum(source.take(name, team_shape) for name in team_name))
        else:
            value = convert(source.take(team_name, team_shape))
        # reshape: ascontiguousarray makes a 0-d tensor (a learnable scalar, BioNML's Swish beta) 1-d
        pending[keras_path] = np.ascontiguousarray(value, dtype=weights[keras_path].dtype).reshape(keras_shape)
    unset = sorted(set(weights) - set(pending))
    if unset:
        raise CheckpointError(f"{source.describe}: no tensor maps onto the model weight {unset[0]!r}")
    source.check_all_taken()
    for keras_path, value in pending.items():  # only once everything fits
        weights[keras_path].assign(value)

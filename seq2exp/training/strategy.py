"""Choosing the ``tf.distribute`` strategy and the precision policy.

:func:`choose_strategy` and :func:`choose_precision` are pure functions of what was detected (devices, environment),
so the selection logic is tested without the hardware; :func:`detect_devices` and :func:`make_strategy` touch
TensorFlow.

``--strategy auto``: a reachable TPU (``TPU_NAME``/``COLAB_TPU_ADDR``/``TPU_WORKER_HOSTNAMES`` or a local TPU
device) -> ``tpu``; a ``TF_CONFIG`` naming more than one worker -> ``multi_worker``; several GPUs -> ``mirrored``;
one GPU -> ``one_device`` on it; otherwise ``default`` (CPU). ``multi_worker`` trains with the custom loop of
:mod:`seq2exp.training.multiworker` (Keras 3 ``model.fit`` fails under MultiWorkerMirroredStrategy:
keras-team/keras#20585); every other strategy uses ``model.fit``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from seq2exp.errors import ConfigError

logger = logging.getLogger(__name__)

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
TPU_ENV_VARS = ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_WORKER_HOSTNAMES")


@dataclass(frozen=True)
class Devices:
    """What :func:`detect_devices` found: device counts, GPU compute capabilities, CPU bf16 support, env."""

    gpus: int = 0
    tpus: int = 0
    gpu_compute_capabilities: tuple[tuple[int, int], ...] = ()
    cpu_bf16: bool = False
    env: Mapping[str, str] = field(default_factory=dict)


def _tf_config_workers(env: Mapping[str, str]) -> int:
    raw = env.get("TF_CONFIG")
    if not raw:
        return 0
    from seq2exp import jsonio

    try:
        cluster = jsonio.loads(raw, "TF_CONFIG", expect=dict).get("cluster", {})
    except jsonio.JSONInputError as error:
        raise ConfigError(f"TF_CONFIG: not a cluster spec ({' '.join(str(error).split())[:200]})") from None
    if not isinstance(cluster, dict):
        raise ConfigError("TF_CONFIG: 'cluster' must be an object of role -> addresses")
    return sum(len(cluster.get(role, [])) for role in ("chief", "worker"))


def choose_strategy(requested: str, devices: Devices) -> str:
    """The strategy name to use for ``requested`` (one of :data:`STRATEGIES`) given ``devices``."""
    if requested not in STRATEGIES:
        raise ConfigError(f"strategy: unknown strategy {requested!r}; choose one of: {', '.join(STRATEGIES)}")
    if requested == "multi_worker" and _tf_config_workers(devices.env) == 0:
        raise ConfigError("strategy: 'multi_worker' needs a TF_CONFIG environment variable with a cluster")
    if requested == "tpu" and not (devices.tpus or any(devices.env.get(v) for v in TPU_ENV_VARS)):
        raise ConfigError("strategy: 'tpu' requested but no TPU is reachable (no TPU device, TPU_NAME unset)")
    if requested == "one_device" and devices.gpus == 0:
        return "default"
    if requested != "auto":
        return requested
    if devices.tpus or any(devices.env.get(v) for v in TPU_ENV_VARS):
        return "tpu"
    if _tf_config_workers(devices.env) > 1:
        return "multi_worker"
    if devices.gpus > 1:
        return "mirrored"
    if devices.gpus == 1:
        return "one_device"
    return "default"


def choose_precision(requested: str, strategy: str, devices: Devices) -> str:
    """The Keras dtype policy: mixed precision only where the hardware runs it fast.

    ``auto`` -> ``mixed_bfloat16`` on TPU and on a GPU-less machine whose CPU has AVX-512 BF16 / AMX-BF16,
    ``mixed_float16`` on GPUs of compute capability >= 7.0, else float32. An explicit mixed policy the hardware cannot run falls
    back to float32 with a warning.
    """
    if requested not in PRECISIONS:
        raise ConfigError(f"precision: unknown policy {requested!r}; choose one of: {', '.join(PRECISIONS)}")
    on_tpu = strategy == "tpu"
    fast_fp16 = devices.gpus > 0 and bool(devices.gpu_compute_capabilities) and all(
        cc >= (7, 0) for cc in devices.gpu_compute_capabilities)
    if requested == "auto":
        if on_tpu:
            return "mixed_bfloat16"
        if devices.gpus == 0 and devices.cpu_bf16:
            # AVX-512 BF16 / AMX CPUs: faster at equal accuracy (benchmarks/precision.py: LegNet validation r on the
            # demo rows 0.592 bf16 vs 0.582 float32; steps several times faster)
            return "mixed_bfloat16"
        return "mixed_float16" if fast_fp16 else "float32"
    if requested == "mixed_float16" and not fast_fp16:
        logger.warning("mixed_float16 needs a GPU of compute capability >= 7.0; using float32")
        return "float32"
    if requested == "mixed_bfloat16" and not (on_tpu or devices.cpu_bf16 or
                                              any(cc >= (8, 0) for cc in devices.gpu_compute_capabilities)):
        logger.warning("mixed_bfloat16 needs a TPU, an Ampere+ GPU or a CPU with AVX-512 BF16; using float32")
        return "float32"
    return requested


def _cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as handle:
            return any("avx512_bf16" in line or "amx_bf16" in line for line in handle if line.startswith("flags"))
    except OSError:
        return False


def detect_devices(env: Mapping[str, str] | None = None) -> Devices:
    """Look at the local machine (TensorFlow's physical devices, /proc/cpuinfo, the environment)."""
    import os

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    capabilities = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        if details.get("compute_capability"):
            capabilities.append(tuple(details["compute_capability"]))
    tpus = tf.config.list_physical_devices("TPU")
    return Devices(gpus=len(gpus), tpus=len(tpus), gpu_compute_capabilities=tuple(capabilities),
                   cpu_bf16=_cpu_has_bf16(), env=dict(os.environ if env is None else env))


_MULTI_WORKER: Any = None


def make_strategy(name: str) -> Any:
    """The ``tf.distribute.Strategy`` object of a chosen strategy name.

    MultiWorkerMirroredStrategy must exist before TensorFlow runs any op, so the driver creates it first thing;
    it is created once per process and reused.
    """
    import tensorflow as tf

    global _MULTI_WORKER

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0")
    if name == "mirrored":
        if tf.config.list_logical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        # no GPU: mirror over the logical CPU devices (tf.config.set_logical_device_configuration), if several
        cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(cpus if len(cpus) > 1 else None)
    if name == "multi_worker":
        if _MULTI_WORKER is None:
            _MULTI_WORKER = tf.distribute.MultiWorkerMirroredStrategy()
        return _MULTI_WORKER
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ConfigError(f"strategy: unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}")

"""precision: auto picks bf16 on a GPU-less bf16 CPU (measured by benchmarks/precision.py), fp16 on fast GPUs."""
from __future__ import annotations

from seq2exp.training.strategy import Devices, choose_precision


def test_auto_uses_bfloat16_on_a_bf16_cpu_only_without_gpus():
    assert choose_precision("auto", "default", Devices(cpu_bf16=True)) == "mixed_bfloat16"
    assert choose_precision("auto", "default", Devices(cpu_bf16=False)) == "float32"
    volta = Devices(gpus=1, gpu_compute_capabilities=((7, 0),), cpu_bf16=True)
    assert choose_precision("auto", "one_device", volta) == "mixed_float16"
    pascal = Devices(gpus=1, gpu_compute_capabilities=((6, 1),), cpu_bf16=True)
    assert choose_precision("auto", "one_device", pascal) == "float32"  # the GPU trains; no bf16 there

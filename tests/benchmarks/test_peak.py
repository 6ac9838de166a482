"""benchmarks/_peak.py: the FLOP count of a model against a hand count, the nominal peak against /proc/cpuinfo read
independently, and the fractions' arithmetic."""
from __future__ import annotations

import pytest

from tests.benchmarks import load_benchmark


@pytest.fixture(scope="module")
def peak():
    return load_benchmark("_peak.py")


def test_forward_flops_equal_a_hand_count(peak):
    import keras

    from seq2exp.models.blocks.layers import GroupedConv1D

    length, channels = 21, 4
    inputs = keras.Input((length, channels))
    x = keras.layers.Conv1D(8, 5, padding="same", name="conv")(inputs)              # 2*21*5*4*8 + 21*8 (bias)
    x = GroupedConv1D(6, 3, groups=2, padding="valid", use_bias=True, name="grouped")(x)  # 2*19*3*4*6 + 19*6
    outputs = keras.layers.Dense(3, use_bias=False, name="dense")(x)                 # 2*19*6*3
    model = keras.Model(inputs, outputs)
    hand = (2 * 21 * 5 * 4 * 8 + 21 * 8) + (2 * 19 * 3 * 4 * 6 + 19 * 6) + 2 * 19 * 6 * 3
    counted = peak.forward_flops(model)
    assert counted == {"forward_flops_per_seq": hand, "has_loops": False, "recurrent_flops_per_seq": 0,
                       "uncounted_function_calls": 0}


def test_an_uninlined_call_is_reported(peak):
    """Keras's own grouped Conv1D runs as an XLA function on CPU, which the freezing keeps as a call."""
    import keras

    inputs = keras.Input((21, 8))
    model = keras.Model(inputs, keras.layers.Conv1D(6, 3, groups=2)(inputs))
    assert peak.forward_flops(model)["uncounted_function_calls"] == 1


def test_recurrent_layers_are_counted_per_step_and_direction(peak):
    import keras

    inputs = keras.Input((7, 4))
    x = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))(inputs)   # 2 x 7 x 2*(4+3)*12
    outputs = keras.layers.GRU(5)(x)                                                          # 7 x 2*(6+5)*15
    model = keras.Model(inputs, outputs)
    counted = peak.forward_flops(model)
    assert counted["has_loops"] is True
    assert counted["recurrent_flops_per_seq"] == 2 * 7 * 2 * (4 + 3) * 12 + 7 * 2 * (6 + 5) * 15
    assert counted["forward_flops_per_seq"] > counted["recurrent_flops_per_seq"]


def test_nominal_peak_follows_a_onednn_isa_cap(peak, monkeypatch):
    monkeypatch.setattr(peak, "_cpu_flags", lambda: {"avx2", "fma", "avx512f"})
    monkeypatch.setattr(peak, "_cpu_mhz", lambda: 2000.0)
    monkeypatch.setattr(peak, "_cpu_vendor_family", lambda: ("GenuineIntel", 6))
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    cores = peak.nominal_peak_gflops()["cores"]
    assert peak.nominal_peak_gflops()["nominal_peak_gflops"] == cores * 2000.0 * 64 / 1e3
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert peak.nominal_peak_gflops()["isa"] == "avx2"
    assert peak.nominal_peak_gflops()["nominal_peak_gflops"] == cores * 2000.0 * 32 / 1e3


def test_nominal_peak_reads_cpuinfo(peak, monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    with open("/proc/cpuinfo") as handle:
        text = handle.read()
    flags = next(line for line in text.splitlines() if line.startswith("flags")).split()
    mhz = max(float(line.split(":")[1]) for line in text.splitlines() if line.startswith("cpu MHz"))
    zen4 = "vendor_id\t: AuthenticAMD" in text and "cpu family\t: 25" in text  # AVX-512 on 256-bit pipes
    per_cycle = 64 if "avx512f" in flags and not zen4 else 32 if {"avx2", "fma"} <= set(flags) else 8
    import os

    nominal = peak.nominal_peak_gflops()
    assert nominal["flops_per_cycle_per_core"] == per_cycle
    assert nominal["nominal_peak_gflops"] == pytest.approx(len(os.sched_getaffinity(0)) * mhz * per_cycle / 1e3,
                                                           abs=0.05)


@pytest.mark.parametrize("vendor,family,per_cycle", [("AuthenticAMD", 25, 32), ("AuthenticAMD", 26, 64),
                                                     ("GenuineIntel", 6, 64)])
def test_avx512_on_a_256_bit_datapath_counts_as_256_bit(peak, monkeypatch, vendor, family, per_cycle):
    """AMD Zen 4 (family 25) executes AVX-512 on two 256-bit FMA pipes; Zen 5 and Intel on 512-bit ones."""
    monkeypatch.setattr(peak, "_cpu_flags", lambda: {"avx2", "fma", "avx512f"})
    monkeypatch.setattr(peak, "_cpu_mhz", lambda: 3000.0)
    monkeypatch.setattr(peak, "_cpu_vendor_family", lambda: (vendor, family))
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    nominal = peak.nominal_peak_gflops()
    assert nominal["flops_per_cycle_per_core"] == per_cycle
    assert nominal["nominal_peak_gflops"] == nominal["cores"] * 3000.0 * per_cycle / 1e3


def test_fractions(peak):
    out = peak.fractions(1_000_000_000, train_seq_per_s=2.0, infer_seq_per_s=3.0,
                         peak={"nominal_peak_gflops": 12.0}, matmul=10.0)
    # training 3 x 1e9 x 2 = 6 GFLOP/s, inference 1e9 x 3 = 3 GFLOP/s
    assert out == {"train_gflops": 6.0, "train_fraction_of_nominal_peak": 0.5, "train_fraction_of_matmul": 0.6,
                   "infer_gflops": 3.0, "infer_fraction_of_nominal_peak": 0.25, "infer_fraction_of_matmul": 0.3}

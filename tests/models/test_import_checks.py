"""``seq2exp import``: a checkpoint that does not fit is one clear error naming the tensor or the problem, exit code 2
with one line on stderr, and nothing is written; ``--list``; ``NAME --fetch`` through the resumable, checksum-verified
download on a loopback HTTP server; the model card in run.json and in the export's metadata."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

import pytest

from tests.data.test_download_cli import RangeServer
from tests.models.team_code import import_team_module, randomize_torch_model

torch = pytest.importorskip("torch")

BLOCKS = [32, 16, 16]


@pytest.fixture(scope="module")
def team_state(tmp_path_factory) -> dict:
    """A small SeqNN from the team's model.py, randomised: its state_dict (and the file train.py would write)."""
    model = import_team_module("autosome", "model").SeqNN(seqsize=150, use_single_channel=True,
                                                          block_sizes=BLOCKS, ks=7)
    randomize_torch_model(model, seed=3)
    return {name: value.clone() for name, value in model.state_dict().items()}


def save(path: Path, state) -> Path:
    torch.save(state, path)
    return path


def run_cli(argv, capsys) -> tuple[int, str, str]:
    from seq2exp import cli

    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_refused(tmp_path, capsys, weights: Path, *expected_words, architecture: str = "autosome"):
    out = tmp_path / "run"
    code, _, err = run_cli(["import", architecture, str(weights), "--out", str(out)], capsys)
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("seq2exp import: error:"), err
    for word in expected_words:
        assert word in lines[0], lines[0]
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]  # nothing written
    return lines[0]


def test_a_missing_tensor_is_named(tmp_path, capsys, team_state):
    state = dict(team_state)
    del state["seqextractor.inv_res_blc1.4.running_var"]
    assert_refused(tmp_path, capsys, save(tmp_path / "m.pth", state), "missing tensor",
                   "seqextractor.inv_res_blc1.4.running_var")


def test_an_unexpected_tensor_is_named(tmp_path, capsys, team_state):
    state = dict(team_state, **{"mapper.2.weight": torch.zeros(3)})
    assert_refused(tmp_path, capsys, save(tmp_path / "m.pth", state), "unexpected tensor", "mapper.2.weight")


def test_a_wrong_shape_is_named_with_both_shapes(tmp_path, capsys, team_state):
    state = dict(team_state)
    state["seqextractor.inv_res_blc0.3.weight"] = torch.zeros(64, 2, 5)  # kernel 5 where the stem says 7
    line = assert_refused(tmp_path, capsys, save(tmp_path / "m.pth", state), "seqextractor.inv_res_blc0.3.weight",
                          "(64, 2, 5)", "(64, 2, 7)")
    assert "shape" in line


def test_bins_that_are_not_0_to_17_are_refused(tmp_path, capsys, team_state):
    state = dict(team_state, bins=torch.arange(1, 19))
    assert_refused(tmp_path, capsys, save(tmp_path / "m.pth", state), "'bins'")


def test_another_architectures_file_is_recognised(tmp_path, capsys, team_state):
    # a BHI-like file: none of SeqNN's tensors
    other = {"conv1.weight": torch.zeros(4, 4, 3), "fc.weight": torch.zeros(1, 4)}
    assert_refused(tmp_path, capsys, save(tmp_path / "bhi.pth", other), "not a checkpoint of Autosome.org's model",
                   "seqextractor.blc0.0.weight")


def test_an_optimizer_state_and_a_pickled_model_are_not_state_dicts(tmp_path, capsys, team_state):
    model = import_team_module("autosome", "model").SeqNN(seqsize=150, use_single_channel=True,
                                                          block_sizes=BLOCKS, ks=7)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.zeros(2, 6, 150))[1].sum().backward()
    optimizer.step()
    assert_refused(tmp_path, capsys, save(tmp_path / "optimizer_80.pth", optimizer.state_dict()),
                   "not a model state_dict")
    assert_refused(tmp_path, capsys, save(tmp_path / "whole_model.pth", model), "not a readable PyTorch state_dict",
                   "not only tensors")


@pytest.mark.parametrize("damage", ["truncated", "text", "empty", "absent"])
def test_truncated_and_non_checkpoint_files(tmp_path, capsys, team_state, damage):
    path = save(tmp_path / "model_80.pth", team_state)
    if damage == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif damage == "text":
        path.write_text("TGCATTTTTTTCACATC\t12.0\n")
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
    expected = {"truncated": "not a readable PyTorch state_dict",
                "text": "not a readable PyTorch state_dict (not a PyTorch file: it starts with b'TGCA'",
                "empty": "empty file", "absent": "no such file"}[damage]
    assert_refused(tmp_path, capsys, path, expected, "model_80.pth")


def test_an_existing_run_folder_and_an_unknown_architecture_are_refused(tmp_path, capsys, team_state):
    weights = save(tmp_path / "w.pth", team_state)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "run.json").write_text("{}")
    code, _, err = run_cli(["import", "autosome", str(weights), "--out", str(tmp_path / "taken")], capsys)
    assert code == 2 and "already exists" in err and (tmp_path / "taken" / "run.json").read_text() == "{}"
    code, _, err = run_cli(["import", "no_such_arch", str(weights), "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "no importer for architecture 'no_such_arch'" in err and "autosome" in err


def test_list_shows_the_importers_and_the_published_checkpoints(capsys):
    code, out, _ = run_cli(["import", "--list", "--json"], capsys)
    rows = json.loads(out)
    assert code == 0
    assert {"architecture": "autosome", "format": "pytorch_state_dict"}.items() <= rows["importers"][0].items()
    published = {row["name"]: row for row in rows["published"]}
    assert published["autosome-dream2022"]["architecture"] == "autosome"
    assert published["autosome-dream2022"]["checksum"] == "unverified"  # never an invented checksum


def test_list_text_lines_up_its_columns_with_every_team_name(capsys):
    """The plain listing: each column starts at the same place on every row, however long a team's name is."""
    code, out, _ = run_cli(["import", "--list"], capsys)
    rows = json.loads(run_cli(["import", "--list", "--json"], capsys)[1])
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("  ")][:len(rows["importers"])]
    assert len(lines) == len(rows["importers"])
    for column in ("team", "format"):
        starts = {line.index(row[column], len(row["architecture"]) + 2) for line, row in zip(lines, rows["importers"])}
        assert len(starts) == 1, (column, starts)
    assert any(len(row["team"]) > 20 for row in rows["importers"])  # the name that used to push its row out


def test_every_dream_team_card_cites_the_challenge_paper_for_its_own_team():
    from seq2exp.models.importing.core import importers

    dream_teams = {name: importer for name, importer in importers().items()
                   if "DREAM 2022 challenge" in importer.card.get("citation", "")}
    assert {"bhi", "bionml", "bugf", "camformers", "high_schoolers", "mt", "nad", "unlock_dna",
            "wztr"} <= set(dream_teams)
    for importer in dream_teams.values():
        citation = importer.card["citation"]
        assert citation.startswith("Rafi AM, et al. Evaluation and optimization of sequence-based gene regulatory "
                                   "deep learning models. bioRxiv (2023). doi:10.1101/2023.04.26.538471")
        assert citation.endswith(f"(the DREAM 2022 challenge; team {importer.team})")


def test_the_registry_is_honest_package_data():
    from seq2exp.models.importing import importers
    from seq2exp.models.importing.published import REGISTRY_PATH, load_registry

    assert REGISTRY_PATH.parent.name == "importing" and REGISTRY_PATH.suffix == ".json"
    for entry in load_registry().values():
        assert entry.architecture in importers()
        assert (entry.sha256 is None) == (entry.status == "unverified")
        assert entry.entry["licence"] and entry.entry["citation"] and entry.entry["training_data"]


@pytest.fixture()
def server():
    httpd = RangeServer()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def test_fetch_downloads_resumes_records_the_checksum_and_imports_with_the_model_card(tmp_path, capsys, team_state,
                                                                                      server):
    from seq2exp.serving.export import export_run
    from seq2exp.serving.signatures import METADATA_FILE
    from seq2exp.utils import sha256_file

    data = save(tmp_path / "model_80.pth", team_state).read_bytes()
    server.files["model_80.pth"] = data
    server.cut_after = len(data) // 3  # the first transfer breaks off: the next call resumes it
    downloads, url = tmp_path / "downloads", f"{server.url}/model_80.pth"
    argv = ["import", "autosome-dream2022", "--fetch", "--url", url, "--download-dir", str(downloads)]
    code, _, err = run_cli([*argv, "--out", str(tmp_path / "run0")], capsys)
    assert code == 2 and "seq2exp import: error:" in err and not (tmp_path / "run0").exists()
    code, out, err = run_cli([*argv, "--out", str(tmp_path / "run")], capsys)
    assert code == 0, err
    assert [r["range"] for r in server.requests][-1] == f"bytes={len(data) // 3}-"
    recorded = json.loads((downloads / "checksums.json").read_text())["model_80.pth"]
    assert recorded["sha256"] == sha256_file(tmp_path / "model_80.pth") and recorded["status"] == "unverified"
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    card = info["model_card"]
    assert card["name"] == "autosome-dream2022" and card["checksum_status"] == "unverified"
    assert "LegNet" in card["citation"] and "MIT" in card["licence"] and card["reported_scores"]["pearson_r2"]
    assert card["weights_sha256"] == recorded["sha256"]
    result = export_run(tmp_path / "run", tmp_path / "models", "legnet", 1, verify=False)
    exported = json.loads((result.path / METADATA_FILE).read_text())
    assert exported["model_card"]["name"] == "autosome-dream2022"
    assert exported["model_card"]["citation"] == card["citation"]

    # the server now hands out another file under the same name: the recorded checksum catches it
    (downloads / "model_80.pth").unlink()
    server.files["model_80.pth"] = data[:-8] + b"\0" * 8
    code, _, err = run_cli([*argv, "--out", str(tmp_path / "run2")], capsys)
    assert code == 2 and "does not match" in err and not (tmp_path / "run2").exists()
    assert not (downloads / "model_80.pth").exists()
    # a checksum the user gives wins
    code, _, err = run_cli([*argv, "--sha256", "0" * 64, "--out", str(tmp_path / "run3")], capsys)
    assert code == 2 and "0" * 64 in err and not (tmp_path / "run3").exists()


def test_seq2exp_models_says_which_architectures_import_published_weights():
    from seq2exp.models.cli import describe

    assert describe("autosome", count_params=False)["imports"] == "pytorch_state_dict"
    assert describe("kmer_ridge", count_params=False)["imports"] is None


def test_an_imported_run_goes_through_export_predict_and_score_unchanged(tmp_path, capsys, team_state, demo_train):
    """The CLI chain a user runs: import -> export -> predict (the SavedModel) -> score, against the in-process run."""
    from seq2exp.inference.runs import load_run
    from tests.conftest import copy_first_lines

    weights = save(tmp_path / "model_80.pth", team_state)
    run = tmp_path / "run"
    code, out, err = run_cli(["import", "autosome", str(weights), "--out", str(run)], capsys)
    assert code == 0 and json.loads(out)["run"] == str(run), err
    code, _, err = run_cli(["export", str(run), "--model-base-path", str(tmp_path / "models"), "--name", "legnet"],
                           capsys)
    assert code == 0, err
    rows = copy_first_lines(demo_train, tmp_path / "rows.txt", 40)
    predictions = tmp_path / "pred.txt"
    code, _, err = run_cli(["predict", str(rows), "-o", str(predictions), "--saved-model",
                            str(tmp_path / "models" / "legnet"), "--no-progress"], capsys)
    assert code == 0, err
    lines = [line.split("\t") for line in predictions.read_text().splitlines()]
    sequences = [line.split("\t")[0] for line in rows.read_text().splitlines()]
    assert [line[0] for line in lines] == sequences
    np.testing.assert_allclose([float(line[1]) for line in lines], load_run(run).predict(sequences), atol=1e-5)
    code, out, err = run_cli(["score", "--predictions", str(predictions), "--truth", str(rows), "--json"], capsys)
    assert code == 0, err
    assert -1 <= json.loads(out)["subsets"]["all"]["pearson"] <= 1


def test_explain_takes_an_imported_run_in_the_teams_channel_order(tmp_path, capsys, team_state, demo_train):
    """In-silico mutagenesis of an imported LegNet (channels A,G,C,T): each effect equals the run's prediction of
    the mutated sequence minus the reference's."""
    from seq2exp.inference.runs import load_run
    from tests.conftest import copy_first_lines

    run = tmp_path / "run"
    assert run_cli(["import", "autosome", str(save(tmp_path / "w.pth", team_state)), "--out", str(run)], capsys)[0] == 0
    rows = copy_first_lines(demo_train, tmp_path / "rows.txt", 1)
    code, _, err = run_cli(["explain", str(run), "--sequences", str(rows), "--method", "ism", "-o",
                            str(tmp_path / "explain"), "--plots", "0"], capsys)
    assert code == 0, err
    result = np.load(tmp_path / "explain" / "ism.npz")
    sequence = str(result["sequences"][0])
    effects = result["effects"][0]
    predictor = load_run(run)
    reference = predictor.predict([sequence])[0]
    for position, base in ((20, "G"), (55, "C"), (90, "A")):
        if sequence[position] == base:
            continue
        mutant = sequence[:position] + base + sequence[position + 1:]
        expected = predictor.predict([mutant])[0] - reference
        assert effects[position, "ACGT".index(base)] == pytest.approx(expected, abs=1e-4)
    assert np.abs(effects).max() > 1e-3


def test_the_tensorflow_and_keras_readers_refuse_what_is_not_their_format(tmp_path, capsys, team_state):
    """unlock_dna reads TensorFlow checkpoints, mt Keras HDF5 files: a PyTorch file, a text file, an empty folder or
    an HDF5 file of other layers is one clear error each, nothing written."""
    import h5py

    pth = save(tmp_path / "model_80.pth", team_state)
    assert_refused(tmp_path, capsys, pth, "not a TensorFlow checkpoint", architecture="unlock_dna")
    (tmp_path / "empty").mkdir()
    assert_refused(tmp_path, capsys, tmp_path / "empty", "no *.index file", architecture="unlock_dna")
    text = tmp_path / "weights.h5"
    text.write_text("not hdf5\n")
    assert_refused(tmp_path, capsys, text, "not a readable Keras HDF5", architecture="mt")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle.attrs["layer_names"] = [b"dense"]
        group = handle.create_group("dense")
        group.attrs["weight_names"] = [b"dense/kernel:0"]
        group.create_dataset("dense/kernel:0", data=np.zeros((3, 2), np.float32))
    assert_refused(tmp_path, capsys, other, "not a checkpoint of mt's model (mt", architecture="mt")
    assert_refused(tmp_path, capsys, pth, "not a readable Keras HDF5", architecture="mt")


def test_a_tensorflow_checkpoint_reads_from_its_folder_prefix_index_or_tar(tmp_path):
    """The layouts a TF checkpoint arrives in, Unlock_DNA's included: ``tf_ckpts/`` with an empty prefix
    (``tf_ckpts/.index``), a normal prefix, its ``.index`` file, and a ``.tar`` of the folder (the published file)."""
    import tarfile

    import tensorflow as tf

    from seq2exp.models.importing import read_tf_checkpoint

    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    checkpoint = tf.train.Checkpoint(layer=tf.train.Checkpoint(kernel=tf.Variable(values)))
    folder = tmp_path / "tf_ckpts"
    folder.mkdir()
    checkpoint.write(str(folder) + "/")  # what Keras 2's save_weights("tf_ckpts/") does: files ".index", ".data-*"
    assert (folder / ".index").exists()
    with tarfile.open(tmp_path / "tf_ckpts.tar", "w") as archive:
        archive.add(folder, arcname="tf_ckpts")
    checkpoint.write(str(tmp_path / "named" / "ckpt-1"))
    for source in (folder, tmp_path / "tf_ckpts.tar", tmp_path / "named" / "ckpt-1",
                   tmp_path / "named" / "ckpt-1.index"):
        tensors = read_tf_checkpoint(source)
        assert list(tensors) == ["layer/kernel"], source
        np.testing.assert_array_equal(tensors["layer/kernel"], values)

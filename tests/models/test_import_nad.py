"""``seq2exp import nad``: the team's own ``Model`` (teams/nad/code/Util/SimpleViTModel.py, x-transformers 0.28.4)
with random weights and BatchNorm statistics, saved as its main.py saves it (``best.pth``), and a GloVe
``vectors.txt`` made here (random vectors, in the order-free text format GloVe writes, ``<unk>`` last), imported with
``seq2exp import nad best.pth --embedding vectors.txt``, and compared with the team's own code:

- the raw model outputs (before the rank step) of the team's ``test_predict.py`` pieces (its ``DataGen``: its GloVe
  reader and ``transform_data_embed``; its ``Model`` loaded from ``best.pth``) against seq2exp in process and the
  exported SavedModel on TF Serving's session path (seq2exp's values mapped back to the team's units with numpy);
- the ranks the team's ``test_predict.py`` writes, run as it is, against ``seq2exp predict``'s rank step.

The team's code reads only 110-bp rows without N (other lengths fail in its model: asserted here); for real demo rows
shorter and longer than 110 bp and rows with N, the team's ``Model`` is fed the documented recipe built in numpy
(the 5-mers of ``seq[15:]``, N-padded / cut on the right to 80, a 5-mer with N the zero vector).
"""
from __future__ import annotations

import contextlib
import itertools
import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.models.team_code import (
    import_team_module, randomize_torch_model, run_team_script, served_expression, team_dir)

torch = pytest.importorskip("torch")
pytest.importorskip("x_transformers")  # the team's pin: x_transformers==0.28.4 (requirements.txt)
pytest.importorskip("einops")

FLANK5, FLANK3 = "TGCATTTTTTTCACATC", "GGTTACGGCTGTT"

# a smaller Model from the team's own factories (its Model() has one size: its forward reads c1..c5, l1..l4, u2..u4,
# d2..d4, t1..t4, r1..r4; the aa blocks d2..d4 keep their 20/40/80 positions)
SMALL_BUILDER = '''
from torch import nn
from Util.SimpleViTModel import Model, create_block_conv, create_reg, create_vit


def small_model():
    model = Model()
    widths = [16, 16, 24, 24, 32]
    model.c1 = create_block_conv(16, widths[0], 1)
    model.c2 = create_block_conv(widths[0], widths[1], 1)
    model.c3 = create_block_conv(widths[1], widths[2], 2)
    model.c4 = create_block_conv(widths[2], widths[3], 2)
    model.c5 = create_block_conv(widths[3], widths[4], 2)
    model.l1, model.l2 = nn.Conv1d(32, 32, kernel_size=(1,)), nn.Conv1d(24, 32, kernel_size=(1,))
    model.l3, model.l4 = nn.Conv1d(24, 32, kernel_size=(1,)), nn.Conv1d(16, 32, kernel_size=(1,))
    for name in ("u2", "u3", "u4"):
        setattr(model, name, nn.ConvTranspose1d(32, 32, kernel_size=(3,), stride=(2,), padding=(1,),
                                                output_padding=(1,)))
    for name, depth in (("t1", 2), ("t2", 1), ("t3", 1), ("t4", 2)):
        setattr(model, name, create_vit(dim=32, depth=depth, heads=2))
    for name in ("r1", "r2", "r3", "r4"):
        setattr(model, name, create_reg(dim=32))
    return model
'''
SMALL = {"dim": 16, "builder": "small_nad.small_model()"}
REAL = {"dim": 128, "builder": "Model()"}  # test_predict.py / main.py: Model(); demo.sh: VECTOR_SIZE=128


def write_builder(workdir: Path) -> None:
    (workdir / "small_nad.py").write_text(SMALL_BUILDER)


def team_model(shape: dict, workdir: Path):
    """The team's Model (or the small one from its factories), built in this process."""
    module = import_team_module("nad", "Util.SimpleViTModel")
    if shape is REAL:
        return module.Model()
    write_builder(workdir)
    namespace: dict = {}
    exec(compile(SMALL_BUILDER, "small_nad.py", "exec"), namespace)  # noqa: S102 - the builder above
    return namespace["small_model"]()


def save_team_model(workdir: Path, shape: dict, seed: int = 0) -> Path:
    model = team_model(shape, workdir)
    randomize_torch_model(model, seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("rel_pos.relative_attention_bias.weight"):  # x-transformers scales it by sqrt(64):
                parameter.mul_(0.1)  # keep the position bias from drowning the content logits (q.k must matter)
            elif name.startswith("r") and name.endswith(".0.weight"):  # the heads read a mean over tokens:
                parameter.mul_(10)  # spread the predictions so that a wrong mapping shows far above float noise
    path = workdir / "best.pth"
    torch.save(model.state_dict().copy(), path)  # main.py: best_weights = model.state_dict().copy(); torch.save
    return path


def write_glove(path: Path, dim: int, seed: int = 0, kmers: list[str] | None = None, last: str = "<unk>") -> Path:
    """A GloVe vectors.txt: ``word v1 .. vD`` (``%lf``: 6 decimals), words in a shuffled (frequency-like) order,
    GloVe's ``<unk>`` vector last."""
    rng = np.random.default_rng(seed)
    words = kmers if kmers is not None else ["".join(p) for p in itertools.product("ACGT", repeat=5)]
    words = [words[i] for i in rng.permutation(len(words))] + ([last] if last else [])
    with open(path, "w") as handle:
        for word in words:
            handle.write(word + "".join(f" {value:f}" for value in rng.normal(0.0, 0.5, dim)) + "\n")
    return path


def prepare_workdir(workdir: Path, shape: dict, rows: list[str], seed: int = 0) -> tuple[Path, Path]:
    """best.pth and data/vectors.txt + data/test_sequences.txt where test_predict.py looks for them."""
    (workdir / "data").mkdir(exist_ok=True)
    weights = save_team_model(workdir, shape, seed)
    vectors = write_glove(workdir / "data" / "vectors.txt", shape["dim"], seed)
    (workdir / "data" / "test_sequences.txt").write_text("".join(f"{s}\t0\n" for s in rows))
    return weights, vectors


def team_raw_outputs(workdir: Path, shape: dict, embedded: np.ndarray | None = None) -> np.ndarray:
    """test_predict.py's model outputs before its rank step: its DataGen (GloVe reader, transform_data_embed) over
    data/test_sequences.txt and its Model loaded from best.pth, eval mode (``embedded``: feed these inputs instead)."""
    predict = import_team_module("nad", "test_predict")
    model = team_model(shape, workdir)
    model.load_state_dict(torch.load(workdir / "best.pth", map_location="cpu"))
    model.eval()
    with contextlib.chdir(workdir), torch.no_grad():
        if embedded is None:
            data = predict.DataGen()
            embedded = np.stack([data[i].numpy() for i in range(len(data))])
        return model(torch.as_tensor(embedded, dtype=torch.float32)).reshape(-1).numpy()


def team_ranks(workdir: Path, shape: dict) -> np.ndarray:
    """test_predict.py run as it is (its DataLoader, autocast, rank / N over the file) -> prediction.txt."""
    assign = {} if shape is REAL else {"model": SMALL["builder"].replace("small_nad.", "__import__('small_nad').")}
    run_team_script(team_dir("nad") / "test_predict.py", [], assign=assign, cwd=workdir)
    lines = (workdir / "prediction.txt").read_text().splitlines()
    return np.asarray([float(line.split("\t")[1]) for line in lines], np.float32)


def glove_table(path: Path) -> dict[str, np.ndarray]:
    """The vectors file as the team's DataGen reads it (every line but the last), independently of seq2exp."""
    lines = path.read_text().splitlines()[:-1]
    return {line.split()[0]: np.asarray(line.split()[1:], np.float64) for line in lines}


def recipe_inputs(rows: list[str], vectors: Path) -> np.ndarray:
    """The import's documented recipe in numpy for any DREAM row with both flanks: the 80 5-mers of ``seq[15:]``
    (the variable region N-padded / cut on the right to 80 bp, then 2 bp of context), a 5-mer with N zero."""
    table = glove_table(vectors)
    dim = len(next(iter(table.values())))
    out = np.zeros((len(rows), 80, dim), np.float32)
    for row_index, row in enumerate(rows):
        assert row.startswith(FLANK5) and row.endswith(FLANK3), row
        variable = row[17:-13]
        if len(variable) >= 80:
            text = row[15:17] + (variable + FLANK3)[:82]
        else:
            text = row[15:17] + variable + "N" * (82 - len(variable))
        for j in range(80):
            kmer = text[j:j + 5]
            if "N" not in kmer:
                out[row_index, j] = table[kmer]
    return out


def to_team_units(expression: np.ndarray) -> np.ndarray:
    """seq2exp's expression (the nad transform's inverse applied) -> the team's model units, in numpy: y <= 8 ->
    y / 8 * 3 + 5, then (y - 5) / 12 (Util/Utils.py DataGen's label transform)."""
    y = np.asarray(expression, np.float64)
    y = np.where(y <= 8.0, y / 8.0 * 3.0 + 5.0, y)
    return (y - 5.0) / 12.0


def demo_110(demo_train: Path, n: int) -> list[str]:
    rows = [line.split("\t")[0] for line in demo_train.read_text().splitlines() if line.strip()]
    return [s for s in rows if len(s) == 110 and "N" not in s][:n]


def demo_others(demo_train: Path) -> list[str]:
    """Real demo rows the team's code does not read: shorter and longer than 110 bp, and 110 bp with N."""
    rows = [line.split("\t")[0] for line in demo_train.read_text().splitlines() if line.strip()]
    with_flanks = [s for s in rows if s.startswith(FLANK5) and s.endswith(FLANK3)]
    chosen = ([s for s in with_flanks if len(s) == 111][:2] + [s for s in with_flanks if len(s) == 109][:2]
              + sorted(with_flanks, key=len)[:2] + [s for s in with_flanks if len(s) == 110 and "N" in s][:2])
    assert min(map(len, chosen)) < 110 < max(map(len, chosen)) and any("N" in s for s in chosen)
    return chosen


def check_parity(tmp_path: Path, demo_train: Path, shape: dict, n_rows: int, capsys=None) -> dict:
    from seq2exp.inference.runs import load_run

    rows = demo_110(demo_train, n_rows)
    others = demo_others(demo_train)
    weights, vectors = prepare_workdir(tmp_path, shape, rows)
    started = time.perf_counter()
    expected = team_raw_outputs(tmp_path, shape)
    ranks = team_ranks(tmp_path, shape)
    team_seconds = time.perf_counter() - started
    expected_others = team_raw_outputs(tmp_path, shape, recipe_inputs(others, vectors))
    # the team's numpy-free oracle agrees with the recipe on its own rows (the recipe's 110-bp case)
    assert np.allclose(team_raw_outputs(tmp_path, shape, recipe_inputs(rows, vectors)), expected, atol=1e-6)

    run_dir = tmp_path / "run"
    if capsys is not None:  # the command line
        from seq2exp import cli

        assert cli.main(["import", "nad", str(weights), "--embedding", str(vectors), "--out", str(run_dir)]) == 0
        capsys.readouterr()
    else:
        from seq2exp.training import import_weights

        import_weights("nad", weights, run_dir, files={"embedding": vectors})
    graph = load_run(run_dir).prediction_graph()
    in_process = to_team_units(graph.predict_outputs(rows + others)["expression"])  # before the batch step
    seq2exp_ranks = graph.predict(rows)  # with the batch step 'rank' over the file
    served = to_team_units(served_expression(run_dir, rows + others, tmp_path / "models", "nad"))
    team = np.concatenate([expected, expected_others])
    diffs = {"in_process": float(np.max(np.abs(in_process - team))),
             "served": float(np.max(np.abs(served - team))),
             "other_rows_in_process": float(np.max(np.abs(in_process[len(rows):] - expected_others))),
             "spread": float(np.ptp(team)), "n_rows": len(rows), "n_other_rows": len(others),
             "other_lengths": sorted({len(s) for s in others}), "team_s": round(team_seconds, 1)}
    print("nad", {k: v for k, v in shape.items() if k != "builder"}, json.dumps(diffs))
    assert diffs["spread"] > 0.1  # rows told apart
    assert diffs["in_process"] <= 1e-4 and diffs["served"] <= 1e-4, diffs
    assert np.array_equal(seq2exp_ranks, ranks), (seq2exp_ranks, ranks)  # test_predict.py's rank / N
    assert np.allclose(ranks, np.argsort(expected).argsort() / len(expected))

    info = json.loads((run_dir / "run.json").read_text())
    assert info["postprocess"] == [{"name": "rank"}] and info["target_transform"]["name"] == "nad"
    assert info["encoding"]["kind"] == "kmer" and info["encoding"]["k"] == 5 and info["encoding"]["length"] == 80
    assert info["imported_from"]["files"]["embedding"]["file_name"] == "vectors.txt"
    assert len(info["imported_from"]["files"]["embedding"]["sha256"]) == 64
    return diffs


def test_imported_nad_predicts_what_the_teams_code_predicts(tmp_path, demo_train, capsys):
    check_parity(tmp_path, demo_train, SMALL, n_rows=12, capsys=capsys)


@pytest.mark.slow
def test_the_teams_code_reads_only_110_bp_rows(tmp_path, demo_train):
    """Why the other rows are compared through the recipe: test_predict.py fails on a 109- or 111-bp row."""
    for length in (109, 111):
        row = next(s for s in demo_others(demo_train) if len(s) == length)
        workdir = tmp_path / str(length)
        workdir.mkdir()
        write_builder(workdir)
        prepare_workdir(workdir, SMALL, [row])  # alone: the model itself, not the batching, refuses it
        with pytest.raises(AssertionError, match="must match the size of tensor"):
            team_ranks(workdir, SMALL)


@pytest.mark.slow
def test_the_real_size_nad_model_imports_equal_to_the_team(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, REAL, n_rows=24)


def test_the_real_size_model_maps_all_365_tensors(tmp_path):
    """The team's Model(): 365 state_dict entries (28 BatchNorm counters, 4 relative-position tables, one per
    encoder), every one taken, every seq2exp weight set."""
    from seq2exp.models.importing import build_imported_model

    weights = save_team_model(tmp_path, REAL)
    state = torch.load(weights)
    assert len(state) == 365 and sum(name.endswith("rel_pos.relative_attention_bias.weight") for name in state) == 4
    model, config, source = build_imported_model(
        "nad", weights, files={"embedding": write_glove(tmp_path / "vectors.txt", 128)})
    assert source.taken == set(state) | {"<GloVe vectors>"}
    assert config["transformer_depths"] == [3, 3, 2, 2] and config["heads"] == 8 and config["dim_head"] == 64
    assert config["conv_widths"] == [128, 160, 192, 224, 256] and config["residual_blocks"] == 2
    table = model.get_layer("kmer_embedding").embeddings.numpy()
    vectors = glove_table(tmp_path / "vectors.txt")
    assert np.allclose(table[0], vectors["AAAAA"]) and np.allclose(table[4**5 - 1], vectors["TTTTT"])
    assert np.allclose(table[int("0123", 4) * 4 + 2], vectors["ACGTG"]) and not table[4**5].any()


# --------------------------------------------------------------------------------------------- files that do not fit
@pytest.fixture(scope="module")
def small_files(tmp_path_factory) -> dict:
    """The small team Model's state_dict and a matching GloVe file (dimension 16)."""
    workdir = tmp_path_factory.mktemp("nad_small")
    weights = save_team_model(workdir, SMALL, seed=1)
    return {"state": torch.load(weights), "weights": weights,
            "vectors": write_glove(workdir / "vectors.txt", SMALL["dim"], seed=1)}


def refused(tmp_path, capsys, weights: Path, vectors: Path | None, *expected_words, architecture: str = "nad") -> str:
    """``seq2exp import``: exit code 2, one line on stderr naming the problem, nothing written."""
    from seq2exp import cli

    out = tmp_path / "run"
    argv = ["import", architecture, str(weights), "--out", str(out)]
    argv += ["--embedding", str(vectors)] if vectors is not None else []
    code = cli.main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("seq2exp import: error:"), err
    for word in expected_words:
        assert word in lines[0], lines[0]
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]
    return lines[0]


def saved(tmp_path: Path, state: dict) -> Path:
    torch.save(state, tmp_path / "best.pth")
    return tmp_path / "best.pth"


def test_a_missing_relative_position_table_is_named(tmp_path, capsys, small_files):
    state = dict(small_files["state"])
    del state["t3.transformer.rel_pos.relative_attention_bias.weight"]
    refused(tmp_path, capsys, saved(tmp_path, state), small_files["vectors"], "missing tensor",
            "t3.transformer.rel_pos.relative_attention_bias.weight")


def test_an_unexpected_tensor_is_named(tmp_path, capsys, small_files):
    state = dict(small_files["state"], **{"t1.transformer.final_norm.weight": torch.ones(32)})
    refused(tmp_path, capsys, saved(tmp_path, state), small_files["vectors"], "unexpected tensor",
            "t1.transformer.final_norm.weight")


def test_a_wrong_shape_is_named_with_both_shapes(tmp_path, capsys, small_files):
    state = dict(small_files["state"], **{"u3.weight": torch.zeros(32, 32, 5)})
    refused(tmp_path, capsys, saved(tmp_path, state), small_files["vectors"], "'u3.weight'", "(32, 32, 5)",
            "(32, 32, 3)")


def test_another_teams_file_and_a_truncated_file_are_refused(tmp_path, capsys, small_files):
    other = import_team_module("autosome", "model").SeqNN(seqsize=150, use_single_channel=True,
                                                          block_sizes=[16, 8], ks=5)
    line = refused(tmp_path, capsys, saved(tmp_path, other.state_dict()), small_files["vectors"],
                   "not a checkpoint of NAD's model", "autosome")
    assert "looks like a autosome checkpoint" in line
    data = small_files["weights"].read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    refused(tmp_path, capsys, tmp_path / "cut.pth", small_files["vectors"], "not a readable PyTorch state_dict")
    # and NAD's file given to another importer is recognised
    line = refused(tmp_path, capsys, small_files["weights"], None, "looks like a nad checkpoint",
                   architecture="autosome")


def test_glove_files_that_do_not_fit_are_refused(tmp_path, capsys, small_files):
    weights = small_files["weights"]
    refused(tmp_path, capsys, weights, write_glove(tmp_path / "v8.txt", 8), "v8.txt", "8 dimensions", "'c1.0.weight'",
            "16")
    text = small_files["vectors"].read_text()
    (tmp_path / "cut.txt").write_text(text[: len(text) // 2])  # truncated: no <unk> line at the end
    refused(tmp_path, capsys, weights, tmp_path / "cut.txt", "cut.txt", "<unk>", "truncated")
    lines = text.splitlines()
    (tmp_path / "ragged.txt").write_text("\n".join(lines[:5] + [lines[5].rsplit(" ", 1)[0]] + lines[6:]) + "\n")
    refused(tmp_path, capsys, weights, tmp_path / "ragged.txt", "ragged.txt", "line 6", "15 values")
    (tmp_path / "words.txt").write_text("\n".join(lines[:2] + ["the" + lines[2][5:]] + lines[3:]) + "\n")
    refused(tmp_path, capsys, weights, tmp_path / "words.txt", "line 3", "'the'", "5-mer")
    (tmp_path / "twice.txt").write_text("\n".join(lines[:3] + [lines[0]] + lines[3:]) + "\n")
    refused(tmp_path, capsys, weights, tmp_path / "twice.txt", "line 4", "again")
    (tmp_path / "vectors.bin").write_bytes(np.random.default_rng(0).random(400).astype(np.float64).tobytes())
    refused(tmp_path, capsys, weights, tmp_path / "vectors.bin", "vectors.bin", "binary")
    refused(tmp_path, capsys, weights, tmp_path / "absent.txt", "absent.txt", "no such file")


def test_the_glove_file_is_required_and_only_nad_takes_one(tmp_path, capsys, small_files):
    refused(tmp_path, capsys, small_files["weights"], None, "nad", "GloVe", "--embedding FILE")
    autosome = import_team_module("autosome", "model").SeqNN(seqsize=150, use_single_channel=True,
                                                             block_sizes=[16, 8], ks=5)
    refused(tmp_path, capsys, saved(tmp_path, autosome.state_dict()), small_files["vectors"], "autosome",
            "no embedding file", architecture="autosome")


def test_missing_kmers_get_the_zero_vector_and_are_logged(tmp_path, caplog, small_files):
    from seq2exp.models.importing.nad import EMBEDDING, read_glove_vectors

    kmers = [k for k in ("".join(p) for p in itertools.product("ACGT", repeat=5)) if k != "CCCCC"]
    table = read_glove_vectors(write_glove(tmp_path / "v.txt", 4, kmers=kmers))[EMBEDDING]
    assert table.shape == (4**5 + 1, 4) and not table[int("11111", 4)].any() and table[0].any()
    assert "1 of the 1024 5-mers have no vector" in caplog.text

"""Predictors of a model with several tasks, an is_reverse channel and the genomic construct: the task is chosen
once (predictions [n] and gradients of that task's output only, against the Keras model itself), a missing or
unknown task is a one-line ConfigError naming the tasks, the forward orientation is logged and recorded, and random
backgrounds are as long as the model's input."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from seq2exp.errors import ConfigError
from seq2exp.interpret import predictors
from seq2exp.interpret.attribution import attribute
from seq2exp.interpret.motif_effects import make_backgrounds
from seq2exp.interpret.mutagenesis import ism, variant_effects
from seq2exp.interpret.predictors import RunPredictor, SavedModelPredictor, ServerPredictor, open_predictor
from tests.interpret.conftest import GENOMIC_LENGTH, TASKS, random_rows, raw_task_outputs
from tests.interpret.test_mutagenesis import _FailsAfter, _Interrupted

FORWARD_NOTE = "every sequence is predicted in forward orientation (is_reverse = 0)"


@pytest.fixture(scope="module")
def rows():
    return random_rows(3, GENOMIC_LENGTH, seed=8)


@pytest.fixture(scope="module")
def runs(two_task_run):
    """One RunPredictor per task."""
    return {task: RunPredictor(two_task_run, task=task) for task in TASKS}


def numpy_ism(run, sequence: str, column: int) -> np.ndarray:
    """ISM of one task from the Keras model's raw outputs: column ``column`` of each mutant minus the reference."""
    mutants, where = [], []
    for p in range(len(sequence)):
        for b, base in enumerate("ACGT"):
            if base != sequence[p]:
                mutants.append(sequence[:p] + base + sequence[p + 1:])
                where.append((p, b))
    raw = raw_task_outputs(run, [sequence] + mutants)[:, column]
    effects = np.zeros([len(sequence), 4], np.float32)
    for (p, b), value in zip(where, raw[1:]):
        effects[p, b] = value - raw[0]
    return effects


def test_ism_of_each_task_is_that_column_of_the_keras_model(two_task_run, runs, rows):
    raw = raw_task_outputs(two_task_run, rows)
    assert np.abs(raw[:, 0] - raw[:, 1]).max() > 1e-3  # the tasks differ: selecting the wrong one shows
    for column, task in enumerate(TASKS):
        predictor = runs[task]
        np.testing.assert_allclose(predictor.predict(rows), raw[:, column], atol=1e-5)
        result = ism(predictor, rows[:2])
        assert result.effects.shape == (2, GENOMIC_LENGTH, 4)
        for i in range(2):
            np.testing.assert_allclose(result.effects[i], numpy_ism(two_task_run, rows[i], column), atol=1e-5)
        effects = variant_effects(predictor, rows[:2], rows[1:3])
        np.testing.assert_allclose(effects.delta, raw[1:3, column] - raw[:2, column], atol=1e-5)


def test_an_ism_checkpoint_of_one_task_is_not_continued_for_another(runs, rows, tmp_path):
    checkpoint = tmp_path / "ism.partial.npz"
    with pytest.raises(_Interrupted):
        ism(_FailsAfter(runs["hk"], 1), rows, chunk_sequences=1, checkpoint=checkpoint)
    assert int(np.load(checkpoint)["done"]) == 1
    resumed = ism(runs["dev"], rows, chunk_sequences=1, checkpoint=checkpoint)  # starts again: no hk row in it
    np.testing.assert_allclose(resumed.effects, ism(runs["dev"], rows).effects, atol=1e-6)


def test_gradients_are_of_the_chosen_tasks_output_only(two_task_run, runs, rows):
    raw, grads = raw_task_outputs(two_task_run, rows, with_gradients=True)
    assert np.abs(grads[0] - grads[1]).max() > 1e-3
    for column, task in enumerate(TASKS):
        saliency = attribute(runs[task], rows, "saliency")
        np.testing.assert_allclose(saliency.values, raw[:, column], atol=1e-5)
        np.testing.assert_allclose(saliency.scores, grads[column], atol=1e-5)  # not the sum over the tasks
        ig = attribute(runs[task], rows[:2], "integrated_gradients", steps=8)
        assert ig.scores.shape == (2, GENOMIC_LENGTH, 4) and ig.baseline_values.shape == (2,)
        np.testing.assert_allclose(ig.values, raw[:2, column], atol=1e-5)


def test_an_export_and_a_server_select_the_same_task(two_task_run, two_task_export, rows):
    from seq2exp.serving.config import discover_models
    from seq2exp.serving.server import ModelServer

    raw = raw_task_outputs(two_task_run, rows)
    server = ModelServer(discover_models(two_task_export.parent), port=0, poll_seconds=0).start()
    try:
        for column, task in enumerate(TASKS):  # the export's columns are sorted (dev, hk): hk is still column 0
            for predictor in (SavedModelPredictor(two_task_export, task=task),
                              ServerPredictor(server.target, "two", task=task)):
                try:
                    assert predictor.task_names == sorted(TASKS) and predictor.oriented
                    np.testing.assert_allclose(predictor.predict(rows), raw[:, column], atol=1e-5)
                finally:
                    predictor.close()
        with pytest.raises(ConfigError, match=r"predicts 2 tasks \(dev, hk\): choose one with --task"):
            ServerPredictor(server.target, "two")
    finally:
        server.stop(grace=1)


@pytest.mark.parametrize("where", ["run", "export"])
def test_a_missing_or_unknown_task_names_the_tasks(where, two_task_run, two_task_export):
    source = two_task_run if where == "run" else two_task_export
    listed = TASKS if where == "run" else sorted(TASKS)
    with pytest.raises(ConfigError) as missing:
        open_predictor(source)
    assert f"predicts 2 tasks ({', '.join(listed)}): choose one with --task" in str(missing.value)
    assert "\n" not in str(missing.value)
    with pytest.raises(ConfigError, match=rf"--task 'Dev': .* has no such task; valid choices are \{listed}"):
        open_predictor(source, task="Dev")


def test_a_single_task_model_takes_only_its_own_task_name(motif_run, tmp_path):
    from tests.serving.tiny_variants import make_tiny_variant_run

    with pytest.raises(ConfigError, match=r"--task 'dev': run .* is a single-task model \(it predicts one value "
                                          r"and names no task\); leave --task out"):
        RunPredictor(motif_run, task="dev")
    named = make_tiny_variant_run(tmp_path / "one", tasks=["mean_value"])
    predictor = RunPredictor(named, task="mean_value")  # its one task: accepted, predictions [n]
    assert predictor.predict(random_rows(2, 110)).shape == (2,)
    assert predictors.predictor_record(predictor) == {"task": "mean_value", "orientation": None}
    with pytest.raises(ConfigError, match=r"its one task is 'mean_value'"):
        RunPredictor(named, task="other")


def test_the_forward_orientation_is_logged_and_recorded(two_task_run, two_task_export, motif_run, caplog):
    with caplog.at_level(logging.INFO, logger="seq2exp.interpret.predictors"):
        run = RunPredictor(two_task_run, task="dev")
        export = SavedModelPredictor(two_task_export, task="dev")
        export.close()
    notes = [r for r in caplog.records if FORWARD_NOTE in r.getMessage()]
    assert len(notes) == 2 and str(two_task_run) in notes[0].getMessage()
    record = {"task": "dev", "orientation": "forward"}
    assert predictors.predictor_record(run) == predictors.predictor_record(export) == record
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="seq2exp.interpret.predictors"):
        plain = RunPredictor(motif_run)  # no is_reverse channel: nothing to say
    assert not [r for r in caplog.records if "orientation" in r.getMessage()]
    assert predictors.predictor_record(plain) == {"task": None, "orientation": None}


def test_random_backgrounds_of_a_genomic_model_are_its_input_length(runs, two_task_export, motif_predictor):
    export = SavedModelPredictor(two_task_export, task="hk")
    export.close()
    for predictor in (runs["hk"], export):
        assert predictor.construct.name == "genomic" and predictor.input_length == GENOMIC_LENGTH
        rows = make_backgrounds("random", 3, seed=1, predictor=predictor)
        assert [len(r) for r in rows] == [GENOMIC_LENGTH] * 3  # not the yeast insert's 80 bp
    yeast = make_backgrounds("random", 2, seed=1, predictor=motif_predictor)  # flanks + the 80-bp insert, as before
    assert [len(r) for r in yeast] == [110, 110] and yeast == make_backgrounds("random", 2, seed=1)

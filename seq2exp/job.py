"""``seq2exp run``: the main job, end to end, on the embedded default.

simulate a promoter library -> train a small real architecture (a narrowed LegNet by default) and, on the same rows
and split, the k-mer ridge baseline -> export a versioned SavedModel -> start the embedded TF-Serving-compatible gRPC server on loopback -> predict the test set
over gRPC -> score it the challenge's way -> write the report (table + plots) -> stop the server.

Every stage writes its outputs under ``--workdir`` and a stamp ``.stages/<stage>.json`` holding the parameters it ran
with; re-running in the same workdir skips a stage whose stamp matches and whose outputs exist, and re-runs it (and
the stages after it) otherwise. A training run killed midway is resumed by the next ``seq2exp run`` (same
parameters), not started again. The report ranks the network against the k-mer ridge baseline with the bootstrap,
so it shows what the network adds. With ``--conditions`` (several simulated conditions) the job is multi-task: a
header table with one target per condition, a T-task model served with named outputs, ``predictions.tsv``, one
k-mer ridge per task (the same ridge, fitted on that task's column of the same rows and split; rows missing that
task's value left out), ``predictions_kmer_ridge.tsv``, and a report with Pearson and Spearman per task for both
(vs measured; the network also vs the noise-free truth), warning where the ridge beats the network on a task.
Library code does not print: progress goes to ``logging`` and to the optional ``announce`` callable (the CLI passes
``print``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from seq2exp.jsonio import dumps, load_file
from seq2exp.utils import atomic_write

logger = logging.getLogger(__name__)

MODEL_NAME = "seq2exp"
STAGE_NAMES = ("simulate", "train", "export", "predict", "score")

# The model a new user trains by default: LegNet (the winner) with the team's recipe, narrowed so that a 2-core CPU
# trains it in minutes. Widths and epochs scale up with --width / --epochs; any registered architecture with
# --architecture (its own default config, the recipe below).
NARROW_LEGNET = {"first": {"filters": 32}, "core": {"block_sizes": [32, 16, 16, 16]}}
# The baseline fitted on the same rows: k-mers up to 5 (1,364 features) keep its feature maps small on a CPU.
BASELINE_MODEL = "kmer_ridge"
BASELINE_CONFIG = {"ks": [1, 2, 3, 4, 5], "alphas": [10.0, 100.0, 1000.0, 10000.0, 100000.0]}


@dataclass
class RunOptions:
    """What ``seq2exp run`` does; every field is a command-line flag."""

    workdir: str = "seq2exp-run"
    n_train: int = 100_000
    n_test: int = 20_000
    seed: int = 0
    architecture: str = "autosome"
    width: float = 1.0
    epochs: int = 3
    batch_size: int = 256
    port: int = 0
    bootstrap: int = 1000
    force: bool = False
    quiet: bool = False
    strategy: str = "auto"
    extra_model_config: dict = field(default_factory=dict)
    baseline: bool = True
    conditions: Any = None        # None / 1: the DREAM yeast job; N or [names]: N simulated conditions, a T-task model
    planted_sites: int = 0        # with conditions: TF consensus sites planted in each simulated insert


def run_conditions(options: RunOptions) -> list[str] | None:
    """The condition (task) names of a multi-condition run, ``None`` for the one-condition yeast job (one condition,
    named or not, is that job)."""
    if options.conditions in (None, 1):
        return None
    from seq2exp.simulate.conditions import resolve_conditions

    conditions = list(options.conditions) if isinstance(options.conditions, tuple) else options.conditions
    names = [condition.name for condition in resolve_conditions(conditions)]
    return names if len(names) > 1 else None


def training_config(options: RunOptions) -> dict:
    """The training config of the run: the autosome recipe (18-bin KL, AdamW + one-cycle, RC augmentation + TTA)."""
    model: dict[str, Any] = {"architecture": options.architecture}
    if options.architecture == "autosome":
        narrow = {
            "first": {"filters": max(8, int(round(NARROW_LEGNET["first"]["filters"] * options.width)))},
            "core": {"block_sizes": [max(4, int(round(w * options.width))) for w in NARROW_LEGNET["core"]["block_sizes"]]},
        }
        model["config"] = narrow
    if options.extra_model_config:
        model["config"] = {**model.get("config", {}), **options.extra_model_config}
    from seq2exp import models

    head = models.get(options.architecture).head
    loss = {"name": "kl_bins", "shift": 0.5, "scale": 0.5} if head == "bins" else {"name": "mse"}
    data: dict[str, Any] = {"val_fraction": 0.05, "split_seed": options.seed}
    tasks = run_conditions(options)
    if tasks is not None:  # the simulated header table: one target column per condition
        data["table"] = {"targets": tasks}
    return {
        "name": f"seq2exp-run-{options.architecture}",
        "model": model,
        "data": data,
        "target": {"transform": "identity"},
        "loss": loss,
        "optimizer": {"name": "adamw", "learning_rate": 0.005 if head == "bins" else 0.001, "weight_decay": 0.01},
        "schedule": {"name": "one_cycle", "pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 10000.0},
        "batch_size": options.batch_size,
        "epochs": options.epochs,
        "augment": {"reverse_complement": True},
        "tta": {"reverse_complement": True},
        "postprocess": [],
        "seed": options.seed,
    }


def baseline_config(options: RunOptions, task: str | None = None) -> dict:
    """The k-mer ridge baseline's config: same split (val_fraction, split_seed) as :func:`training_config`; with
    ``task``, fitted on that one target column of the multi-condition header table."""
    config = {"name": "seq2exp-run-kmer-ridge", "model": {"architecture": BASELINE_MODEL, "config": BASELINE_CONFIG},
              "data": {"val_fraction": 0.05, "split_seed": options.seed}, "batch_size": 128, "epochs": 1,
              "seed": options.seed, "callbacks": {"tensorboard": False}}
    if task is not None:
        config["name"] = f"seq2exp-run-kmer-ridge-{task}"
        config["data"]["table"] = {"targets": [task]}
    return config


def baseline_configs(options: RunOptions) -> dict | None:
    """The baseline(s) of the run: the one k-mer ridge config (the yeast job), ``{task: config}`` (one ridge per
    condition), or ``None`` without a baseline."""
    if not options.baseline:
        return None
    tasks = run_conditions(options)
    if tasks is None:
        return baseline_config(options)
    return {task: baseline_config(options, task) for task in tasks}


class _Stamps:
    """Per-stage stamps in ``WORKDIR/.stages``: a stage is reused when its parameters and outputs are unchanged."""

    def __init__(self, workdir: Path, force: bool):
        self.folder = workdir / ".stages"
        self.force = force
        self.invalidated = False

    def fingerprint(self, params: dict) -> str:
        return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def done(self, stage: str, params: dict, outputs: list[Path]) -> bool:
        if self.force or self.invalidated:
            return False
        path = self.folder / f"{stage}.json"
        if not path.exists() or not all(p.exists() for p in outputs):
            return False
        stamp = load_file(path, expect=dict)
        return stamp.get("fingerprint") == self.fingerprint(params)

    def mark(self, stage: str, params: dict, result: dict) -> None:
        with atomic_write(self.folder / f"{stage}.json") as handle:
            handle.write(dumps({"fingerprint": self.fingerprint(params), "params": params, "result": result,
                                "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=2, default=str))

    def result(self, stage: str) -> dict:
        return load_file(self.folder / f"{stage}.json", expect=dict)["result"]


def run(options: RunOptions | None = None, *, announce: Callable[[str], None] | None = None, **kwargs: Any) -> dict:
    """Run the main job; returns a summary (paths, headline scores, seconds per stage).

    Keyword arguments are ``RunOptions`` fields (``run(workdir="w", n_train=5000)``). ``announce`` receives one
    line per stage event (the CLI prints them); they are logged at INFO level when there is no ``announce`` (or
    ``quiet``), at DEBUG level otherwise (each line is shown once).
    """
    options = options or RunOptions(**kwargs)
    tasks = run_conditions(options)  # validates --conditions before anything is written

    def _announce(options: RunOptions, index: int, stage: str, text: str) -> None:
        line = f"[{index}/{len(STAGE_NAMES)}] {stage}: {text}"
        if announce is not None and not options.quiet:
            announce(line)  # shown once: by the caller, not also as a log line
            logger.debug(line)
        else:
            logger.info(line)

    workdir = Path(options.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    stamps = _Stamps(workdir, options.force)
    paths = {
        "data": workdir / "data",
        "run": workdir / "run",
        "baseline": workdir / "baseline",
        "baseline_predictions": workdir / ("predictions_kmer_ridge.txt" if tasks is None
                                           else "predictions_kmer_ridge.tsv"),
        "models": workdir / "models",
        "predictions": workdir / ("predictions.txt" if tasks is None else "predictions.tsv"),
        "report": workdir / "report",
    }
    timings: dict[str, float] = {}

    def stage(index: int, name: str, params: dict, outputs: list[Path], body: Callable[[], dict]) -> dict:
        if stamps.done(name, params, outputs):
            _announce(options, index, name, "up to date, reused")
            timings[name] = 0.0
            return stamps.result(name)
        stamps.invalidated = True  # every later stage runs again
        start = time.perf_counter()
        result = body()
        timings[name] = round(time.perf_counter() - start, 1)
        stamps.mark(name, params, result)
        _announce(options, index, name, f"done in {timings[name]:.1f} s")
        return result

    # 1. simulate ------------------------------------------------------------------------------------------------
    sim_params: dict[str, Any] = {"n_train": options.n_train, "n_test": options.n_test, "seed": options.seed}
    if tasks is not None:  # (absent for the yeast job: its stamps stay valid)
        sim_params.update(conditions=tasks, planted_sites=options.planted_sites)
    sim_outputs = ([paths["data"] / "train.txt", paths["data"] / "test.txt"] if tasks is None
                   else [paths["data"] / name for name in ("train.tsv", "test.tsv", "ground_truth.tsv")])

    def do_simulate() -> dict:
        from seq2exp.simulate import simulate

        _announce(options, 1, "simulate", f"{options.n_train:,} training + {options.n_test:,} test sequences "
                                          f"-> {paths['data']}")
        if tasks is None:
            out = simulate(paths["data"], n_train=options.n_train, n_test=options.n_test, seed=options.seed)
        else:
            out = simulate(paths["data"], n_train=options.n_train, n_test=options.n_test, seed=options.seed,
                           conditions=tasks, planted_sites=options.planted_sites)
        return out.as_dict()

    sim = stage(1, "simulate", sim_params, sim_outputs, do_simulate)

    # 2. train ---------------------------------------------------------------------------------------------------
    config = training_config(options)
    baseline = baseline_configs(options)  # with tasks: {task: config}, one ridge per task
    baseline_runs = ({} if baseline is None else {None: paths["baseline"]} if tasks is None
                     else {task: paths["baseline"] / task for task in tasks})
    train_params = {"config": config, "baseline": baseline, "data": sim_params, "strategy": options.strategy}

    def train_or_resume(run_config: dict, out: Path, strategy: str) -> None:
        """Resume a run folder left by a killed run with these parameters; start afresh over any other one."""
        from seq2exp.errors import ConfigError
        from seq2exp.training import train

        verbose = 0 if options.quiet else 2
        try:
            train(run_config, data=sim["train"], out=out, strategy=strategy, verbose=verbose)
        except ConfigError as error:
            if not out.exists() or "--restart" not in str(error):
                raise
            logger.info("%s holds a run with other parameters; starting afresh (%s)", out, error)
            train(run_config, data=sim["train"], out=out, strategy=strategy, verbose=verbose, restart=True)

    def do_train() -> dict:
        _announce(options, 2, "train", f"{options.architecture} for {options.epochs} epoch(s) -> {paths['run']}")
        train_or_resume(config, paths["run"], options.strategy)
        result = {"run": str(paths["run"]), "validation": _validation_metrics(paths["run"])}
        if baseline is not None and tasks is None:
            _announce(options, 2, "train", f"baseline {BASELINE_MODEL} on the same rows -> {paths['baseline']}")
            train_or_resume(baseline, paths["baseline"], "default")
            result["baseline"] = {"run": str(paths["baseline"]), "validation": _validation_metrics(paths["baseline"])}
        elif baseline is not None:
            result["baseline"] = {"run": str(paths["baseline"]), "tasks": {}}
            for task, out in baseline_runs.items():
                _announce(options, 2, "train", f"baseline {BASELINE_MODEL} for task {task} on the same rows -> {out}")
                train_or_resume(baseline[task], out, "default")
                result["baseline"]["tasks"][task] = {"run": str(out), "validation": _validation_metrics(out)}
        return result

    train_outputs = [paths["run"] / "run.json"] + [out / "run.json" for out in baseline_runs.values()]
    trained = stage(2, "train", train_params, train_outputs, do_train)

    # 3. export --------------------------------------------------------------------------------------------------
    def do_export() -> dict:
        import shutil

        from seq2exp.serving.export import export_run

        if paths["models"].exists():
            shutil.rmtree(paths["models"])
        _announce(options, 3, "export", f"SavedModel -> {paths['models'] / MODEL_NAME}/1")
        result = export_run(paths["run"], paths["models"], MODEL_NAME, version=1)
        return {"saved_model": str(getattr(result, "path", paths["models"] / MODEL_NAME / "1"))}

    exported = stage(3, "export", {"train": train_params}, [paths["models"] / MODEL_NAME / "1"], do_export)

    # 4. serve + predict over gRPC -------------------------------------------------------------------------------
    def do_predict() -> dict:
        from seq2exp.serving.config import ModelConfig
        from seq2exp.serving.predict import ServerBackend, predict_file
        from seq2exp.serving.server import ModelServer

        server = ModelServer([ModelConfig(name=MODEL_NAME, base_path=str(paths["models"] / MODEL_NAME))],
                             host="127.0.0.1", port=options.port, poll_seconds=0)
        server.start()
        try:
            _announce(options, 4, "predict", f"embedded gRPC server on {server.target}; predicting {sim['test']}")
            backend = ServerBackend(server.target, MODEL_NAME)
            try:
                summary = predict_file(sim["test"], paths["predictions"], backend, progress=not options.quiet,
                                       output_format="dream" if tasks is None else "tsv")
            finally:
                backend.close()
        finally:
            server.stop()
            _announce(options, 4, "predict", "server stopped")
        result = {"predictions": str(paths["predictions"]), "server": server.target,
                  "rows": int(getattr(summary, "rows", 0))}
        if baseline is not None:
            _announce(options, 4, "predict", f"baseline {BASELINE_MODEL} in process -> {paths['baseline_predictions']}")
            if tasks is None:
                written = _predict_in_process(paths["baseline"], sim["test"], paths["baseline_predictions"])
            else:
                written = _predict_tasks_in_process(baseline_runs, sim["test"], paths["baseline_predictions"])
            result["baseline_predictions"] = str(written)
        return result

    predict_outputs = [paths["predictions"]] + ([paths["baseline_predictions"]] if baseline else [])
    predicted = stage(4, "predict", {"export": exported, "baseline": baseline}, predict_outputs, do_predict)

    # 5. score + report ------------------------------------------------------------------------------------------
    def do_score() -> dict:
        from seq2exp.evaluation import bootstrap_ranks, prepare, score, score_data, write_report

        if tasks is not None:
            return score_tasks_report()
        subsets = paths["data"] / "test_subset_ids"
        sources = {options.architecture: paths["predictions"]}
        if baseline is not None:
            sources[BASELINE_MODEL] = Path(predicted["baseline_predictions"])
        data = prepare(sources, sim["test"], subsets)
        scores = {
            "model vs measured": score_data(data, 0),
            "model vs noise-free truth": score(paths["predictions"], sim["ground_truth"], subsets),
        }
        if baseline is not None:
            scores[f"{BASELINE_MODEL} vs measured"] = score_data(data, 1)
        boot = None
        if options.bootstrap > 0:  # with the baseline: a two-model ranking (which one is better, how surely)
            boot = bootstrap_ranks(data, n_samples=options.bootstrap, seed=options.seed)
        written = write_report(paths["report"], scores, data=data, bootstrap=boot)
        return {"scores": scores, "report": {k: str(v) for k, v in written.items()}}

    def score_tasks_report() -> dict:
        """Each task scored on its own (``seq2exp score``'s per-task scoring): vs measured and vs the truth."""
        from seq2exp.evaluation import write_report
        from seq2exp.evaluation.tasks import score_tasks

        measured = score_tasks(paths["predictions"], sim["test"])
        truth = score_tasks(paths["predictions"], sim["ground_truth"])
        base = score_tasks(predicted["baseline_predictions"], sim["test"]) if baseline is not None else None
        scores = {}
        for task in tasks:
            scores[f"{task} vs measured"] = measured["tasks"][task]
            scores[f"{task} vs noise-free truth"] = truth["tasks"][task]
            if base is not None:
                scores[task_baseline_key(task)] = base["tasks"][task]
        written = write_report(paths["report"], scores)
        return {"scores": scores, "tasks": tasks, "report": {k: str(v) for k, v in written.items()}}

    scored = stage(5, "score", {"predict": predicted, "bootstrap": options.bootstrap},
                   [paths["report"] / "scores.json"], do_score)

    summary = {
        "workdir": str(workdir),
        "data": sim,
        "run": trained,
        "export": exported,
        "predict": predicted,
        "scores": scored["scores"],
        **({"tasks": scored["tasks"]} if scored.get("tasks") else {}),
        "report": scored["report"],
        "seconds": timings,
        "options": asdict(options),
    }
    with atomic_write(workdir / "summary.json") as handle:
        handle.write(dumps(summary, indent=2, default=str))
    return summary


def _validation_metrics(run_dir: Path) -> dict:
    info = run_dir / "run.json"
    if not info.exists():
        return {}
    return load_file(info, expect=dict).get("metrics", {})


def task_baseline_key(task: str) -> str:
    """The report's key of a task's k-mer ridge scores in a multi-condition run."""
    return f"{BASELINE_MODEL} {task} vs measured"


def _predict_tasks_in_process(runs: dict, test_file: str | Path, out: Path) -> Path:
    """One k-mer ridge run folder per task, each predicting the test table in this process; one TSV out (``id,
    sequence, <task 1>, ...``: the network's predictions file's layout, read by ``score_tasks``)."""
    import numpy as np

    from seq2exp.data.formats import format_row, read_table, tsv_header
    from seq2exp.inference.runs import load_run

    tasks = list(runs)
    table = read_table(test_file, {"targets": tasks}, max_length=None)
    ids = (table.ids or {}).get("id") or [str(row) for row in range(len(table))]
    values = np.stack([np.asarray(load_run(runs[task]).predict(table.sequences), np.float64).reshape(-1)
                       for task in tasks], axis=1)
    with atomic_write(out) as handle:
        handle.write(tsv_header(tasks))
        handle.write("".join(format_row(name, sequence, row, "tsv")
                             for name, sequence, row in zip(ids, table.sequences, values)))
    return out


def _predict_in_process(run_dir: Path, test_file: str | Path, out: Path) -> Path:
    """Predict a test file with a run folder in this process (the baseline is not served); DREAM rows out."""
    from seq2exp.data.formats import read_dream, write_dream
    from seq2exp.inference.runs import load_run

    sequences = read_dream(test_file).sequences
    write_dream(out, sequences, load_run(run_dir).predict(sequences))
    return out


def headline(summary: dict) -> list[str]:
    """The closing lines of ``seq2exp run``: where things are, the network's scores beside the k-mer ridge
    baseline's (with a warning when the baseline wins), the bootstrap interval and the validation figures named."""
    network = summary.get("options", {}).get("architecture", "network")
    if summary.get("tasks"):
        return _task_headline(summary, network)
    measured = summary["scores"]["model vs measured"]
    lines = _locations(summary) + ["  test scores    (vs measured test values, challenge weights)"]
    models = {network: measured}
    base = summary["scores"].get(f"{BASELINE_MODEL} vs measured")
    if base is not None:
        models[f"{BASELINE_MODEL} (baseline)"] = base
    width = max(len(name) for name in models)
    for name, values in models.items():
        lines.append(f"    {name:<{width}}  Pearson score {values['pearson_score']:.4f}   "
                     f"Spearman score {values['spearman_score']:.4f}")
    row = "  ".join(f"{name} r={values['pearson']:.3f}" for name, values in measured["subsets"].items())
    lines.append(f"  per subset     {row}  ({network})")
    validation = (summary.get("run") or {}).get("validation") or {}
    if validation.get("val_pearson") is not None:
        lines.append(f"  validation     {network} Pearson r {validation['val_pearson']:.4f} (final: the selected "
                     "weights with test-time augmentation; the per-epoch val_pearson lines are without it)")
    if base is not None:
        losses = [key for key in ("pearson_score", "spearman_score") if base[key] > measured[key]]
        if losses:
            words = " and ".join(key.replace("_", " ") for key in losses)
            lines.append(f"  WARNING: the k-mer ridge baseline beats {network} on the {words} "
                         f"({', '.join(f'{base[k]:.4f} vs {measured[k]:.4f}' for k in losses)}): the network has not "
                         "learnt more than k-mer counts; train longer (--epochs), on more rows (--n-train) or wider "
                         "(--width)")
    return lines


def _locations(summary: dict) -> list[str]:
    return ["", "seq2exp run finished",
            f"  workdir        {summary['workdir']}",
            f"  data           {summary['data']['out_dir']}",
            f"  trained run    {summary['run']['run']}",
            f"  SavedModel     {summary['export']['saved_model']}",
            f"  predictions    {summary['predict']['predictions']}",
            f"  report         {Path(summary['report']['json']).parent}  (scores.md, scores.json, plots)"]


def _task_headline(summary: dict, network: str) -> list[str]:
    """The closing lines of a multi-condition run: Pearson and Spearman per task, vs measured and vs the truth, the
    task's k-mer ridge beside it, and a warning for each task on which the ridge beats the network."""
    tasks = summary["tasks"]
    with_baseline = all(task_baseline_key(task) in summary["scores"] for task in tasks)
    note = (f"{BASELINE_MODEL}: one k-mer ridge per task, same rows" if with_baseline
            else "no k-mer baseline")
    lines = _locations(summary)
    if with_baseline and summary.get("predict", {}).get("baseline_predictions"):
        lines.append(f"  baseline       {summary['predict']['baseline_predictions']}")
    lines.append(f"  test scores    per task ({network}; no designed subsets; {note})")
    ridge = f"{BASELINE_MODEL} (baseline)"
    width = max(len(task) for task in tasks)
    warnings = []
    for task in tasks:
        measured = summary["scores"][f"{task} vs measured"]["subsets"]["all"]
        truth = summary["scores"][f"{task} vs noise-free truth"]["subsets"]["all"]
        lines.append(f"    {task:<{width}}  Pearson r {measured['pearson']:.4f}   Spearman rho "
                     f"{measured['spearman']:.4f}   (vs noise-free truth: r {truth['pearson']:.4f}, "
                     f"rho {truth['spearman']:.4f})")
        if not with_baseline:
            continue
        base = summary["scores"][task_baseline_key(task)]["subsets"]["all"]
        lines.append(f"    {'':<{width}}  Pearson r {base['pearson']:.4f}   Spearman rho {base['spearman']:.4f}   "
                     f"({ridge})")
        losses = [key for key in ("pearson", "spearman") if base[key] > measured[key]]
        if losses:
            words = " and ".join("Pearson r" if key == "pearson" else "Spearman rho" for key in losses)
            warnings.append(f"  WARNING: the k-mer ridge baseline beats {network} on task {task}'s {words} "
                            f"({', '.join(f'{base[k]:.4f} vs {measured[k]:.4f}' for k in losses)}): the network has "
                            "not learnt more than k-mer counts there; train longer (--epochs), on more rows "
                            "(--n-train) or wider (--width)")
    return lines + warnings


def _print_summary(summary: dict) -> None:
    for line in headline(summary):
        print(line)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seq2exp run``."""
    from seq2exp.argtypes import condition_names, int_range, nonnegative_int, port_int, positive_float, positive_int

    defaults = RunOptions()
    parser.add_argument("--workdir", default=defaults.workdir, help="where everything goes (default: %(default)s)")
    parser.add_argument("--n-train", type=positive_int, default=defaults.n_train, help="simulated training rows")
    parser.add_argument("--n-test", type=positive_int, default=defaults.n_test, help="simulated test sequences")
    parser.add_argument("--seed", type=nonnegative_int, default=defaults.seed, help="seed of the simulation, split and bootstrap")
    parser.add_argument("--architecture", default=defaults.architecture,
                        help="registered architecture to train (see `seq2exp models`)")
    parser.add_argument("--width", type=positive_float, default=defaults.width,
                        help="channel multiplier of the narrowed LegNet (autosome only; the team's full LegNet is training/configs/autosome.yaml)")
    parser.add_argument("--epochs", type=positive_int, default=defaults.epochs, help="training epochs")
    parser.add_argument("--batch-size", type=positive_int, default=defaults.batch_size, help="training batch size")
    parser.add_argument("--port", type=port_int, default=defaults.port, help="gRPC port on 127.0.0.1 (0 = any free)")
    parser.add_argument("--bootstrap", type=nonnegative_int, default=defaults.bootstrap, help="bootstrap samples (0 = none)")
    parser.add_argument("--strategy", default=defaults.strategy, help="tf.distribute strategy (see seq2exp train)")
    parser.add_argument("--conditions", type=condition_names, default=None, metavar="N|NAME,NAME",
                        help="simulate N conditions (a count, or names dev,hk) with condition-specific TF activities "
                             "and train, serve and score a model with one task per condition (default, or one "
                             "condition: the DREAM yeast job)")
    parser.add_argument("--planted-sites", type=int_range(0, 20), default=defaults.planted_sites,
                        help="with --conditions: TF consensus sites planted in each simulated insert (default 0)")
    parser.add_argument("--force", action="store_true", help="re-run every stage")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def main(args: argparse.Namespace) -> int:
    """Entry point of ``seq2exp run``."""
    options = RunOptions(workdir=args.workdir, n_train=args.n_train, n_test=args.n_test, seed=args.seed,
                         architecture=args.architecture, width=args.width, epochs=args.epochs,
                         batch_size=args.batch_size, port=args.port, bootstrap=args.bootstrap,
                         force=args.force, quiet=args.quiet, strategy=args.strategy,
                         conditions=list(args.conditions) if isinstance(args.conditions, tuple) else args.conditions,
                         planted_sites=args.planted_sites)
    summary = run(options, announce=lambda line: print(line, flush=True))
    _print_summary(summary)
    return 0

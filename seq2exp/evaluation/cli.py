"""``seq2exp score``: score prediction files the way the challenge did (no TensorFlow import)."""
from __future__ import annotations

import argparse
import sys
import warnings

from seq2exp.argtypes import float_range, int_range, nonnegative_int
from seq2exp.evaluation.values import NONFINITE_CHOICES

DEFAULT_BOOTSTRAP = 10_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``seq2exp score``."""
    parser.add_argument("--predictions", nargs="+", required=True, metavar="P",
                        help="prediction files: DREAM test order (sequence<TAB>value) or JSON {\"index\": value}")
    parser.add_argument("--names", nargs="+", metavar="NAME", help="model names (default: file names)")
    parser.add_argument("--truth", required=True, metavar="T",
                        help="test file with measured values, a JSON {\"index\": value}, or a folder of such JSONs")
    parser.add_argument("--truth-column", metavar="NAME",
                        help="when --truth is a table with a header (e.g. a benchmark's test table): the column with "
                             "the measured values (default 'expression'; a model with several tasks uses its task "
                             "columns)")
    parser.add_argument("--subsets", metavar="D", help="test_subset_ids folder (without it only 'all' is scored)")
    parser.add_argument("--exclude-indices", metavar="DIR",
                        help="public_leaderboard_ids folder: score only the rest (the challenge's private scoring)")
    parser.add_argument("--bootstrap", nargs="?", type=nonnegative_int, const=DEFAULT_BOOTSTRAP, default=0, metavar="N",
                        help=f"bootstrap ranking over N samples (N defaults to {DEFAULT_BOOTSTRAP})")
    parser.add_argument("--bootstrap-fraction", type=float_range(0.0, 1.0, low_open=True), default=0.1, help="fraction of the test set per sample")
    parser.add_argument("--bootstrap-spearman", choices=("exact", "global"), default="exact",
                        help="Spearman within each sample: exact within-sample ranks (paper) or a faster "
                             "approximation with full-test-set ranks")
    parser.add_argument("--seed", type=int_range(0, 2**32 - 1), default=0, help="seed of the bootstrap samples and ensemble folds")
    parser.add_argument("--ensemble", action="store_true",
                        help="add an out-of-fold linear-regression ensemble of the models as one more model")
    parser.add_argument("--ensemble-folds", type=int_range(2), default=5, help="folds of the ensemble's cross-fitting")
    parser.add_argument("--on-nonfinite", choices=NONFINITE_CHOICES, default="error",
                        help="NaN/inf values: an error naming the index (default) or left out")
    parser.add_argument("-o", "--output", metavar="REPORT_DIR", help="write scores.json, scores.md and PNG plots")
    parser.add_argument("--no-plots", action="store_true", help="with -o: skip the PNG plots")
    parser.add_argument("--json", action="store_true", help="print the JSON result to stdout")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"seq2exp score: warning: {message}", file=sys.stderr)


def _check_report_dir(path: str) -> None:
    """``-o`` is a report folder: refuse a path that is a file or lies under one, before any scoring is done."""
    from pathlib import Path

    from seq2exp.errors import ConfigError

    out = Path(path)
    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                raise ConfigError(f"-o {path}: {folder} is a file; -o names a report folder")
            break


def _score_tasks(args: argparse.Namespace) -> int:
    """``seq2exp score`` of a ``predict --format tsv`` file with task columns: every task scored on its own."""
    from seq2exp.errors import ConfigError
    from seq2exp.evaluation.report import dumps, markdown_table
    from seq2exp.evaluation.tasks import score_tasks

    if args.truth_column:
        raise ConfigError("--truth-column is for a single-task predictions file; with several tasks each task is "
                          "read from the truth's column of the same name")
    if args.bootstrap or args.ensemble or args.exclude_indices or args.output:
        raise ConfigError("a predictions file with several tasks is scored per task; --bootstrap, --ensemble, "
                          "--exclude-indices and -o are for single-task files")
    result = score_tasks(args.predictions[0], args.truth, args.subsets)
    if args.json:
        print(dumps(result, indent=2))
    else:
        print(markdown_table(result["tasks"]), end="")
    return 0


def main(args: argparse.Namespace) -> int:
    """Run the scoring; returns the exit code (errors in the input raise ``Seq2ExpError`` -> exit 2)."""
    from seq2exp.errors import ConfigError
    from seq2exp.evaluation.metrics import prepare, score_data
    from seq2exp.evaluation.report import dumps, markdown_table

    if args.names is not None and len(args.names) != len(args.predictions):
        raise ConfigError(f"--names: {len(args.names)} names for {len(args.predictions)} prediction files")
    if args.output:
        _check_report_dir(args.output)
    from seq2exp.evaluation.tasks import prediction_tasks

    if len(args.predictions) == 1 and prediction_tasks(args.predictions[0]):  # a model with several tasks
        return _score_tasks(args)
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        truth = args.truth
        if args.truth_column:
            from seq2exp.evaluation.values import read_values

            truth = read_values(args.truth, nonfinite=args.on_nonfinite, column=args.truth_column)
        data = prepare(args.predictions, truth, args.subsets, args.exclude_indices, names=args.names,
                       nonfinite=args.on_nonfinite)
        ensemble_info = None
        if args.ensemble:
            from seq2exp.evaluation import with_ensemble  # through the package: keeps evaluation.ensemble the function

            if len(data.names) < 2:
                raise ConfigError("--ensemble needs at least two prediction files")
            try:
                data, ensemble_info = with_ensemble(data, folds=args.ensemble_folds, seed=args.seed)
            except ValueError as error:
                raise ConfigError(f"--ensemble: {error}") from None
        scores = {name: score_data(data, row) for row, name in enumerate(data.names)}
        bootstrap = None
        if args.bootstrap:
            from seq2exp.evaluation.bootstrap import bootstrap_ranks

            try:
                bootstrap = bootstrap_ranks(data, n_samples=args.bootstrap, fraction=args.bootstrap_fraction,
                                            seed=args.seed, spearman=args.bootstrap_spearman, progress=True)
            except ValueError as error:
                raise ConfigError(f"--bootstrap: {error}") from None
    finally:
        warnings.showwarning = previous
    if args.output:
        from seq2exp.evaluation.report import write_report

        write_report(args.output, scores, data=data, bootstrap=bootstrap, ensemble_info=ensemble_info,
                     plots=not args.no_plots)
    if args.json:
        if len(scores) == 1 and bootstrap is None and ensemble_info is None:
            document = next(iter(scores.values()))
        else:
            document = {"models": scores}
            if bootstrap is not None:
                document["bootstrap"] = bootstrap
            if ensemble_info is not None:
                document["ensemble"] = ensemble_info
        print(dumps(document, indent=2))
    else:
        print(markdown_table(scores, bootstrap), end="")
        if args.output:
            print(f"\nreport written to {args.output}")
    return 0

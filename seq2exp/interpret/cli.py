"""``seq2exp explain``, ``seq2exp variants`` and ``seq2exp design``: interpretation stages (TensorFlow is imported
only inside ``main``, through the predictors).

The model is a run folder or an exported SavedModel given as ``MODEL``, or a served model (``--server HOST:PORT
--model NAME``, any TF-Serving endpoint, through the TF-free client). Gradient methods need a run folder. A model
with several tasks needs ``--task NAME`` (chosen once, by the predictor); each stage's ``summary.json`` records the
task and, for a model with an ``is_reverse`` channel, ``"orientation": "forward"``.
"""
from __future__ import annotations

import argparse
import csv
import logging
import math
import sys
from pathlib import Path

from seq2exp.argtypes import finite_float, int_list, int_range, nonnegative_int, positive_int, version_int
from seq2exp.jsonio import dumps
from seq2exp.utils import begin_staging, end_staging

logger = logging.getLogger(__name__)

EXPLAIN_METHODS = ("ism", "saliency", "grad_x_input", "integrated_gradients", "expected_integrated_gradients")


def task_name(text: str) -> str:
    """``--task``: a task name (not empty)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a task name, got an empty one")
    return text


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", nargs="?", metavar="MODEL",
                        help="a run folder (run.json + model.keras) or an exported SavedModel folder")
    parser.add_argument("--server", metavar="HOST:PORT", help="a TF Serving / seq2exp serve gRPC endpoint")
    parser.add_argument("--model", metavar="NAME", help="with --server: the served model's name")
    parser.add_argument("--version", type=version_int, help="with --server: a model version (default: the latest)")
    parser.add_argument("--batch-size", type=positive_int, help="rows per prediction call / request")
    parser.add_argument("--concurrency", type=positive_int, default=4, help="with --server: requests in flight")
    parser.add_argument("--construct", metavar="NAME",
                        help="with --server: the served model's construct (a built-in name, default dream_yeast); "
                             "a run folder or an export records its own")
    parser.add_argument("--task", type=task_name, metavar="NAME",
                        help="a model with several tasks (e.g. Drosophila Dev and Hk): the one to analyse "
                             "(required for such a model; the error without it names the tasks)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--seed", type=int_range(0, 2**32 - 1), default=0, help="random seed")


def _open(args):
    from seq2exp.errors import ConfigError
    from seq2exp.interpret.predictors import open_predictor

    if getattr(args, "construct", None) and not args.server:
        raise ConfigError("--construct is for --server: a run folder or an exported model records its construct")
    return open_predictor(args.source, server=args.server, model=args.model, version=args.version,
                          batch_size=args.batch_size, max_concurrency=args.concurrency,
                          construct=getattr(args, "construct", None), task=getattr(args, "task", None))


def _read(path: str) -> tuple[list[str], list[str]]:
    from seq2exp.data.formats import read_sequences

    table = read_sequences(path)
    return list(table.names), list(table.sequences)


def _write_tsv(path: Path, rows: list[dict]) -> None:
    from seq2exp.utils import atomic_write

    with atomic_write(path) as handle:
        if not rows:
            return
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def _write_json(path: Path, data) -> None:
    from seq2exp.inference.runs import write_json_atomically

    write_json_atomically(path, data)


# --- explain ---------------------------------------------------------------------------------------------------
def add_explain_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``seq2exp explain``."""
    _add_model_arguments(parser)
    parser.add_argument("--sequences", metavar="FILE", help="FASTA or DREAM/TSV file of sequences to explain")
    parser.add_argument("--method", choices=EXPLAIN_METHODS, default="ism",
                        help="ism works against a server; the gradient methods need a run folder (default ism)")
    parser.add_argument("--baseline", choices=("zeros", "shuffle", "uniform"), default="zeros",
                        help="integrated gradients' baseline")
    parser.add_argument("--steps", type=positive_int, default=50, help="IG path points / expected-IG samples")
    parser.add_argument("--window", type=nonnegative_int, default=0, metavar="W",
                        help="ism: also scan W-bp windows (see --window-kind)")
    parser.add_argument("--window-kind", choices=("delete", "mask"), default="delete", help="ism windows: deleted, or set to N")
    parser.add_argument("--top", type=positive_int, default=100, help="ism: rows of top_effects.tsv")
    parser.add_argument("--include-flanks", action="store_true",
                        help="ism: let top_effects.tsv list positions in the construct's constant flanks too")
    parser.add_argument("--discover", action="store_true",
                        help="run TF-MoDISco on the maps and match the patterns to JASPAR fungi motifs")
    parser.add_argument("--plots", type=nonnegative_int, default=10, metavar="N",
                        help="PNG plots of the first N sequences")
    parser.add_argument("--progress", action="store_true", help="progress bar on stderr")
    parser.add_argument("--motif", action="append", metavar="SPEC",
                        help="motif effects instead: IUPAC consensus, JASPAR id (MA0363.3) or PWM file; repeatable")
    parser.add_argument("--backgrounds", default="random", metavar="KIND",
                        help="motif backgrounds: random, shuffled (of --sequences) or given (--sequences as is)")
    parser.add_argument("--n-backgrounds", type=positive_int, default=10, help="motif effects: background sequences per motif")
    parser.add_argument("--pair", nargs=2, metavar=("A", "B"), help="motif pair (cooperativity) at --spacings")
    parser.add_argument("--spacings", type=int_list(0, 10_000), default=(0, 2, 4, 6, 8, 10, 15, 20),
                        help="motif pair spacings (bp), comma-separated, each >= 0")


def main_explain(args: argparse.Namespace) -> int:
    """Attribution / ISM / motif effects of a model; returns the exit code."""
    import numpy as np

    from seq2exp.errors import ConfigError
    from seq2exp.interpret import plots
    from seq2exp.interpret.predictors import predictor_construct, predictor_record

    final = _checked_explain_inputs(args)  # before the model is opened and before -o exists
    predictor = _open(args)
    out = begin_staging(final)  # every output is written here, moved into -o only on success
    try:
        construct = predictor_construct(predictor)
        if args.motif or args.pair:
            return _motif_mode(args, predictor, out)
        if not args.sequences:
            raise ConfigError("--sequences FILE is required (or --motif for motif effects)")
        from seq2exp.interpret.sequences import check_sequences

        names, sequences = _read(args.sequences)
        # ISM takes rows of mixed lengths; the gradient methods' maps (and --window) need equal ones: name the file
        sequences = check_sequences(sequences, what=args.sequences,
                                    equal_length=args.method != "ism" or bool(args.window))
        entries, summary = [], {"model": predictor.description, **predictor_record(predictor),
                                "method": args.method, "n": len(sequences), "construct": construct.name}
        if args.method == "ism":
            from seq2exp.interpret.mutagenesis import ism, window_scan

            result = ism(predictor, sequences, checkpoint=final / "ism.partial.npz", progress=args.progress)
            result.save(out / "ism.npz")
            _write_tsv(out / "top_effects.tsv", result.top_effects(args.top, names,
                                                                   include_flanks=args.include_flanks))
            onehot, hypothetical, maps = result.onehot, result.hypothetical, result.effects
            if args.window:
                windows = window_scan(predictor, result.sequences, args.window, args.window_kind)
                from seq2exp.utils import atomic_write

                with atomic_write(out / f"windows_{args.window_kind}{args.window}.npz", "wb", encoding=None) as fh:
                    np.savez_compressed(fh, effects=windows)
            for i in range(min(args.plots, len(sequences))):
                name = f"ism_{plots.safe_name(names[i])}.png"
                plots.plot_ism_heatmap(maps[i][:len(result.sequences[i])], result.sequences[i], out / name,
                                       f"{names[i]}: ISM", insert=construct.insert_region(result.sequences[i]))
                entries.append((f"{names[i]} (ISM)", name))
        else:
            from seq2exp.interpret.attribution import attribute

            result = attribute(predictor, sequences, args.method, baseline=args.baseline, steps=args.steps,
                               seed=args.seed)
            result.save(out / "attribution.npz")
            onehot, hypothetical = result.onehot, result.hypothetical
            if result.baseline_values is not None:
                gap = result.scores.sum(axis=(1, 2)) - (result.values - result.baseline_values)
                summary["completeness_max_abs_error"] = float(np.abs(gap).max())
            for i in range(min(args.plots, len(sequences))):
                name = f"logo_{plots.safe_name(names[i])}.png"
                plots.plot_logo(result.scores[i] * (result.onehot[i] > 0), out / name, f"{names[i]}: {args.method}",
                                insert=construct.insert_region(sequences[i]))
                entries.append((f"{names[i]} ({args.method})", name))
        if args.discover:
            from seq2exp.interpret.discovery import discover

            patterns, found = discover(onehot, hypothetical)
            _write_json(out / "patterns.json", {"known_tfs": found, "patterns": [p.as_dict() for p in patterns]})
            summary["known_tfs"] = found
            for p in patterns:
                name = f"pattern_{p.name}.png"
                plots.plot_logo(p.contribution, out / name, f"{p.name} ({p.n_seqlets} seqlets) "
                                + (f"~ {p.matches[0]['motif']}" if p.matches else "no JASPAR match"))
                entries.append((p.name, name))
        plots.write_index(out, f"seq2exp explain: {args.method}", entries, f"Model: {predictor.description}")
        _write_json(out / "summary.json", summary)
        print(dumps(summary))
        return 0
    finally:
        predictor.close()
        end_staging(out, final, sys.exc_info()[1])


def _checked_explain_inputs(args: argparse.Namespace) -> Path:
    """``-o``, the sequences, ``--window`` and the motif backgrounds, checked before the model is opened or ``-o``
    created; returns ``-o``."""
    from seq2exp.errors import ConfigError
    from seq2exp.interpret.motif_effects import BACKGROUND_KINDS
    from seq2exp.interpret.sequences import check_sequences
    from seq2exp.utils import check_output_folder

    final = check_output_folder(args.output)
    if args.motif or args.pair:
        if args.backgrounds not in BACKGROUND_KINDS:
            raise ConfigError(f"background kind {args.backgrounds!r}: valid choices are {list(BACKGROUND_KINDS)}")
        if args.backgrounds != "random" and not args.sequences:
            raise ConfigError(f"background kind {args.backgrounds!r} needs sequences (--sequences FILE)")
        if args.sequences:
            _read(args.sequences)
        return final
    if not args.sequences:
        raise ConfigError("--sequences FILE is required (or --motif for motif effects)")
    sequences = check_sequences(_read(args.sequences)[1], what=args.sequences,
                                equal_length=args.method != "ism" or bool(args.window))
    if args.window and args.method == "ism" and not 1 <= args.window < len(sequences[0]):
        raise ConfigError(f"--window {args.window} must be between 1 and {len(sequences[0]) - 1} (the sequences "
                          f"of {args.sequences} are {len(sequences[0])} bp)")
    return final


def _motif_mode(args, predictor, out: Path) -> int:
    from seq2exp.interpret import plots
    from seq2exp.interpret.motif_effects import make_backgrounds, motif_effects, motif_pair_effects
    from seq2exp.interpret.predictors import predictor_record

    given = _read(args.sequences)[1] if args.sequences else None
    backgrounds = make_backgrounds(args.backgrounds, args.n_backgrounds, sequences=given, seed=args.seed,
                                   predictor=predictor)
    entries, summary = [], {"model": predictor.description, **predictor_record(predictor),
                            "backgrounds": args.backgrounds, "n_backgrounds": len(backgrounds),
                            "background_length": len(backgrounds[0]), "motifs": {}}
    for spec in args.motif or []:
        effects = motif_effects(predictor, spec, backgrounds)
        safe = plots.safe_name(spec)
        _write_tsv(out / f"motif_{safe}.tsv", effects.rows())
        name = f"motif_{safe}.png"
        plots.plot_motif_curve(effects.positions, effects.curve, out / name,
                               f"{effects.motif.name} ({effects.site})", effects.effects.std(axis=0),
                               f"± 1 s.d. over {len(backgrounds)} backgrounds")
        entries.append((f"{effects.motif.name} ({effects.site})", name))
        summary["motifs"][spec] = {"site": effects.site, "mean_effect": float(effects.curve.mean()),
                                   "max_effect": float(effects.curve.max()), "min_effect": float(effects.curve.min())}
    if args.pair:
        pair = motif_pair_effects(predictor, args.pair[0], args.pair[1], backgrounds, list(args.spacings))
        _write_tsv(out / "motif_pair.tsv", pair.rows())
        summary["pair"] = pair.rows()
    plots.write_index(out, "seq2exp explain: motif effects", entries, f"Model: {predictor.description}")
    _write_json(out / "summary.json", summary)
    print(dumps(summary))
    return 0


# --- variants --------------------------------------------------------------------------------------------------
def add_variants_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``seq2exp variants``."""
    _add_model_arguments(parser)
    parser.add_argument("--variants", required=True, metavar="TSV",
                        help="tab-separated with a header: columns ref, alt (sequences) or sequence, position "
                             "(0-based), ref, alt (SNVs); optional name, and measured delta or ref_value + alt_value")


def read_variants(path: str) -> dict:
    """The variants table: ``{"names", "ref", "alt", "measured_delta" | None, "measured": (ref, alt) | None}``."""
    from seq2exp.data.alphabet import describe_bad_sequence
    from seq2exp.data.formats import read_text_table
    from seq2exp.errors import InputFormatError
    from seq2exp.interpret.mutagenesis import apply_snvs

    table = read_text_table(path)  # the one reader: gzip, BOM, CRLF, UTF-8, blank lines only at the end
    columns, rows, row_lines = table.columns, table.rows, table.lines
    snv = {"sequence", "position", "ref", "alt"} <= set(columns)
    if not snv and not {"ref", "alt"} <= set(columns):
        raise InputFormatError(f"header {columns}: needs columns ref, alt or sequence, position, ref, alt",
                               path=path, line=1)

    def number(row: dict, line: int, key: str, kind=float):
        try:
            value = kind(row[key])
        except (TypeError, ValueError):
            raise InputFormatError(f"not a number: {row.get(key)!r}", path=path, line=line, field=key) from None
        if kind is float and not math.isfinite(value):
            raise InputFormatError(f"not a finite number: {row.get(key)!r}", path=path, line=line, field=key)
        return value

    names = [row.get("name") or str(i) for i, row in enumerate(rows)]
    for i, row in enumerate(rows):
        for key in ("ref", "alt") + (("sequence",) if snv else ()):
            if not row[key]:
                raise InputFormatError(f"empty {key}", path=path, line=row_lines[i], field=key)
            problem = None if snv and key != "sequence" else describe_bad_sequence(row[key].upper(), None)
            if problem:  # a whole sequence's letters; an SNV's alt letter is checked by apply_snvs
                raise InputFormatError(problem, path=path, line=row_lines[i], field=key)
        if snv and (len(row["alt"]) != 1 or len(row["ref"]) != 1):
            raise InputFormatError(f"an SNV's ref and alt are one letter each, got ref {row['ref']!r} alt "
                                   f"{row['alt']!r} (give other variants as whole ref and alt sequences)",
                                   path=path, line=row_lines[i], field="alt" if len(row["alt"]) != 1 else "ref")
    if snv:
        positions = [number(row, row_lines[i], "position", int) for i, row in enumerate(rows)]
        refs = [row["sequence"] for row in rows]
        alts = apply_snvs(refs, positions, [row["ref"] for row in rows], [row["alt"] for row in rows], what=path,
                           lines=row_lines)
    else:
        refs, alts = [row["ref"] for row in rows], [row["alt"] for row in rows]
    measured_delta = measured = None
    if "delta" in columns:
        measured_delta = [number(row, row_lines[i], "delta") for i, row in enumerate(rows)]
    elif {"ref_value", "alt_value"} <= set(columns):
        measured = ([number(row, row_lines[i], "ref_value") for i, row in enumerate(rows)],
                    [number(row, row_lines[i], "alt_value") for i, row in enumerate(rows)])
        measured_delta = [a - r for r, a in zip(*measured)]
    return {"names": names, "ref": refs, "alt": alts, "measured_delta": measured_delta, "measured": measured}


def write_score_inputs(folder: Path, ref: list[str], alt: list[str], predicted: dict[str, float],
                       measured_delta: list[float] | None, measured: tuple | None) -> dict:
    """Files ``seq2exp score`` reads with the challenge's SNV pair semantics: ``predictions.json`` and
    ``truth.json`` (``{index: value}`` per distinct sequence) and ``subsets/all_SNVs_seqs.csv`` (alt_pos, ref_pos).

    With measured deltas only, each pair's ref gets truth 0 and its alt the delta (pair scores use only
    alt - ref), so every ref must be its own sequence there; with measured values, the values themselves."""
    from seq2exp.data.formats import PAIR_SUBSET_FILES
    from seq2exp.utils import atomic_write

    index: dict[str, int] = {}
    pairs = []
    own_refs = measured is None and measured_delta is not None
    for i, (r, a) in enumerate(zip(ref, alt)):
        r_key = f"{r}#{i}" if own_refs else r
        for key in (a, r_key):
            index.setdefault(key, len(index))
        pairs.append((index[a], index[r_key]))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "subsets").mkdir(exist_ok=True)
    _write_json(folder / "predictions.json", {str(i): float(predicted[k.split("#")[0]]) for k, i in index.items()})
    with atomic_write(folder / "subsets" / PAIR_SUBSET_FILES["SNVs"]) as handle:
        handle.write(",alt_pos,ref_pos\n")
        for row, (a, r) in enumerate(pairs):
            handle.write(f"{row},{a},{r}\n")
    files = {"predictions": str(folder / "predictions.json"), "subsets": str(folder / "subsets")}
    if measured_delta is not None:
        truth: dict[str, float] = {}
        for row, (a, r) in enumerate(pairs):
            if measured is not None:
                truth[str(r)], truth[str(a)] = float(measured[0][row]), float(measured[1][row])
            else:
                truth[str(r)], truth[str(a)] = 0.0, float(measured_delta[row])
        _write_json(folder / "truth.json", truth)
        files["truth"] = str(folder / "truth.json")
    return files


def main_variants(args: argparse.Namespace) -> int:
    """Predicted variant effects (alt - ref), scored against measured deltas when given."""
    from seq2exp.interpret.mutagenesis import variant_effects
    from seq2exp.utils import check_output_folder, staged_dir

    final = check_output_folder(args.output)
    table = read_variants(args.variants)  # inputs are checked before the model is opened or -o created
    predictor = _open(args)
    try:
        effects = variant_effects(predictor, table["ref"], table["alt"])
    finally:
        predictor.close()
    with staged_dir(final) as out:
        return _write_variants(out, final, table, effects, predictor)


def _write_variants(out: Path, final: Path, table: dict, effects, predictor) -> int:
    import numpy as np

    from seq2exp.interpret.predictors import predictor_record

    rows = []
    for i, name in enumerate(table["names"]):
        row = {"name": name, "ref": effects.ref[i], "alt": effects.alt[i], "pred_ref": float(effects.ref_values[i]),
               "pred_alt": float(effects.alt_values[i]), "pred_delta": float(effects.delta[i])}
        if table["measured_delta"] is not None:
            row["measured_delta"] = float(table["measured_delta"][i])
        rows.append(row)
    _write_tsv(out / "variants.tsv", rows)
    predicted = dict(zip(effects.ref, effects.ref_values.tolist()))
    predicted.update(zip(effects.alt, effects.alt_values.tolist()))
    staged = write_score_inputs(out / "score", effects.ref, effects.alt, predicted, table["measured_delta"],
                                table["measured"])
    files = {key: str(final / Path(value).relative_to(out)) for key, value in staged.items()}
    summary = {"model": predictor.description, **predictor_record(predictor), "n_variants": len(rows),
               "mean_abs_pred_delta": float(np.abs(effects.delta).mean()), "score_inputs": files}
    if "truth" in files:
        from seq2exp.evaluation.metrics import score

        result = score(staged["predictions"], staged["truth"], staged["subsets"])
        summary["snv_score"] = result["subsets"].get("SNVs")  # "all" is not meaningful with deltas only
        summary["score"] = result
        summary["score_command"] = (f"seq2exp score --predictions {files['predictions']} --truth {files['truth']} "
                                    f"--subsets {files['subsets']}")
    _write_json(out / "summary.json", summary)
    print(dumps(summary, default=float))
    return 0


# --- design ----------------------------------------------------------------------------------------------------
def add_design_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``seq2exp design``."""
    _add_model_arguments(parser)
    parser.add_argument("--seeds", metavar="FILE", help="FASTA or DREAM/TSV file of starting sequences")
    parser.add_argument("--random", type=nonnegative_int, default=0, metavar="N",
                        help="start from N random rows of the model's construct (its flanks + a random insert: "
                             "80 bp for DREAM yeast; a genomic model's input length) instead")
    parser.add_argument("--objective", choices=("maximize", "minimize", "target"), default="maximize", help="raise, lower, or approach --target")
    parser.add_argument("--target", type=finite_float, help="with --objective target: the expression to reach")
    parser.add_argument("--generations", type=positive_int, default=10, help="rounds of the genetic algorithm")
    parser.add_argument("--population", type=positive_int, default=20, help="survivors kept each generation")
    parser.add_argument("--children", type=positive_int, default=4, help="children per survivor and generation")
    parser.add_argument("--mutations", type=positive_int, default=1, help="substitutions per child")
    parser.add_argument("--budget", type=positive_int, help="most substitutions from the seed")
    parser.add_argument("--protect", metavar="RANGES",
                        help="0-based half-open ranges never changed, e.g. 0-17,93-110 (default: the model's "
                             "construct's constant flanks where a seed carries them; 'none' for none)")
    parser.add_argument("--crossover", action="store_true", help="one-point crossover between survivors")


def main_design(args: argparse.Namespace) -> int:
    """Design sequences towards a target expression."""
    import numpy as np

    from seq2exp.errors import ConfigError
    from seq2exp.interpret.design import design
    from seq2exp.interpret.motif_effects import make_backgrounds
    from seq2exp.interpret.sequences import parse_ranges
    from seq2exp.utils import check_output_folder, staged_dir

    check_output_folder(args.output)  # -o is created only when the designs are written
    if args.objective == "target" and args.target is None:
        raise ConfigError("--objective target needs --target VALUE")
    if args.target is not None and args.objective != "target":
        raise ConfigError(f"--target is used with --objective target, not {args.objective}")
    if bool(args.seeds) == bool(args.random):
        raise ConfigError("give --seeds FILE or --random N (one of them)")
    protected = None if args.protect is None else ([] if args.protect == "none" else parse_ranges(args.protect))
    from seq2exp.interpret.predictors import predictor_record

    if args.seeds:
        names, seeds = _read(args.seeds)
    out = Path(args.output)
    predictor = _open(args)
    try:
        if not args.seeds:
            seeds = make_backgrounds("random", args.random, seed=args.seed, predictor=predictor)
            names = [f"random{i}" for i in range(len(seeds))]
        result = design(predictor, seeds, objective=args.objective, target=args.target,
                        generations=args.generations, population=args.population, children=args.children,
                        mutations=args.mutations, budget=args.budget, protected=protected, crossover=args.crossover,
                        seed=args.seed)
    finally:
        predictor.close()
    rows = [{"name": n, "seed": s, "design": d, "seed_value": float(sv), "value": float(v), "mutations": m}
            for n, s, d, sv, v, m in zip(names, result.seeds, result.designs, result.seed_values, result.values,
                                         result.n_mutations)]
    summary = {"model": predictor.description, **predictor_record(predictor), "objective": args.objective,
               "n": len(rows),
               "mean_seed_value": float(np.mean(result.seed_values)), "mean_value": float(np.mean(result.values)),
               "history": result.history}
    with staged_dir(out) as staging:  # both files or neither
        _write_tsv(staging / "designs.tsv", rows)
        _write_json(staging / "summary.json", summary)
    print(dumps({k: v for k, v in summary.items() if k != "history"}))
    return 0

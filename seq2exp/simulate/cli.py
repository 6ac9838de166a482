"""``seq2exp simulate``: write a simulated random-promoter library with ground truth."""
from __future__ import annotations

import argparse
import time

from seq2exp.argtypes import condition_names, int_range, nonnegative_int, positive_int
from seq2exp.jsonio import dumps
from seq2exp.simulate.sizes import FULL_TEST_SIZE, FULL_TRAIN_SIZE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``simulate`` stage."""
    parser.add_argument("--out", required=True, help="output folder (train.txt, test.txt, test_subset_ids/, "
                                                     "ground_truth.json, simulation.json)")
    parser.add_argument("--n-train", type=positive_int, default=FULL_TRAIN_SIZE,
                        help=f"training rows (default {FULL_TRAIN_SIZE:,}, the challenge's size)")
    parser.add_argument("--n-test", type=positive_int, default=FULL_TEST_SIZE,
                        help=f"test sequences, subsets scaled to the real proportions (default {FULL_TEST_SIZE:,})")
    parser.add_argument("--seed", type=nonnegative_int, default=0,
                        help="random seed; same seed, same files (default 0)")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="processes for the training file (default: CPUs available; output does not depend on it)")
    parser.add_argument("--calibrate", metavar="REAL_TRAIN", default=None,
                        help="also write calibration.md/.json comparing the simulation with this real DREAM file")
    parser.add_argument("--conditions", type=condition_names, default=None, metavar="N|NAME,NAME",
                        help="several conditions (tasks) with condition-specific TF activities: a count (2) or "
                             "names (dev,hk); writes header tables train.tsv / test.tsv / ground_truth.tsv with one "
                             "column per condition (default: the one-condition DREAM yeast files)")
    parser.add_argument("--construct", choices=("dream_yeast", "yeast", "genomic", "none"), default=None,
                        help="the construct around the insert (default dream_yeast; any choice writes the tables)")
    parser.add_argument("--length", type=int_range(10, 5000), default=None,
                        help="insert length in bp (default: the construct's; required for genomic)")
    parser.add_argument("--planted-sites", type=int_range(0, 20), default=0,
                        help="a designed library: TF consensus sites planted in each insert (tables only; default 0)")
    parser.add_argument("--json", action="store_true", help="print the written paths as JSON")


def main(args: argparse.Namespace) -> int:
    """Run the simulation and print where everything is."""
    from seq2exp.simulate.core import simulate

    conditions = list(args.conditions) if isinstance(args.conditions, tuple) else args.conditions
    started = time.perf_counter()
    output = simulate(args.out, n_train=args.n_train, n_test=args.n_test, seed=args.seed, workers=args.workers,
                      calibrate_against=args.calibrate, conditions=conditions, construct=args.construct,
                      length=args.length, planted_sites=args.planted_sites)
    seconds = time.perf_counter() - started
    if args.json:
        print(dumps({**output.as_dict(), "seconds": round(seconds, 2)}))
        return 0
    print(f"simulated {args.n_train:,} training rows and the test set in {seconds:.1f} s (seed {args.seed})")
    for name, path in output.as_dict().items():
        if path is not None and name != "out_dir":
            print(f"  {name:13s} {path}")
    return 0

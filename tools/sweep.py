#!/usr/bin/env python
"""Compare selection strategies over seeds and budgets: one tools/train.py run per (strategy, budget, seed), plus
the reference rows source-only (no target label) and full (every target training label), one per seed.

    python tools/sweep.py -cfg configs/synthetic/dwaca_RA_5%.yaml --strategies AL-DWACA,AL-RIPU,entropy,random \\
        --budgets 0.01,0.022,0.05 --seeds 0,1,2 --out sweeps/synthetic [--jobs 2] [--threads 1] [KEY VALUE ...]
    python tools/sweep.py --out sweeps/synthetic --aggregate-only [--baseline AL-RIPU]

Runs go to OUT/<strategy>/<budget>/<seed> and OUT/<reference>/<seed>, each with its arguments (sweep_run.json) and
its output (sweep_log.txt). Rerunning the same command skips finished runs and resumes interrupted ones; a run
folder started with other arguments is refused. Writes OUT/summary.json, OUT/summary.md, OUT/budget_curve.png and
OUT/per_class_gain.png. See dwaca/sweep/.
"""
import argparse
import os
import sys
from pathlib import Path

try:
    import dwaca  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dwaca.config import add_config_arguments, at_least, run_main
from dwaca.sweep import prepare, run_sweep, write_outputs
from dwaca.sweep.launch import red

TRAIN_SCRIPT = Path(__file__).resolve().with_name("train.py")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, metavar="DIR", help="the sweep's folder")
    p.add_argument("--strategies", default="AL-DWACA,AL-RIPU,entropy,random", help="comma-separated ACTIVE.NAMEs")
    p.add_argument("--budgets", help="comma-separated ACTIVE.RATIO (RA) or ACTIVE.PIXELS (PA) values")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--references", default="source-only,full",
                   help="reference rows, one run per seed ('' for none; default source-only,full)")
    p.add_argument("--baseline", help="strategy or reference row the paired differences are taken to "
                                      "(default random; with --aggregate-only the sweep's)")
    p.add_argument("--jobs", type=at_least(1), help="trainings at once (default 1; with --gpus one per GPU)")
    p.add_argument("--threads", type=at_least(1),
                   help="torch threads per training (default: the CPU count divided by --jobs)")
    p.add_argument("--gpus", help="comma-separated GPU ids: each training gets one (CUDA_VISIBLE_DEVICES)")
    p.add_argument("--aggregate-only", action="store_true", help="only (re)write the summary of finished runs")
    add_config_arguments(p, interleaved=True)
    return p.parse_intermixed_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.aggregate_only:
        write_outputs(args.out, args.baseline)
        print((Path(args.out) / "summary.md").read_text())
        return 0
    if not args.budgets:
        raise ValueError("--budgets: required (comma-separated ACTIVE.RATIO or ACTIVE.PIXELS values)")
    gpus = [g.strip() for g in args.gpus.split(",") if g.strip()] if args.gpus else None
    jobs = min(args.jobs or len(gpus), len(gpus)) if gpus else args.jobs or 1
    threads = args.threads or max(1, (os.cpu_count() or 1) // jobs)
    record, runs = prepare(args.out, args.config_file, args.strategies, args.budgets, args.seeds, args.references,
                           args.baseline or "random", args.opts)
    try:
        failed = run_sweep(args.out, record, runs, train_script=TRAIN_SCRIPT, jobs=jobs, threads=threads, gpus=gpus)
    except KeyboardInterrupt:
        print("interrupted: the running trainings were stopped; rerun the same command to resume them",
              file=sys.stderr)
        return 130
    write_outputs(args.out, args.baseline)
    print((Path(args.out) / "summary.md").read_text())
    if failed:
        print(red(f"{len(failed)} of {len(runs)} runs failed: {', '.join(run.label for run in failed)}; their "
                  "sweep_log.txt says why, and rerunning the command resumes them"), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

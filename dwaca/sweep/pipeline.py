"""A sweep from start to end: check everything (every run's config, the output folder, each existing run folder)
before anything is written, record the sweep, run what is not finished, aggregate and write the outputs."""
import sys
from pathlib import Path

from ..data import class_names
from ..utils.io import atomic_write_json
from . import grid
from .aggregate import aggregate
from .curves import read_curves
from .figures import plot_budget_curve, plot_per_class_gain, plot_purchases, plot_training_curves
from .launch import Launcher, red
from .purchases import class_count, read_purchases
from .records import (RUN_RECORD, check_run_folder, file_sha256, is_finished, merge_with_existing,
                      read_sweep_record, sweep_record, write_sweep_record)
from .report import mismatch_line, summary_markdown

def prepare(out, config_file, strategies, budgets, seeds, references="source-only,full", baseline="random",
            overrides=()):
    """(sweep record, runs of this invocation) after every check; nothing is written. The texts are the options'
    (comma-separated lists); a mistake is a SweepError (or the config's error) naming the option, key or folder."""
    out, config_file = Path(out).resolve(), Path(config_file).resolve() if config_file else None
    if config_file is None:
        raise grid.SweepError("-cfg: the config file of the runs is required (or --aggregate-only)")
    strategies, seeds = grid.parse_strategies(strategies), grid.parse_seeds(seeds)
    references = grid.parse_references(references)
    overrides = [str(o) for o in overrides]
    setting = grid.base_setting(str(config_file), overrides, strategies)
    budgets = grid.parse_budgets(budgets, setting)
    if baseline not in (*strategies, *references):
        raise grid.SweepError(f"--baseline {baseline!r} is none of the strategies or reference rows of this sweep "
                              f"({', '.join([*strategies, *references])})")
    runs = grid.plan_runs(out, config_file, setting, strategies, budgets, seeds, references, overrides)
    grid.check_run_configs(runs)
    sha = file_sha256(config_file)
    for run in runs:  # first: a folder named with the arguments that changed says most
        check_run_folder(run, sha)
    record = merge_with_existing(out, sweep_record(config_file, sha, overrides, setting, strategies, budgets, seeds,
                                                   references, baseline))
    return record, runs


def recorded_runs(out, record):
    """Every run of the sweep recorded in ``out``'s sweep.json."""
    return grid.plan_runs(Path(out).resolve(), record["config_file"], record["setting"], record["strategies"],
                          record["budgets"], record["seeds"], record["references"], record["overrides"])


def run_sweep(out, record, runs, *, train_script, jobs=1, threads=1, gpus=None, say=None):
    """Record the sweep in ``out`` and run the unfinished ``runs``; returns the runs that failed."""
    write_sweep_record(out, record)
    todo = [run for run in runs if not is_finished(run)]
    resumed = sum((run.folder / RUN_RECORD).is_file() for run in todo)
    say = say or (lambda line: print(line, flush=True))
    say(f"sweep: {len(runs)} runs, {len(runs) - len(todo)} finished already, {len(todo)} to run, {resumed} of them "
        f"resumed ({jobs} at once, {threads} threads each{', GPUs ' + ','.join(gpus) if gpus else ''})")
    return Launcher(train_script, record["config_sha256"], jobs=jobs, threads=threads, gpus=gpus,
                    say=say).run_all(todo)


def write_outputs(out, baseline=None):
    """Aggregate every run recorded in ``out`` against ``baseline`` (default: the sweep's) and write summary.json,
    summary.md, budget_curve.png, per_class_gain.png, from the runs' metrics.jsonl training_curves.png and from
    their pool manifests purchases.png; returns the summary.json dict. A budget mismatch is also
    printed, in red on a terminal."""
    out = Path(out).resolve()
    record = read_sweep_record(out)
    baseline = baseline or record["baseline"]
    if baseline not in (*record["strategies"], *record["references"]):
        raise grid.SweepError(f"--baseline {baseline!r} is none of the strategies or reference rows of the sweep in "
                              f"{out}")
    runs = recorded_runs(out, record)
    result = aggregate(runs, record["strategies"], baseline, record["setting"])
    atomic_write_json(out / "summary.json", result)
    title = f"Sweep of {Path(record['config_file']).name}" + (f" with {' '.join(record['overrides'])}"
                                                             if record["overrides"] else "")
    (out / "summary.md").write_text(summary_markdown(result, title))
    plot_budget_curve(out / "budget_curve.png", result)
    plot_per_class_gain(out / "per_class_gain.png", result)
    curves = read_curves(runs)
    if curves:  # runs of a version without metrics.jsonl have none
        plot_training_curves(out / "training_curves.png", curves)
    purchases = read_purchases(runs)
    num_classes = class_count(purchases)
    if num_classes:
        plot_purchases(out / "purchases.png", purchases, class_names(num_classes))
    for check in result["budget_mismatch"]:
        print(red(mismatch_line(check)), file=sys.stderr, flush=True)
    return result

"""The runs' curves, from each run's metrics.jsonl (``dwaca.engine.metrics_log``): the training loss per logged
iteration and the seconds of each selection round, averaged over the seeds of a (strategy, budget)."""
from ..engine.metrics_log import METRICS_FILE, read_metrics
from .records import is_finished


def _mean_by_key(per_seed):
    """{key: mean over the seeds that have it} of a list of {key: value} dicts."""
    keys = sorted({k for values in per_seed for k in values})
    return {k: sum(v[k] for v in per_seed if k in v) / sum(k in v for v in per_seed) for k in keys}


def read_curves(runs, loss="loss/total"):
    """[{"strategy", "budget", "n", "loss": {iteration: mean}, "round_seconds": {round: mean}}, ...] per (strategy,
    budget) in the runs' order, over its finished runs that wrote metrics.jsonl (none: left out)."""
    cells = {}
    for run in runs:
        if not (is_finished(run) and (run.folder / METRICS_FILE).is_file()):
            continue
        records = read_metrics(run.folder)
        losses = {r["iteration"]: r[loss] for r in records if r["kind"] == "train" and r.get(loss) is not None}
        seconds = {r["round"]: r["seconds"] for r in records if r["kind"] == "round" and "seconds" in r}
        cells.setdefault((run.strategy, run.budget), []).append((losses, seconds))
    return [{"strategy": strategy, "budget": budget, "n": len(seeds),
             "loss": _mean_by_key([s[0] for s in seeds]), "round_seconds": _mean_by_key([s[1] for s in seeds])}
            for (strategy, budget), seeds in cells.items()]

"""A sweep's numbers, from its run folders: every finished run's mIoU and pixels bought, per (strategy, budget) the
mean, standard deviation and 95 % t-interval over the seeds, the paired difference to the baseline over the seeds
both hold, the mean per-class IoU and its gain over the baseline, and the check that the strategies of one budget
and seed bought the same budget.

Records are flat dicts; IoUs are fractions, as in results.json. The reference rows have budget None; a baseline that
is a reference row is compared with at every budget."""
import json
import math

from .records import RESULTS, is_finished, read_pool_manifest
from .stats import describe, paired_difference

LEVEL = 0.95


def read_run(run):
    """(flat record, {class: IoU or None}) of a finished run: results.json and the pool's manifest (none: nothing
    bought)."""
    results = json.loads((run.folder / RESULTS).read_text())
    manifest = read_pool_manifest(run)
    rounds = manifest.get("rounds", [])
    record = {"strategy": run.strategy, "budget": run.budget, "seed": run.seed, "mIoU": results["mIoU"],
              "pixel_acc": results.get("pixel_acc"), "pixels_total": manifest.get("pixels_total", 0),
              "budget_pixels": manifest.get("budget_pixels", 0), "rounds": len(rounds),
              "regions": sum(int(r.get("regions", 0)) for r in rounds), "folder": str(run.folder)}
    return record, results.get("per_class_iou", {})


def _cells(records):
    """{(strategy, budget): {seed: record}} in the records' order."""
    cells = {}
    for r in records:
        cells.setdefault((r["strategy"], r["budget"]), {})[r["seed"]] = r
    return cells


def _baseline_cell(cells, baseline, budget):
    """The baseline's runs at ``budget`` ({seed: record}); a reference row's whatever the budget."""
    return cells.get((baseline, budget)) or cells.get((baseline, None)) or {}


def summary_records(cells):
    return [{"strategy": s, "budget": b, **describe([r["mIoU"] for r in seeds.values()], LEVEL),
             "pixels_mean": sum(r["pixels_total"] for r in seeds.values()) / len(seeds)}
            for (s, b), seeds in cells.items()]


def paired_records(cells, baseline):
    """Per strategy cell with a budget (baseline's own excluded): the difference to the baseline, seed by seed."""
    out = []
    for (s, b), seeds in cells.items():
        base = _baseline_cell(cells, baseline, b)
        if s == baseline or b is None or not base:
            continue
        diff = paired_difference({k: r["mIoU"] for k, r in seeds.items()}, {k: r["mIoU"] for k, r in base.items()},
                                 LEVEL)
        out.append({"strategy": s, "budget": b, "baseline": baseline, **diff})
    return out


def _mean(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    return sum(values) / len(values) if values else None


def _difference(a, b):
    return None if a is None or b is None else a - b


def per_class_records(cells, per_class, baseline):
    """Per cell and class: the mean IoU over the seeds and, for cells with a baseline, the mean gain over it on the
    seeds both hold (a class absent from a run's test set, IoU None, is left out of the means)."""
    out = []
    for (s, b), seeds in cells.items():
        base = _baseline_cell(cells, baseline, b) if s != baseline else {}
        common = sorted(seeds.keys() & base.keys())
        base_iou = {k: per_class[(baseline, base[k]["budget"], k)] for k in common}
        classes = list(dict.fromkeys(c for seed in seeds for c in per_class[(s, b, seed)]))
        for c in classes:
            gains = [_difference(per_class[(s, b, k)].get(c), base_iou[k].get(c)) for k in common]
            out.append({"strategy": s, "budget": b, "class": c, "n": len(seeds),
                        "mean_iou": _mean(per_class[(s, b, k)].get(c) for k in seeds),
                        "gain": _mean(gains), "gain_n": sum(g is not None for g in gains)})
    return out


def budget_checks(cells, strategies):
    """Per (budget, seed) run by several strategies: the budget each bought (planned pixels, regions, pixels) and
    "equal": whether they agree on the planned budget_pixels and the regions bought (RA windows clipped at the image
    border hold fewer pixels, so pixels_total may then differ by that clipping alone)."""
    by_key = {}
    for (s, b), seeds in cells.items():
        if s in strategies and b is not None:
            for seed, r in seeds.items():
                by_key.setdefault((b, seed), []).append(r)
    checks = []
    for (b, seed), runs in by_key.items():
        if len(runs) < 2:
            continue
        check = {"budget": b, "seed": seed, "strategies": [r["strategy"] for r in runs],
                 **{key: [r[key] for r in runs] for key in ("budget_pixels", "regions", "pixels_total")}}
        check["equal"] = len(set(check["budget_pixels"])) == 1 and len(set(check["regions"])) == 1
        checks.append(check)
    return checks


def aggregate(runs, strategies, baseline, setting):
    """The summary.json dict of ``runs`` (``grid.Run``, finished or not): "runs", "summary", "paired" (flat
    records), "per_class", "budget_check", "budget_mismatch" (the checks that failed), "missing" (folders of runs
    not finished) and the settings."""
    records, per_class, missing = [], {}, []
    for run in runs:
        if not is_finished(run):
            missing.append(str(run.folder))
            continue
        record, classes = read_run(run)
        records.append(record)
        per_class[(run.strategy, run.budget, run.seed)] = classes
    cells = _cells(records)
    checks = budget_checks(cells, strategies)
    return {"setting": setting, "baseline": baseline, "level": LEVEL, "runs": records,
            "summary": summary_records(cells), "paired": paired_records(cells, baseline),
            "per_class": per_class_records(cells, per_class, baseline), "budget_check": checks,
            "budget_mismatch": [c for c in checks if not c["equal"]], "missing": missing}

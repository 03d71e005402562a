"""What each strategy bought, from the runs' pool manifests: the ground-truth classes of the pixels bought (each
round's "class_pixels") and the class weights each round scored with, averaged over the seeds of a (strategy,
budget). Runs whose manifest lacks the histograms (written before they were recorded) add their weights only."""
from .records import is_finished, read_pool_manifest


def _mean_rows(rows):
    return [sum(column) / len(rows) for column in zip(*rows)]


def read_purchases(runs):
    """[{"strategy", "budget", "n", "class_share": [fraction of the bought pixels per class, ignored last] or None,
    "weights": [[weight per class] per round], mean over seeds}, ...] per (strategy, budget) with a pool, in the
    runs' order."""
    cells = {}
    for run in runs:
        manifest = read_pool_manifest(run) if is_finished(run) else {}
        if not manifest.get("rounds"):
            continue
        rounds = manifest["rounds"]
        histograms = [r["class_pixels"] for r in rounds if "class_pixels" in r]
        share = None
        if len(histograms) == len(rounds):
            total = [sum(column) for column in zip(*histograms)]
            share = [c / max(1, sum(total)) for c in total]
        weights = [r["class_weights"] for r in rounds if r.get("class_weights")]
        cells.setdefault((run.strategy, run.budget), []).append((share, weights))
    out = []
    for (strategy, budget), seeds in cells.items():
        shares = [s for s, _ in seeds if s is not None]
        weights = [w for _, w in seeds if w]
        rounds = min((len(w) for w in weights), default=0)
        out.append({"strategy": strategy, "budget": budget, "n": len(seeds),
                    "class_share": _mean_rows(shares) if shares else None,
                    "weights": [_mean_rows([w[r] for w in weights]) for r in range(rounds)]})
    return out


def class_count(purchases):
    """The number of classes ``read_purchases``'s records speak of (0 if they hold no histogram or weights)."""
    for c in purchases:
        if c["class_share"]:
            return len(c["class_share"]) - 1
        if c["weights"]:
            return len(c["weights"][0])
    return 0

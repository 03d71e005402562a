"""The sweep's figures (matplotlib, Agg): mIoU against the budget, the per-class IoU gain over the baseline, the
training curves of the largest budget, and what the strategies bought."""
from .grid import budget_name


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def budget_axis(setting):
    return "budget: fraction of each target image (ACTIVE.RATIO)" if setting == "RA" else \
        "budget: pixels per 1280x640 image (ACTIVE.PIXELS)"


def plot_budget_curve(path, result):
    """mIoU (%) vs budget: a line per strategy with its 95 % interval as bars (none for one seed); each reference
    row a horizontal band (its interval) around a dashed line (its mean)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    summary = result["summary"]
    for strategy in dict.fromkeys(r["strategy"] for r in summary if r["budget"] is not None):
        rows = sorted((r for r in summary if r["strategy"] == strategy), key=lambda r: r["budget"])
        errors = [0.0 if r["half_width"] is None else 100 * r["half_width"] for r in rows]
        ax.errorbar([r["budget"] for r in rows], [100 * r["mean"] for r in rows], yerr=errors, marker="o",
                    capsize=4, label=f"{strategy} (n = {'/'.join(str(r['n']) for r in rows)})")
    for i, r in enumerate(r for r in summary if r["budget"] is None):
        color = f"C{7 + i}"
        if r["low"] is not None:
            ax.axhspan(100 * r["low"], 100 * r["high"], color=color, alpha=0.15)
        ax.axhline(100 * r["mean"], color=color, linestyle="--", label=f"{r['strategy']} (n = {r['n']})")
    budgets = sorted({r["budget"] for r in summary if r["budget"] is not None})
    ax.set_xticks(budgets, [budget_name(b) for b in budgets])
    ax.set_xlabel(budget_axis(result["setting"]))
    ax.set_ylabel("mIoU (%)")
    ax.set_title("mIoU vs budget (mean over seeds, 95 % t-interval)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_per_class_gain(path, result):
    """Per-class IoU gain (percentage points) over the baseline, one panel per budget, a bar per strategy."""
    plt = _pyplot()
    rows = [r for r in result["per_class"] if r["gain"] is not None and r["budget"] is not None]
    budgets = sorted({r["budget"] for r in rows}) or [None]
    classes = list(dict.fromkeys(r["class"] for r in result["per_class"]))
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    fig, axes = plt.subplots(len(budgets), 1, figsize=(max(8, 0.5 * len(classes)), 3 * len(budgets)), squeeze=False)
    gain = {(r["strategy"], r["budget"], r["class"]): 100 * r["gain"] for r in rows}
    width = 0.8 / max(1, len(strategies))
    for ax, budget in zip(axes[:, 0], budgets):
        for j, strategy in enumerate(strategies):
            ax.bar([i + (j - (len(strategies) - 1) / 2) * width for i in range(len(classes))],
                   [gain.get((strategy, budget, c), 0.0) for c in classes], width, label=strategy)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
        ax.set_ylabel("IoU gain (points)")
        ax.set_title(f"over {result['baseline']}" + ("" if budget is None else f", budget {budget_name(budget)}"),
                     fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        if strategies:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_training_curves(path, curves):
    """At the largest budget (and for the reference rows): the training loss against the iteration and the seconds
    of each selection round, one line per strategy, each the mean over its seeds (``curves.read_curves``)."""
    plt = _pyplot()
    budgets = [c["budget"] for c in curves if c["budget"] is not None]
    top = max(budgets) if budgets else None
    shown = [c for c in curves if c["budget"] in (top, None)]
    fig, (loss_ax, round_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for c in shown:
        label = f"{c['strategy']} (n = {c['n']})"
        loss_ax.plot(list(c["loss"]), list(c["loss"].values()), label=label, linewidth=1)
        if c["round_seconds"]:
            round_ax.plot(list(c["round_seconds"]), list(c["round_seconds"].values()), marker="o", label=label)
    where = "" if top is None else f", budget {budget_name(top)}"
    loss_ax.set(xlabel="iteration", ylabel="training loss (total)", title=f"training loss{where}")
    round_ax.set(xlabel="selection round", ylabel="seconds", title=f"selection round time{where}")
    for ax in (loss_ax, round_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _largest_budget(cells):
    budgets = [c["budget"] for c in cells if c["budget"] is not None]
    return max(budgets) if budgets else None


def plot_purchases(path, purchases, class_names):
    """At the largest budget: the share of each ground-truth class in the pixels each strategy bought (mean over
    seeds), and for each strategy with class weights that are not all 1 its mean weights, a row per round."""
    plt = _pyplot()
    top = _largest_budget(purchases)
    cells = [c for c in purchases if c["budget"] == top]
    shared = [c for c in cells if c["class_share"] is not None]
    weighted = [c for c in cells if any(w != 1.0 for row in c["weights"] for w in row)]
    panels = int(bool(shared)) + len(weighted)
    if not panels:
        return False
    fig, axes = plt.subplots(max(1, panels), 1, figsize=(max(8, 0.5 * len(class_names)), 3.2 * max(1, panels)),
                             squeeze=False)
    axes = list(axes[:, 0])
    names = list(class_names) + ["ignored"]
    where = "" if top is None else f", budget {budget_name(top)}"
    if shared:
        ax = axes.pop(0)
        width = 0.8 / len(shared)
        for j, c in enumerate(shared):
            ax.bar([i + (j - (len(shared) - 1) / 2) * width for i in range(len(names))],
                   [100 * x for x in c["class_share"]], width, label=f"{c['strategy']} (n = {c['n']})")
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
        ax.set(ylabel="% of the pixels bought", title=f"ground-truth class of the pixels bought{where}")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    for ax, c in zip(axes, weighted):
        image = ax.imshow(c["weights"], aspect="auto", cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(len(class_names)), class_names, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(c["weights"])), [f"round {r + 1}" for r in range(len(c["weights"]))], fontsize=8)
        ax.set_title(f"{c['strategy']}: class weights per round (mean over {c['n']} seeds){where}", fontsize=10)
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True

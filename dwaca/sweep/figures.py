"""The sweep's figures (matplotlib, Agg): mIoU against the budget, and the per-class IoU gain over the baseline."""
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

"""summary.md: the sweep's tables (IoUs in percent, two decimals) and the budget check, and the terminal's view."""
from .grid import budget_name


def pct(value, signed=False):
    return "–" if value is None else f"{100 * value:{'+' if signed else ''}.2f}"


def budget_text(budget):
    return "–" if budget is None else budget_name(budget)


def interval(record, signed=False):
    if record["low"] is None:
        return "–"
    return f"[{pct(record['low'], signed)}, {pct(record['high'], signed)}]"


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows]


def miou_table(summary):
    rows = [(r["strategy"], budget_text(r["budget"]), r["n"], pct(r["mean"]), pct(r["std"]), interval(r),
             f"{r['pixels_mean']:,.0f}") for r in summary]
    return _table(["strategy", "budget", "n", "mIoU", "std", "95 % interval", "pixels bought (mean)"], rows)


def paired_table(paired):
    rows = [(r["strategy"], budget_text(r["budget"]), r["n"], ", ".join(map(str, r["seeds"])),
             pct(r["mean"], True), interval(r, True)) for r in paired]
    return _table(["strategy", "budget", "n", "seeds", "Δ mIoU", "95 % interval"], rows)


def per_class_table(per_class):
    columns = list(dict.fromkeys((r["strategy"], r["budget"]) for r in per_class))
    classes = list(dict.fromkeys(r["class"] for r in per_class))
    value = {(r["strategy"], r["budget"], r["class"]): r["mean_iou"] for r in per_class}
    header = ["class"] + [s if b is None else f"{s} {budget_name(b)}" for s, b in columns]
    return _table(header, [[c] + [pct(value.get((s, b, c))) for s, b in columns] for c in classes])


def budget_lines(checks):
    bad = [c for c in checks if not c["equal"]]
    if not checks:
        return ["No budget and seed was run by two strategies yet."]
    if not bad:
        return [f"Every strategy of each budget and seed bought the same budget ({len(checks)} budget and seed "
                "pairs: equal planned pixels and regions)."]
    return [mismatch_line(c) for c in bad]


def mismatch_line(check):
    bought = ", ".join(f"{s} {p:,} pixels ({r:,} regions, budget {b:,})" for s, p, r, b in
                       zip(check["strategies"], check["pixels_total"], check["regions"], check["budget_pixels"]))
    return f"BUDGET MISMATCH at budget {budget_name(check['budget'])}, seed {check['seed']}: {bought}"


def summary_markdown(result, title):
    """The text of summary.md for ``aggregate``'s ``result``."""
    baseline = result["baseline"]
    lines = [f"# {title}", "", f"Setting {result['setting']}; mIoU in percent: the mean over seeds, the sample "
             "standard deviation and the 95 % Student-t interval of the mean. Reference rows (budget –) do not "
             "depend on the budget.", "", "## mIoU", "", *miou_table(result["summary"]), "",
             f"## Paired difference to {baseline}", "", f"mIoU minus {baseline}'s with the same seed (and budget), "
             "over the seeds both have.", "", *paired_table(result["paired"]), "",
             "## Per-class IoU (mean over seeds)", "", *per_class_table(result["per_class"]), "",
             "## Budget check", "", *budget_lines(result["budget_check"]), ""]
    if result["missing"]:
        lines += ["## Not finished", "", *[f"- {folder}" for folder in result["missing"]], ""]
    return "\n".join(lines)

"""tools/sweep.py and dwaca.sweep: the statistics against hand-computed values, the grid's up-front checks, the
outputs' structure, resuming, refusals and the budget check. A fake training script (it writes results.json and a
pool manifest from its arguments) stands in for tools/train.py except in the slow end-to-end tests."""
import json
import math
import os
import random
import textwrap
from pathlib import Path

import pytest
import torch

from dwaca.config import load_config, run_main
from dwaca.engine import train
from dwaca.sweep import describe, paired_difference, student_t_quantile
from dwaca.sweep.curves import read_curves
from dwaca.sweep.grid import (REFERENCE_KEYS, SweepError, check_run_configs, parse_budgets, parse_strategies,
                              plan_runs)
from dwaca.sweep.launch import red
from dwaca.sweep.pipeline import recorded_runs
from dwaca.sweep.purchases import read_purchases
from dwaca.sweep.records import read_sweep_record
from dwaca.sweep.stats import student_t_cdf

from conftest import CONFIG, load_tool

# Student-t 0.975 quantiles (two-sided 95 %) from the standard tables, and a few others
T_TABLE = [(0.975, 1, 12.7062047), (0.975, 2, 4.3026527), (0.975, 3, 3.1824463), (0.975, 4, 2.7764451),
           (0.975, 5, 2.5705818), (0.975, 10, 2.2281389), (0.975, 30, 2.0422725), (0.995, 3, 5.8409093),
           (0.9, 7, 1.4149239), (0.95, 20, 1.7247182), (0.975, 1e6, 1.9599664)]

FAKE_TRAIN = textwrap.dedent('''
    """Stands in for tools/train.py: results.json and a pool manifest from the arguments, no training."""
    import json, os, sys
    from pathlib import Path
    args = sys.argv[1:]
    opts = dict(zip(args[2::2], args[3::2]))
    out = Path(opts["OUTPUT_DIR"])
    with open(os.environ["FAKE_CALLS"], "a") as calls:
        calls.write(json.dumps({"argv": args, "threads": os.environ.get("OMP_NUM_THREADS"),
                                "gpu": os.environ.get("CUDA_VISIBLE_DEVICES")}) + "\\n")
    seed = int(opts["SEED"])
    if os.environ.get("FAKE_FAIL_SEED") == str(seed):
        sys.exit(1)
    if opts.get("ACTIVE.SELECT_ITER") == "[]":
        strategy, budget = "source-only", 0.0
    elif opts.get("ACTIVE.SELECT_ITER") == "[0]":
        strategy, budget = "full", 1.0
    else:
        strategy, budget = opts["ACTIVE.NAME"], float(opts["ACTIVE.RATIO"])
    gain = {"AL-DWACA": 0.05, "AL-RIPU": 0.03, "entropy": 0.01, "random": 0.0, "source-only": -0.1, "full": 0.2}
    miou = 0.3 + 0.01 * seed ** 2 + gain[strategy] + budget
    regions = int(budget * 1000)
    if os.environ.get("FAKE_SHORT") == f"{strategy} {seed}":
        regions -= 1
    out.mkdir(parents=True, exist_ok=True)
    (out / "pool").mkdir(exist_ok=True)
    (out / "pool" / "manifest.json").write_text(json.dumps({
        "pixels_total": 9 * regions - seed if regions else 0, "budget_pixels": 9 * int(budget * 1000),
        "rounds": [{"regions": regions, **({"class_pixels": [seed + 1, 2] + [0] * 17 + [1],
                                            "class_weights": [1.0, seed / 4] + [1.0] * 17}
                                           if os.environ.get("FAKE_METRICS") else {})}]}))
    if os.environ.get("FAKE_METRICS"):
        lines = [{"kind": "train", "iteration": i, "loss/total": i + seed} for i in (1, 2)]
        lines += [{"kind": "round", "iteration": 1, "round": 1, "seconds": 2.0 * (seed + 1)}]
        (out / "metrics.jsonl").write_text("".join(json.dumps(line) + "\\n" for line in lines))
    (out / "results.json").write_text(json.dumps({
        "mIoU": miou, "pixel_acc": 0.9, "per_class_iou": {"road": miou + 0.1, "sky": miou - 0.1, "truck": None}}))
''')

GRID = ["--strategies", "AL-DWACA,random", "--budgets", "0.01,0.05", "--seeds", "0,1,2", "--jobs", "3",
        "--threads", "2"]


def fake_miou(strategy, budget, seed):
    gain = {"AL-DWACA": 0.05, "random": 0.0, "source-only": -0.1, "full": 0.2}
    return 0.3 + 0.01 * seed ** 2 + gain[strategy] + budget


@pytest.fixture
def sweep(tmp_path, monkeypatch):
    """``sweep(*argv)``: tools/sweep.py's main with the fake training script (its exit status, errors as the tool
    reports them); ``sweep.out`` the sweep's folder, ``sweep.calls()`` the fake trainings started so far."""
    tool = load_tool("sweep")
    script = tmp_path / "fake_train.py"
    script.write_text(FAKE_TRAIN)
    monkeypatch.setattr(tool, "TRAIN_SCRIPT", script)
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls.jsonl"))
    out = tmp_path / "sweep"

    def run(*argv, out_dir=out):
        try:
            return run_main(tool.main, ["-cfg", str(CONFIG), "--out", str(out_dir), *map(str, argv)])
        except SystemExit as exit_:
            return exit_.code
    run.out = out
    run.calls = lambda: ([json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
                         if (tmp_path / "calls.jsonl").is_file() else [])
    return run


# -- statistics -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p,df,expected", T_TABLE)
def test_t_quantile_matches_the_tables(p, df, expected):
    assert student_t_quantile(p, df) == pytest.approx(expected, rel=2e-7)
    assert student_t_quantile(1 - p, df) == pytest.approx(-expected, rel=2e-7)


def test_t_quantile_matches_the_closed_forms_and_inverts_the_cdf():
    rng = random.Random(0)
    for _ in range(50):
        p = rng.uniform(0.001, 0.999)
        assert student_t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9, abs=1e-12)
        assert student_t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-9,
                                                         abs=1e-12)
        df = rng.uniform(0.5, 200)
        assert student_t_cdf(student_t_quantile(p, df), df) == pytest.approx(p, abs=1e-12)
    with pytest.raises(ValueError, match="0 < p < 1"):
        student_t_quantile(1.0, 3)


@pytest.mark.parametrize("values,mean,std,t", [
    ([0.30, 0.34], 0.32, math.sqrt(0.0008), 12.7062047),                   # n = 2: deviations +-0.02
    ([0.1, 0.2, 0.3], 0.2, 0.1, 4.3026527),                                # n = 3: squares 0.01 + 0 + 0.01 over 2
    ([1.0, 2.0, 3.0, 4.0, 5.0], 3.0, math.sqrt(2.5), 2.7764451),           # n = 5: 10 / 4
])
def test_mean_std_and_interval_by_hand(values, mean, std, t):
    d = describe(values)
    half = t * std / math.sqrt(len(values))
    assert d["n"] == len(values)
    assert d["mean"] == pytest.approx(mean) and d["std"] == pytest.approx(std)
    assert d["half_width"] == pytest.approx(half, rel=1e-7)
    assert (d["low"], d["high"]) == (pytest.approx(mean - half, rel=1e-7), pytest.approx(mean + half, rel=1e-7))


def test_one_value_has_no_spread_and_none_has_no_mean():
    assert describe([0.4]) == {"n": 1, "mean": 0.4, "std": None, "half_width": None, "low": None, "high": None}
    assert describe([])["mean"] is None


def test_paired_difference_over_common_seeds_only():
    d = paired_difference({0: 0.5, 1: 0.6, 2: 0.7}, {1: 0.4, 2: 0.65, 3: 0.1})
    assert d["seeds"] == [1, 2] and d["n"] == 2
    # differences 0.2 and 0.05: mean 0.125, std sqrt(2 * 0.075^2) = 0.075 * sqrt(2)
    assert d["mean"] == pytest.approx(0.125) and d["std"] == pytest.approx(0.075 * math.sqrt(2))
    assert d["half_width"] == pytest.approx(12.7062047 * 0.075, rel=1e-7)


def test_red_only_on_a_terminal():
    class Terminal:
        def isatty(self):
            return True
    assert red("x", Terminal()) == "\033[31mx\033[0m"
    assert red("x", open(os.devnull, "w")) == "x"


# -- a sweep with the fake training -----------------------------------------------------------------------------


def test_sweep_writes_summary_tables_and_figures(sweep):
    assert sweep(*GRID) == 0
    calls = sweep.calls()
    assert len(calls) == 2 * 2 * 3 + 2 * 3  # the grid, then source-only and full per seed
    assert {c["threads"] for c in calls} == {"2"} and {c["gpu"] for c in calls} == {None}
    folders = {c["argv"][c["argv"].index("OUTPUT_DIR") + 1] for c in calls}
    assert folders == {str(sweep.out / s / b / str(seed)) for s in ("AL-DWACA", "random") for b in ("0.01", "0.05")
                       for seed in range(3)} | {str(sweep.out / r / str(seed)) for r in ("source-only", "full")
                                                for seed in range(3)}
    assert all(c["argv"][-2:] == ["resume", "auto"] for c in calls)
    result = json.loads((sweep.out / "summary.json").read_text())
    assert {"runs", "summary", "paired"} <= result.keys() and result["baseline"] == "random"
    assert len(result["runs"]) == 18 and all({"strategy", "budget", "seed"} <= r.keys() for r in result["runs"])
    for record in result["runs"] + result["summary"] + result["paired"]:
        assert not any(isinstance(v, dict) for v in record.values())  # flat
    cell = next(r for r in result["summary"] if (r["strategy"], r["budget"]) == ("AL-DWACA", 0.05))
    values = [fake_miou("AL-DWACA", 0.05, s) for s in range(3)]
    assert cell["n"] == 3 and cell["mean"] == pytest.approx(sum(values) / 3)
    assert cell["std"] == pytest.approx(describe(values)["std"])
    full = next(r for r in result["summary"] if r["strategy"] == "full")
    assert full["budget"] is None
    assert full["mean"] == pytest.approx(sum(fake_miou("full", 1.0, s) for s in range(3)) / 3)
    paired = {(r["strategy"], r["budget"]): r for r in result["paired"]}
    assert set(paired) == {("AL-DWACA", 0.01), ("AL-DWACA", 0.05)}  # the baseline's own and the reference rows not
    assert paired[("AL-DWACA", 0.05)]["mean"] == pytest.approx(0.05) and paired[("AL-DWACA", 0.05)]["std"] < 1e-12
    road = next(r for r in result["per_class"] if (r["strategy"], r["budget"], r["class"]) == ("AL-DWACA", 0.01,
                                                                                                  "road"))
    assert road["gain"] == pytest.approx(0.05) and road["gain_n"] == 3
    truck = next(r for r in result["per_class"] if r["class"] == "truck")
    assert truck["mean_iou"] is None and truck["gain"] is None
    assert result["budget_mismatch"] == [] and len(result["budget_check"]) == 2 * 3 and result["missing"] == []

    md = (sweep.out / "summary.md").read_text()
    assert f"| AL-DWACA | 0.05 | 3 | {100 * sum(values) / 3:.2f} |" in md
    assert "| AL-DWACA | 0.05 | 3 | 0, 1, 2 | +5.00 | [+5.00, +5.00] |" in md
    assert "## Per-class IoU" in md and "| truck | – |" in md
    for name in ("budget_curve.png", "per_class_gain.png"):
        data = (sweep.out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert not (sweep.out / "training_curves.png").exists()  # the fake runs wrote no metrics.jsonl


def test_training_curves_average_the_runs_metrics_over_seeds(sweep, monkeypatch):
    monkeypatch.setenv("FAKE_METRICS", "1")
    assert sweep("--strategies", "AL-DWACA,random", "--budgets", "0.01,0.05", "--seeds", "0,1,2", "--references",
                 "full") == 0
    curves = {(c["strategy"], c["budget"]): c for c in read_curves(recorded_runs(sweep.out,
                                                                              read_sweep_record(sweep.out)))}
    assert set(curves) == {(s, b) for s in ("AL-DWACA", "random") for b in (0.01, 0.05)} | {("full", None)}
    assert curves[("random", 0.05)]["n"] == 3
    assert curves[("random", 0.05)]["loss"] == {1: 2.0, 2: 3.0}  # (i + 0 + i + 1 + i + 2) / 3
    assert curves[("full", None)]["round_seconds"] == {1: 4.0}  # (2 + 4 + 6) / 3
    data = (sweep.out / "training_curves.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    purchases = {(c["strategy"], c["budget"]): c for c in read_purchases(recorded_runs(sweep.out,
                                                                                   read_sweep_record(sweep.out)))}
    cell = purchases[("AL-DWACA", 0.05)]
    assert cell["n"] == 3 and cell["class_share"] == pytest.approx([(1 / 4 + 2 / 5 + 3 / 6) / 3,
                                                                    (2 / 4 + 2 / 5 + 2 / 6) / 3] + [0] * 17 +
                                                                   [(1 / 4 + 1 / 5 + 1 / 6) / 3])
    assert cell["weights"] == [[1.0, pytest.approx(0.25)] + [1.0] * 17]  # (0 + 1/4 + 2/4) / 3
    assert (sweep.out / "purchases.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_skips_finished_runs_and_resumes_unfinished_ones(sweep, capsys):
    grid = ["--strategies", "AL-DWACA,random", "--budgets", "0.05", "--seeds", "0,1", "--references", ""]
    assert sweep(*grid) == 0 and len(sweep.calls()) == 4
    assert sweep(*grid) == 0 and len(sweep.calls()) == 4  # all finished: nothing started
    (sweep.out / "random" / "0.05" / "1" / "results.json").unlink()  # as a run killed before its end leaves it
    capsys.readouterr()
    assert sweep(*grid) == 0
    assert "3 finished already, 1 to run, 1 of them resumed" in capsys.readouterr().out
    calls = sweep.calls()
    assert len(calls) == 5 and calls[-1]["argv"] == calls[3]["argv"]  # the same arguments, `resume auto` among them
    assert "random/0.05/1" in calls[-1]["argv"][calls[-1]["argv"].index("OUTPUT_DIR") + 1]
    # a new seed extends the sweep: only its runs start, and the summary covers all
    assert sweep(*grid[:-4], "--seeds", "0,1,2", "--references", "") == 0 and len(sweep.calls()) == 7
    result = json.loads((sweep.out / "summary.json").read_text())
    assert {r["n"] for r in result["summary"]} == {3}


def test_changed_override_for_an_existing_run_is_refused_naming_it(sweep, capsys):
    grid = ["--strategies", "random", "--budgets", "0.05", "--seeds", "0", "--references", ""]
    assert sweep(*grid, "SOLVER.BASE_LR", "0.02") == 0
    before = sorted(p for p in sweep.out.rglob("*"))
    capsys.readouterr()
    assert sweep(*grid, "SOLVER.BASE_LR", "0.03") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(sweep.out / "random" / "0.05" / "0") in err
    assert "SOLVER.BASE_LR 0.02; this sweep has SOLVER.BASE_LR 0.03" in err
    assert sorted(p for p in sweep.out.rglob("*")) == before and len(sweep.calls()) == 1


def test_an_edited_config_file_is_refused_for_existing_runs(sweep, tmp_path, capsys):
    config = tmp_path / "cfg.yaml"
    config.write_text(CONFIG.read_text())
    grid = ["-cfg", config, "--strategies", "random", "--budgets", "0.05", "--seeds", "0", "--references", ""]
    assert sweep(*grid) == 0
    config.write_text(CONFIG.read_text().replace("BASE_LR: 0.01", "BASE_LR: 0.02"))
    capsys.readouterr()
    assert sweep(*grid) == 2
    assert "was started with another content of" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--strategies", "AL-DWACA,greedy", "--budgets", "0.05"], "--strategies: 'greedy' is not one of"),
    (["--budgets", "0.05,1.5"], "--budgets: '1.5' is no ACTIVE.RATIO of the RA setting, a fraction in (0, 1]"),
    (["--budgets", "0"], "--budgets: '0' is no ACTIVE.RATIO"),
    (["--budgets", "0", "ACTIVE.SETTING", "PA"], "--budgets: '0' is no ACTIVE.PIXELS of the PA setting"),
    (["--budgets", "0.05", "SOLVER.NO_SUCH_KEY", "1"], "unknown config key 'SOLVER.NO_SUCH_KEY'"),
    (["--budgets", "0.05", "ACTIVE.RATIO", "0.1"], "override ACTIVE.RATIO: the sweep sets"),
    (["--budgets", "0.05", "--seeds", "0,x"], "--seeds: 'x' is not an integer"),
    (["--budgets", "0.05", "--strategies", "AL-DWACA", "--baseline", "random"], "--baseline 'random' is none of"),
    (["--budgets", "0.05", "ACTIVE.RADIUS_K", "40"], "ACTIVE.RADIUS_K must be an integer in 0..32"),
    (["--budgets", "0.05", "--strategies", "AL-RIPU@smoothed"], "'AL-RIPU@smoothed': only AL-DWACA takes a weight"),
    (["--budgets", "0.05", "--strategies", "AL-DWACA@best"], "'AL-DWACA@best': only AL-DWACA takes a weight mode"),
    (["--budgets", "0.05", "--strategies", "AL-DWACA@shrunk+hard"], "'AL-DWACA@shrunk+hard': only AL-DWACA takes"),
    (["--budgets", "0.05", "--strategies", "AL-DWACA@+soft"], "'AL-DWACA@+soft': only AL-DWACA takes a weight mode"),
    (["--budgets", "0.05", "--strategies", "AL-DWACA,AL-DWACA@shrunk+soft", "--baseline", "AL-DWACA",
      "ACTIVE.SOFT_WEIGHTS", "False"], "override ACTIVE.SOFT_WEIGHTS: the strategies AL-DWACA@<mode>[+soft] set it"),
    (["--budgets", "0.05", "--strategies", "AL-DWACA,AL-DWACA@smoothed", "--baseline", "AL-DWACA",
      "ACTIVE.WEIGHT_MODE", "dwaca"], "override ACTIVE.WEIGHT_MODE: the strategies AL-DWACA@<mode>[+soft] set it"),
])
def test_mistakes_are_one_line_before_anything_is_written(sweep, capsys, argv, message):
    assert sweep(*argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not sweep.out.exists() and sweep.calls() == []


def test_each_run_config_is_checked_naming_the_run(tmp_path):
    runs = plan_runs(tmp_path, CONFIG, "RA", ["random"], [0.05, 1.5], [0], ["full"], [])
    check_run_configs([runs[0], runs[2]])
    with pytest.raises(SweepError, match=r"^random budget 1.5 seed 0 \(.*/random/1.5/0\): .*ACTIVE.RATIO must be in "
                                         r"\(0, 1\], got 1.5$"):
        check_run_configs(runs)
    assert runs[2].argv[-12:] == ("ACTIVE.NAME", "random", "ACTIVE.SETTING", "RA", "ACTIVE.RADIUS_K", "0",
                                  "ACTIVE.RATIO", "1.0", "ACTIVE.SELECT_ITER", "[0]", "resume", "auto")


def test_a_weight_mode_variant_is_its_own_strategy(tmp_path):
    runs = plan_runs(tmp_path, CONFIG, "RA", parse_strategies("AL-DWACA,AL-DWACA@smoothed,AL-DWACA@shrunk+soft"),
                     [0.05], [1], [], [])
    assert [r.folder for r in runs] == [tmp_path / "AL-DWACA" / "0.05" / "1",
                                        tmp_path / "AL-DWACA@smoothed" / "0.05" / "1",
                                        tmp_path / "AL-DWACA@shrunk+soft" / "0.05" / "1"]
    assert runs[0].argv[6:8] == ("ACTIVE.NAME", "AL-DWACA") and "ACTIVE.WEIGHT_MODE" not in runs[0].argv
    assert runs[1].argv[6:10] == ("ACTIVE.NAME", "AL-DWACA", "ACTIVE.WEIGHT_MODE", "smoothed")
    assert "ACTIVE.SOFT_WEIGHTS" not in runs[1].argv
    assert runs[2].argv[6:12] == ("ACTIVE.NAME", "AL-DWACA", "ACTIVE.WEIGHT_MODE", "shrunk", "ACTIVE.SOFT_WEIGHTS",
                                  "True")
    check_run_configs(runs)


def test_pa_budgets_are_pixel_counts(tmp_path):
    runs = plan_runs(tmp_path, CONFIG, "PA", ["AL-RIPU"], parse_budgets("40, 80", "PA"), [3], [], ["A.B", "1"])
    assert [r.folder for r in runs] == [tmp_path / "AL-RIPU" / "40" / "3", tmp_path / "AL-RIPU" / "80" / "3"]
    assert runs[0].argv[6:16] == ("ACTIVE.NAME", "AL-RIPU", "ACTIVE.PIXELS", "40", "SOLVER.KEEP_CHECKPOINTS", "1",
                                  "SOLVER.KEEP_ROUND_CHECKPOINTS", "False", "A.B", "1")  # the user's keys win
    with pytest.raises(SweepError, match="'2.5' is no ACTIVE.PIXELS"):
        parse_budgets("2.5", "PA")
    assert parse_budgets("5e-2,0.1", "RA") == [0.05, 0.1]


def test_out_holding_something_else_or_another_sweep_is_refused(sweep, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    assert sweep("--budgets", "0.05", out_dir=other) == 2
    assert "is not empty and holds no sweep.json" in capsys.readouterr().err
    grid = ["--strategies", "random", "--budgets", "0.05", "--seeds", "0", "--references", ""]
    assert sweep(*grid) == 0
    record = (sweep.out / "sweep.json").read_bytes()
    assert sweep(*grid[:-4], "--seeds", "1", "--references", "", "SOLVER.BASE_LR", "0.02") == 2
    assert "holds another sweep (overrides" in capsys.readouterr().err
    assert (sweep.out / "sweep.json").read_bytes() == record and len(sweep.calls()) == 1


def test_budget_mismatch_is_reported_and_recorded(sweep, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_SHORT", "random 1")  # random buys one region less at seed 1
    assert sweep("--strategies", "AL-DWACA,random", "--budgets", "0.05", "--seeds", "0,1", "--references", "") == 0
    err = capsys.readouterr().err
    assert ("BUDGET MISMATCH at budget 0.05, seed 1: AL-DWACA 449 pixels (50 regions, budget 450), random 440 "
            "pixels (49 regions, budget 450)") in err
    result = json.loads((sweep.out / "summary.json").read_text())
    assert [(m["budget"], m["seed"], m["regions"]) for m in result["budget_mismatch"]] == [(0.05, 1, [50, 49])]
    assert "BUDGET MISMATCH" in (sweep.out / "summary.md").read_text()
    # pixel counts that differ with equal regions (windows clipped at the border) are no mismatch
    assert all(c["equal"] for c in result["budget_check"] if c["seed"] == 0)


def test_failed_run_is_reported_the_others_summarised(sweep, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_FAIL_SEED", "1")
    assert sweep("--strategies", "random", "--budgets", "0.05", "--seeds", "0,1", "--references", "") == 1
    captured = capsys.readouterr()
    assert "random budget 0.05 seed 1: FAILED (exit status 1)" in captured.out
    assert "1 of 2 runs failed" in captured.err
    result = json.loads((sweep.out / "summary.json").read_text())
    assert result["missing"] == [str(sweep.out / "random" / "0.05" / "1")] and len(result["runs"]) == 1
    assert "mIoU 35.00 %" in captured.out  # seed 0's progress line: 0.3 + 0.05


def test_one_job_per_gpu(sweep):
    assert sweep("--strategies", "random", "--budgets", "0.05", "--seeds", "0,1,2,3", "--references", "",
                 "--gpus", "3,5", "--jobs", "4") == 0
    assert {c["gpu"] for c in sweep.calls()} <= {"3", "5"} and len(sweep.calls()) == 4


def test_aggregate_only_with_another_baseline(sweep, capsys):
    assert sweep("--strategies", "AL-DWACA,random", "--budgets", "0.05", "--seeds", "0,1") == 0
    calls = len(sweep.calls())
    tool = load_tool("sweep")
    assert tool.main(["--out", str(sweep.out), "--aggregate-only", "--baseline", "source-only"]) == 0
    assert len(sweep.calls()) == calls
    result = json.loads((sweep.out / "summary.json").read_text())
    paired = {(r["strategy"], r["budget"]): r["mean"] for r in result["paired"]}
    assert paired == {("AL-DWACA", 0.05): pytest.approx(0.15 + 0.05), ("random", 0.05): pytest.approx(0.1 + 0.05)}


# -- real trainings ----------------------------------------------------------------------------------------------

TINY = ["INPUT.SOURCE_INPUT_SIZE_TRAIN", "(64, 32)", "INPUT.TARGET_INPUT_SIZE_TRAIN", "(64, 32)",
        "INPUT.INPUT_SIZE_TEST", "(64, 32)", "INPUT.INPUT_SCALES_TRAIN", "(1.0, 1.0)", "SOLVER.MAX_ITER", "3",
        "SOLVER.STOP_ITER", "3", "SOLVER.CHECKPOINT_PERIOD", "3", "SOLVER.BATCH_SIZE", "2", "TEST.BATCH_SIZE", "3",
        "SOLVER.BATCH_SIZE_VAL", "3", "ACTIVE.BATCH_SIZE", "2", "ACTIVE.SELECT_ITER", "[1]"]


@pytest.fixture(scope="module")
def tiny_data(make_benchmark):
    return make_benchmark(num_source=4, num_target_train=4, num_target_val=3)


@pytest.mark.slow
def test_reference_rows_train_without_and_with_every_target_label(tiny_data, tmp_path):
    torch.set_num_threads(1)
    runs = {}
    for name, keys in REFERENCE_KEYS.items():
        cfg = load_config(str(CONFIG), ["DATASETS.ROOT", str(tiny_data), "OUTPUT_DIR", str(tmp_path / name),
                                        "SEED", "0", *TINY, *keys])
        runs[name] = train(cfg)
    assert runs["source-only"]["rounds_done"] == 0 and not (tmp_path / "source-only" / "pool").exists()
    manifest = json.loads((tmp_path / "full" / "pool" / "manifest.json").read_text())
    assert manifest["pixels_total"] == manifest["budget_pixels"] == 4 * 64 * 32  # every pixel of every image
    assert [r["iteration"] for r in manifest["rounds"]] == [0]


@pytest.mark.slow
def test_real_sweep_two_strategies_two_seeds(tiny_data, tmp_path, capsys):
    tool = load_tool("sweep")
    out = tmp_path / "sweep"
    argv = ["-cfg", str(CONFIG), "--strategies", "AL-DWACA,random", "--budgets", "0.1", "--seeds", "0,1",
            "--references", "", "--jobs", "2", "--threads", "1", "--out", str(out), "DATASETS.ROOT", str(tiny_data),
            *TINY]
    assert tool.main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.count("mIoU ") >= 4 and "left" in printed
    result = json.loads((out / "summary.json").read_text())
    assert len(result["runs"]) == 4 and not result["budget_mismatch"]
    for record in result["runs"]:
        results = json.loads((out / record["strategy"] / "0.1" / str(record["seed"]) / "results.json").read_text())
        assert record["mIoU"] == results["mIoU"] and record["rounds"] == 1
        assert [p.name for p in Path(record["folder"]).glob("*.pth")] == [Path(results["checkpoint"]).name]
    assert (out / "training_curves.png").is_file() and (out / "purchases.png").is_file()
    assert tool.main(argv) == 0  # all finished: nothing retrained
    assert "4 finished already, 0 to run" in capsys.readouterr().out

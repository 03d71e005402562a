#!/usr/bin/env python
"""The CPU demo (``make demo``): DWACA vs random region selection at the same budget on the synthetic benchmark.

    python tools/demo.py --out demo_out

1. writes the procedural GTAV-format -> Cityscapes-format benchmark to OUT/data (skipped when present);
2. trains configs/synthetic/dwaca_RA_5%.yaml (DWACA, RA, 5% of every target image in 5 rounds) and
   configs/synthetic/random_RA_5%.yaml (random regions, same budget, same seed) with tools/train.py, both on the
   CPU; by default as two single-threaded processes side by side, which uses two cores without the OpenMP
   contention a 2-thread process suffers on a shared machine (``--jobs 1`` runs them one after the other);
3. prints both per-class IoU tables side by side, saves OUT/per_class_iou.png and OUT/selected_regions.png and
   OUT/demo_summary.json (mIoUs, budgets, timings).
Each run's log and results are in OUT/<run>/ (log.txt, results.json, pool/, model_iter000300.pth).
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
try:
    import dwaca  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

from dwaca.active import LabelPool  # noqa: E402
from dwaca.config import at_least, load_config, make_dir, run_main  # noqa: E402
from dwaca.data import CityscapesDataset, class_names  # noqa: E402
from dwaca.data.synthetic import generate_benchmark  # noqa: E402

RUNS = (("DWACA", "dwaca_RA_5%.yaml", "dwaca_RA_5"), ("random", "random_RA_5%.yaml", "random_RA_5"))


def _last_iter_line(log_path):
    try:
        lines = [ln for ln in Path(log_path).read_text().splitlines() if " iter " in ln or "selection round" in ln]
    except OSError:
        return "starting"
    if not lines:
        return "starting"
    return lines[-1].split(": ", 1)[-1][:90]


def train_overrides(data, out_dir, seed, extra):
    """The KEY VALUE overrides of a demo training: the benchmark, the run's folder, the seed, then the user's."""
    return ["DATASETS.ROOT", str(data), "OUTPUT_DIR", str(out_dir), "SEED", str(seed), *extra]


def run_trainings(runs, data, seed, jobs, threads, extra):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    pending = list(runs)
    active = []
    times = {}
    while pending or active:
        while pending and len(active) < jobs:
            label, cfg_file, out_dir = pending.pop(0)
            if out_dir.exists():
                shutil.rmtree(out_dir)  # the demo's own output from an earlier run
            out_dir.mkdir(parents=True)
            cmd = [sys.executable, str(REPO / "tools" / "train.py"), "-cfg", str(cfg_file),
                   *train_overrides(data, out_dir, seed, extra)]
            stdout = open(out_dir / "stdout.txt", "w")
            print(f"[demo] training {label}: {' '.join(cmd[1:])}", flush=True)
            active.append((label, out_dir, subprocess.Popen(cmd, cwd=REPO, env=env, stdout=stdout,
                                                            stderr=subprocess.STDOUT), stdout, time.time()))
        time.sleep(2)
        for entry in list(active):
            label, out_dir, proc, stdout, t0 = entry
            if proc.poll() is None:
                continue
            stdout.close()
            active.remove(entry)
            times[label] = time.time() - t0
            if proc.returncode != 0:
                for _, _, other, _, _ in active:
                    other.terminate()
                tail = "\n".join((out_dir / "stdout.txt").read_text().splitlines()[-30:])
                raise SystemExit(f"[demo] training {label} failed (exit {proc.returncode}); last lines of "
                                 f"{out_dir / 'stdout.txt'}:\n{tail}")
            print(f"[demo] {label} finished in {times[label]:.0f} s", flush=True)
        if active and int(time.time()) % 30 < 2:
            print("[demo] " + " | ".join(f"{lbl}: {_last_iter_line(d / 'log.txt')}" for lbl, d, *_ in active),
                  flush=True)
    return times


def side_by_side(names, results):
    labels = list(results)
    width = max(len(n) for n in names + ["mIoU"])
    lines = [f"{'class':<{width}}" + "".join(f"{lbl:>10}" for lbl in labels)
             + (f"{'diff':>9}" if len(labels) == 2 else "")]

    def fmt(v):
        return "     n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:8.2f}"
    for n in names + ["mIoU"]:
        vals = [results[lbl]["mIoU"] if n == "mIoU" else results[lbl]["per_class_iou"].get(n) for lbl in labels]
        row = f"{n:<{width}}" + "".join(f"{fmt(v):>10}" for v in vals)
        if len(vals) == 2 and None not in vals:
            row += f"{100 * (vals[0] - vals[1]):+9.2f}"
        lines.append(row)
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="demo_out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=at_least(1), default=2, help="trainings run at once (default 2, one per core)")
    p.add_argument("--threads", type=at_least(1), default=1, help="torch threads per training (default 1)")
    p.add_argument("--num-source", type=at_least(1), default=200)
    p.add_argument("--num-target-train", type=at_least(1), default=100)
    p.add_argument("--num-target-val", type=at_least(1), default=50)
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides for both trainings")
    args = p.parse_args(argv)
    t_start = time.time()
    out = make_dir(Path(args.out).resolve(), "--out")
    data = out / "data"
    runs = [(label, REPO / "configs" / "synthetic" / cfg, out / sub) for label, cfg, sub in RUNS]
    # a bad override fails here, before run_trainings deletes the previous demo's run folders
    configs = [load_config(str(cfg_file), train_overrides(data, out_dir, args.seed, args.opts))
               for _, cfg_file, out_dir in runs]
    num_classes = int(configs[0].MODEL.NUM_CLASSES)  # both runs get the same overrides

    if (data / "gtav").is_dir() and (data / "cityscapes").is_dir():
        print(f"[demo] benchmark present in {data}, not regenerated", flush=True)
        t_gen = 0.0
    else:
        t0 = time.time()
        generate_benchmark(data, seed=args.seed, num_source=args.num_source, num_target_train=args.num_target_train,
                           num_target_val=args.num_target_val, overwrite=True)
        t_gen = time.time() - t0
        print(f"[demo] generated the synthetic benchmark in {data} in {t_gen:.0f} s", flush=True)

    times = run_trainings(runs, data, args.seed, args.jobs, args.threads, args.opts)

    results = {label: json.loads((d / "results.json").read_text()) for label, _, d in runs}
    pools = {label: LabelPool(d / "pool") for label, _, d in runs}
    names = class_names(num_classes)
    print()
    print("per-class IoU (%) on cityscapes_val of the synthetic benchmark, RA 5% in 5 rounds, same budget & seed")
    print(side_by_side(names, results))
    for label in results:
        pool = pools[label]
        print(f"{label:>7}: {pool.pixels_total} pixels annotated of a {pool.budget_pixels}-pixel budget, "
              f"{pool.rounds_done} rounds, training+selection+eval {times[label]:.0f} s")
    if pools["DWACA"].budget_pixels != pools["random"].budget_pixels:
        raise SystemExit("[demo] the two runs had different budgets")

    from visualize import plot_per_class_iou, plot_selected_regions
    plot_per_class_iou(out / "per_class_iou.png", names, {lbl: r["per_class_iou"] for lbl, r in results.items()},
                       title="synthetic GTAV -> Cityscapes, 5% regions: per-class IoU")
    ds = CityscapesDataset(data / "cityscapes", "train", num_classes)
    index = 0
    gt = ds.load_train_ids(index)
    image = ds.load_image(index, gt.shape).permute(1, 2, 0).numpy()
    plot_selected_regions(out / "selected_regions.png", image, {lbl: pools[lbl].mask(ds.names[index])
                                                                 for lbl in pools}, gt, num_classes,
                          title=f"regions bought over 5 rounds: {ds.names[index]}")
    total = time.time() - t_start
    summary = {"mIoU": {lbl: r["mIoU"] for lbl, r in results.items()},
               "pixels_total": {lbl: pools[lbl].pixels_total for lbl in pools},
               "budget_pixels": {lbl: pools[lbl].budget_pixels for lbl in pools},
               "seconds": {"generation": round(t_gen, 1), **{lbl: round(t, 1) for lbl, t in times.items()},
                           "total": round(total, 1)},
               "jobs": args.jobs, "threads": args.threads}
    (out / "demo_summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\n[demo] wrote {out / 'per_class_iou.png'}, {out / 'selected_regions.png'}, {out / 'demo_summary.json'}")
    print(f"[demo] mIoU DWACA {100 * results['DWACA']['mIoU']:.2f} vs random {100 * results['random']['mIoU']:.2f}; "
          f"total wall time {total:.0f} s ({total / 60:.1f} min)")
    return summary


if __name__ == "__main__":
    run_main(main)

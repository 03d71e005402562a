"""Extension vs reference timings for region scoring and greedy selection, with the bytes-moved floor.

On CUDA it also times the tiled scoring kernel through its bare op (no argument checks, no NaN check sync), with
and without its pixel phase's row reuse, and the sort that select_regions' walk starts from, alone.

    python benchmarks/bench_selection.py [--device cpu|cuda|all] [--json [OUT.json]] [--quick]

--json without a path writes benchmarks/results/<machine>_<date>_<commit>_bench.json (see default_json_path).

Every ratio compares two runs made side by side in this process. Times are medians of
torch.utils.benchmark blocked_autorange; CUDA timings synchronise. The floor is the time to read the logits
once and write the three output maps at this device's measured copy bandwidth.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

import torch
from torch.utils import benchmark

from dwaca import ops
from dwaca._extension import build_info
from dwaca.ops import reference

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name, batch, classes, logits (h, w), output (H, W), regions per image (1 % of the pixels as 3x3 regions)
CASES = {
    "cpu": ("cpu-size 19x512x1024", 1, 19, (512, 1024), (512, 1024), round(0.01 * 512 * 1024 / 9)),
    "cityscapes": ("cityscapes 19x640x1280->1024x2048", 1, 19, (640, 1280), (1024, 2048),
                   round(0.01 * 1024 * 2048 / 9)),
}


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def median_time(fn, device, min_run_time, min_runs=3):
    """Median of at least `min_runs` timed runs (a slow function fills the time budget with one run)."""
    fn()
    sync(device)
    t = benchmark.Timer(stmt="fn(); sync(device)", globals=dict(fn=fn, sync=sync, device=device))
    times = list(t.blocked_autorange(min_run_time=min_run_time).times)
    while len(times) < min_runs:
        times.append(t.timeit(1).median)
    return statistics.median(times)


def copy_bandwidth(device):
    """Bytes read + written per second by a large tensor copy on this device."""
    x = torch.empty(64 * 2**20, dtype=torch.float32, device=device).uniform_()
    y = torch.empty_like(x)
    t = median_time(lambda: y.copy_(x), device, 1.0)
    return 2 * x.numel() * 4 / t


def peak_extra_bytes(fn, device):
    if device != "cuda":
        return None
    fn()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    out = fn()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    del out
    return peak


def run_case(key, device, batch, bw, quick, skip_reference, failures):
    name, _, C, (h, w), (H, W), regions = CASES[key]
    gen = torch.Generator().manual_seed(0)
    logits = (torch.randn(batch, C, h, w, generator=gen) * 3).to(device)
    cw = torch.rand(C, generator=gen).to(device)
    out_size = (H, W)
    budget = 0.5 if quick else 2.0
    rows = []

    def score_ext():
        return ops.region_score(logits, radius=1, class_weights=cw, out_size=out_size)

    def score_ref():
        return reference.region_score(logits, radius=1, class_weights=cw, out_size=out_size)

    t_ext = median_time(score_ext, device, budget)
    t_ref = None if skip_reference else median_time(score_ref, device, budget)
    floor = (logits.numel() * logits.element_size() + 3 * batch * H * W * 4) / bw
    outputs = 3 * batch * H * W * 4
    rows.append(dict(case=name, op="region_score", device=device, batch=batch, ext_s=t_ext / batch,
                     ref_s=None if t_ref is None else t_ref / batch, floor_s=floor / batch,
                     peak_extra_bytes=peak_extra_bytes(score_ext, device), output_bytes=outputs))

    out = score_ext()
    if device == "cuda":
        for row_reuse, label in [(True, "  tiled kernel, bare op"), (False, "  same, one pixel at a time")]:
            def bare(row_reuse=row_reuse):
                return torch.ops.dwaca_testing.region_score_tiled(logits, cw, None, 1, 0.0, H, W, row_reuse)
            rows.append(dict(case=name, op=label, device=device, batch=batch,
                             ext_s=median_time(bare, device, budget) / batch, ref_s=None, floor_s=None,
                             peak_extra_bytes=None, output_bytes=None))
            if not all(torch.equal(a, b) for a, b in zip(bare(), out)):
                failures.append(f"{label.strip()} differs from region_score ({name}, B={batch})")
    if not skip_reference:  # what was timed must compute the reference's function on this input
        err = max((a - b).abs().max().item() for a, b in zip(out, score_ref()))
        if err > 1e-5:
            print(f"region_score differs from the reference by {err} ({name}, B={batch})", file=sys.stderr)
            failures.append(f"region_score differs by {err} ({name}, B={batch})")
    score = out.score
    t_sel = median_time(lambda: ops.select_regions(score, regions, radius=1), device, budget)
    t_sel_ref = None
    if not skip_reference:
        t0 = time.perf_counter()  # one run: the loop syncs once per region, so it is its own timer
        reps = 1 if quick else 3
        for _ in range(reps):
            reference.select_regions(score, regions, radius=1)
        sync(device)
        t_sel_ref = (time.perf_counter() - t0) / reps
    rows.append(dict(case=name, op=f"select_regions ({regions} regions)", device=device, batch=batch,
                     ext_s=t_sel / batch, ref_s=None if t_sel_ref is None else t_sel_ref / batch, floor_s=None,
                     peak_extra_bytes=None, output_bytes=None))
    # exactness on the benchmark input itself
    a = ops.select_regions(score, regions, radius=1)
    if device == "cuda":
        # the sort the walk starts from, alone: what is left of a call is the walk and the per-call overhead
        flat = score.reshape(batch, -1)
        t_sort = median_time(lambda: torch.sort(flat + 0.0, stable=True, dim=1, descending=True), device, budget)
        rows.append(dict(case=name, op="  its sort alone", device=device, batch=batch, ext_s=t_sort / batch,
                         ref_s=None, floor_s=None, peak_extra_bytes=None, output_bytes=None))
    if not skip_reference:
        b = reference.select_regions(score, regions, radius=1)
        assert all(torch.equal(x, y) for x, y in zip(a, b)), "extension and reference picks differ"
    return rows


def git_commit():
    """Short hash of HEAD, "-dirty" if tracked files differ from it (as git describe --dirty), or "nogit"."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "--short=7", "HEAD")
        return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return "nogit"


def machine_name(devices):
    """h200 for an "NVIDIA H200" (the GPU when one was timed), else cpu-<cores>core."""
    if "cuda" in devices:
        return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name().lower().replace("nvidia", "")).strip("-")
    return f"cpu-{os.cpu_count()}core"


def default_json_path(devices, date, commit):
    """benchmarks/results/<machine>_<date>_<commit>_bench.json, the raw-results naming of RESULTS.md."""
    return os.path.join(REPO, "benchmarks", "results", f"{machine_name(devices)}_{date}_{commit}_bench.json")


def fmt_time(s):
    if s is None:
        return "-"
    return f"{s * 1e6:.1f} us" if s < 1e-3 else (f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s")


def table(rows):
    head = f"{'case':36} {'op':32} {'dev':5} {'B':>2} {'extension':>11} {'reference':>11} {'ratio':>8} {'floor':>10} {'peak extra':>14}"
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = f"{r['ref_s'] / r['ext_s']:.1f}x" if r["ref_s"] else "-"
        peak = "-" if r["peak_extra_bytes"] is None else f"{r['peak_extra_bytes'] / 2**20:.1f}/{r['output_bytes'] / 2**20:.1f} MiB"
        lines.append(f"{r['case']:36} {r['op']:32} {r['device']:5} {r['batch']:>2} {fmt_time(r['ext_s']):>11} "
                     f"{fmt_time(r['ref_s']):>11} {ratio:>8} {fmt_time(r['floor_s']):>10} {peak:>14}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    p.add_argument("--json", nargs="?", const="", metavar="OUT.json",
                   help="write the results here; without a path, to benchmarks/results/ named by machine, date "
                        "and commit")
    p.add_argument("--quick", action="store_true", help="shorter timing budget, CPU size only on CPU")
    args = p.parse_args(argv)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if args.device != "all":
        devices = [args.device]
    rows, machine, failures = [], {}, []
    for device in devices:
        bw = copy_bandwidth(device)
        machine[device] = dict(copy_bandwidth_GBps=bw / 1e9,
                               name=torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine(),
                               threads=torch.get_num_threads() if device == "cpu" else None)
        keys = ["cpu"] if (device == "cpu" and args.quick) else ["cpu", "cityscapes"]
        for key in keys:
            batches = [1, 8] if device == "cuda" else [1]
            for batch in batches:
                # the reference at batch 8 and Cityscapes size needs ~10 GB of temporaries: batch 1 only
                rows += run_case(key, device, batch, bw, args.quick, batch > 1, failures)
    print(table(rows))
    result = dict(rows=rows, machine=machine, torch=torch.__version__, extension=build_info(),
                  python=sys.version.split()[0], cpu_count=os.cpu_count(),
                  date=time.strftime("%Y-%m-%d"), commit=git_commit(), failures=failures)
    print(json.dumps(machine, indent=1))
    if args.json is not None:
        path = args.json or default_json_path(devices, result["date"], result["commit"])
        with open(path, "w") as f:
            json.dump(result, f, indent=1)
        print("results written to", path)
    return result


if __name__ == "__main__":
    sys.exit(1 if main()["failures"] else 0)

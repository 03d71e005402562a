"""Running a sweep's trainings: up to ``jobs`` tools/train.py processes at once, each with ``threads`` torch
threads (OMP_NUM_THREADS / MKL_NUM_THREADS, which torch reads at start-up) and, given ``gpus``, its own GPU
(CUDA_VISIBLE_DEVICES, one job per GPU). Each run's stdout and stderr are appended to ``<run folder>/sweep_log.txt``
(the trainer also writes its own ``log.txt`` there). One line per finished run: its mIoU and the time left,
estimated from the runs finished so far."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .records import RESULTS, is_finished, write_run_record

RUN_LOG = "sweep_log.txt"
RED, RESET = "\033[31m", "\033[0m"


def red(text, stream=None):
    """``text`` in red when ``stream`` (default stderr) is a terminal."""
    return f"{RED}{text}{RESET}" if (stream or sys.stderr).isatty() else text


def format_seconds(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def job_env(threads, gpu):
    """The environment of a training: its threads, its GPU, and this dwaca first on the path (so the trainings run
    the code of the sweep that starts them, installed or not)."""
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONPATH=path)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
    return env


class Launcher:
    """Runs ``runs`` (``grid.Run``) with ``python train_script *run.argv``; ``run_all()`` returns the runs that
    failed. ``say`` prints a line (default: to stdout, flushed)."""

    def __init__(self, train_script, config_sha256, jobs=1, threads=1, gpus=None, python=sys.executable, say=None,
                 poll_seconds=0.2):
        self.train_script, self.config_sha256 = str(train_script), config_sha256
        self.jobs = min(jobs, len(gpus)) if gpus else jobs
        self.threads, self.python, self.poll_seconds = threads, python, poll_seconds
        self.free_gpus = list(gpus) if gpus else None
        self.say = say or (lambda line: print(line, flush=True))

    def start(self, run):
        write_run_record(run, self.config_sha256)
        gpu = self.free_gpus.pop(0) if self.free_gpus is not None else None
        log = open(run.folder / RUN_LOG, "a")
        command = [self.python, self.train_script, *run.argv]
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n")
        log.flush()
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=job_env(self.threads, gpu))
        return {"run": run, "proc": proc, "log": log, "gpu": gpu, "t0": time.time()}

    def finish(self, job, progress):
        """Record a job that ended; True if it succeeded."""
        job["log"].close()
        if self.free_gpus is not None:
            self.free_gpus.append(job["gpu"])
        run, seconds = job["run"], time.time() - job["t0"]
        progress["done"] += 1
        elapsed = time.time() - progress["t0"]
        left = elapsed / progress["done"] * (progress["total"] - progress["done"])
        head = f"[{progress['done']}/{progress['total']}] {run.label}"
        ok = job["proc"].returncode == 0 and is_finished(run)
        if ok:
            miou = json.loads((run.folder / RESULTS).read_text())["mIoU"]
            self.say(f"{head}: mIoU {100 * miou:.2f} % in {format_seconds(seconds)}; about {format_seconds(left)} "
                     "left")
        else:
            self.say(red(f"{head}: FAILED (exit status {job['proc'].returncode}) after {format_seconds(seconds)}; "
                         f"see {run.folder / RUN_LOG}", sys.stdout))
        return ok

    def run_all(self, runs):
        pending, active, failed = list(runs), [], []
        progress = {"done": 0, "total": len(pending), "t0": time.time()}
        try:
            while pending or active:
                while pending and len(active) < self.jobs:
                    active.append(self.start(pending.pop(0)))
                time.sleep(self.poll_seconds)
                for job in [j for j in active if j["proc"].poll() is not None]:
                    active.remove(job)
                    if not self.finish(job, progress):
                        failed.append(job["run"])
        finally:  # an interrupted sweep stops its trainings: a rerun resumes them (`resume auto`)
            for job in active:
                job["proc"].terminate()
            for job in active:
                job["proc"].wait()
                job["log"].close()
        return failed

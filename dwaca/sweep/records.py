"""What a sweep leaves on disk to be resumed and checked: ``OUT/sweep.json`` (the config, the overrides and the
grid) and ``<run folder>/sweep_run.json`` (the run's exact tools/train.py arguments and the config file's SHA-256).
A rerun skips finished runs (``results.json`` present), resumes the others, and refuses a run folder that was
started with other arguments or another config file content, and an OUT that holds another sweep."""
import hashlib
import json
from pathlib import Path

from ..active.pool import MANIFEST
from ..utils.io import atomic_write_json
from .grid import SweepError

SWEEP_RECORD = "sweep.json"
RUN_RECORD = "sweep_run.json"
RESULTS = "results.json"
VERSION = 1


def file_sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_record(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise SweepError(f"cannot read {path}: {err}") from err


def is_finished(run):
    return (run.folder / RESULTS).is_file()


def read_pool_manifest(run):
    """The run's pool manifest ({} if it has none: nothing bought)."""
    path = run.folder / "pool" / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}


def _pairs(argv):
    """{option or key: value} of a tools/train.py argument list (``-cfg FILE KEY VALUE ...``)."""
    return dict(zip(argv[0::2], argv[1::2]))


def argv_differences(was, now):
    """'KEY old, ...; this sweep has KEY new, ...' for the arguments of two tools/train.py argument lists that
    differ ('(none)' for a key one of them lacks), or '' if they agree."""
    was, now = _pairs(was), _pairs(now)
    keys = [k for k in dict.fromkeys([*was, *now]) if was.get(k) != now.get(k)]
    if not keys:
        return ""
    def spell(pairs):
        return ", ".join(f"{k} {pairs.get(k, '(none)')}" for k in keys)
    return f"{spell(was)}; this sweep has {spell(now)}"


def check_run_folder(run, config_sha256):
    """SweepError naming the folder if ``run.folder`` holds a run started with other arguments or another config
    file content, or something this sweep did not start."""
    record_path = run.folder / RUN_RECORD
    if not record_path.is_file():
        if run.folder.is_dir() and any(run.folder.iterdir()):
            raise SweepError(f"{run.folder} is not empty and holds no {RUN_RECORD}: not a run of this sweep; move it "
                             "away or use another --out")
        if run.folder.exists() and not run.folder.is_dir():
            raise SweepError(f"{run.folder} is a file, the folder of {run.label}")
        return
    record = read_record(record_path)
    differ = argv_differences(record.get("argv", []), list(run.argv))
    if differ:
        raise SweepError(f"{run.folder} was started with {differ}: rerun with the same grid and overrides, use "
                         "another --out, or delete that folder")
    if record.get("config_sha256") != config_sha256:
        raise SweepError(f"{run.folder} was started with another content of {run.argv[1]} (SHA-256 "
                         f"{record.get('config_sha256')}, now {config_sha256}): restore the file, use another --out, "
                         "or delete that folder")


def write_run_record(run, config_sha256):
    run.folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run.folder / RUN_RECORD, {"version": VERSION, "strategy": run.strategy, "budget": run.budget,
                                                "seed": run.seed, "argv": list(run.argv),
                                                "config_sha256": config_sha256})


def sweep_record(config_file, config_sha256, overrides, setting, strategies, budgets, seeds, references, baseline):
    return {"version": VERSION, "config_file": str(config_file), "config_sha256": config_sha256,
            "overrides": list(overrides), "setting": setting, "strategies": list(strategies),
            "budgets": list(budgets), "seeds": list(seeds), "references": list(references), "baseline": baseline}


def _union(a, b):
    return list(dict.fromkeys([*a, *b]))


def merge_with_existing(out, record):
    """``record`` merged with the sweep already in ``out`` (its grid extended by this one's), or ``record`` for a
    new or empty ``out``. SweepError if ``out`` is a file, holds other things, or another sweep (another config
    file, setting or overrides)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SweepError(f"--out {out} is a file")
    path = out / SWEEP_RECORD
    if not path.is_file():
        if out.is_dir() and any(out.iterdir()):
            raise SweepError(f"--out {out} is not empty and holds no {SWEEP_RECORD}: use a new or empty folder")
        return record
    old = read_record(path)
    for key in ("config_file", "setting", "overrides"):
        if old.get(key) != record[key]:
            raise SweepError(f"--out {out} holds another sweep ({key} {old.get(key)!r}, this one {record[key]!r}): "
                             "use another --out")
    return {**record, **{key: _union(old.get(key, []), record[key])
                         for key in ("strategies", "budgets", "seeds", "references")}}


def write_sweep_record(out, record):
    Path(out).mkdir(parents=True, exist_ok=True)
    atomic_write_json(Path(out) / SWEEP_RECORD, record)


def read_sweep_record(out):
    path = Path(out) / SWEEP_RECORD
    if not path.is_file():
        raise SweepError(f"--out {out}: no {SWEEP_RECORD}, so no sweep to aggregate")
    return read_record(path)

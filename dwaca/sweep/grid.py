"""The grid of a sweep: one tools/train.py run per (strategy, budget, seed), plus the reference rows, each in its
own folder with its exact argument list.

Folders: ``OUT/<strategy>/<budget>/<seed>`` and ``OUT/<reference>/<seed>``. Every run gets the config file, then
``OUTPUT_DIR``, ``SEED``, the strategy and its budget (``ACTIVE.RATIO`` in the RA setting, ``ACTIVE.PIXELS`` in
PA), ``RETENTION_KEYS`` (only the newest checkpoint stays: the sweep reads results.json and metrics.jsonl, and a
resume needs just that one), the user's overrides (``SOLVER.KEEP_CHECKPOINTS 0`` keeps them all), and
``resume auto`` (a fresh start in a new folder, the continuation of an interrupted
run otherwise). A strategy ``AL-DWACA@<mode>`` is AL-DWACA with ``ACTIVE.WEIGHT_MODE <mode>``, and
``AL-DWACA@<mode>+soft`` adds ``ACTIVE.SOFT_WEIGHTS True``, so the class weightings compare in one sweep, paired by
seed. The reference rows, one run per seed, independent of the budget:

* ``source-only``: ``ACTIVE.SELECT_ITER []``, no selection round, so no target label; the same losses otherwise
  (negative learning on the unlabelled target predictions included).
* ``full``: every target training label, bought by the oracle in one round before the first step:
  ``ACTIVE.SELECT_ITER [0]`` with ``RA``, ``RADIUS_K 0`` (single pixels, no exclusion) and ``RATIO 1.0``, so
  the round plans ``H * W`` pixels per image, i.e. all of them (random scores decide only the order). The labels
  reach the training through the labelled pool, as every other run's.
"""
import argparse
import math
from dataclasses import dataclass
from pathlib import Path

from ..active import SETTINGS, STRATEGIES
from ..active.weights import MODES as WEIGHT_MODES
from ..config import config_from_args
from ..utils.errors import UserError, error_message

REFERENCE_KEYS = {
    "source-only": ("ACTIVE.SELECT_ITER", "[]"),
    "full": ("ACTIVE.NAME", "random", "ACTIVE.SETTING", "RA", "ACTIVE.RADIUS_K", "0", "ACTIVE.RATIO", "1.0",
             "ACTIVE.SELECT_ITER", "[0]"),
}
REFERENCES = tuple(REFERENCE_KEYS)
BUDGET_KEYS = {"RA": "ACTIVE.RATIO", "PA": "ACTIVE.PIXELS"}
RETENTION_KEYS = ("SOLVER.KEEP_CHECKPOINTS", "1", "SOLVER.KEEP_ROUND_CHECKPOINTS", "False")
# set by the sweep for each run: an override of one of them would make the runs' folders lie
SWEEP_KEYS = ("OUTPUT_DIR", "SEED", "ACTIVE.NAME", "ACTIVE.RATIO", "ACTIVE.PIXELS", "resume")


class SweepError(UserError, ValueError):
    """A sweep that cannot run as asked; the message names the option, key or folder."""


@dataclass(frozen=True)
class Run:
    """One training of the sweep. budget: float (RA), int (PA) or None (a reference row); argv: the arguments of
    tools/train.py."""
    strategy: str
    budget: object
    seed: int
    folder: Path
    argv: tuple

    @property
    def label(self):
        budget = "" if self.budget is None else f" budget {budget_name(self.budget)}"
        return f"{self.strategy}{budget} seed {self.seed}"


def budget_name(budget):
    """The budget as the folder and the override spell it: '0.05' (RA, a float), '40' (PA, an int)."""
    return repr(float(budget)) if isinstance(budget, float) else str(int(budget))


def split_list(text, option):
    """The comma-separated items of ``text``; SweepError naming ``option`` for an empty item or a repeated one."""
    items = [item.strip() for item in str(text).split(",")]
    if not all(items):
        raise SweepError(f"{option} {text!r}: expected a comma-separated list without empty items")
    repeated = sorted({item for item in items if items.count(item) > 1})
    if repeated:
        raise SweepError(f"{option} {text!r}: {', '.join(repeated)} given twice")
    return items


def _split_strategy(strategy):
    """(name, weight mode, option) of a --strategies item ``NAME[@MODE[+OPTION]]``; None for a part not given."""
    name, at, variant = strategy.partition("@")
    mode, plus, option = variant.partition("+")
    return name, mode if at else None, option if plus else None


def strategy_keys(strategy):
    """The overrides of a --strategies item: ``NAME`` -> ACTIVE.NAME; ``AL-DWACA@MODE`` adds ACTIVE.WEIGHT_MODE,
    ``AL-DWACA@MODE+soft`` also ACTIVE.SOFT_WEIGHTS True."""
    name, mode, option = _split_strategy(strategy)
    keys = ("ACTIVE.NAME", name)
    if mode is not None:
        keys += ("ACTIVE.WEIGHT_MODE", mode)
    if option is not None:
        keys += ("ACTIVE.SOFT_WEIGHTS", "True")
    return keys


def parse_strategies(text):
    names = split_list(text, "--strategies")
    for item in names:
        name, mode, option = _split_strategy(item)
        if name not in STRATEGIES:
            raise SweepError(f"--strategies: {name!r} is not one of {', '.join(STRATEGIES)}")
        if mode is not None and (name != "AL-DWACA" or mode not in WEIGHT_MODES or option not in (None, "soft")):
            raise SweepError(f"--strategies: {item!r}: only AL-DWACA takes a weight mode, AL-DWACA@<mode> or "
                             f"AL-DWACA@<mode>+soft with <mode> one of {', '.join(WEIGHT_MODES)}")
    return names


def parse_references(text):
    names = split_list(text, "--references") if text else []
    for name in names:
        if name not in REFERENCES:
            raise SweepError(f"--references: {name!r} is not one of {', '.join(REFERENCES)}")
    return names


def parse_seeds(text):
    seeds = []
    for item in split_list(text, "--seeds"):
        if not item.isdigit() or int(item) > 2 ** 31 - 1:
            raise SweepError(f"--seeds: {item!r} is not an integer in 0 .. 2^31-1")
        seeds.append(int(item))
    return seeds


def parse_budgets(text, setting):
    """Budgets of ``setting``: fractions in (0, 1] (RA, ACTIVE.RATIO) or pixel counts >= 1 (PA, ACTIVE.PIXELS)."""
    budgets = []
    for item in split_list(text, "--budgets"):
        try:
            value = float(item) if setting == "RA" else int(item)
        except ValueError:
            value = None
        if setting == "RA" and (value is None or not (math.isfinite(value) and 0 < value <= 1)):
            raise SweepError(f"--budgets: {item!r} is no ACTIVE.RATIO of the RA setting, a fraction in (0, 1]")
        if setting == "PA" and (value is None or value < 1):
            raise SweepError(f"--budgets: {item!r} is no ACTIVE.PIXELS of the PA setting, an integer >= 1")
        budgets.append(value)
    names = [budget_name(b) for b in budgets]
    if len(set(names)) < len(names):
        raise SweepError(f"--budgets {text!r}: the same budget given twice")
    return budgets


def base_setting(config_file, overrides, strategies=()):
    """ACTIVE.SETTING of the config file with the overrides (both checked: an unknown key or a bad value is an
    error naming it); overrides of the keys the sweep sets per run are refused, ACTIVE.WEIGHT_MODE and
    ACTIVE.SOFT_WEIGHTS too when a strategy names its weight mode."""
    if len(overrides) % 2:
        raise SweepError(f"config overrides must be KEY VALUE pairs, got an odd number: {list(overrides)}")
    for key in overrides[0::2]:
        if key in SWEEP_KEYS:
            raise SweepError(f"override {key}: the sweep sets {', '.join(SWEEP_KEYS)} for each run; drop it")
        if key in ("ACTIVE.WEIGHT_MODE", "ACTIVE.SOFT_WEIGHTS") and any("@" in s for s in strategies):
            raise SweepError(f"override {key}: the strategies AL-DWACA@<mode>[+soft] set it for each run; drop it")
    cfg = config_from_args(argparse.Namespace(config_file=config_file, opts=list(overrides)))
    if cfg.ACTIVE.SETTING not in SETTINGS:  # validate_config has refused it already; kept for the key lookup
        raise SweepError(f"ACTIVE.SETTING {cfg.ACTIVE.SETTING!r} is not one of {SETTINGS}")
    return cfg.ACTIVE.SETTING


def plan_runs(out, config_file, setting, strategies, budgets, seeds, references, overrides):
    """Every Run of the grid, strategies first (by strategy, budget, seed), then the reference rows."""
    out, overrides = Path(out), [str(o) for o in overrides]

    def run(strategy, budget, seed, folder, keys):
        argv = ("-cfg", str(config_file), "OUTPUT_DIR", str(folder), "SEED", str(seed), *keys, "resume", "auto")
        return Run(strategy, budget, seed, folder, argv)
    runs = [run(s, b, seed, out / s / budget_name(b) / str(seed),
                (*strategy_keys(s), BUDGET_KEYS[setting], budget_name(b), *RETENTION_KEYS, *overrides))
            for s in strategies for b in budgets for seed in seeds]
    runs += [run(ref, None, seed, out / ref / str(seed), (*RETENTION_KEYS, *overrides, *REFERENCE_KEYS[ref]))
             for ref in references for seed in seeds]
    return runs


def check_run_configs(runs):
    """Load and validate every run's config as tools/train.py will (``config_from_args``); the first problem is a
    SweepError naming the run."""
    for run in runs:
        try:
            config_from_args(argparse.Namespace(config_file=run.argv[1], opts=list(run.argv[2:])))
        except (KeyError, ValueError, TypeError, UserError) as err:
            raise SweepError(f"{run.label} ({run.folder}): {error_message(err)}") from err

"""Comparing selection strategies over seeds and budgets (tools/sweep.py): the grid of runs, their launching, the
statistics and the figures."""
from .aggregate import aggregate
from .grid import REFERENCES, Run, SweepError
from .pipeline import prepare, recorded_runs, run_sweep, write_outputs
from .stats import describe, paired_difference, student_t_quantile

__all__ = ["REFERENCES", "Run", "SweepError", "aggregate", "describe", "paired_difference", "prepare",
           "recorded_runs", "run_sweep", "student_t_quantile", "write_outputs"]

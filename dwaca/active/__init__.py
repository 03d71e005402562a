"""Active selection: dynamic class weights, strategies, the labelled pool and the selection round."""
from .pool import ANNOTATED_VOID, NOT_ANNOTATED, LabelPool, PoolError, atomic_write_bytes, atomic_write_json
from .selection import BudgetError, SETTINGS, oracle_labels, round_plan, run_selection_round, window_area
from .strategies import STRATEGIES, class_weights_for, dilate, strategy_scores
from .weights import dynamic_class_weights

__all__ = ["ANNOTATED_VOID", "BudgetError", "LabelPool", "NOT_ANNOTATED", "PoolError", "SETTINGS", "STRATEGIES",
           "atomic_write_bytes", "atomic_write_json", "class_weights_for", "dilate", "dynamic_class_weights",
           "oracle_labels", "round_plan", "run_selection_round", "strategy_scores", "window_area"]

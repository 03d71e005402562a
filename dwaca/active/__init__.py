"""Active selection: dynamic class weights, strategies, budgets, the labelled pool and the selection round."""
from .budget import SETTINGS, check_active_config, round_plan, window_area
from .errors import AnnotationError, BudgetError, PoolError
from .pool import ANNOTATED_VOID, NOT_ANNOTATED, LabelPool
from .selection import oracle_labels, run_selection_round
from .strategies import STRATEGIES, class_weights_for, dilate, strategy_scores
from .weights import dynamic_class_weights

__all__ = ["ANNOTATED_VOID", "AnnotationError", "BudgetError", "LabelPool", "NOT_ANNOTATED", "PoolError", "SETTINGS",
           "STRATEGIES", "check_active_config", "class_weights_for", "dilate", "dynamic_class_weights",
           "oracle_labels", "round_plan", "run_selection_round", "strategy_scores", "window_area"]

"""Active selection: dynamic class weights, strategies and the labelled pool."""
from .weights import dynamic_class_weights

__all__ = ["dynamic_class_weights"]

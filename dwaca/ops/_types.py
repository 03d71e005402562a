"""The ops' results, shared by the kernels' wrappers and ops.reference."""
from collections import namedtuple

RegionScore = namedtuple("RegionScore", ["score", "impurity", "uncertainty"])
Selection = namedtuple("Selection", ["centers", "selected", "excluded"])

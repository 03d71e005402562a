"""Loads the compiled extension `dwaca._C`; importing it registers the torch.ops.dwaca and dwaca_testing operators."""
import importlib

import torch  # noqa: F401  (loads the libtorch libraries that _C links against)

REBUILD = "rebuild it with `make setup` (or `pip install --no-build-isolation -e .`) in the repository root"


def load():
    try:
        module = importlib.import_module("dwaca._C")
    except ImportError as e:
        raise ImportError(f"dwaca's compiled extension dwaca._C could not be imported ({e}); {REBUILD}") from e
    if not hasattr(module, "build_info"):
        raise ImportError(f"dwaca._C is from another build; {REBUILD}")
    return module


_C = load()


def build_info():
    """How the extension was built: {'cuda': bool, 'cuda_version', 'cuda_arch_list', 'torch_version', ...}."""
    return dict(_C.build_info())


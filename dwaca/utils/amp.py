"""Mixed precision: the autocast dtype that SOLVER.AMP names."""
import torch

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_amp(amp):
    """SOLVER.AMP as a string, '' (off), 'bf16' or 'fp16'; ValueError naming the key otherwise."""
    amp = str(amp or "")
    if amp not in ("", *AMP_DTYPES):
        raise ValueError(f"SOLVER.AMP must be '', 'bf16' or 'fp16', got '{amp}'")
    return amp


def autocast_dtype(amp, device):
    """The autocast dtype of SOLVER.AMP ``amp`` on ``device``, or None: full precision, and always off CUDA."""
    return AMP_DTYPES.get(check_amp(amp)) if device.type == "cuda" else None

"""Argument checks shared by the kernels' wrappers and ops.reference: same errors, naming the argument."""
import math
import numbers

import torch

MAX_RADIUS = 32  # csrc/region_math.h kMaxRadius
MAX_CLASSES = 256  # csrc/region_math.h kMaxClasses
MAX_IMAGE_PIXELS = 2**30  # csrc/region_math.h kMaxImagePixels: h * w and H * W; the kernels' pixel arithmetic is 32-bit
MAX_ELEMENTS = 2**34  # csrc/region_math.h kMaxElements: any tensor an op allocates (64 GiB of float32)
MAX_SELECT_RADIUS = 2**31 - 1  # csrc/region_math.h kMaxSelectRadius
LOGIT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
CLASS_WEIGHTS_VALUES = "class_weights must be finite and >= 0"


def int_arg(name, value, lo=0, hi=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < lo or (hi is not None and value > hi):
        bound = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def real_arg(name, value):
    """A finite float from a real number; an int too large for a float is not finite."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def sigma_arg(sigma):
    sigma = real_arg("sigma", sigma)
    if sigma < 0:
        raise ValueError(f"sigma must be finite and >= 0, got {sigma}")
    return sigma


def logits_arg(logits, out_size, max_classes=MAX_CLASSES):
    """Checks logits and out_size; returns (B, C, H, W) of the output."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if logits.dtype not in LOGIT_DTYPES:
        raise TypeError(f"logits must be float32, float16 or bfloat16, got {logits.dtype}")
    if logits.dim() != 4:
        raise ValueError(f"logits must be 4-D (B, C, h, w), got shape {tuple(logits.shape)}")
    B, C, h, w = logits.shape
    if not 2 <= C <= max_classes:
        raise ValueError(f"logits must have between 2 and {max_classes} classes (dim 1), got {C}")
    if h == 0 or w == 0:
        raise ValueError(f"logits must have non-empty spatial dims, got shape {tuple(logits.shape)}")
    if h * w > MAX_IMAGE_PIXELS:
        raise ValueError(f"logits must have h * w <= 2^30 pixels, got shape {tuple(logits.shape)}")
    if B * C * h * w > MAX_ELEMENTS:
        raise ValueError(f"logits must have B * C * h * w <= 2^34 elements, got shape {tuple(logits.shape)}")
    if out_size is None:
        return B, C, h, w
    if isinstance(out_size, torch.Size):
        out_size = tuple(out_size)
    if not isinstance(out_size, (tuple, list)) or len(out_size) != 2:
        raise TypeError(f"out_size must be None or a pair (H, W), got {out_size!r}")
    H, W = (int_arg(f"out_size[{i}]", v, lo=1, hi=MAX_IMAGE_PIXELS) for i, v in enumerate(out_size))
    if H * W > MAX_IMAGE_PIXELS:
        raise ValueError(f"out_size must have H * W <= 2^30 pixels, got ({H}, {W})")
    if B * H * W > MAX_ELEMENTS:
        raise ValueError(f"out_size ({H}, {W}) for {B} images makes outputs of more than 2^34 elements each")
    return B, C, H, W


def class_weights_arg(class_weights, C, device, check_values=True):
    """None, or a contiguous float32 (C,) tensor on `device`.

    check_values=False leaves "finite and >= 0" to the caller, who folds it into its own host sync.
    """
    if class_weights is None:
        return None
    if isinstance(class_weights, torch.Tensor):
        if class_weights.device != device:
            raise ValueError(f"class_weights must be on the logits' device {device}, got {class_weights.device}")
        w = class_weights
    else:
        try:
            w = torch.as_tensor(class_weights, device=device)
        except (TypeError, ValueError, RuntimeError, OverflowError) as e:  # what as_tensor raises for a non-number
            raise TypeError(f"class_weights must be a tensor or a sequence of numbers, got "
                            f"{type(class_weights).__name__} ({e})") from None
    if w.dtype == torch.bool or w.is_complex():
        raise TypeError(f"class_weights must be real numbers, got {w.dtype}")
    if w.dim() != 1 or w.shape[0] != C:
        raise ValueError(f"class_weights must have shape ({C},) (one weight per class), got {tuple(w.shape)}")
    w = w.to(torch.float32).contiguous()
    if check_values and not bool((torch.isfinite(w) & (w >= 0)).all()):  # one host sync
        raise ValueError(CLASS_WEIGHTS_VALUES)
    return w


def labeled_arg(labeled, shape, device):
    if labeled is None:
        return None
    if not isinstance(labeled, torch.Tensor):
        raise TypeError(f"labeled must be a bool torch.Tensor, got {type(labeled).__name__}")
    if labeled.dtype != torch.bool:
        raise TypeError(f"labeled must be a bool tensor, got {labeled.dtype}")
    if tuple(labeled.shape) != tuple(shape):
        raise ValueError(f"labeled must have shape {tuple(shape)} (B, H, W) of the output, got {tuple(labeled.shape)}")
    if labeled.device != device:
        raise ValueError(f"labeled must be on the logits' device {device}, got {labeled.device}")
    return labeled.contiguous()


def num_regions_arg(num_regions, B):
    """One int in [0, 2^33] per image; an int applies to every image (also to none, when B == 0).

    Returns (counts, N): N = max(num_regions), the centers' second dimension, also for B == 0 and an int.
    """
    if isinstance(num_regions, torch.Tensor):
        num_regions = num_regions.item() if num_regions.dim() == 0 else num_regions.tolist()
    hi = MAX_ELEMENTS // 2
    if isinstance(num_regions, numbers.Integral) and not isinstance(num_regions, bool):
        n = int_arg("num_regions", num_regions, 0, hi)
        counts = [n] * B
    elif not isinstance(num_regions, (list, tuple)) or len(num_regions) != B:
        raise ValueError(f"num_regions must be an int or a sequence of {B} ints (one per image), got {num_regions!r}")
    else:
        counts = [int_arg(f"num_regions[{i}]", n, 0, hi) for i, n in enumerate(num_regions)]
        n = max(counts, default=0)
    if B * n * 2 > MAX_ELEMENTS:
        raise ValueError(f"num_regions: centers ({B}, {n}, 2) would have more than 2^34 elements")
    return counts, n


def select_radii_arg(radius, exclusion_radius):
    """(radius, exclusion_radius), exclusion_radius defaulting to 2 * radius (capped: it is clamped to the image)."""
    radius = int_arg("radius", radius, 0, MAX_SELECT_RADIUS)
    if exclusion_radius is None:
        return radius, min(2 * radius, MAX_SELECT_RADIUS)
    return radius, int_arg("exclusion_radius", exclusion_radius, 0, MAX_SELECT_RADIUS)


def check_score(score):
    if not isinstance(score, torch.Tensor):
        raise TypeError(f"score must be a torch.Tensor, got {type(score).__name__}")
    if score.dtype != torch.float32:
        raise TypeError(f"score must be float32, got {score.dtype}")
    if score.dim() != 3:
        raise ValueError(f"score must be 3-D (B, H, W), got shape {tuple(score.shape)}")
    if score.shape[1] * score.shape[2] > MAX_IMAGE_PIXELS:
        raise ValueError(f"score must have H * W <= 2^30 pixels, got shape {tuple(score.shape)}")
    # one reduction and one sync: the maximum is NaN if any score is (amax propagates NaN) and +inf if any is
    if score.numel() and not score.amax().item() < math.inf:
        raise ValueError("score contains NaN or +inf (use -inf for pixels that must not be picked)")

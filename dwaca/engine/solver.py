"""Optimiser and learning-rate schedule of the RIPU recipe: SGD, head at 10x the backbone rate, poly decay."""
import torch


def poly_lr(base_lr, iteration, max_iter, power=0.9):
    """base_lr * (1 - iteration / max_iter) ** power; 0 from max_iter on."""
    if iteration >= max_iter:
        return 0.0
    return base_lr * (1.0 - iteration / max_iter) ** power


def build_optimizer(model, solver_cfg):
    """SGD over ``model.param_groups(BASE_LR)`` (backbone at BASE_LR, head at 10x) with cfg.SOLVER's MOMENTUM and
    WEIGHT_DECAY. Each group keeps its ``lr_mult`` for ``set_poly_lr``."""
    if solver_cfg.LR_METHOD != "poly":
        raise ValueError(f"SOLVER.LR_METHOD '{solver_cfg.LR_METHOD}' is not supported (only 'poly')")
    return torch.optim.SGD(model.param_groups(solver_cfg.BASE_LR), lr=solver_cfg.BASE_LR,
                           momentum=solver_cfg.MOMENTUM, weight_decay=solver_cfg.WEIGHT_DECAY)


def set_poly_lr(optimizer, base_lr, iteration, max_iter, power=0.9):
    """Set every group's lr to ``poly_lr(...) * group["lr_mult"]`` (1 when absent) for this iteration, before its
    step; returns the backbone (multiplier 1) rate."""
    lr = poly_lr(base_lr, iteration, max_iter, power)
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)
    return lr

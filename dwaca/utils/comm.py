"""Thin helpers over ``torch.distributed`` for runs started by ``torchrun``.

Without ``torchrun`` (no WORLD_SIZE in the environment, or 1) nothing is initialised and every helper is the
single-process identity: rank 0 of 1, barriers return at once, reductions leave tensors as they are.
"""
import os

import torch
import torch.distributed as dist


def is_initialized():
    return dist.is_available() and dist.is_initialized()


def rank():
    return dist.get_rank() if is_initialized() else 0


def world_size():
    return dist.get_world_size() if is_initialized() else 1


def is_main():
    return rank() == 0


def local_rank():
    return int(os.environ.get("LOCAL_RANK", 0))


def init_from_env(device_type="cpu"):
    """Join the process group ``torchrun`` describes (WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT); NCCL when
    training on CUDA, gloo otherwise. Returns (rank, world_size); (0, 1) when not launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world <= 1 or is_initialized():
        return rank(), world_size()
    backend = "nccl" if device_type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend=backend)
    return rank(), world_size()


def barrier():
    if world_size() > 1:
        dist.barrier()


def all_reduce_tensor(tensor):
    """Sum ``tensor`` over all ranks, in place; returns it."""
    if world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_object(obj, src=0):
    """Rank ``src``'s ``obj`` (picklable) on every rank."""
    if world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_gather_object(obj):
    """[obj of rank 0, obj of rank 1, ...] (picklable objects)."""
    if world_size() == 1:
        return [obj]
    gathered = [None] * world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def shard(indices, rank_=None, world=None):
    """This rank's share of ``indices``: element i goes to rank i % world (no overlap, no gap)."""
    rank_ = rank() if rank_ is None else rank_
    world = world_size() if world is None else world
    return list(indices)[rank_::world]


def cleanup():
    if is_initialized():
        dist.destroy_process_group()

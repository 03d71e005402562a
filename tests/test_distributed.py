"""Two gloo ranks on the CPU: a sharded selection round buys exactly what a single process buys from the same
checkpoint (masks byte for byte, manifest totals), DDP training runs with rank 0 alone writing files and one seed
on every rank, and each rank resumes its own RNG states."""
import json
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

from dwaca.active import LabelPool, run_selection_round
from dwaca.config import load_config
from dwaca.engine import train
from dwaca.engine.checkpoint import rng_state, save_checkpoint, set_rng_state
from dwaca.engine.resume import open_pool
from dwaca.models.checkpoint import load_checkpoint
from dwaca.utils import comm as dist

from conftest import CONFIG, file_bytes

WORLD = 2


def _cfg(data_root, out, name="AL-DWACA", seed=5, batch=1, sampling="uniform"):
    return load_config(str(CONFIG), [
        "DATASETS.SOURCE_SAMPLING", sampling,
        "DATASETS.ROOT", str(data_root), "OUTPUT_DIR", str(out), "MODEL.DEVICE", "cpu",
        "INPUT.SOURCE_INPUT_SIZE_TRAIN", "(64, 32)", "INPUT.TARGET_INPUT_SIZE_TRAIN", "(64, 32)",
        "INPUT.INPUT_SIZE_TEST", "(64, 32)", "SOLVER.MAX_ITER", "4", "SOLVER.STOP_ITER", "4",
        "SOLVER.CHECKPOINT_PERIOD", "2", "SOLVER.BATCH_SIZE", str(batch), "SOLVER.NUM_WORKERS", "0",
        "TEST.BATCH_SIZE", "2", "ACTIVE.BATCH_SIZE", "2", "ACTIVE.SELECT_ITER", "[2, 3]", "ACTIVE.NAME", name,
        "ACTIVE.RATIO", "0.1", "SEED", str(seed)])


def _select_two_rounds(cfg, checkpoint, strategy):
    """Rounds 0 and 1 of ``strategy`` from the model weights of ``checkpoint`` into OUTPUT_DIR/pool."""
    from dwaca.models import build_model
    cfg = cfg.clone()
    cfg.defrost()
    cfg.ACTIVE.NAME = strategy
    model = build_model(cfg)
    model.load_state_dict(load_checkpoint(checkpoint)["model"])
    pool = open_pool(Path(cfg.OUTPUT_DIR) / "pool", int(cfg.MODEL.NUM_CLASSES))
    iou = torch.linspace(0.2, 0.9, int(cfg.MODEL.NUM_CLASSES))
    for r in range(2):
        run_selection_round(cfg, model, pool, r, 2 + r, device=torch.device("cpu"), seed=11, progress=False,
                            per_class_iou=iou if r else None, iou_source="pool" if r else "none")


def _worker(rank, port, data_root, checkpoint, outputs):
    torch.set_num_threads(1)
    torch_dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        for strategy, out in outputs["select"].items():
            _select_two_rounds(_cfg(data_root, out), checkpoint, strategy)
        # SEED -1: each rank would draw its own seed, so rank 0's draw must reach every rank. Two images per rank:
        # BatchNorm over one image diverges within these few steps for some seeds, and -1 may draw any.
        # class-balanced: rank 0 computes the class statistics, the other ranks read its cache
        out = train(_cfg(data_root, outputs["train"], seed=-1, batch=2, sampling="class_balanced"))
        seeds = dist.all_gather_object(out["seed"])
        assert seeds[0] == seeds[1], seeds
    finally:
        dist.cleanup()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _totals(root):
    manifest = json.loads((root / "manifest.json").read_text())
    rounds = [{k: r[k] for k in ("index", "pixels", "budget_pixels", "regions", "images_annotated", "per_image",
                                 "class_weights")} for r in manifest["rounds"]]
    return manifest["pixels_total"], manifest["budget_pixels"], manifest["images"], rounds


@pytest.fixture(scope="module")
def data_root(make_benchmark):
    return make_benchmark(num_source=4, num_target_train=5, num_target_val=3)


def test_sharded_round_equals_single_process_and_ddp_trains(data_root, tmp_path):
    torch.set_num_threads(1)
    from dwaca.engine.checkpoint import save_checkpoint
    from dwaca.engine.solver import build_optimizer
    from dwaca.models import build_model
    cfg = _cfg(data_root, tmp_path / "unused")
    torch.manual_seed(0)
    model = build_model(cfg)
    checkpoint = save_checkpoint(tmp_path / "model_iter000001.pth", model=model,
                                 optimizer=build_optimizer(model, cfg.SOLVER), iteration=1, rounds_done=0, cfg=cfg)
    strategies = ("AL-DWACA", "random")
    outputs = {"select": {s: str(tmp_path / f"w2_{s}") for s in strategies}, "train": str(tmp_path / "ddp")}
    mp.spawn(_worker, args=(_free_port(), str(data_root), str(checkpoint), outputs), nprocs=WORLD, join=True)

    for strategy in strategies:
        single = tmp_path / f"w1_{strategy}"
        _select_two_rounds(_cfg(data_root, single), checkpoint, strategy)
        sharded = Path(outputs["select"][strategy]) / "pool"
        assert file_bytes(single / "pool" / "masks", "*.png") == file_bytes(sharded / "masks", "*.png"), strategy
        assert _totals(single / "pool") == _totals(sharded), strategy
        assert not (sharded / "rounds").exists()  # journals removed once committed
        assert LabelPool(sharded).rounds_done == 2

    ddp = Path(outputs["train"])
    pool = LabelPool(ddp / "pool")
    assert pool.rounds_done == 2 and 0 < pool.pixels_total <= pool.budget_pixels
    # rounds after 2 and 3 steps, each from a checkpoint of its iteration (the periodic one at 2)
    assert [r["iteration"] for r in pool.rounds] == [2, 3]
    assert sorted(p.name for p in ddp.glob("*.pth")) == ["model_iter000002.pth", "model_iter000003.pth",
                                                         "model_iter000004.pth"]
    assert json.loads((ddp / "results.json").read_text())["rounds_done"] == 2
    assert "rank 0 of 2" in (ddp / "log.txt").read_text()
    sampler = load_checkpoint(ddp / "model_iter000004.pth")["source_sampler"]
    assert sampler["position"] == 4 and sampler["draws"] == 4 * 2 * WORLD  # MAX_ITER x BATCH_SIZE x ranks
    assert (data_root / "gtav" / "gtav_label_info.json").is_file()


def _rng_worker(rank, port, path):
    torch_dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        torch.manual_seed(100 + rank)  # the ranks' generators differ (augmentation, dropout draw per rank)
        states = dist.all_gather_object(rng_state())  # as the trainer's checkpoint gathers them
        expected = torch.rand(4)
        if dist.is_main():
            net = torch.nn.Conv2d(1, 1, 1)
            save_checkpoint(path, model=net, optimizer=torch.optim.SGD(net.parameters(), lr=0.1), iteration=1,
                            rounds_done=0, cfg=load_config(None), rng=states)
        dist.barrier()
        torch.manual_seed(0)
        set_rng_state(load_checkpoint(path)["rng"])
        assert torch.equal(torch.rand(4), expected), rank
    finally:
        dist.cleanup()


def test_each_rank_resumes_its_own_rng_states(tmp_path):
    mp.spawn(_rng_worker, args=(_free_port(), str(tmp_path / "model_iter000001.pth")), nprocs=WORLD, join=True)

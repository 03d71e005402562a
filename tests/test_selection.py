import math

import numpy as np
import pytest
import torch
import torch.nn as nn

import dwaca.active.selection as selection
from dwaca.active import (STRATEGIES, BudgetError, LabelPool, PoolError, class_weights_for, dilate, round_plan,
                          run_selection_round, strategy_scores, window_area)
from dwaca.active.annotation import select_queries
from dwaca.config import load_config
from dwaca.ops import region_score, select_regions

torch.set_num_threads(1)
H, W, C = 24, 36, 19


class FakeTarget(torch.utils.data.Dataset):
    """A target set in "select" mode: small images, labels at full size through the pool's provider."""

    def __init__(self, n=3, provider=None, seed=0):
        g = np.random.default_rng(seed)
        self.gt = [g.integers(0, C, (H, W)).astype(np.uint8) for _ in range(n)]
        for gt in self.gt:
            gt[:2] = 255  # a void band
        self.images = [torch.randn(3, H // 2, W // 2, generator=torch.Generator().manual_seed(i)) for i in range(n)]
        self.names = [f"city/city_{i:06d}_000019_leftImg8bit.png" for i in range(n)]
        self.provider = provider
        self.gt_reads = 0

    def load_train_ids(self, index):
        self.gt_reads += 1
        return self.gt[index]

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        mask = self.provider(i, self.names[i]) if self.provider else None
        label = torch.full((H, W), 255, dtype=torch.int64) if mask is None else torch.from_numpy(mask).long()
        return {"image": self.images[i], "label": label, "name": self.names[i], "index": i}


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, C, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


def _cfg(name="AL-RIPU", setting="RA", rounds=2, **extra):
    opts = ["ACTIVE.NAME", name, "ACTIVE.SETTING", setting, "ACTIVE.SELECT_ITER", str(list(range(1, rounds + 1))),
            "ACTIVE.RATIO", "0.1", "ACTIVE.RADIUS_K", "1", "ACTIVE.BATCH_SIZE", "2", "MODEL.DEVICE", "cpu",
            "SOLVER.NUM_WORKERS", "0"]
    for k, v in extra.items():
        opts += [k.replace("__", "."), str(v)]
    return load_config(None, opts)


def _run(cfg, tmp_path, rounds=None, seed=0, per_class_iou=None, sub="pool"):
    pool = LabelPool(tmp_path / sub, num_classes=C)
    data = FakeTarget(provider=pool.annotation_provider)
    model = TinyNet()
    records = []
    for r in range(rounds or len(cfg.ACTIVE.SELECT_ITER)):
        records.append(run_selection_round(cfg, model, pool, r, 10 * (r + 1), device=torch.device("cpu"),
                                           dataset=data, seed=seed, progress=False, per_class_iou=per_class_iou,
                                           num_workers=0))
    return pool, data, records


def test_round_plan_budgets():
    cfg = _cfg(rounds=5, ACTIVE__RATIO=0.05)
    plan = round_plan(cfg.ACTIVE, 0, 1024, 2048)
    assert plan == dict(count=int(np.floor(0.05 / 5 * 1024 * 2048 / 9)), radius=1, exclusion=2, block=1,
                        score_radius=1, uncertainty_radius=1,
                        budget_pixels=int(np.floor(0.05 / 5 * 1024 * 2048 / 9)) * 9)
    # RA carries the rounding shortfall: 0.05 * 864 / 9 = 4.8 regions per round, 9 (not 4 + 4) in two rounds
    ra = [round_plan(_cfg(ACTIVE__RATIO=0.1).ACTIVE, r, H, W)["count"] for r in range(2)]
    assert ra == [4, 5] and sum(ra) == int(0.1 * H * W / 9)
    thirds = [round_plan(_cfg(rounds=3, ACTIVE__RATIO=0.05).ACTIVE, r, 100, 100)["count"] for r in range(3)]
    assert thirds == [18, 19, 18] and sum(thirds) == int(0.05 * 100 * 100 / 9) == 55  # 3 x 18 without carrying
    # PA as RIPU: ceil(PIXELS / rounds / (1280 * 640) * H * W) per round; PIXELS counts per 1280 x 640 image
    pa = _cfg(setting="PA", rounds=5, ACTIVE__PIXELS=40, ACTIVE__RADIUS_K=32)
    assert [round_plan(pa.ACTIVE, r, 1024, 2048)["count"] for r in range(5)] == [21] * 5  # RIPU's, Cityscapes
    assert round_plan(pa.ACTIVE, 0, 640, 1280) == dict(count=8, radius=0, exclusion=32, block=32, score_radius=32,
                                                      uncertainty_radius=0, budget_pixels=8)


def test_pixel_setting_scores_as_ripu_pixel_selection():
    # RIPU's PixelSelection: the pixel's own entropy x the spatial purity (impurity) of its (2k+1)^2 window, both
    # without the 1/log C normalisation (a constant factor: the same ranking)
    gen = torch.Generator().manual_seed(5)
    logits = torch.randn(2, C, 7, 9, generator=gen) * 3
    k, size = 2, (13, 17)
    blocked = torch.zeros(2, *size, dtype=torch.bool)
    blocked[:, :2] = True
    p = torch.softmax(torch.nn.functional.interpolate(logits, size=size, mode="bilinear", align_corners=True), 1)
    entropy = -(p * torch.log(p + 1e-6)).sum(1)
    one_hot = torch.nn.functional.one_hot(p.argmax(1), C).permute(0, 3, 1, 2).float()
    counts = torch.nn.functional.conv2d(one_hot, torch.ones(C, 1, 2 * k + 1, 2 * k + 1), padding=k, groups=C)
    share = counts / counts.sum(1, keepdim=True)
    purity = -(share * torch.log(share + 1e-6)).sum(1)
    ripu = entropy * purity / math.log(C) ** 2
    pa = round_plan(_cfg(setting="PA", ACTIVE__RADIUS_K=k).ACTIVE, 0, *size)
    for name in ("AL-RIPU", "AL-DWACA"):  # AL-DWACA with uniform weights is AL-RIPU
        got = strategy_scores(name, logits, out_size=size, blocked=blocked, score_radius=pa["score_radius"],
                              uncertainty_radius=pa["uncertainty_radius"], class_weights=torch.ones(C))
        assert torch.isinf(got[blocked]).all()
        torch.testing.assert_close(got[~blocked], ripu[~blocked], atol=1e-5, rtol=0)
    ent = strategy_scores("entropy", logits, out_size=size, blocked=blocked, score_radius=k, uncertainty_radius=0)
    torch.testing.assert_close(ent[~blocked], entropy[~blocked] / math.log(C), atol=1e-5, rtol=0)


def test_window_area_matches_the_selected_mask():
    score = torch.rand(1, 9, 11, generator=torch.Generator().manual_seed(3))
    centers, selected, _ = select_regions(score, 6, radius=1)
    assert window_area(centers[0], 1, 9, 11) == int(selected.sum())
    assert window_area(torch.tensor([[0, 0], [-1, -1]]), 1, 9, 11) == 4  # corner: clipped to 2 x 2


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_strategy_spends_the_exact_budget_without_overlap(name, tmp_path):
    cfg = _cfg(name)
    per_class_iou = torch.linspace(0.1, 0.9, C) if name == "AL-DWACA" else None
    pool = LabelPool(tmp_path / "pool", num_classes=C)
    data = FakeTarget(provider=pool.annotation_provider)
    model = TinyNet()
    counts = [round_plan(cfg.ACTIVE, r, H, W)["count"] for r in range(2)]
    assert counts == [4, 5]
    before = None
    for r in range(2):
        rec = run_selection_round(cfg, model, pool, r, r, device=torch.device("cpu"), dataset=data,
                                  per_class_iou=per_class_iou, progress=False, num_workers=0)
        assert rec["regions"] == rec["regions_requested"] == len(data) * counts[r]
        assert rec["budget_pixels"] == len(data) * counts[r] * 9
        assert rec["pixels"] <= rec["budget_pixels"]
        for name_ in data.names:
            mask = pool.mask(name_)
            assert (mask != 255).sum() == pool.images[name_]["pixels"]
            if before is not None:  # earlier annotations are untouched
                old = before[name_] != 255
                np.testing.assert_array_equal(mask[old], before[name_][old])
        if before is not None:
            new = sum(int(((pool.mask(n) != 255) & (before[n] == 255)).sum()) for n in data.names)
            assert new == rec["pixels"]
        before = {n: pool.mask(n).copy() for n in data.names}
    assert pool.pixels_total <= pool.budget_pixels == len(data) * int(0.1 * H * W / 9) * 9
    assert data.gt_reads == 2 * len(data)  # oracle: once per image and round
    # annotated labels are the ground truth (void -> 254)
    for i, n in enumerate(data.names):
        m = pool.mask(n)
        sel = m != 255
        np.testing.assert_array_equal(np.where(data.gt[i][sel] == 255, 254, data.gt[i][sel]), m[sel])


def test_regions_never_touch_annotated_pixels_and_dilation_is_what_ensures_it(tmp_path, monkeypatch):
    # Pre-annotate a scattered pattern, then select: every new window must avoid every old pixel.
    cfg = _cfg("AL-RIPU", rounds=2, ACTIVE__RATIO=0.3)
    pool = LabelPool(tmp_path / "pool", num_classes=C)
    data = FakeTarget(provider=pool.annotation_provider)
    seed_mask = np.zeros((H, W), dtype=bool)
    seed_mask[::5, ::7] = True
    for i, n in enumerate(data.names):
        pool.add_annotations(n, i, seed_mask, data.gt[i], regions=int(seed_mask.sum()))
    pool.commit_round({"index": 0, "strategy": "manual"}, budget_pixels=len(data) * int(seed_mask.sum()))
    rec = run_selection_round(cfg, TinyNet(), pool, 1, 5, device=torch.device("cpu"), dataset=data, progress=False,
                              num_workers=0)
    assert rec["pixels"] > 0
    assert pool.pixels_total == len(data) * int(seed_mask.sum()) + rec["pixels"]

    # Without the dilation, windows would overlap annotated pixels and the pool refuses the round.
    pool2 = LabelPool(tmp_path / "pool2", num_classes=C)
    data2 = FakeTarget(provider=pool2.annotation_provider)
    for i, n in enumerate(data2.names):
        pool2.add_annotations(n, i, seed_mask, data2.gt[i], regions=int(seed_mask.sum()))
    pool2.commit_round({"index": 0, "strategy": "manual"}, budget_pixels=len(data2) * int(seed_mask.sum()))
    monkeypatch.setattr(selection, "dilate", lambda mask, radius: mask.clone())
    with pytest.raises(PoolError, match="already annotated"):
        run_selection_round(cfg, TinyNet(), pool2, 1, 5, device=torch.device("cpu"), dataset=data2,
                            progress=False, num_workers=0)
    assert pool2.rounds_done == 1 and pool2.pixels_total == len(data2) * int(seed_mask.sum())


def test_dilate_blocks_every_centre_whose_window_touches():
    mask = torch.zeros(1, 7, 7, dtype=torch.bool)
    mask[0, 3, 3] = True
    d = dilate(mask, 1)
    assert d.sum() == 9 and d[0, 2:5, 2:5].all()
    assert torch.equal(dilate(mask, 0), mask)


def test_random_strategy_is_seeded(tmp_path):
    cfg = _cfg("random")
    a, _, _ = _run(cfg, tmp_path, seed=7, sub="a")
    b, _, _ = _run(cfg, tmp_path, seed=7, sub="b")
    c, _, _ = _run(cfg, tmp_path, seed=8, sub="c")
    names = list(a.images)
    assert all(np.array_equal(a.mask(n), b.mask(n)) for n in names)
    assert not all(np.array_equal(a.mask(n), c.mask(n)) for n in names)


def test_pixel_setting_buys_ripus_count_and_keeps_earlier_picks_neighbourhood_excluded(tmp_path):
    # 17000 pixels per 1280 x 640 image in 3 rounds: ceil(17000 / 3 / 819200 * 24 * 36) = 6 per image and round
    cfg = _cfg("AL-RIPU", setting="PA", rounds=3, ACTIVE__PIXELS=17000, ACTIVE__RADIUS_K=2)
    pool, data, records = _run(cfg, tmp_path)
    assert [r["pixels"] for r in records] == [6 * len(data)] * 3
    assert pool.pixels_total == pool.budget_pixels == 18 * len(data)
    for n in data.names:  # as RIPU: no pick within RADIUS_K of another, earlier rounds' included
        picks = np.argwhere(pool.mask(n) != 255)
        assert len(picks) == 18
        gaps = np.abs(picks[:, None] - picks[None]).max(-1) + 3 * np.eye(len(picks), dtype=int)
        assert gaps.min() > 2, n


def test_dwaca_uses_dynamic_weights_and_entropy_is_the_uncertainty(tmp_path):
    cfg = _cfg("AL-DWACA")
    iou = torch.linspace(0.05, 0.95, C)
    _, _, records = _run(cfg, tmp_path, rounds=1, per_class_iou=iou)
    w = records[0]["class_weights"]
    assert w[0] == pytest.approx(1.0, abs=1e-5) and w[-1] < 0.01
    _, _, uniform = _run(_cfg("AL-RIPU"), tmp_path, rounds=1, sub="ripu")
    assert uniform[0]["class_weights"] == [1.0] * C

    logits = torch.randn(2, C, 6, 8)
    blocked = torch.zeros(2, 12, 16, dtype=torch.bool)
    blocked[:, :3] = True
    ent = strategy_scores("entropy", logits, out_size=(12, 16), blocked=blocked)
    ref = region_score(logits, out_size=(12, 16)).uncertainty
    assert torch.isinf(ent[blocked]).all() and torch.allclose(ent[~blocked], ref[~blocked])
    with pytest.raises(ValueError, match="ACTIVE.NAME"):
        strategy_scores("greedy", logits, out_size=(12, 16), blocked=blocked)


def test_round_selects_with_the_exact_weights_the_export_uses(tmp_path):
    iou = torch.linspace(0.05, 0.95, C)
    iou[3] = 0.0  # the published formula then gives every other class a weight around 1e-5 or below
    weights = class_weights_for("AL-DWACA", iou, C)
    assert (weights < 1e-5).sum() > 5  # six decimals would keep at most one digit of these
    cfg = _cfg("AL-DWACA", rounds=1, ACTIVE__RATIO=0.2)
    pool, _, records = _run(cfg, tmp_path, per_class_iou=iou)
    assert records[0]["class_weights"] == weights.tolist()  # full precision in plan.json and the manifest
    fresh = LabelPool(tmp_path / "fresh", num_classes=C)
    queries, _ = select_queries(cfg, TinyNet(), fresh, 0, FakeTarget(provider=fresh.annotation_provider),
                                device=torch.device("cpu"), per_class_iou=iou)
    for q in queries:
        np.testing.assert_array_equal(pool.mask(q["name"]) != 255, q["selected"])


def test_soft_weights_reach_the_round_and_the_export(tmp_path):
    iou = torch.linspace(0.05, 0.95, C)
    masks, regions = {}, {}
    for soft in (False, True):
        cfg = _cfg("AL-DWACA", rounds=1, ACTIVE__RATIO=0.2, ACTIVE__WEIGHT_MODE="smoothed", ACTIVE__SOFT_WEIGHTS=soft)
        pool, data, records = _run(cfg, tmp_path, per_class_iou=iou, sub=f"soft{soft}")
        regions[soft] = records[0]["regions"]
        masks[soft] = [pool.mask(name) != 255 for name in data.names]
        fresh = LabelPool(tmp_path / f"fresh{soft}", num_classes=C)
        queries, _ = select_queries(cfg, TinyNet(), fresh, 0, FakeTarget(provider=fresh.annotation_provider),
                                    device=torch.device("cpu"), per_class_iou=iou)
        for q, mask in zip(queries, masks[soft]):
            np.testing.assert_array_equal(mask, q["selected"])
    assert regions[True] == regions[False] > 0  # the same budget, other regions
    assert any((a != b).any() for a, b in zip(masks[True], masks[False]))


def test_resuming_a_round_with_another_budget_is_refused_naming_the_keys(tmp_path, monkeypatch):
    pool = LabelPool(tmp_path / "pool", num_classes=C)
    data = FakeTarget(provider=pool.annotation_provider)

    def select(cfg):
        return run_selection_round(cfg, TinyNet(), pool, 0, 10, device=torch.device("cpu"), dataset=data,
                                   progress=False, num_workers=0)

    def killed(label):
        raise KeyboardInterrupt(label)

    monkeypatch.setattr(selection, "crash_point", killed)
    with pytest.raises(KeyboardInterrupt):  # one image journaled
        select(_cfg(ACTIVE__RATIO=0.1))
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"was started with ACTIVE.RADIUS_K 1, ACTIVE.RATIO 0.1; this run has "
                                         r"ACTIVE.RADIUS_K 2, ACTIVE.RATIO 0.3"):
        select(_cfg(ACTIVE__RATIO=0.3, ACTIVE__RADIUS_K=2))
    with pytest.raises(ValueError, match=r"ACTIVE.SELECT_ITER \[1, 2\], iteration 10; this run has "
                                         r"ACTIVE.SELECT_ITER \[1, 2, 3\], iteration 11"):
        run_selection_round(_cfg(rounds=3), TinyNet(), pool, 0, 11, device=torch.device("cpu"), dataset=data,
                            progress=False, num_workers=0)
    assert pool.rounds_done == 0
    record = select(_cfg(ACTIVE__RATIO=0.1))  # the same configuration finishes it
    assert record["regions"] == len(data) * round_plan(_cfg().ACTIVE, 0, H, W)["count"]


@pytest.mark.parametrize("key,value,setting", [("ACTIVE.RATIO", "5.0", "RA"), ("ACTIVE.RATIO", "-0.05", "RA"),
                                               ("ACTIVE.PIXELS", "0", "PA"), ("ACTIVE.RADIUS_K", "-1", "RA")])
def test_a_senseless_budget_is_refused_before_the_round_writes_anything(tmp_path, key, value, setting):
    pool = LabelPool(tmp_path / "pool", num_classes=C)
    with pytest.raises(ValueError, match=rf"the config: {key} must be .*, got {value}"):
        run_selection_round(_cfg(setting=setting, **{key.replace(".", "__"): value}), TinyNet(), pool, 0, 1,
                            device=torch.device("cpu"), dataset=FakeTarget(provider=pool.annotation_provider),
                            progress=False, num_workers=0)
    assert not (tmp_path / "pool").exists()


def test_round_index_must_follow_the_pool(tmp_path):
    cfg = _cfg("random")
    pool = LabelPool(tmp_path / "pool", num_classes=C)
    with pytest.raises(PoolError, match="round 1"):
        run_selection_round(cfg, TinyNet(), pool, 1, 0, device=torch.device("cpu"),
                            dataset=FakeTarget(provider=pool.annotation_provider), progress=False, num_workers=0)
    assert issubclass(BudgetError, PoolError)


class StridedNet(TinyNet):
    """Logits at half the input resolution, as a real network's are at a fraction of it."""

    def forward(self, x):
        return self.conv(x)[..., ::2, ::2]


@pytest.mark.parametrize("via_input", [True, False])
def test_logits_reach_the_label_grid_in_two_steps_as_published_or_in_one(via_input, tmp_path, monkeypatch):
    scored = []

    def spy(name, logits, **kwargs):
        scored.append(logits.clone())
        return strategy_scores(name, logits, **kwargs)

    monkeypatch.setattr(selection, "strategy_scores", spy)
    cfg = _cfg(ACTIVE__UPSAMPLE_VIA_INPUT=via_input)
    pool = LabelPool(tmp_path / "pool", num_classes=C)
    data, model = FakeTarget(provider=pool.annotation_provider), StridedNet()
    batch = [data[0], data[1]]
    list(selection.select_batches(cfg, model, pool, 0, [batch], device=torch.device("cpu"), weights=None, seed=0))
    image = torch.stack([it["image"] for it in batch])
    logits = model(image)
    if via_input:  # bilinear (align_corners) to the network's input size first; the kernel then goes to the labels
        logits = torch.nn.functional.interpolate(logits, size=image.shape[-2:], mode="bilinear", align_corners=True)
    assert len(scored) == 1
    torch.testing.assert_close(scored[0], logits)

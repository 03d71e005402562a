"""dwaca.ops kernels vs ops.reference on fresh random inputs, the naive greedy loop, opcheck and bad input."""
import ast
import math
import os
import platform
import subprocess
import sys
import textwrap
import warnings
from functools import partial
from pathlib import Path

import pytest
import torch

from dwaca import _extension, ops
from dwaca.ops import cuda_emulation, reference

CUDA = torch.cuda.is_available()
DEVICES = ["cpu"] + (["cuda"] if CUDA else [])
ATOL = 1e-5
# The public op on each device, and, where no GPU runs them, the CUDA kernels' own code run on the CPU: all must
# compute the reference's function.
SCORE_FNS = [ops.region_score, cuda_emulation.region_score]
SELECT_FNS = [ops.select_regions, cuda_emulation.select_regions]
FN_IDS = ["op", "cuda-emulated"]


def on_devices(fns):
    """(fn, device) cases: the op on every device, the emulation on the CPU."""
    return [pytest.param(fns[0], d, id=f"op-{d}") for d in DEVICES] + [pytest.param(fns[1], "cpu", id="cuda-emulated")]


def fresh_seed():
    return int.from_bytes(os.urandom(4), "little")


def random_logits(gen, B, C, h, w, dtype=torch.float32, ties=False, device="cpu"):
    if ties:  # small integers: many exact argmax ties, resolved to the first class
        x = torch.randint(-2, 3, (B, C, h, w), generator=gen).float()
    else:
        x = torch.randn(B, C, h, w, generator=gen) * 3
    return x.to(dtype).to(device)


# (B, C, h, w, out_size): odd sizes, 1x1, tiny, images smaller than the window, upsampling and downsampling.
SHAPES = [
    (1, 2, 1, 1, None),
    (2, 19, 7, 9, None),
    (1, 16, 5, 3, (11, 13)),
    (1, 33, 17, 19, (6, 7)),
    (3, 19, 1, 1, (4, 5)),
    (2, 19, 13, 24, (40, 77)),
    (1, 2, 2, 2, (1, 1)),
    (1, 16, 33, 17, None),
    (2, 33, 3, 40, (9, 100)),
    (1, 70, 9, 11, (5, 20)),  # more classes than the tiled kernel holds: the general CUDA kernel
]


def beyond_emulation(fn, C):
    return fn is cuda_emulation.region_score and C > cuda_emulation.MAX_CLASSES


def skip_beyond_emulation(fn, C):
    if beyond_emulation(fn, C):
        pytest.skip(f"the tiled kernel (and its emulation) takes at most {cuda_emulation.MAX_CLASSES} classes")


@pytest.mark.parametrize("fn,device", on_devices(SCORE_FNS))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s[:4])) + (f"->{s[4]}" if s[4] else ""))
@pytest.mark.parametrize("radius", [0, 1, 2, 4])
@pytest.mark.parametrize("sigma", [0.0, 1.3])
def test_region_score_matches_reference(fn, device, shape, radius, sigma):
    seed = fresh_seed()
    gen = torch.Generator().manual_seed(seed)
    B, C, h, w, out_size = shape
    skip_beyond_emulation(fn, C)
    H, W = out_size or (h, w)
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        for ties in (False, True):
            logits = random_logits(gen, B, C, h, w, dtype, ties, device)
            cw = (torch.rand(C, generator=gen) * 2).to(device)
            labeled = (torch.rand(B, H, W, generator=gen) < 0.2).to(device)
            got = fn(logits, radius=radius, class_weights=cw, out_size=out_size, labeled=labeled, sigma=sigma)
            want = reference.region_score(logits, radius=radius, class_weights=cw, out_size=out_size,
                                          labeled=labeled, sigma=sigma)
            for name in ("score", "impurity", "uncertainty"):
                g, r = getattr(got, name), getattr(want, name)
                assert g.shape == (B, H, W) and g.dtype == torch.float32 and g.device == logits.device
                assert torch.equal(torch.isinf(g), torch.isinf(r)), (name, seed, dtype, ties)
                fin = torch.isfinite(r)
                err = (g[fin] - r[fin]).abs().max().item() if fin.any() else 0.0
                assert err <= ATOL, f"{name}: max err {err} (seed {seed}, {dtype}, ties={ties})"
            assert torch.isinf(got.score[labeled]).all() and (got.score[labeled] < 0).all()


@pytest.mark.parametrize("fn,device", on_devices(SCORE_FNS))
def test_region_score_large_radius_matches_reference(fn, device):
    # RIPU's pixel setting (PA) scores with k = 32: windows larger than the image in one or both dimensions
    gen = torch.Generator().manual_seed(fresh_seed())
    for shape, out_size in [((1, 19, 20, 40), (40, 80)), ((2, 5, 70, 90), None), ((1, 70, 12, 20), (24, 40))]:
        if beyond_emulation(fn, shape[1]):
            continue
        x = (torch.randn(*shape, generator=gen) * 3).to(device)
        for sigma in (0.0, 8.0):
            got = fn(x, radius=32, out_size=out_size, sigma=sigma)
            want = reference.region_score(x, radius=32, out_size=out_size, sigma=sigma)
            for g, r in zip(got, want):
                assert (g - r).abs().max().item() <= ATOL


@pytest.mark.parametrize("fn", SCORE_FNS, ids=FN_IDS)
@pytest.mark.parametrize("radius", [1, 2])
def test_region_score_window_of_all_different_classes(fn, radius):
    # Every cell of the centre's window predicts another class: the most impure window, d_c = 1/n for n classes
    # (the CPU kernel takes the n cells' logs as one log of their product, smallest here).
    n = (2 * radius + 1) ** 2
    side = 2 * radius + 1
    logits = (10 * torch.eye(n)).reshape(n, 1, side, side).permute(1, 0, 2, 3).contiguous()
    got = fn(logits, radius=radius)
    want = reference.region_score(logits, radius=radius)
    expected = -math.log(1 / n + 1e-6) / math.log(n)
    assert abs(got.impurity[0, radius, radius].item() - expected) <= 1e-6
    for g, r in zip(got, want):
        assert (g - r).abs().max().item() <= ATOL


def test_region_score_cpu_baseline_loops_match_reference():
    # The CPU loops are built twice, with and without fused multiply-adds, and this machine runs the fused build:
    # run the baseline one in a child process through PyTorch's ATEN_CPU_CAPABILITY switch.
    if platform.machine() == "x86_64" and torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        assert _extension.build_info()["cpu_loops"] == "fma"
    code = textwrap.dedent(f"""
        import torch
        from dwaca import _extension, ops
        from dwaca.ops import reference
        assert _extension.build_info()["cpu_loops"] == "baseline", _extension.build_info()
        gen = torch.Generator().manual_seed({fresh_seed()})
        for C, h, w, k, sigma in [(19, 9, 40, 1, 0.0), (33, 12, 37, 2, 0.0), (2, 5, 3, 1, 0.0), (16, 8, 21, 2, 1.3)]:
            x = torch.randn(2, C, h, w, generator=gen) * 3
            cw = torch.rand(C, generator=gen) * 2
            got = ops.region_score(x, radius=k, class_weights=cw, sigma=sigma)
            want = reference.region_score(x, radius=k, class_weights=cw, sigma=sigma)
            for g, r in zip(got, want):
                assert (g - r).abs().max().item() <= {ATOL}
    """)
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300)


def test_region_score_defaults_and_known_values():
    # Two classes, a 1x3 image: argmax [0, 1, 1]; a flat k=1 window clipped at the borders.
    logits = torch.tensor([[[[2.0, 0.0, -1.0]], [[0.0, 0.0, 1.0]]]])
    got = ops.region_score(logits)
    p0 = torch.softmax(logits[0, :, 0].T, dim=1)
    e = -(p0 * torch.log(p0 + 1e-6)).sum(1) / math.log(2)
    # the tie at pixel 1 goes to class 0, so classes are [0, 0, 1]
    imp = torch.tensor([-math.log(1 + 1e-6) / math.log(2), -(2 / 3 * math.log(2 / 3 + 1e-6) + 1 / 3 * math.log(1 / 3 + 1e-6)) / math.log(2),
                        -(0.5 * math.log(0.5 + 1e-6)) * 2 / math.log(2)])
    unc = torch.stack([(e[0] + e[1]) / 2, e.mean(), (e[1] + e[2]) / 2])
    torch.testing.assert_close(got.impurity[0, 0], imp, atol=1e-6, rtol=0)
    torch.testing.assert_close(got.uncertainty[0, 0], unc, atol=1e-6, rtol=0)
    torch.testing.assert_close(got.score, got.impurity * got.uncertainty)


def test_reference_upsampling_equals_interpolate():
    gen = torch.Generator().manual_seed(fresh_seed())
    x = torch.randn(2, 5, 13, 17, generator=gen)
    for size in [(13, 17), (40, 33), (5, 7), (1, 1), (26, 34)]:
        want = torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=True)
        torch.testing.assert_close(reference.upsample_bilinear(x, size), want, atol=1e-5, rtol=1e-5)


def test_region_score_empty_batch_and_no_weights():
    out = ops.region_score(torch.zeros(0, 19, 4, 4), out_size=(8, 8))
    assert all(t.shape == (0, 8, 8) for t in out)
    x = torch.randn(1, 4, 3, 3)
    a = ops.region_score(x)
    b = ops.region_score(x, class_weights=torch.ones(4))
    assert torch.equal(a.score, b.score)


@pytest.mark.parametrize("fn", SCORE_FNS, ids=FN_IDS)
def test_region_score_noncontiguous_input(fn):
    x = torch.randn(2, 8, 10, 12).permute(0, 1, 3, 2)
    got = fn(x, radius=2)
    want = reference.region_score(x.contiguous(), radius=2)
    torch.testing.assert_close(got.score, want.score, atol=ATOL, rtol=0)


# ---------------------------------------------------------------------------------------------- select_regions


def naive_greedy(score, n, r, m):
    """Plain Python over a list: the specification, independent of torch.argmax."""
    H, W = score.shape
    vals = score.tolist()
    excluded = [[False] * W for _ in range(H)]
    selected = [[False] * W for _ in range(H)]
    centers = []
    while len(centers) < n:
        best = None
        for y in range(H):
            for x in range(W):
                v = vals[y][x]
                if excluded[y][x] or v == -math.inf:
                    continue
                if best is None or v > best[0]:
                    best = (v, y, x)
        if best is None:
            break
        _, y, x = best
        centers.append((y, x))
        for yy in range(max(0, y - r), min(H, y + r + 1)):
            for xx in range(max(0, x - r), min(W, x + r + 1)):
                selected[yy][xx] = True
        for yy in range(max(0, y - m), min(H, y + m + 1)):
            for xx in range(max(0, x - m), min(W, x + m + 1)):
                excluded[yy][xx] = True
    return centers, torch.tensor(selected), torch.tensor(excluded)


def random_score(gen, B, H, W, kind):
    if kind == "ties":  # few distinct values: ties everywhere
        s = torch.randint(0, 4, (B, H, W), generator=gen).float()
    elif kind == "constant":
        s = torch.full((B, H, W), 0.5)
    else:
        s = torch.rand(B, H, W, generator=gen)
    s[torch.rand(B, H, W, generator=gen) < 0.15] = -math.inf
    return s


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["random", "ties", "constant"])
@pytest.mark.parametrize("r,m", [(0, 0), (1, None), (1, 0), (2, 1), (0, 3), (3, 7), (0, 16), (17, 33)])
def test_select_regions_matches_naive_loop(device, kind, r, m):
    seed = fresh_seed()
    gen = torch.Generator().manual_seed(seed)
    for H, W in [(1, 1), (5, 7), (23, 17), (40, 64)]:
        B = 3
        score = random_score(gen, B, H, W, kind)
        counts = [int(x) for x in torch.randint(0, H * W // 3 + 2, (B,), generator=gen)]
        ref = reference.select_regions(score.to(device), counts, radius=r, exclusion_radius=m)
        mm = 2 * r if m is None else m
        naive = [naive_greedy(score[b], counts[b], r, mm) for b in range(B)]
        for fn, name in zip(SELECT_FNS if device == "cpu" else SELECT_FNS[:1], FN_IDS):
            got = fn(score.to(device), counts, radius=r, exclusion_radius=m)
            for b, (centers, sel, exc) in enumerate(naive):
                c = got.centers[b].cpu()
                picked = [tuple(t) for t in c.tolist() if t[0] >= 0]
                assert picked == centers, f"{name} seed {seed} image {b} {H}x{W}"
                assert (c[len(centers):] == -1).all()
                assert torch.equal(got.selected[b].cpu(), sel) and torch.equal(got.excluded[b].cpu(), exc), name
            for a, b in zip(got, ref):
                assert torch.equal(a.cpu(), b.cpu()), f"{name} seed {seed}"


@pytest.mark.parametrize("fn,device", on_devices(SELECT_FNS))
@pytest.mark.parametrize("kind", ["random", "ties"])
def test_select_regions_can_take_every_pixel(fn, device, kind):
    # single-pixel regions and a budget of the whole image: every finite pixel, in score order, to the last one
    gen = torch.Generator().manual_seed(fresh_seed())
    for H, W in [(1, 33), (9, 7), (37, 61)]:
        score = random_score(gen, 2, H, W, kind)
        score[0] = score[0].clamp(min=-1.0)  # no -inf: the last candidate is the last pixel sorted
        got = fn(score.to(device), H * W, radius=0, exclusion_radius=0)
        for b in range(2):
            centers, sel, exc = naive_greedy(score[b], H * W, 0, 0)
            assert [tuple(t) for t in got.centers[b].tolist() if t[0] >= 0] == centers
            assert torch.equal(got.selected[b].cpu(), sel) and torch.equal(got.excluded[b].cpu(), exc)


@pytest.mark.parametrize("fn,device", on_devices(SELECT_FNS))
def test_select_regions_batched_equals_single(fn, device):
    gen = torch.Generator().manual_seed(fresh_seed())
    score = random_score(gen, 4, 31, 45, "ties").to(device)
    counts = [3, 0, 50, 7]
    batched = fn(score, counts, radius=1)
    for b in range(4):
        one = fn(score[b:b + 1], counts[b], radius=1)
        n = counts[b]
        assert torch.equal(batched.centers[b, :n], one.centers[0])
        assert (batched.centers[b, n:] == -1).all()
        assert torch.equal(batched.selected[b], one.selected[0])
        assert torch.equal(batched.excluded[b], one.excluded[0])


@pytest.mark.parametrize("fn,device", on_devices(SELECT_FNS))
def test_select_regions_negative_zero_ties_with_zero(fn, device):
    score = torch.tensor([[[0.0, -0.0, 0.0]]]).to(device)
    score[0, 0, 0] = -0.0
    got = fn(score, 3, radius=0)
    assert got.centers[0].tolist() == [[0, 0], [0, 1], [0, 2]]


@pytest.mark.parametrize("fn", SELECT_FNS, ids=FN_IDS)
def test_select_regions_stops_when_no_candidate(fn):
    score = torch.full((1, 4, 4), -math.inf)
    score[0, 1, 1] = 1.0
    got = fn(score, 5, radius=1)
    assert got.centers[0].tolist() == [[1, 1]] + [[-1, -1]] * 4
    assert got.selected[0].sum() == 9 and got.excluded[0].sum() == 16


@pytest.mark.parametrize("fn", SELECT_FNS, ids=FN_IDS)
def test_select_regions_empty(fn):
    got = fn(torch.zeros(0, 5, 5), 3)
    assert got.centers.shape == (0, 3, 2)
    got = fn(torch.zeros(2, 5, 5), 0)
    assert got.centers.shape == (2, 0, 2) and not got.selected.any()


# ---------------------------------------------------------------------------------------------- opcheck


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(device):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 6, 7, generator=gen).to(device)
    cw = torch.rand(5, generator=gen).to(device)
    lab = (torch.rand(2, 9, 11, generator=gen) < 0.3).to(device)
    torch.library.opcheck(torch.ops.dwaca.region_score.default, (x, cw, lab, 1, 0.5, 9, 11))
    torch.library.opcheck(torch.ops.dwaca.region_score.default, (x, None, None, 0, 0.0, 6, 7))
    for row_reuse in (True, False):
        torch.library.opcheck(torch.ops.dwaca_testing.region_score_tiled.default,
                              (x, cw, lab, 1, 0.0, 9, 11, row_reuse))
    emulated = device == "cpu"  # the walk's emulation is a CPU op
    s = torch.rand(2, 9, 11, generator=gen).to(device)
    for op in [torch.ops.dwaca.select_regions] + [torch.ops.dwaca_testing.select_regions_cuda_emulated] * emulated:
        torch.library.opcheck(op.default, (s, [3, 5], 1, 2))


def registered_ops(namespace):
    """Names of the ops the dispatcher holds in `namespace`, overloads folded."""
    prefix = namespace + "::"
    return sorted({name[len(prefix):].split(".")[0] for name in torch._C._dispatch_get_all_op_names()
                   if name.startswith(prefix)})


def test_public_namespace_holds_only_the_public_ops():
    # the ops that reach the CUDA kernels' code for tests and benchmarks are no API: they stay out of torch.ops.dwaca
    assert registered_ops("dwaca") == ["region_score", "select_regions"]
    assert registered_ops("dwaca_testing") == ["region_score_tiled", "select_regions_cuda_emulated"]


# ---------------------------------------------------------------------------------------------- bad input

GOOD = torch.randn(1, 4, 5, 6)


@pytest.mark.parametrize("fn", SCORE_FNS + [reference.region_score])
@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(logits=torch.randn(4, 5, 6)), ValueError, "logits must be 4-D"),
    (dict(logits=GOOD.double()), TypeError, "logits must be float32"),
    (dict(logits=GOOD.long()), TypeError, "logits must be float32"),
    (dict(logits=[[1.0]]), TypeError, "logits must be a torch.Tensor"),
    (dict(logits=torch.randn(1, 1, 5, 6)), ValueError, "classes"),
    (dict(logits=torch.randn(1, 4, 0, 6)), ValueError, "non-empty"),
    (dict(class_weights=torch.ones(3)), ValueError, r"class_weights must have shape \(4,\)"),
    (dict(class_weights=torch.tensor([1.0, -1.0, 1.0, 1.0])), ValueError, "class_weights must be finite"),
    (dict(class_weights=torch.tensor([1.0, math.nan, 1.0, 1.0])), ValueError, "class_weights must be finite"),
    (dict(class_weights=torch.tensor([1.0, 1.0, math.inf, 1.0])), ValueError, "class_weights must be finite"),
    (dict(logits=GOOD.expand(2, -1, -1, -1).clone().index_fill_(0, torch.tensor([1]), math.nan),
          class_weights=torch.tensor([1.0, -1.0, 1.0, 1.0])), ValueError, "class_weights must be finite"),
    (dict(radius=-1), ValueError, "radius must be in"),
    (dict(radius=33), ValueError, "radius must be in"),
    (dict(radius=1.5), TypeError, "radius must be an int"),
    (dict(sigma=-0.5), ValueError, "sigma must be finite and >= 0"),
    (dict(sigma=math.inf), ValueError, "sigma must be finite"),
    (dict(labeled=torch.zeros(1, 5, 5, dtype=torch.bool)), ValueError, "labeled must have shape"),
    (dict(labeled=torch.zeros(1, 5, 6)), TypeError, "labeled must be a bool"),
    (dict(out_size=(0, 4)), ValueError, r"out_size\[0\]"),
    (dict(out_size=(4, 2**30 + 1)), ValueError, r"out_size\[1\] must be in \[1, 1073741824\]"),
    (dict(out_size=(-2**70, 4)), ValueError, r"out_size\[0\] must be in \[1, 1073741824\]"),
    (dict(out_size=(2**16, 2**15)), ValueError, r"out_size must have H \* W <= 2\^30"),
    (dict(logits=GOOD[:, :2, :1, :1].expand(17, 2, 1, 1), out_size=(2**15, 2**15)), ValueError,
     r"out_size \(32768, 32768\) for 17 images makes outputs of more than 2\^34"),
    (dict(logits=GOOD[:, :2, :1, :1].expand(1, 2, 2**16, 2**15)), ValueError, r"logits must have h \* w <= 2\^30"),
    (dict(logits=GOOD[:, :2, :1, :1].expand(2**34, 2, 1, 1)), ValueError, r"logits must have B \* C \* h \* w"),
    (dict(sigma=10**400), ValueError, "sigma must be finite"),
    (dict(class_weights="heavy"), TypeError, "class_weights must be a tensor or a sequence of numbers"),
    (dict(class_weights=[1.0, None, 1.0, 1.0]), TypeError, "class_weights must be a tensor or a sequence of numbers"),
    (dict(sigma="1"), TypeError, "sigma must be a real number"),
    (dict(out_size=7), TypeError, "out_size must be None or a pair"),
])
def test_region_score_bad_input(fn, kwargs, exc, match):
    args = dict(logits=GOOD)
    args.update(kwargs)
    logits = args.pop("logits")
    with pytest.raises(exc, match=match):
        fn(logits, **args)


@pytest.mark.parametrize("fn", SCORE_FNS + [reference.region_score])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("out_size", [None, (3, 2), (20, 30), (5, 11)])
@pytest.mark.parametrize("channel", [0, 2])
def test_region_score_rejects_nonfinite_logits(fn, bad, out_size, channel):
    x = torch.randn(2, 4, 5, 6)
    x[1, channel, 4, 3] = bad  # one element anywhere, also one that downsampling never reads
    with pytest.raises(ValueError, match="NaN or inf"):
        fn(x, out_size=out_size)


@pytest.mark.parametrize("fn", SELECT_FNS + [reference.select_regions])
@pytest.mark.parametrize("score,n,kwargs,exc,match", [
    (torch.rand(5, 5), 1, {}, ValueError, "score must be 3-D"),
    (torch.rand(1, 5, 5).double(), 1, {}, TypeError, "score must be float32"),
    (torch.tensor([[[0.1, math.nan]]]), 1, {}, ValueError, "NaN or \\+inf"),
    (torch.tensor([[[0.1, math.inf]]]), 1, {}, ValueError, "NaN or \\+inf"),
    (torch.tensor([[[-math.inf, math.nan, -math.inf]]]), 1, {}, ValueError, "NaN or \\+inf"),
    (torch.rand(2, 37, 41).index_put_((torch.tensor([1]), torch.tensor([30]), torch.tensor([17])),
                                      torch.tensor(math.nan)), 1, {}, ValueError, "NaN or \\+inf"),
    (torch.rand(2, 5, 5), [1], {}, ValueError, "one per image"),
    (torch.rand(1, 5, 5), -1, {}, ValueError, r"num_regions must be in \[0, 8589934592\]"),
    (torch.rand(1, 5, 5), 2**40, {}, ValueError, r"num_regions must be in \[0, 8589934592\]"),
    (torch.rand(2, 5, 5), [1, 2**33 + 1], {}, ValueError, r"num_regions\[1\] must be in \[0, 8589934592\]"),
    (torch.rand(3, 5, 5), 2**32, {}, ValueError, r"num_regions: centers \(3, 4294967296, 2\)"),
    (torch.rand(1, 5, 5), 1.0, {}, ValueError, "num_regions"),
    (torch.rand(1, 5, 5), 1, dict(radius=-1), ValueError, r"radius must be in \[0, 2147483647\]"),
    (torch.rand(1, 5, 5), 1, dict(radius=2**62), ValueError, r"radius must be in \[0, 2147483647\]"),
    (torch.rand(1, 5, 5), 1, dict(exclusion_radius=-2), ValueError, r"exclusion_radius must be in \[0, 2147483647\]"),
    (torch.rand(1, 5, 5), 1, dict(exclusion_radius=2**31), ValueError, "exclusion_radius must be in"),
    (torch.zeros(1, 1, 1).expand(1, 2**16, 2**15), 1, {}, ValueError, r"score must have H \* W <= 2\^30"),
])
def test_select_regions_bad_input(fn, score, n, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(score, n, **kwargs)


def test_tiled_kernel_emulation_class_limit():
    # the tiled kernel's limit; region_score on CUDA sends more classes to its general kernel
    with pytest.raises(ValueError, match="between 2 and 64 classes"):
        cuda_emulation.region_score(torch.randn(1, 65, 4, 4))
    with pytest.raises(RuntimeError, match="at most 64 classes"):
        torch.ops.dwaca_testing.region_score_tiled(torch.randn(1, 65, 4, 4), None, None, 1, 0.0, 4, 4, True)


def test_direct_op_call_checks_survive():
    # torch.ops.dwaca(_testing).* called without the Python wrapper still refuses bad shapes instead of crashing.
    with pytest.raises(RuntimeError, match="logits must be 4-D"):
        torch.ops.dwaca.region_score(torch.randn(3, 4, 5), None, None, 1, 0.0, 4, 5)
    for op in (torch.ops.dwaca.select_regions, torch.ops.dwaca_testing.select_regions_cuda_emulated):
        with pytest.raises(RuntimeError, match="num_regions must have one entry per image"):
            op(torch.rand(2, 3, 3), [1], 1, 2)


ONE_PIXEL = torch.randn(1, 2, 1, 1)


@pytest.mark.parametrize("op", [torch.ops.dwaca.region_score,
                                partial(torch.ops.dwaca_testing.region_score_tiled, row_reuse=True)])
@pytest.mark.parametrize("logits,out_h,out_w,match", [
    (ONE_PIXEL, 2**31, 5, r"out_size must be \(H, W\) with H, W >= 1 and H \* W <= 2\^30 pixels, got \(2147483648,"),
    (ONE_PIXEL, 2**30 - 1, 2, r"H \* W <= 2\^30 pixels"),
    (ONE_PIXEL, 2**62, 2**62, r"H \* W <= 2\^30 pixels"),  # the product overflows int64
    (ONE_PIXEL, 0, 5, "out_size must be"),
    (ONE_PIXEL.expand(17, 2, 1, 1), 2**15, 2**15, r"out_size \(32768, 32768\) for 17 images"),
    (ONE_PIXEL.expand(1, 2, 2**16, 2**15), 1, 1, r"logits must have h \* w <= 2\^30"),
    (ONE_PIXEL.expand(2**34, 2, 1, 1), 1, 1, r"logits must have B \* C \* h \* w <= 2\^34"),
])
def test_direct_region_score_refuses_sizes_beyond_bounds(op, logits, out_h, out_w, match):
    # without the Python wrapper: checked in int64 before any allocation or 32-bit arithmetic
    with pytest.raises(RuntimeError, match=match):
        op(logits, None, None, 1, 0.0, out_h, out_w)


@pytest.mark.parametrize("op", [torch.ops.dwaca.select_regions, torch.ops.dwaca_testing.select_regions_cuda_emulated])
@pytest.mark.parametrize("score,counts,radius,exclusion,match", [
    (torch.rand(1, 3, 3), [2**40], 1, 2, r"num_regions must be in \[0, 2\^33\], got 1099511627776"),
    (torch.rand(1, 3, 3), [-1], 1, 2, r"num_regions must be in \[0, 2\^33\]"),
    (torch.rand(3, 3, 3), [1, 2**32, 1], 1, 2, r"num_regions: centers \(3, 4294967296, 2\)"),
    (torch.rand(1, 3, 3), [1], 2**62, 2, r"radius must be in \[0, 2\^31 - 1\], got 4611686018427387904"),
    (torch.rand(1, 3, 3), [1], -1, 2, r"radius must be in \[0, 2\^31 - 1\]"),
    (torch.rand(1, 3, 3), [1], 1, 2**31, r"exclusion_radius must be in \[0, 2\^31 - 1\]"),
    (torch.zeros(1, 1, 1).expand(1, 2**16, 2**15), [1], 1, 2, r"score must have H \* W <= 2\^30"),
    (torch.zeros(1, 1, 1).expand(1, 2**31, 1), [1], 1, 2, r"score must have H \* W <= 2\^30"),
])
def test_direct_select_regions_refuses_arguments_beyond_bounds(op, score, counts, radius, exclusion, match):
    with pytest.raises(RuntimeError, match=match):
        op(score, counts, radius, exclusion)


def test_select_regions_at_the_largest_radii():
    # radii up to 2^31 - 1 are clamped to the image: the whole image selected, its default exclusion capped
    for fn in SELECT_FNS + [reference.select_regions]:
        got = fn(torch.rand(2, 4, 5), 1, radius=2**31 - 1)
        assert got.selected.all() and got.excluded.all()
    got = torch.ops.dwaca.select_regions(torch.rand(1, 4, 5), [2], 2**31 - 1, 2**31 - 1)
    assert got[1].all() and (got[0][0, 1] == -1).all()


@pytest.mark.parametrize("fn", [ops.region_score, cuda_emulation.region_score])
def test_region_score_outputs_do_not_require_grad(fn):
    # no derivative: the outputs never require grad, without autograd's "no autograd kernel" warning
    logits = torch.randn(2, 3, 4, 5, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fn(logits)
    assert not any(t.requires_grad for t in out)
    with pytest.raises(RuntimeError, match="does not require grad"):
        out.score.sum().backward()
    assert logits.grad is None


@pytest.mark.parametrize("op", [torch.ops.dwaca.select_regions, torch.ops.dwaca_testing.select_regions_cuda_emulated])
def test_select_regions_outputs_do_not_require_grad(op):
    score = torch.rand(2, 4, 5, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = op(score, [1, 2], 1, 2)
    assert not any(t.requires_grad for t in out)


@pytest.mark.parametrize("name", ["region_score", "select_regions"])
def test_registered_backward_refuses(name):
    # the formula autograd holds for the op: reached only if an output were ever made differentiable
    with pytest.raises(RuntimeError, match=f"{name} is not differentiable"):
        ops._not_differentiable(name)(None, torch.zeros(1))


# ---------------------------------------------------------------------------------------------- the package


@pytest.mark.parametrize("key", ["max_radius", "max_classes", "max_image_pixels", "max_elements", "max_select_radius"])
def test_mismatched_build_fails_import(monkeypatch, key):
    # an extension compiled with other limits than those the Python side checks arguments against is refused at
    # import, under python -O too
    built = _extension.build_info()
    monkeypatch.setattr(_extension, "build_info", lambda: {**built, key: built[key] + 1})
    with pytest.raises(ImportError, match=rf"{key} {built[key] + 1}, not {built[key]}\).*make setup"):
        ops._check_build()


def test_ops_modules_do_not_import_their_package():
    # dwaca.ops imports its modules, so a module that imports dwaca.ops back (even inside a function) is a cycle
    for path in Path(ops.__file__).parent.glob("*.py"):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                # relative to this module's package, dwaca.ops, one package up per further dot
                package = "dwaca.ops".rsplit(".", node.level - 1)[0] if node.level else ""
                module = ".".join(filter(None, [package, node.module]))
                targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
            else:
                continue
            assert "dwaca.ops" not in targets, f"{path.name}:{node.lineno} imports its package dwaca.ops"


# ---------------------------------------------------------------------------------------------- CUDA


@pytest.mark.cuda
@pytest.mark.skipif(not CUDA, reason="needs a visible CUDA device")
@pytest.mark.parametrize("C,k,sigma", [(16, 1, 0.0), (19, 1, 0.0), (19, 2, 1.0), (33, 4, 1.5), (64, 1, 0.0),
                                       (150, 1, 0.0), (256, 3, 2.0), (16, 6, 0.0), (19, 32, 0.0)])
def test_cuda_matches_cpu(C, k, sigma):
    # up to 64 classes the tiled kernel (exact register capacities at 16 and 19), above it the general one
    gen = torch.Generator().manual_seed(fresh_seed())
    x = torch.randn(2, C, 33, 65, generator=gen)
    cw = torch.rand(C, generator=gen)
    a = ops.region_score(x, radius=k, sigma=sigma, class_weights=cw, out_size=(70, 129))
    b = ops.region_score(x.cuda(), radius=k, sigma=sigma, class_weights=cw.cuda(), out_size=(70, 129))
    for u, v in zip(a, b):
        torch.testing.assert_close(v.cpu(), u, atol=ATOL, rtol=0)
    s = ops.select_regions(a.score, 40, radius=k)
    t = ops.select_regions(a.score.cuda(), 40, radius=k)
    for u, v in zip(s, t):
        assert torch.equal(u, v.cpu())


@pytest.mark.cuda
@pytest.mark.skipif(not CUDA, reason="needs a visible CUDA device")
@pytest.mark.parametrize("C", [19, 100], ids=["tiled", "general"])
def test_cuda_region_score_allocates_only_outputs(C):
    x = torch.randn(2, C, 64, 128, device="cuda")
    ops.region_score(x, out_size=(128, 256))  # warm-up: kernel attributes, allocator pools
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    out = ops.region_score(x, out_size=(128, 256))
    torch.cuda.synchronize()
    outputs = sum(t.numel() * t.element_size() for t in out)
    # the outputs plus the finiteness check's one-element reduction (one 512-byte allocator block)
    assert torch.cuda.max_memory_allocated() - base <= outputs + 512


@pytest.mark.cuda
@pytest.mark.skipif(not CUDA, reason="needs a visible CUDA device")
def test_cuda_device_mix_is_rejected():
    x = torch.randn(1, 4, 5, 6, device="cuda")
    with pytest.raises(ValueError, match="class_weights must be on the logits' device"):
        ops.region_score(x, class_weights=torch.ones(4))
    with pytest.raises(ValueError, match="labeled must be on the logits' device"):
        ops.region_score(x, labeled=torch.zeros(1, 5, 6, dtype=torch.bool))


def test_tiled_flat3x3_window_is_the_general_window():
    # The tiled kernel's k = 1, sigma = 0 path counts classes in bit planes (32- or 64-bit masks); with sigma = 1e20
    # every weight is exactly 1 and the same kernel takes its general window path. The uncertainty is the same float,
    # the impurity the same sum in another order: a few ulp at most, borders and counts up to 9 included.
    gen = torch.Generator().manual_seed(fresh_seed())
    for shape, out_size in [((2, 19, 7, 9), None), ((1, 16, 1, 13), (1, 30)), ((1, 5, 20, 1), None),
                            ((1, 32, 8, 11), None), ((1, 33, 9, 8), None), ((1, 64, 6, 7), (11, 13)),
                            ((1, 3, 9, 9), None), ((1, 2, 12, 12), None)]:
        C = shape[1]
        x = torch.randint(-1, 2, shape, generator=gen).float() if C <= 3 else torch.randn(*shape, generator=gen)
        if C > 3:  # the highest classes too, at the masks' top bits
            x[:, -1] += 0.5
        flat = cuda_emulation.region_score(x, radius=1, out_size=out_size, sigma=0.0)
        general = cuda_emulation.region_score(x, radius=1, out_size=out_size, sigma=1e20)
        assert torch.equal(flat.uncertainty, general.uncertainty), shape
        torch.testing.assert_close(flat.impurity, general.impurity, atol=2e-7, rtol=0)
        torch.testing.assert_close(flat.score, general.score, atol=2e-7, rtol=0)


@pytest.mark.parametrize("fn", SCORE_FNS + [reference.region_score])
def test_region_score_tiny_sigma_keeps_the_centre(fn):
    # 2 sigma^2 underflows to 0: the neighbours weigh exp(-inf) = 0 and the centre 1, the k = 0 window
    x = torch.randn(2, 6, 5, 7, generator=torch.Generator().manual_seed(fresh_seed()))
    got = fn(x, radius=2, sigma=1e-200)
    want = reference.region_score(x, radius=0)
    for g, r in zip(got, want):
        torch.testing.assert_close(g, r, atol=ATOL, rtol=0)


# (shape, out_size, radius, sigma, ties): up, down, mixed, 1-pixel inputs, odd sizes, halos 32, 64 and 128 wide
# (k <= 4, 5..8, 9..32). The strips run at 16 and 19 classes (the exact register capacities); at 7 the flag must
# change nothing either.
ROW_REUSE_CASES = [
    ((2, 19, 33, 65), (70, 129), 1, 0.0, False), ((1, 16, 40, 50), (23, 31), 1, 0.0, False),
    ((1, 19, 9, 40), (37, 21), 2, 1.0, False), ((1, 16, 1, 9), (31, 17), 1, 0.0, False),
    ((1, 19, 12, 1), (12, 5), 0, 0.0, False), ((2, 16, 5, 6), (130, 70), 4, 0.0, True),
    ((1, 16, 15, 22), (33, 50), 6, 0.0, False), ((1, 19, 20, 30), (64, 96), 9, 0.0, False),
    ((1, 16, 6, 9), (70, 40), 32, 0.0, True),
    ((1, 7, 17, 9), (1, 40), 1, 0.0, False),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_tiled_row_reuse_is_the_per_pixel_path_bit_for_bit(dtype):
    # the pixel phase's column strips reuse interpolated input rows: the floats must be those of one pixel at a time
    gen = torch.Generator().manual_seed(fresh_seed())
    for shape, out_size, k, sigma, ties in ROW_REUSE_CASES:
        x = random_logits(gen, *shape, dtype=dtype, ties=ties)
        cw = torch.rand(shape[1], generator=gen)
        lab = torch.rand(shape[0], *out_size, generator=gen) < 0.2
        args = dict(radius=k, sigma=sigma, out_size=out_size, class_weights=cw, labeled=lab)
        strips = cuda_emulation.region_score(x, **args)
        pixels = cuda_emulation.region_score(x, row_reuse=False, **args)
        for a, b in zip(strips, pixels):
            assert torch.equal(a, b), (shape, out_size, k)
        want = reference.region_score(x, **args)
        for a, b in zip(strips, want):
            torch.testing.assert_close(a, b, atol=ATOL, rtol=0)


@pytest.mark.cuda
@pytest.mark.skipif(not CUDA, reason="needs a visible CUDA device")
def test_cuda_tiled_row_reuse_is_the_per_pixel_path_bit_for_bit():
    gen = torch.Generator().manual_seed(fresh_seed())
    for shape, out_size, k, sigma, ties in ROW_REUSE_CASES:
        x = random_logits(gen, *shape, ties=ties, device="cuda")
        cw = torch.rand(shape[1], generator=gen).cuda()
        args = (x, cw, None, k, sigma, *out_size)
        strips = torch.ops.dwaca_testing.region_score_tiled(*args, True)
        pixels = torch.ops.dwaca_testing.region_score_tiled(*args, False)
        for a, b in zip(strips, pixels):
            assert torch.equal(a, b), (shape, out_size, k)

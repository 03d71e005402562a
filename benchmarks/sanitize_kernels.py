"""Launches every CUDA kernel on small inputs, for compute-sanitizer (memcheck, racecheck):

    compute-sanitizer --tool racecheck python benchmarks/sanitize_kernels.py

Covers region_score's tiled kernel at each of its class capacities (16 and 19 exact, 32, 64), with and without its
row reuse, and its general kernel (100 classes); radii 0-2, 6 and 32 (the 64- and 128-wide halos) and a Gaussian
window; up-, down- and unsampled inputs with a labelled mask; and the selection walk with 3x3/5x5 and strip
windows. Each result is compared with the CPU op (and the tiled kernel's two pixel phases with each other), so a
race that changes an output also fails here.
"""
import sys

import torch

from dwaca import ops


def main():
    gen = torch.Generator().manual_seed(0)
    bad = []
    for C, (h, w), out, radius, sigma in [(16, (37, 53), (64, 96), 1, 0.0), (19, (40, 72), None, 2, 0.0),
                                          (19, (30, 50), (60, 100), 1, 0.0), (32, (33, 29), (20, 18), 0, 0.0),
                                          (64, (24, 40), (48, 80), 1, 1.5), (100, (20, 30), (40, 60), 1, 0.0),
                                          (19, (10, 15), (24, 40), 6, 0.0), (16, (6, 9), (20, 36), 32, 0.0)]:
        logits = torch.randn(2, C, h, w, generator=gen) * 3
        cw = torch.rand(C, generator=gen)
        H, W = out or (h, w)
        labeled = torch.rand(2, H, W, generator=gen) < 0.1
        kw = dict(radius=radius, class_weights=cw, out_size=out, labeled=labeled, sigma=sigma)
        want = ops.region_score(logits, **kw)
        got = ops.region_score(logits.cuda(), **dict(kw, class_weights=cw.cuda(), labeled=labeled.cuda()))
        if not all(torch.allclose(g.cpu(), e, rtol=0, atol=1e-5) for g, e in zip(got, want)):
            bad.append(f"region_score C={C} k={radius}")
        if C <= 64:  # the tiled kernel's pixel phase one pixel at a time: the same floats as its row reuse
            args = (logits.cuda(), cw.cuda(), labeled.cuda(), radius, sigma, H, W)
            strips = torch.ops.dwaca_testing.region_score_tiled(*args, True)
            pixels = torch.ops.dwaca_testing.region_score_tiled(*args, False)
            if not all(torch.equal(g, e) for g, e in zip(pixels, strips)):
                bad.append(f"region_score_tiled without row reuse C={C} k={radius}")
        for r, m in [(1, None), (2, None), (0, 3), (3, 17)]:
            want_sel = ops.select_regions(want.score, 40, radius=r, exclusion_radius=m)
            got_sel = ops.select_regions(want.score.cuda(), 40, radius=r, exclusion_radius=m)
            if not all(torch.equal(g.cpu(), e) for g, e in zip(got_sel, want_sel)):
                bad.append(f"select_regions r={r} m={m} C={C}")
    torch.cuda.synchronize()
    print("sanitize_kernels:", "all outputs agree with the CPU ops" if not bad else bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

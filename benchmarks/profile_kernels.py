"""Launches the scoring and selection kernels at Cityscapes size, for a profiler to capture:

    ncu --clock-control none --kernel-name regex:"region_score|greedy" python benchmarks/profile_kernels.py

region_score runs once on 8 images of 19x640x1280 logits upsampled to 1024x2048 (the tiled kernel), then the same
kernel once more without its row reuse; select_regions once on the first image's score (2330 regions, batch 1,
where the walk is what a call waits for). ncu replays each kernel itself.
"""
import torch

from dwaca import ops


def main():
    gen = torch.Generator().manual_seed(0)
    logits = (torch.randn(8, 19, 640, 1280, generator=gen) * 3).cuda()
    cw = torch.rand(19, generator=gen).cuda()
    score = ops.region_score(logits, radius=1, class_weights=cw, out_size=(1024, 2048)).score
    torch.ops.dwaca_testing.region_score_tiled(logits, cw, None, 1, 0.0, 1024, 2048, False)  # without row reuse
    ops.select_regions(score[:1], round(0.01 * 1024 * 2048 / 9), radius=1)
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()

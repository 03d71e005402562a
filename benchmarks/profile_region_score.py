"""Launches region_score and region_score_candidate at Cityscapes size, for a profiler to capture:

    ncu --clock-control none --kernel-name regex:region_score python benchmarks/profile_region_score.py

Each op runs once on 8 images of 19x640x1280 logits upsampled to 1024x2048 (ncu replays each kernel itself).
"""
import torch

from dwaca import ops


def main():
    gen = torch.Generator().manual_seed(0)
    logits = (torch.randn(8, 19, 640, 1280, generator=gen) * 3).cuda()
    cw = torch.rand(19, generator=gen).cuda()
    for fn in (ops.region_score, ops.region_score_candidate):
        fn(logits, radius=1, class_weights=cw, out_size=(1024, 2048))
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()

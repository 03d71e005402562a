"""DeepLab segmentation heads on a feature-dict backbone, and the model that joins them.

Backbones are torchvision networks wrapped in ``IntermediateLayerGetter`` so they return
``{"low": (B, C_low, H/4, W/4), "out": (B, C_out, H/s, W/s)}``; see ``build.py``.
Every forward returns logits at the head's own resolution, never upsampled to the input:
callers (the selection kernel, the losses, the evaluator) upsample where they need to.
"""
import torch
import torch.nn.functional as F
from torch import nn

# RIPU's recipe: the randomly initialised head learns 10x faster than the ImageNet backbone.
HEAD_LR_MULT = 10.0


def _resize(x, size):
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


class ASPPClassifierV2(nn.Module):
    """DeepLabV2 classifier: the sum of parallel dilated 3x3 convolutions straight to class logits.

    (B, in_channels, h, w) features -> (B, num_classes, h, w) logits, at the backbone's stride.
    """

    def __init__(self, in_channels, num_classes, dilations=(6, 12, 18, 24)):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Conv2d(in_channels, num_classes, 3, padding=d, dilation=d) for d in dilations)
        for conv in self.branches:
            # Small weights as in DeepLabV2 so the summed branches start near uniform logits.
            nn.init.normal_(conv.weight, 0.0, 0.01)
            nn.init.zeros_(conv.bias)

    def forward(self, feats):
        x = feats["out"]
        return sum(branch(x) for branch in self.branches)


def _separable_conv(in_ch, out_ch, dilation=1):
    """Depthwise 3x3 (dilated) then pointwise 1x1, each with BN + ReLU, as in RIPU's V3+ head."""
    return nn.Sequential(
        nn.Conv2d(in_ch, in_ch, 3, padding=dilation, dilation=dilation, groups=in_ch, bias=False),
        nn.BatchNorm2d(in_ch),
        nn.ReLU(inplace=True),
        nn.Conv2d(in_ch, out_ch, 1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


def _conv1x1_bn_relu(in_ch, out_ch):
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


class DeepLabV3PlusHead(nn.Module):
    """ASPP on the deep features + a decoder that fuses the stride-4 low-level features.

    ASPP: a 1x1 branch, separable 3x3 branches at ``dilations`` and an image-pooling branch, concatenated and
    fused by a 3x3 conv; upsampled to the low-level map, concatenated with a 48-channel projection of it, then two
    separable 3x3 convs, dropout and a 1x1 classifier.
    feats {"low": (B, low_channels, h4, w4), "out": (B, in_channels, h, w)} -> (B, num_classes, h4, w4) logits.
    """

    def __init__(self, in_channels, low_channels, num_classes, width=512, low_width=48, dilations=(6, 12, 18)):
        super().__init__()
        self.aspp = nn.ModuleList([_conv1x1_bn_relu(in_channels, width)])
        self.aspp.extend(_separable_conv(in_channels, width, d) for d in dilations)
        # No BatchNorm on the 1x1 pooled map: BN there fails on a training batch of one image.
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, width, 1), nn.ReLU(inplace=True))
        n_branches = len(self.aspp) + 1
        self.fuse = nn.Sequential(
            nn.Conv2d(width * n_branches, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        self.low_proj = _conv1x1_bn_relu(low_channels, low_width)
        self.decoder = nn.Sequential(
            _separable_conv(width + low_width, width),
            _separable_conv(width, width),
            nn.Dropout2d(0.1),
            nn.Conv2d(width, num_classes, 1),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, feats):
        x, low = feats["out"], feats["low"]
        pooled = self.image_pool(x).expand(-1, -1, x.shape[2], x.shape[3])
        x = self.fuse(torch.cat([branch(x) for branch in self.aspp] + [pooled], dim=1))
        x = _resize(x, low.shape[-2:])
        return self.decoder(torch.cat([x, self.low_proj(low)], dim=1))


class SegmentationModel(nn.Module):
    """backbone -> head. forward: (B, 3, H, W) normalised images -> (B, num_classes, h, w) logits, NOT upsampled.

    ``logit_stride`` is H / h (rounded up for sizes not divisible by it): 4 for the V3+ head, the backbone's output
    stride for the V2 head. ``freeze_bn`` keeps every BatchNorm in eval mode (running statistics fixed) with its
    affine parameters frozen, through ``train()`` calls too, which is what RIPU's FrozenBatchNorm2d does.
    """

    def __init__(self, backbone, head, logit_stride, freeze_bn=False):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.logit_stride = logit_stride
        self.freeze_bn = freeze_bn
        if freeze_bn:
            for bn in self._batchnorms():
                for p in bn.parameters():
                    p.requires_grad_(False)
            self.train(self.training)

    def _batchnorms(self):
        return [m for m in self.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    def train(self, mode=True):
        super().train(mode)
        if self.freeze_bn:
            for bn in self._batchnorms():
                bn.eval()
        return self

    def forward(self, x):
        return self.head(self.backbone(x))

    def param_groups(self, base_lr):
        """SGD parameter groups: backbone at ``base_lr``, head at ``HEAD_LR_MULT * base_lr``.

        Every parameter appears exactly once (frozen ones too: SGD skips parameters without gradients).
        ``lr_mult`` lets a schedule rescale each group from one base rate (see ``dwaca.engine.solver``).
        """
        return [
            {"params": list(self.backbone.parameters()), "lr": base_lr, "lr_mult": 1.0, "name": "backbone"},
            {"params": list(self.head.parameters()), "lr": base_lr * HEAD_LR_MULT, "lr_mult": HEAD_LR_MULT,
             "name": "head"},
        ]

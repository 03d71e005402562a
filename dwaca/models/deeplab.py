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
    """DeepLabV2 classifier: the sum of parallel dilated 3x3 convolutions (with bias) straight to class logits.

    (B, in_channels, h, w) features -> (B, num_classes, h, w) logits, at the backbone's stride.
    Submodule names are the published code's (``conv2d_list``), so its checkpoints load key for key.
    """

    def __init__(self, in_channels, num_classes, dilations=(6, 12, 18, 24)):
        super().__init__()
        self.conv2d_list = nn.ModuleList(
            nn.Conv2d(in_channels, num_classes, 3, padding=d, dilation=d) for d in dilations)
        for conv in self.conv2d_list:
            # Small weights as in DeepLabV2 so the summed branches start near uniform logits; biases keep PyTorch's
            # default initialisation, as published.
            nn.init.normal_(conv.weight, 0.0, 0.01)

    def forward(self, feats):
        x = feats["out"]
        return sum(conv(x) for conv in self.conv2d_list)


class DepthwiseSeparableConv(nn.Module):
    """Depthwise 3x3 (dilated) then pointwise 1x1 convolution, each without bias and followed by BN + ReLU.

    (B, in_ch, h, w) -> (B, out_ch, h, w).
    """

    def __init__(self, in_ch, out_ch, dilation=1):
        super().__init__()
        self.depthwise_conv = nn.Conv2d(in_ch, in_ch, 3, padding=dilation, dilation=dilation, groups=in_ch,
                                        bias=False)
        self.depthwise_bn = nn.BatchNorm2d(in_ch)
        self.pointwise_conv = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.pointwise_bn = nn.BatchNorm2d(out_ch)

    def forward(self, x):
        x = F.relu(self.depthwise_bn(self.depthwise_conv(x)), inplace=True)
        return F.relu(self.pointwise_bn(self.pointwise_conv(x)), inplace=True)


def _conv_bn_relu(in_ch, out_ch, kernel_size=1):
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=False),
                         nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


class DeepLabV3PlusHead(nn.Module):
    """ASPP on the deep features + a decoder that fuses the stride-4 low-level features.

    ASPP (``parallel_branches``): a 1x1 branch and separable 3x3 branches at ``dilations``, plus the image-pooling
    ``global_branch`` (average pool, 1x1 conv, BN, ReLU, broadcast back over the map), concatenated in that order
    and fused by the 3x3 ``bottleneck``; upsampled (bilinear, align_corners) to the low-level map, concatenated
    with its 48-channel ``shortcut`` projection, then the ``decoder``: two separable 3x3 convs, dropout and a 1x1
    classifier with bias. Submodule names and layer order are the published code's, so its checkpoints load key for
    key (the published head is this one at width 512 on ResNet-101's 2048 / 256 channels).
    feats {"low": (B, low_channels, h4, w4), "out": (B, in_channels, h, w)} -> (B, num_classes, h4, w4) logits.
    The BN on the 1x1 pooled map cannot train on one image per batch: ``dwaca.config.check_training_batch``.
    """

    def __init__(self, in_channels, low_channels, num_classes, width=512, low_width=48, dilations=(6, 12, 18)):
        super().__init__()
        self.parallel_branches = nn.ModuleList([_conv_bn_relu(in_channels, width)])
        self.parallel_branches.extend(DepthwiseSeparableConv(in_channels, width, d) for d in dilations)
        self.global_branch = nn.Sequential(nn.AdaptiveAvgPool2d(1), *_conv_bn_relu(in_channels, width))
        self.bottleneck = _conv_bn_relu(width * (len(self.parallel_branches) + 1), width, kernel_size=3)
        self.shortcut = _conv_bn_relu(low_channels, low_width)
        self.decoder = nn.Sequential(
            DepthwiseSeparableConv(width + low_width, width),
            DepthwiseSeparableConv(width, width),
            nn.Dropout2d(0.1),
            nn.Conv2d(width, num_classes, 1),
        )
        for m in self.modules():  # biases keep PyTorch's default initialisation, as published
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, feats):
        x, low = feats["out"], feats["low"]
        pooled = self.global_branch(x).expand(-1, -1, x.shape[2], x.shape[3])  # = upsampling the 1x1 map
        x = self.bottleneck(torch.cat([branch(x) for branch in self.parallel_branches] + [pooled], dim=1))
        x = _resize(x, low.shape[-2:])
        return self.decoder(torch.cat([x, self.shortcut(low)], dim=1))


class SegmentationModel(nn.Module):
    """backbone -> head. forward: (B, 3, H, W) normalised images -> (B, num_classes, h, w) logits, NOT upsampled.

    ``logit_stride`` is H / h (rounded up for sizes not divisible by it): 4 for the V3+ head, the backbone's output
    stride for the V2 head. ``freeze_bn`` keeps every BatchNorm in eval mode (running statistics fixed) with its
    affine parameters frozen, through ``train()`` calls too, and without the epsilon added to the variance: what the
    published FrozenBatchNorm2d computes, x * weight / sqrt(running_var) + ..., so their weights give their logits.
    """

    def __init__(self, backbone, head, logit_stride, freeze_bn=False):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.logit_stride = logit_stride
        self.freeze_bn = freeze_bn
        if freeze_bn:
            for bn in self._batchnorms():
                bn.eps = 0.0
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

"""The single place where defaults live. Keys follow the RIPU / DWACA configs so their YAML files load unchanged;
keys they lack are marked "dwaca:"."""
from yacs.config import CfgNode as CN

_C = CN()

_C.MODEL = CN()
# "<head>_<backbone>": head deeplabv2 | deeplabv3plus; backbone resnet101 (stride 8, as RIPU), resnet18 |
# mobilenetv3 (light, for CPU runs). See dwaca/models/build.py.
_C.MODEL.NAME = "deeplabv2_resnet101"
_C.MODEL.NUM_CLASSES = 19
_C.MODEL.DEVICE = "cuda"
# Local ImageNet checkpoint for the backbone, or a torchvision weights name (e.g. "IMAGENET1K_V2") when online.
_C.MODEL.WEIGHTS = ""
_C.MODEL.FREEZE_BN = False

_C.INPUT = CN()
_C.INPUT.SOURCE_INPUT_SIZE_TRAIN = (1280, 720)  # (W, H)
_C.INPUT.TARGET_INPUT_SIZE_TRAIN = (1280, 640)
_C.INPUT.INPUT_SIZE_TEST = (1280, 640)
_C.INPUT.INPUT_SCALES_TRAIN = (1.0, 1.0)
_C.INPUT.IGNORE_LABEL = 255
_C.INPUT.PIXEL_MEAN = [0.485, 0.456, 0.406]
_C.INPUT.PIXEL_STD = [0.229, 0.224, 0.225]
_C.INPUT.TO_BGR255 = False
# dwaca: training augmentation beyond RIPU's (RIPU neither flips nor jitters, hence 0 by default).
_C.INPUT.HFLIP_PROB_TRAIN = 0.0
_C.INPUT.COLOR_JITTER_TRAIN = 0.0
# dwaca: how images are resized, "bicubic" (PIL's, as the published code) or "bilinear"; labels always nearest.
_C.INPUT.INTERPOLATION = "bicubic"

_C.DATASETS = CN()
# dwaca: one root holding cityscapes/, gtav/, synthia/ as the seed's README lays them out.
_C.DATASETS.ROOT = "datasets"
_C.DATASETS.SOURCE_TRAIN = ""
_C.DATASETS.TARGET_TRAIN = ""
_C.DATASETS.TEST = ""
# dwaca: how the source stream draws images: "class_balanced" (the published list: rare classes drawn far more
# often, see dwaca/data/class_balance.py; label statistics from <source root>/<dataset>_label_info.p or .json,
# computed once if neither exists) or "uniform" (every source image once per epoch).
_C.DATASETS.SOURCE_SAMPLING = "class_balanced"

_C.SOLVER = CN()
_C.SOLVER.MAX_ITER = 60000
_C.SOLVER.STOP_ITER = 40000
_C.SOLVER.CHECKPOINT_PERIOD = 2000
_C.SOLVER.LR_METHOD = "poly"
_C.SOLVER.BASE_LR = 2.5e-4
_C.SOLVER.LR_POWER = 0.9
_C.SOLVER.MOMENTUM = 0.9
_C.SOLVER.WEIGHT_DECAY = 0.0005
_C.SOLVER.BATCH_SIZE = 2
# Batch of the evaluations during training (ACTIVE.IOU_SOURCE val, the final one); tools/test.py uses TEST.BATCH_SIZE.
_C.SOLVER.BATCH_SIZE_VAL = 1
_C.SOLVER.CONSISTENT_LOSS = 0.1
_C.SOLVER.NEGATIVE_LOSS = 1.0
_C.SOLVER.NEGATIVE_THRESHOLD = 0.05
_C.SOLVER.LCR_TYPE = "l1"
# dwaca: bf16/fp16 autocast on CUDA ("", "bf16", "fp16").
_C.SOLVER.AMP = ""
# dwaca: data-loader worker processes.
_C.SOLVER.NUM_WORKERS = 2
# dwaca: checkpoints kept on disk: the newest KEEP_CHECKPOINTS (0: all, as published) and, with
# KEEP_ROUND_CHECKPOINTS, those at the ACTIVE.SELECT_ITER iterations (the annotation workflow selects from them).
_C.SOLVER.KEEP_CHECKPOINTS = 2
_C.SOLVER.KEEP_ROUND_CHECKPOINTS = True

_C.ACTIVE = CN()
# Selection strategy: "AL-DWACA" (dynamic weights + context-aware diversity), "AL-RIPU" (region impurity x
# prediction uncertainty), "entropy" (mean region entropy), "random".
_C.ACTIVE.NAME = "AL-DWACA"
# "RA" (regions) or "PA" (single pixels); budgets in dwaca.active.selection.
_C.ACTIVE.SETTING = "RA"
# Rounds: each runs after this many optimizer steps; [] = none (no target labels: the source-only reference).
_C.ACTIVE.SELECT_ITER = [10000, 12000, 14000, 16000, 18000]
# RA: fraction of each target image bought over all rounds.
_C.ACTIVE.RATIO = 0.022
# PA: pixels per 1280 x 640 image over all rounds, scaled to the image's size (RIPU's definition).
_C.ACTIVE.PIXELS = 40
# Region radius k (RA: (2k+1)^2 regions; PA: minimum spacing of the picked pixels); also the score's neighbourhood.
_C.ACTIVE.RADIUS_K = 1
# dwaca: Gaussian context weighting of the neighbourhood (0 = the published flat window).
_C.ACTIVE.SIGMA = 0.0
# dwaca: dynamic class weight formula: "dwaca" (published), "smoothed", "shrunk" or "uniform" (dwaca/active/weights.py).
_C.ACTIVE.WEIGHT_MODE = "dwaca"
# dwaca: weight a pixel by the expected class weight under its softmax, sum_c p_c w_c (dwaca/active/expected_weight.py),
# instead of the weight of its predicted class (published).
_C.ACTIVE.SOFT_WEIGHTS = False
# dwaca: where per-class IoU for the dynamic weights comes from: "pool" (annotated target pixels, default)
# or "val" (the evaluation set: test-set leakage, for reproducing the published numbers only).
_C.ACTIVE.IOU_SOURCE = "pool"
# dwaca: images scored per forward pass during a selection round.
_C.ACTIVE.BATCH_SIZE = 1
# dwaca: upsample the logits to the network's input size before the scoring kernel upsamples them to the label grid,
# two bilinear steps as the published selection does; False scores from the logits in one step (less memory).
_C.ACTIVE.UPSAMPLE_VIA_INPUT = True
_C.ACTIVE.VIZ_MASK = True  # unused (RIPU: save pictures of the selected masks)

# dwaca: OUTPUT_DIR/metrics.jsonl is always written; TENSORBOARD adds event files under OUTPUT_DIR/tensorboard.
_C.LOG = CN()
_C.LOG.TENSORBOARD = False

_C.TEST = CN()
_C.TEST.BATCH_SIZE = 1
# dwaca: average the softmax over the image and its horizontal flip, as RIPU's tools/test.py does.
_C.TEST.FLIP = True
# dwaca: tools/test.py writes every test image's prediction under OUTPUT_DIR/inference/ (colour and label-id PNGs).
_C.TEST.SAVE_PREDICTIONS = True

_C.OUTPUT_DIR = ""
_C.resume = ""
_C.PREPARE_DIR = ""  # unused (RIPU: where its data preparation writes)
_C.SEED = -1
_C.DEBUG = 0  # unused (RIPU: a selection round at every iteration)

# Keys RIPU's configs carry that this package does not implement: a value other than the default is warned about.
UNUSED_KEYS = ("ACTIVE.VIZ_MASK", "PREPARE_DIR", "DEBUG")

cfg = _C


def get_cfg_defaults():
    """A fresh, mutable copy of the defaults."""
    return _C.clone()


def unused_settings(c):
    """The UNUSED_KEYS that ``c`` sets to something other than the default."""
    def value(node, key):
        for part in key.split("."):
            node = node[part]
        return node
    return [key for key in UNUSED_KEYS if value(c, key) != value(_C, key)]


def load_config(config_file=None, opts=()):
    """Defaults, then a YAML file, then KEY VALUE overrides; frozen. Unknown keys raise a KeyError naming them."""
    c = get_cfg_defaults()
    if config_file:
        c.merge_from_file(config_file)
    if opts:
        opts = list(opts)
        if len(opts) % 2:
            raise ValueError(f"config overrides must be KEY VALUE pairs, got an odd number: {opts}")
        for key in opts[0::2]:
            node = c
            for part in str(key).split("."):
                if not isinstance(node, CN) or part not in node:
                    raise KeyError(f"unknown config key '{key}' in the command-line overrides")
                node = node[part]
        c.merge_from_list(opts)
    c.freeze()
    return c

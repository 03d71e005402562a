"""Annotation with people: export a selection round's queries, import the labels annotators return.

``export_queries`` runs the next selection round of a pool WITHOUT reading target ground truth and writes::

    DIR/queries.json          what is asked (format below), with a "conventions" header
    DIR/queries/<key>.png     per requested image, 8-bit: 1 = please label this pixel, 255 = not requested
    DIR/labels/               empty; the annotator puts one <key>.png per image here (same key)

``<key>`` is the pool's mask key (``pool.mask_key``: the sample name, "/" -> "__", no ".png"). A returned label
PNG is single-channel 8-bit, the image's size: a train id (0 .. C-1) where the annotator named a class, 254 ("void":
looked at, no class applies; bought, recorded as ``ANNOTATED_VOID``, never trained on) and 255 ("unlabeled": not
answered; not bought, reported as missing, may be asked again in a later round). Anything but 255 outside the
requested pixels is an error.

Boxes in queries.json are ``[y0, x0, y1, x1]``, INCLUSIVE, clipped to the image; ``center`` is ``[y, x]``.

Nothing enters the pool at export: the export is *pending*, recorded in ``<pool>/export_pending.json``. A second
export while one is pending is refused (import it first, or delete that file to abandon it). ``import_labels``
checks everything before it touches the pool (an error there leaves the pool files byte-identical), then commits the
round through the pool's round journal (``LabelPool.commit_round``, round record ``"source": "import"``) and clears
the pending record. A crash or I/O error while writing leaves either the pool as it was or a durable commit;
rerunning the import (``tools/import_labels.py`` opens the pool with ``recover=True``) finishes either way, buying
each label exactly once.
Partial returns are accepted: what arrived is bought, the rest is reported missing and is NOT counted as bought;
the round's budget is what the config allowed, whether or not it was all returned.

``answer_queries_from_ground_truth`` is the simulated annotator of experiments: it answers an export from ground
truth exactly as a person would, so export -> oracle -> import equals ``run_selection_round``.
"""
import hashlib
import json
import time
import uuid
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from ..data import build_dataset
from ..models import build_model
from ..models.checkpoint import CheckpointError, check_model_config, load_checkpoint, load_model_state
from ..utils.io import atomic_write_bytes, atomic_write_json, png_bytes
from .budget import check_active_config
from .errors import AnnotationError
from .journal import mask_key
from .pool import ANNOTATED_VOID, MANIFEST, NOT_ANNOTATED
from .selection import collate_items, oracle_labels, select_batches
from .strategies import class_weights_for

QUERIES = "queries.json"
QUERY_DIR = "queries"
LABEL_DIR = "labels"
PENDING = "export_pending.json"
FORMAT = "dwaca-queries"
VERSION = 1
REQUESTED = 1
NOT_REQUESTED = 255
VOID_ANSWER = ANNOTATED_VOID  # 254 in a returned label: "void", bought
UNLABELED = NOT_ANNOTATED  # 255 in a returned label: not answered, not bought
CONVENTIONS = {
    "queries/<key>.png": f"8-bit, the image's size: {REQUESTED} = label this pixel, {NOT_REQUESTED} = not requested",
    "labels/<key>.png": f"return one per image, 8-bit single channel, the image's size: train id 0..C-1, "
                        f"{VOID_ANSWER} = void (looked at, no class; bought), {UNLABELED} = unlabeled (not bought); "
                        f"only requested pixels may differ from {UNLABELED}",
    "boxes": "box [y0, x0, y1, x1] inclusive, clipped to the image; center [y, x]; pixel rows/columns",
    "budget_pixels": "pixels this round may buy (the config's budget); requested_pixels <= budget_pixels",
}


# -- checks of what comes in ---------------------------------------------------------------------------------------
def load_model_checked(cfg, checkpoint, device):
    """The model of ``cfg`` with the weights of ``checkpoint``, in eval mode, and the checkpoint dict.

    Raises AnnotationError naming the file when it is unreadable, or was trained with another MODEL.NAME or
    MODEL.NUM_CLASSES, or its weights do not fit the model."""
    try:
        state = load_checkpoint(checkpoint, map_location="cpu")
        check_model_config(checkpoint, state, cfg)
        model = build_model(cfg)
        load_model_state(model, state, checkpoint)
    except (FileNotFoundError, CheckpointError) as err:
        raise AnnotationError(str(err)) from err
    return model.to(device).eval(), state


def read_label_png(path, what="label"):
    """(H, W) uint8 of a single-channel 8-bit PNG (grayscale or palette indices); AnnotationError naming it."""
    try:
        with Image.open(path) as img:
            if img.mode not in ("L", "P"):
                raise AnnotationError(f"{what} {path} must be a single-channel 8-bit PNG, got PIL mode {img.mode}")
            return np.array(img)
    except (OSError, ValueError, SyntaxError) as err:
        if isinstance(err, AnnotationError):
            raise
        raise AnnotationError(f"cannot read {what} {path} (corrupt or truncated?): {err}") from err


def pool_fingerprint(pool):
    """sha256 of the pool's manifest.json as on disk ("empty" before the first commit): changes with every round."""
    path = pool.root / MANIFEST
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "empty"


def read_pending(pool):
    """The pending export record of ``pool`` ({"export_id", "dir", "round"}) or None."""
    path = pool.root / PENDING
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise AnnotationError(f"pending-export record {path} is malformed ({err}); delete it to abandon the "
                              "export") from err


def _imported_round(pool, export_id):
    return next((r["index"] for r in pool.rounds if r.get("export_id") == export_id), None)


# -- export ----------------------------------------------------------------------------------------------------------
class UnlabeledTargetView(Dataset):
    """A target dataset in "select" mode seen without its ground truth (for exports).

    Items as ``SegmentationDataset``'s: image transformed for the network, ``label`` (H, W) all 255, only carrying
    the annotation grid, which is the image's own size (what an annotator sees). The label files are never opened.
    """

    def __init__(self, dataset):
        self.dataset = dataset
        self.names = dataset.names

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        image = self.dataset.load_image(index)
        blank = torch.full(tuple(image.shape[-2:]), NOT_ANNOTATED, dtype=torch.uint8)
        image, label = self.dataset.transform(image, blank)
        return {"image": image, "label": label, "name": self.names[index], "index": index}


def select_queries(cfg, model, pool, round_index, dataset, *, device, per_class_iou=None, class_support=None, seed=0):
    """The selection of round ``round_index`` exactly as ``run_selection_round`` makes it (``select_batches``:
    same batches, scores, seeded draws and budget checks), minus the oracle: nothing is labelled or added to the pool.

    Returns (queries, class_weights): queries a list, per image, of dict(name, index, shape [H, W], selected (H, W)
    bool ndarray, centers (n, 2) int64 ndarray (row, col), radius, budget_pixels, regions_requested)."""
    active = cfg.ACTIVE
    weights = class_weights_for(active.NAME, per_class_iou, int(cfg.MODEL.NUM_CLASSES), active.WEIGHT_MODE,
                                class_support)
    loader = DataLoader(dataset, batch_size=int(active.BATCH_SIZE), shuffle=False, collate_fn=collate_items)
    queries = [dict(name=it["name"], index=int(it["index"]), shape=list(sel.shape), selected=sel,
                    centers=picked.numpy(), radius=plan["radius"], budget_pixels=plan["budget_pixels"],
                    regions_requested=plan["count"])
               for it, plan, picked, sel in select_batches(cfg, model, pool, round_index, loader, device=device,
                                                           weights=weights, seed=seed)]
    return queries, weights


def _box(center, radius, shape):
    """Inclusive [y0, x0, y1, x1] of the (2r+1)^2 window at ``center`` clipped to ``shape`` (H, W)."""
    y, x = int(center[0]), int(center[1])
    return [max(y - radius, 0), max(x - radius, 0), min(y + radius, shape[0] - 1), min(x + radius, shape[1] - 1)]


def export_queries(cfg, model, pool, export_dir, *, device, checkpoint="", iteration=0, per_class_iou=None,
                   iou_source="none", class_support=None, seed=0, dataset=None):
    """Select the pool's next round and write its queries to ``export_dir`` (see the module doc); returns the
    queries.json dict. dataset: the target set in "select" mode (ground truth is never read from it); built from
    cfg if None. Refuses a non-empty ``export_dir`` and a second pending export."""
    check_active_config(cfg)
    export_dir = Path(export_dir)
    round_index = pool.rounds_done
    rounds = len(cfg.ACTIVE.SELECT_ITER)
    if round_index >= rounds:
        raise AnnotationError(f"the pool at {pool.root} already holds all {rounds} rounds of ACTIVE.SELECT_ITER")
    pending = read_pending(pool)
    if pending is not None and _imported_round(pool, pending.get("export_id")) is None:
        raise AnnotationError(f"{pool.root / PENDING}: round {pending.get('round')} exported to {pending.get('dir')} "
                              "is still pending; import it first (or delete that file to abandon the export)")
    if export_dir.exists() and any(export_dir.iterdir()):
        raise AnnotationError(f"export folder {export_dir} is not empty")
    if dataset is None:
        dataset = build_dataset(cfg, cfg.DATASETS.TARGET_TRAIN, "select")
    queries, weights = select_queries(cfg, model, pool, round_index, UnlabeledTargetView(dataset), device=device,
                                      per_class_iou=per_class_iou, class_support=class_support, seed=seed)
    export_id = uuid.uuid4().hex
    images, boxes = [], []
    for q in queries:
        key = mask_key(q["name"])
        entry = {"name": q["name"], "index": q["index"], "shape": q["shape"], "pixels": int(q["selected"].sum()),
                 "regions": len(q["centers"]), "budget_pixels": q["budget_pixels"],
                 "query": f"{QUERY_DIR}/{key}.png", "labels": f"{LABEL_DIR}/{key}.png"}
        if entry["pixels"]:
            atomic_write_bytes(export_dir / entry["query"],
                               png_bytes(np.where(q["selected"], REQUESTED, NOT_REQUESTED)))
            images.append(entry)
        boxes += [{"image": q["name"], "round": round_index, "center": [int(c[0]), int(c[1])],
                   "box": _box(c, q["radius"], q["shape"])} for c in q["centers"]]
    (export_dir / LABEL_DIR).mkdir(parents=True, exist_ok=True)
    document = {"format": FORMAT, "version": VERSION, "conventions": CONVENTIONS, "export_id": export_id,
                "pool": str(pool.root.resolve()), "pool_fingerprint": pool_fingerprint(pool), "round": round_index,
                "iteration": int(iteration), "checkpoint": str(checkpoint), "strategy": cfg.ACTIVE.NAME,
                "setting": cfg.ACTIVE.SETTING, "radius": int(cfg.ACTIVE.RADIUS_K),
                "num_classes": int(cfg.MODEL.NUM_CLASSES), "iou_source": iou_source,
                "class_weights": weights.tolist(), "images_scored": len(queries),
                "regions_requested": sum(q["regions_requested"] for q in queries),
                "budget_pixels": sum(q["budget_pixels"] for q in queries),
                "requested_pixels": sum(e["pixels"] for e in images), "images": images, "boxes": boxes}
    atomic_write_json(export_dir / QUERIES, document)
    # written last: a crash before this leaves an export that import refuses, never a half-recorded one
    atomic_write_json(pool.root / PENDING, {"export_id": export_id, "dir": str(export_dir.resolve()),
                                            "round": round_index})
    return document


# -- the simulated annotator ---------------------------------------------------------------------------------------
def read_queries(export_dir):
    """The queries.json dict of ``export_dir``; AnnotationError naming the file if it is missing or malformed."""
    path = Path(export_dir) / QUERIES
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise AnnotationError(f"cannot read {path}: {err}") from err
    required = ("export_id", "pool", "pool_fingerprint", "round", "num_classes", "budget_pixels", "images", "boxes")
    if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("version") != VERSION:
        raise AnnotationError(f"{path} is not a {FORMAT} v{VERSION} file")
    missing = [k for k in required if k not in document]
    if missing:
        raise AnnotationError(f"{path} is malformed: lacks {missing}")
    if not isinstance(document["images"], list) or not all(_well_formed_image(e) for e in document["images"]):
        raise AnnotationError(f"{path} is malformed: bad 'images' list")
    if not isinstance(document["boxes"], list) or not all(
            isinstance(b, dict) and isinstance(b.get("image"), str) and isinstance(b.get("box"), list)
            and len(b["box"]) == 4 and all(isinstance(v, int) for v in b["box"]) for b in document["boxes"]):
        raise AnnotationError(f"{path} is malformed: bad 'boxes' list")
    return document


def _well_formed_image(entry):
    # the file names are fixed by the image name, so an edited queries.json cannot point outside the export
    return (isinstance(entry, dict) and {"name", "index", "shape", "pixels"} <= entry.keys()
            and isinstance(entry["name"], str)
            and entry.get("query") == f"{QUERY_DIR}/{mask_key(entry['name'])}.png"
            and entry.get("labels") == f"{LABEL_DIR}/{mask_key(entry['name'])}.png")


def answer_queries_from_ground_truth(export_dir, dataset):
    """Fill ``export_dir/labels/`` from ground truth as an annotator would: the class id on requested pixels,
    ``VOID_ANSWER`` where the ground truth is void, ``UNLABELED`` elsewhere. ``dataset``: the target training set
    (its names must contain the exported ones); labels come from ``selection.oracle_labels``. Returns the number of
    files written."""
    export_dir = Path(export_dir)
    document = read_queries(export_dir)
    position = {name: i for i, name in enumerate(dataset.names)}
    classes = int(document["num_classes"])
    for entry in document["images"]:
        if entry["name"] not in position:
            raise AnnotationError(f"{export_dir / QUERIES}: image {entry['name']!r} is not in {dataset!r}")
        requested = read_label_png(export_dir / entry["query"], "query mask") == REQUESTED
        truth = np.asarray(oracle_labels(dataset, position[entry["name"]]))
        if truth.shape != requested.shape:
            raise AnnotationError(f"{entry['name']}: ground truth {list(truth.shape)} vs query {entry['shape']}")
        answer = np.where(truth < classes, truth, VOID_ANSWER)
        atomic_write_bytes(export_dir / entry["labels"], png_bytes(np.where(requested, answer, UNLABELED)))
    return len(document["images"])


# -- import ----------------------------------------------------------------------------------------------------------
def _check_identity(pool, document, path):
    """The export must be this pool's pending one, made at the pool's current state."""
    export_id = document["export_id"]
    done = _imported_round(pool, export_id)
    if done is not None:
        raise AnnotationError(f"{path}: export {export_id} was already imported as round {done} of {pool.root}; "
                              "a region is never paid twice")
    pending = read_pending(pool)
    if pending is None or pending.get("export_id") != export_id:
        raise AnnotationError(f"{path} (export {export_id}, pool {document['pool']}) is not the pending export of "
                              f"the pool at {pool.root} (pending: {pending and pending.get('export_id')})")
    if document["pool_fingerprint"] != pool_fingerprint(pool) or document["round"] != pool.rounds_done:
        raise AnnotationError(f"{path}: the pool at {pool.root} changed since round {document['round']} was exported")


def _checked_answer(pool, export_dir, entry, classes):
    """(requested (H, W) bool, answered (H, W) bool, labels (H, W) uint8 or None when no file came back) for one
    image, after every check on the returned file; AnnotationError naming the file otherwise."""
    shape = tuple(entry["shape"])
    query_path = export_dir / entry["query"]
    query = read_label_png(query_path, "query mask")
    if query.shape != shape or not np.isin(query, (REQUESTED, NOT_REQUESTED)).all():
        raise AnnotationError(f"query mask {query_path} is not the exported one (shape or values)")
    requested = query == REQUESTED
    if int(requested.sum()) != entry["pixels"]:
        raise AnnotationError(f"query mask {query_path} requests {int(requested.sum())} pixels, queries.json says "
                              f"{entry['pixels']}")
    path = export_dir / entry["labels"]
    if not path.is_file():
        return requested, np.zeros(shape, dtype=bool), None
    labels = read_label_png(path)
    if labels.shape != shape:
        raise AnnotationError(f"label {path} is {labels.shape[1]}x{labels.shape[0]} (WxH), the image "
                              f"{entry['name']} is {shape[1]}x{shape[0]}")
    bad = np.unique(labels[(labels >= classes) & (labels != VOID_ANSWER) & (labels != UNLABELED)])
    if bad.size:
        raise AnnotationError(f"label {path} holds values {bad.tolist()} outside the class set 0..{classes - 1} "
                              f"(+ {VOID_ANSWER} void, {UNLABELED} unlabeled)")
    answered = labels != UNLABELED
    outside = int((answered & ~requested).sum())
    if outside:
        raise AnnotationError(f"label {path} labels {outside} pixels outside the requested regions")
    bought = pool.labeled_mask(entry["name"])
    overlap = 0 if bought is None else int((answered & bought).sum())
    if overlap:
        raise AnnotationError(f"label {path} labels {overlap} pixels that the pool already holds")
    return requested, answered, labels


def _missing_images(document, export_dir):
    return sorted(e["name"] for e in document["images"] if not (export_dir / e["labels"]).is_file())


def _report(document, record, missing_images):
    return {"round": document["round"], "pixels_bought": record["pixels"],
            "requested_pixels": document["requested_pixels"], "missing_pixels": record["missing_pixels"],
            "missing_images": missing_images, "record": record}


def import_labels(pool, export_dir):
    """Merge the labels returned into ``export_dir/labels/`` into ``pool`` as its next round (see the module doc).

    Every check runs before the pool changes; on an AnnotationError the pool files are left as they were. Rerun
    after a crash (on the pool opened with ``recover=True``) it finishes the import. Returns a report dict: round,
    pixels_bought, requested_pixels, missing_pixels (requested, not answered), missing_images (names with no
    returned file), record (the manifest's round entry)."""
    t0 = time.perf_counter()
    export_dir = Path(export_dir)
    document = read_queries(export_dir)
    path = export_dir / QUERIES
    done = _imported_round(pool, document["export_id"])
    if done is not None and (read_pending(pool) or {}).get("export_id") == document["export_id"]:
        # killed after its commit became durable, before it cleared the pending record: only that is left to do
        (pool.root / PENDING).unlink()
        return _report(document, pool.rounds[done], _missing_images(document, export_dir))
    _check_identity(pool, document, path)
    classes = int(document["num_classes"])
    if pool.num_classes is not None and pool.num_classes != classes:
        raise AnnotationError(f"{path} was exported for {classes} classes, the pool uses {pool.num_classes}")
    returned = {p.relative_to(export_dir / LABEL_DIR).as_posix() for p in (export_dir / LABEL_DIR).rglob("*")
                if p.is_file()}
    unexpected = sorted(returned - {Path(e["labels"]).name for e in document["images"]})
    if unexpected:
        raise AnnotationError(f"{export_dir / LABEL_DIR} holds files for no requested image: {unexpected[:5]}")
    if not returned and document["images"]:  # most likely imported too early; a round is not burnt on nothing
        raise AnnotationError(f"{export_dir / LABEL_DIR} holds no returned label file")
    answers = [(e, *_checked_answer(pool, export_dir, e, classes)) for e in document["images"]]
    boxes = {}
    for b in document["boxes"]:
        boxes.setdefault(b["image"], []).append(b["box"])
    regions = 0
    try:
        for entry, requested, answered, labels in answers:
            if answered.any():
                bought_regions = sum(bool(answered[y0:y1 + 1, x0:x1 + 1].any())
                                     for y0, x0, y1, x1 in boxes.get(entry["name"], []))
                pool.add_annotations(entry["name"], entry["index"], answered, labels, bought_regions)
                regions += bought_regions
        missing_images = _missing_images(document, export_dir)
        missing_pixels = int(sum((requested & ~answered).sum() for _, requested, answered, _ in answers))
        record = {"index": document["round"], "iteration": int(document.get("iteration", 0)),
                  "strategy": document.get("strategy"), "setting": document.get("setting"),
                  "radius": document.get("radius"), "images": document.get("images_scored"), "regions": regions,
                  "regions_requested": document.get("regions_requested"), "iou_source": document.get("iou_source"),
                  "class_weights": document.get("class_weights"), "source": "import",
                  "export_id": document["export_id"], "export_dir": str(export_dir.resolve()),
                  "requested_pixels": document.get("requested_pixels"), "missing_pixels": missing_pixels,
                  "missing_images": len(missing_images), "seconds": round(time.perf_counter() - t0, 3)}
        record = pool.commit_round(record, int(document["budget_pixels"]))
    except BaseException:
        pool.discard_pending()
        raise
    (pool.root / PENDING).unlink()
    return _report(document, record, missing_images)


__all__ = ["AnnotationError", "CONVENTIONS", "UnlabeledTargetView", "answer_queries_from_ground_truth",
           "export_queries", "import_labels", "load_model_checked", "pool_fingerprint",
           "read_queries", "select_queries"]

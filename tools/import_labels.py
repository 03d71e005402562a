#!/usr/bin/env python
"""Import the labels annotators returned for an export into the pool, as its next round:

    python tools/import_labels.py DIR --output-dir OUTPUT
    python tools/import_labels.py DIR -cfg CONFIG [KEY VALUE ...]     (the pool of the config's OUTPUT_DIR)

DIR is the folder tools/select_queries.py wrote (queries.json, queries/) with the returned label PNGs in DIR/labels/.
Every check runs before the pool changes; an error names the file and leaves the pool untouched. The commit is
journaled: rerunning an import that was killed finishes it (each label bought once). OUTPUT_DIR must exist; its lock
(dwaca/utils/lock.py) is held throughout, so an import while another process writes there stops at once. Prints a
report (pixels bought, images and pixels missing) as JSON.
"""
import argparse
import json
import sys
from pathlib import Path

try:
    import dwaca  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dwaca.active import LabelPool
from dwaca.active.annotation import AnnotationError, import_labels, read_queries
from dwaca.config import add_config_arguments, config_from_args, run_main
from dwaca.utils.lock import output_dir_lock


def main(argv=None):
    parser = argparse.ArgumentParser(description="Import annotators' labels into the pool")
    parser.add_argument("export_dir", metavar="DIR", help="folder written by tools/select_queries.py")
    parser.add_argument("--output-dir", default="", metavar="OUTPUT_DIR", help="the run's OUTPUT_DIR")
    add_config_arguments(parser, interleaved=True)
    args = parser.parse_intermixed_args(argv)
    classes = int(read_queries(args.export_dir)["num_classes"])
    output_dir = args.output_dir
    if not output_dir:
        if not args.config_file and not args.opts:
            parser.error("pass --output-dir OUTPUT_DIR or -cfg FILE")
        cfg = config_from_args(args)
        if int(cfg.MODEL.NUM_CLASSES) != classes:
            raise AnnotationError(f"{args.config_file or 'the config'}: MODEL.NUM_CLASSES {cfg.MODEL.NUM_CLASSES}, "
                                  f"the export was made for {classes} classes")
        output_dir = cfg.OUTPUT_DIR
        if not output_dir:
            raise AnnotationError(f"{args.config_file or 'the config'}: OUTPUT_DIR is empty")
    with output_dir_lock(output_dir):
        # recover: finish what a killed import (or training) left, so rerunning an interrupted import completes it
        pool = LabelPool(Path(output_dir) / "pool", num_classes=classes, recover=True)
        report = import_labels(pool, args.export_dir)
    print(json.dumps({k: v for k, v in report.items() if k != "record"}, indent=1))
    return report


if __name__ == "__main__":
    run_main(main)

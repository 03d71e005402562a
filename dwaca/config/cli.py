"""RIPU's command line, shared by the tools: ``-cfg FILE`` and trailing ``KEY VALUE`` overrides."""
import argparse

from .defaults import load_config


def add_config_arguments(parser, interleaved=False):
    """Adds ``-cfg/--config-file`` and the overrides. ``interleaved``: the overrides may surround other options
    (parse with ``parser.parse_intermixed_args``); otherwise they take everything after the file."""
    parser.add_argument("-cfg", "--config-file", default="", metavar="FILE", help="path to config file")
    # RIPU's scripts pass it to set the process title; accepted so their command lines run, otherwise ignored.
    parser.add_argument("--proctitle", default="AL-RIPU", help="ignored (RIPU's process title)")
    parser.add_argument("opts", help="KEY VALUE config overrides (an unknown key is an error)",
                        nargs="*" if interleaved else argparse.REMAINDER)
    return parser


def config_from_args(args):
    """The frozen config of parsed ``args``: defaults, then the file, then the overrides."""
    return load_config(args.config_file or None, args.opts or ())

"""RIPU's command line, shared by the tools: ``-cfg FILE`` and trailing ``KEY VALUE`` overrides."""
import argparse
from pathlib import Path

import yaml

from ..utils.errors import error_message
from .defaults import load_config
from .validate import ConfigError, validate_config


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
    """The frozen, validated config of parsed ``args``: defaults, then the file, then the overrides. A file that is
    missing, not YAML or holds a bad key or value is a ConfigError naming it; a bad override a KeyError / ValueError;
    a value out of its range a ConfigError naming the key (``validate_config``)."""
    path = args.config_file
    if path:
        if not Path(path).is_file():
            raise ConfigError(f"-cfg {path}: no such config file")
        try:
            content = yaml.safe_load(Path(path).read_text())
        except yaml.MarkedYAMLError as err:  # its str() spans several lines; one is enough
            parts = [f"{text} (line {mark.line + 1}, column {mark.column + 1})" if mark else text
                     for text, mark in ((err.context, err.context_mark), (err.problem, err.problem_mark)) if text]
            raise ConfigError(f"-cfg {path}: not valid YAML: {': '.join(parts)}") from err
        except yaml.YAMLError as err:
            raise ConfigError(f"-cfg {path}: not valid YAML: {err}") from err
        if not isinstance(content, (dict, type(None))):  # yacs fails on it with an AttributeError
            raise ConfigError(f"-cfg {path}: expected KEY: VALUE pairs at the top, got a {type(content).__name__}")
        try:
            load_config(path)  # the file alone first, so that its errors can be told from the overrides'
        except (KeyError, ValueError, TypeError, AssertionError) as err:
            raise ConfigError(f"-cfg {path}: {error_message(err)}") from err
    cfg = load_config(path or None, args.opts or ())
    validate_config(cfg, config_source(args))
    return cfg


def config_source(args):
    """What a config came from, for error messages: the file, the overrides, or the defaults."""
    return " + ".join(filter(None, [args.config_file, "command-line overrides" if args.opts else ""])) or "defaults"


def at_least(minimum):
    """argparse ``type``: an integer >= ``minimum`` (argparse reports anything else naming the option)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value
    return parse

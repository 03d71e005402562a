"""RIPU's command line, shared by the tools: ``-cfg FILE`` and trailing ``KEY VALUE`` overrides; ``run_main`` turns a
user's mistake into one ``error: ...`` line."""
import argparse
import sys
import urllib.error
from pathlib import Path

import yaml

from .defaults import load_config

USAGE_ERROR = 2  # exit status of a user error, as argparse's


class ConfigError(ValueError):
    """The config file cannot be used; the message names the file (yacs' own messages name only the key)."""


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
    """The frozen config of parsed ``args``: defaults, then the file, then the overrides. A file that is missing,
    not YAML or holds a bad key or value is a ConfigError naming it; a bad override a KeyError / ValueError."""
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
    return load_config(path or None, args.opts or ())


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


def make_dir(path, what):
    """Create folder ``path`` with its parents; an error names ``what`` (the option or key that gave the path)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        # mkdir says "File exists" or "Not a directory" when a part of the path is a file: name that part
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file" if blocker else err.strerror or err
        raise type(err)(f"{what}: cannot create the folder {path} ({reason})") from err
    return path


def error_message(err):
    """One line for ``err``: KeyError's text without the quotes str() adds, an OSError's reason and file."""
    if isinstance(err, KeyError) and err.args:
        return str(err.args[0])
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.filename}: {err.strerror}"
    return str(err)


def run_main(main, argv=None):
    """``main(argv)``, with the errors a user's input causes (a missing or bad path, config key or value,
    checkpoint, device, pool, a failed download) printed as one ``error: ...`` line and exit status 2 instead of
    a traceback. Other exceptions are bugs and keep theirs."""
    from ..active import PoolError  # here: the engine imports this package
    from ..engine import DeviceError
    # AnnotationError and CheckpointError are ValueErrors, BudgetError a PoolError
    user_errors = (OSError, KeyError, ValueError, yaml.YAMLError, PoolError, DeviceError)
    try:
        return main(argv)
    except urllib.error.URLError as err:  # an OSError; nothing but MODEL.WEIGHTS is downloaded
        message = (f"MODEL.WEIGHTS could not be downloaded ({getattr(err, 'reason', err)}); download it elsewhere "
                   "and set MODEL.WEIGHTS to the local file")
    except user_errors as err:
        message = error_message(err)
    print(f"error: {message}", file=sys.stderr)
    sys.exit(USAGE_ERROR)

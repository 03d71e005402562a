from ..utils.errors import run_main
from ..utils.io import make_dir
from .cli import add_config_arguments, at_least, config_from_args, config_source
from .defaults import UNUSED_KEYS, cfg, get_cfg_defaults, load_config, unused_settings
from .validate import ConfigError, check_training_batch, validate_config

__all__ = ["ConfigError", "UNUSED_KEYS", "add_config_arguments", "at_least", "cfg", "check_training_batch",
           "config_from_args", "config_source", "get_cfg_defaults", "load_config", "make_dir", "run_main",
           "unused_settings", "validate_config"]

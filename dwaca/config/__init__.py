from .cli import ConfigError, add_config_arguments, at_least, config_from_args, make_dir, run_main
from .defaults import UNUSED_KEYS, cfg, get_cfg_defaults, load_config, unused_settings

__all__ = ["ConfigError", "UNUSED_KEYS", "add_config_arguments", "at_least", "cfg", "config_from_args",
           "get_cfg_defaults", "load_config", "make_dir", "run_main", "unused_settings"]

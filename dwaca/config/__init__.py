from .cli import add_config_arguments, config_from_args
from .defaults import UNUSED_KEYS, cfg, get_cfg_defaults, load_config, unused_settings

__all__ = ["UNUSED_KEYS", "add_config_arguments", "cfg", "config_from_args", "get_cfg_defaults", "load_config",
           "unused_settings"]

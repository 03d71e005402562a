from .cli import add_config_arguments, config_from_args
from .defaults import cfg, get_cfg_defaults, load_config

__all__ = ["add_config_arguments", "cfg", "config_from_args", "get_cfg_defaults", "load_config"]

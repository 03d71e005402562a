from .defaults import cfg, get_cfg_defaults, load_config

__all__ = ["cfg", "get_cfg_defaults", "load_config"]

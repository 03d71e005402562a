"""dwaca: active domain adaptation for semantic segmentation (DWACA / RIPU region selection)."""
__version__ = "0.1.0"

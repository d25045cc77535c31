"""napari-dacapo: DaCapo's network architectures in napari."""

__version__ = "0.1.0"

__all__ = ["__version__"]

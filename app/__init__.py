"""Omnidesk's application layer: CLI, Qt GUI, settings and the one composition root."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("omnidesk")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]

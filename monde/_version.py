"""The package version in one place: `monde.__version__` and every file that records it."""

__version__ = "0.1.0"

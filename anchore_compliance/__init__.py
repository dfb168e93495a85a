"""A pytest compliance suite for Anchore Engine's documented network requirements."""

__version__ = "0.1.0"

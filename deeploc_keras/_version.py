"""Package version, single source of truth (read by setup.cfg)."""

__all__ = ["__version__"]

__version__ = "0.1.0"

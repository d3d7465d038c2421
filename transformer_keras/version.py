"""The package version, read by setup.cfg and `transformer-keras --version`."""

__version__ = "0.1.0"

"""The former home of the tools' runner helpers, now one module per concern
(``config``, ``args``, ``amp``, ``cpu_dist``, ``weights``, ``outputs``).
``ConfigError`` stays importable from here for code that still does."""
from .config import ConfigError

__all__ = ['ConfigError']

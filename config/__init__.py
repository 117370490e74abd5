"""Configuration: environment variables validated once at start-up."""

from config.settings import ConfigError, Settings

__all__ = ["ConfigError", "Settings"]

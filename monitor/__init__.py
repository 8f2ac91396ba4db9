"""speech-monitor: a real-time compliance monitor for Japanese call centres."""

__version__ = "0.1.0"

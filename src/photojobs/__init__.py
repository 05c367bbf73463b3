"""photojobs: import, cull and keep a photo library consistent, on a durable two-lane job engine."""

__version__ = "0.1.0"

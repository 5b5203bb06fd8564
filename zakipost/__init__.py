"""ZakiPost: a TikTok publishing gateway."""

__version__ = "0.1.0"

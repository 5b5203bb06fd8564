"""Zernio's API (``late-sdk``) for TikTok posts, under ``/compat/zernio/api``."""

"""CodivUpload's API (``codivupload``) for TikTok posts, under ``/compat/codivupload/v1``."""

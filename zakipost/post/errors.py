from __future__ import annotations

from zakipost.errors import Conflict, NotFound, ValidationFailed


class PostNotFound(NotFound):
    """No post with this publish_id."""

    code = "post_not_found"


class IdempotencyKeyReused(Conflict):
    """This Idempotency-Key was used with a different request body."""

    code = "idempotency_key_reused"


class MissingScope(Conflict):
    """The TikTok account did not grant a permission this post needs; connect it again."""

    code = "missing_scope"


class InvalidMediaUrl(ValidationFailed):
    code = "invalid_video_url"


class PostNotCancellable(Conflict):
    code = "post_not_cancellable"

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


class PrivacyLevelNotAllowed(ValidationFailed):
    """The creator's TikTok account does not offer this privacy level."""

    code = "privacy_level_not_allowed"


class CommentDisabledByCreator(ValidationFailed):
    code = "comment_disabled_by_creator"


class DuetDisabledByCreator(ValidationFailed):
    code = "duet_disabled_by_creator"


class StitchDisabledByCreator(ValidationFailed):
    code = "stitch_disabled_by_creator"


class VideoTooLongForCreator(ValidationFailed):
    """The video is longer than this creator may post."""

    code = "duration_check_failed"


# What the creator's info rules out, by the rule's code (``publishing.preflight``).
CREATOR_RULE_ERRORS: dict[str, type[ValidationFailed]] = {
    cls.code: cls
    for cls in (
        PrivacyLevelNotAllowed,
        CommentDisabledByCreator,
        DuetDisabledByCreator,
        StitchDisabledByCreator,
    )
}

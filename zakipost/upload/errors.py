"""Errors of the media upload API; media checks raise :mod:`zakipost.media.errors` too."""

from __future__ import annotations

from zakipost.errors import AppError, BadRequest, Conflict, NotFound, ValidationFailed


class MediaNotFound(NotFound):
    """No media with this media_id (it may have expired and been deleted)."""

    code = "media_not_found"


class UploadTooLarge(AppError):
    """The file is larger than ZakiPost accepts."""

    status_code = 413
    code = "upload_too_large"


HOW_TO_SEND = (
    "Send the file as multipart/form-data (field `file`) or as the raw body with its media "
    "type (video/mp4, video/quicktime, video/webm, image/jpeg, image/png, image/webp)."
)


class UnsupportedUploadType(AppError):
    """The body is not sent as a file; see HOW_TO_SEND."""

    status_code = 415
    code = "unsupported_media_type"


class FileFieldMissing(ValidationFailed):
    """The multipart body has no file in a field named `file`."""

    code = "upload_file_missing"


class NotMedia(ValidationFailed):
    """The file is not a video or a photo."""

    code = "not_media"


class MediaKindMismatch(ValidationFailed):
    """The file is not the kind of media its declared type says."""

    code = "media_kind_mismatch"


class MediaExpired(ValidationFailed):
    """This media expired unused and was deleted; upload it again."""

    code = "media_expired"


class MediaUnusable(ValidationFailed):
    """This media was refused by ZakiPost's checks; upload a corrected file."""

    code = "media_refused"


class MediaNotReady(Conflict):
    """This media has not been received whole yet; finish the upload first."""

    code = "media_not_ready"


class MediaInUse(Conflict):
    """This media is used by a post; it is deleted once that post is final."""

    code = "media_in_use"


class PresignUnavailable(Conflict):
    """Presigned uploads need an S3-compatible media store; upload with POST /v1/media."""

    code = "presign_unavailable"


class UploadIncomplete(Conflict):
    """The file has not arrived yet; send it to the upload URL first."""

    code = "upload_incomplete"


class UploadOffsetMismatch(Conflict):
    """The chunk does not start where the upload stands; resume from `received`."""

    code = "upload_offset_mismatch"


class InvalidContentRange(BadRequest):
    """Send each chunk with `Content-Range: bytes <first>-<last>/<total>`."""

    code = "invalid_content_range"


class MalformedMultipart(BadRequest):
    """The multipart/form-data body is malformed."""

    code = "malformed_multipart"

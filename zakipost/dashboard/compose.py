"""The compose form: what it sends, turned into the same publish requests the API takes.

The page follows TikTok's content sharing guidelines; the rules that belong to the page
(privacy chosen by hand with no default, the commercial content disclosure completed) are
checked here too, so a form sent without the page's script is held to them. Everything
else (lengths, branded content never private, draft fields) is the request schema's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from zakipost.connection.schemas import CreatorCapabilities
from zakipost.dashboard.web import validation_fields
from zakipost.post.schemas import PhotoPublishRequest, VideoPublishRequest

CHOOSE_PRIVACY = "Choose who can see this post."
# TikTok's guidelines, word for word.
DISCLOSURE_INCOMPLETE = (
    "You need to indicate if your content promotes yourself, a third party, or both."
)
BRANDED_NOT_PRIVATE = "Branded content visibility cannot be set to private."
COVER_NOT_AN_INDEX = "The cover must be one of the photos; choose it again."

# Request fields -> the form field whose error line shows the message.
_FIELD_OF = {
    "tiktok_account_id": "account",
    "video_url": "media",
    "media_id": "media",
    "photo_urls": "media",
    "media_ids": "media",
    "photo_cover_index": "media",
    "title": "title",
    "description": "description",
    "privacy_level": "privacy_level",
    "disable_comment": "interactions",
    "disable_duet": "interactions",
    "disable_stitch": "interactions",
    "brand_content_toggle": "commercial",
    "brand_organic_toggle": "commercial",
    "auto_add_music": "interactions",
    "post_mode": "post_mode",
    "scheduled_at": "schedule",
}


class FormInvalid(Exception):
    """The form cannot be sent as it is; ``fields`` maps a form field to its message."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(fields)
        self.fields = fields


@dataclass
class ComposeForm:
    """What the compose form holds, sent or about to be shown again."""

    tiktok_account_id: str = ""
    kind: str = "video"
    source: str = "upload"
    video_url: str = ""
    media_id: str = ""
    photo_urls: str = ""
    media_ids: list[str] = field(default_factory=list)
    photo_cover_index: int = 0
    title: str = ""
    description: str = ""
    privacy_level: str = ""
    allow_comment: bool = False
    allow_duet: bool = False
    allow_stitch: bool = False
    auto_add_music: bool = False
    commercial: bool = False
    brand_organic: bool = False
    brand_content: bool = False
    post_mode: str = "direct"
    schedule: bool = False
    scheduled_at: str = ""
    tz_offset_minutes: str = ""

    @classmethod
    def parse(cls, data: Mapping[str, str], media_ids: list[str]) -> ComposeForm:
        def text(name: str) -> str:
            return str(data.get(name) or "").strip()

        def checked(name: str) -> bool:
            return data.get(name) is not None

        cover = text("photo_cover_index")
        return cls(
            tiktok_account_id=text("tiktok_account_id"),
            kind="photo" if text("kind") == "photo" else "video",
            source="url" if text("source") == "url" else "upload",
            video_url=text("video_url"),
            media_id=text("media_id"),
            photo_urls=text("photo_urls"),
            media_ids=[m.strip() for m in media_ids if m.strip()],
            # Not an index (a Unicode digit such as ², a sign, a huge number): -1, refused
            # by the page rules.
            photo_cover_index=(int(cover) if _small_ascii_number(cover) else -1) if cover else 0,
            # Titles keep their spaces as typed (only trailing blank lines go).
            title=str(data.get("title") or "").rstrip(),
            description=str(data.get("description") or "").rstrip(),
            privacy_level=text("privacy_level"),
            allow_comment=checked("allow_comment"),
            allow_duet=checked("allow_duet"),
            allow_stitch=checked("allow_stitch"),
            auto_add_music=checked("auto_add_music"),
            commercial=checked("commercial"),
            brand_organic=checked("brand_organic_toggle"),
            brand_content=checked("brand_content_toggle"),
            post_mode="draft" if text("post_mode") == "draft" else "direct",
            schedule=checked("schedule"),
            scheduled_at=text("scheduled_at"),
            tz_offset_minutes=text("tz_offset_minutes"),
        )

    @property
    def photo_url_list(self) -> list[str]:
        return [line.strip() for line in self.photo_urls.splitlines() if line.strip()]

    @property
    def draft(self) -> bool:
        return self.post_mode == "draft"


# Real time zones are between UTC-12:00 and UTC+14:00; a little room on both sides.
TZ_OFFSET_LIMIT_MINUTES = 840


def _small_ascii_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 6


def _tz_offset(tz_offset_minutes: str) -> int:
    """JavaScript's ``getTimezoneOffset()`` as a UTC offset in minutes (0 when not sent)."""
    if not tz_offset_minutes:
        return 0
    digits = tz_offset_minutes.removeprefix("-")
    if _small_ascii_number(digits) and int(digits) <= TZ_OFFSET_LIMIT_MINUTES:
        return -int(tz_offset_minutes)
    raise FormInvalid(
        {"schedule": "The browser sent a time zone offset that is not one; reload the page."}
    )


def scheduled_time(local: str, tz_offset_minutes: str) -> dt.datetime:
    """A ``datetime-local`` value in the browser's time zone (JavaScript's
    ``getTimezoneOffset()``: minutes to add to local time to get UTC; UTC without it)."""
    try:
        moment = dt.datetime.fromisoformat(local)
    except ValueError:
        raise FormInvalid({"schedule": "Give a date and time for the post."}) from None
    offset = _tz_offset(tz_offset_minutes)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset)))
    return moment


def _page_rules(form: ComposeForm, creator: CreatorCapabilities | None) -> dict[str, str]:
    """The guidelines' rules for this page."""
    errors: dict[str, str] = {}
    if form.kind == "video" and not (form.media_id if form.source == "upload" else form.video_url):
        errors["media"] = (
            "Choose a video file to upload."
            if form.source == "upload"
            else "Give the link to the video file."
        )
    if form.kind == "photo" and not (
        form.media_ids if form.source == "upload" else form.photo_url_list
    ):
        errors["media"] = (
            "Choose the photos to upload."
            if form.source == "upload"
            else "Give the links to the photos, one per line."
        )
    if form.kind == "photo" and form.photo_cover_index < 0:
        errors["media"] = COVER_NOT_AN_INDEX
    if form.draft:
        return errors
    options = creator.privacy_level_options if creator else []
    if not form.privacy_level:
        errors["privacy_level"] = CHOOSE_PRIVACY
    elif options and form.privacy_level not in options:
        errors["privacy_level"] = "This account cannot post with that privacy; choose another."
    if form.commercial and not (form.brand_organic or form.brand_content):
        errors["commercial"] = DISCLOSURE_INCOMPLETE
    return errors


def build_request(
    form: ComposeForm, creator: CreatorCapabilities | None
) -> VideoPublishRequest | PhotoPublishRequest:
    """The publish request the form asks for, or :class:`FormInvalid`."""
    errors = _page_rules(form, creator)
    scheduled_at = None
    if form.schedule:
        try:
            scheduled_at = scheduled_time(form.scheduled_at, form.tz_offset_minutes)
        except FormInvalid as exc:
            errors.update(exc.fields)
    if errors:
        raise FormInvalid(errors)
    body: dict[str, object] = {
        "tiktok_account_id": form.tiktok_account_id,
        "post_mode": form.post_mode,
        "scheduled_at": scheduled_at,
    }
    upload = form.source == "upload"
    if form.kind == "video":
        body["media_id" if upload else "video_url"] = form.media_id if upload else form.video_url
    else:
        body["media_ids" if upload else "photo_urls"] = (
            form.media_ids if upload else form.photo_url_list
        )
        body["photo_cover_index"] = form.photo_cover_index
        body["title"] = form.title or None
        body["description"] = form.description or None
    if not form.draft:
        commercial = form.commercial
        body |= {
            "privacy_level": form.privacy_level,
            "disable_comment": not form.allow_comment,
            "brand_organic_toggle": commercial and form.brand_organic,
            "brand_content_toggle": commercial and form.brand_content,
        }
        if form.kind == "video":
            body |= {
                "title": form.title or None,
                "disable_duet": not form.allow_duet,
                "disable_stitch": not form.allow_stitch,
            }
        else:
            body["auto_add_music"] = form.auto_add_music
    schema = VideoPublishRequest if form.kind == "video" else PhotoPublishRequest
    try:
        return schema.model_validate(body)
    except ValidationError as exc:
        raise FormInvalid(form_errors(exc)) from None


def form_errors(exc: ValidationError) -> dict[str, str]:
    """The schema's errors, each on the form field that shows it."""
    by_request_field = validation_fields(exc, _FIELD_OF, default="tiktok_account_id")
    result: dict[str, str] = {}
    for name, message in by_request_field.items():
        result.setdefault(_FIELD_OF.get(name, "account"), message)
    return result


def service_error_field(code: str) -> str:
    """Where a service's refusal is shown on the page."""
    if code.startswith(("media_", "video_", "photo_", "upload_", "invalid_video_url")):
        return "media"
    if code in ("too_many_pending_drafts",):
        return "post_mode"
    return "form"

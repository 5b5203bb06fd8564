"""Settings: one typed object, grouped by subsystem, read from ``ZAKIPOST_*`` variables.

Groups are nested models; a variable names its group and field joined by one
underscore (``ZAKIPOST_DATABASE_URL`` -> ``database.url``). A bad value stops the
process at start with a message naming the variable.
"""

from __future__ import annotations

import enum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, IPvAnyNetwork, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# What posting needs. The Display API scopes (user.info.profile, user.info.stats,
# video.list) only when the operator's TikTok app is approved for them: TikTok fails the
# whole consent when any requested scope is not approved.
DEFAULT_SCOPES = ("user.info.basic", "video.upload", "video.publish")


class Environment(enum.StrEnum):
    development = "development"
    testing = "testing"
    production = "production"


class DatabaseSettings(BaseModel):
    # Empty means the embedded SQLite file in the data directory.
    url: str = ""
    pool_size: Annotated[int, Field(ge=1, le=200)] = 10
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _known_dialect(cls, value: str) -> str:
        value = value.strip()
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    # Where browsers and TikTok reach this server; derived from host/port when empty.
    public_url: str = ""
    # Request bodies larger than these are refused with 413 before they are read: the JSON
    # API (and everything else), and the dashboard's forms. Media uploads have their own
    # streaming limit (storage.max_upload_bytes).
    max_body_bytes: Annotated[int, Field(ge=1024)] = 1024 * 1024
    max_form_bytes: Annotated[int, Field(ge=1024)] = 256 * 1024
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or networks);
    # empty: none, every client is the address that connected.
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()


class SandboxSettings(BaseModel):
    """The gateway's side of the TikTok sandbox (``ZAKIPOST_SANDBOX_*``; the sandbox's own
    settings share the prefix and are read by ``SandboxConfig.from_env``)."""

    # Lets requests from anywhere use the control API (/_sandbox/) with this bearer token;
    # without it only loopback clients may. Production never serves the control API.
    control_token: SecretStr = SecretStr("")


class TikTokSettings(BaseModel):
    """The TikTok app ZakiPost publishes through. Empty key: the embedded sandbox."""

    client_key: str = ""
    client_secret: SecretStr = SecretStr("")
    api_base_url: str = "https://open.tiktokapis.com"
    auth_base_url: str = "https://www.tiktok.com"
    # Defaults to <public_url>/connect/tiktok/callback.
    redirect_uri: str = ""
    # ZAKIPOST_TIKTOK_SCOPES, a JSON list: only scopes the TikTok app is approved for.
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    # Media under these prefixes is sent with PULL_FROM_URL instead of FILE_UPLOAD.
    verified_url_prefixes: tuple[str, ...] = ()
    request_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    # First delay before re-sending a chunk TikTok failed to take; doubles up to 5 tries.
    upload_retry_base_seconds: Annotated[float, Field(gt=0)] = 1.0
    # Where the sandbox answers when no TikTok app is configured; empty: <public_url>/sandbox.
    sandbox_url: str = ""
    # TikTok's webhooks (POST /tiktok/webhook) signed longer ago than this are refused.
    webhook_tolerance_seconds: Annotated[float, Field(gt=0, le=86_400)] = 300.0

    @property
    def configured(self) -> bool:
        return bool(self.client_key)


class SecuritySettings(BaseModel):
    # Comma-separated "id:base64key" pairs, newest last. Empty: a key file in the data dir.
    master_keys: SecretStr = SecretStr("")
    session_secret: SecretStr = SecretStr("")
    allow_signup: bool = True


class WorkerSettings(BaseModel):
    concurrency: Annotated[int, Field(ge=1, le=256)] = 4
    lease_seconds: Annotated[float, Field(ge=5, le=3600)] = 60.0
    poll_interval_seconds: Annotated[float, Field(gt=0, le=300)] = 5.0
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    # On stop, how long running jobs may finish before they are released to other workers.
    grace_seconds: Annotated[float, Field(ge=0)] = 30.0
    # First retry delay of a transient failure; doubles each time, with jitter.
    retry_base_seconds: Annotated[float, Field(gt=0)] = 2.0
    # A standalone worker serves /metrics on this port (0: any free port, printed at start);
    # unset: no listener. Follows ZAKIPOST_METRICS_* like the web's /metrics.
    metrics_port: Annotated[int | None, Field(ge=0, le=65535)] = None
    metrics_host: str = "127.0.0.1"


class MetricsSettings(BaseModel):
    """Prometheus ``/metrics`` on the web and worker processes (``ZAKIPOST_METRICS_*``)."""

    # Unset: on outside production, off in production.
    enabled: bool | None = None
    # When set, a scrape must send "Authorization: Bearer <token>".
    token: SecretStr = SecretStr("")
    # Production refuses metrics without a token unless this says it is on purpose (a
    # network only Prometheus can reach).
    allow_unprotected: bool = False


class BillingSettings(BaseModel):
    # Points one publish costs; 0 turns billing off.
    publish_cost: Annotated[int, Field(ge=0)] = 400
    # Whether failures TikTok blames on the caller's media or caption are refunded too.
    refund_caller_errors: bool = False
    # A post that never reached TikTok is refunded whatever the cause; true keeps the points
    # of those that failed on the caller's own input (a web page as video_url, a 404...).
    charge_caller_errors: bool = False
    # What a self-service sign-up starts with: a plan with API access and enough points
    # for a few posts, so a new account can publish without an operator's command. Set the
    # plan to "free" and the points to 0 to make every account wait for an operator.
    signup_points: Annotated[int, Field(ge=0)] = 2000
    signup_plan: str = "starter"


class PlanSettings(BaseModel):
    name: str
    api_access: bool
    monthly_points: int | None = None


# The plans every ZakiPost has (``zakipost.billing.plans``); ZAKIPOST_PLANS adds more, or
# redefines one of these. "starter" is where self-service sign-ups begin.
BUILT_IN_PLANS = (
    PlanSettings(name="free", api_access=False),
    PlanSettings(name="starter", api_access=True),
    PlanSettings(name="pro", api_access=True),
)


class MediaSettings(BaseModel):
    allow_private_networks: bool = False
    # Networks exempt from the address rule (a development allow-list), e.g. ["10.0.0.0/8"].
    allowed_networks: tuple[IPvAnyNetwork, ...] = ()
    max_bytes: Annotated[int, Field(gt=0)] = 4 * 1000**3
    connect_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    read_timeout_seconds: Annotated[float, Field(gt=0)] = 60.0
    max_redirects: Annotated[int, Field(ge=0, le=20)] = 5


class WebhookSettings(BaseModel):
    """Outbound webhooks to callers (``ZAKIPOST_WEBHOOKS_*``); see docs/webhooks.md."""

    # Lifts the address rule for webhook URLs (and allows http://): development only.
    allow_private_networks: bool = False
    # Networks exempt from the address rule, e.g. ["10.0.0.0/8"] (http:// stays refused).
    allowed_networks: tuple[IPvAnyNetwork, ...] = ()
    # One delivery attempt: connecting, sending and reading the answer.
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    # A delivery is retried for this long after its event, then it fails.
    retry_window_seconds: Annotated[float, Field(gt=0)] = 3 * 24 * 3600.0
    # First retry delay; doubles each time up to the cap, with jitter.
    retry_base_seconds: Annotated[float, Field(gt=0)] = 30.0
    retry_max_delay_seconds: Annotated[float, Field(gt=0)] = 6 * 3600.0
    # How long the previous secret keeps signing after a rotation, unless the call says.
    rotation_overlap_seconds: Annotated[int, Field(ge=0, le=30 * 24 * 3600)] = 24 * 3600


class StorageSettings(BaseModel):
    """The media store: uploads, and the files TikTok pulls (``ZAKIPOST_STORAGE_*``)."""

    backend: Literal["local", "s3"] = "local"
    # Empty: <data dir>/store.
    local_dir: str = ""
    s3_bucket: str = ""
    # Empty: AWS itself; set it for MinIO, R2 and other S3-compatible services.
    s3_endpoint_url: str = ""
    s3_region: str = ""
    # Empty: boto3's own credential chain (environment, instance role...).
    s3_access_key_id: str = ""
    s3_secret_access_key: SecretStr = SecretStr("")
    # Where TikTok reads stored media. Empty: <public url>/media, or the bucket's URL with S3.
    public_base_url: str = ""
    # Uploaded media not used by a post within this many hours is deleted.
    upload_ttl_hours: Annotated[float, Field(gt=0)] = 24.0
    max_upload_bytes: Annotated[int, Field(gt=0)] = 4 * 1000**3
    # Cache-Control max-age of media served at /media/.
    public_max_age_seconds: Annotated[int, Field(ge=0)] = 3600


class PublishingSettings(BaseModel):
    # A post TikTok still reports as processing after this long is reported as "unknown"
    # (and checked now and then for a day).
    status_deadline_seconds: Annotated[float, Field(gt=0)] = 1800.0
    creator_info_cache_seconds: Annotated[float, Field(ge=0)] = 60.0
    # TikTok's per-token budgets (requests per minute), shared by every worker.
    creator_info_per_minute: Annotated[int, Field(ge=1)] = 20
    init_per_minute: Annotated[int, Field(ge=1)] = 6
    status_per_minute: Annotated[int, Field(ge=1)] = 30
    # How long a published post's public link is asked for after PUBLISH_COMPLETE (TikTok
    # gives it after moderation, usually within a minute, sometimes hours later).
    link_watch_hours: Annotated[float, Field(gt=0, le=720)] = 48.0
    # How long to wait after TikTok answers rate_limit_exceeded (its windows are a minute).
    rate_limited_backoff_seconds: Annotated[float, Field(gt=0)] = 60.0
    # Where fetched media waits while it is sent; empty: <data dir>/media.
    media_dir: str = ""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ZAKIPOST_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        env_file=".env",
        extra="ignore",
    )

    env: Environment = Environment.development
    data_dir: Path = Path("./data")
    log_level: str = "INFO"
    log_json: bool = False

    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = ServerSettings()
    tiktok: TikTokSettings = TikTokSettings()
    security: SecuritySettings = SecuritySettings()
    worker: WorkerSettings = WorkerSettings()
    billing: BillingSettings = BillingSettings()
    media: MediaSettings = MediaSettings()
    publishing: PublishingSettings = PublishingSettings()
    storage: StorageSettings = StorageSettings()
    sandbox: SandboxSettings = SandboxSettings()
    metrics: MetricsSettings = MetricsSettings()
    webhooks: WebhookSettings = WebhookSettings()
    plans: tuple[PlanSettings, ...] = ()

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return value

    @cached_property
    def database_url(self) -> str:
        """The SQLAlchemy async URL in use."""
        url = self.database.url or f"sqlite:///{(self.data_dir / 'zakipost.db').resolve()}"
        if url.startswith("sqlite:"):
            return url.replace("sqlite:", "sqlite+aiosqlite:", 1)
        if url.startswith("postgresql://"):
            return url.replace("postgresql://", "postgresql+asyncpg://", 1)
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def public_url(self) -> str:
        url = self.server.public_url or f"http://{self.server.host}:{self.server.port}"
        return url.rstrip("/")

    @property
    def uses_sandbox(self) -> bool:
        return not self.tiktok.configured

    @property
    def media_dir(self) -> Path:
        return (
            Path(self.publishing.media_dir)
            if self.publishing.media_dir
            else self.data_dir / "media"
        )

    @property
    def metrics_enabled(self) -> bool:
        """Whether /metrics is served (web, and the worker's listener when it has a port)."""
        if self.metrics.enabled is None:
            return self.env is not Environment.production
        return self.metrics.enabled

    @property
    def sandbox_url(self) -> str:
        return (self.tiktok.sandbox_url or f"{self.public_url}/sandbox").rstrip("/")

    @property
    def tiktok_redirect_uri(self) -> str:
        return self.tiktok.redirect_uri or f"{self.public_url}/connect/tiktok/callback"

    @property
    def tiktok_api_base_url(self) -> str:
        return self.sandbox_url if self.uses_sandbox else self.tiktok.api_base_url.rstrip("/")

    @property
    def tiktok_auth_base_url(self) -> str:
        return self.sandbox_url if self.uses_sandbox else self.tiktok.auth_base_url.rstrip("/")


class SettingsError(Exception):
    """Settings that cannot be used; the message names each variable and what is wrong."""


def _variable_name(location: tuple[Any, ...]) -> str:
    return "ZAKIPOST_" + "_".join(str(part) for part in location).upper()


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (and ``.env``), refusing bad values clearly."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = [f"{_variable_name(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise SettingsError("Invalid settings:\n  " + "\n  ".join(problems)) from None
    _refuse_unsafe(settings)
    _refuse_unknown_plans(settings)
    return settings


def _refuse_unknown_plans(settings: Settings) -> None:
    known = {plan.name for plan in (*BUILT_IN_PLANS, *settings.plans)}
    if settings.billing.signup_plan not in known:
        raise SettingsError(
            "Invalid settings:\n  ZAKIPOST_BILLING_SIGNUP_PLAN: unknown plan "
            f"{settings.billing.signup_plan!r}; known plans: {', '.join(sorted(known))} "
            "(define more with ZAKIPOST_PLANS)"
        )


def _refuse_unsafe(settings: Settings) -> None:
    problems = []
    if settings.worker.metrics_port is not None and not settings.metrics_enabled:
        problems.append(
            "ZAKIPOST_WORKER_METRICS_PORT: set, but metrics are off; set "
            "ZAKIPOST_METRICS_ENABLED=true (and ZAKIPOST_METRICS_TOKEN) or unset the port"
        )
    if settings.env is Environment.production:
        problems += _production_problems(settings)
    if problems:
        raise SettingsError("Invalid settings:\n  " + "\n  ".join(problems))


def _production_problems(settings: Settings) -> list[str]:
    problems = []
    if settings.is_sqlite is False and not settings.security.master_keys.get_secret_value():
        problems.append("ZAKIPOST_SECURITY_MASTER_KEYS: required in production on PostgreSQL")
    if not settings.security.session_secret.get_secret_value():
        problems.append("ZAKIPOST_SECURITY_SESSION_SECRET: required in production")
    if settings.media.allow_private_networks:
        problems.append("ZAKIPOST_MEDIA_ALLOW_PRIVATE_NETWORKS: must be false in production")
    if (
        settings.metrics_enabled
        and not settings.metrics.token.get_secret_value()
        and not settings.metrics.allow_unprotected
    ):
        problems.append(
            "ZAKIPOST_METRICS_TOKEN: required in production when metrics are enabled "
            "(or set ZAKIPOST_METRICS_ALLOW_UNPROTECTED=true if only Prometheus can reach them)"
        )
    if settings.webhooks.allow_private_networks:
        problems.append("ZAKIPOST_WEBHOOKS_ALLOW_PRIVATE_NETWORKS: must be false in production")
    return problems

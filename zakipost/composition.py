"""The composition root: builds each object the server roles share, once per process, and
hands the same objects to the web app (``create_app``), the worker (``zakipost worker``
and the worker inside ``zakipost serve``) and the tests.

Two phases, because some objects need a running event loop and a close:

- :func:`build_components` (synchronous): settings, the engine and its write and read
  sessionmakers, the vault, the media store, the clock, and the embedded TikTok sandbox
  with the TikTok app's credentials.
- :meth:`Components.open` (an async context): the TikTok HTTP client, the
  :class:`TikTokClient`, the one :class:`TokenVault` of the process (its per-connection
  refresh locks only serialize refreshes when every caller shares it) and the
  :class:`PipelineDeps` over all of them. At exit the HTTP client closes and, when the
  components made the engine, the engine is disposed.

This is the only module outside the sandbox that imports ``zakipost.sandbox``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.types import ASGIApp

from zakipost import metrics
from zakipost.config import Environment, Settings
from zakipost.connection.tokens import TokenVault, refresh_lease_for
from zakipost.db.engine import create_engine, create_read_sessionmaker, create_sessionmaker
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import Vault, load_or_create_key_file, parse_master_keys
from zakipost.logging import register_secret
from zakipost.media import GuardedTransport
from zakipost.media.errors import MediaError
from zakipost.media.guard import AddressPolicy, Resolver, check_url_address
from zakipost.metrics_server import worker_listener
from zakipost.publishing.deps import PipelineDeps
from zakipost.runtime import build_worker
from zakipost.sandbox import Clock as SandboxClock
from zakipost.sandbox import ControlAccess, SandboxConfig, create_sandbox_app, describe
from zakipost.storage.base import MediaStore
from zakipost.storage.factory import create_store
from zakipost.tiktok import TikTokClient


class TikTokCredentials(NamedTuple):
    client_key: str
    client_secret: str


@dataclass(eq=False)
class Components:
    """The shared objects of one process; :meth:`open` adds those that need a loop."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_sessionmaker: async_sessionmaker[AsyncSession]
    vault: Vault
    store: MediaStore
    clock: Callable[[], dt.datetime]
    sandbox_app: Starlette | None
    credentials: TikTokCredentials
    # Disposed at the end of open() only when these components created it.
    owns_engine: bool
    # A transport for TikTok calls chosen by the caller (tests); None: see _tiktok_transport.
    tiktok_transport: httpx.AsyncBaseTransport | None = None
    # The web app serving this process's public URL (and /sandbox), once create_app has one.
    web_app: ASGIApp | None = None
    # While open(): the pipeline's dependencies, the process's one TokenVault among them.
    deps: PipelineDeps | None = None

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[PipelineDeps]:
        """The TikTok client, the token vault and the pipeline's dependencies, over one
        HTTP client that is closed at exit."""
        if self.deps is not None:
            # A second TokenVault would refresh a connection beside the first one's lock.
            raise RuntimeError("the components are already open")
        settings = self.settings
        try:
            async with httpx.AsyncClient(
                transport=self.tiktok_transport or self._tiktok_transport(),
                timeout=settings.tiktok.request_timeout_seconds,
            ) as http:
                tiktok = make_tiktok_client(settings, http, self.credentials)
                self.deps = PipelineDeps(
                    settings=settings,
                    sessionmaker=self.sessionmaker,
                    vault=self.vault,
                    tiktok=tiktok,
                    tokens=TokenVault(
                        self.sessionmaker,
                        self.vault,
                        tiktok,
                        clock=self.clock,
                        refresh_lease=refresh_lease_for(settings.tiktok.request_timeout_seconds),
                        read_sessionmaker=self.read_sessionmaker,
                    ),
                    media_dir=settings.media_dir,
                    store=self.store,
                    clock=self.clock,
                    read_sessionmaker=self.read_sessionmaker,
                )
                yield self.deps
        finally:
            self.deps = None
            if self.owns_engine:
                await self.engine.dispose()

    def _tiktok_transport(self) -> httpx.AsyncBaseTransport:
        # With the sandbox mounted, TikTok calls go through the web app in process, so the
        # sandbox builds its URLs (upload_url, consent page) under /sandbox exactly as a
        # browser or a standalone worker sees them.
        if self.sandbox_app is not None:
            if self.web_app is None:
                raise RuntimeError("an embedded sandbox is reached through the web app")
            return httpx.ASGITransport(app=self.web_app)
        return httpx.AsyncHTTPTransport(retries=0)

    def pull_client(self) -> httpx.AsyncClient:
        # TikTok pulls photos (and verified videos) from this server's /media/ URLs.
        return httpx.AsyncClient(transport=_OwnUrlsInProcess(self, self.settings.public_url))


def build_components(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    pool_size: int | None = None,
    mount_sandbox: bool | None = None,
    tiktok_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    sandbox_clock: SandboxClock | None = None,
) -> Components:
    """Everything a role shares. ``mount_sandbox`` defaults to "when no TikTok app is
    configured and no standalone sandbox either"; ``engine`` is borrowed, not disposed."""
    if mount_sandbox is None:
        mount_sandbox = settings.uses_sandbox and not settings.tiktok.sandbox_url
    owns_engine = engine is None
    db_engine = engine or create_engine(
        settings.database_url,
        pool_size=pool_size or settings.database.pool_size,
        echo=settings.database.echo,
    )
    components = Components(
        settings=settings,
        engine=db_engine,
        sessionmaker=create_sessionmaker(db_engine),
        read_sessionmaker=create_read_sessionmaker(db_engine),
        vault=create_vault(settings),
        store=create_store(settings),
        clock=clock,
        sandbox_app=None,
        credentials=TikTokCredentials("", ""),
        owns_engine=owns_engine,
        tiktok_transport=tiktok_transport,
    )
    if mount_sandbox:
        components.sandbox_app = _embedded_sandbox(components, sandbox_clock)
    components.credentials = tiktok_credentials(settings, components.sandbox_app)
    register_secret(components.credentials.client_secret)
    register_secret(settings.metrics.token.get_secret_value())
    return components


def create_vault(settings: Settings) -> Vault:
    """Master keys from settings, or the embedded default: a 0600 key file in the data dir."""
    configured = settings.security.master_keys.get_secret_value()
    if configured:
        return Vault(parse_master_keys(configured))
    return Vault(load_or_create_key_file(settings.data_dir / "master.key"))


def tiktok_credentials(settings: Settings, sandbox_app: Starlette | None) -> TikTokCredentials:
    """The TikTok app's key and secret: the mounted sandbox's, a standalone sandbox's (its
    configuration from the same environment), or the configured TikTok app's."""
    if sandbox_app is not None:
        config = sandbox_app.state.sandbox.config
        return TikTokCredentials(config.client_key, config.client_secret)
    if settings.uses_sandbox:
        standalone = SandboxConfig.from_env()
        return TikTokCredentials(standalone.client_key, standalone.client_secret)
    return TikTokCredentials(
        settings.tiktok.client_key, settings.tiktok.client_secret.get_secret_value()
    )


def make_tiktok_client(
    settings: Settings, http: httpx.AsyncClient, credentials: tuple[str, str]
) -> TikTokClient:
    base = settings.tiktok.upload_retry_base_seconds
    return TikTokClient(
        http,
        client_key=credentials[0],
        client_secret=credentials[1],
        api_base_url=settings.tiktok_api_base_url,
        auth_base_url=settings.tiktok_auth_base_url,
        upload_retry_delays=tuple(base * 2**n for n in range(5)),
        observer=metrics.tiktok_call,
    )


def _embedded_sandbox(components: Components, clock: SandboxClock | None) -> Starlette:
    """The TikTok sandbox mounted at /sandbox, registered with this gateway's callback and
    media URLs."""
    settings = components.settings
    config = SandboxConfig.from_env()
    # An embedded sandbox keeps what it received in the data directory, and drops the media
    # bytes once checked (size and sha256 stay) so a long-running server does not fill the disk.
    if "ZAKIPOST_SANDBOX_STORAGE_DIR" not in os.environ:
        config.storage_dir = str(settings.data_dir / "sandbox")
    if "ZAKIPOST_SANDBOX_KEEP_MEDIA" not in os.environ:
        config.keep_media = False
    config.redirect_uris = [settings.tiktok_redirect_uri, *config.redirect_uris]
    config.verified_url_prefixes = [f"{settings.public_url}/media/", *config.verified_url_prefixes]
    config.allow_http_pull = True
    # The sandbox's webhooks come to this gateway's own endpoint, as a TikTok app's callback
    # URL would be registered (ZAKIPOST_SANDBOX_WEBHOOK_URL, even empty, says otherwise).
    own_webhook = own_webhook_url(settings)
    if "ZAKIPOST_SANDBOX_WEBHOOK_URL" not in os.environ:
        config.webhook_url = own_webhook
    return create_sandbox_app(
        config,
        clock=clock,
        http_client_factory=components.pull_client,
        control=sandbox_control(settings),
        webhook_url_check=webhook_guard(settings, own_url=own_webhook),
        webhook_client_factory=webhook_client(settings, own=(own_webhook, components)),
    )


def own_webhook_url(settings: Settings) -> str:
    """Where TikTok's webhooks reach this gateway (``POST /tiktok/webhook``)."""
    return f"{settings.public_url}/tiktok/webhook"


def sandbox_control(settings: Settings) -> ControlAccess | None:
    """Who may use the sandbox's control API: nobody in production (it is not served),
    otherwise loopback clients and holders of ZAKIPOST_SANDBOX_CONTROL_TOKEN."""
    if settings.env is Environment.production:
        return None
    token = settings.sandbox.control_token.get_secret_value()
    register_secret(token)
    return ControlAccess(token=token or None)


def webhook_guard(
    settings: Settings, resolver: Resolver | None = None, *, own_url: str | None = None
) -> Callable[[str], Awaitable[None]]:
    """The embedded sandbox's webhook targets pass the media URL guard, under the same
    address policy (``ZAKIPOST_MEDIA_*``) as every other URL this server contacts. The one
    exception is ``own_url``, exactly: this gateway's own webhook endpoint, which
    :func:`webhook_client` delivers to in process, never over a socket."""
    media = settings.media

    async def check(url: str) -> None:
        if own_url is not None and url == own_url:
            return
        try:
            await check_url_address(
                url,
                allow_private_networks=media.allow_private_networks,
                allowed_networks=media.allowed_networks,
                resolver=resolver,
                resolve_timeout=media.connect_timeout_seconds,
            )
        except MediaError as exc:
            raise ValueError(f"webhook_url refused: {exc.message}") from None

    return check


def webhook_client(
    settings: Settings,
    resolver: Resolver | None = None,
    *,
    own: tuple[str, Components] | None = None,
) -> Callable[[], httpx.AsyncClient]:
    """Webhook deliveries connect only to addresses the same policy allows, checked at
    connect time (a name cannot resolve to a public address for the check and to a private
    one for the connection). With ``own`` (this gateway's webhook URL and components), a
    delivery to exactly that URL goes through the web app in process instead."""
    policy = AddressPolicy(settings.media.allow_private_networks, settings.media.allowed_networks)

    def factory() -> httpx.AsyncClient:
        transport: httpx.AsyncBaseTransport = GuardedTransport(policy=policy, resolver=resolver)
        if own is not None:
            transport = _OwnWebhookInProcess(own[1], own[0], transport)
        return httpx.AsyncClient(transport=transport, follow_redirects=False)

    return factory


def standalone_sandbox(public_url: str, settings: Settings | None = None) -> tuple[Starlette, str]:
    """``zakipost sandbox``: the sandbox on its own, configured from the environment, and a
    description of its app's credentials. Its control API follows the same rule as the
    embedded one; its webhooks go to public addresses only unless
    ZAKIPOST_SANDBOX_WEBHOOK_ALLOW_PRIVATE_NETWORKS says otherwise."""
    config = SandboxConfig.from_env()
    control = sandbox_control(settings) if settings is not None else ControlAccess()
    app = create_sandbox_app(config, control=control)
    return app, describe(config, public_url)


async def run_worker_process(settings: Settings, concurrency: int) -> None:
    """``zakipost worker``: a standalone worker against the configured database and TikTok."""
    components = build_components(settings, pool_size=max(concurrency + 2, 5), mount_sandbox=False)
    async with (
        components.open() as deps,
        worker_listener(settings, components.read_sessionmaker, components.clock),
    ):
        await build_worker(deps, concurrency=concurrency).run_forever()


class _OwnUrlsInProcess(httpx.AsyncBaseTransport):
    """Requests to this server's own public URL go through the web app in process (no
    socket, and it works before the server listens); anything else goes out on the network."""

    def __init__(self, components: Components, public_url: str) -> None:
        self._components = components
        self._network = httpx.AsyncHTTPTransport()
        self._public = httpx.URL(public_url)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        own = (url.scheme, url.host, url.port) == (
            self._public.scheme,
            self._public.host,
            self._public.port,
        )
        web_app = self._components.web_app
        if own and web_app is not None:
            return await httpx.ASGITransport(app=web_app).handle_async_request(request)
        return await self._network.handle_async_request(request)

    async def aclose(self) -> None:
        await self._network.aclose()


class _OwnWebhookInProcess(httpx.AsyncBaseTransport):
    """A POST to exactly this gateway's webhook URL goes to the web app in process; every
    other request goes to ``guarded``, so no other loopback or private address opens up."""

    def __init__(self, components: Components, url: str, guarded: httpx.AsyncBaseTransport) -> None:
        self._components = components
        self._url = httpx.URL(url)
        self._guarded = guarded

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        web_app = self._components.web_app
        if web_app is not None and request.url.copy_with(query=None) == self._url:
            return await httpx.ASGITransport(app=web_app).handle_async_request(request)
        return await self._guarded.handle_async_request(request)

    async def aclose(self) -> None:
        await self._guarded.aclose()


__all__ = [
    "Components",
    "TikTokCredentials",
    "build_components",
    "create_vault",
    "make_tiktok_client",
    "own_webhook_url",
    "run_worker_process",
    "sandbox_control",
    "standalone_sandbox",
    "tiktok_credentials",
    "webhook_client",
    "webhook_guard",
]

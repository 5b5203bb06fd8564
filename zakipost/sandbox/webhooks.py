"""Webhook events, signed and delivered as TikTok does (api-facts.md §8).

Body: `{"client_key","event","create_time","user_openid","content"}` where `content` is a
JSON *string*. Header `TikTok-Signature: t=<unix>,s=<hex HMAC-SHA256(client_secret,
t + "." + body)>`. Anything but HTTP 200 is retried with exponential backoff until the
retry window closes; at-least-once, so duplicates can be switched on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state import Sandbox

log = logging.getLogger("zakipost.sandbox.webhooks")


def sign(secret: str, timestamp: int, body: str) -> str:
    payload = f"{timestamp}.{body}".encode()
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: str) -> str:
    return f"t={timestamp},s={sign(secret, timestamp, body)}"


async def refuse_non_public(url: str) -> None:
    """The standalone default for webhook targets: `ValueError` unless `url` is http(s) and
    its host (a literal, or every address the name resolves to) is a public address."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValueError(f"webhook_url is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("webhook_url must be an http:// or https:// URL with a host")
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        raise ValueError(f"webhook_url points to {host}, a loopback name")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise ValueError(f"webhook_url's host {host} could not be resolved: {exc}") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not address.is_global:
            raise ValueError(f"webhook_url points to {address}, which is not a public address")


@dataclass
class Delivery:
    id: int
    event: str
    open_id: str
    body: str
    created_at: datetime
    # pending | delivered | dropped | undeliverable (no webhook_url) | refused (its address)
    state: str = "pending"
    attempts: list[dict[str, Any]] = field(default_factory=list)
    duplicate_of: int | None = None
    next_delay: float = 0.0
    waited: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.event,
            "user_openid": self.open_id,
            "body": json.loads(self.body),
            "created_at": self.created_at.isoformat(),
            "state": self.state,
            "attempts": list(self.attempts),
            "duplicate_of": self.duplicate_of,
        }


class Webhooks:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.deliveries: list[Delivery] = []
        self._queue: list[tuple[float, Delivery]] = []
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    def reset(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self._queue.clear()
        self.deliveries.clear()

    def emit(self, event: str, open_id: str, content: dict[str, Any]) -> Delivery:
        body = json.dumps(
            {
                "client_key": self.sb.config.client_key,
                "event": event,
                "create_time": int(self.sb.clock.now().timestamp()),
                "user_openid": open_id,
                "content": json.dumps(content, separators=(",", ":")),
            },
            separators=(",", ":"),
        )
        delivery = Delivery(len(self.deliveries) + 1, event, open_id, body, self.sb.clock.now())
        self.deliveries.append(delivery)
        if not self.sb.config.webhook_url:
            delivery.state = "undeliverable"
            return delivery
        self._enqueue(delivery, 0.0)
        return delivery

    def events(self) -> list[dict[str, Any]]:
        """Distinct events emitted (duplicates left out), oldest first."""
        return [json.loads(d.body) for d in self.deliveries if d.duplicate_of is None]

    def _enqueue(self, delivery: Delivery, delay: float) -> None:
        self._queue.append((time.monotonic() + delay, delivery))
        self._ensure_worker()
        if self._wake is not None:
            self._wake.set()

    def _ensure_worker(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # started by the next emit or drain inside a loop
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._worker())

    @property
    def idle(self) -> bool:
        return not self._queue and (self._task is None or self._task.done())

    async def drain(self) -> None:
        """Wait until every queued delivery has been delivered or dropped."""
        while not self.idle:
            self._ensure_worker()
            task = self._task
            if task is None:
                return
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)

    async def _worker(self) -> None:
        while self._queue:
            self._queue.sort(key=lambda item: item[0])
            due, delivery = self._queue[0]
            wait = due - time.monotonic()
            if wait > 0:
                assert self._wake is not None
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)
                continue
            self._queue.pop(0)
            await self._attempt(delivery)

    async def _attempt(self, delivery: Delivery) -> None:
        config = self.sb.config
        url = config.webhook_url
        if not url:
            delivery.state = "undeliverable"
            return
        try:
            await self.sb.check_webhook_url(url)
        except ValueError as exc:
            delivery.attempts.append(
                {"at": self.sb.clock.now().isoformat(), "status": None, "error": str(exc)}
            )
            delivery.state = "refused"
            log.warning("webhook %s not sent: %s", delivery.event, exc)
            return
        timestamp = int(self.sb.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "TikTok-Signature": signature_header(config.client_secret, timestamp, delivery.body),
        }
        status: int | None = None
        error: str | None = None
        try:
            async with self.sb.webhook_client() as client:
                response = await client.post(
                    url,
                    content=delivery.body,
                    headers=headers,
                    timeout=config.webhook_timeout_seconds,
                )
                status = response.status_code
        except Exception as exc:  # noqa: BLE001 (any failure of the receiver is a failed attempt)
            error = f"{type(exc).__name__}: {exc}"
        delivery.attempts.append(
            {"at": self.sb.clock.now().isoformat(), "status": status, "error": error}
        )
        if status == 200:
            delivery.state = "delivered"
            if (
                delivery.duplicate_of is None
                and self.sb.rng.random() < config.webhook_duplicate_rate
            ):
                dup = Delivery(
                    len(self.deliveries) + 1,
                    delivery.event,
                    delivery.open_id,
                    delivery.body,
                    self.sb.clock.now(),
                    duplicate_of=delivery.id,
                )
                self.deliveries.append(dup)
                self._queue.append((time.monotonic(), dup))
            return
        delay = config.webhook_retry_base_seconds * (2 ** (len(delivery.attempts) - 1))
        out_of_attempts = (
            config.webhook_max_attempts is not None
            and len(delivery.attempts) >= config.webhook_max_attempts
        )
        if out_of_attempts or delivery.waited + delay > config.webhook_retry_window_seconds:
            delivery.state = "dropped"
            log.info("webhook %s dropped after %d attempts", delivery.event, len(delivery.attempts))
            return
        delivery.waited += delay
        self._queue.append((time.monotonic() + delay, delivery))

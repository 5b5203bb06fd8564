"""The client's and the CLI's webhook methods against the webhook API (``zakipost.webhook``);
they run once that package is part of the app."""

from __future__ import annotations

import pytest

pytest.importorskip("zakipost.webhook")

import json
from collections.abc import Iterator

from tests.client.conftest import Api
from tests.client.served import Served, zakipost
from zakipost.client import NotFound
from zakipost.client.models import WebhookDelivery

TARGET = "https://hooks.example.com/zakipost"


async def _public_dns(host: str, port: int) -> list[str]:
    # This machine resolves no public names: the receiver's name gets a public address, so
    # the address guard passes it as it would on the Internet. Nothing is delivered here.
    return ["93.184.215.14"]


@pytest.fixture(autouse=True)
def public_dns(request: pytest.FixtureRequest) -> Iterator[None]:
    apps = [
        request.getfixturevalue(name).live.app
        if name == "served"
        else request.getfixturevalue(name)
        for name in ("app", "served")
        if name in request.fixturenames
    ]
    for app in apps:
        app.state.webhook_resolver = _public_dns
    yield
    for app in apps:
        app.state.webhook_resolver = None


async def test_webhook_endpoints_and_deliveries(api: Api) -> None:
    created = await api.call("create_webhook", TARGET, events=["post.published"], description="ci")
    assert created.secret
    assert created.url == TARGET and created.events == ["post.published"]
    assert [w.id for w in await api.call("list_webhooks")] == [created.id]
    assert (await api.call("get_webhook", created.id)).description == "ci"

    disabled = await api.call("update_webhook", created.id, enabled=False)
    assert disabled.enabled is False
    rotated = await api.call("update_webhook", created.id, rotate_secret=True)
    assert rotated.secret and rotated.secret != created.secret
    assert rotated.secret_rotated_at is not None

    await api.call("update_webhook", created.id, enabled=True)
    sent = await api.call("test_webhook", created.id)
    page = await api.call("list_deliveries", created.id, limit=10)
    assert page.items, "the test event is a delivery"
    delivery = page.items[0]
    if isinstance(sent, WebhookDelivery):
        assert sent.id == delivery.id
    retried = await api.call("retry_delivery", created.id, delivery.id)
    assert retried is not None

    await api.call("delete_webhook", created.id)
    with pytest.raises(NotFound):
        await api.call("get_webhook", created.id)
    assert await api.call("list_webhooks") == []


def test_webhook_commands(served: Served) -> None:
    created = zakipost(served, "webhooks", "create", TARGET, "--event", "post.failed", "--json")
    assert created.returncode == 0, created.stderr
    endpoint = json.loads(created.stdout)
    assert endpoint["secret"] and endpoint["events"] == ["post.failed"]
    listed = json.loads(zakipost(served, "webhooks", "list", "--json").stdout)
    assert endpoint["id"] in [w["id"] for w in listed]
    shown = json.loads(zakipost(served, "webhooks", "show", endpoint["id"], "--json").stdout)
    assert shown["url"] == TARGET and "secret" not in shown
    updated = zakipost(served, "webhooks", "update", endpoint["id"], "--disabled", "--json")
    assert json.loads(updated.stdout)["enabled"] is False
    rotated = zakipost(served, "webhooks", "update", endpoint["id"], "--rotate-secret", "--json")
    assert json.loads(rotated.stdout)["secret"] not in (None, endpoint["secret"])
    deliveries = zakipost(served, "webhooks", "deliveries", endpoint["id"], "--json")
    assert deliveries.returncode == 0 and "items" in json.loads(deliveries.stdout)
    nothing = zakipost(served, "webhooks", "update", endpoint["id"])
    assert nothing.returncode == 2
    deleted = zakipost(served, "webhooks", "delete", endpoint["id"], "--json")
    assert json.loads(deleted.stdout) == {"id": endpoint["id"], "deleted": True}
    gone = zakipost(served, "webhooks", "show", endpoint["id"], "--json")
    assert gone.returncode == 3 and gone.stdout == ""

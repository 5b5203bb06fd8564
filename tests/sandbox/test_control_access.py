"""Who may use the control API, and where webhooks may go, for the sandbox on its own."""

from __future__ import annotations

import httpx
import pytest

from zakipost.sandbox import ControlAccess, SandboxConfig, create_sandbox_app

LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.5", 50000)
TOKEN = "control-token-0123456789"


def client(app: object, address: tuple[str, int] = LOOPBACK) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=address)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://sandbox.test")


class TestControlAccess:
    async def test_loopback_clients_may_by_default(self) -> None:
        async with client(create_sandbox_app()) as http:
            assert (await http.get("/_sandbox/config")).status_code == 200
            assert (await http.post("/_sandbox/tokens", json={})).status_code == 200

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/_sandbox/config"),
            ("PATCH", "/_sandbox/config"),
            ("POST", "/_sandbox/tokens"),
            ("GET", "/_sandbox/posts"),
            ("POST", "/_sandbox/reset"),
        ],
    )
    async def test_other_clients_are_refused_without_the_token(
        self, method: str, path: str
    ) -> None:
        app = create_sandbox_app(control=ControlAccess(token=TOKEN))
        async with client(app, REMOTE) as http:
            response = await http.request(method, path, json={})
        assert response.status_code == 403
        assert "control token" in response.json()["error"]
        assert "client_secret" not in response.text

    @pytest.mark.parametrize(
        "headers",
        [{"Authorization": f"Bearer {TOKEN}"}, {"X-Sandbox-Control-Token": TOKEN}],
    )
    async def test_the_token_lets_any_client_in(self, headers: dict[str, str]) -> None:
        app = create_sandbox_app(control=ControlAccess(token=TOKEN))
        async with client(app, REMOTE) as http:
            response = await http.get("/_sandbox/config", headers=headers)
        assert response.status_code == 200
        assert response.json()["client_key"] == SandboxConfig().client_key

    async def test_a_wrong_token_is_refused(self) -> None:
        app = create_sandbox_app(control=ControlAccess(token=TOKEN))
        async with client(app, REMOTE) as http:
            response = await http.get(
                "/_sandbox/config", headers={"Authorization": f"Bearer {TOKEN}x"}
            )
        assert response.status_code == 403

    async def test_without_a_token_set_no_remote_client_gets_in(self) -> None:
        async with client(create_sandbox_app(), REMOTE) as http:
            response = await http.get("/_sandbox/config", headers={"Authorization": "Bearer "})
        assert response.status_code == 403

    async def test_a_request_relayed_by_a_local_proxy_is_not_local(self) -> None:
        async with client(create_sandbox_app()) as http:
            response = await http.get(
                "/_sandbox/config", headers={"X-Forwarded-For": "198.51.100.7"}
            )
        assert response.status_code == 403

    async def test_without_control_access_the_api_is_not_served(self) -> None:
        async with client(create_sandbox_app(control=None)) as http:
            assert (await http.get("/_sandbox/config")).status_code == 404
            assert (await http.post("/_sandbox/tokens", json={})).status_code == 404
            # TikTok's own endpoints and its CDN stand-ins stay.
            assert (await http.get("/_sandbox/avatars/sandbox.creator.jpg")).status_code == 200
            assert (await http.get("/v2/user/info/")).status_code == 401


class TestWebhookTargets:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:9/hooks",
            "http://[::1]/hooks",
            "http://localhost:8000/hooks",
            "http://10.1.2.3/hooks",
            "http://169.254.169.254/latest",
            "ftp://example.com/hooks",
        ],
    )
    async def test_non_public_targets_are_refused_by_default(self, url: str) -> None:
        async with client(create_sandbox_app()) as http:
            response = await http.patch("/_sandbox/config", json={"webhook_url": url})
            assert response.status_code == 400
            assert (await http.get("/_sandbox/config")).json()["webhook_url"] is None

    async def test_the_operator_can_allow_private_targets_at_start(self) -> None:
        app = create_sandbox_app(SandboxConfig(webhook_allow_private_networks=True))
        async with client(app) as http:
            response = await http.patch(
                "/_sandbox/config", json={"webhook_url": "http://127.0.0.1:9/hooks"}
            )
        assert response.status_code == 200

    async def test_the_allowance_cannot_be_switched_on_at_run_time(self) -> None:
        async with client(create_sandbox_app()) as http:
            response = await http.patch(
                "/_sandbox/config", json={"webhook_allow_private_networks": True}
            )
        assert response.status_code == 400
        assert "cannot change at run time" in response.json()["error"]

    async def test_a_target_set_at_start_is_refused_at_delivery(self) -> None:
        sent: list[httpx.Request] = []

        def factory() -> httpx.AsyncClient:
            def record(request: httpx.Request) -> httpx.Response:
                sent.append(request)
                return httpx.Response(200)

            return httpx.AsyncClient(transport=httpx.MockTransport(record))

        app = create_sandbox_app(
            SandboxConfig(webhook_url="http://127.0.0.1:9/hooks"), http_client_factory=factory
        )
        sandbox = app.state.sandbox
        sandbox.issue_token("sandbox.creator", None)
        sandbox.revoke_creator("sandbox.creator", 1)
        await sandbox.webhooks.drain()
        [delivery] = sandbox.webhooks.deliveries
        assert delivery.state == "refused"
        assert "not a public address" in delivery.attempts[0]["error"]
        assert sent == []

    async def test_a_check_handed_in_replaces_the_default(self) -> None:
        seen: list[str] = []

        async def check(url: str) -> None:
            seen.append(url)
            raise ValueError("not on the list")

        async with client(create_sandbox_app(webhook_url_check=check)) as http:
            response = await http.patch(
                "/_sandbox/config", json={"webhook_url": "https://hooks.example.com/x"}
            )
        assert response.status_code == 400
        assert response.json()["error"] == "not on the list"
        assert seen == ["https://hooks.example.com/x"]

"""The user CLI through its real entry point, and the MCP server over stdio with the
``mcp`` client, against a served app (gateway, worker and sandbox on a loopback port)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

from tests.client.served import ZAKIPOST, Served, zakipost


class TestCli:
    def test_publish_a_local_file_and_wait(self, served: Served) -> None:
        done = zakipost(
            served,
            "publish",
            str(served.video),
            "--account",
            served.account_id,
            "--title",
            "From the CLI",
            "--privacy",
            "SELF_ONLY",
            "--wait",
            "--json",
        )
        assert done.returncode == 0, done.stderr
        post = json.loads(done.stdout)
        assert post["status"] == "published"
        assert post["title"] == "From the CLI"
        assert post["timeline"][-1]["status"] == "published"

        shown = zakipost(served, "posts", "show", post["publish_id"], "--json")
        assert json.loads(shown.stdout)["publish_id"] == post["publish_id"]
        listed = zakipost(served, "posts", "list", "--json")
        assert post["publish_id"] in [p["publish_id"] for p in json.loads(listed.stdout)["items"]]
        watched = zakipost(served, "posts", "watch", post["publish_id"], "--json")
        assert watched.returncode == 0 and json.loads(watched.stdout)["status"] == "published"

    def test_accounts_schedules_and_failures(self, served: Served) -> None:
        accounts = json.loads(zakipost(served, "tiktok", "list", "--json").stdout)
        assert [a["tiktok_account_id"] for a in accounts] == [served.account_id]
        shown = json.loads(zakipost(served, "tiktok", "show", served.account_id, "--json").stdout)
        assert "SELF_ONLY" in shown["creator_info"]["privacy_level_options"]
        link = json.loads(zakipost(served, "tiktok", "connect", "--json").stdout)
        assert "/sandbox/" in link["authorize_url"]

        scheduled = zakipost(
            served,
            "publish",
            str(served.video),
            "--account",
            served.account_id,
            "--at",
            "2099-01-01T00:00:00+00:00",
            "--json",
        )
        # More than a year ahead: refused before anything is published.
        assert scheduled.returncode == 3
        assert "more than a year ahead" in scheduled.stderr
        assert scheduled.stdout == ""

        missing = zakipost(served, "posts", "show", "v_pub_nothing", "--json")
        assert missing.returncode == 3 and "post_not_found" in missing.stderr
        unconfigured = subprocess.run(
            [ZAKIPOST, "posts", "list"],
            env={k: v for k, v in served.env.items() if not k.startswith("ZAKIPOST_CLIENT")},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert unconfigured.returncode == 2 and "ZAKIPOST_CLIENT_KEY" in unconfigured.stderr


class TestMcp:
    def test_tools_over_stdio(self, served: Served) -> None:
        asyncio.run(self._session(served))

    async def _session(self, served: Served) -> None:
        from mcp.client.session import ClientSession
        from mcp.client.stdio import StdioServerParameters, stdio_client

        parameters = StdioServerParameters(
            command=ZAKIPOST,
            args=["mcp"],
            env={k: v for k, v in served.env.items() if k.startswith(("ZAKIPOST_", "PATH"))},
        )
        async with stdio_client(parameters) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            assert set(tools) >= {
                "list_tiktok_accounts",
                "get_creator_info",
                "publish_video",
                "publish_photos",
                "get_post_status",
            }
            publish_schema = tools["publish_video"].input_schema
            assert "privacy_level" in publish_schema["required"]
            assert "get_creator_info" in (tools["publish_video"].description or "")

            listed = await self._call(session, "list_tiktok_accounts", {})
            assert [a["tiktok_account_id"] for a in listed["accounts"]] == [served.account_id]
            info = await self._call(
                session, "get_creator_info", {"tiktok_account_id": served.account_id}
            )
            offered = info["privacy_level_options"]
            not_offered = [
                p
                for p in (
                    "PUBLIC_TO_EVERYONE",
                    "MUTUAL_FOLLOW_FRIENDS",
                    "FOLLOWER_OF_CREATOR",
                    "SELF_ONLY",
                )
                if p not in offered
            ]
            if not_offered:
                refused = await session.call_tool(
                    "publish_video",
                    {
                        "tiktok_account_id": served.account_id,
                        "privacy_level": not_offered[0],
                        "file_path": str(served.video),
                    },
                )
                assert refused.is_error
            no_privacy = await session.call_tool(
                "publish_video",
                {"tiktok_account_id": served.account_id, "file_path": str(served.video)},
            )
            assert no_privacy.is_error

            accepted = await self._call(
                session,
                "publish_video",
                {
                    "tiktok_account_id": served.account_id,
                    "privacy_level": "SELF_ONLY",
                    "file_path": str(served.video),
                    "title": "From an agent",
                },
            )
            status: dict[str, Any] = {}
            # The served worker runs for real; read until it ends (bounded by reads).
            for _ in range(600):
                status = await self._call(
                    session, "get_post_status", {"publish_id": accepted["publish_id"]}
                )
                if status["ended"]:
                    break
                await asyncio.sleep(0.2)
            assert status["status"] == "published", status

    @staticmethod
    async def _call(session: Any, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await session.call_tool(name, arguments)
        assert not result.is_error, result.content
        structured: dict[str, Any] = result.structured_content
        return structured

"""token soak: ``zakipost serve`` against a sandbox whose access tokens live 90 seconds.

``python -m bench.token_soak [--seconds 240] [--ttl 90]`` (loopback only, bounded in time).
One real ``zakipost serve`` process (web + worker, the sandbox mounted, SQLite) with
``ZAKIPOST_SANDBOX_ACCESS_TOKEN_TTL_SECONDS=90``; one connected TikTok account, left idle.
Every second the soak reads the account over the API (which never calls TikTok) and notes
how long its access token has left; at the end it publishes a small video and waits for it.

It reports the refreshes TikTok saw (the sandbox's own record, by token digest), the
smallest remaining lifetime seen, the requests TikTok refused for an expired token, and the
final post. Expected with refreshes planned at 50-75 % of the lifetime: one refresh every
45-68 s, so 4-5 in four minutes (the old rule did 47), the token never in the past.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._env import (
    HOST,
    PYTHON,
    ZAKIPOST,
    Service,
    child_env,
    connect_tiktok,
    create_account,
    free_port,
    fresh_database,
    new_master_key,
    publish,
    settings_for,
    wait_final,
    wait_http,
    write_video,
    zakipost_env,
)


async def soak(root: Path, seconds: float, ttl: int) -> dict[str, Any]:
    media_dir = root / "media"
    clip = write_video(media_dir / "clip.mp4", 200_000)
    source_port, port = free_port(), free_port()
    env = zakipost_env(
        data_dir=root / "data",
        port=port,
        master_key=new_master_key(),
        ZAKIPOST_MEDIA_ALLOW_PRIVATE_NETWORKS="true",
        ZAKIPOST_SANDBOX_ACCESS_TOKEN_TTL_SECONDS=str(ttl),
        ZAKIPOST_SANDBOX_PROGRESSION="immediate",
        ZAKIPOST_SANDBOX_STORAGE_DIR=str(root / "sandbox"),
    )
    settings = settings_for(env)
    await fresh_database(settings)
    headers = await create_account(settings, email="soak@bench.example", points=10_000)
    base = f"http://{HOST}:{port}"
    sandbox = f"{base}/sandbox/_sandbox"
    logs = root / "logs"
    least_left: float | None = None
    in_the_past = 0
    samples = 0
    with (
        Service(
            "soak-source",
            [PYTHON, "-m", "bench._source", str(source_port), str(media_dir)],
            child_env({}),
            root,
            logs,
        ) as source,
        Service("soak-serve", [ZAKIPOST, "serve"], child_env(env), root, logs) as server,
    ):
        await wait_http(f"{base}/healthz", server)
        video_url = f"http://{HOST}:{source_port}/{clip.path.name}"
        async with httpx.AsyncClient(timeout=30.0) as http:
            await wait_http(video_url, source)
            account_id = await connect_tiktok(http, base, headers)
            started = time.monotonic()
            while time.monotonic() - started < seconds:
                server.check()
                listed = await http.get(f"{base}/v1/tiktok/accounts", headers=headers)
                listed.raise_for_status()
                [account] = listed.json()["data"]
                expires = dt.datetime.fromisoformat(account["access_expires_at"])
                left = (expires - dt.datetime.now(dt.UTC)).total_seconds()
                least_left = left if least_left is None else min(least_left, left)
                in_the_past += left <= 0
                samples += 1
                await asyncio.sleep(1.0)
            body = {
                "video_url": video_url,
                "tiktok_account_id": account_id,
                "title": "Soak #zakipost",
                "privacy_level": "SELF_ONLY",
            }
            post = await wait_final(
                http,
                base,
                headers,
                await publish(http, base, headers, body),
                within=60.0,
                interval=0.5,
                services=[server],
            )
            refreshes = (await http.get(f"{sandbox}/tokens/refreshes")).json()
            expired = (await http.get(f"{sandbox}/tokens/expired-uses")).json()
    attempts = refreshes["refreshes"] if isinstance(refreshes, dict) else refreshes
    expired_uses = expired["expired_token_uses"] if isinstance(expired, dict) else expired
    rotated = [a["refresh_token_sha256"] for a in attempts if a["outcome"] == "rotated"]
    return {
        "seconds": seconds,
        "ttl": ttl,
        "samples": samples,
        "refreshes": len(rotated),
        "refresh_attempts": len(attempts),
        "token_accepted_twice": len(rotated) - len(set(rotated)),
        "least_left_seconds": least_left,
        "samples_in_the_past": in_the_past,
        "expired_token_uses": len(expired_uses),
        "post_status": post["status"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.token_soak")
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--ttl", type=int, default=90)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zakipost-soak-") as tmp:
        result = asyncio.run(soak(Path(tmp), args.seconds, args.ttl))
    for key, value in result.items():
        print(f"{key:24} {value if not isinstance(value, float) else round(value, 1)}")
    ok = (
        result["samples_in_the_past"] == 0
        and result["expired_token_uses"] == 0
        and result["token_accepted_twice"] == 0
        and result["post_status"] == "published"
    )
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

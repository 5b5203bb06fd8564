"""latency: from acceptance to TikTok's first init request, and to ``published``.

One process like ``zakipost serve`` (``bench._serve``: web + worker with ``run_worker=True``,
the sandbox mounted, SQLite, in-process wake-up), its worker idle when each post arrives:
posts are sent one at a time, the next only once the previous is published and the worker
had a moment to go idle. The init time is taken at the sandbox's door by an observer wrapped
around the mounted sandbox; acceptance is the moment the client has the 200.

acceptance -> init includes what the pipeline does first: wake-up and claim, creator info
(cached on the connection for 60 s, so fetched for the first post of each account only),
fetching and probing a small video (4 s, ~80 kB) from a local HTTP server.
acceptance -> published adds the upload and the first status poll; the sandbox's progression
is ``immediate``.

Configured for the measure, not the quota: TikTok's per-token budgets (init 6/min...) and the
sandbox's rate limits and daily cap are raised, since 20 posts a minute on one account would
otherwise wait for TikTok's quota, which is not latency. ZakiPost's own cap of 15 posts per
connection and 24 h is kept: the posts are spread over several connected accounts.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from bench._env import (
    HOST,
    PYTHON,
    Background,
    Options,
    Service,
    Table,
    Verdict,
    child_env,
    connect_tiktok,
    create_account,
    event_time,
    fmt,
    free_port,
    fresh_database,
    new_master_key,
    pct,
    publish,
    quiet_machine,
    read_post,
    settings_for,
    wait_final,
    wait_http,
    write_video,
    zakipost_env,
)

TARGET_MS = 100.0
POSTS_PER_ACCOUNT = 12  # under ZakiPost's cap of 15 per connection and 24 h
CREATORS = (0, 3, 2)  # sandbox creators that can post a 4 s SELF_ONLY video
IDLE_PAUSE = 0.3
# The first status poll comes after this, so polling never competes with the pipeline.
FIRST_LOOK = 1.0


async def run(root: Path, opts: Options) -> list[Verdict]:
    posts = 6 if opts.quick else 20
    work = root / "latency"
    media_dir = work / "media"
    clip = write_video(media_dir / "clip.mp4", 200_000)
    source_port, port = free_port(), free_port()
    env = zakipost_env(
        data_dir=work / "data",
        port=port,
        master_key=new_master_key(),
        ZAKIPOST_MEDIA_ALLOW_PRIVATE_NETWORKS="true",
        ZAKIPOST_PUBLISHING_INIT_PER_MINUTE="1000",
        ZAKIPOST_PUBLISHING_STATUS_PER_MINUTE="1000",
        ZAKIPOST_PUBLISHING_CREATOR_INFO_PER_MINUTE="1000",
        ZAKIPOST_SANDBOX_PROGRESSION="immediate",
        ZAKIPOST_SANDBOX_RATE_LIMITS_ENABLED="false",
        ZAKIPOST_SANDBOX_DAILY_POST_CAP="1000",
        ZAKIPOST_SANDBOX_STORAGE_DIR=str(work / "sandbox"),
    )
    settings = settings_for(env)
    await fresh_database(settings)
    headers = await create_account(settings, email="latency@bench.example", points=1_000_000)
    base = f"http://{HOST}:{port}"
    logs = root / "logs"
    video_url = f"http://{HOST}:{source_port}/{clip.path.name}"
    accounts_needed = min(len(CREATORS), -(-(posts + len(CREATORS)) // POSTS_PER_ACCOUNT))
    samples: list[dict[str, Any]] = []
    with (
        Service(
            "latency-source",
            [PYTHON, "-m", "bench._source", str(source_port), str(media_dir)],
            child_env({}),
            work,
            logs,
        ) as source,
        Service(
            "latency-serve", [PYTHON, "-m", "bench._serve"], child_env(env), work, logs
        ) as server,
    ):
        await wait_http(f"{base}/healthz", server)
        async with httpx.AsyncClient(timeout=30.0) as http:
            await wait_http(video_url, source)
            account_ids = [
                await connect_tiktok(http, base, headers, creator_index=CREATORS[i])
                for i in range(accounts_needed)
            ]
            seen = 0

            async def one(account_id: str) -> dict[str, Any]:
                nonlocal seen
                body = {
                    "video_url": video_url,
                    "tiktok_account_id": account_id,
                    "title": "Latency #zakipost",
                    "privacy_level": "SELF_ONLY",
                }
                publish_id = await publish(http, base, headers, body)
                accepted = time.time()
                post = await wait_final(
                    http,
                    base,
                    headers,
                    publish_id,
                    within=60.0,
                    interval=0.1,
                    first_look=FIRST_LOOK,
                    services=[server],
                )
                if post["status"] != "published":
                    raise RuntimeError(f"{publish_id} ended {post['status']}: {post.get('error')}")
                inits = (await http.get(f"{base}/_bench/inits")).json()["inits"]
                new, seen = inits[seen:], len(inits)
                if len(new) != 1:
                    raise RuntimeError(
                        f"expected one init request for {publish_id}, saw {len(new)}"
                    )
                return {"accepted": accepted, "init": new[0], "post": post}

            # Warm-up: one post per account (its first creator info query, first connections).
            for account_id in account_ids:
                await one(account_id)
                await asyncio.sleep(IDLE_PAUSE)
            await quiet_machine(opts.quiet_wait)
            background = Background()
            for i in range(posts):
                samples.append(await one(account_ids[i % len(account_ids)]))
                await asyncio.sleep(IDLE_PAUSE)
            bg = background.cores()
            final = await read_post(http, base, headers, samples[-1]["post"]["publish_id"])
            assert final["status"] == "published"
        server.check()
    return _report(samples, posts, bg)


def _ms(a: float, b: float) -> float:
    return (b - a) * 1000


def _report(samples: list[dict[str, Any]], posts: int, background: float) -> list[Verdict]:
    to_init = [_ms(s["accepted"], s["init"]) for s in samples]
    to_published = [_ms(s["accepted"], event_time(s["post"], status="published")) for s in samples]
    phases: dict[str, list[float]] = {
        "acceptance -> processing started": [],
        "  preflight (creator info, daily cap)": [],
        "  fetch (local HTTP, 200 kB)": [],
        "  probe (PyAV)": [],
        "  init budget + request reaches TikTok": [],
        "init -> upload done": [],
        "upload done -> published (status poll)": [],
    }
    for s in samples:
        post = s["post"]
        started = event_time(post, step="preflight", status="processing")
        fetching = event_time(post, step="fetching")
        probing = event_time(post, step="probing")
        initializing = event_time(post, step="initializing")
        published = event_time(post, status="published")
        try:
            uploaded = event_time(post, step="awaiting_tiktok")
        except KeyError:  # TikTok's webhook published it before the first poll was due
            uploaded = published
        values = [
            _ms(s["accepted"], started),
            _ms(started, fetching),
            _ms(fetching, probing),
            _ms(probing, initializing),
            _ms(initializing, s["init"]),
            _ms(s["init"], uploaded),
            _ms(uploaded, published),
        ]
        for name, value in zip(phases, values, strict=True):
            phases[name].append(value)
    table = Table(
        f"latency: idle worker, {posts} posts one at a time (zakipost serve-like, SQLite)",
        ["interval", "p50 ms", "p90 ms", "min ms", "max ms"],
    )
    for name, values in (
        ("acceptance -> first init request at TikTok", to_init),
        *phases.items(),
        ("acceptance -> published", to_published),
    ):
        table.add(
            name, fmt(pct(values, 50)), fmt(pct(values, 90)), fmt(min(values)), fmt(max(values))
        )
    table.notes.append(
        "Phases come from the post's timeline (server clock), acceptance from the client, the "
        "init from an observer at the sandbox's door; all wall clock on this machine."
    )
    table.notes.append(
        f"Other processes (outside this benchmark) used {100 * background:.0f}% of a core on "
        "average meanwhile."
    )
    table.print()
    p50 = pct(to_init, 50)
    notes = [f"{p50 - TARGET_MS:.1f} ms over the target" if p50 >= TARGET_MS else ""]
    if background >= 0.25:
        notes.append(f"other processes used {100 * background:.0f}% of a core meanwhile; rerun")
    return [
        Verdict(
            "latency",
            "acceptance -> first init, p50",
            f"{p50:.1f} ms (p90 {pct(to_init, 90):.1f} ms)",
            f"< {TARGET_MS:.0f} ms",
            "PASS" if p50 < TARGET_MS else "FAIL",
            "; ".join(filter(None, notes)),
        ),
        Verdict(
            "latency",
            "acceptance -> published, p50",
            f"{pct(to_published, 50):.1f} ms (p90 {pct(to_published, 90):.1f} ms)",
            "(no target)",
        ),
    ]

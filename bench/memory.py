"""memory: peak RSS of a ``zakipost worker`` publishing a 100 MB and a 1 GB video end to end.

Each size gets a fresh worker process (VmHWM, the kernel's peak resident set, only grows), in
the standalone-sandbox setting of ``bench._pipeline``. The worker starts, reports ready and
idles; its idle VmRSS is read; the post is accepted and published; VmHWM is read before the
worker is stopped. VmRSS is also sampled every 50 ms while it works, as a cross-check.
The target: both peaks under 200 MB, and within a few MB of each other (constant in the size).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bench._env import (
    MB,
    Background,
    Options,
    Table,
    Verdict,
    proc_memory_kb,
    quiet_machine,
    video,
)
from bench._pipeline import PipelineEnv

LIMIT_MB = 200.0
SPREAD_MB = 5.0


async def _measure(env: PipelineEnv, size: int, opts: Options) -> dict[str, Any]:
    clip = await asyncio.to_thread(video, env.root, size)
    worker = await env.start_worker()
    await quiet_machine(opts.quiet_wait)
    idle = proc_memory_kb(worker.pid)["VmRSS"]
    background = Background()
    publish_id = await env.publish(clip, f"Memory {size // MB} MB")
    sampled = 0
    started = time.monotonic()
    done: asyncio.Task[dict[str, Any]] = asyncio.create_task(env.wait(publish_id, [worker]))
    while not done.done():
        sampled = max(sampled, proc_memory_kb(worker.pid)["VmRSS"])
        await asyncio.sleep(0.05)
    post = done.result()
    seconds = time.monotonic() - started
    memory = proc_memory_kb(worker.pid)
    await env.check_received(post["tiktok_publish_id"], clip)
    env.clear_storage()
    worker.stop()
    return {
        "size": size,
        "idle_mb": idle / 1024,
        "sampled_mb": sampled / 1024,
        "peak_mb": memory["VmHWM"] / 1024,
        "end_mb": memory["VmRSS"] / 1024,
        "seconds": seconds,
        "background_cores": background.cores(),
    }


async def run(root: Path, opts: Options) -> list[Verdict]:
    sizes = (20 * MB, 100 * MB) if opts.quick else (100 * MB, 1000 * MB)
    table = Table(
        "memory: zakipost worker peak RSS (VmHWM) publishing one video end to end",
        [
            "video",
            "idle RSS MB",
            "peak RSS MB",
            "max sampled MB",
            "RSS after MB",
            "seconds",
            "other CPU",
        ],
    )
    results = []
    async with PipelineEnv(root, "memory") as env:
        for size in sizes:
            r = await _measure(env, size, opts)
            results.append(r)
            table.add(
                f"{size / MB:,.0f} MB",
                f"{r['idle_mb']:.1f}",
                f"{r['peak_mb']:.1f}",
                f"{r['sampled_mb']:.1f}",
                f"{r['end_mb']:.1f}",
                f"{r['seconds']:.1f}",
                f"{100 * r['background_cores']:.0f}%",
            )
    table.notes.append(
        "A fresh worker process per video; concurrency 4 (the default); MB = MiB of /proc "
        "VmHWM/VmRSS; seconds: acceptance to published, including the worker's next poll "
        "(5 s on SQLite)."
    )
    table.print()
    small, large = results
    spread = abs(large["peak_mb"] - small["peak_mb"])
    worst = max(small["peak_mb"], large["peak_mb"])
    label = f"{sizes[0] // MB} MB vs {sizes[1] // MB} MB"
    return [
        Verdict(
            "memory",
            f"peak RSS, {label}",
            f"{small['peak_mb']:.1f} vs {large['peak_mb']:.1f} MB (spread {spread:.1f} MB)",
            f"spread <= {SPREAD_MB:.0f} MB",
            "PASS" if spread <= SPREAD_MB else "FAIL",
            "" if spread <= SPREAD_MB else f"{spread - SPREAD_MB:.1f} MB over the allowed spread",
        ),
        Verdict(
            "memory",
            "largest peak RSS",
            f"{worst:.1f} MB",
            f"< {LIMIT_MB:.0f} MB",
            "PASS" if worst < LIMIT_MB else "FAIL",
            "" if worst < LIMIT_MB else f"{worst - LIMIT_MB:.1f} MB over the limit",
        ),
    ]

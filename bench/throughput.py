"""throughput: N posts over N connections, end to end, beside a direct client of TikTok.

Per database: a fresh migrated database, one account (billing on, enough points), a
standalone TikTok sandbox (``zakipost sandbox``: progression ``immediate``, media checks ON,
its per-token rate limits ON) with N creators, N TikTok accounts connected through the
sandbox's consent page over HTTP, and a local media source serving a 4 s, 200 kB video.

- SQLite: ``zakipost serve`` (web + worker in one process, in-process wake-up).
- PostgreSQL: ``zakipost web`` + 2 ``zakipost worker`` processes (LISTEN/NOTIFY wake-up).

ZakiPost is configured as in production with a TikTok app of its own (the sandbox's key and
URL) and TikTok's real per-token budgets: one post per connection stays within them. The N
publishes are sent 8 at a time; each is timed from the moment its 200 arrives to the
``published`` line of its timeline. Throughput is N over the window from the first publish
sent to the last post published.

The baseline (``bench._direct``, a process of its own) makes the same TikTok calls (creator
info, init, the upload, status until PUBLISH_COMPLETE, spaced like ZakiPost's polls) for N
posts against the same sandbox, with as many posts in flight as ZakiPost runs jobs (worker
processes x ``ZAKIPOST_WORKER_CONCURRENCY``), and nothing else.

Transactions per post: every ZakiPost process runs under ``bench._counted``, which counts
SQLAlchemy's ``begin`` events (commits and rollbacks alike) over the window; on PostgreSQL
the table adds the delta of ``pg_stat_database`` (xact_commit + xact_rollback) as a check.

For development: ``BENCH_THROUGHPUT_DBS=sqlite`` runs one database, ``BENCH_THROUGHPUT_N``
sets the number of posts; ``BENCH_SQL_LOG=/tmp/sql`` writes every statement each ZakiPost
process runs to ``/tmp/sql.<pid>.log`` (``bench._counted``); ``BENCH_PROFILE=/tmp/p``
writes a cProfile (CPU time) of each ZakiPost process over the window to ``/tmp/p.<pid>.txt``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from bench import _counted
from bench._env import (
    HOST,
    PG_HOST,
    PG_PORT,
    PG_USER,
    PYTHON,
    Background,
    Options,
    Service,
    Table,
    Verdict,
    child_env,
    connect_tiktok,
    create_account,
    fmt,
    free_port,
    fresh_database,
    new_master_key,
    pct,
    postgres_problem,
    proc_cpu_seconds,
    quiet_machine,
    run_json_child,
    settings_for,
    wait_for_log,
    wait_http,
    write_video,
    zakipost_env,
)

TARGET = 0.5
PG_DB = "bench_throughput"
PG_URL = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}"
SUBMIT_CONCURRENCY = 8
CONNECT_CONCURRENCY = 4
WORKERS = {"sqlite": 1, "postgresql": 2}
FINAL = ("published", "failed", "unknown", "in_inbox", "cancelled")


async def _pg_xacts() -> int:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="test")
    try:
        value = await conn.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", PG_DB
        )
    finally:
        await conn.close()
    return int(value or 0)


async def _ensure_pg_db() -> str | None:
    import asyncpg

    problem = await postgres_problem()
    if problem:
        return problem
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="test")
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", PG_DB):
            await conn.execute(f'CREATE DATABASE "{PG_DB}"')
    finally:
        await conn.close()
    return None


async def _drop_pg_db() -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="test")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
    finally:
        await conn.close()


def _toggle_profiles(services: list[Service]) -> bool:
    """With BENCH_PROFILE set, start (then stop and write) each process's profile."""
    if "BENCH_PROFILE" not in os.environ:
        return False
    for service in services:
        os.kill(service.pid, signal.SIGUSR1)
    return True


class Stack:
    """The processes of one database's run, stopped in reverse order."""

    def __init__(self) -> None:
        self.services: list[Service] = []

    def start(self, service: Service) -> Service:
        self.services.append(service.start())
        return service

    def check(self) -> None:
        for service in self.services:
            service.check()

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()


async def _connect_all(
    http: httpx.AsyncClient, base: str, sandbox: str, headers: dict[str, str], n: int
) -> tuple[list[str], list[str]]:
    """N fresh sandbox creators, each connected to ZakiPost; their account ids and open_ids."""
    for i in range(n):
        (
            await http.post(f"{sandbox}/_sandbox/creators", json={"username": f"bench{i:04d}"})
        ).raise_for_status()
    creators = (await http.get(f"{sandbox}/_sandbox/creators")).json()
    indexes = [i for i, c in enumerate(creators) if str(c["username"]).startswith("bench")][:n]
    open_ids = [str(creators[i]["open_id"]) for i in indexes]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(index: int) -> str:
        async with gate:
            return await connect_tiktok(http, base, headers, creator_index=index)

    account_ids = await asyncio.gather(*(one(i) for i in indexes))
    return list(account_ids), open_ids


async def _wait_all(engine: Any, n: int, stack: Stack, within: float) -> None:
    from sqlalchemy import text

    deadline = time.monotonic() + within
    statuses = ", ".join(f"'{s}'" for s in FINAL)
    while True:
        async with engine.connect() as conn:
            done = int(
                (
                    await conn.execute(
                        text(f"SELECT count(*) FROM posts WHERE status IN ({statuses})")  # noqa: S608
                    )
                ).scalar_one()
            )
        if done >= n:
            return
        stack.check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {done} of {n} posts ended after {within:.0f} s")
        await asyncio.sleep(0.5)


async def _outcomes(engine: Any) -> dict[str, dict[str, Any]]:
    import datetime as dt

    from sqlalchemy import text

    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT p.publish_id, p.status, p.error_code, MIN(e.at) FROM posts p "
                    "LEFT JOIN post_events e ON e.post_id = p.id AND e.status = 'published' "
                    "GROUP BY p.publish_id, p.status, p.error_code"
                )
            )
        ).all()
    out: dict[str, dict[str, Any]] = {}
    for publish_id, status, error, at in rows:
        if isinstance(at, str):
            at = dt.datetime.fromisoformat(at)
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        out[str(publish_id)] = {
            "status": str(status),
            "error": error,
            "published": at.timestamp() if at is not None else None,
        }
    return out


async def _direct(job: dict[str, Any]) -> dict[str, Any]:
    return await run_json_child("bench._direct", job, "the direct client")


async def _measure_db(db: str, root: Path, opts: Options, n: int) -> dict[str, Any]:
    from zakipost.db.engine import create_engine
    from zakipost.sandbox import SandboxConfig

    work = root / f"throughput-{db}"
    logs = root / "logs"
    media_dir = work / "media"
    clip = write_video(media_dir / "clip.mp4", 200_000)
    source_port, sandbox_port, web_port = free_port(), free_port(), free_port()
    sandbox_url = f"http://{HOST}:{sandbox_port}"
    base = f"http://{HOST}:{web_port}"
    app = SandboxConfig()
    env = zakipost_env(
        data_dir=work / "data",
        port=web_port,
        master_key=new_master_key(),
        database_url=PG_URL if db == "postgresql" else "",
        ZAKIPOST_TIKTOK_CLIENT_KEY=app.client_key,
        ZAKIPOST_TIKTOK_CLIENT_SECRET=app.client_secret,
        ZAKIPOST_TIKTOK_API_BASE_URL=sandbox_url,
        ZAKIPOST_TIKTOK_AUTH_BASE_URL=sandbox_url,
        ZAKIPOST_MEDIA_ALLOW_PRIVATE_NETWORKS="true",
    )
    sandbox_env = {
        "ZAKIPOST_DATA_DIR": str(work / "sandbox-data"),
        "ZAKIPOST_SANDBOX_STORAGE_DIR": str(work / "sandbox-storage"),
        "ZAKIPOST_SANDBOX_PROGRESSION": "immediate",
        "ZAKIPOST_SANDBOX_MEDIA_CHECKS": "true",
        "ZAKIPOST_SANDBOX_KEEP_MEDIA": "false",
        "ZAKIPOST_SANDBOX_REDIRECT_URIS": f"{base}/connect/tiktok/callback",
    }
    settings = settings_for(env)
    await fresh_database(settings)
    headers = await create_account(settings, email=f"throughput-{db}@bench.example", points=10**9)
    engine = create_engine(settings.database_url)
    stack = Stack()
    counts: list[Path] = []

    def counted(role: str, args: list[str]) -> Service:
        path = work / f"tx-{role}.json"
        counts.append(path)
        return stack.start(
            Service(
                f"throughput-{db}-{role}",
                [PYTHON, "-m", "bench._counted", str(path), *args],
                child_env(env),
                work,
                logs,
            )
        )

    try:
        source = stack.start(
            Service(
                f"throughput-{db}-source",
                [PYTHON, "-m", "bench._source", str(source_port), str(media_dir)],
                child_env({}),
                work,
                logs,
            )
        )
        sandbox = stack.start(
            Service(
                f"throughput-{db}-sandbox",
                [PYTHON, "-m", "zakipost", "sandbox", "--port", str(sandbox_port)],
                child_env(sandbox_env),
                work,
                logs,
            )
        )
        zakipost = [
            counted("serve" if db == "sqlite" else "web", ["serve" if db == "sqlite" else "web"])
        ]
        for i in range(WORKERS[db] if db == "postgresql" else 0):
            zakipost.append(counted(f"worker{i + 1}", ["worker"]))
        await wait_http(f"{sandbox_url}/_sandbox/config", sandbox, within=180.0)
        await wait_http(f"{base}/healthz", zakipost[0], within=180.0)
        await wait_http(f"http://{HOST}:{source_port}/{clip.path.name}", source)
        for worker in zakipost[1:]:
            await wait_for_log(worker, "worker.started")
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        async with httpx.AsyncClient(timeout=60.0, limits=limits) as http:
            account_ids, open_ids = await _connect_all(http, base, sandbox_url, headers, n)
            body = {
                "video_url": f"http://{HOST}:{source_port}/{clip.path.name}",
                "title": "Throughput #zakipost",
                "privacy_level": "SELF_ONLY",
            }
            await quiet_machine(opts.quiet_wait)
            background = Background()
            await asyncio.sleep(0.3)  # the count files are fresh
            tx_before = sum(_counted.read(p) for p in counts)
            pg_before = await _pg_xacts() if db == "postgresql" else 0
            cpu_before = [proc_cpu_seconds(s.pid) for s in [*zakipost, sandbox]]
            accepted: dict[str, float] = {}
            gate = asyncio.Semaphore(SUBMIT_CONCURRENCY)

            async def submit(account_id: str) -> None:
                async with gate:
                    response = await http.post(
                        f"{base}/v1/tiktok/publish",
                        json={**body, "tiktok_account_id": account_id},
                        headers=headers,
                    )
                if response.status_code != 200:
                    raise RuntimeError(f"publish answered {response.status_code}: {response.text}")
                accepted[response.json()["data"]["publish_id"]] = time.time()

            _toggle_profiles(zakipost)
            started = time.time()
            await asyncio.gather(*(submit(a) for a in account_ids))
            submitted = time.time()
            await _wait_all(engine, n, stack, within=120.0 if opts.quick else 600.0)
            cpu_after = [proc_cpu_seconds(s.pid) for s in [*zakipost, sandbox]]
            if _toggle_profiles(zakipost):
                await asyncio.sleep(5.0)  # the profiles are written
            await asyncio.sleep(0.3)
            tx_after = sum(_counted.read(p) for p in counts)
            # PostgreSQL publishes a backend's counters within a second or so of its
            # transactions; the reading query itself is not counted (another database).
            pg_after = 0
            if db == "postgresql":
                await asyncio.sleep(2.0)
                pg_after = await _pg_xacts()
            zp_background = background.cores()
            outcomes = await _outcomes(engine)
            stack.check()
            # The baseline: the same calls for N posts, on fresh tokens of the same creators.
            tokens = []
            for open_id in open_ids:
                issued = await http.post(
                    f"{sandbox_url}/_sandbox/tokens", json={"creator": open_id}
                )
                issued.raise_for_status()
                tokens.append(str(issued.json()["access_token"]))
        slots = WORKERS[db] * settings.worker.concurrency
        await quiet_machine(opts.quiet_wait)
        background = Background()
        sandbox_cpu = proc_cpu_seconds(sandbox.pid)
        direct = await _direct(
            {
                "api_base": sandbox_url,
                "tokens": tokens,
                "concurrency": slots,
                "video_path": str(clip.path),
            }
        )
        direct["sandbox_cpu_seconds"] = proc_cpu_seconds(sandbox.pid) - sandbox_cpu
        direct["background_cores"] = background.cores()
        stack.check()
    finally:
        stack.stop()
        await engine.dispose()
    failed = {k: v for k, v in outcomes.items() if v["status"] != "published"}
    last = max((v["published"] or 0.0) for v in outcomes.values())
    latencies = [
        (outcomes[k]["published"] - at) * 1000
        for k, at in accepted.items()
        if k in outcomes and outcomes[k]["published"] is not None
    ]
    return {
        "db": db,
        "n": n,
        "slots": slots,
        "zakipost": {
            "seconds": last - started,
            "submit_seconds": submitted - started,
            "latencies_ms": latencies,
            "failed": failed,
            "transactions": tx_after - tx_before,
            "pg_transactions": pg_after - pg_before if db == "postgresql" else None,
            "cpu_seconds": sum(a - b for a, b in zip(cpu_after[:-1], cpu_before[:-1], strict=True)),
            "sandbox_cpu_seconds": cpu_after[-1] - cpu_before[-1],
            "background_cores": zp_background,
        },
        "direct": direct,
    }


def _report(results: list[dict[str, Any]], table: Table) -> list[Verdict]:
    verdicts: list[Verdict] = []
    for r in results:
        db, n = r["db"], r["n"]
        zp, direct = r["zakipost"], r["direct"]
        zp_rate = n / zp["seconds"]
        d_seconds = direct["finished"] - direct["started"]
        d_rate = n / d_seconds
        d_lat = [(p["published"] - p["started"]) * 1000 for p in direct["posts"]]
        table.add(
            db,
            f"zakipost ({'serve' if db == 'sqlite' else 'web + 2 workers'})",
            n,
            fmt(zp["seconds"], 1),
            fmt(zp_rate, 2),
            fmt(pct(zp["latencies_ms"], 50), 0),
            fmt(pct(zp["latencies_ms"], 99), 0),
            fmt(zp["transactions"] / n, 1)
            + (f" ({zp['pg_transactions'] / n:.1f})" if zp["pg_transactions"] is not None else ""),
            fmt(1000 * zp["cpu_seconds"] / n, 1),
            fmt(1000 * zp["sandbox_cpu_seconds"] / n, 1),
            f"{100 * zp['background_cores']:.0f}%",
        )
        table.add(
            db,
            f"direct client ({r['slots']} in flight)",
            len(direct["posts"]),
            fmt(d_seconds, 1),
            fmt(d_rate, 2),
            fmt(pct(d_lat, 50), 0),
            fmt(pct(d_lat, 99), 0),
            "-",
            fmt(1000 * direct["own_cpu_seconds"] / n, 1),
            fmt(1000 * direct["sandbox_cpu_seconds"] / n, 1),
            f"{100 * direct['background_cores']:.0f}%",
        )
        ratio = zp_rate / d_rate
        notes = []
        if zp["failed"]:
            sample = next(iter(zp["failed"].values()))
            notes.append(f"{len(zp['failed'])} posts did not publish (e.g. {sample})")
        if max(zp["background_cores"], direct["background_cores"]) >= 0.25:
            notes.append("other processes took the CPU meanwhile (see 'other CPU'); rerun")
        verdicts.append(
            Verdict(
                "throughput",
                f"dispatch, {db}: zakipost / direct client",
                f"{ratio:.2f} ({zp_rate:.2f} vs {d_rate:.2f} posts/s)",
                f">= {TARGET}",
                "FAIL" if zp["failed"] or ratio < TARGET else "PASS",
                "; ".join(notes),
            )
        )
        verdicts.append(
            Verdict(
                "throughput",
                f"{db}: acceptance -> published p50 / p99",
                f"{pct(zp['latencies_ms'], 50):,.0f} / {pct(zp['latencies_ms'], 99):,.0f} ms",
                "(no target)",
            )
        )
        verdicts.append(
            Verdict(
                "throughput",
                f"{db}: database transactions per post",
                f"{zp['transactions'] / n:.1f}",
                "(no target)",
            )
        )
    return verdicts


async def run(root: Path, opts: Options) -> list[Verdict]:
    n = int(os.environ.get("BENCH_THROUGHPUT_N") or (40 if opts.quick else 200))
    table = Table(
        f"throughput: {n} posts over {n} connections, acceptance to published",
        [
            "database",
            "runner",
            "posts",
            "seconds",
            "posts/s",
            "p50 ms",
            "p99 ms",
            "tx/post",
            "CPU ms/post",
            "sandbox CPU ms/post",
            "other CPU",
        ],
    )
    table.notes.append(
        "Sandbox standalone (immediate progression, media checks on, per-token rate limits "
        "on); a 4 s, 200 kB video from a local HTTP source; publishes sent 8 at a time. "
        "zakipost latency: from the client's 200 to the post's 'published' line; direct: "
        "from its creator info request to PUBLISH_COMPLETE. tx/post: SQLAlchemy transactions "
        "of every ZakiPost process over the window (PostgreSQL's own count in brackets). "
        "CPU: ZakiPost's processes, or the direct client's."
    )
    verdicts: list[Verdict] = []
    results: list[dict[str, Any]] = []
    for db in os.environ.get("BENCH_THROUGHPUT_DBS", "sqlite,postgresql").split(","):
        if db == "postgresql":
            problem = await _ensure_pg_db()
            if problem:
                verdicts.append(Verdict("throughput", db, "-", status="SKIP", note=problem))
                continue
        try:
            results.append(await _measure_db(db, root, opts, n))
        except Exception as exc:  # noqa: BLE001 (reported; the other database still runs)
            verdicts.append(
                Verdict("throughput", db, "-", status="ERROR", note=f"{type(exc).__name__}: {exc}")
            )
        finally:
            if db == "postgresql":
                await _drop_pg_db()
    verdicts = _report(results, table) + verdicts
    table.print()
    return verdicts

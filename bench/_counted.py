"""A ZakiPost command with its database transactions counted: ``python -m bench._counted
COUNT_FILE zakipost-args...`` runs ``zakipost zakipost-args...`` (serve, web, worker) in this
process after hooking SQLAlchemy's ``begin`` event on every engine.

Every transaction SQLAlchemy starts on a connection (a session's autobegin, ``engine.begin()``)
fires ``begin`` once, whether it ends in a commit or a rollback: the count is the number of
database transactions the process ran. A daemon thread writes it to ``COUNT_FILE`` (as JSON,
replaced atomically) every 100 ms, so the benchmark reads it while the process runs. Nothing
in ZakiPost is changed: the listener is attached to the ``Engine`` class before the command
creates its engines.

With ``BENCH_SQL_LOG`` set, every statement (its first line, with ``BEGIN``/``COMMIT``/
``ROLLBACK`` marks and the asyncio task that ran it) is appended to ``$BENCH_SQL_LOG.<pid>.log``:
what a post costs in statements, read off one run.

With ``BENCH_PROFILE`` set, SIGUSR1 starts a cProfile of the process (CPU time) and a second
SIGUSR1 writes it to ``$BENCH_PROFILE.<pid>.txt``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

_count = 0
_lock = threading.Lock()


def _on_begin(conn: Connection) -> None:
    global _count
    with _lock:
        _count += 1


def _writer(path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    while True:
        with _lock:
            value = _count
        tmp.write_text(json.dumps({"transactions": value, "at": time.time()}))
        os.replace(tmp, path)
        time.sleep(0.1)


def read(path: Path) -> int:
    """The count last written to ``path`` (0 before the first write)."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return 0
    return int(data["transactions"])


def _log_statements(to: str) -> None:
    import asyncio

    out = open(f"{to}.{os.getpid()}.log", "a", buffering=1)  # noqa: SIM115 (open for the process)

    def task() -> str:
        try:
            current = asyncio.current_task()
        except RuntimeError:
            return "-"
        return current.get_name() if current is not None else "-"

    def mark(what: str) -> Any:
        return lambda conn, *_: out.write(f"{time.time():.6f} {task()} {what}\n")

    def statement(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
        out.write(f"{time.time():.6f} {task()} {' '.join(sql.split())[:160]}\n")

    event.listen(Engine, "begin", mark("BEGIN"))
    event.listen(Engine, "commit", mark("COMMIT"))
    event.listen(Engine, "rollback", mark("ROLLBACK"))
    event.listen(Engine, "before_cursor_execute", statement)


def main(argv: list[str]) -> None:
    path = Path(argv[0])
    event.listen(Engine, "begin", _on_begin)
    if os.environ.get("BENCH_SQL_LOG"):
        _log_statements(os.environ["BENCH_SQL_LOG"])
    threading.Thread(target=_writer, args=(path,), daemon=True, name="tx-count").start()
    from zakipost.cli import main as zakipost_main

    profile_to = os.environ.get("BENCH_PROFILE")
    if profile_to:
        import cProfile
        import pstats
        import signal

        profiler = cProfile.Profile(time.process_time)
        state = {"on": False}

        def toggle(*_: object) -> None:
            if not state["on"]:
                profiler.enable()
                state["on"] = True
                return
            profiler.disable()
            out = Path(profile_to + f".{os.getpid()}.txt")
            profiler.dump_stats(out.with_suffix(".prof"))  # for pstats' callers/callees
            with out.open("w") as fh:
                stats = pstats.Stats(profiler, stream=fh)
                stats.sort_stats("cumulative").print_stats(80)
                stats.sort_stats("tottime").print_stats(60)

        signal.signal(signal.SIGUSR1, toggle)

    sys.argv = ["zakipost", *argv[1:]]
    zakipost_main()


if __name__ == "__main__":
    main(sys.argv[1:])

"""startup: how long ``zakipost --help`` takes, beside ``python -c pass`` (the interpreter's
own start-up), over several runs; the median of each and their ratio.

The CLI imports the server's stack (settings, SQLAlchemy, Alembic, uvicorn) only inside the
commands that need it, so ``--help`` costs the interpreter plus Typer and Rich. Target: under
a second.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench._env import Options, Table, Verdict, quiet_machine

TARGET_SECONDS = 1.0


def _time(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def _runs(command: list[str], count: int) -> list[float]:
    _time(command)  # warm the file cache; not counted
    return [_time(command) for _ in range(count)]


async def run(root: Path, opts: Options) -> list[Verdict]:
    count = 5 if opts.quick else 15
    zakipost = str(Path(sys.executable).with_name("zakipost"))
    await quiet_machine(opts.quiet_wait)
    python = await asyncio.to_thread(_runs, [sys.executable, "-c", "pass"], count)
    cli = await asyncio.to_thread(_runs, [zakipost, "--help"], count)
    python_median, cli_median = statistics.median(python), statistics.median(cli)
    ratio = cli_median / python_median if python_median else float("inf")
    table = Table("startup", ["command", "runs", "median", "min", "max"])
    for name, times in (("python -c pass", python), ("zakipost --help", cli)):
        table.add(
            name,
            len(times),
            f"{statistics.median(times) * 1000:.0f} ms",
            f"{min(times) * 1000:.0f} ms",
            f"{max(times) * 1000:.0f} ms",
        )
    table.notes.append(f"zakipost --help / python -c pass: {ratio:.1f}x")
    table.print()
    return [
        Verdict(
            "startup",
            "zakipost --help (median)",
            f"{cli_median * 1000:.0f} ms ({ratio:.1f}x python -c pass, "
            f"{python_median * 1000:.0f} ms)",
            f"< {TARGET_SECONDS * 1000:.0f} ms",
            "PASS" if cli_median < TARGET_SECONDS else "FAIL",
        )
    ]

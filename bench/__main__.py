"""``python -m bench [--quick] [--only accept,relay,memory,latency,throughput,startup]``:
see docs/benchmarks.md."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import FrameType
from typing import Any

from bench._env import Options, Table, Verdict

SECTIONS = ("accept", "relay", "memory", "latency", "throughput", "startup")


def _runner(name: str) -> Callable[[Path, Options], Coroutine[Any, Any, list[Verdict]]]:
    if name == "accept":
        from bench import accept

        return accept.run
    if name == "relay":
        from bench import relay

        return relay.run
    if name == "memory":
        from bench import memory

        return memory.run
    if name == "startup":
        from bench import startup

        return startup.run
    if name == "throughput":
        from bench import throughput

        return throughput.run
    from bench import latency

    return latency.run


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes and counts (smoke check)"
    )
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument(
        "--accept-concurrency",
        type=int,
        default=8,
        help="connections of the accept load generator (default 8)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(
            f"unknown section(s): {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}"
        )
    return args


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _summary(verdicts: list[Verdict]) -> None:
    table = Table("summary", ["section", "figure", "measured", "target", "result"])
    for v in verdicts:
        table.add(v.section, v.figure, v.value, v.target, v.status)
    for v in verdicts:
        if v.note:
            table.notes.append(f"{v.section} / {v.figure}: {v.note}")
    table.print()


def main(argv: list[str]) -> int:
    args = _parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    opts = Options(quick=args.quick, accept_concurrency=args.accept_concurrency)
    root = Path(tempfile.mkdtemp(prefix="zakipost-bench-"))
    started = time.monotonic()
    mode = "(quick) " if opts.quick else ""
    print(
        f"ZakiPost benchmarks {mode}- {time.strftime('%Y-%m-%d %H:%M %Z')}, "
        f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}; sections: {', '.join(args.sections)}",
        flush=True,
    )
    print(f"temporary directory (logs): {root}", flush=True)
    verdicts: list[Verdict] = []
    try:
        for name in args.sections:
            section_started = time.monotonic()
            try:
                verdicts += asyncio.run(_runner(name)(root, opts))
            except Exception as exc:  # noqa: BLE001 (reported; the other sections still run)
                traceback.print_exc()
                verdicts.append(
                    Verdict(
                        name, "section", "-", status="ERROR", note=f"{type(exc).__name__}: {exc}"
                    )
                )
            print(f"  ({name}: {time.monotonic() - section_started:.0f} s)", flush=True)
        _summary(verdicts)
        print(f"\ntotal {time.monotonic() - started:.0f} s", flush=True)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

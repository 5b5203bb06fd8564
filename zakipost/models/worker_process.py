from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from zakipost.db.base import Base
from zakipost.db.types import UTCDateTime


class WorkerProcess(Base):
    """A running worker, as it last reported itself (``zakipost.worker.liveness``).

    Each worker inserts its row at start, moves ``last_seen_at`` every few seconds and
    deletes the row on a clean stop; a row whose ``last_seen_at`` is old is a worker that
    died (``/readyz?workers=1`` and the queued posts' ``waiting_for`` read this).
    """

    __tablename__ = "worker_processes"

    # The worker id its job leases carry (jobs.lease_owner): "<host>:<pid>:<random>".
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    pid: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True, nullable=False)
    concurrency: Mapped[int] = mapped_column(Integer, nullable=False)
    # What it serves, as its start banner says: database (no password), TikTok, store, kinds.
    serves: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)

"""The kinds of points ledger entries (free of the ORM: the API schemas use them)."""

from __future__ import annotations

import enum


class PointEntryKind(enum.StrEnum):
    grant = "grant"  # points added by an operator or a plan
    debit = "debit"  # points spent on a publish
    refund = "refund"  # a debit given back (the publish failed)

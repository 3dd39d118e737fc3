"""Cron expressions read in the schedule's timezone: the slots after a moment and the latest
slot at or before one.

A slot is a wall-clock time in the schedule's timezone. Across a daylight-saving change the
times follow Debian cron (cronsim does the arithmetic): a slot that falls in the hour the
clocks skip runs at the first minute after it, and a slot in the hour that happens twice
runs once, the first time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim

from rpa.config import ScheduleEntry

_ZONEINFO_MARK = "zoneinfo/"


@dataclass(frozen=True)
class Slot:
    """One time an entry of the schedule fires."""

    when: datetime  # aware, UTC
    index: int  # the entry's position in the config's ``schedule``
    entry: ScheduleEntry


def local_zone() -> tzinfo:
    """This machine's timezone as a zone with its daylight-saving rules (not a fixed
    offset): from ``TZ``, else ``/etc/localtime``; UTC when neither says."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    link = Path("/etc/localtime")
    try:
        target = str(link.resolve())
        if _ZONEINFO_MARK in target:
            return ZoneInfo(target.rsplit(_ZONEINFO_MARK, 1)[1])
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    try:
        with link.open("rb") as fh:
            return ZoneInfo.from_file(fh, key="localtime")
    except (OSError, ValueError):
        return ZoneInfo("UTC")


def zone(name: str | None) -> tzinfo:
    """The configured timezone (an IANA name), or this machine's when none is set."""
    return ZoneInfo(name) if name else local_zone()


def next_fire(cron: str, tz: tzinfo, after: datetime) -> datetime | None:
    """The first slot of ``cron`` strictly after ``after``, in UTC (None: it never fires
    again)."""
    try:
        # cronsim steps one second on before matching, so a slot equal to ``after`` is
        # not returned again.
        found = next(CronSim(cron, after.astimezone(tz)))
    except StopIteration:
        return None
    # In UTC: Python compares two times of one zone by their wall clock, which puts the
    # two 02:30s of a night the clocks go back at the same moment.
    return found.astimezone(timezone.utc)


def latest_slot(cron: str, tz: tzinfo, at: datetime) -> datetime | None:
    """The latest slot of ``cron`` at or before ``at``, in UTC (None: none in the last 50
    years)."""
    # Reverse iteration steps one second back first: start a second later so a slot
    # exactly at ``at`` counts.
    start = at.astimezone(tz).replace(microsecond=0) + timedelta(seconds=1)
    try:
        found = next(CronSim(cron, start, reverse=True)).astimezone(timezone.utc)
    except StopIteration:
        return None
    # cronsim walks backwards on the wall clock, which in the hour the clocks go back can
    # land before or after the true slot; the forward walk is the reference, so settle
    # the answer with it.
    while found > at:
        try:
            found = next(CronSim(cron, found.astimezone(tz), reverse=True)).astimezone(
                timezone.utc)
        except StopIteration:
            return None
    nxt = next_fire(cron, tz, found)
    while nxt is not None and nxt <= at:
        found, nxt = nxt, next_fire(cron, tz, nxt)
    return found


def slots_between(cron: str, tz: tzinfo, after: datetime, until: datetime,
                  limit: int = 1000) -> int:
    """How many slots of ``cron`` fall in (after, until], counted up to ``limit``."""
    count = 0
    when = next_fire(cron, tz, after)
    while when is not None and when <= until and count < limit:
        count += 1
        when = next_fire(cron, tz, when)
    return count


def next_runs(entries: Sequence[ScheduleEntry], tz: tzinfo, after: datetime,
              n: int) -> list[Slot]:
    """The next ``n`` slots of all ``entries`` after ``after``, soonest first."""
    found: list[Slot] = []
    for index, entry in enumerate(entries):
        found.extend(Slot(when, index, entry) for when in _upcoming(entry.cron, tz, after, n))
    found.sort(key=lambda s: (s.when, s.index))
    return found[:n]


def _upcoming(cron: str, tz: tzinfo, after: datetime, n: int) -> Iterable[datetime]:
    when = next_fire(cron, tz, after)
    for _ in range(n):
        if when is None:
            return
        yield when
        when = next_fire(cron, tz, when)

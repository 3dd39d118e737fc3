"""Reminders of escalations the owner has not answered, and the waiting times they are
given in ("2d", "36h", or hours as a number)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer

from rpa.config.base import StrictModel

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)d)?\s*(?:(\d+(?:\.\d+)?)h)?$")
MAX_FOLLOWUP = timedelta(days=90)


def _duration(value: Any) -> timedelta:
    """A waiting time: a number of hours (36), or days and/or hours ("2d", "36h",
    "1d12h"); more than nothing and at most 90 days."""
    if isinstance(value, timedelta):
        span = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        span = timedelta(hours=value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        found = _DURATION.match(text) if text else None
        if found is None or not any(found.groups()):
            raise ValueError(f"{value!r} is not a waiting time: give hours (48) or days and "
                             "hours (2d, 36h, 1d12h)")
        span = timedelta(days=float(found[1] or 0), hours=float(found[2] or 0))
    if span <= timedelta(0) or span > MAX_FOLLOWUP:
        raise ValueError(f"{value!r} must be more than nothing and at most 90 days")
    return span


def _duration_text(span: timedelta) -> str:
    """A waiting time as the configuration writes it ("2d", "36h" -> "1d12h")."""
    days, rest = divmod(span.total_seconds() / 3600, 24)
    return (f"{days:g}d" if days else "") + (f"{rest:g}h" if rest or not days else "")


Duration = Annotated[timedelta, BeforeValidator(_duration),
                     PlainSerializer(_duration_text, return_type=str)]


class FollowupsConfig(StrictModel):
    """Reminders for escalations the owner has not answered: texted again
    ``followup_after`` the first text, then sent to every fallback channel
    ``fallback_after`` the reminder; at most ``max_per_run`` of each a run (the rest the
    next run)."""

    followup_after: Duration = timedelta(days=2)
    fallback_after: Duration = timedelta(days=1)
    max_per_run: int = Field(default=10, ge=1, le=1000)

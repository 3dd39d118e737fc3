"""Runs without a person: the scheduled runs (cron expressions) and how long run folders
are kept."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator, model_validator

from rpa.config.base import StrictModel


class ScheduleEntry(StrictModel):
    """One scheduled run: a cron expression (minute hour day month weekday) in the
    schedule's timezone, the flows (default: the config's) and the account (default: the
    first), or ``all_accounts``: a run for every account, ``concurrency`` at a time."""

    cron: str
    flows: list[str] | None = None
    account: str | None = None
    all_accounts: bool = False
    dry_run: bool = False

    @model_validator(mode="after")
    def _one_or_all(self) -> ScheduleEntry:
        if self.all_accounts and self.account is not None:
            raise ValueError("give account (one account) or all_accounts: true (every "
                             "account), not both")
        return self

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from cronsim import CronSim, CronSimError

        value = " ".join(value.split())
        if len(value.split()) != 5:
            raise ValueError(f"'{value}' is not a cron expression of five fields (minute "
                             "hour day-of-month month day-of-week), e.g. '0 8,13,18 * * 1-6'")
        try:
            CronSim(value, datetime(2026, 1, 1))
        except CronSimError as err:
            raise ValueError(f"'{value}' is not a valid cron expression: {err}") from err
        return value


class RetentionConfig(StrictModel):
    """How long run folders are kept: the last ``keep_runs`` and those younger than
    ``keep_days`` (either may be unset); the newest failed run is always kept."""

    keep_days: int | None = Field(default=30, ge=1, le=3650)
    keep_runs: int | None = Field(default=None, ge=1, le=100_000)

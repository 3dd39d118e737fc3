"""The work queue (``queue``): runs put on Redis and taken by ``rpa worker`` processes on
one or more machines (Celery), instead of run where they are asked for. No section: runs
happen where they are asked for, as always."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from rpa.config.base import StrictModel, check_env_name, check_server_url


class QueueConfig(StrictModel):
    """Where the runs wait and how workers take them.

    ``broker_url``: the Redis server (``redis://host:6379/0``, ``rediss://`` with TLS),
    never with a password; ``password_env`` names the variable holding it.
    ``visibility_timeout_s``: how long a run taken by a worker that vanished (killed, its
    machine gone) waits before another worker is given it; longer than the longest run,
    or a run still going is handed out a second time (the account's lock and the ledger
    keep that harmless, but it costs a place). ``worker_concurrency``: runs at once per
    worker (default: as ``rpa run --all`` works it out for the machine). ``name``: the
    queue's name (several bots may share one Redis). ``retry_delay_s``: how soon a run
    refused by the account's lock, or whose process died, is tried again;
    ``max_attempts``: how many times a run is tried before the owner is told.
    """

    broker_url: str
    password_env: str | None = None
    name: str = Field(default="rpa-runs", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    visibility_timeout_s: int = Field(default=7200, ge=5, le=7 * 86400)
    worker_concurrency: int | None = Field(default=None, ge=1, le=64)
    retry_delay_s: int = Field(default=60, ge=1, le=86400)
    max_attempts: int = Field(default=5, ge=1, le=100)

    _env = field_validator("password_env")(check_env_name)

    @field_validator("broker_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = check_server_url(value, ("redis", "rediss"), "redis://host:6379/0")
        if not urlsplit(value).hostname:
            raise ValueError("names no host (redis://host:6379/0)")
        return value

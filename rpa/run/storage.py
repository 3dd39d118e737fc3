"""The ledger a configuration names: the SQLite file in the state folder (the default), or
the PostgreSQL database of ``ledger.url``; the check before a run and opening it.

The ledger package takes plain values (a path; a URL and a password), never the
configuration: :func:`ledger_place` reads them from it once, the password from the
environment variable ``ledger.password_env`` names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rpa.config import Config, secret
from rpa.ledger import (
    Ledger,
    LedgerStore,
    PostgresLedger,
    check_ledger,
    check_postgres,
    display_url,
)

LEDGER_FILE = "ledger.sqlite"


@dataclass(frozen=True)
class LedgerPlace:
    """Where the ledger is: ``sqlite_path`` (the file in the state folder, which a
    PostgreSQL ledger is copied from), and ``url`` when it is PostgreSQL."""

    sqlite_path: Path
    url: str | None = None
    password: str = field(default="", repr=False)

    @property
    def where(self) -> str:
        """The file, or the URL (never with a password)."""
        return display_url(self.url) if self.url else str(self.sqlite_path)


def ledger_place(cfg: Config, secrets: Mapping[str, str] | None = None) -> LedgerPlace:
    """The ledger ``cfg`` names. The password is taken from ``secrets`` (a run's, read up
    front) or else from the environment; a variable that is not set is a ConfigError."""
    path = Path(cfg.paths.state_dir) / LEDGER_FILE
    if cfg.ledger is None:
        return LedgerPlace(path)
    password = ""
    if cfg.ledger.password_env:
        password = (secrets or {}).get("ledger.password") or secret(
            cfg.ledger.password_env, source=cfg.source, key="ledger.password_env")
    return LedgerPlace(path, cfg.ledger.url, password)


def check(place: LedgerPlace, recordings: Path, config: str | None = None) -> None:
    """Before a run: the ledger must be sound and not silently lost (LedgerBroken, exit 6:
    the file corrupt or missing after runs; the database unreachable, or empty while the
    SQLite file remembers runs)."""
    if place.url:
        check_postgres(place.url, place.password, place.sqlite_path)
    else:
        check_ledger(place.sqlite_path, recordings, config=config)


def open_ledger(place: LedgerPlace, *, code_floor: int = 0,
                series: Mapping[str, str] | None = None,
                series_floor: Mapping[str, int] | None = None) -> LedgerStore:
    """The ledger, opened (and brought up to date: the file's missing tables, the
    database's missing migrations). ``series``: each account's code prefix (the
    configuration's ``code_series()``), ``series_floor`` each prefix's last recorded number:
    the codes of the escalations made through it."""
    ledger: LedgerStore
    if place.url:
        ledger = PostgresLedger(place.url, password=place.password, code_floor=code_floor)
    else:
        ledger = Ledger(place.sqlite_path, code_floor=code_floor)
    if series:
        ledger.series = dict(series)
    if series_floor:
        ledger.series_floor = dict(series_floor)
    return ledger


def existing(place: LedgerPlace) -> LedgerStore | None:
    """The ledger, or None when no run has made the SQLite file yet (never created here;
    a PostgreSQL ledger is always there to open)."""
    path = place.sqlite_path
    if not place.url and (not path.is_file() or not path.stat().st_size):
        return None
    return open_ledger(place)

"""Backups of the ledger file, putting one back, and the check before a run.

A copy is made after every successful run (the last few kept). Before a run,
:func:`check_ledger` stops it with :class:`LedgerBroken` when the ledger is corrupt, or
missing although runs happened before: a new, empty ledger would forget what was answered
and escalated.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from rpa.ledger.base import Records

BACKUPS_DIR = "backups"
KEEP_BACKUPS = 7


class LedgerBroken(Exception):
    """The ledger cannot be trusted (corrupt, or lost after runs happened): stop the run.

    ``exit_code`` is the run's exit status; the message says what is wrong, where, and the
    command that restores the last backup.
    """

    exit_code = 6

    def __init__(self, message: str, *, path: Path | str, reason: str) -> None:
        super().__init__(message)
        self.path = path  # the SQLite file, or the PostgreSQL URL (without a password)
        # "corrupt", "missing"; PostgreSQL's also "unreachable" and "outdated" (its schema
        # could not be brought up to date)
        self.reason = reason


def backups(state_dir: Path) -> list[Path]:
    """The ledger backups in ``state_dir/backups``, oldest first."""
    folder = state_dir / BACKUPS_DIR
    return sorted(folder.glob("ledger-*.sqlite")) if folder.is_dir() else []


def _has_history(state_dir: Path, recordings_dir: Path | None) -> str:
    """What shows that runs happened here before ("" when nothing does)."""
    if backups(state_dir):
        return f"backups exist in {state_dir / BACKUPS_DIR}"
    if recordings_dir is not None and recordings_dir.is_dir():
        if any(p.is_dir() and (p / "run.json").is_file() for p in recordings_dir.iterdir()):
            return f"earlier runs are recorded in {recordings_dir}"
    return ""


def quick_check(path: Path) -> str:
    """SQLite's ``PRAGMA quick_check`` of ``path``: "ok", or what is wrong."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            rows = db.execute("PRAGMA quick_check").fetchall()
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as err:
        return str(err)
    found = "; ".join(str(r[0]) for r in rows)
    return found or "quick_check returned nothing"


def restore_hint(state_dir: Path, config: str | None = None) -> str:
    """The command that brings the ledger back (or, with no backup, starts a new one)."""
    where = f" --config {config}" if config else ""
    last = backups(state_dir)
    if last:
        return (f"restore the last backup ({last[-1].name}) with `rpa ledger restore{where}`"
                " (the broken file is kept beside it)")
    return ("no backup exists: restore the file from your own backups, or start a new ledger"
            f" with `rpa ledger new{where}` (codes go on after the last run's; earlier"
            " escalations are then unknown to the bot)")


def check_ledger(path: Path, recordings_dir: Path | None = None,
                 config: str | None = None) -> None:
    """Before a run: the ledger must be readable, and must not be silently lost.

    Raises :class:`LedgerBroken` when it is corrupt (``PRAGMA quick_check`` fails or it is
    not a database), or when it is missing or empty although runs happened before (backups
    or recordings exist). A first run, with no history anywhere, passes.
    """
    state_dir = path.parent
    if not path.exists() or path.stat().st_size == 0:
        history = _has_history(state_dir, recordings_dir)
        if not history:
            return
        what = "is missing" if not path.exists() else "is empty (0 bytes)"
        raise LedgerBroken(
            f"the ledger {path} {what}, but {history}: starting a new one would forget what"
            f" was answered and escalated. Run stopped before Seller Central; "
            f"{restore_hint(state_dir, config)}", path=path, reason="missing")
    found = quick_check(path)
    if found != "ok":
        raise LedgerBroken(
            f"the ledger {path} is corrupt ({found}). Run stopped before Seller Central; "
            f"{restore_hint(state_dir, config)}", path=path, reason="corrupt")


def restore(path: Path, source: Path | None = None) -> tuple[Path, Path | None]:
    """Put a backup (the newest, or ``source``) in place of the ledger at ``path``.

    The backup is checked first; the current file (and its -wal/-shm) is moved aside as
    ``<name>.broken-<time>``, never deleted. Returns (the backup used, the moved-aside file).
    """
    state_dir = path.parent
    if source is None:
        found = backups(state_dir)
        if not found:
            raise FileNotFoundError(f"no ledger backup in {state_dir / BACKUPS_DIR}")
        source = found[-1]
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such backup file")
    verdict = quick_check(source)
    if verdict != "ok":
        raise ValueError(f"{source} is not a sound ledger backup ({verdict})")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside: Path | None = None
    for suffix in ("", "-wal", "-shm"):
        current = path.with_name(path.name + suffix)
        if current.exists():
            moved = current.with_name(f"{path.name}.broken-{stamp}{suffix}")
            current.replace(moved)
            aside = aside or moved
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(str(path))
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    path.chmod(0o600)
    return source, aside


class Backups(Records):
    """Copies of the open ledger into ``backups/`` beside it."""

    path: Path
    db: sqlite3.Connection  # SQLite's own: its backup API copies the file

    def backup(self, keep: int = KEEP_BACKUPS, label: str = "") -> Path | None:
        """Copy the ledger into ``backups/`` with SQLite's backup API; keep the last ``keep``;
        returns the copy."""
        folder = self.path.parent / BACKUPS_DIR
        folder.mkdir(mode=0o700, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        dest = folder / f"ledger-{stamp}{'-' + label if label else ''}.sqlite"
        tmp = dest.with_suffix(".partial")
        out = sqlite3.connect(str(tmp))
        try:
            self.db.backup(out)
        finally:
            out.close()
        tmp.chmod(0o600)
        tmp.replace(dest)
        for old in backups(self.path.parent)[:-keep] if keep > 0 else []:
            old.unlink()
        return dest


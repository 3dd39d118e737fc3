"""Logging set-up: a console sink for people and a file sink per run, both scrubbed."""

from __future__ import annotations

import sys
from pathlib import Path

from loguru import logger

from rpa.redact import patch_record

_configured = False


def setup(verbose: bool = False) -> None:
    """Send warnings (or, verbose, everything) to stderr; every message passes the scrubber.

    The steps themselves are shown by the CLI as they happen, and each run's full log is
    written to its recordings folder, so the console only needs what goes wrong.
    """
    global _configured
    logger.remove()
    logger.configure(patcher=patch_record)
    logger.add(sys.stderr, level="DEBUG" if verbose else "WARNING",
               format="<green>{time:HH:mm:ss}</green> <level>{level: <7}</level> {message}")
    _configured = True


def add_run_log(path: Path) -> int:
    """Also write the log of this run to ``path``; returns the sink id to remove later."""
    if not _configured:
        logger.configure(patcher=patch_record)
    return logger.add(path, level="DEBUG", encoding="utf-8",
                      format="{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <7} {message}")

"""Logging set-up: a console sink for people and a file sink per run, both scrubbed.

Whole records are scrubbed, not only messages: the patcher formats an exception's traceback
itself (without variable values) and masks it, and the sinks are added with
``backtrace=False`` and ``diagnose=False`` so that loguru never prints the values of local
variables, where a password would be.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from loguru import logger

from rpa.redact import patch_record

_configured = False


def setup(verbose: bool = False) -> None:
    """Send warnings (or, verbose, everything) to stderr; every record passes the scrubber.

    The steps themselves are shown by the CLI as they happen, and each run's full log is
    written to its recordings folder, so the console only needs what goes wrong.
    """
    global _configured
    logger.remove()
    logger.configure(patcher=patch_record)
    logger.add(sys.stderr, level="DEBUG" if verbose else "WARNING",
               format="<green>{time:HH:mm:ss}</green> <level>{level: <7}</level> {message}",
               backtrace=False, diagnose=False)
    _configured = True


def add_run_log(path: Path) -> int:
    """Also write the log of this run to ``path`` (owner-only); returns the sink id."""
    if not _configured:
        logger.configure(patcher=patch_record)
    # Created owner-only before loguru opens it (for appending): the log holds buyers' names.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    path.chmod(0o600)
    return logger.add(path, level="DEBUG", encoding="utf-8",
                      format="{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <7} {message}",
                      backtrace=False, diagnose=False)

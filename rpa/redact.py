"""Keeps secret values out of everything the bot writes: logs, run.json, reports.

Secrets are registered when they are read; every text the bot writes passes through
:func:`scrub`. The log sinks are patched so a secret that slips into a message is masked.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "********"


def register(*values: str) -> None:
    """Remember secret values so they are masked wherever they would be written."""
    with _lock:
        for value in values:
            if value and len(value) >= 4:
                _secrets.add(value)


def scrub(text: str) -> str:
    """The text with every registered secret replaced by a mask."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for value in secrets:
        if value in text:
            text = text.replace(value, MASK)
    return text


def scrub_data(data: Any) -> Any:
    """Scrub every string inside nested lists and dicts."""
    if isinstance(data, str):
        return scrub(data)
    if isinstance(data, dict):
        return {k: scrub_data(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [scrub_data(v) for v in data]
    return data


def patch_record(record: Any) -> None:
    """A loguru patcher: mask secrets in the message before any sink sees it."""
    record["message"] = scrub(record["message"])

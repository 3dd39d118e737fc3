"""Keeps secret values out of everything the bot writes: logs, run.json, reports.

Secrets are registered when they are read; every text the bot writes passes through
:func:`scrub`. The log sinks are patched so a secret that slips into a message is masked.
"""

from __future__ import annotations

import json
import threading
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

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


def _variants(value: str) -> set[bytes]:
    """The forms a secret takes on the wire: raw, form-encoded, URL-encoded, JSON-escaped."""
    forms = {value, quote_plus(value), quote(value, safe=""), json.dumps(value)[1:-1]}
    return {f.encode() for f in forms if f}


def scrub_bytes(data: bytes) -> tuple[bytes, int]:
    """Mask every registered secret in raw bytes; returns the data and how many were masked."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    hits = 0
    for value in secrets:
        for form in sorted(_variants(value), key=len, reverse=True):
            count = data.count(form)
            if count:
                hits += count
                data = data.replace(form, MASK.encode())
    return data, hits


def scrub_zip(path: Path) -> int:
    """Rewrite a zip (a browser trace) with every registered secret masked in every member.

    The trace records network requests, including form posts; pausing the trace while a
    secret is typed does not keep the submitted form out of it, so each saved chunk is
    rewritten. Returns how many occurrences were masked.
    """
    with zipfile.ZipFile(path) as src:
        members = [(info, src.read(info)) for info in src.infolist()]
    total = 0
    cleaned = []
    for info, data in members:
        data, hits = scrub_bytes(data)
        total += hits
        cleaned.append((info, data))
    if total:
        tmp = path.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as dst:
            for info, data in cleaned:
                dst.writestr(info, data)
        tmp.replace(path)
    return total

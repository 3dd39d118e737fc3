"""Keeps secret values out of everything the bot writes: logs, run.json, reports, traces.

Secrets are registered when they are read; every text the bot writes passes through
:func:`scrub`, which also finds a secret in the forms Python and JSON escape it to (a
non-ASCII password shows as ``P\\xe4ss…`` in a repr). The log sinks are patched so a secret
that slips into a message or into an exception's traceback is masked. Browser traces are
rewritten by :func:`scrub_zip`: secrets, and every cookie the trace recorded (``Cookie`` and
``Set-Cookie`` header values, saved browser state), which would let anyone holding the
trace use the Seller Central session.
"""

from __future__ import annotations

import json
import re
import threading
import traceback
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "********"
# Every text form of every secret in one pattern, longest first; rebuilt when one is added.
_pattern: re.Pattern[str] | None = None


def register(*values: str) -> None:
    """Remember secret values so they are masked wherever they would be written."""
    global _pattern
    with _lock:
        for value in values:
            if value and len(value) >= 4 and value not in _secrets:
                _secrets.add(value)
                _pattern = None


# Cookie values shorter than this (language, currency, "true") are no session material, and
# masking them would garble ordinary text.
MIN_COOKIE_VALUE = 12


def register_cookies(values: list[str]) -> None:
    """Remember the values of session cookies, long ones only, as secrets."""
    register(*(v for v in values if len(v) >= MIN_COOKIE_VALUE))


def _text_forms(value: str) -> list[str]:
    """A secret as written raw, and as Python's repr and JSON escape it (non-ASCII)."""
    forms = {value, ascii(value)[1:-1], repr(value.encode())[2:-1], json.dumps(value)[1:-1],
             repr(value)[1:-1]}
    return sorted((f for f in forms if f), key=len, reverse=True)


def _secrets_pattern() -> re.Pattern[str] | None:
    global _pattern
    with _lock:
        if _pattern is None and _secrets:
            forms = {form for value in _secrets for form in _text_forms(value)}
            _pattern = re.compile("|".join(
                re.escape(f) for f in sorted(forms, key=len, reverse=True)))
        return _pattern


def scrub(text: str) -> str:
    """The text with every registered secret (in any of its escaped forms) masked."""
    pattern = _secrets_pattern()
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


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
    """A loguru patcher: mask secrets in the whole record before any sink sees it.

    An exception's traceback is formatted here, plainly (no variable values), scrubbed and
    appended to the message; the record then carries no exception, so no sink can format
    it again with the values in it.
    """
    message = record["message"]
    exc = record["exception"]
    if exc is not None and exc.type is not None:
        lines = traceback.format_exception(exc.type, exc.value, exc.traceback)
        message = f"{message}\n{''.join(lines).rstrip()}"
        record["exception"] = None
    record["message"] = scrub(message)


def _variants(value: str) -> set[bytes]:
    """The forms a secret takes on the wire: raw, form-encoded, URL-encoded, JSON-escaped."""
    forms = {*_text_forms(value), quote_plus(value), quote(value, safe="")}
    return {f.encode() for f in forms if f}


def scrub_bytes(data: bytes) -> tuple[bytes, int]:
    """Mask every registered secret in raw bytes; returns the data and how many were masked."""
    with _lock:
        secrets = list(_secrets)
    return _mask_values(data, secrets)


def _mask_values(data: bytes, values: list[str]) -> tuple[bytes, int]:
    """Mask each of ``values`` (longest first) in every encoded form; returns the count."""
    hits = 0
    for value in sorted(values, key=len, reverse=True):
        for form in sorted(_variants(value), key=len, reverse=True):
            count = data.count(form)
            if count:
                hits += count
                data = data.replace(form, MASK.encode())
    return data, hits


COOKIE_HEADERS = ("cookie", "set-cookie")
# Members of a Playwright trace that are JSON lines: actions with their results, network.
JSON_LINES = (".trace", ".network")


def _header_cookie_values(name: str, value: str) -> list[str]:
    """The cookie values inside a ``Cookie`` or ``Set-Cookie`` header value."""
    if name == "set-cookie":
        pairs = [line.split(";", 1)[0] for line in value.splitlines()]
    else:
        pairs = value.split(";")
    return [p.split("=", 1)[1].strip() for p in pairs if "=" in p]


def _mask_session(node: Any, found: set[str]) -> Any:
    """Mask cookie headers, cookie lists and stored origins in a trace event; collect values.

    Covers request and response headers (``{"name": "Cookie", "value": …}``), HAR cookie
    lists and the result of saving the browser state (``cookies`` and ``origins``).
    """
    if isinstance(node, list):
        return [_mask_session(item, found) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    name = node.get("name")
    header = name.lower() if isinstance(name, str) else ""
    for key, value in node.items():
        if key == "value" and header in COOKIE_HEADERS and isinstance(value, str):
            found.update(_header_cookie_values(header, value))
            out[key] = MASK
        elif key in ("cookies", "localStorage", "sessionStorage") and isinstance(value, list):
            out[key] = [_mask_pair(item, found) for item in value]
        else:
            out[key] = _mask_session(value, found)
    return out


def _mask_pair(item: Any, found: set[str]) -> Any:
    if isinstance(item, dict) and isinstance(item.get("value"), str):
        found.add(item["value"])
        return {**item, "value": MASK}
    return _mask_session(item, found)


def _scrub_json_lines(data: bytes, found: set[str]) -> tuple[bytes, int]:
    """Mask session material in each JSON line; lines that do not parse are left as they are."""
    lines = data.split(b"\n")
    hits = 0
    for i, line in enumerate(lines):
        if b"ookie" not in line and b"origins" not in line and b"Storage" not in line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        before = len(found)
        masked = _mask_session(event, found)
        if masked != event:
            hits += max(1, len(found) - before)
            lines[i] = json.dumps(masked, ensure_ascii=False, separators=(",", ":")).encode()
    return b"\n".join(lines), hits


def scrub_zip(path: Path) -> int:
    """Rewrite a zip (a browser trace) with secrets and session cookies masked everywhere.

    The trace records network requests, including form posts and cookie headers, and the
    result of any state save; pausing the trace while a secret is typed does not keep the
    submitted form out of it, so each saved chunk is rewritten: first the cookie headers
    and saved state in the JSON events, then every registered secret and every cookie value
    found there, in every member. Returns how many occurrences were masked.
    """
    with zipfile.ZipFile(path) as src:
        members = [(info, src.read(info)) for info in src.infolist()]
    total = 0
    found: set[str] = set()
    staged = []
    for info, data in members:
        if info.filename.endswith(JSON_LINES):
            data, hits = _scrub_json_lines(data, found)
            total += hits
        staged.append((info, data))
    cookies = [v for v in found if len(v) >= MIN_COOKIE_VALUE]
    cleaned = []
    for info, data in staged:
        data, hits = scrub_bytes(data)
        data, more = _mask_values(data, cookies)
        total += hits + more
        cleaned.append((info, data))
    if total:
        tmp = path.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as dst:
            for info, data in cleaned:
                dst.writestr(info, data)
        tmp.replace(path)
    return total

"""selectors.local.yaml: the keys taught on this machine (``rpa teach``) or edited by hand,
tried before the shipped selectors.yaml's candidates, and never touched by an update of the
bot (the file is not part of the project).

The file names keys whole, each with a list of candidates written as selectors.yaml writes
them, or with a mapping holding ``candidates`` and what ``rpa teach`` noted: ``page`` (the
path of the page it was taught on), ``taught`` (when) and ``element`` (the element's
accessibility snapshot, scrubbed of buyer data)::

    home.unshipped_count:
      - css: "#unshipped-qty"
    health.metric_row:
      candidates:
        - css: "#shipping-late-shipment-rate-row-v2"
      page: /performance/account/health
      taught: "2026-01-12T09:30:00+00:00"
      element: '- text: Late Shipment Rate …'

Every key must be one of the shipped file's: a misspelt key is refused naming the closest
one, before any browser starts (:func:`with_overlay`). :func:`save` writes one key;
:func:`diff` and :func:`export` show the file against the shipped one and as text to fold
into it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from rpa.browser.pagesnap import scrub_text
from rpa.browser.selectors import Candidate, Selectors, parse_candidate
from rpa.config import load_yaml
from rpa.errors import ConfigError

OVERLAY_NAME = "selectors.local.yaml"
FIELDS = ("candidates", "page", "taught", "element")
HEADER = """\
# Local selectors: the keys taught on this machine (`rpa teach KEY`) or edited by hand.
# Their candidates are tried before selectors.yaml's; updating the bot never touches this
# file. `rpa selectors diff` shows it against selectors.yaml; `rpa selectors export` prints
# it for the maintainers, who fold it into selectors.yaml.
"""


@dataclass(frozen=True)
class Entry:
    """One key of the overlay: its candidates and what teaching it noted."""

    key: str
    candidates: tuple[Candidate, ...]
    page: str = ""
    taught: str = ""
    element: str = ""


def near(key: str, known: Collection[str]) -> str:
    """' (did you mean …?)' naming the closest known key, or ''."""
    found = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean '{found[0]}'?)" if found else ""


def read(path: Path, known: Collection[str]) -> dict[str, Entry]:
    """The overlay's keys, checked: each one of ``known`` (the shipped keys), each with at
    least one valid candidate. Empty when there is no file; ConfigError naming the file
    and key otherwise."""
    if not path.is_file():
        return {}
    source = str(path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read it: {err}", file=source) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"not valid YAML: {err}", file=source) from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of keys such as home.unshipped_count",
                          file=source)
    unknown = [str(k) for k in data if k not in known]
    if unknown:
        listed = "; ".join(f"{k}{near(k, known)}" for k in unknown)
        raise ConfigError(f"unknown selector key{'s' if len(unknown) > 1 else ''} "
                          f"(not in selectors.yaml): {listed}", file=source)
    return {str(key): _entry(str(key), value, source) for key, value in data.items()}


def _entry(key: str, value: Any, source: str) -> Entry:
    notes: dict[str, str] = {}
    if isinstance(value, dict):
        extra = sorted(str(k) for k in value if k not in FIELDS)
        if extra:
            raise ConfigError(f"unknown field {extra[0]!r} (expected {', '.join(FIELDS)})",
                              file=source, key=key)
        for name in FIELDS[1:]:
            if value.get(name) is not None:
                notes[name] = str(value[name])
        value = value.get("candidates")
    if not isinstance(value, list) or not value:
        raise ConfigError("expected a list of candidates (such as - css: '#id')",
                          file=source, key=key)
    cands = tuple(parse_candidate(item, source, f"{key}[{i}]") for i, item in enumerate(value))
    return Entry(key, cands, **notes)


def with_overlay(shipped: Selectors, path: Path | None) -> Selectors:
    """``shipped`` with the overlay's candidates put first for the keys it names."""
    if path is None:
        return shipped
    entries = read(Path(path), shipped.keys)
    keys = dict(shipped.keys)
    for key, entry in entries.items():
        local = [replace(c, local=True) for c in entry.candidates]
        keys[key] = [*local, *(c for c in shipped.keys[key] if c not in local)]
    return Selectors(keys, shipped.source, shipped.timeout_ms, local=entries,
                     local_source=str(path), shipped=dict(shipped.keys))


def save(path: Path, key: str, candidates: list[Candidate], *, page: str = "",
         taught: str = "", element: str = "") -> None:
    """Write ``key`` into the overlay at ``path`` (replacing what it held for that key),
    keeping the other keys; the file is replaced whole, never left half written."""
    data: dict[str, Any] = {}
    if path.is_file():
        loaded = load_yaml(path.read_text(encoding="utf-8"))
        data = dict(loaded) if isinstance(loaded, dict) else {}
    entry: dict[str, Any] = {"candidates": [c.as_data() for c in candidates]}
    for name, value in (("page", page), ("taught", taught), ("element", element)):
        if value:
            entry[name] = value
    data[key] = entry
    text = HEADER + yaml.safe_dump(data, sort_keys=True, allow_unicode=True, width=96)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    tmp.replace(path)


def diff(selectors: Selectors) -> list[str]:
    """The overlay against the shipped file, key by key: the local candidates (tried
    first, ``+``), then the shipped ones; a local candidate the shipped file already has
    is said so (after an update that took it in, the local key can go)."""
    lines: list[str] = []
    for key, entry in sorted(selectors.local.items()):
        shipped = selectors.shipped.get(key, [])
        noted = ", ".join(f"{k} {v}" for k, v in (("taught", entry.taught),
                                                   ("on", entry.page)) if v)
        lines.append(f"{key}{f' ({noted})' if noted else ''}")
        for cand in entry.candidates:
            also = "  (selectors.yaml has it too)" if cand in shipped else ""
            lines.append(f"  + {cand.describe()}{also}")
        lines += [f"    {cand.describe()}" for cand in shipped]
    return lines


def export(selectors: Selectors) -> str:
    """The overlay as selectors.yaml text for the maintainers: per key the page it was
    taught on and the element's snapshot excerpt, then its candidates. The excerpts were
    scrubbed of buyer data when they were taken; secrets, email addresses and order ids
    are masked again here (a key edited by hand)."""
    if not selectors.local:
        return "# No local selectors: nothing to send.\n"
    out = ["# Taught or edited on this machine (rpa selectors export): fold these into",
           "# selectors.yaml, candidates first under the same key.", ""]
    by_ns: dict[str, list[Entry]] = {}
    for key, entry in sorted(selectors.local.items()):
        by_ns.setdefault(key.split(".", 1)[0], []).append(entry)
    for ns, entries in by_ns.items():
        out.append(f"{ns}:")
        for entry in entries:
            name = entry.key.split(".", 1)[1]
            where = f"taught on {entry.page}" if entry.page else "edited by hand"
            when = f", {entry.taught}" if entry.taught else ""
            out.append(f"  {name}:  # {where}{when}")
            for line in (entry.element or "(no snapshot: edited by hand)").splitlines():
                out.append(f"    #   element: {line}" if line else "")
            for cand in entry.candidates:
                dumped = yaml.safe_dump([cand.as_data()], allow_unicode=True, width=200)
                lines = dumped.rstrip("\n").splitlines()
                out += [f"    {lines[0]}", *(f"    {line}" for line in lines[1:])]
        out.append("")
    return scrub_text("\n".join(out), ())

"""What selectors.yaml says of each key's source: ``# evidence: …`` (a source of the
Seller Central evidence study shows it) or ``# unconfirmed`` (none does), written as a
comment on the key's line.

The YAML loader drops comments, so they are read from the file's text: a key is a line
``name:`` with nothing after the colon but a comment, its namespace the unindented line
above it. A comment saying both ("unconfirmed (evidence §3: …)", "evidence: U1; wording
unconfirmed") counts by the word that comes first.
"""

from __future__ import annotations

import re
from pathlib import Path

EVIDENCE, UNCONFIRMED = "evidence", "unconfirmed"
_KEY_LINE = re.compile(r"^(?P<indent>\s*)(?P<name>[a-z][a-z0-9_]*):\s*(?:#\s*(?P<note>.*))?$")


def sources(text: str) -> dict[str, tuple[str | None, str]]:
    """Every key of selectors.yaml text (``ns.key``) with what its comment says (evidence,
    unconfirmed or None) and the comment itself."""
    out: dict[str, tuple[str | None, str]] = {}
    namespace = ""
    for line in text.splitlines():
        m = _KEY_LINE.match(line)
        if not m:
            continue
        note = (m.group("note") or "").strip()
        if not m.group("indent"):
            namespace = m.group("name")
            continue
        if namespace and len(m.group("indent")) == 2:
            out[f"{namespace}.{m.group('name')}"] = (kind_of(note), note)
    return out


def kind_of(note: str) -> str | None:
    """evidence, unconfirmed or None, by the marker that comes first in ``note``."""
    low = note.lower()
    at = {kind: low.find(word) for kind, word in ((EVIDENCE, "evidence:"),
                                                  (UNCONFIRMED, "unconfirmed"))}
    found = {kind: pos for kind, pos in at.items() if pos >= 0}
    return min(found, key=lambda k: found[k]) if found else None


def unconfirmed(path: Path) -> dict[str, str]:
    """The keys marked unconfirmed, with their comments."""
    return {key: note for key, (kind, note) in sources(path.read_text(encoding="utf-8")).items()
            if kind == UNCONFIRMED}

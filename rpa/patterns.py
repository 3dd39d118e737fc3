"""Patterns the seller writes in the configuration, for reply templates and mail rules alike.

A pattern is either a keyword or phrase, matched case-insensitively on word boundaries
with any whitespace between its words, or ``/regular expression/flags`` (flags from
``imsx``).
"""

from __future__ import annotations

import re


class PatternError(ValueError):
    """A pattern in the configuration that cannot be used."""


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A keyword/phrase or ``/regex/flags`` as a compiled expression."""
    text = pattern.strip()
    if not text:
        raise PatternError("an empty pattern matches everything")
    m = re.fullmatch(r"/(.*)/([imsx]*)", text, flags=re.S)
    if m:
        flags = 0
        for ch in m.group(2):
            flags |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X}[ch]
        try:
            return re.compile(m.group(1), flags)
        except re.error as err:
            raise PatternError(f"not a valid regular expression: {err}") from err
    words = [re.escape(w) for w in text.split()]
    body = r"\s+".join(words)
    start = r"\b" if re.match(r"\w", text) else ""
    end = r"\b" if re.search(r"\w$", text) else ""
    return re.compile(start + body + end, re.I)

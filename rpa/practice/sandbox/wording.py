"""What the sandbox's pages say, per locale: Seller Central keeps its ids and changes its words.

Each table maps a locale (``Scenario.locale``) to the texts of one group of pages; a key a
locale does not list falls back to English. Templates get the table of their page group as
``w`` (``{{ w.key }}``).
"""

from __future__ import annotations

from collections.abc import Mapping

# Sign-in, two-step verification, verification (CVF) and the prompts after sign-in.
SIGNIN_WORDS: dict[str, dict[str, str]] = {
    "en": {},
}

# The signed-in pages: header, home (both layouts), Account Health, orders, messages.
APP_WORDS: dict[str, dict[str, str]] = {
    "en": {},
}


def words(table: Mapping[str, Mapping[str, str]], locale: str) -> dict[str, str]:
    """The texts of ``table`` in ``locale``, English where the locale has none."""
    merged = dict(table.get("en", {}))
    merged.update(table.get(locale, {}))
    return merged

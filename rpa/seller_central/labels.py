"""Account and marketplace names as Seller Central's account pages show them.

The picker and the header add markers to the names they show: "Acme Goods (current)",
"United States (selected)", "加拿大 (当前)", "Germany. Selected", "Mexico (pending
registration)", and some headers end the store name with a lone "." (sources U4, U5, S3
and U22 of the Seller Central evidence study). Before two names are compared the markers are
stripped from the end (repeatedly, in any case and spacing), then the names are compared
exactly after normalisation: runs of whitespace made one space, case folded. Never by
substring: "Acme Goods" is not "Acme Goods Outlet", and "United States" is not "United
States (Business)" (that is part of a name, not a marker).

A row marked "(pending registration)" is a marketplace (or account) the seller cannot work
in yet: it is never offered as a match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# One marker at the end of a label: parentheses in ASCII or full width, any spacing and case.
_OPEN, _CLOSE = r"[(\uff08]", r"[)\uff09]"
_WORDS = r"current|selected|pending\s+registration|\u5f53\u524d"
_MARKER = re.compile(rf"(?:\s*{_OPEN}\s*(?:{_WORDS})\s*{_CLOSE}|\s*\.\s*selected|\s*\.)\s*$",
                     re.IGNORECASE)
_PENDING = re.compile(rf"{_OPEN}\s*pending\s+registration\s*{_CLOSE}", re.IGNORECASE)


def normalise(name: str) -> str:
    """A name as compared: runs of whitespace made one space, ends trimmed, case folded."""
    return " ".join(name.split()).casefold()


def strip_markers(label: str) -> str:
    """The name in a label, without the markers the page adds at its end."""
    text = " ".join(label.split())
    while True:
        shorter = _MARKER.sub("", text)
        if shorter == text or not shorter.strip():
            return text.strip()
        text = shorter


def is_pending(label: str) -> bool:
    """Whether a label marks its row as pending registration (never to be chosen)."""
    return _PENDING.search(label) is not None


def key(label: str) -> str:
    """What two labels are compared by: markers stripped, then normalised."""
    return normalise(strip_markers(label))


def same_name(a: str, b: str) -> bool:
    """Whether two names are equal once markers are stripped (never a substring test)."""
    return key(a) == key(b)


def exact_matches(wanted: str, offered: Sequence[str]) -> list[int]:
    """Positions of the offered labels that name exactly ``wanted``; a row pending
    registration is never one of them."""
    target = key(wanted)
    return [i for i, label in enumerate(offered)
            if not is_pending(label) and key(label) == target]


def not_one(what: str, wanted: str, offered: Sequence[str], hits: Sequence[int]) -> str:
    """Why a list does not offer ``wanted`` exactly once, naming what it does offer."""
    listed = ", ".join(f"'{strip_markers(name)}'" for name in offered
                       if not is_pending(name)) or "nothing"
    pending = [f"'{strip_markers(name)}'" for name in offered if is_pending(name)]
    verdict = "none is" if not hits else f"{len(hits)} are"
    text = f"{what} offers {listed}; {verdict} exactly '{wanted}'"
    if pending:
        text += f" (pending registration, never chosen: {', '.join(pending)})"
    return text

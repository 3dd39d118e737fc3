"""Text hygiene for words that reach a person: sender names, subjects, buyer messages.

Mail and Seller Central pages carry text the bot did not write. Before such text goes into
an owner's text or a report it loses what a phone would render deceptively: direction
controls (an override shows "nozamA" as "Amazon"), zero-width and other invisible
characters ("Am\u200bazon"), and odd spaces. :func:`latin_skeleton` folds look-alike
characters (Cyrillic "а", Greek "Α", "0" for "o", "rn" for "m") so a name can be compared
with a word such as "amazon". Pure functions; nothing here knows about mail or Amazon.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

# Explicit direction controls: embeddings, overrides, isolates and the marks.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_OVERRIDES = {"\u202d": "ltr", "\u202e": "rtl"}
_EMBEDDINGS = {"\u202a", "\u202b"}
_ISOLATES = {"\u2066", "\u2067", "\u2068"}
_POP_FORMAT = "\u202c"
_POP_ISOLATE = "\u2069"

# Characters that draw nothing (or nothing a reader notices) but are not format characters
# by their Unicode category: Hangul fillers, the grapheme joiner, the Khmer inherent vowels,
# Mongolian variation selectors, the Braille blank, variation selectors.
_INVISIBLE_EXTRA = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\uffa0\ufe00-\ufe0f"
    "\U000e0100-\U000e01ef]")
# Spaces of other widths, and line/paragraph separators, read as one plain space.
_ODD_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
# C0 and C1 control characters except tab and newline.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _is_hidden(ch: str) -> bool:
    """Whether a character draws nothing: format characters (category Cf, which holds the
    direction controls, zero-width space/joiners, soft hyphen, BOM and tag characters) and
    the few invisible ones of other categories."""
    return ch in BIDI_CONTROLS or unicodedata.category(ch) == "Cf" \
        or bool(_INVISIBLE_EXTRA.match(ch))


def has_hidden(text: str) -> bool:
    """Whether the text holds direction controls or invisible characters."""
    if text.isascii():  # no ASCII character is a format or invisible one
        return False
    return any(_is_hidden(ch) for ch in text)


def has_direction_controls(text: str) -> bool:
    """Whether the text holds explicit direction controls (overrides, embeddings, isolates,
    marks)."""
    return any(ch in BIDI_CONTROLS for ch in text)


def visual_order(text: str) -> str:
    """The text in the order a reader sees it where direction overrides reverse it.

    A right-to-left override (U+202E) draws every character up to its pop (or the end)
    right to left, so "\u202enozamA" shows as "Amazon": that part is reversed here. Nested
    overrides, embeddings and isolates are followed; embeddings and isolates without an
    override keep their order (Latin text inside them still reads left to right). The
    controls themselves stay; :func:`strip_hidden` removes them.
    """
    if not any(ch in _OVERRIDES for ch in text):
        return text
    # A tree of runs: each frame is (kind, direction, parts); parts are chars or frames.
    root: list[Any] = []
    stack: list[tuple[str, str, list[Any]]] = [("root", "", root)]
    for ch in text:
        if ch in _OVERRIDES or ch in _EMBEDDINGS or ch in _ISOLATES:
            kind = "isolate" if ch in _ISOLATES else "format"
            frame: tuple[str, str, list[Any]] = (kind, _OVERRIDES.get(ch, ""), [ch])
            stack[-1][2].append(frame)
            stack.append(frame)
        elif ch == _POP_FORMAT and stack[-1][0] == "format":
            stack[-1][2].append(ch)
            stack.pop()
        elif ch == _POP_ISOLATE and any(f[0] == "isolate" for f in stack):
            while stack[-1][0] != "isolate":
                stack.pop()
            stack[-1][2].append(ch)
            stack.pop()
        else:
            stack[-1][2].append(ch)

    def render(parts: list[Any], direction: str) -> str:
        pieces = [p if isinstance(p, str) else render(p[2], p[1]) for p in parts]
        if direction == "rtl":
            # the override's own control stays first so strip_hidden still sees it
            head = [pieces.pop(0)] if pieces and pieces[0] in _OVERRIDES else []
            return "".join(head + pieces[::-1])
        return "".join(pieces)

    return render(root, "")


def strip_hidden(text: str) -> str:
    """The text without direction controls and invisible characters; line breaks kept."""
    if text.isascii():
        return _CONTROLS.sub("", text)
    text = "".join(ch for ch in text if not _is_hidden(ch))
    return _CONTROLS.sub("", _ODD_SPACES.sub(" ", text))


def clean_line(text: str, limit: int | None = None) -> str:
    """A name or subject as it may be shown: in the order a reader saw it, without hidden
    characters or controls, on one line with single spaces; with ``limit``, at most that
    many characters, cut at a word break where one is near and ended with "…" (the start,
    which says what it is about, is kept)."""
    text = " ".join(strip_hidden(visual_order(text or "")).replace("\t", " ").split())
    if limit is None or len(text) <= limit:
        return text
    cut = text[:max(limit - 1, 0)]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def clean_text(text: str) -> str:
    """A longer text (a message body) without hidden characters or controls; its lines and
    their order are kept (an override in a body is only removed, not resolved)."""
    return strip_hidden(text or "")


def show_hidden(text: str) -> str:
    """The text with each hidden character shown as U+FFFD, for an address or a domain that
    must be displayed exactly yet cannot hide anything."""
    if text.isascii():
        return _CONTROLS.sub("\ufffd", text)
    return "".join("\ufffd" if _is_hidden(ch) or _CONTROLS.match(ch) else ch for ch in text)


# --------------------------------------------------------------------------- look-alikes

# Stand-ins that Unicode's confusables table leaves out but spoofers use: digits and
# symbols for letters ("amaz0n", "@mazon"), and Cyrillic letters that read as Latin ones
# in common fonts.
_STAND_INS = {
    "0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "$": "s", "@": "a", "|": "l",
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y", "і": "i",
    "ѕ": "s", "м": "m", "н": "h", "т": "t", "к": "k", "ԛ": "q", "ո": "n", "г": "r",
    "α": "a", "ο": "o", "ν": "v", "μ": "m", "ζ": "z", "ε": "e", "ι": "i",
}


@lru_cache(maxsize=1)
def _confusables() -> dict[str, Any]:
    """Unicode's confusables (via confusable-homoglyphs), loaded on the first non-Latin
    character: the table is large and most names never need it."""
    from confusable_homoglyphs import confusables

    return dict(confusables.confusables_data)


@lru_cache(maxsize=8192)
def _latin_for(ch: str) -> str:
    """The Latin letters a character is confusable with ("" when none)."""
    if ch in _STAND_INS:
        return _STAND_INS[ch]
    for entry in _confusables().get(ch, ()):
        glyph = str(entry.get("c", ""))
        if glyph.isascii() and glyph.isalpha():
            return glyph.lower()
    return ""


def latin_skeleton(text: str, *, symbols: bool = True) -> str:
    """Lower-case Latin letters only, every look-alike folded to the letter it imitates.

    Accents and compatibility forms are undone (NFKD: "𝐀", "Ａ", "á" give "a"), hidden
    characters dropped, confusable letters of other scripts and digit/symbol stand-ins
    mapped, and "rn" read as "m", "vv" as "w". With ``symbols=False`` "@" is a separator,
    not an "a" (for addresses and domains).
    """
    text = unicodedata.normalize("NFKD", strip_hidden(visual_order(text or "")))
    out: list[str] = []
    for ch in text:
        if unicodedata.combining(ch):
            continue
        if ch == "@" and not symbols:
            out.append(" ")
        elif ch.isascii() and ch.isalpha():
            out.append(ch.lower())
        elif ch.lower() in _STAND_INS:
            out.append(_STAND_INS[ch.lower()])
        elif not ch.isascii() and ch.isalpha():
            out.append(_latin_for(ch) or _latin_for(ch.lower()))
    folded = re.sub(r"[^a-z]", "", "".join(out))
    return folded.replace("rn", "m").replace("vv", "w")

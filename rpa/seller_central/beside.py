"""Reading a figure by the words a person reads beside it, where the page's ids are unknown.

A person finds "Unshipped" on the page and reads the number beside it, in the same row or
card. This module does the same from the accessibility tree (Playwright's
``aria_snapshot()``): it finds the visible elements whose text starts with a label (in the
session's language, then English: :data:`.locale.FIGURE_LABELS`), takes the smallest
element around each that shows anything besides the label (its row or card), and reads the
texts that follow the label there.

The rule of the rest of the bot holds: a value is read only when it is certain. No label on
the page, nothing beside it, or two different values beside it (two labels, or two numbers
after one) is :class:`NotBeside`, with why; never the nearest number.

:func:`tokens` and the ``*_beside`` functions work on snapshot text alone (unit-tested
without a browser); :func:`find_beside` is the part that asks the page.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from loguru import logger
from playwright.sync_api import ElementHandle, Locator, Page
from playwright.sync_api import Error as PlaywrightError

from rpa.seller_central import locale

# How far up from a label its row or card may be: label → its line → the card → a column.
MAX_LEVELS = 3
# Label elements looked at per figure: more on one page is itself a reason to doubt.
MAX_LABELS = 6
# Roles whose text starts a new part of a card: the texts beside a label stop there.
SECTION_ROLES = {"heading", "banner", "navigation", "region", "dialog", "row", "table",
                 "term"}
# Roles that are actions, not values ("View Details", "Go to Account Health").
ACTION_ROLES = {"button", "menuitem", "tab", "checkbox", "radio", "combobox", "textbox"}

# The element around another, unless that is the page as a whole.
PARENT = "xpath=parent::*[not(self::body or self::html or self::main)]"
_KEY = re.compile(r'^(?P<role>[A-Za-z]+)(?:\s+(?P<name>"(?:[^"\\]|\\.)*"))?(?:\s+\[[^\]]*\])*$')
# Where a merged text turns to another labelled figure: a word followed by a colon.
_OTHER_LABEL = re.compile(r"(?:^|(?<=\s))[^\W\d_][^:：\n]{0,40}[:：]")


class NotBeside(ValueError):
    """No certain value beside a label; the message says why."""


@dataclass(frozen=True)
class Token:
    """One text of an aria snapshot as a person meets it: its role and its words."""

    role: str
    text: str


@dataclass(frozen=True)
class Beside:
    """A label as the page shows it and the texts that follow it in its row or card."""

    label: str
    texts: tuple[str, ...]
    roles: tuple[str, ...] = ()

    def values(self) -> list[str]:
        """The texts beside the label that are not actions (buttons, tabs)."""
        roles = self.roles or ("text",) * len(self.texts)
        return [t for t, r in zip(self.texts, roles, strict=True) if r not in ACTION_ROLES]


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def tokens(snapshot: str) -> list[Token]:
    """The texts of an aria snapshot in reading order: a node's own name when it has no
    text below it (a link "3", a heading), else the texts below it; properties such as
    ``/url`` left out."""
    try:
        data = yaml.load(snapshot or "[]", Loader=yaml.BaseLoader)  # noqa: S506 - strings only
    except yaml.YAMLError:
        return []
    out: list[Token] = []
    _walk(data if isinstance(data, list) else [], out)
    return [t for t in out if t.text.strip()]


def _walk(items: list[Any], out: list[Token]) -> None:
    for item in items:
        if isinstance(item, str):
            role, name = _key(item)
            if role and name is not None:
                out.append(Token(role, name))
            continue
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            key = str(key)
            if key.startswith("/"):
                continue
            role, name = _key(key)
            if role is None:
                continue
            if role == "text":
                out.append(Token("text", str(value or "")))
            elif isinstance(value, list):
                before = len(out)
                _walk(value, out)
                if len(out) == before and name is not None:
                    out.append(Token(role, name))
            elif isinstance(value, str) and value:
                out.append(Token(role, name if name is not None else value))
            elif name is not None:
                out.append(Token(role, name))


def _key(key: str) -> tuple[str | None, str | None]:
    m = _KEY.match(key.strip())
    if not m:
        return None, None
    name = m.group("name")
    return m.group("role"), (json.loads(name) if name is not None else None)


def label_rest(text: str, labels: Iterable[str]) -> str | None:
    """What follows a label that starts ``text`` ('Unshipped: 3' → '3', 'Unshipped' → ''),
    or None when no label starts it (a label followed by more words is another label:
    'Account Health Rating' is not 'Account Health')."""
    shown = " ".join(unicodedata.normalize("NFKC", text).split())
    for label in sorted(labels, key=len, reverse=True):
        want = " ".join(unicodedata.normalize("NFKC", label).split())
        m = re.match(re.escape(want), shown, re.I)
        if not m or shown[m.end():].lstrip()[:1].isalpha():
            continue
        return shown[m.end():].strip().lstrip(":：").strip()
    return None


def beside(snapshot: str | Sequence[Token], labels: Iterable[str]) -> list[Beside]:
    """Each label in one row's or card's snapshot with the texts that follow it, up to the
    next heading or section."""
    toks = tokens(snapshot) if isinstance(snapshot, str) else list(snapshot)
    labels = tuple(labels)
    out = []
    for i, tok in enumerate(toks):
        rest = label_rest(tok.text, labels)
        if rest is None:
            continue
        texts, roles = ([rest], ["text"]) if rest else ([], [])
        for nxt in toks[i + 1:]:
            if nxt.role in SECTION_ROLES or label_rest(nxt.text, labels) is not None:
                break
            texts.append(nxt.text.strip().lstrip(":：").strip())
            roles.append(nxt.role)
        out.append(Beside(tok.text.strip(), tuple(t for t in texts if t),
                          tuple(r for t, r in zip(texts, roles, strict=True) if t)))
    return out


def _one(values: list[str], what: str, label: str) -> str:
    distinct = list(dict.fromkeys(values))
    if not distinct:
        raise NotBeside(f"nothing beside the label {label!r} reads as {what}")
    if len(distinct) > 1:
        shown = " and ".join(repr(v) for v in distinct[:3])
        raise NotBeside(f"{len(distinct)} values beside the label {label!r}: {shown}")
    return distinct[0]


def _cut(text: str, stops: Iterable[str]) -> str:
    """A merged text up to where another labelled figure starts ('3 Pending: 1' → '3',
    'Healthy Account Health Rating 862' → 'Healthy' with that label among ``stops``)."""
    end = len(text)
    m = _OTHER_LABEL.search(text)
    if m:
        end = m.start()
    folded = text.casefold()
    for stop in stops:
        at = re.search(r"(?:^|(?<=\s))" + re.escape(_norm(stop)), folded)
        if at and at.start() > 0:
            end = min(end, at.start())
    return text[:end].strip()


def count_beside(found: Sequence[Beside], language: str, label: str,
                 stops: Iterable[str] = ()) -> int:
    """The one count beside the label: each label's first text holding a digit, cut where
    another label starts; two labels with different counts, or a text with two numbers,
    is not certain."""
    stops = tuple(stops)
    values = []
    for item in found:
        with_digits = [_cut(t, stops) for t in item.values() if any(c.isdigit() for c in t)]
        with_digits = [t for t in with_digits if any(c.isdigit() for c in t)]
        if len(with_digits) > 1:
            raise NotBeside(f"{len(with_digits)} values beside the label {item.label!r}: "
                            + " and ".join(repr(t) for t in with_digits[:3]))
        values += with_digits
    text = _one(values, "a number", found[0].label if found else label)
    try:
        return locale.parse_count(text, language)
    except locale.Unreadable as err:
        raise NotBeside(f"beside the label {label!r}: {err}") from err


def word_beside(found: Sequence[Beside], label: str, stops: Iterable[str] = ()) -> str:
    """The words right after the label (a status such as 'Healthy'), cut where another
    label starts."""
    stops = tuple(stops)
    values = []
    for item in found:
        texts = [_cut(t, stops) for t in item.values()]
        texts = [t for t in texts if t]
        if texts:
            values.append(texts[0])
    return _one(values, "words", found[0].label if found else label)


def text_beside(found: Sequence[Beside], label: str, skip: Iterable[str] = ()) -> str:
    """The first text beside the label that holds a digit and is not itself labelled by
    one of ``skip`` (a metric's value beside its name, not its 'Target: …')."""
    skip = tuple(skip)
    values = []
    for item in found:
        for text in item.values():
            if label_rest(text, skip) is None and any(c.isdigit() for c in text):
                values.append(text)
                break
    return _one(values, "a value", found[0].label if found else label)


# --- the page ----------------------------------------------------------------------------
Scope = Page | Locator


def find_beside(scope: Scope, labels: Sequence[str]) -> list[Beside]:
    """Every visible label in ``scope`` with the texts beside it in its row or card.

    A label's row or card is the smallest element around it that shows anything else (up
    to :data:`MAX_LEVELS` up, never the page's body or main part); an element inside a
    shadow root looks no further than its root. Empty when no label shows; it does not
    wait.
    """
    if not labels:
        return []
    loose = re.compile("|".join(re.escape(label) for label in labels), re.I)
    found: list[Beside] = []
    try:
        elements = scope.get_by_text(loose).all()
        # Within a row given as the scope, a label's card is never larger than the row.
        bound = scope.element_handle() if isinstance(scope, Locator) and elements else None
    except PlaywrightError:
        return []
    looked = 0
    for element in elements:
        if looked >= MAX_LABELS:
            logger.debug("more than {} labels {}: the rest not looked at", MAX_LABELS, labels)
            break
        try:
            if not element.is_visible() or label_rest(element.inner_text(), labels) is None:
                continue
        except PlaywrightError:
            continue
        looked += 1
        found += _around(element, labels, bound)
    return _unique(found)


def _around(element: Locator, labels: Sequence[str],
            bound: ElementHandle | None) -> list[Beside]:
    container = element
    for _ in range(MAX_LEVELS + 1):
        try:
            if not container.count():
                return []
            snap = container.aria_snapshot()
            items = beside(snap, labels)
            if any(item.texts for item in items) or len(tokens(snap)) > len(items):
                return items
            if bound is not None and container.evaluate("(e, b) => e === b", bound):
                return []  # the whole row shows the label alone
        except PlaywrightError:
            return []
        # a card or row, never the page itself
        container = container.locator(PARENT)
    return []


def _unique(found: list[Beside]) -> list[Beside]:
    """One entry per label and texts: a card reached from two of its labels counts once."""
    return list(dict.fromkeys(found))


def status_words_in(scope: Scope, language: str) -> list[str]:
    """The visible texts in ``scope`` that are, whole, a status word the bot knows ('At
    Risk', 'Mittel'), each once; a badge's words count (its shadow root is read)."""
    words = {**locale.STATUS_WORDS.get("en", {}), **locale.STATUS_WORDS.get(language, {})}
    either = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    loc = scope.get_by_text(re.compile(rf"^\s*(?:{either})\s*$", re.I))
    out: list[str] = []
    try:
        for element in loc.all()[:MAX_LABELS]:
            if element.is_visible():
                text = " ".join(element.inner_text().split())
                if locale.status_of(text, language) != locale.UNKNOWN and text not in out:
                    out.append(text)
    except PlaywrightError:
        return out
    return out
